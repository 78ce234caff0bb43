"""Tests for core/landscape.py: 1-D and 2-D loss slices and their directions.

Every grid value is checked against core.losses.loss_parts evaluated directly
at W + a*D1 + b*D2; the shape of the curves (piecewise linear hinge with kinks
exactly where a margin crosses zero, convexity, descent along -grad) against
theory."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import data, landscape, losses
from core.losses import LOSSES, loss_parts

OPTION_SETS = [
    dict(reg_mode="half", reg_bias=True, delta=1.0),
    dict(reg_mode="full", reg_bias=False, delta=0.5),
]


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
    return data.prepare(data.load_builtin(), n_train=300, n_test=10, mode="standardize")


@pytest.fixture(scope="module")
def problem(prepared):
    """(W, X, y): a W with informative, not tiny, scores on 300 MNIST samples."""
    rng = np.random.default_rng(1)
    X, y = prepared.X_train, prepared.y_train
    W = 0.02 * rng.standard_normal((X.shape[1] + 1, prepared.n_classes))
    return W, X, y


def _total(name, W, X, y, reg, **opts):
    return loss_parts(name, W, X, y, reg, **opts)


# --------------------------------------------------------------------------
# agreement with loss_parts


@pytest.mark.parametrize("opts", OPTION_SETS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_land001_2d_grid_matches_loss_parts(problem, name, opts):
    W, X, y = problem
    reg = 0.05
    rng = np.random.default_rng(7)
    for kinds in [("random", "random"), ("gradient", "random")]:
        alphas, betas, L = landscape.slice_2d(
            name, W, X, y, reg, directions=kinds, span=2.0, steps=15, seed=3, **opts
        )
        assert alphas.shape == (15,) and betas.shape == (15,) and L.shape == (15, 15)
        D1, D2 = landscape.directions(name, W, X, y, reg, kind=kinds, seed=3, **opts)
        # (j, i) pairs with i != j, so a transposed L would fail
        picks = [(0, 14), (14, 0), (3, 11), (7, 7)] + [tuple(rng.integers(0, 15, 2)) for _ in range(2)]
        for j, i in picks:
            direct = _total(name, W + alphas[i] * D1 + betas[j] * D2, X, y, reg, **opts).loss
            assert math.isclose(L[j, i], direct, rel_tol=1e-10, abs_tol=1e-13), (kinds, j, i)


@pytest.mark.parametrize("opts", OPTION_SETS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_land002_1d_columns_match_loss_parts(problem, name, opts):
    W, X, y = problem
    reg = 0.1
    for direction in ("gradient", "random"):
        df = landscape.slice_1d(name, W, X, y, reg, direction=direction, span=3.0, steps=31, seed=5, **opts)
        assert list(df.columns) == ["alpha", "loss", "data_loss", "reg_loss"]
        assert len(df) == 31
        assert df.attrs["direction"] == direction
        D = landscape.directions(name, W, X, y, reg, kind=(direction, "random"), seed=5, **opts)[0]
        assert math.isclose(df.attrs["direction_norm"], np.linalg.norm(D), rel_tol=1e-15)
        for k in (0, 4, 15, 22, 30):
            p = _total(name, W + df.alpha[k] * D, X, y, reg, **opts)
            assert math.isclose(df.loss[k], p.loss, rel_tol=1e-10, abs_tol=1e-13)
            assert math.isclose(df.data_loss[k], p.data_loss, rel_tol=1e-10, abs_tol=1e-13)
            assert math.isclose(df.reg_loss[k], p.reg_loss, rel_tol=1e-10, abs_tol=1e-13)
        assert np.allclose(df.loss, df.data_loss + df.reg_loss, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", list(LOSSES))
def test_land003_alpha_zero_is_the_loss_at_W(problem, name):
    W, X, y = problem
    p = _total(name, W, X, y, 0.02)
    df = landscape.slice_1d(name, W, X, y, 0.02, direction="random", steps=41)
    assert df.alpha[20] == 0.0
    assert math.isclose(df.loss[20], p.loss, rel_tol=1e-12)
    assert math.isclose(df.reg_loss[20], p.reg_loss, rel_tol=1e-12)
    alphas, betas, L = landscape.slice_2d(name, W, X, y, 0.02, steps=21)
    assert alphas[10] == 0.0 and betas[10] == 0.0
    assert math.isclose(L[10, 10], p.loss, rel_tol=1e-12)


def test_land004_grid_is_symmetric_and_spans_the_range(problem):
    W, X, y = problem
    for steps in (2, 4, 5, 81):
        df = landscape.slice_1d("softmax", W, X, y, steps=steps, span=0.7)
        a = df.alpha.to_numpy()
        assert a[0] == -0.7 and a[-1] == 0.7
        assert np.array_equal(a, -a[::-1])
        assert np.all(np.diff(a) > 0)


# --------------------------------------------------------------------------
# the shape of the curves


def _second_differences(v: np.ndarray) -> np.ndarray:
    return v[2:] - 2.0 * v[1:-1] + v[:-2]


@pytest.mark.parametrize("name", ["hinge", "ova-hinge"])
def test_land005_hinge_slice_is_piecewise_linear_with_kinks_at_margin_crossings(prepared, name):
    """With reg=0 the hinge data loss along a line is a sum of max(0, c + a*d)
    terms: its second differences vanish on every stencil [a_{k-1}, a_{k+1}]
    that contains no zero crossing of a term, and nowhere else can they be
    nonzero. Few samples keep the kinks few."""
    X, y = prepared.X_train[:4], prepared.y_train[:4]
    rng = np.random.default_rng(11)
    W = 0.05 * rng.standard_normal((X.shape[1] + 1, 10))
    df = landscape.slice_1d(name, W, X, y, 0.0, direction="random", span=4.0, steps=401, seed=2)
    D, _ = landscape.directions(name, W, X, y, 0.0, kind="random", seed=2)
    S0, S1 = losses.scores(W, X), losses.scores(D, X)
    rows = np.arange(len(y))
    if name == "hinge":  # terms s_j - s_y + delta, j != y
        keep = np.ones_like(S0, dtype=bool)
        keep[rows, y] = False
        c = (S0 - S0[rows, y][:, None] + 1.0)[keep]
        d = (S1 - S1[rows, y][:, None])[keep]
    else:  # terms delta - t_j s_j
        T = -np.ones_like(S0)
        T[rows, y] = 1.0
        c, d = (1.0 - T * S0).ravel(), (-T * S1).ravel()
    kinks = -c / d
    a = df.alpha.to_numpy()
    d2 = _second_differences(df.data_loss.to_numpy())
    scale = df.data_loss.abs().max()
    near_kink = np.array(
        [np.any((kinks >= a[k - 1] - 1e-12) & (kinks <= a[k + 1] + 1e-12)) for k in range(1, len(a) - 1)]
    )
    assert 5 <= near_kink.sum() <= 2 * len(kinks)  # the test has kinks to look at ...
    assert (~near_kink).sum() >= 200  # ... and long linear stretches
    assert np.all(np.abs(d2[~near_kink]) <= 1e-12 * scale)
    assert np.any(np.abs(d2[near_kink]) > 1e-9 * scale)  # kinks are real
    assert np.all(d2 >= -1e-12 * scale)  # convex


@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("name", list(LOSSES))
def test_land006_loss_is_convex_along_lines(problem, name, reg):
    W, X, y = problem
    for direction in ("random", "gradient"):
        df = landscape.slice_1d(name, W, X, y, reg, direction=direction, span=5.0, steps=101, seed=4)
        d2 = _second_differences(df.loss.to_numpy())
        assert np.all(d2 >= -1e-12 * df.loss.abs().max())
    if name == "softmax":  # strictly convex along a line through informative data
        assert np.all(d2 > 0)


@pytest.mark.parametrize("opts", [dict(reg_mode="half", reg_bias=True), dict(reg_mode="full", reg_bias=False)])
def test_land007_reg_loss_is_the_closed_form_quadratic(problem, opts):
    W, X, y = problem
    reg = 0.2
    df = landscape.slice_1d("hinge", W, X, y, reg, direction="random", span=2.0, steps=11, **opts)
    D, _ = landscape.directions("hinge", W, X, y, reg, kind="random", **opts)
    f = 0.5 * reg if opts["reg_mode"] == "half" else reg
    r = slice(None) if opts["reg_bias"] else slice(1, None)
    h = df.alpha[1] - df.alpha[0]
    d2 = _second_differences(df.reg_loss.to_numpy())
    assert np.allclose(d2, 2.0 * f * np.vdot(D[r], D[r]) * h * h, rtol=1e-9, atol=0)
    expected = f * np.array([np.vdot((W + a * D)[r], (W + a * D)[r]) for a in df.alpha])
    assert np.allclose(df.reg_loss, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(LOSSES))
def test_land008_loss_first_decreases_along_minus_gradient(problem, name):
    W, X, y = problem
    reg = 0.01
    df = landscape.slice_1d(name, W, X, y, reg, direction="gradient", span=1e-3, steps=5)
    loss = df.loss.to_numpy()
    assert loss[3] < loss[2] < loss[1]  # alpha = +span/2, 0, -span/2
    assert loss[4] < loss[3]
    if name == "softmax":  # smooth: the slope at 0 is <grad, D> = -||g|| ||W||
        g = _total(name, W, X, y, reg).dW
        slope = (loss[3] - loss[1]) / (df.alpha[3] - df.alpha[1])
        assert math.isclose(slope, -np.linalg.norm(g) * np.linalg.norm(W), rel_tol=1e-5)


# --------------------------------------------------------------------------
# directions


def test_land009_gradient_direction_is_minus_gradient_scaled_to_W(problem):
    W, X, y = problem
    for name in LOSSES:
        g = _total(name, W, X, y, 0.05, delta=2.0).dW
        D1, D2 = landscape.directions(name, W, X, y, 0.05, kind="gradient", delta=2.0)
        assert np.allclose(D1, -g / np.linalg.norm(g) * np.linalg.norm(W), rtol=1e-12, atol=0)
        assert math.isclose(np.linalg.norm(D1), np.linalg.norm(W), rel_tol=1e-12)
        U1, _ = landscape.directions(name, W, X, y, 0.05, kind="gradient", delta=2.0, normalization="unit")
        assert math.isclose(np.linalg.norm(U1), 1.0, rel_tol=1e-12)
        assert np.allclose(U1 * np.linalg.norm(W), D1, rtol=1e-12, atol=0)
        # the second direction of kind="gradient" is the filter-normalized random one
        assert np.allclose(np.linalg.norm(D2, axis=0), np.linalg.norm(W, axis=0), rtol=1e-12)


def test_land010_random_directions_are_filter_normalized_and_seeded(problem):
    W, X, y = problem
    D1, D2 = landscape.directions("softmax", W, X, y, kind="random", seed=9)
    for D in (D1, D2):
        assert D.shape == W.shape
        assert np.allclose(np.linalg.norm(D, axis=0), np.linalg.norm(W, axis=0), rtol=1e-12)
    assert not np.allclose(D1, D2)
    # nearly orthogonal in (D+1)*C dimensions, not parallel
    cos = np.vdot(D1, D2) / (np.linalg.norm(D1) * np.linalg.norm(D2))
    assert abs(cos) < 0.1
    E1, E2 = landscape.directions("softmax", W, X, y, kind="random", seed=9)
    assert np.array_equal(D1, E1) and np.array_equal(D2, E2)
    F1, _ = landscape.directions("softmax", W, X, y, kind="random", seed=10)
    assert not np.allclose(D1, F1)
    Fr, _ = landscape.directions("softmax", W, X, y, kind="random", seed=9, normalization="frobenius")
    assert math.isclose(np.linalg.norm(Fr), np.linalg.norm(W), rel_tol=1e-12)
    U, _ = landscape.directions("softmax", W, X, y, kind="random", seed=9, normalization="unit", unit_scale=0.5)
    assert math.isclose(np.linalg.norm(U), 0.5, rel_tol=1e-12)


def test_land011_slices_are_reproducible(problem):
    W, X, y = problem
    a = landscape.slice_2d("hinge", W, X, y, 0.1, directions=("gradient", "random"), steps=9, seed=21)
    b = landscape.slice_2d("hinge", W, X, y, 0.1, directions=("gradient", "random"), steps=9, seed=21)
    c = landscape.slice_2d("hinge", W, X, y, 0.1, directions=("gradient", "random"), steps=9, seed=22)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)
    assert not np.array_equal(a[2], c[2])
    d1 = landscape.slice_1d("softmax", W, X, y, direction="random", steps=9, seed=21)
    d2 = landscape.slice_1d("softmax", W, X, y, direction="random", steps=9, seed=21)
    pd.testing.assert_frame_equal(d1, d2, check_exact=True)
    assert d1.attrs == d2.attrs
    d3 = landscape.slice_1d("softmax", W, X, y, direction="gradient", steps=9)
    both = pd.concat([d1, d3], keys=["random", "gradient"])  # attrs hold no arrays
    assert len(both) == 18


def test_land012_zero_W_falls_back_to_unit_norm_directions(problem):
    _, X, y = problem
    W0 = np.zeros((X.shape[1] + 1, 10))
    for kind in ("random", "gradient"):
        D1, D2 = landscape.directions("softmax", W0, X, y, kind=kind)
        assert math.isclose(np.linalg.norm(D1), landscape.UNIT_SCALE, rel_tol=1e-12)
        assert math.isclose(np.linalg.norm(D2), landscape.UNIT_SCALE, rel_tol=1e-12)
        D1s, _ = landscape.directions("softmax", W0, X, y, kind=kind, unit_scale=3.0)
        assert math.isclose(np.linalg.norm(D1s), 3.0, rel_tol=1e-12)
    df = landscape.slice_1d("softmax", W0, X, y, direction="gradient", steps=11)
    assert np.isfinite(df.to_numpy()).all()
    assert math.isclose(df.loss[5], math.log(10), rel_tol=1e-12)
    assert df.loss[10] < df.loss[5]  # -gradient still descends from W = 0
    assert any("W is ~0" in note for note in df.attrs["fallback"])
    # one zero column in a nonzero W borrows the RMS column norm
    W1 = problem[0].copy()
    W1[:, 3] = 0.0
    D, _ = landscape.directions("softmax", W1, X, y, kind="random")
    rms = np.linalg.norm(W1) / math.sqrt(W1.shape[1])
    assert math.isclose(np.linalg.norm(D[:, 3]), rms, rel_tol=1e-12)
    assert np.allclose(np.linalg.norm(D[:, 4]), np.linalg.norm(W1[:, 4]), rtol=1e-12)


def test_land013_zero_gradient_falls_back_to_a_random_direction():
    """A hinge loss with every margin satisfied and reg=0 has dL/dW = 0."""
    C = 4
    y = np.array([0, 1, 2, 3, 1])
    X = 10.0 * np.eye(C)[y]
    W = np.vstack([np.zeros(C), np.eye(C)])
    assert loss_parts("hinge", W, X, y).loss == 0.0
    assert not loss_parts("hinge", W, X, y).dW.any()
    df = landscape.slice_1d("hinge", W, X, y, direction="gradient", seed=1, steps=21)
    assert df.attrs["fallback"] and "gradient is ~0" in df.attrs["fallback"][0]
    D, _ = landscape.directions("hinge", W, X, y, kind="gradient", seed=1)
    assert np.allclose(np.linalg.norm(D, axis=0), np.linalg.norm(W, axis=0), rtol=1e-12)
    assert df.loss.max() > 0.0  # not a flat line


def test_land014_explicit_direction_interpolates_between_weights(problem):
    W, X, y = problem
    rng = np.random.default_rng(3)
    Wb = W + 0.05 * rng.standard_normal(W.shape)
    D = Wb - W
    D_before = D.copy()
    df = landscape.slice_1d("softmax", W, X, y, 0.1, direction=D, span=1.0, steps=3)
    assert df.attrs["direction"] == "array"
    assert df.attrs["direction_norm"] == np.linalg.norm(D)
    assert math.isclose(df.loss[2], _total("softmax", Wb, X, y, 0.1).loss, rel_tol=1e-10)
    alphas, betas, L = landscape.slice_2d("softmax", W, X, y, 0.1, directions=(D, "random"), steps=3)
    assert math.isclose(L[1, 2], df.loss[2], rel_tol=1e-12)
    assert np.array_equal(D, D_before)
    assert df.attrs["fallback"] == []
    zero = landscape.slice_1d("softmax", 0 * W, X, y, direction=D, steps=3)  # explicit: no W ~ 0 note
    assert zero.attrs["fallback"] == [] and zero.attrs["direction_norm"] == np.linalg.norm(D)


def test_land015_inputs_are_not_mutated(problem):
    W, X, y = (a.copy() for a in problem)
    W_ro, X_ro, y_ro = W.copy(), X.copy(), y.copy()
    for a in (W_ro, X_ro, y_ro):
        a.flags.writeable = False  # any in-place write raises
    for name in LOSSES:
        landscape.directions(name, W_ro, X_ro, y_ro, 0.1, kind="gradient")
        landscape.slice_1d(name, W_ro, X_ro, y_ro, 0.1, steps=5)
        landscape.slice_2d(name, W_ro, X_ro, y_ro, 0.1, directions=("gradient", "random"), steps=5)
    assert np.array_equal(W_ro, W) and np.array_equal(X_ro, X) and np.array_equal(y_ro, y)
    D1, _ = landscape.directions("softmax", W_ro, X_ro, y_ro, kind="random")
    assert not np.shares_memory(D1, W_ro)


# --------------------------------------------------------------------------
# the loss-only fast paths and the cost


@pytest.mark.parametrize("delta", [1.0, 0.0, -0.5, 3.0])
def test_land016_loss_only_twins_match_the_registry(delta):
    rng = np.random.default_rng(5)
    N, C = 500, 7
    S = rng.standard_normal((N, C)) * rng.choice([0.1, 1.0, 30.0, 400.0], size=(N, 1))
    S[:50] = np.round(S[:50])  # ties
    S[50:60] = 0.0
    y = rng.integers(0, C, N)
    ST = np.ascontiguousarray(S.T)
    s_y = S[np.arange(N), y]
    mask = np.arange(C)[:, None] == y[None, :]
    assert set(landscape._LOSS_ONLY) == {spec.scores_fn for spec in LOSSES.values()}
    for spec in LOSSES.values():
        twin = landscape._LOSS_ONLY[spec.scores_fn]
        expected, _ = spec.scores_fn(S, y, delta)
        got = twin(ST, s_y, mask, delta)
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(S).max()), spec.name


def test_land017_unregistered_loss_uses_its_scores_fn(problem, monkeypatch):
    W, X, y = problem

    def custom(S, y, delta):  # a copy of softmax that the fast path does not know
        return losses.softmax_scores(S, y, delta)

    spec = LOSSES["softmax"]
    monkeypatch.setitem(
        losses.LOSSES,
        "custom",
        losses.LossSpec("custom", "c", custom, False, False, spec.formula, spec.initial_loss),
    )
    a = landscape.slice_2d("custom", W, X, y, 0.1, steps=7, seed=4)[2]
    b = landscape.slice_2d("softmax", W, X, y, 0.1, steps=7, seed=4)[2]
    assert np.allclose(a, b, rtol=1e-12, atol=0)


def test_land018_scores_computed_three_times_not_per_grid_point(monkeypatch):
    p = data.prepare(data.load_builtin(), n_train=1000, n_test=10)
    W = 0.001 * np.random.default_rng(0).standard_normal((p.n_features + 1, p.n_classes))
    calls = []

    def counting(Wm, Xm):
        calls.append(Xm.shape[0])
        return losses.scores(Wm, Xm)

    monkeypatch.setattr(landscape, "scores", counting)
    alphas, betas, L = landscape.slice_2d("softmax", W, p.X_train, p.y_train, 1e-3, steps=41)
    assert calls == [1000, 1000, 1000]  # S0, S1, S2 once each, never per grid point
    assert L.shape == (41, 41) and np.isfinite(L).all()
    # its speed is measured in bench/bench_core.py, not asserted here


def test_land019_bad_arguments_raise_value_errors(problem):
    W, X, y = problem
    bad = [
        (dict(name="nope"), "unknown loss"),
        (dict(steps=1), "steps"),
        (dict(steps=3.0), "steps"),
        (dict(span=0.0), "span"),
        (dict(span=float("nan")), "span"),
        (dict(reg=-1.0), "reg"),
        (dict(reg_mode="double"), "reg_mode"),
        (dict(direction="sideways"), "direction"),
        (dict(direction=np.ones((3, 3))), "shape"),
        (dict(direction=np.full(W.shape, np.nan)), "NaN"),
        (dict(normalization="layer"), "normalization"),
        (dict(unit_scale=0.0), "unit_scale"),
        (dict(W=np.full(W.shape, np.inf)), "W contains"),
        (dict(y=y + 10), "labels"),
        (dict(y=y.astype(float)), "integers"),
        (dict(X=X[:, :5]), "rows"),
    ]
    for override, message in bad:
        kw = dict(name="softmax", W=W, X=X, y=y, reg=0.0)
        kw.update(override)
        args = [kw.pop(k) for k in ("name", "W", "X", "y", "reg")]
        with pytest.raises(ValueError, match=message):
            landscape.slice_1d(*args, **kw)
    with pytest.raises(ValueError, match="both directions"):
        landscape.slice_2d("softmax", W, X, y, directions=("gradient", "gradient"))
    with pytest.raises(ValueError, match="steps"):
        landscape.slice_2d("softmax", W, X, y, steps=landscape.MAX_STEPS_2D + 1)
    with pytest.raises(ValueError, match="direction kind"):
        landscape.directions("softmax", W, X, y, kind="uphill")
