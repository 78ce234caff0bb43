"""Evaluation: accuracy, confusion matrix, top-k, confident mistakes, and the lr x reg grid."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import core.metrics as metrics_mod
from core import data
from core.losses import LOSSES, scores
from core.metrics import (
    GRID_COLUMNS,
    accuracy,
    confident_mistakes,
    confusion_matrix,
    grid_search,
    grid_search_steps,
    per_class_accuracy,
    predict,
    top_k,
)
from core.train import TrainConfig, train

HINGES = [name for name, spec in LOSSES.items() if spec.is_hinge]


def random_problem(n=60, d=4, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d + 1, c)), rng.normal(size=(n, d)), rng.integers(0, c, n)


@pytest.fixture(scope="module")
def trained():
    """A softmax model trained on part of the built-in sample, and held-out data."""
    p = data.prepare(data.load_builtin(), 4000, 1000, mode="standardize")
    res = train(p.X_train, p.y_train, TrainConfig(lr=0.01, epochs=3))
    return res.W, p


def test_metrics001_predict_and_accuracy_by_hand():
    # two features, three classes: class 0 likes x0, class 1 likes x1, class 2 has a bias of 0.5
    W = np.array([[0.0, 0.0, 0.5], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    X = np.array([[2.0, 0.0], [0.0, 2.0], [0.1, 0.1], [1.0, 0.0]])
    assert predict(W, X).tolist() == [0, 1, 2, 0]
    assert predict(W, X).dtype == np.int64
    assert accuracy(W, X, np.array([0, 1, 2, 1])) == 0.75
    assert math.isnan(accuracy(W, X[:0], np.array([], dtype=int)))
    with pytest.raises(ValueError):
        accuracy(W, X, np.array([0, 1]))


def test_metrics002_confusion_matrix_matches_a_loop():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    cm = confusion_matrix(t, p, 4)
    ref = np.zeros((4, 4), dtype=np.int64)
    for a, b in zip(t, p, strict=True):
        ref[a, b] += 1
    assert np.array_equal(cm, ref) and cm.dtype == np.int64 and cm.sum() == 200
    assert confusion_matrix([0, 0, 1], [1, 1, 1], 3).tolist() == [[0, 2, 0], [0, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1], [0, 3], 3)


def test_metrics003_per_class_accuracy_is_recall_with_nan_for_absent_classes():
    W, X, y = random_problem(c=5)
    y = np.where(y == 4, 0, y)  # class 4 never occurs
    pca = per_class_accuracy(W, X, y, 5)
    pred = predict(W, X)
    for c in range(4):
        assert pca[c] == pytest.approx(np.mean(pred[y == c] == c))
    assert math.isnan(pca[4])
    weights = np.bincount(y, minlength=5)[:4]
    assert np.average(pca[:4], weights=weights) == pytest.approx(accuracy(W, X, y))


def test_metrics004_top_k_softmax_probabilities():
    W, X, _ = random_problem()
    classes, probs = top_k(W, X, k=3)
    S = scores(W, X)
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    assert classes.shape == probs.shape == (60, 3) and classes.dtype == np.int64
    assert np.array_equal(classes[:, 0], predict(W, X))
    np.testing.assert_allclose(probs, np.take_along_axis(P, classes, axis=1), rtol=1e-12)
    assert (np.diff(probs, axis=1) <= 0).all()
    all_classes, all_probs = top_k(W, X, k=5)
    np.testing.assert_allclose(all_probs.sum(axis=1), 1.0)
    assert (np.sort(all_classes, axis=1) == np.arange(5)).all()
    for k in (0, 6, 2.0):
        with pytest.raises(ValueError, match="k"):
            top_k(W, X, k=k)


@pytest.mark.parametrize("loss", HINGES)
def test_metrics005_top_k_hinge_raw_scores(loss):
    W, X, _ = random_problem()
    classes, vals = top_k(W, X, k=2, loss=loss)
    S = scores(W, X)
    np.testing.assert_array_equal(vals, np.take_along_axis(S, classes, axis=1))
    np.testing.assert_array_equal(vals[:, 0], S.max(axis=1))
    assert (vals[:, 0] >= vals[:, 1]).all()
    with pytest.raises(ValueError, match="unknown loss"):
        top_k(W, X, loss="nope")


@pytest.mark.parametrize("loss", list(LOSSES))
def test_metrics006_confident_mistakes_brute_force(loss):
    W, X, y = random_problem(n=300)
    df = confident_mistakes(W, X, y, n=12, loss=loss)
    assert list(df.columns)[:4] == ["index", "true", "pred", "confidence"]
    S = scores(W, X)
    pred = S.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    if LOSSES[loss].is_hinge:
        conf = S[wrong, pred[wrong]] - S[wrong, y[wrong]]
        assert (df["confidence"] > 0).all()
    else:
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        conf = P[wrong, pred[wrong]]
    best = wrong[np.argsort(-conf, kind="stable")[:12]]
    assert df["index"].tolist() == best.tolist()
    assert (df["true"].to_numpy() == y[best]).all() and (df["pred"].to_numpy() == pred[best]).all()
    assert (df["true"] != df["pred"]).all() and df["confidence"].is_monotonic_decreasing
    assert len(confident_mistakes(W, X, y, n=10_000, loss=loss)) == len(wrong)
    assert len(confident_mistakes(W, X, pred, loss=loss)) == 0  # no mistakes


def test_metrics007_trained_model_sanity(trained):
    W, p = trained
    acc = accuracy(W, p.X_test, p.y_test)
    assert 0.8 < acc <= 1.0
    cm = confusion_matrix(p.y_test, predict(W, p.X_test), 10)
    assert np.trace(cm) / cm.sum() == pytest.approx(acc)
    df = confident_mistakes(W, p.X_test, p.y_test, n=5)
    assert len(df) == 5 and (df["confidence"] > 0.5).all()  # its worst mistakes are confident ones


def test_metrics008_huge_weights_evaluate_without_warnings():
    W, X, y = random_problem()
    W = W * 1e307
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert predict(W, X).shape == (60,)
        assert 0.0 <= accuracy(W, X, y) <= 1.0
        _, probs = top_k(W, X, k=2)
        assert probs.shape == (60, 2)
        confident_mistakes(W, X, y)
        per_class_accuracy(W, X, y, 5)


# --------------------------------------------------------------------------
# grid


def blob_split(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(3, 5))
    y = rng.integers(0, 3, 400)
    X = centers[y] + rng.normal(size=(400, 5))
    return X[:300], y[:300], X[300:], y[300:]


def test_metrics009_grid_search_frame_and_divergence():
    X, y, Xv, yv = blob_split()
    base = TrainConfig(batch_size=50, epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = grid_search(X, y, Xv, yv, lrs=[1e-2, 1e8], regs=[0.0, 1e-2, 1e3], base_config=base)
    assert tuple(df.columns) == GRID_COLUMNS and len(df) == 6
    assert df[["lr", "reg"]].values.tolist() == [
        [1e-2, 0.0],
        [1e-2, 1e-2],
        [1e-2, 1e3],
        [1e8, 0.0],
        [1e8, 1e-2],
        [1e8, 1e3],
    ]
    ok = df[~df["diverged"]]
    assert df["diverged"].tolist() == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]  # only lr * reg = 1e11 blows up
    assert df.loc[5, "stopped"].startswith("diverged: training diverged at step")
    assert df.loc[df["diverged"], ["train_acc", "val_acc", "final_loss"]].isna().all().all()
    assert (ok["val_acc"].between(0, 1)).all() and (ok["final_loss"] > 0).all()
    assert df.loc[0, "val_acc"] > 0.9 and df.loc[0, "train_acc"] > 0.9
    # each cell is exactly a train() run of base_config with that lr and reg
    res = train(X, y, TrainConfig(batch_size=50, epochs=3, lr=1e-2, reg=1e-2))
    assert df.loc[1, "val_acc"] == accuracy(res.W, Xv, yv)


def test_metrics010_grid_search_steps_streams_one_cell_at_a_time(monkeypatch):
    X, y, Xv, yv = blob_split()
    calls = []
    real = metrics_mod.train
    monkeypatch.setattr(metrics_mod, "train", lambda *a, **k: calls.append(1) or real(*a, **k))
    gen = grid_search_steps(X, y, Xv, yv, [1e-3, 1e-2], [0.0, 1e-3], TrainConfig(batch_size=100, epochs=1))
    done, total, row = next(gen)
    assert (done, total, len(calls)) == (1, 4, 1)
    assert set(row) == set(GRID_COLUMNS) and (row["lr"], row["reg"]) == (1e-3, 0.0)
    rest = list(gen)
    assert [d for d, _, _ in rest] == [2, 3, 4] and len(calls) == 4
    assert isinstance(pd.DataFrame([r for _, _, r in rest]), pd.DataFrame)
