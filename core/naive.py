"""Loop-based naive twins of every loss in :mod:`core.losses`: the test oracle.

Each function computes, sample by sample and class by class with plain Python
loops, the same ``(loss, dW)`` as the vectorized registry function of the same
name (``NAIVE[name]``). Nothing here is fast or clever on purpose: the point is
that every line can be checked against the formula by eye. Conventions (shapes,
``delta``, ``reg_mode``, ``reg_bias``) are those of :mod:`core.losses`; the bias
is handled the notebook's way, with an explicit column of ones in front of X.

Per-sample work uses 1-D numpy rows (a score is ``xb @ W[:, j]``), but every
decision (which class, which margin is active, which column of dW is updated)
is a Python ``if`` inside a Python loop over samples and classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["NAIVE", "naive_loss", "naive_regularization"]


def _with_bias(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return np.c_[np.ones((X.shape[0], 1)), X]


def naive_regularization(W: np.ndarray, reg: float, reg_mode: str = "half", reg_bias: bool = True):
    """R(W) and dR/dW, entry by entry."""
    if reg_mode not in ("half", "full"):
        raise ValueError(f"reg_mode must be 'half' or 'full', not {reg_mode!r}")
    factor = 0.5 * reg if reg_mode == "half" else float(reg)
    R = 0.0
    dR = np.zeros(W.shape)
    for i in range(W.shape[0]):
        if i == 0 and not reg_bias:
            continue
        for j in range(W.shape[1]):
            R += factor * W[i, j] * W[i, j]
            dR[i, j] = 2.0 * factor * W[i, j]
    return R, dR


def _sample_scores(xb: np.ndarray, W: np.ndarray) -> list[float]:
    return [float(xb @ W[:, j]) for j in range(W.shape[1])]


def _softmax(W, X, y, delta):
    Xb = _with_bias(X)
    N, C = Xb.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape)
    for n in range(N):
        s = _sample_scores(Xb[n], W)
        smax = max(s)
        e = [math.exp(s[j] - smax) for j in range(C)]
        total = sum(e)
        loss += math.log(total) - (s[y[n]] - smax)
        for j in range(C):
            p = e[j] / total
            if j == y[n]:
                dW[:, j] += (p - 1.0) * Xb[n]
            else:
                dW[:, j] += p * Xb[n]
    return loss, dW


def _hinge(W, X, y, delta):
    Xb = _with_bias(X)
    N, C = Xb.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape)
    for n in range(N):
        s = _sample_scores(Xb[n], W)
        for j in range(C):
            if j == y[n]:
                continue
            margin = s[j] - s[y[n]] + delta
            if margin > 0:
                loss += margin
                dW[:, j] += Xb[n]
                dW[:, y[n]] -= Xb[n]
    return loss, dW


def _ova_hinge(W, X, y, delta):
    Xb = _with_bias(X)
    N, C = Xb.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape)
    for n in range(N):
        s = _sample_scores(Xb[n], W)
        for j in range(C):
            target = 1.0 if j == y[n] else -1.0
            margin = delta - target * s[j]
            if margin > 0:
                loss += margin
                dW[:, j] -= target * Xb[n]
    return loss, dW


def _structured_hinge(W, X, y, delta):
    Xb = _with_bias(X)
    N, C = Xb.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape)
    for n in range(N):
        s = _sample_scores(Xb[n], W)
        best_j, best = None, -math.inf
        for j in range(C):  # first index wins a tie, as in the vectorized loss
            if j != y[n] and s[j] > best:
                best_j, best = j, s[j]
        if best_j is None:
            continue
        margin = best - s[y[n]] + delta
        if margin > 0:
            loss += margin
            dW[:, best_j] += Xb[n]
            dW[:, y[n]] -= Xb[n]
    return loss, dW


_DATA = {
    "softmax": _softmax,
    "hinge": _hinge,
    "ova-hinge": _ova_hinge,
    "structured-hinge": _structured_hinge,
}


def naive_loss(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    *,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
) -> tuple[float, np.ndarray]:
    """``(loss, dW)`` of the loss called ``name``, by loops."""
    W = np.asarray(W, dtype=np.float64)
    y = [int(v) for v in np.asarray(y)]
    N = len(y)
    data, dW = _DATA[name](W, X, y, float(delta))
    R, dR = naive_regularization(W, reg, reg_mode, reg_bias)
    return data / N + R, dW / N + dR


def _twin(name: str) -> Callable:
    def f(W, X, y, reg=0.0, **options):
        return naive_loss(name, W, X, y, reg, **options)

    f.__name__ = "naive_" + name.replace("-", "_") + "_loss"
    f.__doc__ = f"Loop-based ``(W, X, y, reg, **options) -> (loss, dW)`` for {name!r}."
    return f


#: name -> naive ``f(W, X, y, reg, **options) -> (loss, dW)``, same names as ``LOSSES``.
NAIVE: dict[str, Callable] = {name: _twin(name) for name in _DATA}
