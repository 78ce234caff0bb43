"""Learning-rate schedules in core.train: ``TrainConfig.schedule`` ("step", "inverse", "cosine")."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from core.losses import loss_parts
from core.train import SCHEDULES, TrainConfig, init_weights, learning_rate, train
from tests.core.synthetic import blobs


def by_hand(X, y, cfg: TrainConfig, lrs) -> np.ndarray:
    """Full-batch heavy-ball steps with the given learning rates, written out by hand."""
    W = init_weights(X.shape[1], int(y.max()) + 1, cfg.init, cfg.seed)
    v = np.zeros_like(W)
    for lr in lrs:
        v = cfg.momentum * v - lr * loss_parts(cfg.loss, W, X, y, cfg.reg, delta=cfg.delta).dW
        W = W + v
    return W


def test_sched001_default_is_the_step_schedule():
    cfg = TrainConfig(lr=0.5, lr_decay=0.5, decay_every=2.0)
    assert cfg.schedule == "step" and SCHEDULES == ("step", "inverse", "cosine")
    # 3 steps per epoch: decay every 6 steps
    got = [learning_rate(cfg, t, 30, 3) for t in range(1, 14)]
    assert got == [0.5] * 6 + [0.25] * 6 + [0.125]


def test_sched002_inverse_halves_after_decay_every_epochs():
    cfg = TrainConfig(lr=0.3, schedule="inverse", decay_every=2.0, lr_decay=0.1)  # lr_decay unused
    per_epoch = 5  # t0 = 10 steps
    assert learning_rate(cfg, 1, 100, per_epoch) == 0.3
    assert learning_rate(cfg, 11, 100, per_epoch) == pytest.approx(0.15, rel=1e-15)
    assert learning_rate(cfg, 31, 100, per_epoch) == pytest.approx(0.075, rel=1e-15)
    lrs = [learning_rate(cfg, t, 100, per_epoch) for t in range(1, 101)]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


@pytest.mark.parametrize("lr_final", [0.0, 0.01, 1.0])
def test_sched003_cosine_runs_from_lr_to_lr_final(lr_final):
    cfg = TrainConfig(lr=0.2, schedule="cosine", lr_final=lr_final)
    T = 41
    lrs = [learning_rate(cfg, t, T, 7) for t in range(1, T + 1)]
    assert lrs[0] == 0.2
    assert lrs[-1] == pytest.approx(0.2 * lr_final, abs=1e-17)
    assert lrs[20] == pytest.approx(0.1 * (1 + lr_final), rel=1e-14)  # halfway
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    assert learning_rate(cfg, 1, 1, 1) == 0.2  # a one-step run keeps lr


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_sched004_training_follows_the_schedule(schedule):
    X, y = blobs(n=60)
    cfg = TrainConfig(
        loss="hinge",
        lr=0.05,
        reg=1e-2,
        momentum=0.5,
        batch_size=1000,  # full batch: one step per epoch
        iterations=12,
        lr_decay=0.7,
        decay_every=3.0,
        schedule=schedule,
        lr_final=0.1,
        log_every=1,
    )
    res = train(X, y, cfg)
    lrs = [learning_rate(cfg, t, 12, 1) for t in range(1, 13)]
    np.testing.assert_allclose(res.W, by_hand(X, y, cfg, lrs), rtol=1e-12, atol=1e-15)
    assert list(res.history["lr"]) == lrs


@pytest.mark.parametrize("schedule", ["inverse", "cosine"])
def test_sched005_seeded_bit_for_bit(schedule):
    X, y = blobs(n=500, d=8, c=4)
    cfg = TrainConfig(
        loss="hinge", lr=0.05, batch_size=50, epochs=4, schedule=schedule, lr_final=0.01, average=2.0, seed=3
    )
    a, b = train(X, y, cfg), train(X, y, cfg)
    assert np.array_equal(a.W, b.W)
    cols = ["step", "lr", "loss", "train_acc"]
    assert a.history[cols].equals(b.history[cols])
    assert not np.array_equal(a.W, train(X, y, dataclasses.replace(cfg, seed=4)).W)
    assert not np.array_equal(a.W, train(X, y, dataclasses.replace(cfg, schedule="step")).W)


@pytest.mark.parametrize(
    "field, value",
    [
        ("schedule", "linear"),
        ("schedule", None),
        ("lr_final", -0.1),
        ("lr_final", 1.5),
        ("lr_final", math.nan),
        ("lr_final", True),
    ],
)
def test_sched006_validate_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TrainConfig(), **{field: value}).validate()


def test_sched007_cli_flags_reach_the_schedule(tmp_path, capsys):
    from core.cli import main as cli_main

    argv = ["train", "--loss", "hinge", "--lr", "0.01", "--n-train", "300", "--n-val", "0", "--n-test", "100",
            "--epochs", "3", "--batch", "50", "--json", "--save"]
    runs = {}
    for name, extra in [("step", []), ("cosine", ["--schedule", "cosine", "--lr-final", "0.1"]),
                        ("inverse", ["--schedule", "inverse", "--decay-every", "0.5"])]:
        assert cli_main(argv + [str(tmp_path / f"{name}.npz")] + extra) == 0
        assert json.loads(capsys.readouterr().out)["stopped"] == "finished"
        with np.load(tmp_path / f"{name}.npz") as f:
            runs[name] = f["W"]
    assert not np.array_equal(runs["step"], runs["cosine"])
    assert not np.array_equal(runs["step"], runs["inverse"])
    for bad in (["--schedule", "linear"], ["--lr-final", "2"], ["--decay-every", "0"]):
        assert cli_main(["train"] + bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and bad[0].lstrip("-").split("-")[0] in err[0]
