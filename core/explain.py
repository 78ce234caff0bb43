"""Per-example explanations of a linear classifier, for teaching.

Shapes follow :mod:`core.losses` (``X`` (N, D) without a bias column, ``y``
(N,), ``W`` (D+1, C) with the bias in row 0). Pure numpy and pandas.

* :func:`example_table` -- the table of the CS231n linear-classification demo,
  for chosen samples: scores of every class, the per-class terms of the loss
  (margins for the hinge family, probabilities for softmax) and each sample's
  loss, plus totals that agree with :func:`core.losses.loss_parts`.
* :func:`score_maps` -- where a score comes from: ``s_c = sum(w_c * x) + b_c``
  as C images ``w_c * x`` (the per-pixel contributions) plus the biases.
* :func:`templates` -- the class templates ``w_c`` as images.
* :func:`softmax_probabilities` -- row-wise softmax of a score matrix.

Per-class terms (columns ``margin_<class>`` or ``prob_<class>``)::

    softmax           prob_j   = exp(s_j) / sum_k exp(s_k)       L_i = -log prob_y
    hinge (WW)        margin_j = max(0, s_j - s_y + delta), j != y; 0 for j = y
                                                               L_i = sum_j margin_j
    ova-hinge         margin_j = max(0, delta - t_j s_j), t_y = +1, t_j = -1
                                                               L_i = sum_j margin_j
    structured-hinge  margin_j = max(0, s_j - s_y + delta), j != y; 0 for j = y
                                                               L_i = max_j margin_j
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import pandas as pd

from core.losses import LOSSES, REG_MODES, loss_parts, scores

__all__ = [
    "example_table",
    "per_class_terms",
    "score_maps",
    "softmax_probabilities",
    "templates",
    "term_kind",
]


def softmax_probabilities(S: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores S (N, C) (or one score vector (C,)), computed
    stably (max subtracted); rows sum to 1. S is not modified."""
    S = np.asarray(S, dtype=np.float64)
    Z = S - S.max(axis=-1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=-1, keepdims=True)
    return Z


def term_kind(name: str) -> str:
    """``"prob"`` for softmax, ``"margin"`` for the hinge family (the column prefix)."""
    _check_name(name)
    return "margin" if LOSSES[name].is_hinge else "prob"


def per_class_terms(name: str, S: np.ndarray, y: np.ndarray, delta: float = 1.0) -> np.ndarray:
    """The (N, C) per-class terms of the loss ``name`` at scores S (see the module docstring)."""
    _check_name(name)
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y)
    rows = np.arange(S.shape[0])
    if name == "softmax":
        return softmax_probabilities(S)
    if name in ("hinge", "structured-hinge"):
        M = S - S[rows, y][:, None] + delta
        M[rows, y] = 0.0
        return np.maximum(M, 0.0)
    if name == "ova-hinge":
        T = -np.ones_like(S)
        T[rows, y] = 1.0
        return np.maximum(delta - T * S, 0.0)
    raise ValueError(f"no per-class terms are defined for the loss {name!r}")


def _check_name(name: str) -> None:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def _check_inputs(W, X, y):
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(f"expected W (D+1, C), X (N, D), y (N,); got W {W.shape}, X {X.shape}, y {y.shape}")
    if W.shape[0] != X.shape[1] + 1:
        raise ValueError(f"W has {W.shape[0]} rows; X has {X.shape[1]} features, so W needs D+1 = {X.shape[1] + 1}")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X has {X.shape[0]} samples and y {y.shape[0]} labels (need the same number, > 0)")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels y must be integers, not {y.dtype}")
    if y.min() < 0 or y.max() >= W.shape[1]:
        raise ValueError(f"labels y must lie in 0..{W.shape[1] - 1}")
    return W, X, y.astype(np.intp, copy=False)


def _check_indices(indices, N: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1:
        raise ValueError(f"indices must be a 1-D sequence of sample numbers, got shape {idx.shape}")
    if idx.size == 0:
        return np.zeros(0, dtype=np.intp)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"indices must be integers, not {idx.dtype}")
    bad = idx[(idx < 0) | (idx >= N)]
    if bad.size:
        raise ValueError(f"indices must lie in 0..{N - 1}; got {bad[:5].tolist()}")
    return idx.astype(np.intp)


def _check_class_names(class_names, C: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(C)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence | np.ndarray):
        raise ValueError("class_names must be a sequence of strings")
    names = [str(c) for c in class_names]
    if len(names) != C:
        raise ValueError(f"class_names has {len(names)} names but W has {C} classes")
    if len(set(names)) != C:
        raise ValueError("class_names must be distinct (they name table columns)")
    return names


def example_table(
    name: str,
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    indices,
    reg: float = 0.0,
    *,
    delta: float = 1.0,
    reg_mode: str = "half",
    reg_bias: bool = True,
    class_names: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """One row per chosen sample ``X[indices]`` (in the given order, repeats allowed).

    Columns: ``index`` (row of X), ``label`` and ``predicted`` (class names),
    ``correct`` (bool), ``score_<class>`` for every class, ``prob_<class>``
    (softmax) or ``margin_<class>`` (hinge family) for every class, and
    ``loss`` (the sample's data loss L_i, as ``LOSSES[name].scores_fn``
    computes it). ``predicted`` is the first class of highest score.

    ``totals``: ``mean_data_loss`` (mean of the ``loss`` column; NaN for no
    samples), ``data_loss`` (over all of X), ``reg_loss`` and ``total`` =
    data_loss + reg_loss -- the last three straight from ``loss_parts``.
    """
    _check_name(name)
    W, X, y = _check_inputs(W, X, y)
    if isinstance(reg, bool) or not isinstance(reg, Real) or not math.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a finite number >= 0, not {reg!r}")
    if isinstance(delta, bool) or not isinstance(delta, Real) or not math.isfinite(delta):
        raise ValueError(f"delta must be a finite number, not {delta!r}")
    if reg_mode not in REG_MODES:
        raise ValueError(f"reg_mode must be one of {REG_MODES}, not {reg_mode!r}")
    C = W.shape[1]
    names = _check_class_names(class_names, C)
    idx = _check_indices(indices, X.shape[0])

    S = scores(W, X[idx])
    y_sel = y[idx]
    Li, _ = LOSSES[name].scores_fn(S, y_sel, float(delta))
    terms = per_class_terms(name, S, y_sel, float(delta))
    pred = S.argmax(axis=1) if idx.size else np.zeros(0, dtype=np.intp)
    kind = term_kind(name)

    columns: dict[str, object] = {
        "index": idx.astype(np.int64),
        "label": [names[k] for k in y_sel],
        "predicted": [names[k] for k in pred],
        "correct": pred == y_sel,
    }
    for c, cname in enumerate(names):
        columns[f"score_{cname}"] = S[:, c]
    for c, cname in enumerate(names):
        columns[f"{kind}_{cname}"] = terms[:, c]
    columns["loss"] = Li
    table = pd.DataFrame(columns)

    parts = loss_parts(name, W, X, y, float(reg), delta=float(delta), reg_mode=reg_mode, reg_bias=bool(reg_bias))
    totals = {
        "mean_data_loss": float(Li.mean()) if idx.size else math.nan,
        "data_loss": parts.data_loss,
        "reg_loss": parts.reg_loss,
        "total": parts.loss,
    }
    return table, totals


def _check_image(W: np.ndarray, image_shape) -> tuple[int, int]:
    if W.ndim != 2:
        raise ValueError(f"W must be (D+1, C), got shape {W.shape}")
    try:
        H, Wd = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be (height, width), not {image_shape!r}") from None
    if H <= 0 or Wd <= 0 or H * Wd + 1 != W.shape[0]:
        raise ValueError(f"image_shape {image_shape!r} needs W with {H * Wd + 1} rows; W has {W.shape[0]}")
    return H, Wd


def score_maps(W: np.ndarray, x: np.ndarray, image_shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel contributions to every class score of one sample.

    ``x`` is one sample (D,) (or an image of ``image_shape``). Returns
    ``maps`` (C, H, W) with ``maps[c] = (w_c * x)`` as an image, ``bias`` (C,)
    = W[0], and ``scores`` (C,) = maps.sum((1, 2)) + bias, equal (up to
    rounding) to ``core.losses.scores(W, x[None])[0]``. Inputs are not modified.
    """
    W = np.asarray(W, dtype=np.float64)
    H, Wd = _check_image(W, image_shape)
    x = np.asarray(x, dtype=np.float64)
    if x.size != H * Wd or x.ndim not in (1, 2) or (x.ndim == 2 and x.shape != (H, Wd)):
        raise ValueError(f"x must be one sample of {H * Wd} features or an {H}x{Wd} image, got shape {x.shape}")
    x = x.reshape(H * Wd)
    C = W.shape[1]
    maps = (W[1:] * x[:, None]).T.reshape(C, H, Wd)
    bias = W[0].copy()
    return maps, bias, maps.sum(axis=(1, 2)) + bias


def templates(W: np.ndarray, image_shape) -> np.ndarray:
    """The class templates: ``(C, H, W)`` images of the weight columns W[1:, c] (a copy)."""
    W = np.asarray(W, dtype=np.float64)
    H, Wd = _check_image(W, image_shape)
    return np.array(W[1:].T, order="C").reshape(W.shape[1], H, Wd)
