"""Inspect / Examples: the per-image table and its totals, called as plain functions on the built-in sample."""

from __future__ import annotations

import struct
import zlib
from contextvars import copy_context

import numpy as np
import pytest
from dash import html
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import examples, ids, session
from components import inspect_common as ic
from core import data as core_data
from core.losses import LOSSES, loss_parts, scores

BUILTIN = core_data.BUILTIN
LOG = np.log10
DATA = (BUILTIN, LOG(500), LOG(100), "standardize")


@pytest.fixture(scope="module")
def prep():
    return session.prepared(ic.data_of(*DATA))


@pytest.fixture(scope="module")
def weights(prep):
    W = 0.05 * np.random.default_rng(3).standard_normal((prep.n_features + 1, prep.n_classes))
    return session.encode_weights(W, dataset=BUILTIN)


def W_of(weights):
    return session.decode_weights(weights)


def walk(node):
    """Every component of a tree (children only)."""
    yield node
    kids = getattr(node, "children", None)
    for k in kids if isinstance(kids, (list, tuple)) else [kids]:
        if hasattr(k, "to_plotly_json"):
            yield from walk(k)


def classes_of(node) -> list[str]:
    return [getattr(n, "className", "") or "" for n in walk(node)]


def text_of(node) -> str:
    out = []
    for n in walk(node):
        kids = getattr(n, "children", None)
        for k in kids if isinstance(kids, (list, tuple)) else [kids]:
            if isinstance(k, (str, int, float)):
                out.append(str(k))
    return " ".join(out)


def table_args(tab="examples", indices="0, 1, 2", split="train", weights=None, loss="softmax", delta=1.0):
    return (tab, indices, split, weights, *DATA, loss, delta)


def totals_args(tab="examples", indices="0, 1, 2", split="train", weights=None, loss="softmax", reg=-2.0,
                reg_mode="half", reg_bias=("bias",), delta=1.0):
    return (tab, indices, split, weights, *DATA, loss, reg, reg_mode, list(reg_bias), delta)


# -- the numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("split", ["train", "test"])
def test_examples001_totals_agree_with_loss_parts(prep, weights, loss, split):
    W = W_of(weights)
    X, y = ic.split_arrays(prep, split)
    lc = ic.loss_of(loss, -2.0, "full", [], 1.5)  # λ = 0.01, CS231n's penalty without the bias, Δ = 1.5
    table, totals = examples.compute(lc, W, X, y, [7, 0, 3], prep.class_names)
    parts = loss_parts(loss, W, X, y, 0.01, delta=1.5, reg_mode="full", reg_bias=False)
    assert totals["data_loss"] == pytest.approx(parts.data_loss, rel=1e-12)
    assert totals["reg_loss"] == pytest.approx(parts.reg_loss, rel=1e-12)
    assert totals["total"] == pytest.approx(parts.loss, rel=1e-12)
    assert table["index"].tolist() == [7, 0, 3]
    Li, _ = LOSSES[loss].scores_fn(scores(W, X[[7, 0, 3]]), y[[7, 0, 3]], 1.5)
    np.testing.assert_allclose(table["loss"], Li, rtol=1e-12)
    assert totals["mean_data_loss"] == pytest.approx(Li.mean(), rel=1e-12)
    S = scores(W, X[[7, 0, 3]])
    np.testing.assert_allclose(table[[f"score_{c}" for c in prep.class_names]].to_numpy(), S, rtol=1e-12)


def test_examples002_memoized_data_loss_is_the_same_number_and_follows_the_weights(prep, weights):
    W = W_of(weights)
    lc = ic.loss_of("hinge", -3.0, "half", ["bias"], 1.0)
    key = ("test-key", "train")
    first = examples.memo_data_loss(key, lc, W, prep.X_train, prep.y_train)
    assert first == loss_parts("hinge", W, prep.X_train, prep.y_train, 0.0).data_loss  # bit-identical
    assert examples.memo_data_loss(key, lc, W, prep.X_train, prep.y_train) == first
    W2 = W.copy()
    W2[5, 3] += 1.0
    assert examples.memo_data_loss(key, lc, W2, prep.X_train, prep.y_train) == pytest.approx(
        loss_parts("hinge", W2, prep.X_train, prep.y_train, 0.0).data_loss, rel=1e-12
    )
    assert len(examples._MEMO) <= examples._MEMO_SIZE


def test_examples003_totals_callback_shows_the_loss_parts_numbers(prep, weights):
    out = examples.draw_totals(*totals_args(weights=weights, reg=-2.0))
    parts = loss_parts("softmax", W_of(weights), prep.X_train, prep.y_train, 0.01)
    text = text_of(out)
    assert ic.fmt(parts.data_loss, 4) in text and ic.fmt(parts.loss, 4) in text
    assert "500 training images" in text and "λ = 0.01" in text


# -- the table --------------------------------------------------------------------------------


def test_examples004_table_marks_the_true_class_and_the_max_and_has_thumbnails(prep, weights):
    table = examples.draw_examples(*table_args(weights=weights, indices="4, 9"))
    rows_top = [n for n in walk(table) if getattr(n, "className", "") == "ex-row-top"]
    rows_bottom = [n for n in walk(table) if getattr(n, "className", "") == "ex-row-bottom"]
    assert len(rows_top) == len(rows_bottom) == 2
    S = scores(W_of(weights), prep.X_train[[4, 9]])
    for r, (top, bottom) in enumerate(zip(rows_top, rows_bottom, strict=True)):
        cells = [c for c in top.children if "ex-num" in (c.className or "") and "ex-loss" not in c.className]
        true_cols = [k for k, c in enumerate(cells) if "ex-true" in c.className]
        max_cols = [k for k, c in enumerate(cells) if "ex-max" in c.className]
        assert true_cols == [int(prep.y_train[[4, 9][r]])]
        assert max_cols == [int(S[r].argmax())]
        probs = [float(c.children) for c in bottom.children if "ex-term" in (c.className or "")]
        assert sum(probs) == pytest.approx(1.0, abs=0.01)  # softmax: the row's probabilities
    imgs = [n for n in walk(table) if getattr(n, "src", "") and n.src.startswith("data:image/png;base64,")]
    assert len(imgs) == 2
    buttons = [n for n in walk(table) if isinstance(getattr(n, "id", None), dict)]
    assert [b.id for b in buttons] == [ids.examples_row("train:4"), ids.examples_row("train:9")]


def test_examples005_hinge_margins_add_up_to_each_loss(prep, weights):
    table = examples.draw_examples(*table_args(weights=weights, indices="1, 2, 3", loss="hinge", delta=1.0))
    tops = [n for n in walk(table) if getattr(n, "className", "") == "ex-row-top"]
    bottoms = [n for n in walk(table) if getattr(n, "className", "") == "ex-row-bottom"]
    for top, bottom in zip(tops, bottoms, strict=True):
        terms = [c.children for c in bottom.children if "ex-term" in (c.className or "")]
        assert terms.count("·") == 1  # the true class has no margin
        total = sum(float(t.replace("−", "-")) for t in terms if t != "·")
        assert total == pytest.approx(float(top.children[-1].children), abs=0.03)
    assert "margin" in text_of(table)


def test_examples006_hidden_tab_computes_nothing(weights):
    assert examples.draw_examples(*table_args(tab="grid", weights=weights)) is examples.no_update
    assert examples.draw_totals(*totals_args(tab="mistakes", weights=weights)) is examples.no_update
    out = examples.draw_examples_scoremap("compare", {"split": "train", "index": 1}, weights, *DATA, "softmax")
    assert out == (examples.no_update, examples.no_update)


@pytest.mark.parametrize(
    "text, message",
    [("", "enter image numbers"), ("1, x", "'x' is not an image number"), ("1 600", "#600 does not exist"),
     (", ".join(map(str, range(11))), "at most 10")],
)
def test_examples007_bad_numbers_become_a_message(weights, text, message):
    out = examples.draw_examples(*table_args(weights=weights, indices=text))
    assert message in text_of(out) and "inspect-note inspect-note-error" in classes_of(out)
    assert examples.draw_totals(*totals_args(weights=weights, indices=text)) is None


def test_examples008_numbers_are_parsed_in_order_without_repeats():
    assert examples.parse_indices("3, 1 3;0", 10) == [3, 1, 0]


def test_examples009_random_five_are_distinct_reproducible_and_of_the_split(prep):
    a = examples.random_indices(1, 100)
    assert a == examples.random_indices(1, 100) and a != examples.random_indices(2, 100)
    assert len(set(a)) == 5 and all(0 <= i < 100 for i in a)
    text = examples.pick_random(3, "test", *DATA)
    got = [int(t) for t in text.split(",")]
    assert len(got) == 5 and max(got) < prep.X_test.shape[0]


def test_examples010_weights_of_another_shape_are_a_message():
    other = session.encode_weights(np.zeros((10, 3)), dataset=BUILTIN)
    out = examples.draw_examples(*table_args(weights=other))
    assert "press Reset weights" in text_of(out)


def run_with_trigger(fn, prop_id, value):
    def call():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))
        return fn([value])

    return copy_context().run(call)


def test_examples011_clicking_a_row_selects_it_and_a_redraw_does_not(weights):
    pid = '{"index":"test:17","type":"examples-row"}.n_clicks'
    assert run_with_trigger(examples.pick_example, pid, 1) == {"split": "test", "index": 17}
    with pytest.raises(PreventUpdate):
        run_with_trigger(examples.pick_example, pid, 0)
    fig, info = examples.draw_examples_scoremap("examples", {"split": "test", "index": 17}, weights, *DATA, "softmax")
    assert len(fig.data) == 4 and "Test image #17" in text_of(html.Div(info))


def test_examples012_thumbnails_are_valid_greyscale_pngs():
    img = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    png = ic.png_bytes(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (w, h, depth, colour) == (4, 3, 8, 0)
    n = struct.unpack(">I", png[33:37])[0]
    raw = zlib.decompress(png[41:41 + n])
    rows = [raw[r * 5 + 1:(r + 1) * 5] for r in range(3)]
    assert b"".join(rows) == img.tobytes()
    assert ic.to_uint8(np.array([[0.0, 0.5], [1.0, np.nan]])).tolist() == [[0, 128], [255, 0]]


def test_examples013_a_malformed_selection_leaves_the_score_maps_alone(weights):
    with pytest.raises(PreventUpdate):
        examples.draw_examples_scoremap("examples", {"split": "train", "index": "x"}, weights, *DATA, "softmax")
    out = examples.draw_examples(*table_args(weights=weights, indices=["not", "text"], split={"a": 1}))
    assert "unknown split" in text_of(out)
