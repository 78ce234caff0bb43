"""Evaluation of a trained linear classifier, and the learning-rate x regularization grid.

Shapes follow :mod:`core.losses`: ``W`` (D+1, C) with the bias in row 0, ``X``
(N, D), ``y`` (N,). Scores of huge (but finite) weights may overflow; every
function here evaluates under ``np.errstate(all="ignore")`` so no numpy warning
escapes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from core.losses import LOSSES, loss_parts, scores
from core.train import TrainConfig, train

GRID_COLUMNS = ("lr", "reg", "train_acc", "val_acc", "final_loss", "diverged", "seconds", "stopped")


def _scores(W, X) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X)
    if W.ndim != 2 or X.ndim != 2 or W.shape[0] != X.shape[1] + 1:
        raise ValueError(f"expected W (D+1, C) and X (N, D), got W {W.shape} and X {X.shape}")
    with np.errstate(all="ignore"):
        return scores(W, X)


def _labels(y, N: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"expected {N} labels, got shape {y.shape}")
    return y


def predict(W, X) -> np.ndarray:
    """Predicted class per sample, (N,) int64: the argmax of the scores (first on ties)."""
    return _scores(W, X).argmax(axis=1).astype(np.int64)


def accuracy(W, X, y) -> float:
    """Fraction of samples whose predicted class is y (nan for zero samples)."""
    y = _labels(y, np.asarray(X).shape[0])
    if y.size == 0:
        return math.nan
    return float(np.mean(predict(W, X) == y))


def per_class_accuracy(W, X, y, C: int) -> np.ndarray:
    """(C,) accuracy over the samples of each true class (recall); nan for absent classes."""
    y = _labels(y, np.asarray(X).shape[0]).astype(np.int64)
    cm = confusion_matrix(y, predict(W, X), C)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def confusion_matrix(y_true, y_pred, C: int) -> np.ndarray:
    """(C, C) int64 counts, rows the true class, columns the predicted class."""
    y_true = np.asarray(y_true).astype(np.int64, copy=False)
    y_pred = np.asarray(y_pred).astype(np.int64, copy=False)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}"
        )
    for a, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        if a.size and (a.min() < 0 or a.max() >= C):
            raise ValueError(f"{name} must hold labels in 0..{C - 1}")
    return np.bincount(y_true * C + y_pred, minlength=C * C).reshape(C, C).astype(np.int64)


def _loss_spec(loss: str):
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[loss]


def _softmax(S: np.ndarray) -> np.ndarray:
    Z = S - S.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def _values(W, X, loss: str) -> np.ndarray:
    """Probabilities (softmax) or raw scores (hinge losses), (N, C)."""
    spec = _loss_spec(loss)
    S = _scores(W, X)
    if spec.is_hinge:
        return S
    with np.errstate(all="ignore"):
        return _softmax(S)


def top_k(W, X, k: int = 3, loss: str = "softmax") -> tuple[np.ndarray, np.ndarray]:
    """The k best classes per sample, best first: ``(classes (N, k) int64, values (N, k))``.

    Values are softmax probabilities for the softmax loss and raw scores for the
    hinge losses (whose scores are not probabilities). Ties keep the lower class first.
    """
    V = _values(W, X, loss)
    C = V.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= C:
        raise ValueError(f"k must be an integer in 1..{C}, not {k!r}")
    order = np.argsort(-V, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(V, order, axis=1)


def confident_mistakes(W, X, y, n: int = 12, loss: str = "softmax") -> pd.DataFrame:
    """The n misclassified samples the model was surest about, most confident first.

    Columns: ``index`` (row in X), ``true``, ``pred``, ``confidence`` (the
    softmax probability of the predicted class; for hinge losses the score
    margin s_pred - s_true > 0), ``true_value`` (probability or score of the
    true class). Ties are broken by the lower index.
    """
    y = _labels(y, np.asarray(X).shape[0]).astype(np.int64)
    V = _values(W, X, loss)
    pred = V.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    v_pred = V[wrong, pred[wrong]]
    v_true = V[wrong, y[wrong]]
    with np.errstate(all="ignore"):
        conf = v_pred if not LOSSES[loss].is_hinge else v_pred - v_true
    order = np.lexsort((wrong, -conf))[: max(int(n), 0)]
    return pd.DataFrame(
        {
            "index": wrong[order].astype(np.int64),
            "true": y[wrong[order]],
            "pred": pred[wrong[order]].astype(np.int64),
            "confidence": conf[order].astype(np.float64),
            "true_value": v_true[order].astype(np.float64),
        }
    )


# --------------------------------------------------------------------------
# hyper-parameter grid


def grid_search_steps(
    X, y, X_val, y_val, lrs: Sequence[float], regs: Sequence[float], base_config: TrainConfig
) -> Iterator[tuple[int, int, dict]]:
    """Train once per (lr, reg) cell, yielding ``(done, total, row)`` after each.

    Each cell is ``base_config`` with that lr and reg (same seed, so the cells
    differ only in those two). ``row`` has the keys of :data:`GRID_COLUMNS`:
    accuracies on the full training and validation sets and the full training
    loss at the final weights; a cell that diverged gets ``diverged=True`` and
    nan accuracies and loss. Stopping the iteration stops the grid.
    """
    lrs, regs = list(lrs), list(regs)
    total = len(lrs) * len(regs)
    done = 0
    # validation accuracy is computed once at the end; don't log it every few steps
    cfg0 = replace(
        base_config,
        log_every=max(base_config.log_every, 10**9),
        snapshot_every=max(base_config.snapshot_every, 10**9),
    )
    n_classes = int(max(np.max(y), np.max(y_val))) + 1
    for lr in lrs:
        for reg in regs:
            cfg = replace(cfg0, lr=float(lr), reg=float(reg))
            t0 = time.perf_counter()
            res = train(X, y, cfg, n_classes=n_classes)
            diverged = res.stopped.startswith("diverged")
            if diverged:
                tr = va = fl = math.nan
            else:
                tr, va = accuracy(res.W, X, y), accuracy(res.W, X_val, y_val)
                with np.errstate(all="ignore"):
                    fl = loss_parts(
                        cfg.loss,
                        res.W,
                        X,
                        np.asarray(y),
                        cfg.reg,
                        delta=cfg.delta,
                        reg_mode=cfg.reg_mode,
                        reg_bias=cfg.reg_bias,
                    ).loss
                if not math.isfinite(fl):
                    fl = math.nan
            done += 1
            row = dict(
                lr=float(lr),
                reg=float(reg),
                train_acc=tr,
                val_acc=va,
                final_loss=fl,
                diverged=diverged,
                seconds=time.perf_counter() - t0,
                stopped=res.stopped,
            )
            yield done, total, row


def grid_search(
    X, y, X_val, y_val, lrs: Sequence[float], regs: Sequence[float], base_config: TrainConfig
) -> pd.DataFrame:
    """All cells of :func:`grid_search_steps` as a DataFrame (one row per cell, lr-major)."""
    rows = [row for _, _, row in grid_search_steps(X, y, X_val, y_val, lrs, regs, base_config)]
    return pd.DataFrame(rows, columns=list(GRID_COLUMNS))


__all__ = [
    "GRID_COLUMNS",
    "accuracy",
    "confident_mistakes",
    "confusion_matrix",
    "grid_search",
    "grid_search_steps",
    "per_class_accuracy",
    "predict",
    "top_k",
]
