"""Training as a Dash background callback, and the callbacks that own the weights.

State flow (all per browser session, nothing in module globals):

* ``weights-store`` holds the current W (base64 float32 + shape) and
  ``history-store`` the curves of the training that produced it. They change
  only at discrete moments: Reset (or a new init, seed or dataset), and when a
  training job ends. The fast path (analysis) and the redraws listen to them.
* **Train** starts :func:`train_job` in the background manager (a separate
  process with Diskcache, a worker with Celery), once :func:`check_train` has
  accepted every value: a rejected one is answered at once, in the train alert,
  and starts nothing (:func:`components.jobs.checked_first`). Roughly every
  :data:`PROGRESS_S` it streams, through ``progress=``, the latest W and
  history into ``train-live-store`` and a ``Patch`` of the templates and
  curves, so the page grows while it runs. Its final value goes to
  ``train-result-store``.
* ``running=`` flips ``train-running-store`` (and disables Train, enables
  Stop). When it flips back to False — the job finished, failed or was
  cancelled by **Stop** — :func:`commit` copies the newest of live/result
  snapshot into ``weights-store`` / ``history-store``. A cancelled job never
  returns, so the streamed snapshot is what Stop keeps.
"""

from __future__ import annotations

import math
import time
import traceback
from typing import NamedTuple

import dash
import numpy as np
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from components import curves, guard, ids, jobs, session, templates
from components.analysis import alert
from core.train import INITS, TrainConfig, TrainingDiverged, train_steps

PROGRESS_S = 0.15  # how often the job streams a snapshot
POLL_MS = 100  # pause between the page's polls (each waits for the previous answer and its redraw)
WATCH_SECONDS = 5.0  # "watch" pace: a short run is slowed to last about this long
MAX_RECORDS = 400  # logged steps per run (each one measures accuracies)


def train_config(
    loss: session.LossChoice, lr_pos, batch_pos, epochs_pos, init, seed, n_train: int
) -> TrainConfig:
    """The TrainConfig for the sidebar's values; logging sized to about :data:`MAX_RECORDS` records."""
    lr = session.pow10(lr_pos, "learning rate", *session.LR_RANGE)
    batch = session._stop(batch_pos, session.BATCH_SIZES, "batch size")
    epochs = session._stop(epochs_pos, session.EPOCH_CHOICES, "epochs")
    seed_v = session._int(seed, "seed", 0, session.SEED_MAX)
    init = session._choice(init, INITS, "initial weights") if init else "gaussian"
    per_epoch = -(-n_train // min(batch, n_train))
    steps = max(1, per_epoch * epochs)
    every = max(1, steps // MAX_RECORDS)
    cfg = TrainConfig(
        loss=loss.loss,
        reg=loss.reg,
        reg_mode=loss.reg_mode,
        reg_bias=loss.reg_bias,
        delta=loss.delta,
        lr=lr,
        batch_size=batch,
        epochs=float(epochs),
        init=init if init else "gaussian",
        seed=seed_v,
        log_every=every,
        snapshot_every=every,
        eval_max=1000,
    )
    cfg.validate()
    return cfg


def _lower_priority() -> None:
    """Run the job below the web server and the browser, at nice ``$LINCLS_JOB_NICE``
    (:func:`components.jobs.lower_priority`): on a small machine a job at full speed
    would otherwise starve the page it is meant to animate."""
    jobs.lower_priority()


def status_text(p, offset: int = 0) -> str:
    val = "" if p.val_acc is None or not math.isfinite(p.val_acc) else f" · val {100 * p.val_acc:.1f}%"
    return (
        f"Step {p.step + offset:,} ({p.step:,} of {p.n_steps:,}) · epoch {p.epoch:.1f} · loss {p.loss:.4g}"
        f" · train {100 * p.train_acc:.1f}%{val}"
    )


def snapshot(run: int, dataset: str, W, history: dict, step: int, origin: str) -> dict:
    """The payload of ``train-live-store`` / ``train-result-store``."""
    return {
        "run": run,
        "step": step,
        "dataset": dataset,
        "weights": session.encode_weights(W, dataset=dataset, origin=origin, run=run, step=step),
        "history": history,
    }


def newest(*snapshots) -> dict | None:
    """The snapshot of the latest run with the most steps (None if there is none)."""
    snaps = [s for s in snapshots if s and s.get("weights")]
    if not snaps:
        return None
    return max(snaps, key=lambda s: (s.get("run", 0), s.get("step", 0)))


class TrainInputs(NamedTuple):
    """A Train request's values, every one checked (see :func:`train_inputs`)."""

    run: int
    pace: str
    scale: str
    history: dict | None
    data: session.DataChoice
    loss: session.LossChoice
    prep: object  # the prepared data (session.prepared)
    cfg: TrainConfig
    W: np.ndarray | None  # the stored weights when they fit the data, else None (start from cfg.init)


def train_inputs(
    n_clicks, dataset, train_size, test_size, preprocessing, loss, delta, reg, reg_mode, reg_bias,
    init, seed, lr, batch, epochs, pace, scale, weights, history, _session,
) -> TrainInputs:  # fmt: skip
    """Check every value of a Train request (the callback's arguments, without
    ``set_progress``); a rejected one raises a ValueError (mostly
    :class:`components.guard.InputError`) that names its control. Used by the
    job and, before a job is started, by :func:`check_train`."""
    run = session.clicks(n_clicks, "Train button")
    session.session_id(_session)
    pace = session._choice(pace, session.PACES, "pace")
    scale = session._choice(scale, (templates.SHARED, templates.PER_CLASS), "templates scale")
    history = session.check_history(history)
    data = session.data_choice(dataset, train_size, test_size, preprocessing)
    lc = session.loss_choice(loss, reg, reg_mode, reg_bias, delta)
    prep = session.prepared(data)
    cfg = train_config(lc, lr, batch, epochs, init, seed, prep.X_train.shape[0])
    shape = (prep.n_features + 1, prep.n_classes)
    if weights and not isinstance(weights, dict):  # (weights of another dataset: start afresh)
        raise session._bad_weights("not an object")
    W = session.decode_weights(weights) if session.weights_fit(weights, data.dataset, shape) else None
    return TrainInputs(run, pace, scale, history, data, lc, prep, cfg, W)


@guard.guarded(outputs=2, alert=1, prefix="Cannot train: ")
def check_train(*args):
    """Train's check before a job is started (:func:`components.jobs.checked_first`):
    None for a request to start, else the job's own answer to it (no new
    result, the message in the train alert)."""
    train_inputs(*args)
    return None


@dash.callback(
    Output(ids.RESULT_STORE, "data"),
    Output(ids.ALERT_TRAIN, "children"),
    Input(ids.TRAIN_BUTTON, "n_clicks"),
    State(ids.DATASET, "value"),
    State(ids.TRAIN_SIZE, "value"),
    State(ids.TEST_SIZE, "value"),
    State(ids.PREPROCESSING, "value"),
    State(ids.LOSS, "value"),
    State(ids.DELTA, "value"),
    State(ids.REG, "value"),
    State(ids.REG_MODE, "value"),
    State(ids.REG_BIAS, "value"),
    State(ids.INIT, "value"),
    State(ids.SEED, "value"),
    State(ids.LR, "value"),
    State(ids.BATCH_SIZE, "value"),
    State(ids.EPOCHS, "value"),
    State(ids.TRAIN_PACE, "value"),
    State(ids.TEMPLATES_SCALE, "value"),
    State(ids.WEIGHTS_STORE, "data"),
    State(ids.HISTORY_STORE, "data"),
    State(ids.SESSION_STORE, "data"),
    background=True,
    interval=POLL_MS,
    progress=[
        Output(ids.LIVE_STORE, "data"),
        Output(ids.TEMPLATES_GRAPH, "figure"),
        Output(ids.CURVES_GRAPH, "figure"),
        Output(ids.TRAIN_PROGRESS, "value"),
        Output(ids.TRAIN_PROGRESS, "max"),
        Output(ids.TRAIN_STATUS, "children"),
    ],
    running=[
        (Output(ids.RUNNING_STORE, "data"), True, False),
        (Output(ids.TRAIN_BUTTON, "disabled"), True, False),
        (Output(ids.STOP_BUTTON, "disabled"), False, True),
        (Output(ids.DATASET, "disabled"), True, False),
        (Output(ids.INIT_FIELDSET, "disabled"), True, False),
        (Output(ids.TEMPLATES_SCALE_FIELDSET, "disabled"), True, False),
        # the numbers and the check describe the weights before this run until it ends
        (Output(ids.SUMMARY, "className"), "numbers stale", "numbers"),
        (Output(ids.GC_VIEW, "className"), "card view view-wide stale", "card view view-wide"),
    ],
    cancel=[Input(ids.STOP_BUTTON, "n_clicks")],
    prevent_initial_call=True,
)
@jobs.checked_first(check_train)
@guard.guarded(outputs=2, alert=1, prefix="Cannot train: ")
def train_job(
    set_progress,
    n_clicks,
    dataset,
    train_size,
    test_size,
    preprocessing,
    loss,
    delta,
    reg,
    reg_mode,
    reg_bias,
    init,
    seed,
    lr,
    batch,
    epochs,
    pace,
    scale,
    weights,
    history,
    _session,
):
    """Minibatch SGD from the current weights, streaming snapshots (see the module docstring)."""
    _lower_priority()
    try:  # checked before the job was started too (check_train); a direct call is checked here
        t = train_inputs(
            n_clicks, dataset, train_size, test_size, preprocessing, loss, delta, reg, reg_mode, reg_bias,
            init, seed, lr, batch, epochs, pace, scale, weights, history, _session,
        )  # fmt: skip
    except ValueError as exc:
        return no_update, alert(f"Cannot train: {exc}")
    run, pace, scale, history, data, lc, prep, cfg, W = t
    if W is None:
        from core.train import init_weights

        W = init_weights(prep.n_features, prep.n_classes, cfg.init, cfg.seed)
    sig = session.objective_signature(data, lc)
    previous = history if history and history.get("sig") == sig else None
    offset = int(previous["step"][-1]) if previous and previous.get("step") else 0
    C, image_shape = prep.n_classes, prep.image_shape

    records = []
    started = time.perf_counter()
    last_sent = -math.inf
    per_step = None
    message = None
    p = None

    def emit(final=False, text=None):
        hist = session.history_payload(records, sig, previous)
        step = offset + (records[-1].step if records else 0)
        snap = snapshot(run, data.dataset, W, hist, step, f"trained, run {run}")
        total = records[-1].n_steps if records else 1
        done = records[-1].step if records else 0
        set_progress(
            (
                snap,
                templates.templates_patch(W, image_shape, scale),
                curves.curves_patch(hist, lc.loss, C, lc.delta, offset + total),
                str(done),
                str(total),
                text or status_text(records[-1], offset) if records else "Starting…",
            )
        )
        return snap

    try:
        it = train_steps(
            prep.X_train, prep.y_train, cfg, W0=W, X_val=prep.X_val, y_val=prep.y_val, n_classes=C
        )
        n_steps = it.n_steps
        if pace == "watch":
            per_step = WATCH_SECONDS / n_steps
        for p in it:
            records.append(p)
            if p.W is not None:
                W = p.W
            if per_step:
                lag = started + p.step * per_step - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
            now = time.perf_counter()
            if now - last_sent >= PROGRESS_S:
                emit()
                last_sent = now
    except TrainingDiverged as exc:
        W = exc.W
        message = alert(f"Training stopped: {exc}. The last finite weights are kept.")
    except ValueError as exc:
        return no_update, alert(f"Cannot train: {exc}")
    except Exception as exc:  # noqa: BLE001 - shown on the page instead of a silent failed job
        traceback.print_exc()
        return no_update, alert(f"Training failed: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    if message is None and records:
        last = records[-1]
        text = (
            f"Done: {last.step:,} steps in {seconds:.1f} s · loss {last.loss:.4g} · train "
            f"{100 * last.train_acc:.1f}%"
            + ("" if not math.isfinite(last.val_acc) else f" · val {100 * last.val_acc:.1f}%")
        )
    else:
        text = "Diverged: see the message on the page."
    final = emit(final=True, text=text)
    return final, message


@dash.callback(
    Output(ids.WEIGHTS_STORE, "data", allow_duplicate=True),
    Output(ids.HISTORY_STORE, "data", allow_duplicate=True),
    Output(ids.COMMITTED_STORE, "data"),
    Input(ids.RUNNING_STORE, "data"),
    Input(ids.RESULT_STORE, "data"),
    State(ids.LIVE_STORE, "data"),
    State(ids.COMMITTED_STORE, "data"),
    State(ids.DATASET, "value"),
    prevent_initial_call=True,
)
@guard.guarded(outputs=3)
def commit(running, result, live, committed, dataset):
    """When no job runs, make the newest streamed or final snapshot the current weights (once)."""
    if running:
        raise PreventUpdate
    result, live = session.check_snapshot(result), session.check_snapshot(live)
    committed = session.check_mark(committed)
    snap = newest(live, result)
    if snap is None or snap.get("dataset") != dataset:
        raise PreventUpdate
    mark = {"run": snap["run"], "step": snap["step"]}
    if committed and (committed.get("run", 0), committed.get("step", 0)) >= (mark["run"], mark["step"]):
        raise PreventUpdate
    return snap["weights"], snap["history"], mark


@dash.callback(
    Output(ids.WEIGHTS_STORE, "data"),
    Output(ids.HISTORY_STORE, "data"),
    Output(ids.ALERT_TRAIN, "children", allow_duplicate=True),
    Input(ids.RESET_BUTTON, "n_clicks"),
    Input(ids.INIT, "value"),
    Input(ids.SEED, "value"),
    Input(ids.DATASET, "value"),
    State(ids.RUNNING_STORE, "data"),
    prevent_initial_call=True,
)
@guard.guarded(outputs=3, alert=2, prefix="Weights not reset: ")
def reset_weights(_clicks, init, seed, dataset, running):
    """Fresh weights for the chosen init, seed and dataset (and no history)."""
    if running:
        raise PreventUpdate
    try:
        return session.initial_weights(dataset, init, seed), None, None
    except ValueError as exc:
        return no_update, no_update, alert(f"Weights not reset: {exc}")
