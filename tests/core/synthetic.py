"""Small synthetic problems shared by the training tests."""

from __future__ import annotations

import numpy as np


def blobs(n=300, d=5, c=3, seed=0, spread=3.0):
    """``n`` points in ``d`` dimensions around ``c`` Gaussian centres: (X, y), y int64."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(c, d))
    y = rng.integers(0, c, n)
    X = centers[y] + rng.normal(size=(n, d))
    return X, y.astype(np.int64)
