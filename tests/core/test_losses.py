"""Tests of core.losses: every loss against its loop-based twin (core.naive),
against finite differences, and for the properties the issue lists."""

from __future__ import annotations

import math
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from core import losses
from core.gradcheck import check_gradient, kink_counts, loss_function, numeric_gradient
from core.losses import LOSSES, get_loss, loss_parts, regularization
from core.naive import NAIVE, naive_loss

NAMES = tuple(LOSSES)
MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
REG_VARIANTS = [
    pytest.param({"reg_mode": "half", "reg_bias": True}, id="half-bias"),
    pytest.param({"reg_mode": "full", "reg_bias": True}, id="full-bias"),
    pytest.param({"reg_mode": "half", "reg_bias": False}, id="half-nobias"),
    pytest.param({"reg_mode": "full", "reg_bias": False}, id="full-nobias"),
]


def make_data(seed=0, N=30, D=8, C=5, scale=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, size=N)
    W = rng.normal(size=(D + 1, C)) * scale
    return W, X, y


@pytest.fixture(scope="module")
def mnist_small():
    if not MNIST.is_dir():
        pytest.skip(f"MNIST not found at {MNIST}")
    from core.data import load_dataset, prepare

    p = prepare(load_dataset(MNIST), 200, 10, mode="standardize")
    return p.X_train, p.y_train


# --------------------------------------------------------------------------
# vectorized == naive


@pytest.mark.parametrize("options", REG_VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_loss001_vectorized_equals_naive(name, options):
    for seed, delta in ((0, 1.0), (1, 0.5), (2, 2.0)):
        W, X, y = make_data(seed)
        loss, dW = get_loss(name)(W, X, y, 0.3, delta=delta, **options)
        nloss, ndW = NAIVE[name](W, X, y, 0.3, delta=delta, **options)
        assert loss == pytest.approx(nloss, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(dW, ndW, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_loss002_vectorized_equals_naive_on_mnist(name, mnist_small):
    X, y = mnist_small
    X, y = X[:60], y[:60]
    W = np.random.default_rng(3).normal(size=(X.shape[1] + 1, 10)) * 0.01
    loss, dW = get_loss(name)(W, X, y, 0.05)
    nloss, ndW = naive_loss(name, W, X, y, 0.05)
    assert loss == pytest.approx(nloss, rel=1e-12)
    np.testing.assert_allclose(dW, ndW, rtol=1e-9, atol=1e-13)


# --------------------------------------------------------------------------
# against finite differences


@pytest.mark.parametrize("options", REG_VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_loss003_analytic_matches_central_differences(name, options):
    W, X, y = make_data(5, N=25, D=6, C=4)
    h = 1e-5
    # the hinge family only away from kinks: this data has none within h
    assert not kink_counts(name, W, X, y, h, None).any()
    f = loss_function(name, X, y, 0.2, **options)
    num = numeric_gradient(f, W, h=h, method="central")
    _, dW = get_loss(name)(W, X, y, 0.2, **options)
    rel = np.linalg.norm(dW - num) / np.linalg.norm(dW + num)
    assert rel <= 1e-7
    res = check_gradient(name, W, X, y, 0.2, h=h, **options)
    assert res.verdict == "correct" and res.global_rel_error <= 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_loss004_analytic_matches_differences_on_mnist(name, mnist_small):
    X, y = mnist_small
    W = np.random.default_rng(6).normal(size=(X.shape[1] + 1, 10)) * 1e-3
    h = 1e-7 if name == "structured-hinge" else 1e-5  # CS has near-ties of the argmax at small W
    res = check_gradient(name, W, X, y, 0.1, h=h)
    assert res.n_kink_entries == 0
    assert res.global_rel_error <= 1e-7, res.verdict_text
    assert res.verdict == "correct"


# --------------------------------------------------------------------------
# properties


@pytest.mark.parametrize("name", NAMES)
def test_loss005_initial_loss_for_tiny_W(name):
    rng = np.random.default_rng(7)
    for C, delta in ((10, 1.0), (4, 0.5), (3, 2.0)):
        X = rng.normal(size=(200, 12))
        y = rng.integers(0, C, 200)
        W = rng.normal(size=(13, C)) * 1e-7
        loss, _ = get_loss(name)(W, X, y, 0.0, delta=delta)
        expected = LOSSES[name].initial_loss(C, delta)
        assert loss == pytest.approx(expected, rel=1e-4)
    assert LOSSES["softmax"].initial_loss(10, 1.0) == pytest.approx(math.log(10))
    assert LOSSES["hinge"].initial_loss(10, 1.0) == pytest.approx(9.0)


@pytest.mark.parametrize("options", REG_VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_loss006_loss_grows_with_reg(name, options):
    W, X, y = make_data(8)
    parts = [loss_parts(name, W, X, y, reg, **options) for reg in (0.0, 0.1, 1.0, 10.0)]
    losses_ = [p.loss for p in parts]
    assert all(a < b for a, b in zip(losses_, losses_[1:], strict=False))
    for p in parts:
        assert p.data_loss == pytest.approx(parts[0].data_loss, rel=0, abs=0)
        assert p.loss == pytest.approx(p.data_loss + p.reg_loss, rel=1e-15)


@pytest.mark.parametrize("options", REG_VARIANTS)
def test_loss007_reg_conventions(options):
    W, X, y = make_data(9)
    reg = 0.7
    R, dR = regularization(W, reg, **options)
    Wr = W if options["reg_bias"] else W[1:]
    factor = 0.5 * reg if options["reg_mode"] == "half" else reg
    assert R == pytest.approx(factor * np.sum(Wr**2), rel=1e-14)
    expected = 2 * factor * W
    if not options["reg_bias"]:
        expected[0] = 0.0
    np.testing.assert_allclose(dR, expected, rtol=1e-15)
    # reg_bias=False: the bias row of dW is the data gradient's
    p0 = loss_parts("softmax", W, X, y, 0.0)
    p = loss_parts("softmax", W, X, y, reg, **options)
    if not options["reg_bias"]:
        np.testing.assert_array_equal(p.dW[0], p0.dW[0])
    else:
        assert np.abs(p.dW[0] - p0.dW[0]).max() > 0.01
    # full mode doubles the half-mode penalty
    half = loss_parts("hinge", W, X, y, reg, reg_mode="half", reg_bias=options["reg_bias"])
    full = loss_parts("hinge", W, X, y, reg, reg_mode="full", reg_bias=options["reg_bias"])
    assert full.reg_loss == pytest.approx(2 * half.reg_loss, rel=1e-15)


def test_loss008_softmax_invariant_to_a_constant_score_shift():
    W, X, y = make_data(10)
    loss, dW = get_loss("softmax")(W, X, y)
    for c in (-50.0, 3.0, 700.0, 1e4):
        W2 = W.copy()
        W2[0] += c  # the bias row adds c to every score of every sample
        loss2, dW2 = get_loss("softmax")(W2, X, y)
        assert loss2 == pytest.approx(loss, rel=1e-9)
        np.testing.assert_allclose(dW2, dW, rtol=1e-7, atol=1e-12)
        S = losses.scores(W, X)
        Li, G = losses.softmax_scores(S, y)
        Li2, G2 = losses.softmax_scores(S + c, y)
        np.testing.assert_allclose(Li2, Li, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(G2, G, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_loss009_inputs_unchanged(name):
    W, X, y = make_data(11)
    W.flags.writeable = X.flags.writeable = y.flags.writeable = False  # any write raises
    Wc, Xc, yc = W.copy(), X.copy(), y.copy()
    get_loss(name)(W, X, y, 0.5)
    loss_parts(name, W, X, y, 0.5, reg_mode="full", reg_bias=False)
    regularization(W, 0.5)
    S = losses.scores(W, X)
    S.flags.writeable = False
    LOSSES[name].scores_fn(S, y, 1.0)
    naive_loss(name, W, X, y, 0.5)
    check_gradient(name, W, X, y, 0.5, entries=20)
    for a, b in ((W, Wc), (X, Xc), (y, yc)):
        np.testing.assert_array_equal(a, b)


def test_loss010_softmax_finite_for_huge_scores():
    rng = np.random.default_rng(12)
    for N in (5, 20000):  # 20000: P / N must not underflow either
        X = rng.normal(size=(N, 4))
        y = rng.integers(0, 3, N)
        W = rng.normal(size=(5, 3)) * 1e4
        S = losses.scores(W, X)
        assert np.abs(S).max() > 1e4
        with np.errstate(all="raise"):
            p = loss_parts("softmax", W, X, y, 0.1)
            Li, G = losses.softmax_scores(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]), np.array([1, 0]))
        assert np.isfinite(p.loss) and np.isfinite(p.dW).all()
        np.testing.assert_allclose(Li, [2e4, 2e4])
        np.testing.assert_allclose(G, [[1, -1, 0], [-1, 0, 1]], atol=1e-250)


@pytest.mark.parametrize("name", NAMES)
def test_loss011_no_floating_point_warnings_on_ordinary_data(name, mnist_small):
    X, y = mnist_small
    W = np.random.default_rng(13).normal(size=(X.shape[1] + 1, 10)) * 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            p = loss_parts(name, W, X, y, 0.1)
    assert np.isfinite(p.dW).all()


@pytest.mark.parametrize("name", NAMES)
def test_loss012_float64_and_no_bias_column_copy(name):
    rng = np.random.default_rng(14)
    N, D, C = 3000, 300, 10
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, N)
    W = rng.normal(size=(D + 1, C)) * 0.01
    loss_parts(name, W, X, y, 0.1)  # warm-up
    tracemalloc.start()
    try:
        loss_parts(name, W, X, y, 0.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X.nbytes, f"peak {peak} bytes vs X {X.nbytes}: a copy of X was made"
    for Xt in (X.astype(np.float32), (np.abs(X) * 10).astype(np.uint8)):
        p = loss_parts(name, W, Xt, y, 0.1)
        assert p.dW.dtype == np.float64


def test_loss013_errors():
    W, X, y = make_data(15)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("nope")
    with pytest.raises(ValueError):
        loss_parts("softmax", W[1:], X, y)
    with pytest.raises(ValueError):
        loss_parts("softmax", W, X, y[1:])
    with pytest.raises(ValueError, match="reg_mode"):
        loss_parts("softmax", W, X, y, 0.1, reg_mode="double")
    with pytest.raises(ValueError, match="reg_mode"):
        naive_loss("softmax", W, X, y, 0.1, reg_mode="double")


@pytest.mark.parametrize("name", NAMES)
def test_loss014_hinge_family_zero_loss_when_margins_met(name):
    """Scores that separate every sample by more than delta give zero hinge loss
    (and, for softmax, a small positive loss)."""
    N, C = 40, 4
    rng = np.random.default_rng(16)
    y = rng.integers(0, C, N)
    X = np.eye(C)[y] * 10.0  # one-hot features
    W = np.zeros((C + 1, C))
    W[1:] = np.eye(C)  # score of the true class 10, others 0
    W[0] = -5.0  # bias: others at -5, true class at +5
    loss, dW = get_loss(name)(W, X, y)
    if LOSSES[name].is_hinge:
        assert loss == 0.0 and not dW.any()
    else:
        assert 0 < loss < 1e-3
