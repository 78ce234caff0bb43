"""Inspect / Mistakes & score maps: confusion matrix, confident mistakes, score maps, as plain functions."""

from __future__ import annotations

from contextvars import copy_context

import numpy as np
import pytest
from dash import html
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import evaluation, ids, session
from components import inspect_common as ic
from components.grid import Mosaic
from core import data as core_data
from core import metrics
from core.losses import scores
from core.train import TrainConfig, train

BUILTIN = core_data.BUILTIN
LOG = np.log10
DATA = (BUILTIN, LOG(500), LOG(200), "standardize")


@pytest.fixture(scope="module")
def prep():
    return session.prepared(ic.data_of(*DATA))


@pytest.fixture(scope="module")
def weights(prep):
    """A briefly trained W: right often enough for a real diagonal, wrong often enough for a gallery."""
    res = train(prep.X_train, prep.y_train, TrainConfig(lr=0.01, iterations=30, batch_size=100, log_every=30),
                n_classes=prep.n_classes)
    return session.encode_weights(res.W, dataset=BUILTIN)


def walk(node):
    yield node
    kids = getattr(node, "children", None)
    for k in kids if isinstance(kids, (list, tuple)) else [kids]:
        if hasattr(k, "to_plotly_json"):
            yield from walk(k)


def text_of(node) -> str:
    out = []
    for n in walk(node):
        kids = getattr(n, "children", None)
        for k in kids if isinstance(kids, (list, tuple)) else [kids]:
            if isinstance(k, (str, int, float)):
                out.append(str(k))
    return " ".join(out)


def z_of(trace) -> np.ndarray:
    return np.asarray(trace.z, dtype=float)


def draw(weights, tab="mistakes", click=None, loss="softmax"):
    return evaluation.draw_evaluation(tab, click, weights, *DATA, loss)


def test_eval001_confusion_matrix_sums_to_the_test_size(prep, weights):
    fig, summary, gallery = draw(weights)
    right, wrong, acc = fig.data
    counts = np.nan_to_num(z_of(right)) + np.nan_to_num(z_of(wrong))
    assert counts.sum() == prep.X_test.shape[0] == 200 == fig.layout.meta["total"]
    W = session.decode_weights(weights)
    cm = metrics.confusion_matrix(prep.y_test, metrics.predict(W, prep.X_test), prep.n_classes)
    np.testing.assert_array_equal(counts, cm)
    assert np.isnan(z_of(wrong).diagonal()).all() and np.isnan(z_of(right)[~np.eye(10, dtype=bool)]).all()
    np.testing.assert_allclose(z_of(acc)[:, 0], cm.diagonal() / cm.sum(axis=1))
    assert f"{100 * np.trace(cm) / 200:.1f}%" in text_of(html.Div(summary))


def test_eval002_gallery_shows_the_surest_mistakes_with_top3_bars(prep, weights):
    _, _, gallery = draw(weights)
    W = session.decode_weights(weights)
    expected = metrics.confident_mistakes(W, prep.X_test, prep.y_test, n=evaluation.N_MISTAKES)
    cards = [c for c in gallery if getattr(c, "className", "") == "mistake-card"]
    assert [c.id for c in cards] == [ids.evaluation_mistake(int(i)) for i in expected["index"]]
    for card, (_, row) in zip(cards, expected.iterrows(), strict=True):
        bars = [n for n in walk(card) if getattr(n, "className", "") == "topk-row"]
        assert len(bars) == 3
        top, _ = metrics.top_k(W, prep.X_test[[int(row["index"])]], 3)
        assert [b.children[0].children for b in bars] == [str(c) for c in top[0]]
        assert any(n.src.startswith("data:image/png") for n in walk(card) if getattr(n, "src", None))


def test_eval003_clicking_a_confusion_cell_keeps_only_its_mistakes(prep, weights):
    W = session.decode_weights(weights)
    pred = metrics.predict(W, prep.X_test)
    wrong = np.flatnonzero(pred != prep.y_test)
    t, p = int(prep.y_test[wrong[0]]), int(pred[wrong[0]])
    click = {"points": [{"curveNumber": 1, "x": p, "y": t, "customdata": [t, p]}]}
    fig, summary, gallery = draw(weights, click=click)
    n = int(np.sum((prep.y_test == t) & (pred == p)))
    assert len(gallery) == min(n, evaluation.N_MISTAKES)
    for card in gallery:
        i = card.id["index"]
        assert (prep.y_test[i], pred[i]) == (t, p)
    assert fig.layout.shapes[0].x0 == p - 0.5 and fig.layout.shapes[0].y0 == t - 0.5
    diag = {"points": [{"curveNumber": 0, "x": 2, "y": 2, "customdata": [2, 2]}]}
    assert len(draw(weights, click=diag)[2]) == evaluation.N_MISTAKES  # a diagonal cell: all mistakes again


def test_eval004_score_maps_sum_to_the_scores(prep, weights):
    W = session.decode_weights(weights)
    x = prep.X_test[5]
    fig = evaluation.score_map_figure(W, x, prep.image_shape, prep.class_names, int(prep.y_test[5]))
    heat, contrib, bias, marks = fig.data
    mosaic = Mosaic(10, *prep.image_shape)
    z = z_of(heat)
    H, Wd = prep.image_shape
    panel_sums = np.array([z[r:r + H, c:c + Wd].sum() for r, c in (mosaic.origin(k) for k in range(10))])
    s = scores(W, x[None])[0]
    np.testing.assert_allclose(panel_sums + np.asarray(bias.y), s, rtol=1e-4, atol=1e-5)  # float32 panels
    np.testing.assert_allclose(np.asarray(contrib.y) + np.asarray(bias.y), s, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(marks.y), s, rtol=1e-12)
    np.testing.assert_allclose(fig.layout.meta["scores"], s, rtol=1e-12)
    assert np.isnan(z).sum() > 0  # gaps between the panels
    assert abs(fig.layout.coloraxis.cmin) == fig.layout.coloraxis.cmax >= np.abs(z[np.isfinite(z)]).max()
    titles = [a.text for a in fig.layout.annotations[:10]]
    assert "◀" in titles[int(s.argmax())] and "✓" in titles[int(prep.y_test[5])]


def test_eval005_hidden_tab_computes_nothing(weights):
    assert draw(weights, tab="examples") == (evaluation.no_update,) * 3
    out = evaluation.draw_evaluation_scoremap("grid", {"split": "test", "index": 1}, weights, *DATA, "softmax")
    assert out == (evaluation.no_update, evaluation.no_update)


def test_eval006_clicking_a_mistake_shows_its_score_maps(prep, weights):
    def click(value):
        def call():
            context_value.set(AttributeDict(triggered_inputs=[
                {"prop_id": '{"index":42,"type":"evaluation-mistake"}.n_clicks', "value": value}]))
            return evaluation.pick_mistake([value])

        return copy_context().run(call)

    selected = click(1)
    assert selected == {"split": "test", "index": 42}
    with pytest.raises(PreventUpdate):
        click(0)  # a new gallery, no click
    fig, info = evaluation.draw_evaluation_scoremap("mistakes", selected, weights, *DATA, "softmax")
    assert len(fig.data) == 4
    text = text_of(html.Div(info))
    assert "Test image #42" in text and "p(" in text


def test_eval007_hinge_bars_are_scores_not_probabilities(weights):
    _, summary, gallery = draw(weights, loss="hinge")
    assert "by score" in text_of(html.Div(summary))
    assert "%" not in text_of(gallery[0].children[1])


def test_eval008_bad_weights_and_bad_index_are_messages(weights):
    other = session.encode_weights(np.zeros((10, 3)), dataset=BUILTIN)
    fig, summary, gallery = draw(other)
    assert "press Reset weights" in text_of(summary) and gallery == []
    fig, info = evaluation.draw_evaluation_scoremap("mistakes", {"split": "test", "index": 5000}, weights, *DATA,
                                                    "softmax")
    assert "not among the 200" in text_of(info)
