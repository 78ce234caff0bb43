"""Inspect, tab "Softmax vs SVM": both losses trained side by side, same data, same start.

Softmax and the Weston–Watkins hinge are trained from the *same* freshly
initialized W (the sidebar's init and seed), on the same training images, with
the same minibatch order (the seed) and the sidebar's learning rate, batch
size, λ and penalty; the run is capped at :data:`MAX_STEPS` updates per loss
so it stays short. The job runs in the app's background manager with a
progress bar and Stop (which discards the run), once :func:`check_compare` has
accepted every value: a rejected one is answered at once, in the summary line,
and starts nothing (:func:`components.jobs.checked_first`). The two runs are
stepped in turn, so they finish together.

:func:`compare_runs` is the pure computation (data and config in,
:class:`CompareRun` per loss out); :func:`numbers_block` and
:func:`agreement` turn it into HTML, the figures are the Training view's
(``templates.templates_figure``, ``curves.curves_figure``).
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import dash
import numpy as np
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import curves, exports, formulas, guard, ids, jobs, session, templates, training
from components import inspect_common as ic
from components.guard import guarded
from core import metrics
from core.losses import LOSSES, loss_parts
from core.train import TrainConfig, TrainingDiverged, init_weights, n_steps, train_steps

COMPARED = ("softmax", "hinge")
MAX_STEPS = 500  # updates per loss, at most
MAX_RECORDS = 150  # logged steps per run
PROGRESS_S = 0.25
POLL_MS = 250


@dataclass
class CompareRun:
    loss: str
    config: TrainConfig
    W0: np.ndarray
    W: np.ndarray
    records: list = field(default_factory=list)
    stopped: str = "finished"
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return self.records[-1].step if self.records else 0


def compare_configs(base: TrainConfig, n_train: int) -> dict[str, TrainConfig]:
    """The base config for each compared loss, capped at :data:`MAX_STEPS` updates."""
    steps = min(n_steps(base, n_train), MAX_STEPS)
    every = max(1, steps // MAX_RECORDS)
    return {
        loss: replace(base, loss=loss, iterations=steps, log_every=every, snapshot_every=steps)
        for loss in COMPARED
    }


def compare_runs(prep, base: TrainConfig, on_progress=None) -> dict[str, CompareRun]:
    """Train every loss of :data:`COMPARED` from one W0 = init_weights(init, seed),
    stepping the runs in turn; ``on_progress(runs)`` after each round. A run
    that diverges keeps its last finite W and says so in ``stopped``."""
    X, y = prep.X_train, prep.y_train
    C, D = prep.n_classes, prep.n_features
    X_val, y_val = (prep.X_val, prep.y_val) if prep.X_val.shape[0] else (None, None)
    W0 = init_weights(D, C, base.init, base.seed)
    cfgs = compare_configs(base, X.shape[0])
    gens = {loss: train_steps(X, y, cfg, W0=W0, X_val=X_val, y_val=y_val, n_classes=C) for loss, cfg in cfgs.items()}
    runs = {loss: CompareRun(loss, cfgs[loss], W0.copy(), W0.copy()) for loss in COMPARED}
    active = list(COMPARED)
    t0 = time.perf_counter()
    while active:
        for loss in list(active):
            run = runs[loss]
            try:
                run.records.append(next(gens[loss]))
                run.W = gens[loss].W
            except StopIteration:
                active.remove(loss)
            except TrainingDiverged as exc:
                active.remove(loss)
                run.W, run.stopped = exc.W, f"diverged: {exc}"
            run.seconds = time.perf_counter() - t0
        if on_progress is not None:
            on_progress(runs)
    return runs


def final_numbers(run: CompareRun, prep) -> dict:
    """Accuracies on all training, validation and test images, and the full training loss, at the final W."""
    cfg = run.config
    out = {"train": metrics.accuracy(run.W, prep.X_train, prep.y_train)}
    out["val"] = metrics.accuracy(run.W, prep.X_val, prep.y_val) if prep.X_val.shape[0] else math.nan
    out["test"] = metrics.accuracy(run.W, prep.X_test, prep.y_test) if prep.X_test.shape[0] else math.nan
    with np.errstate(all="ignore"):
        out["loss"] = loss_parts(cfg.loss, run.W, prep.X_train, prep.y_train, cfg.reg, delta=cfg.delta,
                                 reg_mode=cfg.reg_mode, reg_bias=cfg.reg_bias).loss
    return out


def agreement(runs: dict[str, CompareRun], X: np.ndarray) -> float:
    """Share of the images ``X`` both classifiers put in the same class."""
    if X.shape[0] == 0:
        return math.nan
    preds = [metrics.predict(runs[loss].W, X) for loss in COMPARED]
    return float(np.mean(preds[0] == preds[1]))


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def numbers_block(run: CompareRun, nums: dict) -> list:
    stats = [("train", _pct(nums["train"])), ("val.", _pct(nums["val"])), ("test", _pct(nums["test"])),
             ("loss", ic.fmt(nums["loss"], 3)), ("steps", f"{run.steps:,}")]
    out = [html.Div([html.Div(v, className="stat-value"), html.Div(k, className="stat-label")]) for k, v in stats]
    block = [html.Div(out, className="stats compare-stats")]
    if run.stopped.startswith("diverged"):
        block.append(ic.message(run.stopped, "error"))
    return block


def status_text(runs: dict[str, CompareRun]) -> str:
    parts = []
    for loss in COMPARED:
        r = runs[loss]
        p = r.records[-1] if r.records else None
        name = "softmax" if loss == "softmax" else "SVM"
        parts.append(f"{name} loss {p.loss:.3g}, train {100 * p.train_acc:.0f}%" if p else f"{name} starting")
    last = max((r.steps for r in runs.values()), default=0)
    total = runs[COMPARED[0]].config.iterations
    return f"Step {last:,} of {total:,} · " + " · ".join(parts)


def base_config(reg, reg_mode, reg_bias, delta, init, seed, lr, batch, epochs, n_train: int) -> TrainConfig:
    """The sidebar's training settings (the loss is set per run)."""
    lc = ic.loss_of("softmax", reg, reg_mode, reg_bias, delta)
    return training.train_config(lc, lr, batch, epochs, init, seed, n_train)


class CompareInputs(NamedTuple):
    """A "Train both" request's values, every one checked (see :func:`compare_inputs`)."""

    data: session.DataChoice
    prep: object  # the prepared data (session.prepared)
    base: TrainConfig


def compare_inputs(
    n_clicks, dataset, train_size, test_size, preprocessing, reg, reg_mode, reg_bias, delta, init, seed, lr,
    batch, epochs, _session,
) -> CompareInputs:  # fmt: skip
    """Check every value of a "Train both" request (the callback's arguments, without
    ``set_progress``); a rejected one raises a ValueError (mostly
    :class:`components.guard.InputError`) that names its control. Used by the
    job and, before a job is started, by :func:`check_compare`."""
    data = ic.data_of(dataset, train_size, test_size, preprocessing)
    prep = session.prepared(data)
    base = base_config(reg, reg_mode, reg_bias, delta, init, seed, lr, batch, epochs, prep.X_train.shape[0])
    return CompareInputs(data, prep, base)


def refused(exc: Exception) -> tuple:
    """The job's answer to a rejected value: the message in the summary line, the runs' outputs unchanged."""
    return (*(no_update,) * 6, ic.message(f"Cannot train: {guard.describe(exc)}", "error"))


#: "Train both"'s check before a job is started (:func:`components.jobs.checked_first`):
#: None for a request to start, else the job's own answer to it (:func:`refused`)
check_compare = guard.check_before(compare_inputs, refused)


# -- layout ----------------------------------------------------------------------------------


def _column(loss: str, numbers_id: str, templates_id: str, curves_id: str) -> html.Div:
    return html.Div(
        className="compare-col",
        children=[
            html.H3(LOSSES[loss].label, className="inspect-h3"),
            html.Div(id=numbers_id, className="compare-numbers"),
            dcc.Graph(id=templates_id, figure=ic.placeholder("press Train both"),
                      config=exports.png_config(f"compare-{loss}-templates"), className="graph graph-compare-templates"),
            dcc.Graph(id=curves_id, figure=ic.placeholder(""), config=exports.png_config(f"compare-{loss}-curves"),
                      className="graph graph-compare-curves"),
        ],
    )


def layout(values: dict | None = None) -> html.Div:
    """The tab's content (no control of its own: ``values``, as components.inspector passes every tab, is unused)."""
    return html.Div(
        className="inspect-pane",
        children=[
            ic.caption(
                "Softmax and the multiclass SVM trained on the same training images from the same initial W, "
                "with the same minibatch order: the sidebar's data, learning rate, batch size, epochs, λ, "
                f"initialization and seed, but at most {MAX_STEPS} steps each, so it stays short. Accuracies "
                "are on all training, validation and test images."
            ),
            formulas.teach_formula(formulas.compare_markdown(), ids.COMPARE_FORMULA),
            html.Div(
                className="inspect-controls",
                children=[
                    html.Button("Train both", id=ids.COMPARE_BUTTON, n_clicks=0, className="btn btn-primary",
                                title="train softmax and the SVM from the same start"),
                    html.Button("Stop", id=ids.COMPARE_CANCEL, n_clicks=0, disabled=True, className="btn",
                                title="stop and discard this comparison"),
                    html.Div(className="progress-box", children=[
                        html.Progress(id=ids.COMPARE_PROGRESS, value="0", max="1", className="progress"),
                        html.Div("Ready.", id=ids.COMPARE_STATUS, className="train-status"),
                    ]),
                ],
            ),
            html.Div(id=ids.COMPARE_SUMMARY, className="compare-summary"),
            html.Div(
                id=ids.COMPARE_RESULT,
                className="compare-cols",
                children=[
                    _column("softmax", ids.COMPARE_NUMBERS_SOFTMAX, ids.COMPARE_TEMPLATES_SOFTMAX,
                            ids.COMPARE_CURVES_SOFTMAX),
                    _column("hinge", ids.COMPARE_NUMBERS_HINGE, ids.COMPARE_TEMPLATES_HINGE, ids.COMPARE_CURVES_HINGE),
                ],
            ),
        ],
    )


# -- the job -----------------------------------------------------------------------------------


def figures(runs: dict[str, CompareRun], prep, data: session.DataChoice, delta: float) -> dict:
    """Templates and curves figures, numbers and the summary line for finished runs."""
    out = {}
    for loss, run in runs.items():
        sig = [data.dataset, data.n_train, data.preprocessing, loss]
        hist = session.history_payload(run.records, sig)
        out[loss] = dict(
            templates=templates.templates_figure(run.W, prep.image_shape, prep.class_names, templates.SHARED),
            curves=curves.curves_figure(hist, loss, prep.n_classes, delta),
            numbers=numbers_block(run, final_numbers(run, prep)),
        )
    agree = agreement(runs, prep.X_test)
    same = bool(np.array_equal(runs["softmax"].W0, runs["hinge"].W0))
    cfg = runs["softmax"].config
    summary = [
        f"Both started from the same W ({cfg.init}, seed {cfg.seed}{'' if same else ' — NOT the same'}) and took "
        f"{cfg.iterations:,} steps of lr {session.fmt_sci(cfg.lr)}, batch {cfg.batch_size}, λ "
        f"{session.fmt_sci(cfg.reg)}. ",
        html.B(f"They predict the same class for {_pct(agree)} of the test images."),
    ]
    return dict(runs=out, summary=summary)


@dash.callback(
    Output(ids.COMPARE_TEMPLATES_SOFTMAX, "figure"),
    Output(ids.COMPARE_TEMPLATES_HINGE, "figure"),
    Output(ids.COMPARE_CURVES_SOFTMAX, "figure"),
    Output(ids.COMPARE_CURVES_HINGE, "figure"),
    Output(ids.COMPARE_NUMBERS_SOFTMAX, "children"),
    Output(ids.COMPARE_NUMBERS_HINGE, "children"),
    Output(ids.COMPARE_SUMMARY, "children"),
    Input(ids.COMPARE_BUTTON, "n_clicks"),
    *ic.states(ic.DATA_IDS),
    *ic.states((ids.REG, ids.REG_MODE, ids.REG_BIAS, ids.DELTA)),
    *ic.states(ic.TRAIN_IDS),
    State(ids.SESSION_STORE, "data"),
    background=True,
    interval=POLL_MS,
    progress=[
        Output(ids.COMPARE_PROGRESS, "value"),
        Output(ids.COMPARE_PROGRESS, "max"),
        Output(ids.COMPARE_STATUS, "children"),
    ],
    running=[
        (Output(ids.COMPARE_BUTTON, "disabled"), True, False),
        (Output(ids.COMPARE_CANCEL, "disabled"), False, True),
        (Output(ids.COMPARE_RESULT, "className"), "compare-cols stale", "compare-cols"),
    ],
    cancel=[Input(ids.COMPARE_CANCEL, "n_clicks")],
    prevent_initial_call=True,
)
@jobs.checked_first(check_compare)
@guarded(outputs=7)  # a malformed value leaves the outputs as they are
def compare_job(set_progress, n_clicks, dataset, train_size, test_size, preprocessing, reg, reg_mode, reg_bias,
                delta, init, seed, lr, batch, epochs, _session):
    """Train both losses in the background (see the module docstring)."""
    skip = (no_update,) * 6
    training._lower_priority()
    try:  # checked before the job was started too (check_compare); a direct call is checked here
        data, prep, base = compare_inputs(
            n_clicks, dataset, train_size, test_size, preprocessing, reg, reg_mode, reg_bias, delta, init, seed,
            lr, batch, epochs, _session,
        )  # fmt: skip
    except guard.REJECTED as exc:
        return refused(exc)
    last = [-math.inf]

    def report(runs, final=False):
        now = time.perf_counter()
        if final or now - last[0] >= PROGRESS_S:
            last[0] = now
            done = max(r.steps for r in runs.values())
            total = runs[COMPARED[0]].config.iterations
            text = status_text(runs)
            if final:
                secs = max(r.seconds for r in runs.values())
                text = f"Done: {done:,} steps each in {secs:.1f} s"
            set_progress((str(done), str(total), text))

    try:
        runs = compare_runs(prep, base, report)
        report(runs, final=True)
        out = figures(runs, prep, data, base.delta)
    except Exception as exc:  # noqa: BLE001 - shown on the page instead of a silent failed job
        traceback.print_exc()
        return (*skip, ic.message(f"Comparison failed: {type(exc).__name__}: {exc}", "error"))
    s, h = out["runs"]["softmax"], out["runs"]["hinge"]
    return (s["templates"], h["templates"], s["curves"], h["curves"], s["numbers"], h["numbers"], out["summary"])


@dash.callback(
    Output(ids.COMPARE_STATUS, "children", allow_duplicate=True),
    Input(ids.COMPARE_CANCEL, "n_clicks"),
    prevent_initial_call=True,
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def compare_stopped(n_clicks):
    """Stop ends the job (``cancel=`` above); say so instead of leaving the last step on show."""
    if not n_clicks:
        raise PreventUpdate
    return "Stopped: this comparison was discarded."
