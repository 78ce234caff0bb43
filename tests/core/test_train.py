"""Training: seeded minibatch SGD that streams progress, stops safely and reports divergence."""

from __future__ import annotations

import dataclasses
import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import core.train as train_mod
from core import data
from core.losses import LOSSES, REG_MODES, loss_parts
from core.metrics import accuracy
from core.train import (
    HISTORY_COLUMNS,
    INITS,
    Progress,
    TrainConfig,
    TrainingDiverged,
    history_frame,
    init_weights,
    n_steps,
    train,
    train_steps,
)
from tests.core.synthetic import blobs

ALL_LOSSES = list(LOSSES)
REG_OPTIONS = [(mode, bias) for mode in REG_MODES for bias in (True, False)]
# learning rates that train every loss stably on the per-sample standardized sample
LR = {"softmax": 0.01, "hinge": 0.003, "ova-hinge": 0.003, "structured-hinge": 0.003}


@pytest.fixture(scope="module")
def sample():
    """The built-in MNIST sample, per-sample standardized: 10,000 train / 2,000 test."""
    return data.prepare(data.load_builtin(), 10000, 2000, mode="standardize")


def quiet(fn, *args, **kwargs):
    """Call fn with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------
# config and pieces


def test_train001_default_config_is_valid_and_documented_defaults():
    cfg = TrainConfig()
    cfg.validate()
    assert (cfg.loss, cfg.momentum, cfg.batch_size, cfg.init) == ("softmax", 0.9, 200, "gaussian")
    assert INITS == ("gaussian", "uniform", "zeros")


@pytest.mark.parametrize(
    "field, value",
    [
        ("loss", "nope"),
        ("reg", -1.0),
        ("reg", math.nan),
        ("reg_mode", "double"),
        ("reg_bias", "yes"),
        ("delta", -0.5),
        ("lr", 0.0),
        ("lr", math.inf),
        ("momentum", 1.0),
        ("momentum", -0.1),
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("epochs", 0.0),
        ("iterations", 0),
        ("iterations", True),
        ("lr_decay", 0.0),
        ("lr_decay", 1.5),
        ("decay_every", 0.0),
        ("init", "ones"),
        ("seed", -1),
        ("log_every", 0),
        ("snapshot_every", 0),
        ("eval_max", 0),
    ],
)
def test_train002_validate_names_the_bad_field(field, value):
    cfg = dataclasses.replace(TrainConfig(), **{field: value})
    with pytest.raises(ValueError, match=field):
        cfg.validate()
    X, y = blobs()
    with pytest.raises(ValueError, match=field):  # checked when the run is created, before any step
        train_steps(X, y, cfg)


def test_train003_init_weights_distributions_and_seeding():
    D, C = 784, 10
    g = init_weights(D, C, "gaussian", seed=1)
    u = init_weights(D, C, "uniform", seed=1)
    z = init_weights(D, C, "zeros", seed=1)
    for W in (g, u, z):
        assert W.shape == (D + 1, C) and W.dtype == np.float64
    assert 0.0009 < g.std() < 0.0011 and abs(g.mean()) < 1e-4
    assert u.min() >= 0.0 and u.max() < 1.0 and 0.48 < u.mean() < 0.52
    assert not z.any()
    assert np.array_equal(g, init_weights(D, C, "gaussian", seed=1))
    assert not np.array_equal(g, init_weights(D, C, "gaussian", seed=2))
    with pytest.raises(ValueError, match="init"):
        init_weights(D, C, "ones")


def test_train004_n_steps_counts_epochs_iterations_and_partial_batches():
    cfg = TrainConfig(batch_size=200, epochs=5)
    assert n_steps(cfg, 10000) == 250
    assert n_steps(cfg, 10001) == 5 * 51  # the last batch of each epoch holds one sample
    assert n_steps(dataclasses.replace(cfg, epochs=0.5), 1000) == 3  # ceil(0.5 * 5)
    assert n_steps(dataclasses.replace(cfg, iterations=7), 10000) == 7
    assert n_steps(dataclasses.replace(cfg, batch_size=10**6, epochs=3), 50) == 3  # full batch


# --------------------------------------------------------------------------
# learning


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_train005_loss_decreases_on_builtin_sample(sample, loss):
    X, y = sample.X_train, sample.y_train
    cfg = TrainConfig(loss=loss, lr=LR[loss], epochs=2, log_every=5)
    W0 = init_weights(X.shape[1], 10, cfg.init, cfg.seed)
    res = quiet(train, X, y, cfg, X_val=sample.X_test, y_val=sample.y_test)
    assert res.stopped == "finished"
    h = res.history
    first = loss_parts(loss, W0, X, y, cfg.reg).loss
    last = loss_parts(loss, res.W, X, y, cfg.reg).loss
    assert last < 0.5 * first, (first, last)
    # the logged minibatch losses go down too: the last fifth averages well below the first record
    assert h["loss"].tail(len(h) // 5).mean() < 0.5 * h["loss"].iloc[0]
    assert accuracy(res.W, sample.X_test, sample.y_test) > 0.8
    assert h["val_acc"].iloc[-1] > 0.8


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_train006_overfits_20_examples(sample, loss):
    X, y = sample.X_train[:20], sample.y_train[:20]
    cfg = TrainConfig(loss=loss, lr=LR[loss], reg=0.0, batch_size=20, iterations=300, log_every=50)
    res = quiet(train, X, y, cfg, n_classes=10)
    assert res.stopped == "finished" and res.steps == 300
    assert accuracy(res.W, X, y) == 1.0
    assert res.history["train_acc"].iloc[-1] == 1.0


def test_train007_same_seed_same_weights_bit_for_bit(sample):
    X, y = sample.X_train[:3000], sample.y_train[:3000]
    cfg = TrainConfig(epochs=2, lr=0.01, seed=3, lr_decay=0.5)
    a, b = train(X, y, cfg), train(X, y, cfg)
    assert np.array_equal(a.W, b.W)
    cols = [c for c in HISTORY_COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(a.history[cols], b.history[cols])
    c = train(X, y, dataclasses.replace(cfg, seed=4))
    assert not np.array_equal(a.W, c.W)


def test_train008_full_batch_is_plain_gradient_descent_with_momentum():
    X, y = blobs(n=50)
    cfg = TrainConfig(
        loss="hinge",
        lr=0.05,
        reg=1e-2,
        momentum=0.5,
        batch_size=1000,
        iterations=25,
        lr_decay=0.5,
        decay_every=10.0,
    )
    res = train(X, y, cfg)
    W = init_weights(X.shape[1], 3, cfg.init, cfg.seed)
    v = np.zeros_like(W)
    for t in range(25):
        lr = 0.05 * 0.5 ** (t // 10)  # one step per epoch: decay every 10 steps
        v = 0.5 * v - lr * loss_parts("hinge", W, X, y, 1e-2).dW
        W = W + v
    np.testing.assert_allclose(res.W, W, rtol=1e-12, atol=1e-15)
    assert list(res.history["lr"].iloc[[0, -1]]) == [0.05, 0.05 * 0.25]


def test_train009_each_epoch_visits_every_sample_once(monkeypatch):
    N = 103
    X = np.arange(N, dtype=np.float64)[:, None] * np.ones((1, 2))  # column 0 = sample id
    y = np.arange(N) % 3
    seen = []
    real = train_mod.loss_parts

    def spy(name, W, Xb, yb, *a, **k):
        seen.append(Xb[:, 0].astype(int))
        return real(name, W, Xb, yb, *a, **k)

    monkeypatch.setattr(train_mod, "loss_parts", spy)
    cfg = TrainConfig(lr=1e-4, batch_size=20, epochs=3)
    train(X, y, cfg)
    assert len(seen) == 3 * 6 and [len(b) for b in seen[:6]] == [20, 20, 20, 20, 20, 3]
    epochs = [np.concatenate(seen[6 * e : 6 * (e + 1)]) for e in range(3)]
    for ids in epochs:
        assert sorted(ids) == list(range(N))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


# --------------------------------------------------------------------------
# streaming and stopping


def test_train010_progress_streams_before_later_steps_run(monkeypatch):
    X, y = blobs()
    calls = []
    real = train_mod.loss_parts
    monkeypatch.setattr(train_mod, "loss_parts", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = train_steps(X, y, TrainConfig(batch_size=30, epochs=5, log_every=4))
    assert calls == []  # nothing runs before the first next()
    p = next(run)
    assert isinstance(p, Progress) and p.step == 1 and len(calls) == 1 and run.step == 1
    p = next(run)
    assert p.step == 4 and len(calls) == 4
    rest = list(run)
    assert rest[-1].step == run.n_steps == 50 and len(calls) == 50


def test_train011_breaking_out_keeps_usable_weights(sample):
    X, y = sample.X_train, sample.y_train
    cfg = TrainConfig(epochs=5, lr=0.01, log_every=10, snapshot_every=20)
    run = train_steps(X, y, cfg)
    for p in run:
        if p.step == 70:
            break
    run.close()
    W = run.W
    assert run.step == 70 and np.isfinite(W).all()
    assert accuracy(W, sample.X_test, sample.y_test) > 0.8
    # what it learned is exactly what a 70-step run learns
    assert np.array_equal(W, train(X, y, dataclasses.replace(cfg, iterations=70)).W)
    assert list(run.history["step"]) == [1, 10, 20, 30, 40, 50, 60, 70]


def test_train012_should_stop_ends_after_that_step_with_a_snapshot():
    X, y = blobs()
    cfg = TrainConfig(batch_size=30, epochs=5, log_every=10, snapshot_every=100)
    asked = []
    seen = []

    def should_stop():
        asked.append(1)
        return len(asked) == 13

    res = train(X, y, cfg, on_progress=seen.append, should_stop=should_stop)
    assert res.stopped == "stopped" and res.steps == 13
    assert [p.step for p in seen] == [1, 10, 13] and seen[-1].W is not None
    assert np.array_equal(seen[-1].W, res.W)
    assert np.array_equal(res.W, train(X, y, dataclasses.replace(cfg, iterations=13)).W)


def test_train013_records_and_snapshots_where_configured():
    X, y = blobs(n=100)
    cfg = TrainConfig(batch_size=10, iterations=55, log_every=10, snapshot_every=25)
    ps = list(train_steps(X, y, cfg))
    assert [p.step for p in ps] == [1, 10, 20, 25, 30, 40, 50, 55]
    assert [p.step for p in ps if p.W is not None] == [25, 50, 55]
    assert all(p.n_steps == 55 for p in ps)
    assert ps[-1].epoch == 5.5 and all(b.seconds >= a.seconds for a, b in zip(ps, ps[1:], strict=False))
    snap = ps[3].W
    snap_copy = snap.copy()
    list(train_steps(X, y, cfg))
    assert np.array_equal(snap, snap_copy)  # snapshots are copies, not views of live weights


# --------------------------------------------------------------------------
# divergence and extreme settings


def test_train014_huge_learning_rate_raises_diverged_with_last_finite_weights(sample):
    X, y = sample.X_train, sample.y_train
    cfg = TrainConfig(lr=1e6, epochs=5, log_every=1)  # the defaults otherwise
    records = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged) as info:
            for p in train_steps(X, y, cfg):
                records.append(p)
    e = info.value
    assert e.step > 1 and f"step {e.step}" in str(e) and "smaller learning rate" in str(e)
    assert np.isfinite(e.W).all()
    assert len(e.history) == len(records) == e.step - 1  # log_every=1: every finite step was logged
    assert np.isfinite(e.history.drop(columns="val_acc").to_numpy()).all()
    assert np.array_equal(e.W, train(X, y, dataclasses.replace(cfg, iterations=e.step - 1)).W)


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_train015_train_never_raises_on_divergence(loss):
    X, y = blobs()
    res = quiet(train, X, y, TrainConfig(loss=loss, lr=1e6, reg=1.0, batch_size=50, epochs=20))
    assert res.stopped.startswith("diverged: training diverged at step ")
    assert "smaller learning rate" in res.stopped
    assert np.isfinite(res.W).all()
    assert not res.history.drop(columns="val_acc").isna().any().any()


@pytest.mark.parametrize("loss", ALL_LOSSES)
@pytest.mark.parametrize("reg_mode, reg_bias", REG_OPTIONS)
@pytest.mark.parametrize("reg, lr", [(1e12, 1e-3), (0.0, 1e8), (1e3, 1e3)])
def test_train016_extreme_settings_never_crash_or_warn(loss, reg_mode, reg_bias, reg, lr):
    X, y = blobs(n=120)
    cfg = TrainConfig(
        loss=loss, reg=reg, lr=lr, reg_mode=reg_mode, reg_bias=reg_bias, batch_size=40, epochs=30, log_every=1
    )
    res = quiet(train, X, y, cfg, X_val=X[:20], y_val=y[:20])
    assert res.stopped == "finished" or res.stopped.startswith("diverged: ")
    assert np.isfinite(res.W).all()
    assert np.isfinite(res.history.to_numpy()).all()


# --------------------------------------------------------------------------
# every loss and regularization option


@pytest.mark.parametrize("loss", ALL_LOSSES)
@pytest.mark.parametrize("reg_mode, reg_bias", REG_OPTIONS)
def test_train017_every_loss_and_reg_option_trains_and_logs_consistent_parts(loss, reg_mode, reg_bias):
    X, y = blobs(n=200, d=4, c=4)
    cfg = TrainConfig(
        loss=loss,
        reg=0.05,
        reg_mode=reg_mode,
        reg_bias=reg_bias,
        lr=0.02,
        batch_size=1000,
        epochs=40,
        log_every=1,
        init="uniform",
        delta=2.0,
    )
    W0 = init_weights(4, 4, "uniform", cfg.seed)
    res = quiet(train, X, y, cfg)
    h = res.history
    assert res.stopped == "finished" and len(h) == 40
    np.testing.assert_allclose(h["loss"], h["data_loss"] + h["reg_loss"], rtol=1e-12)
    # step 1 logs the loss of the full batch at the initial weights
    p0 = loss_parts(loss, W0, X, y, 0.05, delta=2.0, reg_mode=reg_mode, reg_bias=reg_bias)
    assert h["loss"].iloc[0] == pytest.approx(p0.loss, rel=1e-12)
    assert h["reg_loss"].iloc[0] == pytest.approx(p0.reg_loss, rel=1e-12)
    final = loss_parts(loss, res.W, X, y, 0.05, delta=2.0, reg_mode=reg_mode, reg_bias=reg_bias).loss
    assert final < p0.loss
    assert accuracy(res.W, X, y) > 0.9


@pytest.mark.parametrize("init", INITS)
def test_train018_inits_and_w0(init):
    X, y = blobs()
    res = train(X, y, TrainConfig(init=init, iterations=1, lr=1e-12, momentum=0.0))
    np.testing.assert_allclose(res.W, init_weights(5, 3, init, 0), atol=1e-9)
    W0 = np.full((6, 3), 0.5)
    before = W0.copy()
    res = train(X, y, TrainConfig(init=init, iterations=3, lr=1e-12), W0=W0)
    assert np.array_equal(W0, before)  # never mutated
    np.testing.assert_allclose(res.W, W0, atol=1e-9)  # started from W0, not from the init
    assert not np.array_equal(train(X, y, TrainConfig(init=init, iterations=3), W0=W0).W, W0)  # and trained
    with pytest.raises(ValueError, match="W0"):
        train(X, y, TrainConfig(), W0=np.zeros((5, 3)))


# --------------------------------------------------------------------------
# history and evaluation subsets


def test_train019_history_frame_columns_dtypes_and_csv_roundtrip():
    X, y = blobs()
    res = train(X, y, TrainConfig(batch_size=30, epochs=3, log_every=5))
    h = res.history
    assert tuple(h.columns) == HISTORY_COLUMNS
    assert h["step"].dtype == np.int64 and all(h[c].dtype == np.float64 for c in HISTORY_COLUMNS[1:])
    assert h["val_acc"].isna().all()
    back = pd.read_csv(io.StringIO(h.to_csv(index=False)))
    pd.testing.assert_frame_equal(back, h, check_exact=False, rtol=1e-12)
    empty = history_frame([])
    assert tuple(empty.columns) == HISTORY_COLUMNS and len(empty) == 0


def test_train020_accuracies_use_fixed_subsets_of_at_most_eval_max():
    X, y = blobs(n=500)
    Xv, yv = blobs(n=400, seed=1)
    cfg = TrainConfig(batch_size=50, epochs=2, log_every=1, eval_max=7)
    h = train(X, y, cfg, X_val=Xv, y_val=yv).history
    for col in ("train_acc", "val_acc"):
        k = h[col].to_numpy() * 7
        np.testing.assert_allclose(k, np.round(k), atol=1e-9)  # fractions of 7 samples
    full = train(X, y, dataclasses.replace(cfg, eval_max=10**6), X_val=Xv, y_val=yv)
    assert full.history["val_acc"].iloc[-1] == accuracy(full.W, Xv, yv)


def test_train021_rejects_bad_data():
    X, y = blobs()
    with pytest.raises(ValueError):
        train(X, y[:-1], TrainConfig())
    with pytest.raises(ValueError, match="X_val"):
        train(X, y, TrainConfig(), X_val=X)
    with pytest.raises(ValueError, match="y must hold labels"):
        train(X, y, TrainConfig(), W0=np.zeros((6, 2)))
    with pytest.raises(ValueError, match="N = 0"):
        train(X[:0], y[:0], TrainConfig())


def test_train022_recommended_presets_are_valid_and_train_the_sample(sample):
    from core.train import RECOMMENDED

    assert set(RECOMMENDED) >= {"softmax", "hinge"}
    for loss, (mode, cfg) in RECOMMENDED.items():
        assert mode in data.PREPROCESSING and cfg.loss == loss
        cfg.validate()
    # one epoch of each preset, on the built-in sample prepared its way, already works
    ds = data.load_builtin()
    for loss, (mode, cfg) in RECOMMENDED.items():
        p = data.prepare(ds, 10000, 2000, mode=mode)
        res = quiet(train, p.X_train, p.y_train, dataclasses.replace(cfg, epochs=1))
        assert res.stopped == "finished", loss
        assert accuracy(res.W, p.X_test, p.y_test) > 0.85, loss
