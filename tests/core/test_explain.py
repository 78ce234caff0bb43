"""Tests for core/explain.py: the per-example table, its totals, score maps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import data, explain, losses
from core.losses import LOSSES, loss_parts


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """One BLAS thread, as app.py runs (OPENBLAS_NUM_THREADS=1): these tests make
    many small matrix products, which threaded OpenBLAS slows down many times
    on a busy machine. The results do not depend on it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the tests are just slower
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def prepared():
    return data.prepare(data.load_builtin(), n_train=200, n_test=10, mode="standardize")


@pytest.fixture(scope="module")
def problem(prepared):
    rng = np.random.default_rng(2)
    W = 0.02 * rng.standard_normal((prepared.n_features + 1, prepared.n_classes))
    return W, prepared.X_train, prepared.y_train


OPTIONS = [
    dict(delta=1.0, reg_mode="half", reg_bias=True),
    dict(delta=2.5, reg_mode="full", reg_bias=False),
]


@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_explain001_totals_agree_with_loss_parts(problem, name, opts):
    W, X, y = problem
    idx = [3, 0, 17, 3, 199]
    table, totals = explain.example_table(name, W, X, y, idx, 0.3, **opts)
    p = loss_parts(name, W, X, y, 0.3, **opts)
    assert set(totals) == {"mean_data_loss", "data_loss", "reg_loss", "total"}
    assert totals["data_loss"] == p.data_loss
    assert totals["reg_loss"] == p.reg_loss
    assert totals["total"] == p.loss
    assert math.isclose(totals["total"], totals["data_loss"] + totals["reg_loss"], rel_tol=1e-15)
    assert math.isclose(totals["mean_data_loss"], table["loss"].mean(), rel_tol=1e-14)
    # the per-sample losses are the registry's, and average to loss_parts over all samples
    S = losses.scores(W, X)
    Li, _ = LOSSES[name].scores_fn(S, y, opts["delta"])
    assert np.allclose(table["loss"], Li[idx], rtol=1e-12, atol=1e-14)
    everything, all_totals = explain.example_table(name, W, X, y, np.arange(len(y)), 0.3, **opts)
    assert math.isclose(all_totals["mean_data_loss"], p.data_loss, rel_tol=1e-12)
    assert len(everything) == len(y)


@pytest.mark.parametrize("name", list(LOSSES))
def test_explain002_columns_scores_and_labels(problem, name):
    W, X, y = problem
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    idx = np.array([5, 1, 2])
    table, _ = explain.example_table(name, W, X, y, idx, class_names=names)
    kind = "prob" if name == "softmax" else "margin"
    assert kind == explain.term_kind(name)
    expected = (
        ["index", "label", "predicted", "correct"]
        + [f"score_{c}" for c in names]
        + [f"{kind}_{c}" for c in names]
        + ["loss"]
    )
    assert list(table.columns) == expected
    S = losses.scores(W, X[idx])
    assert np.allclose(table[[f"score_{c}" for c in names]].to_numpy(), S, rtol=1e-13, atol=1e-15)
    assert table["index"].tolist() == idx.tolist()
    assert table["label"].tolist() == [names[k] for k in y[idx]]
    assert table["predicted"].tolist() == [names[k] for k in S.argmax(axis=1)]
    assert table["correct"].tolist() == (S.argmax(axis=1) == y[idx]).tolist()


@pytest.mark.parametrize("delta", [1.0, 0.3])
@pytest.mark.parametrize("name", list(LOSSES))
def test_explain003_per_class_terms_rebuild_the_loss(problem, name, delta):
    W, X, y = problem
    idx = np.arange(0, 200, 7)
    table, _ = explain.example_table(name, W, X, y, idx, delta=delta)
    kind = explain.term_kind(name)
    T = table[[f"{kind}_{c}" for c in range(10)]].to_numpy()
    S = table[[f"score_{c}" for c in range(10)]].to_numpy()
    loss = table["loss"].to_numpy()
    rows = np.arange(len(idx))
    yy = y[idx]
    assert np.all(T >= 0)
    if name == "softmax":
        assert np.allclose(T.sum(axis=1), 1.0, rtol=0, atol=1e-14)
        assert np.allclose(-np.log(T[rows, yy]), loss, rtol=1e-12)
        assert np.array_equal(T.argmax(axis=1), S.argmax(axis=1))
    elif name == "hinge":
        assert np.all(T[rows, yy] == 0.0)
        assert np.allclose(T.sum(axis=1), loss, rtol=1e-13, atol=1e-14)
        j = (yy + 1) % 10
        assert np.allclose(T[rows, j], np.maximum(0, S[rows, j] - S[rows, yy] + delta), rtol=1e-14)
    elif name == "ova-hinge":
        assert np.allclose(T[rows, yy], np.maximum(0, delta - S[rows, yy]), rtol=1e-14)
        assert np.allclose(T.sum(axis=1), loss, rtol=1e-13, atol=1e-14)
    else:  # structured-hinge: the loss is the largest term
        assert np.all(T[rows, yy] == 0.0)
        assert np.allclose(T.max(axis=1), loss, rtol=1e-13, atol=1e-14)
    assert np.any(loss > 0)  # the test looks at active terms


def test_explain004_softmax_probabilities_are_stable():
    S = np.array([[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0], [-800.0, -801.0, -2000.0]])
    S_before = S.copy()
    P = explain.softmax_probabilities(S)
    assert np.array_equal(S, S_before)
    assert np.isfinite(P).all()
    assert np.allclose(P.sum(axis=1), 1.0, atol=1e-15)
    assert np.allclose(P[0], [0.5, 0.5, 0.0]) and np.allclose(P[1], 1 / 3)
    assert math.isclose(P[2, 0], 1 / (1 + math.exp(-1)), rel_tol=1e-14)
    single = explain.softmax_probabilities(S[2])
    assert np.array_equal(single, P[2])


def test_explain005_score_maps_sum_to_the_scores(problem, prepared):
    W, X, _ = problem
    for i in (0, 42):
        x = X[i]
        x_before, W_before = x.copy(), W.copy()
        maps, bias, s = explain.score_maps(W, x, prepared.image_shape)
        assert maps.shape == (10, 28, 28) and bias.shape == (10,) and s.shape == (10,)
        assert np.allclose(s, losses.scores(W, x[None])[0], rtol=1e-12, atol=1e-13)
        assert np.array_equal(s, maps.sum(axis=(1, 2)) + bias)
        assert np.array_equal(bias, W[0])
        r, c = 14, 9  # pixel (r, c) is feature r*28 + c
        assert maps[3, r, c] == W[1 + r * 28 + c, 3] * x[r * 28 + c]
        maps2, _, s2 = explain.score_maps(W, x.reshape(28, 28), (28, 28))
        assert np.array_equal(maps, maps2) and np.array_equal(s, s2)
        assert np.array_equal(x, x_before) and np.array_equal(W, W_before)
        bias[0] = 99.0  # the returned bias is a copy
        assert W[0, 0] != 99.0


def test_explain006_templates_are_the_weight_columns(problem):
    W, _, _ = problem
    T = explain.templates(W, (28, 28))
    assert T.shape == (10, 28, 28)
    assert np.array_equal(T[4].ravel(), W[1:, 4])
    T[0, 0, 0] = 123.0
    assert W[1, 0] != 123.0  # a copy
    one = W[:, :1]  # C = 1: the transposed column is contiguous, still copied
    T1 = explain.templates(one, (28, 28))
    assert not np.shares_memory(T1, W)


def test_explain007_inputs_unmutated_and_empty_selection(problem):
    W, X, y = (a.copy() for a in problem)
    for a in (W, X, y):
        a.flags.writeable = False
    for name in LOSSES:
        table, totals = explain.example_table(name, W, X, y, [1, 2], 0.1)
        assert len(table) == 2
        table, totals = explain.example_table(name, W, X, y, [], 0.1)
        assert len(table) == 0 and len(table.columns) == 4 + 2 * 10 + 1
        assert math.isnan(totals["mean_data_loss"])
        assert totals["total"] == loss_parts(name, W, X, y, 0.1).loss
    assert np.array_equal(W, problem[0]) and np.array_equal(X, problem[1]) and np.array_equal(y, problem[2])


def test_explain008_default_class_names_and_dataset_names(problem, prepared):
    W, X, y = problem
    table, _ = explain.example_table("hinge", W, X, y, [0], class_names=prepared.class_names)
    assert "score_0" in table.columns and "margin_9" in table.columns
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    table, _ = explain.example_table("softmax", W, X, y, [0, 1], class_names=fashion)
    assert "prob_Ankle boot" in table.columns and "score_T-shirt/top" in table.columns
    assert set(table["label"]) <= set(fashion)
    assert isinstance(table, pd.DataFrame)


def test_explain009_bad_arguments_raise(problem):
    W, X, y = problem
    cases = [
        (("nope", W, X, y, [0]), {}, "unknown loss"),
        (("hinge", W, X, y, [200]), {}, "indices"),
        (("hinge", W, X, y, [-1]), {}, "indices"),
        (("hinge", W, X, y, [0.5]), {}, "integers"),
        (("hinge", W, X, y, [[0, 1]]), {}, "1-D"),
        (("hinge", W, X, y, [0]), {"class_names": ["a"] * 10}, "distinct"),
        (("hinge", W, X, y, [0]), {"class_names": ["a", "b"]}, "2 names"),
        (("hinge", W, X, y, [0]), {"reg_mode": "x"}, "reg_mode"),
        (("hinge", W, X, y + 10, [0]), {}, "labels"),
        (("hinge", W[:5], X, y, [0]), {}, "rows"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            explain.example_table(*args, **kwargs)
    with pytest.raises(ValueError, match="reg"):
        explain.example_table("hinge", W, X, y, [0], -0.1)
    with pytest.raises(ValueError, match="image_shape"):
        explain.score_maps(W, X[0], (27, 28))
    with pytest.raises(ValueError, match="one sample"):
        explain.score_maps(W, X[:2], (28, 28))
