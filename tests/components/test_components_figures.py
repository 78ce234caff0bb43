"""Figure builders as plain functions: hand-made inputs in, assertions on the figures and Patches out."""

from __future__ import annotations

import base64
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from components import curves, gradcheck, grid, session, templates, theme
from core.losses import LOSSES

H, WD, C = 4, 3, 5  # a small image shape and class count
NAMES = [f"c{i}" for i in range(C)]


def decode(spec):
    """Inverse of theme.typed_array / plotly's typed-array encoding."""
    if not isinstance(spec, dict):
        return np.asarray(spec, dtype=float)
    dtypes = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "i1": "i1", "u1": "u1", "i2": "<i2"}
    arr = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtypes[spec["dtype"]])
    if "shape" in spec:
        arr = arr.reshape([int(d) for d in spec["shape"].split(",")])
    return arr


def patch_ops(patch) -> dict:
    """{"data.0.z": value, ...} of a Patch's Assign operations."""
    return {
        ".".join(str(k) for k in op["location"]): op["params"]["value"]
        for op in patch.to_plotly_json()["operations"]
        if op["operation"] == "Assign"
    }


def fig_json(fig) -> dict:
    return json.loads(pio.to_json(fig))


def make_W(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((H * WD + 1, C))


# -- theme ----------------------------------------------------------------


def test_typed_array_round_trip_keeps_shape_and_nan():
    a = np.array([[1.5, np.nan, -2.0], [0.0, 3.25, 1e-7]])
    spec = theme.typed_array(a)
    assert spec["dtype"] == "f4" and spec["shape"] == "2, 3"
    back = decode(spec)
    assert np.isnan(back[0, 1])
    np.testing.assert_allclose(np.nan_to_num(back), np.nan_to_num(a).astype(np.float32))


# -- grid -----------------------------------------------------------------


def test_lean_template_is_plotlys_default_less_what_the_figures_never_use():
    full = pio.templates["plotly"].to_plotly_json()
    lean = theme.TEMPLATE.to_plotly_json()
    assert set(lean["data"]) == set(theme.TRACE_TYPES)
    for trace_type in theme.TRACE_TYPES:
        assert lean["data"][trace_type] == full["data"][trace_type]
    dropped = {"polar", "ternary", "scene", "geo"}
    assert set(full["layout"]) - set(lean["layout"]) == dropped
    for key, value in lean["layout"].items():
        assert value == full["layout"][key], key
    assert len(json.dumps(lean)) < len(json.dumps(full)) / 2
    assert pio.templates.default == "lincls"  # what figures built without a template get


def test_first_view_figures_carry_the_lean_template_only():
    W = make_W()
    figures = [
        templates.templates_figure(W, (H, WD), NAMES),
        curves.curves_figure(None, "softmax", C, 1.0),
    ]
    for fig in figures:
        template = fig_json(fig)["layout"]["template"]
        assert set(template["data"]) <= set(theme.TRACE_TYPES)
        assert "polar" not in template["layout"] and "scene" not in template["layout"]
        assert template["layout"]["autotypenumbers"] == "strict"  # the bias bars' class names stay categories


@pytest.mark.parametrize("n, cols", [(2, 2), (5, 5), (10, 5), (12, 6), (26, 7)])
def test_grid_columns(n, cols):
    assert grid.n_columns(n) == cols


def test_mosaic_tiles_panels_with_blank_gaps():
    m = grid.Mosaic(C, H, WD)
    images = np.arange(C * H * WD, dtype=np.float32).reshape(C, H, WD)
    z = m.tile(images)
    assert z.shape == m.shape
    for c in range(C):
        r0, c0 = m.origin(c)
        np.testing.assert_array_equal(z[r0 : r0 + H, c0 : c0 + WD], images[c])
    assert np.isnan(z).sum() == z.size - images.size


def test_mosaic_pixel_index_names_class_row_and_column():
    m = grid.Mosaic(C, H, WD)
    idx = m.pixel_index()
    r0, c0 = m.origin(3)
    assert idx[r0 + 2, c0 + 1].tolist() == [3, 2, 1]
    assert idx.dtype == np.uint8


def test_mosaic_layout_is_square_upright_and_titled():
    m = grid.Mosaic(C, H, WD)
    layout = grid.mosaic_layout(m, NAMES, "bias")
    assert layout["yaxis"]["scaleanchor"] == "x" and layout["yaxis"]["range"][0] > layout["yaxis"]["range"][1]
    titles = [a["text"] for a in layout["annotations"]]
    assert titles[:C] == [f"<b>{n}</b>" for n in NAMES] and titles[-1] == "bias"
    r0, c0 = m.origin(4)
    assert layout["annotations"][4]["x"] == c0 + (WD - 1) / 2


# -- weight templates -------------------------------------------------------


def panel(fig_or_z, c):
    """Class c's image out of a templates / gradcheck mosaic."""
    z = np.asarray(fig_or_z.data[0].z if hasattr(fig_or_z, "data") else fig_or_z, dtype=float)
    r0, c0 = grid.Mosaic(C, H, WD).origin(c)
    return z[r0 : r0 + H, c0 : c0 + WD]


def test_templates_figure_one_image_per_class_and_bias_apart():
    W = make_W()
    fig = templates.templates_figure(W, (H, WD), NAMES)
    assert [t.type for t in fig.data] == ["heatmap", "bar"]
    for c in range(C):
        np.testing.assert_allclose(panel(fig, c), W[1:, c].reshape(H, WD), rtol=1e-6)
    assert "pixel" in fig.data[0].hovertemplate and "customdata[0]" in fig.data[0].hovertemplate
    assert np.asarray(fig.data[0].customdata).shape == (*grid.Mosaic(C, H, WD).shape, 3)
    np.testing.assert_allclose(np.asarray(fig.data[1].y), W[0].astype(np.float32))
    assert list(fig.data[1].x) == NAMES
    assert [a.text for a in fig.layout.annotations][:C] == [f"<b>{n}</b>" for n in NAMES]


@pytest.mark.parametrize(
    "x, nice",
    [(0.0123, 0.015), (0.02, 0.02), (0.021, 0.03), (7.2, 8.0), (9.5, 10.0), (1e-7, 1e-7), (0.0, 1.0)],
)
def test_nice_ceil(x, nice):
    assert theme.nice_ceil(x) == pytest.approx(nice)


def test_templates_shared_scale_is_one_range_centred_on_zero():
    W = make_W()
    W[1:, 3] = 0.0  # a class of zeros does not stretch the range
    fig = templates.templates_figure(W, (H, WD), NAMES, scale=templates.SHARED)
    assert fig.data[0].coloraxis == "coloraxis"
    m = float(np.abs(W[1:]).max())
    assert fig.layout.coloraxis.cmax == -fig.layout.coloraxis.cmin == theme.nice_ceil(m)
    assert m <= fig.layout.coloraxis.cmax < 1.34 * m
    for c in range(C):
        np.testing.assert_allclose(panel(fig, c), W[1:, c].reshape(H, WD), rtol=1e-6)  # unscaled


def test_templates_per_class_scale_gives_each_image_its_own_range():
    W = make_W()
    W[1:, 2] *= 100.0
    fig = templates.templates_figure(W, (H, WD), NAMES, scale=templates.PER_CLASS)
    assert fig.layout.coloraxis.cmax == 1.0 and fig.layout.coloraxis.cmin == -1.0
    for c in range(C):
        m = float(np.abs(W[1:, c]).max())
        np.testing.assert_allclose(panel(fig, c), W[1:, c].reshape(H, WD) / m, rtol=1e-5)
    assert "max" in fig.data[0].hovertemplate


def test_templates_all_zero_weights_per_class_do_not_divide_by_zero():
    fig = templates.templates_figure(np.zeros((H * WD + 1, C)), (H, WD), NAMES, scale=templates.PER_CLASS)
    assert np.nanmax(np.abs(np.asarray(fig.data[0].z, dtype=float))) == 0


@pytest.mark.parametrize("scale", [templates.SHARED, templates.PER_CLASS])
def test_templates_patch_matches_the_figure(scale):
    W = make_W(1)
    fig = templates.templates_figure(W, (H, WD), NAMES, scale=scale)
    ops = patch_ops(templates.templates_patch(W, (H, WD), scale))
    np.testing.assert_allclose(
        np.nan_to_num(decode(ops["data.0.z"])),
        np.nan_to_num(np.asarray(fig.data[0].z, dtype=float)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(decode(ops["data.1.y"]), W[0], rtol=1e-6)
    assert ops["layout.yaxis2.range"] == list(fig.layout.yaxis2.range)
    if scale == templates.SHARED:
        assert ops["layout.coloraxis.cmax"] == fig.layout.coloraxis.cmax


def test_templates_patch_for_mnist_is_small():
    W = np.random.default_rng(0).standard_normal((785, 10))
    names = list("0123456789")
    size = len(json.dumps(templates.templates_patch(W, (28, 28)).to_plotly_json()))
    full = len(pio.to_json(templates.templates_figure(W, (28, 28), names)))
    assert size < 60_000 and size < full


# -- loss curves -----------------------------------------------------------


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("delta", [1.0, 0.5])
def test_curves_sanity_line_is_the_expected_initial_loss(loss, delta):
    fig = curves.curves_figure(None, loss, 10, delta)
    expected = LOSSES[loss].initial_loss(10, delta)
    (line,) = fig.layout.shapes
    assert line.y0 == pytest.approx(expected) and line.y1 == pytest.approx(expected)
    assert line.xref == "x domain"
    label = fig.layout.annotations[0].text
    assert f"{expected:.4g}" in label or f"{session.fmt_sci(delta)}" in label


def test_curves_softmax_label_says_ln_c():
    assert "ln 10" in curves.sanity_annotation("softmax", 10, 1.0)["text"]
    assert "(C−1)·Δ" in curves.sanity_annotation("hinge", 10, 1.0)["text"]


def test_curves_empty_history_has_all_traces_and_a_hint():
    fig = curves.curves_figure(None, "softmax", 10, 1.0)
    assert [t.name for t in fig.data] == [name for _, name, *_ in curves.TRACES]
    assert all(len(t.x) == 0 for t in fig.data)
    assert any("Train" in a.text for a in fig.layout.annotations)


def history(n=5, sig=None):
    recs = [
        dict(
            step=i + 1,
            epoch=(i + 1) / 5,
            lr=1e-3,
            loss=2.3 - 0.1 * i,
            data_loss=2.2 - 0.1 * i,
            reg_loss=0.1,
            train_acc=0.1 * i,
            val_acc=math.nan if i == 0 else 0.09 * i,
        )
        for i in range(n)
    ]
    return session.history_payload(recs, sig or ["s"])


def test_curves_with_history_plots_every_column_against_step():
    h = history()
    fig = curves.curves_figure(h, "softmax", 10, 1.0)
    for (key, *_), trace in zip(curves.TRACES, fig.data, strict=True):
        np.testing.assert_allclose(np.asarray(trace.x), h["step"])
        expected = np.array([np.nan if v is None else v for v in h[key]], dtype=np.float32)
        np.testing.assert_allclose(np.asarray(trace.y, dtype=float), expected, rtol=1e-6)
    assert fig.data[3].yaxis == "y2" and fig.data[0].yaxis == "y"
    assert not any("Train" in a.text for a in fig.layout.annotations)


def test_curves_patch_replaces_the_curves_and_drops_the_hint():
    h = history(7)
    ops = patch_ops(curves.curves_patch(h, "hinge", 10, 1.0))
    np.testing.assert_allclose(decode(ops["data.0.x"]), h["step"])
    np.testing.assert_allclose(decode(ops["data.1.y"]), h["data_loss"], rtol=1e-6)
    assert len(ops["layout.annotations"]) == 1 and "expected" in ops["layout.annotations"][0]["text"]


# -- gradient check -------------------------------------------------------


def fake_check(rows_cols, analytic, numeric, kinks=None, shape=(H * WD + 1, C), verdict="correct"):
    """A hand-made stand-in with the fields of core.gradcheck.CheckResult that the views read."""
    rc = np.asarray(rows_cols)
    a, n = np.asarray(analytic, float), np.asarray(numeric, float)
    rel = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), np.finfo(float).tiny)
    table = pd.DataFrame(
        dict(
            row=rc[:, 0],
            col=rc[:, 1],
            analytic=a,
            numeric=n,
            abs_diff=np.abs(a - n),
            rel_error=rel,
            kink_samples=np.zeros(len(a), int) if kinks is None else np.asarray(kinks),
        )
    )

    def matrix(column="rel_error"):
        out = np.full(shape, np.nan)
        out[table["row"], table["col"]] = table[column]
        return out

    return SimpleNamespace(
        table=table,
        matrix=matrix,
        global_rel_error=1e-9,
        median_rel_error=2e-10,
        max_rel_error=3e-8,
        verdict=verdict,
        verdict_text=f"{verdict.title()}: made by hand.",
        n_checked=len(a),
        n_kink_entries=int((table["kink_samples"] > 0).sum()),
        seconds=0.012,
    )


def all_entries():
    return [(r, c) for r in range(H * WD + 1) for c in range(C)]


def test_log_rel_error_clips_to_the_colour_range_and_keeps_nan():
    out = gradcheck.log_rel_error(np.array([0.0, 1e-20, 1e-6, 5.0, np.nan]))
    lo, hi = theme.REL_ERROR_RANGE
    assert out[0] == lo and out[1] == lo and out[2] == pytest.approx(-6) and out[3] == hi and np.isnan(out[4])


def test_heatmap_lays_errors_out_like_the_image_with_bias_apart():
    rc = all_entries()
    a = np.ones(len(rc))
    n = a.copy()
    k = rc.index((1 + 2 * WD + 1, 3))  # pixel (2, 1) of class 3
    n[k] = 1.0 + 2e-3
    fig = gradcheck.heatmap_figure(fake_check(rc, a, n), (H, WD), NAMES)
    assert len(fig.data) == 4  # errors, bias, and the kink overlays (breakit; empty here)
    z3 = panel(fig, 3)
    assert z3[2, 1] == pytest.approx(np.log10(2e-3 / 2.002), abs=1e-4)
    assert z3[0, 0] == theme.REL_ERROR_RANGE[0]
    assert np.asarray(fig.data[1].z).shape == (1, C) and list(fig.data[1].x) == NAMES
    assert all(t.coloraxis == "coloraxis" for t in fig.data[:2])
    assert fig.layout.coloraxis.cmin == theme.REL_ERROR_RANGE[0]


def test_heatmap_leaves_unchecked_entries_blank():
    rc = [(0, 0), (5, 1)]
    fig = gradcheck.heatmap_figure(fake_check(rc, [1.0, 2.0], [1.0, 2.0]), (H, WD), NAMES)
    assert np.isnan(panel(fig, 1)).sum() == H * WD - 1
    assert np.isnan(panel(fig, 0)).all()
    assert not np.isnan(np.asarray(fig.data[1].z, dtype=float)[0, 0])


def test_heatmap_patch_carries_only_the_z_arrays():
    rc = all_entries()
    res = fake_check(rc, np.ones(len(rc)), np.ones(len(rc)))
    ops = patch_ops(gradcheck.heatmap_patch(res, (H, WD)))
    assert set(ops) == {"data.0.z", "data.1.z", "data.2.z", "data.3.z"}  # 2, 3: kink overlays, empty here
    assert decode(ops["data.0.z"]).shape == grid.Mosaic(C, H, WD).shape


def test_scatter_separates_entries_near_a_kink():
    rc = [(0, 0), (1, 1), (2, 2)]
    res = fake_check(rc, [0.1, -0.2, 0.3], [0.1, -0.2, 0.25], kinks=[0, 0, 2])
    fig = gradcheck.scatter_figure(res)
    assert [t.name for t in fig.data] == ["smooth entries", "near a kink"]
    np.testing.assert_allclose(np.asarray(fig.data[0].x), [0.1, -0.2], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.data[1].y), [0.25], rtol=1e-6)
    assert np.asarray(fig.data[1].customdata).tolist() == [[2, 2]]
    (diag,) = fig.layout.shapes
    assert diag.x0 == diag.y0 and diag.x1 == diag.y1 and diag.x0 < -0.2 and diag.x1 > 0.3


def test_scatter_patch_updates_points_and_diagonal():
    res = fake_check([(0, 0), (1, 1)], [1.0, 2.0], [1.0, 2.0])
    ops = patch_ops(gradcheck.scatter_patch(res))
    np.testing.assert_allclose(decode(ops["data.0.x"]), [1.0, 2.0])
    assert decode(ops["data.1.x"]).size == 0
    assert ops["layout.xaxis.range"] == ops["layout.yaxis.range"]


def test_summary_shows_verdict_and_numbers():
    res = fake_check([(0, 0)], [1.0], [1.0], verdict="suspicious")
    text = str(gradcheck.summary(res, 50, 1e-5, "central"))
    assert "SUSPICIOUS" in text and "made by hand" in text
    assert "1.0e-09" in text and "3.0e-08" in text and "50 samples" in text and "1e-5" in text
