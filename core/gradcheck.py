"""Gradient checking for the linear-classifier losses of :mod:`core.losses`.

Two ways to get a finite-difference ("numeric") gradient:

* :func:`numeric_gradient` -- generic and black-box: any scalar ``f(W)``; one
  (forward) or two (central) evaluations of ``f`` per checked entry, exactly
  what the course notebook does. ``W[i, j]`` is saved and written back after
  every entry (never ``W[i, j] -= h``), on a private float64 copy of ``W``.
* :func:`fast_numeric_gradient` -- the same finite-difference quotients for the
  losses of the registry, all entries at once. Perturbing ``W[i, j]`` by ``h``
  only shifts score column ``j`` by ``t = h * x_i`` (``x_0 = 1``, the bias), so
  the per-sample change of the loss is a known function of ``t``; the
  *difference* ``L(W + h E_ij) - L(W)`` is computed directly instead of
  subtracting two large sums:

  - softmax: per sample, ``log1p(p_j * expm1(t)) - t [y = j]``, written for the
    true class as ``log1p(q_y * expm1(-t))`` with ``q_y = sum_{k != y} p_k``
    (no cancellation when ``p_y -> 1``). That function of ``t`` is the
    cumulant-generating function of a Bernoulli(``p_j``) variable, whose Taylor
    coefficients are the Bernoulli cumulants; it is analytic in ``|t| < pi``
    and bounded by 2 on ``|t| = 2`` (checked in the tests), so for small
    ``|t|`` the series, truncated where its Cauchy tail bound drops below
    2^-60 of the first-order term, *is* the exact difference to rounding, and
    each order is one matrix product over all entries. Samples with larger
    ``|t|`` (large h or features; the series is used up to 0.2, the split
    chosen by a cost estimate) get the log1p/expm1 formula element by
    element, as ``u + log1p(q expm1(-u))`` where ``p e^u`` would overflow.
  - hinge family: the loss is piecewise linear in ``t``; each sample is linear
    (one matrix product for all entries) unless a kink lies within ``|t|`` of
    zero, and only those samples are corrected element by element with the
    exact ``max(0, .)`` differences (Weston-Watkins: ``max(0, m_j + t) -
    max(0, m_j)``, or for the true class every margin moving by ``-t``;
    one-vs-all: one margin ``delta -/+ s_j``; Crammer-Singer: the max over
    ``k != y`` of the shifted scores, so an argmax switch is handled too).
  - the regularization difference is exact in closed form.

  The per-sample formulas are derived here from the loss *values*; nothing in
  this module calls the analytic gradient code it is checking.

:func:`check_gradient` compares the analytic gradient with either numeric one
and returns a :class:`CheckResult` (a per-entry table for the UI, summary
figures, a verdict). :func:`step_sweep` shows error against ``h`` (truncation
against round-off, the V shape). :data:`BUGS` / :func:`buggy_loss_and_grad`
inject classic gradient mistakes for teaching.

Verdict bands (``e`` = ``||a - n|| / ||a + n||`` over the checked entries, the
notebook's figure). A mismatch is "explained" when every entry's ``|a - n|``
is within the finite-difference error of the chosen h, ``|n - n_ref|`` with
``n_ref`` the fast path's central quotient at ``REFERENCE_H`` = 1e-9 (free of
truncation and round-off), plus what the hinge kinks crossed by the step can
move a quotient (``kink_bound``), up to 1e-7 of ``||a + n||``:

* ``correct``    -- ``e <= 1e-7``.
* ``acceptable`` -- ``1e-7 < e <= 1e-4`` and explained (kinks, truncation of
  forward / central differences, or the black box's round-off).
* ``suspicious`` -- ``1e-7 < e <= 1e-2`` and not explained, or ``e > 1e-4``
  although explained (the step is too large to trust: use a smaller h).
* ``wrong``      -- ``e > 1e-2`` and not explained, or any non-finite value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.losses import LOSSES, REG_MODES, backprop_scores, loss_parts, regularization, scores

__all__ = [
    "ACCEPTABLE_TOL",
    "BUGS",
    "CORRECT_TOL",
    "METHODS",
    "PARTS",
    "REFERENCE_H",
    "VERDICTS",
    "WRONG_TOL",
    "Bug",
    "CheckResult",
    "buggy_loss_and_grad",
    "check_gradient",
    "fast_numeric_gradient",
    "kink_counts",
    "loss_function",
    "numeric_gradient",
    "select_entries",
    "step_sweep",
]

METHODS = ("central", "forward")
PARTS = ("total", "data", "reg")

CORRECT_TOL = 1e-7
ACCEPTABLE_TOL = 1e-4
WRONG_TOL = 1e-2

#: verdict -> band (see the module docstring for the exact rule).
VERDICTS: dict[str, str] = {
    "correct": "relative error <= 1e-7",
    "acceptable": "1e-7 < relative error <= 1e-4, all of it explained by kinks crossed by the step "
    "or by the step's truncation / round-off",
    "suspicious": "1e-7 < relative error <= 1e-2 without such an explanation, or above 1e-4 even with one",
    "wrong": "relative error > 1e-2 not explained by kinks or the step, or non-finite values",
}

#: step of the reference derivative (fast path, central) that the verdict
#: measures the finite-difference error of the chosen h against.
REFERENCE_H = 1e-9

#: floor of the denominator of the entrywise relative error (so 0 vs 0 is 0).
TINY = np.finfo(np.float64).tiny

# Softmax series: |log(q + p e^z)| <= _CGF_BOUND on |z| = _CGF_RADIUS for all p
# in [0, 1] (the tests scan it: the max is 2.0), so the m-th Taylor
# coefficient is at most _CGF_BOUND / _CGF_RADIUS**m.
_CGF_RADIUS = 2.0
_CGF_BOUND = 3.0
_SERIES_TOL = 2.0**-60
_SERIES_MAX_TERMS = 20
_SERIES_R_LIMIT = 0.2  # |t| above this: element-wise log1p/expm1 instead
_CHUNK_ELEMENTS = 1 << 21  # rows x features per temporary (16 MB of float64)


# --------------------------------------------------------------------------
# validation helpers


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")


def _check_h(h: float) -> float:
    h = float(h)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"the step h must be a positive finite number, not {h!r}")
    return h


def _check_name(name: str) -> None:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def _prepare_inputs(W, X, y):
    """float64 views/copies of the inputs (never written to) and validated labels."""
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(f"expected W (D+1, C), X (N, D), y (N,); got {W.shape}, {X.shape}, {y.shape}")
    if W.shape[0] != X.shape[1] + 1:
        raise ValueError(f"W has {W.shape[0]} rows; X has {X.shape[1]} features, so W needs D+1 rows")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X has {X.shape[0]} samples and y has {y.shape[0]} labels (need the same, > 0)")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, not {y.dtype}")
    if y.min() < 0 or y.max() >= W.shape[1]:
        raise ValueError(f"labels must lie in 0..{W.shape[1] - 1}")
    return W, X, y.astype(np.intp, copy=False)


def _loss_options(loss_options: dict) -> tuple[float, str, bool]:
    unknown = set(loss_options) - {"delta", "reg_mode", "reg_bias"}
    if unknown:
        raise TypeError(f"unknown loss option(s): {', '.join(sorted(unknown))}")
    delta = float(loss_options.get("delta", 1.0))
    reg_mode = loss_options.get("reg_mode", "half")
    if reg_mode not in REG_MODES:
        raise ValueError(f"reg_mode must be one of {REG_MODES}, not {reg_mode!r}")
    return delta, reg_mode, bool(loss_options.get("reg_bias", True))


# --------------------------------------------------------------------------
# entries


def select_entries(shape: tuple[int, int], entries="all", seed: int = 0) -> np.ndarray:
    """The (K, 2) array of ``(row, col)`` entries of a ``shape`` matrix to check.

    ``"all"`` (or None): every entry, row-major. An int ``k``: ``k`` distinct
    entries drawn with ``np.random.default_rng(seed)`` (all of them if ``k`` is
    at least the size), sorted row-major -- CS231n's ``grad_check_sparse``
    without repeats. A (K, 2) integer array is validated and returned as is.
    """
    rows, cols = (int(s) for s in shape)
    size = rows * cols
    if entries is None or (isinstance(entries, str) and entries == "all"):
        flat = np.arange(size)
    elif isinstance(entries, str):
        raise ValueError(f"entries must be 'all', a count or a (K, 2) array, not {entries!r}")
    elif np.ndim(entries) == 0:
        k = int(entries)
        if k <= 0:
            raise ValueError(f"the number of entries must be positive, not {k}")
        if k >= size:
            flat = np.arange(size)
        else:
            flat = np.sort(np.random.default_rng(seed).choice(size, size=k, replace=False))
    else:
        e = np.asarray(entries)
        if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
            raise ValueError(f"entries must be a (K, 2) integer array, got shape {e.shape} {e.dtype}")
        if e.size and (
            e[:, 0].min() < 0 or e[:, 0].max() >= rows or e[:, 1].min() < 0 or e[:, 1].max() >= cols
        ):
            raise ValueError(f"entries out of range for shape {shape}")
        return e.astype(np.intp)
    return np.stack(np.divmod(flat, cols), axis=1).astype(np.intp)


def _entries_or_all(shape, entries) -> np.ndarray:
    return select_entries(shape, "all" if entries is None else entries)


# --------------------------------------------------------------------------
# black-box numeric gradient


def numeric_gradient(
    f: Callable[[np.ndarray], float],
    W: np.ndarray,
    h: float = 1e-5,
    method: str = "central",
    entries=None,
) -> np.ndarray:
    """Finite-difference gradient of any scalar ``f(W)``, entry by entry.

    ``central``: ``(f(W + h E_ij) - f(W - h E_ij)) / 2h``; ``forward``:
    ``(f(W + h E_ij) - f(W)) / h`` (the notebook's). ``f`` may also return a
    tuple whose first item is the value (like the notebook's loss functions).
    ``entries``: None for all, else a (K, 2) array (see :func:`select_entries`).
    Works on a private float64 copy of ``W``; after each entry the saved value
    is written back exactly. Returns an array of ``W``'s shape, NaN where not
    computed.
    """
    _check_method(method)
    h = _check_h(h)
    Wc = np.array(W, dtype=np.float64, copy=True)
    ents = _entries_or_all(Wc.shape, entries)

    def value(M):
        v = f(M)
        return float(v[0] if isinstance(v, tuple) else v)

    grad = np.full(Wc.shape, np.nan)
    f0 = value(Wc) if method == "forward" else None
    for i, j in ents:
        old = Wc[i, j]
        try:
            Wc[i, j] = old + h
            fp = value(Wc)
            if method == "central":
                Wc[i, j] = old - h
                grad[i, j] = (fp - value(Wc)) / (2.0 * h)
            else:
                grad[i, j] = (fp - f0) / h
        finally:
            Wc[i, j] = old
    return grad


def loss_function(name: str, X, y, reg: float = 0.0, part: str = "total", **loss_options) -> Callable:
    """``f(W) -> float``: the value of the loss (or of its ``part``) for the black box.

    Only the loss value is computed (scores, per-sample losses, penalty), not dW.
    """
    _check_name(name)
    _check_part(part)
    delta, reg_mode, reg_bias = _loss_options(loss_options)
    spec = LOSSES[name]
    Xf = np.asarray(X, dtype=np.float64)
    yy = np.asarray(y)

    def f(W):
        if part == "reg":
            return regularization(W, reg, reg_mode, reg_bias)[0]
        Li, _ = spec.scores_fn(scores(W, Xf), yy, delta)
        data = float(Li.sum()) / Xf.shape[0]
        if part == "data":
            return data
        return data + regularization(W, reg, reg_mode, reg_bias)[0]

    return f


# --------------------------------------------------------------------------
# fast exact finite differences


def _cumulant_polys(n_max: int) -> list[np.ndarray]:
    """u_m (ascending coefficients) with kappa_m(p) = p (1 - p) u_m(p), m = 2..n_max.

    Bernoulli cumulants: kappa_1 = p, kappa_{m+1} = p (1 - p) d kappa_m / dp.
    """
    P = np.polynomial.polynomial
    polys = {2: np.array([1.0])}
    for m in range(2, n_max):
        u = polys[m]
        polys[m + 1] = P.polyadd(P.polymul([1.0, -2.0], u), P.polymul([0.0, 1.0, -1.0], P.polyder(u)))
    return [polys[m] for m in range(2, n_max + 1)]


_U_POLYS = _cumulant_polys(_SERIES_MAX_TERMS)


def _series_terms(r: float) -> int:
    """Terms needed so the softmax series' tail is below 2^-60 of ``r`` (per sample)."""
    if r <= 0.0:
        return 1
    x = r / _CGF_RADIUS
    target = _SERIES_TOL * r * (1.0 - x) / _CGF_BOUND
    return max(1, math.ceil(math.log(target) / math.log(x)) - 1)


def _series_cutoff(r: np.ndarray, n_cols: int, n_dirs: int) -> float:
    """Largest |t| per sample handled by the softmax series; the others go element-wise.

    The series costs about M(cutoff) passes over all N x F entries (a power and
    a matrix product each), the element-wise formula one log1p per sample,
    column, feature and direction. Picks the cheaper split, never above
    ``_SERIES_R_LIMIT``.
    """
    limit = _SERIES_R_LIMIT
    if r.size == 0 or r.max() <= 1e-3:
        return limit
    candidates = np.unique(np.concatenate([np.quantile(r, np.linspace(0, 1, 33)), [limit]]))
    candidates = candidates[candidates <= limit]
    best, best_cost = -1.0, r.size * n_cols * n_dirs * 5.0  # everything element-wise
    for c in candidates:
        n_direct = int((r > c).sum())
        cost = _series_terms(float(c)) * r.size + n_direct * n_cols * n_dirs * 5.0
        if cost < best_cost:
            best, best_cost = float(c), cost
    return best


class _Acc:
    """Accumulates per-entry loss differences D(+h) and D(-h) of a block.

    Series terms t^m go to odd/even parts; element-wise corrections are added
    per direction. ``need``: "central" (odd part), "forward" (D+), "both".
    """

    def __init__(self, shape, need):
        self.need = need
        self.odd = np.zeros(shape)
        self.even = np.zeros(shape)
        self.plus = np.zeros(shape)
        self.minus = np.zeros(shape)

    @property
    def directions(self):
        return (1.0,) if self.need == "forward" else (1.0, -1.0)

    def wants_even(self) -> bool:
        return self.need != "central"

    def add_order(self, m, contrib):
        if m % 2:
            self.odd += contrib
        else:
            self.even += contrib

    def add_direction(self, sigma, contrib):
        if sigma > 0:
            self.plus += contrib
        else:
            self.minus += contrib

    def result(self):
        odd = self.odd + 0.5 * (self.plus - self.minus)
        d_plus = self.odd + self.even + self.plus
        d_minus = self.even - self.odd + self.minus
        return odd, d_plus, d_minus


def _at_b(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A.T @ B`` for skinny A (N, J) and wide B (N, F), computed as ``(B.T @ A).T``.

    Single-threaded the two orders run about alike here; with two BLAS threads
    on a busy machine, OpenBLAS's ``A.T @ B`` was measured 4-6x slower (its
    threads stall each other), ``B.T @ A`` was not.
    """
    return (B.T @ A).T


def _row_chunks(n_rows: int, n_cols: int):
    step = max(1, _CHUNK_ELEMENTS // max(1, n_cols))
    for lo in range(0, n_rows, step):
        yield lo, min(n_rows, lo + step)


class _Model:
    """Everything about the per-sample loss at W that finite differences need."""

    def __init__(self, name: str, W: np.ndarray, X: np.ndarray, y: np.ndarray, delta: float):
        self.name = name
        self.X = X
        self.y = y
        self.N, self.C = X.shape[0], W.shape[1]
        self.rows = np.arange(self.N)
        self.Y = np.zeros((self.N, self.C), dtype=bool)
        self.Y[self.rows, y] = True
        self._rowmax = None
        S = X @ W[1:]
        S += W[0]
        with np.errstate(divide="ignore", under="ignore", over="ignore", invalid="ignore"):
            getattr(self, "_init_" + name.replace("-", "_"))(S, float(delta))

    @property
    def rowmax(self) -> np.ndarray:
        """max_i |Xb[n, i]| over all features and the bias (1)."""
        if self._rowmax is None:
            r = np.maximum(self.X.max(axis=1), -self.X.min(axis=1)) if self.X.shape[1] else np.zeros(self.N)
            self._rowmax = np.maximum(r, 1.0)
        return self._rowmax

    # ---- per-loss state -------------------------------------------------

    def _init_softmax(self, S, delta):
        self.smooth = True
        Z = S - S.max(axis=1, keepdims=True)
        E = np.exp(Z)
        sumE = E.sum(axis=1, keepdims=True)
        self.LP = Z - np.log(sumE)
        self.P = E / sumE
        # q_j = sum_{k != j} p_k from prefix and suffix sums (no 1 - p cancellation)
        left = np.zeros_like(self.P)
        right = np.zeros_like(self.P)
        np.cumsum(self.P[:, :-1], axis=1, out=left[:, 1:])
        right[:, :-1] = np.cumsum(self.P[:, :0:-1], axis=1)[:, ::-1]
        self.Q = left + right
        self.LQ = np.log(self.Q)
        self.lin = np.where(self.Y, -self.Q, self.P)  # dL_n / ds_nj

    def _init_hinge(self, S, delta):
        self.smooth = False
        M = S - S[self.rows, self.y][:, None]
        M += delta
        self.M = M
        active = (M > 0) & ~self.Y
        absM = np.where(self.Y, np.inf, np.abs(M))
        self.lin = active.astype(np.float64)
        self.lin[self.rows, self.y] = -active.sum(axis=1)
        self.rho = absM.copy()
        self.rho[self.rows, self.y] = absM.min(axis=1) if self.C > 1 else np.inf
        self.absM = absM

    def _init_ova_hinge(self, S, delta):
        self.smooth = False
        self.T = np.where(self.Y, 1.0, -1.0)
        self.A = delta - self.T * S
        self.lin = np.where(self.A > 0, -self.T, 0.0)
        self.rho = np.abs(self.A)

    def _init_structured_hinge(self, S, delta):
        self.smooth = False
        other = np.where(self.Y, -np.inf, S)
        s_y = S[self.rows, self.y]
        j1 = other.argmax(axis=1)
        v1 = other[self.rows, j1]
        other2 = other.copy()
        other2[self.rows, j1] = -np.inf
        v2 = other2.max(axis=1) if self.C > 2 else np.full(self.N, -np.inf)
        self.mstar = v1 - s_y + delta
        # per column j != y: b = its margin, c = the best margin among k != y, j
        self.B = S - s_y[:, None] + delta
        best_other = np.where(np.arange(self.C)[None, :] == j1[:, None], v2[:, None], v1[:, None])
        self.Cm = best_other - s_y[:, None] + delta
        self.lin = ((self.B > self.Cm) & (self.B > 0)).astype(np.float64)
        self.lin[self.rows, self.y] = -(self.mstar > 0).astype(np.float64)
        self.rho = np.where(self.Cm >= 0, np.abs(self.B - self.Cm), np.abs(self.B))
        self.rho[self.rows, self.y] = np.abs(self.mstar)

    # ---- block differences ---------------------------------------------

    def block(self, js, Xf, rmax, h, need):
        """Summed (over samples) loss differences for columns ``js`` x features ``Xf``.

        ``Xf`` (N, F) holds the perturbed features (a column of ones for the
        bias), ``rmax`` (N,) bounds ``|Xf|`` per row. Returns (odd, D+, D-),
        each (len(js), F); see :class:`_Acc` for which are valid.
        """
        acc = _Acc((len(js), Xf.shape[1]), need)
        with np.errstate(divide="ignore", under="ignore", over="ignore"):
            if self.smooth:
                self._softmax_block(acc, js, Xf, rmax, h)
            else:
                acc.add_order(1, h * _at_b(self.lin[:, js], Xf))
                self._hinge_corrections(acc, js, Xf, rmax, h)
        return acc.result()

    def _softmax_block(self, acc, js, Xf, rmax, h):
        r = h * rmax
        direct = r > _series_cutoff(r, len(js), len(acc.directions))
        series = ~direct
        if series.any():
            M = _series_terms(float(r[series].max()))
            P = self.P[:, js]
            pq = P * self.Q[:, js]
            coefs = [self.lin[:, js]]
            for m in range(2, M + 1):
                coefs.append(pq * np.polynomial.polynomial.polyval(P, _U_POLYS[m - 2]) / math.factorial(m))
            if direct.any():
                coefs = [c * series[:, None] for c in coefs]
            acc.add_order(1, h * _at_b(coefs[0], Xf))
            if M > 1:
                for lo, hi in _row_chunks(self.N, Xf.shape[1]):
                    T = h * Xf[lo:hi]
                    if direct.any():
                        T[direct[lo:hi]] = 0.0
                    Tm = T * T
                    for m in range(2, M + 1):
                        if m % 2 or acc.wants_even():
                            acc.add_order(m, _at_b(coefs[m - 1][lo:hi], Tm))
                        if m < M:
                            Tm *= T
        if direct.any():
            self._softmax_direct(acc, js, Xf, np.flatnonzero(direct), h)

    def _softmax_direct(self, acc, js, Xf, idx, h):
        """Exact per-element differences log(q + p e^u) for samples with large |t|."""
        for lo, hi in _row_chunks(len(idx), Xf.shape[1]):
            rows = idx[lo:hi]
            T = h * Xf[rows]
            Ep = np.expm1(T)
            Em = np.expm1(-T)
            r = np.abs(T).max(axis=1)
            for jj, j in enumerate(js):
                # true class: log(p + q e^-t) = log1p(q expm1(-t)), with q = sum_{k != y} p_k
                flip = self.y[rows] == j
                a = np.where(flip, self.Q[rows, j], self.P[rows, j])
                b = np.where(flip, self.P[rows, j], self.Q[rows, j])
                la = np.where(flip, self.LQ[rows, j], self.LP[rows, j])
                big = r + la > 500.0  # a e^u could overflow there: use u + log1p(b expm1(-u))
                for sigma in acc.directions:
                    up, dn = (Ep, Em) if sigma > 0 else (Em, Ep)
                    V = up.copy()
                    if flip.any():
                        V[flip] = dn[flip]
                    V *= a[:, None]
                    np.log1p(V, out=V)
                    if big.any():
                        u = sigma * np.where(flip[big], -1.0, 1.0)[:, None] * T[big]
                        V[big] = np.where(
                            u + la[big, None] > 0,
                            u + np.log1p(b[big, None] * np.expm1(-u)),
                            np.log1p(a[big, None] * np.expm1(u)),
                        )
                    acc.add_direction(sigma, _onehot_row(len(js), jj, V.sum(axis=0)))

    def _candidates(self, j, r):
        return np.flatnonzero(r >= self.rho[:, j])

    def _hinge_corrections(self, acc, js, Xf, rmax, h):
        """Exact minus linear, for samples that have a kink within |t| of zero."""
        r = h * rmax
        for jj, j in enumerate(js):
            cand = self._candidates(j, r)
            if cand.size == 0:
                continue
            for rows, m, s, c, g in self._terms(j, cand, r):
                T = h * Xf[rows]
                base = np.maximum(m if c is None else np.maximum(m, c), 0.0)
                for sigma in acc.directions:
                    tau = sigma * T
                    arg = m[:, None] + s[:, None] * tau
                    if c is not None:
                        np.maximum(arg, c[:, None], out=arg)
                    np.maximum(arg, 0.0, out=arg)
                    arg -= base[:, None]
                    arg -= g[:, None] * tau
                    acc.add_direction(sigma, _onehot_row(len(js), jj, arg.sum(axis=0)))

    def _terms(self, j, cand, r):
        """(rows, margin m, sign s, other c or None, linear slope g) of each max(0, .) term.

        A term of sample n is ``max(0, max(m + s t, c))`` as a function of the
        shift ``t`` of score column j; ``g`` is its slope at ``t = 0`` as used
        in ``self.lin`` (the slopes of a sample's terms add up to it).
        """
        yc = self.y[cand]
        is_y = yc == j
        out = []
        if self.name == "hinge":
            rows = cand[~is_y]
            if rows.size:
                m = self.M[rows, j]
                out.append((rows, m, np.ones(rows.size), None, (m > 0).astype(np.float64)))
            rows_y = cand[is_y]
            for k in range(self.C):
                if k == j or rows_y.size == 0:
                    continue
                rows = rows_y[self.absM[rows_y, k] <= r[rows_y]]
                if rows.size:
                    m = self.M[rows, k]
                    out.append((rows, m, -np.ones(rows.size), None, -(m > 0).astype(np.float64)))
        elif self.name == "ova-hinge":
            m = self.A[cand, j]
            s = -self.T[cand, j]
            out.append((cand, m, s, None, s * (m > 0)))
        else:  # structured-hinge
            rows = cand[~is_y]
            if rows.size:
                b, c = self.B[rows, j], self.Cm[rows, j]
                out.append((rows, b, np.ones(rows.size), c, ((b > c) & (b > 0)).astype(np.float64)))
            rows = cand[is_y]
            if rows.size:
                m = self.mstar[rows]
                out.append((rows, m, -np.ones(rows.size), None, -(m > 0).astype(np.float64)))
        return out

    # ---- kinks -------------------------------------------------------------

    def kinks(self, js, Xf, rmax, h):
        """Per entry: samples whose per-sample loss has a kink strictly inside
        ``|t| < h |x_ni|``, and a bound on how far that can move the quotient
        from the (sub)gradient: ``sum_n |x_ni| * (slope jumps crossed)``."""
        J, F = len(js), Xf.shape[1]
        counts = np.zeros((J, F), dtype=np.int64)
        bound = np.zeros((J, F))
        if self.smooth:
            return counts, bound
        r = h * rmax
        for jj, j in enumerate(js):
            rows = np.flatnonzero(r > self.rho[:, j])
            if rows.size == 0:
                continue
            ax = h * np.abs(Xf[rows])
            cross = ax > self.rho[rows, j][:, None]
            counts[jj] = cross.sum(axis=0)
            if self.name == "hinge":
                jumps = cross.astype(np.float64)
                is_y = self.y[rows] == j
                if is_y.any():  # true-class column: one jump per margin crossed
                    jumps[is_y] = 0.0
                    for k in range(self.C):
                        if k != j:
                            jumps[is_y] += ax[is_y] > self.absM[rows[is_y], k][:, None]
            else:
                jumps = cross
            bound[jj] = (jumps * (ax / h)).sum(axis=0)
        return counts, bound


def _onehot_row(n_rows: int, row: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros((n_rows, values.shape[0]))
    out[row] = values
    return out


def _blocks(X: np.ndarray, ents: np.ndarray, C: int, rowmax_all: Callable[[], np.ndarray]):
    """Yield (js, Xf, rmax, positions) blocks covering the requested entries.

    ``positions`` (len(js), F) maps each block cell to its row in ``ents``
    (-1 if not requested). All entries: the bias block and the X block, no copy.
    """
    N, D = X.shape
    K = ents.shape[0]
    pos = np.full((D + 1, C), -1, dtype=np.intp)
    pos[ents[:, 0], ents[:, 1]] = np.arange(K)
    js_all = np.arange(C)
    ones = np.ones((N, 1))
    if K == (D + 1) * C and (pos >= 0).all():
        yield js_all, ones, np.ones(N), pos[:1].T
        if D:
            yield js_all, X, rowmax_all(), pos[1:].T
        return
    for j in np.unique(ents[:, 1]):
        feats = np.flatnonzero(pos[:, j] >= 0)
        Xf = np.empty((N, feats.size))
        bias = feats == 0
        Xf[:, bias] = 1.0
        Xf[:, ~bias] = X[:, feats[~bias] - 1]
        rmax = np.abs(Xf).max(axis=1)
        yield np.array([j]), Xf, rmax, pos[feats, j][None, :]


def _unique_entries(ents: np.ndarray, C: int):
    """Sorted distinct entries and the map back (skips the sort when already so)."""
    flat = ents[:, 0] * C + ents[:, 1]
    if flat.size < 2 or (np.diff(flat) > 0).all():
        return ents, np.arange(len(ents))
    u, inv = np.unique(flat, return_inverse=True)
    return np.stack(np.divmod(u, C), axis=1), inv.reshape(-1)


def _data_differences(model: _Model, ents: np.ndarray, h: float, need: str):
    """Per entry (K,): odd part, D(+h) and D(-h) of the *mean* data loss."""
    ents, inv = _unique_entries(ents, model.C)
    K = ents.shape[0]
    odd, dp, dm = np.zeros(K), np.zeros(K), np.zeros(K)
    for js, Xf, rmax, pos in _blocks(model.X, ents, model.C, lambda: model.rowmax):
        o, p, m = model.block(js, Xf, rmax, h, need)
        sel = pos >= 0
        odd[pos[sel]] = o[sel]
        dp[pos[sel]] = p[sel]
        dm[pos[sel]] = m[sel]
    return odd[inv] / model.N, dp[inv] / model.N, dm[inv] / model.N


def _kink_info(model: _Model, ents: np.ndarray, h: float):
    ents, inv = _unique_entries(ents, model.C)
    K = ents.shape[0]
    counts, bound = np.zeros(K, dtype=np.int64), np.zeros(K)
    if model.smooth:
        return counts[inv], bound[inv]
    for js, Xf, rmax, pos in _blocks(model.X, ents, model.C, lambda: model.rowmax):
        c, b = model.kinks(js, Xf, rmax, h)
        sel = pos >= 0
        counts[pos[sel]] = c[sel]
        bound[pos[sel]] = b[sel]
    return counts[inv], bound[inv] / model.N


def _reg_factor(reg: float, reg_mode: str) -> float:
    return 0.5 * float(reg) if reg_mode == "half" else float(reg)


def _reg_differences(W, ents, reg, h, reg_mode, reg_bias):
    """Closed-form R(W + h E) - R(W) pieces per entry: (central quotient, forward quotient, D+, D-)."""
    f = _reg_factor(reg, reg_mode)
    w = W[ents[:, 0], ents[:, 1]]
    on = np.ones(len(ents)) if reg_bias else (ents[:, 0] != 0).astype(np.float64)
    f = f * on
    return 2.0 * f * w, f * (2.0 * w + h), f * h * (2.0 * w + h), f * h * (h - 2.0 * w)


def _fast_quotients(model, W, ents, reg, h, method, part, reg_mode, reg_bias):
    need = "central" if method == "central" else "forward"
    K = ents.shape[0]
    q = np.zeros(K)
    if part != "reg":
        odd, dp, _ = _data_differences(model, ents, h, need)
        q += odd / h if method == "central" else dp / h
    if part != "data":
        qc, qf, _, _ = _reg_differences(W, ents, reg, h, reg_mode, reg_bias)
        q += qc if method == "central" else qf
    return q


def fast_numeric_gradient(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    reg: float = 0.0,
    h: float = 1e-5,
    method: str = "central",
    entries=None,
    part: str = "total",
    **loss_options,
) -> np.ndarray:
    """The finite-difference gradient :func:`numeric_gradient` would give for
    the registry loss ``name``, computed for all requested entries together
    (see the module docstring). Same quotient, no round-off from subtracting two
    large loss values. Returns W's shape with NaN where not computed.
    """
    _check_name(name)
    _check_method(method)
    _check_part(part)
    h = _check_h(h)
    delta, reg_mode, reg_bias = _loss_options(loss_options)
    W, X, y = _prepare_inputs(W, X, y)
    ents = _entries_or_all(W.shape, entries)
    model = _Model(name, W, X, y, delta) if part != "reg" else None
    q = _fast_quotients(model, W, ents, reg, h, method, part, reg_mode, reg_bias)
    out = np.full(W.shape, np.nan)
    out[ents[:, 0], ents[:, 1]] = q
    return out


def kink_counts(name: str, W, X, y, h: float, entries, delta: float = 1.0) -> np.ndarray:
    """(K,) int: per entry, the samples whose loss has a kink between W - h E_ij
    and W + h E_ij (a margin crossing zero; for structured-hinge also an argmax
    switch where the hinge is active). All zeros for softmax."""
    _check_name(name)
    h = _check_h(h)
    W, X, y = _prepare_inputs(W, X, y)
    ents = _entries_or_all(W.shape, entries)
    if not LOSSES[name].is_hinge:
        return np.zeros(len(ents), dtype=np.int64)
    return _kink_info(_Model(name, W, X, y, delta), ents, h)[0]


# --------------------------------------------------------------------------
# injected bugs


@dataclass(frozen=True)
class Bug:
    """A classic mistake in an analytic gradient (the loss value stays right)."""

    name: str
    label: str
    description: str
    applies_to: tuple[str, ...]
    caught_when: str = "always (on any data with a nonzero gradient)"


_ALL = tuple(LOSSES)

BUGS: dict[str, Bug] = {
    b.name: b
    for b in (
        Bug(
            "missing-mean",
            "Missing 1/N",
            "The data gradient is summed over the samples but not divided by N.",
            _ALL,
            "whenever N > 1",
        ),
        Bug(
            "reg-doubled",
            "Regularization gradient x2",
            "The penalty's gradient is twice what the penalty's formula gives "
            "(2 reg W for 1/2 reg ||W||^2, or 4 reg W for reg ||W||^2).",
            _ALL,
            "only when reg > 0; clearly so when reg * |W| is not tiny next to the data gradient",
        ),
        Bug(
            "reg-forgotten",
            "Regularization gradient forgotten",
            "The penalty is in the loss but its gradient is left out of dW.",
            _ALL,
            "only when reg > 0; clearly so when reg * |W| is not tiny next to the data gradient",
        ),
        Bug(
            "sign-flip",
            "Sign flip",
            "The data gradient's sign is flipped: dL/dS negated (Y - P instead of P - Y for "
            "softmax, the margin indicators with the wrong sign for the hinges).",
            _ALL,
        ),
        Bug(
            "no-max-shift",
            "Scores not shifted by their max",
            "Softmax probabilities computed as exp(s) / sum exp(s) without subtracting "
            "each row's max first. Mathematically the same, numerically not: exp "
            "overflows above s = 709.78 (inf / inf = NaN) and underflows below about "
            "-745 (0 / 0 = NaN), and partial underflow gives wrong probabilities.",
            ("softmax",),
            "only with large scores: some sample's score above 709.78, or all of a sample's "
            "scores below about -745. On ordinary scores the check passes, correctly: the "
            "gradient is right there, the max shift protects the arithmetic, not the math",
        ),
        Bug(
            "wrong-class-column",
            "Wrong class column",
            "Each sample's true-class entry of dL/dS is swapped with the next class's "
            "(column (y + 1) mod C), as with an off-by-one in the labels.",
            _ALL,
            "whenever those two columns of dL/dS differ (any untrained W)",
        ),
    )
}


def _buggy_parts(bug: str, name: str, W, X, y, reg, delta, reg_mode, reg_bias):
    """(data_loss, data dW, R, reg dW) with the named bug in its part."""
    if bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; choose one of {', '.join(BUGS)}")
    if name not in BUGS[bug].applies_to:
        raise ValueError(f"bug {bug!r} does not apply to the {name!r} loss")
    spec = LOSSES[name]
    W, X, y = _prepare_inputs(W, X, y)
    N, C = X.shape[0], W.shape[1]
    rows = np.arange(N)
    S = scores(W, X)
    Li, G = spec.scores_fn(S, y, delta)
    data_loss = float(Li.sum()) / N
    if bug == "no-max-shift":
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            E = np.exp(S)
            G = E / E.sum(axis=1, keepdims=True)
        G[rows, y] -= 1.0
    elif bug == "sign-flip":
        G = -G
    elif bug == "wrong-class-column":
        y2 = (y + 1) % C
        G = G.copy()
        G[rows, y], G[rows, y2] = G[rows, y2], G[rows, y].copy()
    dW = backprop_scores(G, X)
    if bug != "missing-mean":
        dW /= N
    R, dR = regularization(W, reg, reg_mode, reg_bias)
    if bug == "reg-doubled":
        dR = 2.0 * dR
    elif bug == "reg-forgotten":
        dR = np.zeros_like(dR)
    return data_loss, dW, R, dR


def buggy_loss_and_grad(bug: str, name: str, W, X, y, reg: float = 0.0, **loss_options):
    """``(loss, dW)`` where the loss is right and dW has the mistake ``BUGS[bug]``."""
    _check_name(name)
    delta, reg_mode, reg_bias = _loss_options(loss_options)
    data_loss, dW, R, dR = _buggy_parts(bug, name, W, X, y, reg, delta, reg_mode, reg_bias)
    return data_loss + R, dW + dR


def _analytic(name, W, X, y, reg, part, bug, delta, reg_mode, reg_bias):
    """(value of the part, analytic gradient of the part)."""
    opts = dict(delta=delta, reg_mode=reg_mode, reg_bias=reg_bias)
    if bug is not None:
        data_loss, dW, R, dR = _buggy_parts(bug, name, W, X, y, reg, delta, reg_mode, reg_bias)
        return {"total": (data_loss + R, dW + dR), "data": (data_loss, dW), "reg": (R, dR)}[part]
    if part == "reg":
        return regularization(W, reg, reg_mode, reg_bias)
    if part == "data":
        p = loss_parts(name, W, X, y, 0.0, **opts)
        return p.data_loss, p.dW
    p = loss_parts(name, W, X, y, reg, **opts)
    return p.loss, p.dW


# --------------------------------------------------------------------------
# the check


@dataclass
class CheckResult:
    """Outcome of :func:`check_gradient`.

    ``table``: one row per checked entry with columns ``row, col, analytic,
    numeric, abs_diff, rel_error`` (``|a - n| / max(|a| + |n|, tiny)``),
    ``kink_samples`` (samples with a kink between W - h and W + h; 0 for
    softmax) and ``kink_bound`` (how far those kinks can move the quotient).
    """

    table: pd.DataFrame
    shape: tuple[int, int]
    global_rel_error: float
    median_rel_error: float
    max_rel_error: float
    verdict: str
    verdict_text: str
    n_checked: int
    n_kink_entries: int
    method: str
    h: float
    part: str
    seconds: float
    loss: float
    name: str = ""
    bug: str | None = None
    extra: dict = field(default_factory=dict)

    def matrix(self, column: str = "rel_error") -> np.ndarray:
        """``column`` as a (D+1, C) array, NaN where the entry was not checked."""
        out = np.full(self.shape, np.nan)
        out[self.table["row"].to_numpy(), self.table["col"].to_numpy()] = self.table[column].to_numpy(
            dtype=np.float64
        )
        return out

    def summary(self) -> dict:
        """JSON-able figures (plain Python types)."""
        return {
            "global_rel_error": float(self.global_rel_error),
            "max_rel_error": float(self.max_rel_error),
            "median_rel_error": float(self.median_rel_error),
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "n_kink_entries": int(self.n_kink_entries),
            "n_checked": int(self.n_checked),
            "seconds": float(self.seconds),
            "method": self.method,
            "h": float(self.h),
            "part": self.part,
            "loss": float(self.loss),
        }


def _global_rel(a: np.ndarray, n: np.ndarray) -> float:
    num = float(np.linalg.norm(a - n))
    den = float(np.linalg.norm(a + n))
    if num == 0.0:
        return 0.0
    return num / den if den > 0 else math.inf


def _errors(a: np.ndarray, n: np.ndarray):
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n)
        rel = diff / np.maximum(np.abs(a) + np.abs(n), TINY)
        g = _global_rel(a, n) if np.isfinite(diff).all() else math.nan
    med = float(np.median(rel)) if rel.size else 0.0
    mx = float(np.max(rel)) if rel.size else 0.0
    return diff, rel, g, med, mx


def _fmt(x: float) -> str:
    return f"{x:.1e}"


def _verdict(a, n, diff, g, kink_samples, kink_bound, n_ref, *, method, h, h_ref, fast, smooth, K):
    """(verdict, sentence, extra figures); see the module docstring for the bands.

    ``n_ref`` is the fast path's central quotient at a tiny step ``h_ref``: the
    loss's derivative as finite differences see it, free of truncation and
    round-off. The part of an entry's mismatch ``|a - n|`` that is within
    ``|n - n_ref|`` (the finite-difference error of this h) plus the kink bound
    is "explained"; what is left is the residual.
    """
    where = f"over {K:,} checked entr{'y' if K == 1 else 'ies'}, {method} differences, h={h:g}"
    bad_a = int((~np.isfinite(a)).sum())
    bad_n = int((~np.isfinite(n)).sum())
    if bad_a or bad_n:
        what = []
        if bad_a:
            what.append(
                f"the analytic gradient has {bad_a:,} non-finite entr{'y' if bad_a == 1 else 'ies'} (NaN/inf)"
            )
        if bad_n:
            what.append(f"the numeric gradient has {bad_n:,} non-finite entr{'y' if bad_n == 1 else 'ies'}")
        return "wrong", "Wrong: " + " and ".join(what) + f" ({where}).", {"residual_rel_error": math.nan}
    fd_error = np.abs(n - n_ref) if n_ref is not None else np.zeros_like(n)
    residual = np.maximum(diff - fd_error - kink_bound, 0.0)
    den = float(np.linalg.norm(a + n))
    res_g = float(np.linalg.norm(residual)) / den if den > 0 else (0.0 if not residual.any() else math.inf)
    kinked = kink_samples > 0
    n_kink = int(kinked.sum())
    clean_g = _global_rel(a[~kinked], n[~kinked]) if (~kinked).any() else 0.0
    ref_g = _global_rel(a, n_ref) if n_ref is not None else math.nan
    extra = {"residual_rel_error": res_g, "clean_rel_error": clean_g, "reference_rel_error": ref_g}
    head = f"relative error ||a-n||/||a+n|| = {_fmt(g)} ({where})"
    kinks = ""
    if n_kink:
        kinks = (
            f"{n_kink:,} of the {K:,} entries straddle a kink of the hinge (a margin crosses zero "
            f"between W-h and W+h; {int(kink_samples.sum()):,} sample-crossings in all)"
        )
    if g <= CORRECT_TOL:
        note = f" ({kinks}, harmlessly here)" if n_kink else ""
        return "correct", f"Correct: {head}, within 1e-7{note}.", extra
    reasons = []
    if n_kink and (diff[kinked] > 0).any():
        reasons.append(f"kinks: {kinks}, and the entries without one agree to {_fmt(clean_g)}")
    smooth_fd = fd_error[~kinked] if n_kink else fd_error
    if smooth_fd.size and float(np.linalg.norm(smooth_fd)) > CORRECT_TOL * den:
        order = "O(h)" if method == "forward" else "O(h^2)"
        kind = f"the {order} truncation error of {method} differences"
        if smooth:
            kind += " (softmax is curved)"
        elif method == "forward":
            kind += " (the quadratic penalty is curved)"
        if not fast:
            kind += " and the round-off of subtracting two loss values"
        reasons.append(f"{kind}: with h={h_ref:g} the analytic gradient agrees to {_fmt(ref_g)}")
    explained = res_g <= CORRECT_TOL and bool(reasons)
    if explained:
        because = "; and ".join(reasons)
        if g <= ACCEPTABLE_TOL:
            return "acceptable", f"Acceptable: {head} is above 1e-7 only because of {because}.", extra
        return (
            "suspicious",
            f"Suspicious: {head} is above 1e-4. It is explained by {because}, but a step this "
            "large hides real errors: use a smaller h"
            + (" or central differences." if method == "forward" else "."),
            extra,
        )
    k = int(np.argmax(residual if residual.any() else diff))
    worst = f"the largest mismatch is analytic {a[k]:.6g} vs numeric {n[k]:.6g}"
    unexplained = f" Kinks and step size explain none of it beyond {_fmt(res_g)}." if reasons else ""
    if g > WRONG_TOL:
        return "wrong", f"Wrong: {head} is above 1e-2; {worst}.{unexplained}", extra
    return (
        "suspicious",
        f"Suspicious: {head} is between 1e-7 and 1e-2 and not explained by kinks or the step size; "
        f"{worst}.{unexplained}",
        extra,
    )


def check_gradient(
    name: str,
    W,
    X,
    y,
    reg: float = 0.0,
    *,
    h: float = 1e-5,
    method: str = "central",
    entries="all",
    seed: int = 0,
    part: str = "total",
    bug: str | None = None,
    fast: bool = True,
    **loss_options,
) -> CheckResult:
    """Compare the analytic gradient of ``name`` (or of its ``part``; with
    ``bug``, the gradient of :func:`buggy_loss_and_grad`) with finite
    differences: the fast exact path (``fast=True``) or the black-box loop.

    ``entries``: "all", a count of random entries (``seed``), or a (K, 2) array.
    Verdict bands: see :data:`VERDICTS` and the module docstring.
    """
    t0 = time.perf_counter()
    _check_name(name)
    _check_method(method)
    _check_part(part)
    h = _check_h(h)
    delta, reg_mode, reg_bias = _loss_options(loss_options)
    W, X, y = _prepare_inputs(W, X, y)
    ents = select_entries(W.shape, entries, seed)
    K = len(ents)
    value, grad = _analytic(name, W, X, y, reg, part, bug, delta, reg_mode, reg_bias)
    a = grad[ents[:, 0], ents[:, 1]]
    model = _Model(name, W, X, y, delta) if part != "reg" else None
    if fast:
        n = _fast_quotients(model, W, ents, reg, h, method, part, reg_mode, reg_bias)
    else:
        f = loss_function(name, X, y, reg, part, delta=delta, reg_mode=reg_mode, reg_bias=reg_bias)
        full = numeric_gradient(f, W, h, method, ents)
        n = full[ents[:, 0], ents[:, 1]]
    if model is not None and not model.smooth:
        ksamp, kbound = _kink_info(model, ents, h)
    else:
        ksamp, kbound = np.zeros(K, dtype=np.int64), np.zeros(K)
    n_ref = _fast_quotients(model, W, ents, reg, REFERENCE_H, "central", part, reg_mode, reg_bias)
    diff, rel, g, med, mx = _errors(a, n)
    smooth = model is None or model.smooth
    verdict, text, extra = _verdict(
        a,
        n,
        diff,
        g,
        ksamp,
        kbound,
        n_ref,
        method=method,
        h=h,
        h_ref=REFERENCE_H,
        fast=fast,
        smooth=smooth,
        K=K,
    )
    table = pd.DataFrame(
        {
            "row": ents[:, 0],
            "col": ents[:, 1],
            "analytic": a,
            "numeric": n,
            "abs_diff": diff,
            "rel_error": rel,
            "kink_samples": ksamp,
            "kink_bound": kbound,
        }
    )
    return CheckResult(
        table=table,
        shape=tuple(W.shape),
        global_rel_error=g,
        median_rel_error=med,
        max_rel_error=mx,
        verdict=verdict,
        verdict_text=text,
        n_checked=K,
        n_kink_entries=int((ksamp > 0).sum()),
        method=method,
        h=h,
        part=part,
        seconds=time.perf_counter() - t0,
        loss=float(value),
        name=name,
        bug=bug,
        extra=extra,
    )


def step_sweep(
    name: str,
    W,
    X,
    y,
    reg: float = 0.0,
    *,
    hs: Iterable[float] | None = None,
    methods: Iterable[str] = METHODS,
    entries="all",
    seed: int = 0,
    part: str = "total",
    fast: bool = True,
    **loss_options,
) -> pd.DataFrame:
    """Error of the numeric gradient against ``h`` (default ``logspace(-12, -1, 23)``).

    Columns ``h, method, global_rel_error, median_rel_error, max_rel_error,
    n_kink_entries``. Small h: round-off (the loss difference drowns in the
    rounding of the loss value, error ~ eps |L| / h); large h: truncation
    (O(h) forward, O(h^2) central) and, for hinges, kinks: the V shape.

    ``fast=True`` (default): the exact differences of the fast path, each added
    to the loss value and rounded to float64 as a black box's two loss values
    are, ``(fl(L + D+) - fl(L + D-)) / 2h``. That is the round-off of a
    perfectly computed loss; a real black box also rounds inside the loss, so
    its floor is somewhat higher. ``fast=False``: the black-box loop itself (use
    a subset of ``entries``: it costs 2 loss evaluations per entry and h).
    """
    _check_name(name)
    _check_part(part)
    methods = tuple(methods)
    for m in methods:
        _check_method(m)
    hs = np.logspace(-12, -1, 23) if hs is None else np.asarray(list(hs), dtype=np.float64)
    delta, reg_mode, reg_bias = _loss_options(loss_options)
    W, X, y = _prepare_inputs(W, X, y)
    ents = select_entries(W.shape, entries, seed)
    value, grad = _analytic(name, W, X, y, reg, part, None, delta, reg_mode, reg_bias)
    a = grad[ents[:, 0], ents[:, 1]]
    model = _Model(name, W, X, y, delta) if part != "reg" else None
    f = (
        None
        if fast
        else loss_function(name, X, y, reg, part, delta=delta, reg_mode=reg_mode, reg_bias=reg_bias)
    )
    L0 = float(value)
    out = []
    for h in hs:
        h = _check_h(h)
        nk = 0
        if model is not None and not model.smooth:
            nk = int((_kink_info(model, ents, h)[0] > 0).sum())
        for method in methods:
            if fast:
                dp = np.zeros(len(ents))
                dm = np.zeros(len(ents))
                if part != "reg":
                    _, p, m = _data_differences(model, ents, h, "both" if method == "central" else "forward")
                    dp += p
                    dm += m
                if part != "data":
                    _, _, rp, rm = _reg_differences(W, ents, reg, h, reg_mode, reg_bias)
                    dp += rp
                    dm += rm
                Lp = L0 + dp  # rounded to float64, as a loss evaluation is
                n = (Lp - (L0 + dm)) / (2.0 * h) if method == "central" else (Lp - L0) / h
            else:
                n = numeric_gradient(f, W, h, method, ents)[ents[:, 0], ents[:, 1]]
            _, _, g, med, mx = _errors(a, n)
            out.append(
                {
                    "h": h,
                    "method": method,
                    "global_rel_error": g,
                    "median_rel_error": med,
                    "max_rel_error": mx,
                    "n_kink_entries": nk,
                }
            )
    return pd.DataFrame(out)
