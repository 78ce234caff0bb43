"""Iterate averaging (Polyak-Ruppert) in core.train: ``TrainConfig.average``."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest

from core.cli import main as cli_main
from core.losses import loss_parts
from core.metrics import accuracy
from core.train import TrainConfig, TrainingDiverged, init_weights, train, train_steps
from tests.core.synthetic import blobs


def iterates(X, y, cfg: TrainConfig, steps: int) -> list[np.ndarray]:
    """W after each of ``steps`` full-batch heavy-ball steps, written out by hand."""
    W = init_weights(X.shape[1], int(y.max()) + 1, cfg.init, cfg.seed)
    v = np.zeros_like(W)
    out = []
    for t in range(steps):
        lr = cfg.lr * cfg.lr_decay ** (t // max(1, round(cfg.decay_every)))
        v = cfg.momentum * v - lr * loss_parts(cfg.loss, W, X, y, cfg.reg, delta=cfg.delta).dW
        W = W + v
        out.append(W)
    return out


@pytest.mark.parametrize("loss", ["hinge", "softmax"])
@pytest.mark.parametrize("average, k", [(4.0, 4), (1.0, 1), (2.6, 3), (25.0, 12), (100.0, 12)])
def test_avg001_averaged_weights_are_the_mean_of_the_last_iterates(loss, average, k):
    # full batch: one step per epoch, so `average` epochs are `average` steps (rounded, at most all 12)
    X, y = blobs(n=60)
    cfg = TrainConfig(
        loss=loss,
        lr=0.05,
        reg=1e-2,
        momentum=0.5,
        batch_size=1000,
        iterations=12,
        lr_decay=0.7,
        decay_every=5.0,
        average=average,
    )
    res = train(X, y, cfg)
    Ws = iterates(X, y, cfg, 12)
    np.testing.assert_allclose(res.W, np.mean(Ws[-k:], axis=0), rtol=1e-12, atol=1e-14)
    # without averaging the same run ends at the last iterate
    plain = train(X, y, dataclasses.replace(cfg, average=0.0))
    np.testing.assert_allclose(plain.W, Ws[-1], rtol=1e-12, atol=1e-15)
    assert k == 1 or not np.allclose(res.W, plain.W)


def test_avg002_minibatch_window_counts_steps_of_the_last_epochs():
    # 100 samples, batch 30: 4 steps per epoch, 3 epochs = 12 steps; average=1.5 -> last 6 steps
    X, y = blobs(n=100)
    cfg = TrainConfig(loss="hinge", lr=0.01, batch_size=30, epochs=3, average=1.5, snapshot_every=1, seed=5)
    run = train_steps(X, y, cfg)
    its = []
    for p in run:
        its.append(run.W_iterate)
        if p.step < 12 - 6 + 1:  # before the window the model is the iterate
            np.testing.assert_array_equal(p.W, its[-1])
        else:
            np.testing.assert_allclose(p.W, np.mean(its[6:], axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(p.W, run.W)  # snapshots are the model, as run.W
    assert len(its) == 12
    assert not np.array_equal(run.W, run.W_iterate)
    # the iterates themselves are those of the run without averaging (the optimizer is untouched)
    plain = train(X, y, dataclasses.replace(cfg, average=0.0))
    np.testing.assert_array_equal(plain.W, its[-1])


def test_avg003_seeded_bit_for_bit_and_off_by_default():
    X, y = blobs(n=500, d=8, c=4)
    assert TrainConfig().average == 0.0
    cfg = TrainConfig(loss="hinge", lr=0.01, batch_size=50, epochs=4, lr_decay=0.8, average=2.0, seed=3)
    a, b = train(X, y, cfg), train(X, y, cfg)
    assert np.array_equal(a.W, b.W)
    cols = ["step", "lr", "loss", "train_acc"]
    assert a.history[cols].equals(b.history[cols])
    assert not np.array_equal(a.W, train(X, y, dataclasses.replace(cfg, seed=4)).W)


def test_avg004_logged_accuracies_are_those_of_the_averaged_model():
    X, y = blobs(n=400, d=6, c=4, spread=1.0)
    Xv, yv = blobs(n=200, d=6, c=4, seed=1, spread=1.0)
    cfg = TrainConfig(loss="hinge", lr=0.05, batch_size=40, epochs=3, average=2.0, eval_max=10**6)
    res = train(X, y, cfg, X_val=Xv, y_val=yv)
    last = res.history.iloc[-1]
    assert last["train_acc"] == accuracy(res.W, X, y)
    assert last["val_acc"] == accuracy(res.W, Xv, yv)


def test_avg005_stopping_early_keeps_the_average_so_far():
    X, y = blobs(n=100)
    cfg = TrainConfig(loss="hinge", lr=0.01, batch_size=25, epochs=5, average=3.0, snapshot_every=1)
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] == 14  # after step 14; the window starts at step 20 - 12 + 1 = 9

    its = []
    res = train(X, y, cfg, on_progress=lambda p: its.append(p.W), should_stop=stop)
    assert res.stopped == "stopped" and res.steps == 14
    np.testing.assert_array_equal(res.W, its[-1])
    # equal to the mean of the 6 iterates 9..14 of the same run without averaging
    plain = []
    train(X, y, dataclasses.replace(cfg, average=0.0, iterations=14), on_progress=lambda p: plain.append(p.W))
    np.testing.assert_allclose(res.W, np.mean(plain[8:14], axis=0), rtol=1e-12, atol=1e-15)


def test_avg006_divergence_returns_the_finite_average():
    X, y = blobs(n=60)
    cfg = TrainConfig(loss="softmax", lr=1e6, reg=1e3, batch_size=1000, iterations=50, average=50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = train(X, y, cfg)
        with pytest.raises(TrainingDiverged) as e:
            list(train_steps(X, y, cfg))
    assert res.stopped.startswith("diverged")
    assert np.isfinite(res.W).all() and np.isfinite(e.value.W).all()


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, "2", True])
def test_avg007_validate_names_average(value):
    with pytest.raises(ValueError, match="average"):
        dataclasses.replace(TrainConfig(), average=value).validate()


def test_avg008_cli_flag(capsys, tmp_path):
    argv = [
        "train",
        "--loss",
        "hinge",
        "--lr",
        "0.003",
        "--n-train",
        "400",
        "--n-val",
        "100",
        "--n-test",
        "100",
        "--epochs",
        "3",
        "--batch",
        "50",
        "--json",
        "--save",
    ]
    assert cli_main(argv + [str(tmp_path / "avg.npz"), "--average", "2"]) == 0
    avg = json.loads(capsys.readouterr().out)
    assert cli_main(argv + [str(tmp_path / "plain.npz")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert avg["stopped"] == plain["stopped"] == "finished" and avg["test_accuracy"] > 0.5
    with np.load(tmp_path / "avg.npz") as a, np.load(tmp_path / "plain.npz") as b:
        assert not np.array_equal(a["W"], b["W"])
    assert cli_main(["train", "--average=-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "average" in err[0] and ">= 0" in err[0]
