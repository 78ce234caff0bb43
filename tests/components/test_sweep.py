"""The step-size sweep view ("Inside the gradient", tab 1): figure builder and callback as plain functions."""

from __future__ import annotations

import math
from contextvars import copy_context

import numpy as np
import pandas as pd
import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict

from components import controls, ids, session, sweep
from core import data as core_data
from core.gradcheck import step_sweep

BUILTIN = core_data.BUILTIN
LOG = np.log10


def small_problem(seed=17, N=30, D=7, C=5, scale=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, size=N)
    W = rng.normal(size=(D + 1, C)) * scale
    return W, X, y


@pytest.fixture(scope="module")
def softmax_df():
    W, X, y = small_problem()
    return step_sweep("softmax", W, X, y, 0.1, hs=sweep.HS)


def trace(fig, method):
    (t,) = [t for t in fig.data if t.name.startswith(method)]
    return t


# -- the figure --------------------------------------------------------------------


def test_sweep001_central_on_softmax_has_its_minimum_inside_the_range(softmax_df):
    fig = sweep.sweep_figure(softmax_df, 1e-5)
    assert [t.name for t in fig.data] == ["central differences", "forward differences"]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    for method in ("central", "forward"):
        y = np.asarray(trace(fig, method).y, dtype=float)
        k = int(np.argmin(y))
        assert 0 < k < len(y) - 1  # the V: round-off on the left, truncation on the right
        assert y[0] > 100 * y[k] and y[-1] > 100 * y[k]
    central, forward = (np.asarray(trace(fig, m).y, dtype=float) for m in ("central", "forward"))
    assert central.min() < forward.min() / 100  # central wins ...
    assert sweep.HS[np.argmin(central)] > sweep.HS[np.argmin(forward)]  # ... at a larger h


def test_sweep002_chosen_h_is_a_vertical_line_at_that_h(softmax_df):
    fig = sweep.sweep_figure(softmax_df, 1e-5)
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 1e-5 and line.xref == "x"
    assert (line.y0, line.y1, line.yref) == (0, 1, "y domain")
    (label,) = [a for a in fig.layout.annotations if "your h" in a.text]
    assert label.text == "your h = 1e-5" and label.x == pytest.approx(-5.0)  # annotations: log10 on log axes
    lo, hi = fig.layout.xaxis.range
    assert lo < -5 < hi


def test_sweep003_a_chosen_h_outside_the_sweep_widens_the_axis(softmax_df):
    fig = sweep.sweep_figure(softmax_df, 1e-14)
    assert fig.layout.shapes[0].x0 == 1e-14
    assert fig.layout.xaxis.range[0] < -14
    assert sweep.sweep_figure(softmax_df, 1.0).layout.xaxis.range[1] > 0


@pytest.mark.parametrize("h", [None, 0.0, -1e-5, math.nan])
def test_sweep004_no_valid_h_no_line(softmax_df, h):
    fig = sweep.sweep_figure(softmax_df, h)
    assert not fig.layout.shapes
    assert not [a for a in fig.layout.annotations if "your h" in a.text]


def test_sweep005_the_minimum_of_each_curve_is_marked_and_labelled(softmax_df):
    fig = sweep.sweep_figure(softmax_df, 1e-5)
    best = sweep.best_steps(softmax_df)
    for method in ("central", "forward"):
        t = trace(fig, method)
        sizes = np.asarray(t.marker.size)
        k = int(np.argmax(sizes))
        assert sizes[k] > 2 * np.median(sizes)
        assert t.x[k] == best[method][0] and t.y[k] == pytest.approx(best[method][1])
        (label,) = [a for a in fig.layout.annotations if f"best {method}" in a.text]
        assert label.x == pytest.approx(math.log10(best[method][0]))
        assert label.y == pytest.approx(math.log10(best[method][1]))


def test_sweep006_roundoff_and_truncation_regions_are_labelled(softmax_df):
    texts = {a.text: a for a in sweep.sweep_figure(softmax_df, 1e-5).layout.annotations}
    left = texts[sweep.ROUNDOFF_TEXT]
    (right,) = [a for t, a in texts.items() if t.replace("<br>", " ") == sweep.TRUNCATION_TEXT]
    assert left.x < 0.5 < right.x  # left part and right part of the plot


def test_sweep007_an_exact_zero_error_stays_on_the_log_axis():
    df = pd.DataFrame(
        {
            "h": [1e-6, 1e-3, 1e-6, 1e-3],
            "method": ["central", "central", "forward", "forward"],
            "global_rel_error": [1e-10, 0.0, 1e-9, math.nan],
        }
    )
    fig = sweep.sweep_figure(df, 1e-5)
    y = np.asarray(trace(fig, "central").y, dtype=float)
    assert y[1] == sweep.FLOOR and np.isnan(np.asarray(trace(fig, "forward").y, dtype=float)[1])
    assert list(trace(fig, "central").customdata) == [1e-10, 0.0]  # the hover shows the real value


def test_sweep008_the_formula_shows_both_quotients_and_their_orders():
    box = sweep.formula()
    (tex,) = [c for c in box._traverse() if getattr(c, "id", None) == ids.SWEEP_FORMULA]
    text = tex.children
    assert tex.mathjax and all(line.startswith("$") for line in text.split("\n\n"))
    assert r"\frac{L(w + h) - L(w)}{h}" in text and r"\frac{L(w + h) - L(w - h)}{2h}" in text
    assert "forward" in text and "central" in text and r"\varepsilon / h" in text
    assert r"_{\text{round-off}}" in text and r"h^2}_{\text{truncation}}" in text


# -- the callback --------------------------------------------------------------------

VALUES = controls.initial_values()


@pytest.fixture(scope="module")
def weights0():
    return session.initial_weights(BUILTIN, "gaussian", 0)


def call(tab=sweep.TAB, weights=None, triggered=None, **changes):
    """update_sweep with the app's default sidebar values, ``changes`` applied, as
    Dash calls it (keyword arguments, the sidebar values the view reads as one
    dict); with ``triggered`` (prop ids) inside a callback context."""
    values = {**VALUES, **changes}
    kwargs = dict(tab=tab, values={k: values[k] for k in sweep.VALUES}, weights=weights, _drawn="drawn")
    if triggered is None:
        return sweep.update_sweep(**kwargs)

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": p, "value": None} for p in triggered]))
        return sweep.update_sweep(**kwargs)

    return copy_context().run(run)


def test_sweep010_callback_draws_both_curves_for_the_app_defaults(weights0):
    fig, caption, message = call(weights=weights0)
    assert message is None
    assert [t.name for t in fig.data] == ["central differences", "forward differences"]
    assert fig.layout.shapes[0].x0 == VALUES["gc_h"]
    central = np.asarray(trace(fig, "central").y, dtype=float)
    assert 0 < int(np.argmin(central)) < len(central) - 1  # softmax at the app's start: a V
    text = "".join(caption)
    assert "7,850 entries" in text and "first 50 training samples" in text and " ms" in text


def test_sweep011_uses_the_sidebar_samples_and_entries(weights0):
    _, caption, _ = call(weights=weights0, gc_samples=LOG(20), gc_entries="random", gc_subset=300)
    text = "".join(caption)
    assert "300 entries" in text and "first 20 training samples" in text


def test_sweep012_nothing_is_computed_while_the_tab_is_hidden(weights0):
    assert call(tab="landscape", weights=weights0) == (no_update, no_update, no_update)


def test_sweep013_a_redraw_of_the_main_view_alone_changes_nothing_here(weights0):
    out = call(weights=weights0, triggered=[f"{ids.GC_DRAWN_STORE}.data"])
    assert out == (no_update, no_update, no_update)
    fig, _, _ = call(weights=weights0, triggered=[f"{ids.GC_DRAWN_STORE}.data", f"{ids.LOSS}.value"])
    assert len(fig.data) == 2


def test_sweep014_hinge_is_drawn_and_explained(weights0):
    fig, caption, message = call(weights=weights0, loss="hinge")
    assert message is None and len(fig.data) == 2
    assert "piecewise linear" in "".join(caption)


def test_sweep015_switching_back_to_the_tab_reuses_the_result(weights0):
    call(weights=weights0)
    hits = sweep._sweep_cached.cache_info().hits
    fig, _, _ = call(weights=weights0, gc_h=1e-3)  # only the line moves: no new sweep
    assert sweep._sweep_cached.cache_info().hits == hits + 1
    assert fig.layout.shapes[0].x0 == 1e-3


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(loss="nope"), "unknown loss"),
        (dict(gc_samples="abc"), "not a number"),
        (dict(gc_entries="random", gc_subset=0), "entries"),
        (dict(delta=-1), "margin"),
        (dict(preprocessing="sharpen"), "preprocessing"),
        (dict(loss=["softmax"]), "unknown loss"),
        (dict(gc_subset=[3], gc_entries="random"), "entries"),
    ],
)
def test_sweep016_bad_values_are_readable_messages(weights0, changes, words):
    fig, caption, message = call(weights=weights0, **changes)
    assert fig is no_update and caption is no_update
    assert "Step-size sweep" in str(message) and words in str(message) and "alert" in str(message)


def test_sweep017_no_or_foreign_weights_are_messages(weights0):
    assert "Reset weights" in str(call(weights=None)[2])
    small = session.encode_weights(np.zeros((5, 3)), dataset=BUILTIN)
    assert "Reset weights" in str(call(weights=small)[2])


def test_sweep018_a_bad_h_keeps_the_sweep_and_says_there_is_no_line(weights0):
    fig, caption, message = call(weights=weights0, gc_h=0)
    assert message is None and len(fig.data) == 2 and not fig.layout.shapes
    assert "not a positive number" in "".join(caption)


def _nested_lists(node) -> list:
    """Components whose children list holds a list (React error #31 in the browser)."""
    found = []
    children = getattr(node, "children", None)
    if isinstance(children, (list, tuple)):
        if any(isinstance(c, (list, tuple)) for c in children):
            found.append(node)
        for c in children:
            found += _nested_lists(c)
    elif hasattr(children, "to_plotly_json"):
        found += _nested_lists(children)
    return found


def test_sweep009_formulas_and_layouts_render_as_flat_children():
    from components import inside, landscape

    nodes = [sweep.formula(), sweep.layout(), inside.layout(), landscape.layout()]
    for node in nodes:
        for part in node if isinstance(node, list) else [node]:
            assert _nested_lists(part) == []


def test_sweep019_a_minimum_at_the_end_of_the_range_is_labelled_from_inside():
    hs = [1e-8, 1e-5, 1e-2]
    df = pd.DataFrame(
        {
            "h": hs * 2,
            "method": ["central"] * 3 + ["forward"] * 3,
            "global_rel_error": [1e-8, 1e-11, 1e-14, 1e-8, 1e-9, 1e-6],  # hinge-like: central never turns up
        }
    )
    texts = {a.text.split("</b>")[0]: a for a in sweep.sweep_figure(df, 1e-5).layout.annotations}
    end = texts["<b>smallest central"]
    assert end.x == pytest.approx(-2.0) and end.ax < 0  # the label sits left of the right edge
    assert texts["<b>best forward"].ax == 0


def test_sweep020_region_labels_keep_clear_of_low_curve_ends():
    hs = [1e-8, 1e-5, 1e-2]
    df = pd.DataFrame(
        {
            "h": hs * 2,
            "method": ["central"] * 3 + ["forward"] * 3,
            "global_rel_error": [1e-8, 1e-11, 1e-14, 1e-8, 1e-9, 1e-12],  # both low at the right end
        }
    )
    texts = {a.text.replace("<br>", " "): a for a in sweep.sweep_figure(df, 1e-5).layout.annotations}
    assert texts[sweep.TRUNCATION_TEXT].yanchor == "top"  # at the top right: the curves end low
    assert texts[sweep.ROUNDOFF_TEXT].yanchor == "bottom"  # bottom left: they start high
