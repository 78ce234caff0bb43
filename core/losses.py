"""Linear-classifier losses and their analytic gradients.

Shapes and names (fixed here, once, for the whole package)::

    X   : (N, D) float   N samples of D features, *without* a bias column
    y   : (N,)   int     labels in 0 .. C-1
    W   : (D+1, C)       row 0 is the bias, rows 1..D the per-feature weights
                         (the notebook's bias trick, a column of ones in front
                         of X, without ever building that (N, D+1) copy)
    S   : (N, C)         scores, S = X @ W[1:] + W[0]
    dW  : (D+1, C)       gradient of the loss with respect to W
    reg : float >= 0     regularization strength

The loss is the mean data loss plus a penalty::

    L(W) = (1/N) * sum_i L_i(S_i)  +  R(W)
    R(W) = 1/2 * reg * ||W||^2      reg_mode="half" (the notebook's, gradient reg * W)
    R(W) = reg * ||W||^2            reg_mode="full" (CS231n's, gradient 2 * reg * W)

``reg_bias=False`` leaves the bias row out of R.

Every loss in :data:`LOSSES` has the signature ``f(W, X, y, reg, **options) ->
(loss, dW)`` with options ``delta`` (margin of the hinge family, ignored by
softmax), ``reg_mode`` and ``reg_bias``. :func:`loss_parts` returns the data
and regularization parts separately. Computation is float64, vectorized, and
never mutates its inputs. Each per-sample data loss sits next to its derivative
with respect to the scores (``*_scores`` functions); the chain rule through the
linear map is shared (:func:`backprop_scores`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

REG_MODES = ("half", "full")

# Shifted scores are clipped here before exp. exp(-600) ~ 2.6e-261 is far from
# the subnormal range, so the probabilities *and* the gradient P / N stay normal
# floats for any N below 1e46 (a floor of -700 gave exp ~ 1e-304, whose division
# by N > ~4,500 underflowed and raised under np.errstate(all="raise")). No
# probability changes by more than 2.6e-261, and L_i is computed before the clip.
_EXP_FLOOR = -600.0


class LossParts(NamedTuple):
    """A loss split for plots: ``loss == data_loss + reg_loss``."""

    loss: float
    data_loss: float
    reg_loss: float
    dW: np.ndarray


# --------------------------------------------------------------------------
# the linear map and its adjoint


def scores(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """S = X @ W[1:] + W[0], shape (N, C), without concatenating a bias column."""
    S = X @ W[1:]
    S += W[0]
    return S


def backprop_scores(G: np.ndarray, X: np.ndarray) -> np.ndarray:
    """dW for a gradient G = dL/dS of shape (N, C): row 0 sums G, rows 1.. are X^T G.

    ``(G.T @ X).T`` is computed instead of ``X.T @ G``: for this skinny shape it
    runs faster with the same result.
    """
    N, C = G.shape
    dW = np.empty((X.shape[1] + 1, C), dtype=np.result_type(G, X, np.float64))
    dW[0] = G.sum(axis=0)
    dW[1:] = (G.T @ X).T
    return dW


def regularization(
    W: np.ndarray, reg: float, reg_mode: str = "half", reg_bias: bool = True
) -> tuple[float, np.ndarray]:
    """R(W) and its gradient (see the module docstring for the conventions)."""
    if reg_mode not in REG_MODES:
        raise ValueError(f"reg_mode must be one of {REG_MODES}, not {reg_mode!r}")
    factor = 0.5 * reg if reg_mode == "half" else float(reg)
    Wr = W if reg_bias else W[1:]
    R = factor * float(np.vdot(Wr, Wr)) if reg else 0.0
    dR = (2.0 * factor) * W
    if not reg_bias:
        dR[0] = 0.0
    return R, dR


# --------------------------------------------------------------------------
# per-sample data losses as functions of the scores, each beside its derivative


def softmax_scores(S: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """Cross-entropy per sample, L_i = log sum_j exp(s_j) - s_y, and dL_i/dS.

    Log-sum-exp with the max subtracted; dL_i/dS = P - onehot(y).
    ``delta`` is accepted for a uniform signature and ignored.
    """
    N = S.shape[0]
    rows = np.arange(N)
    Z = S - S.max(axis=1, keepdims=True)
    z_y = Z[rows, y]  # taken before the clip below, so L_i stays exact
    np.maximum(Z, _EXP_FLOOR, out=Z)
    E = np.exp(Z)
    sumE = E.sum(axis=1)
    Li = np.log(sumE) - z_y
    E /= sumE[:, None]
    E[rows, y] -= 1.0
    return Li, E


def hinge_scores(S: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """Weston–Watkins multiclass SVM: L_i = sum_{j != y} max(0, s_j - s_y + delta)."""
    N = S.shape[0]
    rows = np.arange(N)
    M = S - S[rows, y][:, None]
    M += delta
    M[rows, y] = 0.0
    np.maximum(M, 0.0, out=M)
    Li = M.sum(axis=1)
    G = (M > 0).astype(S.dtype)
    G[rows, y] = -G.sum(axis=1)
    return Li, G


def ova_hinge_scores(S: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """One-vs-all: L_i = sum_j max(0, delta - t_j s_j), t_j = +1 for j = y, else -1."""
    N = S.shape[0]
    rows = np.arange(N)
    T = -np.ones_like(S)
    T[rows, y] = 1.0
    M = delta - T * S
    active = M > 0
    Li = np.where(active, M, 0.0).sum(axis=1)
    G = np.where(active, -T, 0.0)
    return Li, G


def structured_hinge_scores(S: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """Crammer–Singer: L_i = max(0, max_{j != y} s_j - s_y + delta).

    Where several j tie for the max, the first one gets the subgradient.
    """
    N = S.shape[0]
    rows = np.arange(N)
    other = S.copy()
    other[rows, y] = -np.inf
    j_star = other.argmax(axis=1)
    m = other[rows, j_star] - S[rows, y] + delta
    active = m > 0
    Li = np.where(active, m, 0.0)
    G = np.zeros_like(S)
    G[rows[active], j_star[active]] = 1.0
    G[rows[active], y[active]] -= 1.0
    return Li, G


# --------------------------------------------------------------------------
# the full losses L(W) and dL/dW


def _check_shapes(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(
            f"expected W (D+1, C), X (N, D), y (N,); got W {W.shape}, X {X.shape}, y {y.shape}"
        )
    if W.shape[0] != X.shape[1] + 1:
        raise ValueError(f"W has {W.shape[0]} rows; X has {X.shape[1]} features, so W needs D+1 = {X.shape[1] + 1}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("the loss of zero samples is undefined (N = 0)")


def data_loss_from_scores(name: str, S: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """Per-sample losses (N,) and dL_i/dS (N, C) of the loss called ``name``."""
    return LOSSES[name].scores_fn(S, y, delta)


def loss_parts(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    *,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
) -> LossParts:
    """Loss, its data and regularization parts, and dW for the loss called ``name``."""
    spec = LOSSES[name]
    _check_shapes(W, X, y)
    W = np.asarray(W, dtype=np.float64)
    N = X.shape[0]
    S = scores(W, X)
    Li, G = spec.scores_fn(S, y, delta)
    G /= N
    data_loss = float(Li.sum()) / N
    R, dW = regularization(W, reg, reg_mode, reg_bias)
    dW += backprop_scores(G, X)
    return LossParts(data_loss + R, data_loss, R, dW)


def _make_loss(name: str) -> Callable:
    def f(W, X, y, reg=0.0, **options):
        p = loss_parts(name, W, X, y, reg, **options)
        return p.loss, p.dW

    f.__name__ = name.replace("-", "_") + "_loss"
    f.__doc__ = f"``(W, X, y, reg, **options) -> (loss, dW)`` for the {name!r} loss."
    return f


@dataclass(frozen=True)
class LossSpec:
    """One entry of the registry."""

    name: str
    label: str
    scores_fn: Callable  # (S, y, delta) -> (L_i (N,), dL_i/dS (N, C))
    uses_margin: bool
    is_hinge: bool
    formula: str  # LaTeX of L_i, for the app
    initial_loss: Callable[[int, float], float]  # expected loss at W ~ 0: (C, delta) -> L

    @property
    def fn(self) -> Callable:
        return _make_loss(self.name)


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec(
            "softmax",
            "Softmax (cross-entropy)",
            softmax_scores,
            uses_margin=False,
            is_hinge=False,
            formula=r"L_i = -\log \frac{e^{s_{y_i}}}{\sum_j e^{s_j}}",
            initial_loss=lambda C, delta: math.log(C),
        ),
        LossSpec(
            "hinge",
            "Multiclass SVM (Weston–Watkins)",
            hinge_scores,
            uses_margin=True,
            is_hinge=True,
            formula=r"L_i = \sum_{j \ne y_i} \max(0,\, s_j - s_{y_i} + \Delta)",
            initial_loss=lambda C, delta: (C - 1) * delta,
        ),
        LossSpec(
            "ova-hinge",
            "One-vs-all hinge",
            ova_hinge_scores,
            uses_margin=True,
            is_hinge=True,
            formula=r"L_i = \sum_{j} \max(0,\, \Delta - t_j s_j),\ t_j = \pm 1",
            initial_loss=lambda C, delta: C * delta,
        ),
        LossSpec(
            "structured-hinge",
            "Structured SVM (Crammer–Singer)",
            structured_hinge_scores,
            uses_margin=True,
            is_hinge=True,
            formula=r"L_i = \max(0,\, \max_{j \ne y_i} s_j - s_{y_i} + \Delta)",
            initial_loss=lambda C, delta: delta,
        ),
    )
}

softmax_loss = LOSSES["softmax"].fn
hinge_loss = LOSSES["hinge"].fn
ova_hinge_loss = LOSSES["ova-hinge"].fn
structured_hinge_loss = LOSSES["structured-hinge"].fn


def get_loss(name: str) -> Callable:
    """The registry function ``f(W, X, y, reg, **options) -> (loss, dW)`` for ``name``."""
    try:
        return LOSSES[name].fn
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
