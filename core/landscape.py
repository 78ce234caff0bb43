"""Loss landscapes: 1-D and 2-D slices of L(W + a*D1 + b*D2) around W.

Shapes follow :mod:`core.losses` (``X`` (N, D) without a bias column, ``y``
(N,), ``W`` and every direction (D+1, C) with the bias in row 0). Pure numpy
and pandas.

Cost. The scores are linear in W, so along a plane through W::

    S(W + a*D1 + b*D2) = S0 + a*S1 + b*S2,   S0 = S(W), S1 = X@D1[1:] + D1[0], ...

The three (N, C) score matrices are computed once (three matrix products);
every grid point then costs one (N, C) evaluation of the per-sample loss
(batched over many grid points at a time; for the four registered losses a
loss-only twin of ``scores_fn`` that skips dL/dS, for any other loss its
``scores_fn``) plus the penalty in closed form::

    R(W + a*D1 + b*D2) = f * ||W + a*D1 + b*D2||^2
                       = f * (ww + 2a w1 + 2b w2 + a^2 11 + 2ab 12 + b^2 22)

from the six inner products of W, D1, D2 (bias row left out when
``reg_bias=False``; ``f`` = reg/2 for ``reg_mode="half"``, reg for "full").

Directions (:func:`directions`):

* ``"random"``: a standard-normal matrix drawn from
  ``np.random.default_rng(seed)`` and *filter-normalized* (Li et al., 2018,
  "Visualizing the Loss Landscape of Neural Nets"): each class column ``c``
  (bias included) is rescaled to the norm of ``W[:, c]``, so ``a = 1`` moves
  every class template by as much as it already weighs. With
  ``normalization="frobenius"`` the whole matrix is scaled to ``||W||_F``
  instead, with ``"unit"`` to ``unit_scale``.
* ``"gradient"``: ``-dL/dW`` (total loss, penalty included) scaled to
  ``||W||_F`` (to ``unit_scale`` with ``normalization="unit"``); it is never
  filter-normalized, so it stays the steepest-descent direction.
* an explicit array of W's shape, used as given (no normalization), e.g.
  ``W_trained - W_init`` for an interpolation plot.

Fallbacks. When ``||W||_F <= ZERO_NORM`` (e.g. ``init="zeros"``) there is no
scale to borrow, and every normalized direction gets Frobenius norm
``unit_scale`` (default :data:`UNIT_SCALE` = 1.0). When W is not ~0 but one
class column is (norm <= ``ZERO_NORM`` times the largest column norm), that
column borrows the RMS column norm ``||W||_F / sqrt(C)``. When the gradient is
~0 (norm <= ``ZERO_NORM``; e.g. a hinge loss with every margin satisfied and
``reg=0``), the gradient direction is replaced by a random one; the 1-D slice
records this in ``DataFrame.attrs["fallback"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd

from core import losses
from core.losses import LOSSES, REG_MODES, loss_parts, scores

__all__ = [
    "DIRECTION_KINDS",
    "NORMALIZATIONS",
    "UNIT_SCALE",
    "ZERO_NORM",
    "directions",
    "slice_1d",
    "slice_2d",
]

DIRECTION_KINDS = ("random", "gradient")
NORMALIZATIONS = ("filter", "frobenius", "unit")

#: Frobenius norm of a normalized direction when W is ~0 (and under "unit").
UNIT_SCALE = 1.0
#: Norms at or below this count as zero (W, a class column of W, the gradient).
ZERO_NORM = 1e-12

MAX_STEPS_1D = 10_001
MAX_STEPS_2D = 401

# Grid points are evaluated in batches of about this many score entries
# (float64: 512 KB per temporary; small batches stay in cache).
_BATCH_ELEMENTS = 1 << 16


# --------------------------------------------------------------------------
# validation


def _check_inputs(name, W, X, y):
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(f"expected W (D+1, C), X (N, D), y (N,); got W {W.shape}, X {X.shape}, y {y.shape}")
    if W.shape[0] != X.shape[1] + 1:
        raise ValueError(
            f"W has {W.shape[0]} rows; X has {X.shape[1]} features, so W needs D+1 = {X.shape[1] + 1}"
        )
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X has {X.shape[0]} samples and y {y.shape[0]} labels (need the same number, > 0)")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels y must be integers, not {y.dtype}")
    if y.min() < 0 or y.max() >= W.shape[1]:
        raise ValueError(f"labels y must lie in 0..{W.shape[1] - 1}")
    if not np.isfinite(W).all():
        raise ValueError("W contains NaN or infinite values")
    return W, X, y.astype(np.intp, copy=False)


def _check_options(reg, delta, reg_mode, reg_bias):
    if isinstance(reg, bool) or not isinstance(reg, Real) or not math.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a finite number >= 0, not {reg!r}")
    if isinstance(delta, bool) or not isinstance(delta, Real) or not math.isfinite(delta):
        raise ValueError(f"delta must be a finite number, not {delta!r}")
    if reg_mode not in REG_MODES:
        raise ValueError(f"reg_mode must be one of {REG_MODES}, not {reg_mode!r}")
    return float(reg), float(delta), reg_mode, bool(reg_bias)


def _check_grid(span, steps, max_steps):
    if isinstance(span, bool) or not isinstance(span, Real) or not math.isfinite(span) or span <= 0:
        raise ValueError(f"span must be a finite number > 0, not {span!r}")
    if isinstance(steps, bool) or not isinstance(steps, Integral) or not 2 <= steps <= max_steps:
        raise ValueError(f"steps must be an integer in 2..{max_steps}, not {steps!r}")
    return float(span), int(steps)


def _grid(span: float, steps: int) -> np.ndarray:
    """``steps`` points from -span to span, exactly symmetric; exactly 0 in the
    middle when ``steps`` is odd."""
    half = (steps - 1) / 2.0
    return span * ((np.arange(steps) - half) / half)


# --------------------------------------------------------------------------
# directions


def _normalize_random(R: np.ndarray, W: np.ndarray, normalization: str, unit_scale: float) -> np.ndarray:
    w_norm = math.sqrt(float(np.vdot(W, W)))
    if normalization == "unit" or w_norm <= ZERO_NORM:
        return R * (unit_scale / np.linalg.norm(R))
    if normalization == "frobenius":
        return R * (w_norm / np.linalg.norm(R))
    col = np.linalg.norm(W, axis=0)
    target = np.where(col <= ZERO_NORM * col.max(), w_norm / math.sqrt(W.shape[1]), col)
    return R * (target / np.linalg.norm(R, axis=0))


def _resolve_kinds(kind) -> tuple:
    if isinstance(kind, str):
        if kind not in DIRECTION_KINDS:
            raise ValueError(f"direction kind must be one of {DIRECTION_KINDS}, not {kind!r}")
        return (kind, "random")
    if isinstance(kind, Sequence) and len(kind) == 2:
        kinds = tuple(kind)
        for k in kinds:
            if isinstance(k, str) and k not in DIRECTION_KINDS:
                raise ValueError(f"direction kind must be one of {DIRECTION_KINDS} or an array, not {k!r}")
        if all(isinstance(k, str) and k == "gradient" for k in kinds):
            raise ValueError("both directions cannot be the gradient (the plane would be a line)")
        return kinds
    raise ValueError(f"direction kind must be 'random', 'gradient' or a pair of them, not {kind!r}")


def _directions(name, W, X, y, reg, kinds, seed, normalization, unit_scale, delta, reg_mode, reg_bias):
    """(D1, D2, notes) for validated float64 inputs; notes lists any fallback."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
    if (
        isinstance(unit_scale, bool)
        or not isinstance(unit_scale, Real)
        or not math.isfinite(unit_scale)
        or unit_scale <= 0
    ):
        raise ValueError(f"unit_scale must be a finite number > 0, not {unit_scale!r}")
    rng = np.random.default_rng(seed)
    # Both random matrices are always drawn, in this order, so that the random
    # direction in slot k depends only on the seed.
    R = (rng.standard_normal(W.shape), rng.standard_normal(W.shape))
    w_norm = math.sqrt(float(np.vdot(W, W)))
    notes: list[str] = []
    out = []
    for k, kind in enumerate(kinds):
        if kind is None:  # slot not needed (the 1-D slice)
            out.append(None)
            continue
        if not isinstance(kind, str):
            D = np.array(kind, dtype=np.float64)  # a copy: callers keep theirs
            if D.shape != W.shape:
                raise ValueError(f"direction {k + 1} has shape {D.shape}; W has {W.shape}")
            if not np.isfinite(D).all():
                raise ValueError(f"direction {k + 1} contains NaN or infinite values")
            out.append(D)
            continue
        if kind == "gradient":
            g = loss_parts(name, W, X, y, reg, delta=delta, reg_mode=reg_mode, reg_bias=reg_bias).dW
            g_norm = float(np.linalg.norm(g))
            if g_norm > ZERO_NORM and math.isfinite(g_norm):
                target = unit_scale if (normalization == "unit" or w_norm <= ZERO_NORM) else w_norm
                out.append(g * (-target / g_norm))
                continue
            notes.append(
                f"direction {k + 1}: the gradient is ~0 (norm {g_norm:.3g}); a random direction is used"
            )
        out.append(_normalize_random(R[k], W, normalization, unit_scale))
    if w_norm <= ZERO_NORM and any(isinstance(k, str) for k in kinds):
        notes.append(f"W is ~0: directions have Frobenius norm {unit_scale:g}")
    return out[0], out[1], notes


def directions(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    kind="random",
    seed: int = 0,
    *,
    normalization: str = "filter",
    unit_scale: float = UNIT_SCALE,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two directions (D1, D2), each of W's shape (see the module docstring).

    ``kind``: ``"random"`` -> (random, random); ``"gradient"`` -> (-gradient,
    random); or a pair, each ``"random"``, ``"gradient"`` or an array. The
    random matrices come from ``np.random.default_rng(seed)``; the same inputs
    give the same directions. Inputs are never modified.
    """
    W, X, y = _check_inputs(name, W, X, y)
    reg, delta, reg_mode, reg_bias = _check_options(reg, delta, reg_mode, reg_bias)
    D1, D2, _ = _directions(
        name, W, X, y, reg, _resolve_kinds(kind), seed, normalization, unit_scale, delta, reg_mode, reg_bias
    )
    return D1, D2


# --------------------------------------------------------------------------
# evaluation on the plane


# Loss-only twins of the registered ``scores_fn``: the same L_i without dL_i/dS
# (the grid needs no gradient), on transposed scores ST (C, M) with the
# true-class scores s_y (M,) given, so that every reduction over the classes is
# an elementwise operation between contiguous rows. That and skipping dL/dS
# roughly halve the cost of a slice. They are keyed by the registered function
# itself: a loss whose scores_fn is replaced, or a new loss, falls back to its
# scores_fn (the tests compare the twins with the registry on random scores).


def _softmax_only(ST, s_y, mask, delta):
    m = ST.max(axis=0)
    E = ST - m
    np.exp(E, out=E)
    return np.log(E.sum(axis=0)) - (s_y - m)


def _hinge_only(ST, s_y, mask, delta):
    M = ST - s_y
    M += delta
    np.maximum(M, 0.0, out=M)
    return M.sum(axis=0) - max(delta, 0.0)  # the j = y term is max(0, delta)


def _ova_hinge_only(ST, s_y, mask, delta):
    M = ST + delta
    np.maximum(M, 0.0, out=M)
    # replace the j = y term max(0, delta + s_y) by max(0, delta - s_y)
    return M.sum(axis=0) - np.maximum(delta + s_y, 0.0) + np.maximum(delta - s_y, 0.0)


def _structured_hinge_only(ST, s_y, mask, delta):
    other = np.where(mask, -np.inf, ST)
    return np.maximum(other.max(axis=0) - s_y + delta, 0.0)


_LOSS_ONLY = {
    losses.softmax_scores: _softmax_only,
    losses.hinge_scores: _hinge_only,
    losses.ova_hinge_scores: _ova_hinge_only,
    losses.structured_hinge_scores: _structured_hinge_only,
}


def _data_losses(name, S0, S1, S2, y, a, b, delta) -> np.ndarray:
    """Mean data loss at the points S0 + a[k]*S1 + b[k]*S2, k = 0..K-1 (S2 may be None)."""
    scores_fn = LOSSES[name].scores_fn
    fast = _LOSS_ONLY.get(scores_fn)
    N, C = S0.shape
    rows = np.arange(N)
    planes = [S for S in (S0, S1, S2) if S is not None]
    T = [np.ascontiguousarray(S.T)[:, None, :] for S in planes]  # (C, 1, N)
    Y = [S[rows, y] for S in planes]  # (N,) true-class scores
    K = a.shape[0]
    out = np.empty(K)
    batch = max(1, _BATCH_ELEMENTS // (N * C))
    y_tiled = np.tile(y, min(batch, K))
    mask = np.arange(C)[:, None] == y_tiled[None, :]  # (C, batch*N) one-hot of y
    for start in range(0, K, batch):
        k = min(batch, K - start)
        ak = a[start : start + k]
        # the same operations in the same order for ST and s_y, so s_y is
        # bitwise the y-row of ST
        ST = T[0] + ak[None, :, None] * T[1]
        s_y = Y[0] + ak[:, None] * Y[1]
        if S2 is not None:
            bk = b[start : start + k]
            ST += bk[None, :, None] * T[2]
            s_y += bk[:, None] * Y[2]
        ST = ST.reshape(C, k * N)
        if fast is not None:
            Li = fast(ST, s_y.reshape(k * N), mask[:, : k * N], delta)
        else:
            Li, _ = scores_fn(ST.T, y_tiled[: k * N], delta)
        out[start : start + k] = Li.reshape(k, N).sum(axis=1) / N
    return out


def _penalty(W, D1, D2, a, b, reg, reg_mode, reg_bias) -> np.ndarray:
    """R(W + a*D1 + b*D2) in closed form from the Gram matrix of W, D1, D2."""
    if reg == 0.0:
        return np.zeros_like(a)
    f = 0.5 * reg if reg_mode == "half" else reg
    r = slice(None) if reg_bias else slice(1, None)
    Wr, P, Q = W[r], D1[r], (D2[r] if D2 is not None else np.zeros_like(W[r]))
    ww, w1, w2 = np.vdot(Wr, Wr), np.vdot(Wr, P), np.vdot(Wr, Q)
    p11, p12, p22 = np.vdot(P, P), np.vdot(P, Q), np.vdot(Q, Q)
    return f * (ww + 2.0 * a * w1 + 2.0 * b * w2 + a * a * p11 + 2.0 * a * b * p12 + b * b * p22)


def slice_1d(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    *,
    direction="gradient",
    span: float = 1.0,
    steps: int = 81,
    seed: int = 0,
    normalization: str = "filter",
    unit_scale: float = UNIT_SCALE,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
) -> pd.DataFrame:
    """L(W + alpha*D) for ``steps`` values of alpha evenly spaced in [-span, span].

    ``direction``: ``"gradient"`` (-dL/dW, so the loss first decreases for
    small alpha > 0), ``"random"`` (filter-normalized, seeded) or an array of
    W's shape used as given. Returns a DataFrame with columns ``alpha, loss,
    data_loss, reg_loss`` (``loss = data_loss + reg_loss``); for odd ``steps``
    the middle row has alpha exactly 0 and the loss at W. ``attrs`` holds
    plain values only (so ``pd.concat`` of slices works): ``direction``
    ("gradient", "random" or "array"), ``direction_norm`` (its Frobenius
    norm) and ``fallback`` (a list of notes, empty unless a fallback of the
    module docstring applied). The direction array itself is
    ``directions(name, W, X, y, reg, kind=(direction, "random"), seed=seed,
    ...same options)[0]``.
    """
    W, X, y = _check_inputs(name, W, X, y)
    reg, delta, reg_mode, reg_bias = _check_options(reg, delta, reg_mode, reg_bias)
    span, steps = _check_grid(span, steps, MAX_STEPS_1D)
    if isinstance(direction, str) and direction not in DIRECTION_KINDS:
        raise ValueError(f"direction must be one of {DIRECTION_KINDS} or an array, not {direction!r}")
    kinds = (direction, None)
    D, _, notes = _directions(
        name, W, X, y, reg, kinds, seed, normalization, unit_scale, delta, reg_mode, reg_bias
    )
    S0 = scores(W, X)
    S1 = scores(D, X)
    alpha = _grid(span, steps)
    zeros = np.zeros_like(alpha)
    data = _data_losses(name, S0, S1, None, y, alpha, zeros, delta)
    pen = _penalty(W, D, None, alpha, zeros, reg, reg_mode, reg_bias)
    df = pd.DataFrame({"alpha": alpha, "loss": data + pen, "data_loss": data, "reg_loss": pen})
    df.attrs["direction"] = direction if isinstance(direction, str) else "array"
    df.attrs["direction_norm"] = float(np.linalg.norm(D))
    df.attrs["fallback"] = notes
    return df


def slice_2d(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    *,
    directions=("random", "random"),
    span: float = 1.0,
    steps: int = 41,
    seed: int = 0,
    normalization: str = "filter",
    unit_scale: float = UNIT_SCALE,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Total loss on a ``steps`` x ``steps`` grid of the plane W + a*D1 + b*D2.

    ``directions``: a pair (or a single kind, see :func:`directions`), e.g.
    ``("random", "random")`` or ``("gradient", "random")``. ``alphas`` and
    ``betas`` both run over [-span, span]. Returns ``(alphas, betas, L)`` with
    ``L[j, i] = L(W + alphas[i]*D1 + betas[j]*D2)``: rows follow betas and
    columns alphas, the layout of ``np.meshgrid(alphas, betas)`` and of a
    plotly contour's ``z`` with ``x=alphas, y=betas``.
    """
    W, X, y = _check_inputs(name, W, X, y)
    reg, delta, reg_mode, reg_bias = _check_options(reg, delta, reg_mode, reg_bias)
    span, steps = _check_grid(span, steps, MAX_STEPS_2D)
    D1, D2, _ = _directions(
        name,
        W,
        X,
        y,
        reg,
        _resolve_kinds(directions),
        seed,
        normalization,
        unit_scale,
        delta,
        reg_mode,
        reg_bias,
    )
    S0 = scores(W, X)
    S1 = scores(D1, X)
    S2 = scores(D2, X)
    alphas = _grid(span, steps)
    betas = alphas.copy()
    A, B = np.meshgrid(alphas, betas)  # A[j, i] = alphas[i], B[j, i] = betas[j]
    a, b = A.ravel(), B.ravel()
    data = _data_losses(name, S0, S1, S2, y, a, b, delta)
    pen = _penalty(W, D1, D2, a, b, reg, reg_mode, reg_bias)
    return alphas, betas, (data + pen).reshape(steps, steps)
