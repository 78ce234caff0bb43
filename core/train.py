"""Minibatch SGD with momentum for the linear classifiers of :mod:`core.losses`.

Shapes follow :mod:`core.losses`: ``X`` (N, D) without a bias column, ``y`` (N,)
labels in 0..C-1, ``W`` (D+1, C) with the bias in row 0.

One *step* is one parameter update on one minibatch. An epoch is one pass over
a fresh seeded permutation of the training set, in ``ceil(N / batch_size)``
steps (the last one smaller when ``batch_size`` does not divide N). With
``batch_size >= N`` every step uses all of X (plain full-batch gradient
descent) without copying it. The update is the heavy-ball one of CS231n::

    v <- momentum * v - lr_t * dW(W; batch_t)
    W <- W + v

with the learning rate ``lr_t`` of step t = 1..T given by ``schedule`` (see
:func:`learning_rate`):

* ``"step"`` (default): ``lr_t = lr * lr_decay ** floor((t - 1) / decay_steps)``,
  ``decay_steps = round(decay_every * steps_per_epoch)``.
* ``"inverse"``: ``lr_t = lr / (1 + (t - 1) / t0)``, ``t0 = decay_steps`` (the rate
  has halved after ``decay_every`` epochs; ``lr_decay`` is unused).
* ``"cosine"``: ``lr_t = lr_min + (lr - lr_min) * (1 + cos(pi * (t - 1) / (T - 1))) / 2``,
  ``lr_min = lr_final * lr``: from ``lr`` at the first step to ``lr_min`` at the
  last (``lr`` throughout when T = 1; ``lr_decay`` is unused).

Every schedule is a pure function of t, so runs stay bit-for-bit reproducible.

Iterate averaging (Polyak-Ruppert, ``average > 0``): the model is the running
mean of the weights after each of the last ``A = min(total, max(1,
round(average * steps_per_epoch)))`` steps, ``W_avg = mean(W_{T-A+1}, ..., W_T)``,
kept incrementally (``W_avg += (W_t - W_avg) / k``, one extra (D+1, C) update
per step). The optimizer itself still steps from the last iterate; once
averaging has begun, ``run.W``, the snapshots, the logged accuracies and the
result are those of the average (``run.W_iterate`` is the last iterate).

:func:`train_steps` streams :class:`Progress` records while it trains (a
generator: nothing is computed before the first ``next``); :func:`train` runs
it to the end, or until a callback asks it to stop, and returns a
:class:`TrainResult`. Everything is seeded: the same config, data and machine
give bit-identical weights.

Divergence: the first step whose loss, gradient or updated weights are not
finite raises :class:`TrainingDiverged` carrying the last finite W and the
history so far. All arithmetic of a step runs under ``np.errstate(all="ignore")``
and is checked explicitly, so no numpy warning escapes and no NaN is logged.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from core.losses import LOSSES, REG_MODES, loss_parts, scores

INITS = ("gaussian", "uniform", "zeros")
SCHEDULES = ("step", "inverse", "cosine")

#: BLAS threads while a training step runs (None: leave the process setting alone).
#: The per-step matrices are small (batch x D by D x C): one thread is as fast
#: as two on an idle machine and many times faster on a busy one, where threaded
#: OpenBLAS spins against other processes. Applied through threadpoolctl when it
#: is installed, only between the yields of a run, and restored before every yield.
BLAS_THREADS: int | None = 1

HISTORY_COLUMNS = ("step", "epoch", "lr", "loss", "data_loss", "reg_loss", "train_acc", "val_acc", "seconds")


# --------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (see the module docstring for the update)."""

    loss: str = "softmax"
    reg: float = 1e-4
    reg_mode: str = "half"
    reg_bias: bool = True
    delta: float = 1.0
    lr: float = 0.03  # tuned for softmax on per-sample standardized MNIST (see RECOMMENDED)
    momentum: float = 0.9
    batch_size: int = 200
    epochs: float = 5.0
    iterations: int | None = None  # overrides epochs when set
    lr_decay: float = 1.0  # multiply lr by lr_decay ...
    decay_every: float = 1.0  # ... every decay_every epochs ("step"; "inverse": epochs to halve the rate)
    schedule: str = "step"  # "step" | "inverse" | "cosine" (see the module doc and learning_rate)
    lr_final: float = 0.0  # "cosine": the last step's rate as a fraction of lr
    average: float = 0.0  # average the iterates of the last `average` epochs (0: off; see module doc)
    init: str = "gaussian"
    seed: int = 0
    log_every: int = 10  # steps between Progress records
    snapshot_every: int = 50  # steps between W copies (always also at the last step)
    eval_max: int = 2000  # accuracies are measured on at most this many samples (fixed seeded subsets)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""

        def real(name, lo=None, hi=None, lo_open=False, hi_open=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, not {v!r}")
            if lo is not None and (v <= lo if lo_open else v < lo):
                raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, not {v!r}")
            if hi is not None and (v >= hi if hi_open else v > hi):
                raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, not {v!r}")

        def integer(name, lo):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Integral):
                raise ValueError(f"{name} must be an integer, not {v!r}")
            if v < lo:
                raise ValueError(f"{name} must be >= {lo}, not {v!r}")

        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        real("reg", lo=0)
        if self.reg_mode not in REG_MODES:
            raise ValueError(f"reg_mode must be one of {', '.join(REG_MODES)}, not {self.reg_mode!r}")
        if not isinstance(self.reg_bias, (bool, np.bool_)):
            raise ValueError(f"reg_bias must be True or False, not {self.reg_bias!r}")
        real("delta", lo=0)
        real("lr", lo=0, lo_open=True)
        real("momentum", lo=0, hi=1, hi_open=True)
        integer("batch_size", 1)
        if self.iterations is None:
            real("epochs", lo=0, lo_open=True)
        else:
            integer("iterations", 1)
        real("lr_decay", lo=0, hi=1, lo_open=True)
        real("decay_every", lo=0, lo_open=True)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        real("lr_final", lo=0, hi=1)
        real("average", lo=0)
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, not {self.init!r}")
        integer("seed", 0)
        integer("log_every", 1)
        integer("snapshot_every", 1)
        integer("eval_max", 1)


#: Settings tuned on full MNIST (``python -m bench.bench_train --tune``: 50,000
#: training images, the best of a grid over preprocessing x lr x reg x schedule
#: -- for the hinge also x iterate averaging x batch/momentum -- on a stratified
#: 10,000-image validation split carved from the training set; the test set
#: never entered; cells within 0.05 points of the best tie, and the fewest
#: epochs win). Per loss: ``(core.data.prepare mode, config)``. Both winners
#: deskew the digits; validation accuracy of the chosen cells: softmax 95.44 %
#: (the best cell, 20 epochs, 95.48 %), hinge 95.37 %. Without deskewing the best cells were softmax on standardized
#: images (lr 0.03, reg 1e-4, 10 epochs, decay 0.7: 92.56 %) and the hinge on
#: [0, 1] pixels (lr 0.1, reg 1e-3, 10 epochs, decay 0.7, last 3 epochs
#: averaged: 92.35 %; bench.bench_train.PIXELS keeps both).
RECOMMENDED: dict[str, tuple[str, TrainConfig]] = {
    "softmax": ("deskew", TrainConfig(loss="softmax", lr=0.3, reg=1e-5, epochs=10, lr_decay=0.7)),
    "hinge": ("deskew", TrainConfig(loss="hinge", lr=0.3, reg=1e-3, epochs=20, lr_decay=0.8, average=5.0)),
}


# --------------------------------------------------------------------------
# records


@dataclass
class Progress:
    """One logged step. ``loss``, ``data_loss`` and ``reg_loss`` are those of the
    step's minibatch at the weights the step started from (the ones its gradient
    was taken at); ``train_acc`` / ``val_acc`` are measured after the update on
    fixed subsets of at most ``eval_max`` samples. ``W`` is a copy of the updated
    weights at snapshot steps, else None."""

    step: int
    n_steps: int
    epoch: float
    lr: float
    loss: float
    data_loss: float
    reg_loss: float
    train_acc: float
    val_acc: float
    W: np.ndarray | None
    seconds: float


class TrainingDiverged(RuntimeError):
    """A loss, gradient or weight became non-finite.

    ``step`` is the step that failed, ``W`` the last finite weights (those the
    step started from; with averaging begun, the average of the iterates so
    far), ``history`` the records yielded before it.
    """

    def __init__(self, message: str, step: int, W: np.ndarray, history: pd.DataFrame):
        super().__init__(message)
        self.step = step
        self.W = W
        self.history = history


@dataclass
class TrainResult:
    W: np.ndarray
    history: pd.DataFrame
    seconds: float
    stopped: str  # "finished" | "diverged: <message>" | "stopped"
    steps: int = 0  # updates actually applied to W


def history_frame(progress_list: Iterable[Progress]) -> pd.DataFrame:
    """One row per Progress, columns :data:`HISTORY_COLUMNS` (W is left out)."""
    rows = [[getattr(p, c) for c in HISTORY_COLUMNS] for p in progress_list]
    df = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    df["step"] = df["step"].astype(np.int64)
    for c in HISTORY_COLUMNS[1:]:
        df[c] = df[c].astype(np.float64)
    return df


# --------------------------------------------------------------------------
# pieces


def init_weights(D: int, C: int, init: str = "gaussian", seed: int = 0) -> np.ndarray:
    """Initial W of shape (D+1, C), float64.

    ``gaussian``: 0.001 * N(0, 1) (CS231n); ``uniform``: U[0, 1) (the notebook);
    ``zeros``. Seeded by ``seed`` alone.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    if D < 0 or C < 1:
        raise ValueError(f"need D >= 0 and C >= 1, got D={D}, C={C}")
    rng = np.random.default_rng(seed)
    if init == "gaussian":
        return 0.001 * rng.standard_normal((D + 1, C))
    if init == "uniform":
        return rng.random((D + 1, C))
    return np.zeros((D + 1, C))


def steps_per_epoch(config: TrainConfig, N: int) -> int:
    return -(-N // min(config.batch_size, N))


def n_steps(config: TrainConfig, N: int) -> int:
    """Number of updates the config asks for on N training samples."""
    if N < 1:
        raise ValueError("no training samples (N = 0)")
    if config.iterations is not None:
        return int(config.iterations)
    return max(1, math.ceil(config.epochs * steps_per_epoch(config, N) - 1e-9))


def learning_rate(config: TrainConfig, t: int, total: int, per_epoch: int) -> float:
    """The learning rate of step ``t`` (1-based) of a ``total``-step run with
    ``per_epoch`` steps per epoch, as ``config.schedule`` says (module doc)."""
    decay_steps = max(1, round(config.decay_every * per_epoch))
    if config.schedule == "inverse":
        return config.lr / (1.0 + (t - 1) / decay_steps)
    if config.schedule == "cosine":
        if total <= 1:
            return config.lr
        lr_min = config.lr_final * config.lr
        return lr_min + (config.lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / (total - 1)))
    return config.lr * config.lr_decay ** ((t - 1) // decay_steps)


def _subset(X, y, k: int, rng: np.random.Generator):
    """At most k rows of (X, y): all of them (no copy) or a fixed random subset."""
    if X.shape[0] <= k:
        return X, y
    idx = np.sort(rng.choice(X.shape[0], size=k, replace=False))
    return X[idx], y[idx]


def _accuracy(W, X, y) -> float:
    with np.errstate(all="ignore"):
        return float(np.mean(scores(W, X).argmax(axis=1) == y))


def _check_data(X, y, name="X"):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"expected {name} (N, D) and labels (N,), got {X.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if y.size and not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"labels of {name} must be integers")
        y = y.astype(np.int64)
    return X, y


class _BlasLimit:
    """Idempotent on/off switch around the compute sections of one run (see
    BLAS_THREADS). Runs may interleave or overlap in threads: the limit is
    reference-counted process-wide, set by the first run that enters and
    restored by the last one that leaves."""

    _lock = threading.Lock()
    _depth = 0
    _limiter = None
    _controller = None  # threadpoolctl.ThreadpoolController once created; False if unavailable

    def __init__(self):
        self._on = False

    def __enter__(self):
        if self._on or BLAS_THREADS is None:
            return self
        cls = _BlasLimit
        with cls._lock:
            if cls._controller is None:
                try:
                    from threadpoolctl import ThreadpoolController

                    cls._controller = ThreadpoolController()
                except Exception:  # not installed, or no BLAS it knows: nothing to limit
                    cls._controller = False
            if not cls._controller:
                return self
            if cls._depth == 0:
                cls._limiter = cls._controller.limit(limits=BLAS_THREADS, user_api="blas")
            cls._depth += 1
            self._on = True
        return self

    def __exit__(self, *exc):
        if self._on:
            cls = _BlasLimit
            with cls._lock:
                cls._depth -= 1
                if cls._depth == 0 and cls._limiter is not None:
                    cls._limiter.restore_original_limits()
                    cls._limiter = None
            self._on = False
        return False


# --------------------------------------------------------------------------
# the training loop


class TrainRun(Generator):
    """The generator returned by :func:`train_steps`.

    Iterate it for :class:`Progress` records. Besides the generator protocol it
    exposes the live state, so a caller that stops early keeps what was learned:
    ``run.W`` (a copy of the current weights), ``run.step`` (updates applied),
    ``run.records`` and ``run.history`` (a DataFrame of the records so far).
    """

    def __init__(
        self,
        X,
        y,
        config: TrainConfig,
        W0=None,
        X_val=None,
        y_val=None,
        *,
        n_classes: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        config.validate()
        X, y = _check_data(X, y)
        N, D = X.shape
        if N == 0:
            raise ValueError("no training samples (N = 0)")
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        if X_val is not None:
            X_val, y_val = _check_data(X_val, y_val, "X_val")
            if X_val.shape[1] != D:
                raise ValueError(f"X_val has {X_val.shape[1]} features, X has {D}")
            if X_val.shape[0] == 0:
                X_val = y_val = None
        if W0 is not None:
            W0 = np.array(W0, dtype=np.float64)  # a copy: the caller's W0 is never touched
            if W0.ndim != 2 or W0.shape[0] != D + 1:
                raise ValueError(f"W0 must have shape (D+1, C) = ({D + 1}, C), got {W0.shape}")
            if not np.isfinite(W0).all():
                raise ValueError("W0 contains non-finite values")
            C = W0.shape[1]
        elif n_classes is not None:
            C = int(n_classes)
        else:
            C = int(max(y.max(), -1 if y_val is None or y_val.size == 0 else y_val.max())) + 1
        for labels, name in ((y, "y"), (y_val, "y_val")):
            if labels is not None and labels.size and (labels.min() < 0 or labels.max() >= C):
                raise ValueError(f"{name} must hold labels in 0..{C - 1}")
        self.config = config
        self.n_steps = n_steps(config, N)
        self.records: list[Progress] = []
        self.step = 0
        self.stopped = False  # set when should_stop ended the run early
        self._W = W0 if W0 is not None else init_weights(D, C, config.init, config.seed)
        self._W_avg: np.ndarray | None = None  # running mean of the iterates (averaging only)
        self._gen = self._run(X, y, X_val, y_val, should_stop)

    @property
    def W(self) -> np.ndarray:
        """A copy of the model's current (always finite) weights: the average of
        the iterates once averaging has begun, else the last iterate."""
        return (self._W if self._W_avg is None else self._W_avg).copy()

    @property
    def W_iterate(self) -> np.ndarray:
        """A copy of the last SGD iterate (equal to ``W`` without averaging)."""
        return self._W.copy()

    @property
    def history(self) -> pd.DataFrame:
        return history_frame(self.records)

    # generator protocol
    def send(self, value):
        return self._gen.send(value)

    def throw(self, *args):
        return self._gen.throw(*args)

    def close(self):
        self._gen.close()

    def _run(self, X, y, X_val, y_val, should_stop) -> Iterator[Progress]:
        cfg = self.config
        N = X.shape[0]
        B = min(cfg.batch_size, N)
        per_epoch = steps_per_epoch(cfg, N)
        total = self.n_steps
        n_avg = min(total, max(1, round(cfg.average * per_epoch))) if cfg.average > 0 else 0
        avg_from = total - n_avg + 1  # first step whose iterate enters the average
        seeds = np.random.SeedSequence(cfg.seed).spawn(3)
        batch_rng = np.random.default_rng(seeds[0])
        X_tr_eval, y_tr_eval = _subset(X, y, cfg.eval_max, np.random.default_rng(seeds[1]))
        if X_val is not None:
            X_va_eval, y_va_eval = _subset(X_val, y_val, cfg.eval_max, np.random.default_rng(seeds[2]))
        opts = dict(delta=cfg.delta, reg_mode=cfg.reg_mode, reg_bias=cfg.reg_bias)
        W = self._W
        W_next = np.empty_like(W)
        v = np.zeros_like(W)
        perm = None
        t0 = time.perf_counter()
        blas = _BlasLimit().__enter__()
        try:
            for t in range(1, total + 1):
                pos = (t - 1) % per_epoch
                if B == N:
                    Xb, yb = X, y
                else:
                    if pos == 0:
                        perm = batch_rng.permutation(N)
                    idx = perm[pos * B : (pos + 1) * B]
                    Xb, yb = X[idx], y[idx]
                lr = learning_rate(cfg, t, total, per_epoch)
                with np.errstate(all="ignore"):
                    parts = loss_parts(cfg.loss, W, Xb, yb, cfg.reg, **opts)
                    dW = parts.dW
                    if not (math.isfinite(parts.loss) and np.isfinite(dW).all()):
                        self._diverge(t, lr, "the loss" if not math.isfinite(parts.loss) else "the gradient")
                    v *= cfg.momentum
                    dW *= lr
                    v -= dW
                    np.add(W, v, out=W_next)
                    if not np.isfinite(W_next).all():
                        self._diverge(t, lr, "the weights")
                W, W_next = W_next, W
                self._W = W
                if t >= avg_from:
                    k = t - avg_from + 1
                    if k == 1:
                        self._W_avg = W.copy()
                    else:  # running mean; the iterate is finite, so is the mean
                        with np.errstate(all="ignore"):
                            self._W_avg += (W - self._W_avg) / k
                self.step = t

                stop = should_stop is not None and bool(should_stop())
                last = t == total or stop
                snap = last or t % cfg.snapshot_every == 0
                if last or snap or t == 1 or t % cfg.log_every == 0:
                    M = W if self._W_avg is None else self._W_avg  # the model
                    p = Progress(
                        step=t,
                        n_steps=total,
                        epoch=t / per_epoch,
                        lr=lr,
                        loss=parts.loss,
                        data_loss=parts.data_loss,
                        reg_loss=parts.reg_loss,
                        train_acc=_accuracy(M, X_tr_eval, y_tr_eval),
                        val_acc=_accuracy(M, X_va_eval, y_va_eval) if X_val is not None else math.nan,
                        W=M.copy() if snap else None,
                        seconds=time.perf_counter() - t0,
                    )
                    self.records.append(p)
                    blas.__exit__()  # the caller's own BLAS work runs with its usual threads
                    yield p
                    blas.__enter__()
                if stop:
                    self.stopped = True
                    return
        finally:
            blas.__exit__()

    def _diverge(self, step: int, lr: float, what: str):
        cfg = self.config
        hint = f"try a smaller learning rate, e.g. lr={lr / 10:.3g}"
        if cfg.reg * lr > 1:
            hint += f" (lr * reg = {cfg.reg * lr:.3g} > 1 also makes the regularization step overshoot)"
        msg = (
            f"training diverged at step {step} of {self.n_steps}: {what} became non-finite "
            f"with learning rate {lr:.3g}; {hint}"
        )
        raise TrainingDiverged(msg, step=step, W=self.W, history=self.history)


def train_steps(
    X, y, config: TrainConfig, W0=None, X_val=None, y_val=None, *, n_classes: int | None = None
) -> TrainRun:
    """Train lazily, yielding :class:`Progress` at step 1, every ``log_every``
    steps, every ``snapshot_every`` steps (with a copy of W) and at the last step.

    The caller may stop iterating at any point; ``run.W`` then holds the weights
    of the last completed step. Raises :class:`TrainingDiverged` on the first
    non-finite loss, gradient or weight. The config and data are checked when
    this is called (ValueError), before anything is yielded.
    ``n_classes`` defaults to ``W0.shape[1]`` or ``max(y, y_val) + 1``.
    """
    return TrainRun(X, y, config, W0, X_val, y_val, n_classes=n_classes)


def train(
    X,
    y,
    config: TrainConfig,
    W0=None,
    X_val=None,
    y_val=None,
    on_progress: Callable[[Progress], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    n_classes: int | None = None,
) -> TrainResult:
    """Run training to the end and return the weights and history.

    ``on_progress(p)`` is called with every Progress; ``should_stop()`` is asked
    after every step and, when true, ends the run after that step (logged, with a
    snapshot) with ``stopped="stopped"``. Divergence does not raise: the result
    holds the last finite W and ``stopped="diverged: <message>"``.
    """
    t0 = time.perf_counter()
    run = TrainRun(X, y, config, W0, X_val, y_val, n_classes=n_classes, should_stop=should_stop)
    try:
        for p in run:
            if on_progress is not None:
                on_progress(p)
    except TrainingDiverged as e:
        return TrainResult(e.W, e.history, time.perf_counter() - t0, f"diverged: {e}", run.step)
    status = "stopped" if run.stopped else "finished"
    return TrainResult(run.W, run.history, time.perf_counter() - t0, status, run.step)


__all__ = [
    "HISTORY_COLUMNS",
    "INITS",
    "RECOMMENDED",
    "SCHEDULES",
    "Progress",
    "TrainConfig",
    "TrainResult",
    "TrainRun",
    "TrainingDiverged",
    "history_frame",
    "init_weights",
    "learning_rate",
    "n_steps",
    "steps_per_epoch",
    "train",
    "train_steps",
]
