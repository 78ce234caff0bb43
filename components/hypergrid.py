"""Inspect, tab "Grid search": validation accuracy over learning rate × regularization.

Each cell is one short training run (:func:`core.metrics.grid_search_steps`)
from the same initial W and seed with the sidebar's loss, batch size and epochs
(at most :data:`MAX_STEPS` steps per cell), scored on validation images held
out of the training split (``core.data.prepare(..., n_val=...)`` through
``session.prepared``). The grid runs as a background job with progress and
Stop, once :func:`check_grid` has accepted every value (a rejected one is
answered at once, in the grid's message line, and starts nothing:
:func:`components.jobs.checked_first`); the rows stream into
``hypergrid-store`` as cells finish, so the heatmap fills in while it runs,
and a stopped grid keeps its finished cells.

Clicking a cell **re-runs that cell** in the background (seeded training is
bit-reproducible, so this is the same W the grid scored) with its history
logged, and shows its templates and curves (a click that is not on a cell of
the grid, or a malformed grid, is answered at once by :func:`check_cell`). The
store therefore stays small (numbers only, no weights); the re-run uses the
settings saved with the grid, not the sidebar's current ones.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, replace
from typing import NamedTuple

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import curves, exports, formulas, guard, ids, jobs, session, templates, theme, training
from components import inspect_common as ic
from components.guard import guarded
from core import data as core_data
from core import metrics
from core.train import TrainConfig, n_steps, train

MAX_STEPS = 200  # updates per cell, at most
MAX_RECORDS = 150  # logged steps of a re-run cell
POLL_MS = 250

LR_GRIDS = {
    "lr4": ("4 rates: 1e-4 … 0.1", (1e-4, 1e-3, 1e-2, 1e-1)),
    "lr7": ("7 rates: 1e-5 … 1 (½ decades)", (1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 1e-1, 1.0)),
    "lr2": ("2 rates (quick): 1e-3, 0.01", (1e-3, 1e-2)),
}
REG_GRIDS = {
    "reg4": ("4 strengths: 1e-5 … 0.01", (1e-5, 1e-4, 1e-3, 1e-2)),
    "reg6": ("6 strengths: 1e-6 … 0.1", (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)),
    "reg2": ("2 strengths (quick): 1e-4, 0.1", (1e-4, 1e-1)),
}
DEFAULT_LRS, DEFAULT_REGS = "lr4", "reg4"


def _nan_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def grid_store(data: session.DataChoice, base: TrainConfig, lrs, regs, n_classes: int, rows: list,
               run: int = 0) -> dict:
    """The JSON payload of ``hypergrid-store``: settings, grid axes and the finished cells."""
    clean = [
        {**{k: (_nan_none(v) if isinstance(v, float) else v) for k, v in r.items()}, "i": i, "j": j}
        for (i, j), r in rows
    ]
    return {"run": run, "data": asdict(data), "config": asdict(base), "lrs": list(map(float, lrs)),
            "regs": list(map(float, regs)), "n_classes": int(n_classes), "rows": clean,
            "total": len(lrs) * len(regs)}


def require_validation(prep) -> None:
    """A grid is scored on validation images: ValueError when the split holds none out."""
    if prep.X_val.shape[0] == 0:
        raise ValueError("no validation images: choose fewer training samples so some are held out")


def run_grid(prep, data, base: TrainConfig, lrs, regs, on_cell=None, run: int = 0) -> dict:
    """Train every (lr, reg) cell with :func:`core.metrics.grid_search_steps`;
    ``on_cell(store)`` after each cell. Returns the final store."""
    require_validation(prep)
    n_classes = int(max(np.max(prep.y_train), np.max(prep.y_val))) + 1  # as grid_search_steps counts them
    rows: list = []
    store = grid_store(data, base, lrs, regs, n_classes, rows, run)
    for done, _total, row in metrics.grid_search_steps(prep.X_train, prep.y_train, prep.X_val, prep.y_val,
                                                       lrs, regs, base):
        rows.append((divmod(done - 1, len(regs)), row))
        store = grid_store(data, base, lrs, regs, n_classes, rows, run)
        if on_cell is not None:
            on_cell(store)
    return store


def accuracy_matrix(store: dict, key: str = "val_acc") -> np.ndarray:
    """(len(lrs), len(regs)) of ``key``; NaN for cells not (yet) computed or diverged."""
    z = np.full((len(store["lrs"]), len(store["regs"])), np.nan)
    for r in store["rows"]:
        v = r.get(key)
        if v is not None:
            z[r["i"], r["j"]] = v
    return z


def best_cell(store: dict) -> tuple[int, int] | None:
    z = accuracy_matrix(store)
    if not np.isfinite(z).any():
        return None
    i, j = np.unravel_index(np.nanargmax(z), z.shape)  # the first best (smallest lr, then reg)
    return int(i), int(j)


def grid_figure(store: dict | None) -> go.Figure:
    """Validation accuracy as a heatmap: rows the learning rates, columns the
    regularization strengths (z of shape len(lrs) × len(regs)); diverged cells
    are marked, cells still to come are blank, the best one is outlined."""
    if not store:
        return ic.placeholder("press Run grid")
    lrs, regs = store["lrs"], store["regs"]
    z = accuracy_matrix(store)
    tr = accuracy_matrix(store, "train_acc")
    status = np.full(z.shape, "", dtype=object)
    for r in store["rows"]:
        if not r.get("diverged") and r.get("val_acc") is not None:
            status[r["i"], r["j"]] = f"{100 * r['val_acc']:.1f}%"
    custom = np.empty(z.shape + (3,), dtype=object)
    for i in range(len(lrs)):
        for j in range(len(regs)):
            custom[i, j] = [session.fmt_sci(lrs[i]), session.fmt_sci(regs[j]),
                            "–" if not np.isfinite(tr[i, j]) else f"{100 * tr[i, j]:.1f}%"]
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if finite.size else 0.0
    heat = go.Heatmap(
        z=z,
        x=list(range(len(regs))),
        y=list(range(len(lrs))),
        text=status,
        texttemplate="%{text}",
        textfont=dict(size=13),
        customdata=custom,
        colorscale="Viridis",
        zmin=min(lo, 0.999),
        zmax=max(float(finite.max()) if finite.size else 1.0, lo + 1e-3),
        xgap=2,
        ygap=2,
        hoverongaps=False,
        colorbar=dict(thickness=12, outlinewidth=0, tickformat=".0%", title=dict(text="val. acc.", side="top")),
        hovertemplate="lr %{customdata[0]} · λ %{customdata[1]}<br>validation %{z:.1%} · training %{customdata[2]}"
        "<br>click: templates and curves<extra></extra>",
        name="val_acc",
    )
    labels = dict(tickmode="array", showgrid=False, zeroline=False, fixedrange=True, tickfont=dict(color=theme.TEXT))
    shapes, annotations = [], []
    for r in store["rows"]:
        if r.get("diverged"):
            annotations.append(dict(x=r["j"], y=r["i"], text="diverged", showarrow=False,
                                    font=dict(color=theme.VERMILION, size=13)))
    best = best_cell(store)
    if best is not None:
        i, j = best
        shapes.append(dict(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5, xref="x", yref="y",
                           line=dict(color=theme.VERMILION, width=3)))
    done = len(store["rows"])
    return go.Figure(
        data=[heat],
        layout=theme.base_layout(
            margin=dict(l=64, r=12, t=36, b=48),
            xaxis=dict(**labels, tickvals=list(range(len(regs))), ticktext=[session.fmt_sci(v) for v in regs],
                       title=dict(text="regularization λ"), range=[-0.5, len(regs) - 0.5]),
            yaxis=dict(**labels, tickvals=list(range(len(lrs))), ticktext=[session.fmt_sci(v) for v in lrs],
                       title=dict(text="learning rate"), autorange="reversed"),
            shapes=shapes,
            annotations=[*annotations, dict(
                text=f"validation accuracy · {done} of {store['total']} cells"
                + (" · outlined: the best" if best else ""),
                x=0, y=1.02, xref="paper", yref="paper", xanchor="left", yanchor="bottom", showarrow=False,
                font=dict(size=12, color=theme.MUTED))],
            meta={"shape": [len(lrs), len(regs)], "run": store.get("run", 0)},
        ),
    )


MAX_AXIS = 12  # values per axis a store may hold (the presets have at most 7)


def check_store(store) -> dict:
    """A grid store as the browser sends it back, checked before it drives a
    training run: axes of a few finite numbers, a valid config of at most
    :data:`MAX_STEPS` steps, a data choice of the right types (ValueError)."""
    if not isinstance(store, dict):
        raise ValueError("no grid yet: press Run grid")
    for name in ("lrs", "regs"):
        axis = store.get(name)
        if (not isinstance(axis, list) or not 1 <= len(axis) <= MAX_AXIS
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                           for v in axis)):
            raise ValueError(f"the grid's {name} are malformed")
    cfg = TrainConfig(**store["config"])
    cfg.validate()
    if cfg.iterations is None or cfg.iterations > MAX_STEPS:
        raise ValueError(f"a grid cell runs at most {MAX_STEPS} steps")
    data = session.DataChoice(**store["data"])
    if not (isinstance(data.dataset, str) and all(isinstance(v, int) and v > 0 for v in (data.n_train, data.n_test))
            and data.preprocessing in core_data.PREPROCESSING):
        raise ValueError("the grid's data choice is malformed")
    n = store.get("n_classes")
    if not isinstance(n, int) or not core_data.MIN_CLASSES <= n <= core_data.MAX_CLASSES:
        raise ValueError("the grid's number of classes is malformed")
    return store


def cell_config(store: dict, i: int, j: int) -> TrainConfig:
    """The config the grid trained cell (i, j) with, logging a history this time (which leaves W unchanged)."""
    cfg = TrainConfig(**store["config"])
    steps = n_steps(cfg, store["data"]["n_train"])
    every = max(1, steps // MAX_RECORDS)
    return replace(cfg, lr=float(store["lrs"][i]), reg=float(store["regs"][j]), log_every=every,
                   snapshot_every=steps)


def cell_run(store: dict, i: int, j: int):
    """Re-run cell (i, j) of a grid: ``(TrainResult, prepared data, config)``."""
    check_store(store)
    data = session.DataChoice(**store["data"])
    prep = session.prepared(data)
    cfg = cell_config(store, i, j)
    res = train(prep.X_train, prep.y_train, cfg, X_val=prep.X_val, y_val=prep.y_val, n_classes=store["n_classes"])
    return res, prep, cfg


def clicked_cell(click, store) -> tuple[int, int] | None:
    """The (row, column) of the grid ``click`` is on, None when it is not on one of ``store``'s cells."""
    try:
        pt = click["points"][0]
        i, j = int(pt["y"]), int(pt["x"])
    except (TypeError, KeyError, IndexError, ValueError, OverflowError):
        return None
    if not store or not (0 <= i < len(store["lrs"]) and 0 <= j < len(store["regs"])):
        return None
    return i, j


def cell_inputs(click, store, _session) -> tuple[int, int] | None:
    """Check a grid-cell click (the cell callback's arguments): None when
    there is no click (nothing to do), else the cell (i, j) of a well-formed
    grid store; a rejected value raises a ValueError that says what is wrong
    (a click that is not on a cell names the grid cell). Used by the job and,
    before a job is started, by :func:`check_cell`."""
    if click is None:
        return None
    check_store(store)
    cell = clicked_cell(click, store)
    if cell is None:
        raise guard.InputError("grid cell", "grid cell: the click is not on a cell of this grid; click one")
    return cell


# -- layout ----------------------------------------------------------------------------------


def _dropdown(control_id, grids, value):
    return dcc.Dropdown(id=control_id, options=[{"label": lab, "value": k} for k, (lab, _) in grids.items()],
                        value=value, clearable=False, searchable=False, className="dropdown hgrid-dropdown")


def layout(values: dict | None = None) -> html.Div:
    """The tab's content; ``values`` (``{component id: value}``) sets its controls (the defaults else)."""
    values = values or {}
    return html.Div(
        className="inspect-pane",
        children=[
            ic.caption(
                "Validation accuracy for every learning rate × regularization pair. Each cell is a short training "
                "run (the sidebar's loss, data, batch size, epochs, initialization and seed, at most "
                f"{MAX_STEPS} steps), scored on validation images held out of the training split. Click a cell: "
                "it is re-run (seeded, so the same weights) to show its templates and curves."
            ),
            formulas.teach_formula(formulas.grid_markdown(), ids.HYPERGRID_FORMULA),
            html.Div(
                className="inspect-controls",
                children=[
                    html.Label(["learning rates ", _dropdown(ids.HYPERGRID_LRS, LR_GRIDS, values.get(ids.HYPERGRID_LRS, DEFAULT_LRS))],
                               className="inline-label"),
                    html.Label(["λ ", _dropdown(ids.HYPERGRID_REGS, REG_GRIDS, values.get(ids.HYPERGRID_REGS, DEFAULT_REGS))],
                               className="inline-label"),
                    html.Button("Run grid", id=ids.HYPERGRID_BUTTON, n_clicks=0, className="btn btn-primary"),
                    html.Button("Stop", id=ids.HYPERGRID_CANCEL, n_clicks=0, disabled=True, className="btn",
                                title="stop; the finished cells stay"),
                    html.Div(className="progress-box", children=[
                        html.Progress(id=ids.HYPERGRID_PROGRESS, value="0", max="1", className="progress"),
                        html.Div("Ready.", id=ids.HYPERGRID_STATUS, className="train-status"),
                    ]),
                ],
            ),
            html.Div(id=ids.HYPERGRID_MESSAGE),
            html.Div(
                className="hgrid-grid",
                children=[
                    dcc.Graph(id=ids.HYPERGRID_HEATMAP, figure=grid_figure(None), config=exports.png_config("grid-search"),
                              className="graph graph-hgrid"),
                    html.Div(
                        id=ids.HYPERGRID_DETAIL,
                        className="hgrid-detail",
                        children=[
                            html.Div(ic.message("Click a cell of the grid to see that run."), id=ids.HYPERGRID_CELL),
                            dcc.Graph(id=ids.HYPERGRID_TEMPLATES, figure=ic.placeholder(""),
                                      config=exports.png_config("grid-cell-templates"), className="graph graph-compare-templates"),
                            dcc.Graph(id=ids.HYPERGRID_CURVES, figure=ic.placeholder(""),
                                      config=exports.png_config("grid-cell-curves"), className="graph graph-compare-curves"),
                        ],
                    ),
                ],
            ),
            dcc.Store(id=ids.HYPERGRID_STORE, storage_type="memory"),  # no data=None (layout._store)
        ],
    )


# -- callbacks ---------------------------------------------------------------------------------


class GridInputs(NamedTuple):
    """A Run grid request's values, every one checked (see :func:`grid_inputs`)."""

    run: int
    lrs: tuple
    regs: tuple
    data: session.DataChoice
    prep: object  # the prepared data (session.prepared)
    cfg: TrainConfig  # the sidebar's, capped at MAX_STEPS updates


def grid_inputs(n_clicks, lr_key, reg_key, dataset, train_size, test_size, preprocessing, loss, reg, reg_mode,
                reg_bias, delta, init, seed, lr, batch, epochs, _session) -> GridInputs:
    """Check every value of a Run grid request (the callback's arguments, without
    ``set_progress``); a rejected one raises a ValueError (mostly
    :class:`components.guard.InputError`) that names its control. Used by the
    job and, before a job is started, by :func:`check_grid`."""
    run = session.clicks(n_clicks, "Run grid button")
    lrs = LR_GRIDS[session._choice(lr_key, LR_GRIDS, "learning-rate grid")][1]
    regs = REG_GRIDS[session._choice(reg_key, REG_GRIDS, "λ grid")][1]
    data = ic.data_of(dataset, train_size, test_size, preprocessing)
    lc = ic.loss_of(loss, reg, reg_mode, reg_bias, delta)
    prep = session.prepared(data)
    require_validation(prep)
    N = prep.X_train.shape[0]
    cfg = training.train_config(lc, lr, batch, epochs, init, seed, N)
    cfg = replace(cfg, iterations=min(n_steps(cfg, N), MAX_STEPS))
    return GridInputs(run, lrs, regs, data, prep, cfg)


def grid_refused(exc: Exception):
    """The grid job's answer to a rejected value: the message in the grid's message line."""
    return ic.message(f"Cannot run the grid: {guard.describe(exc)}", "error")


#: Run grid's check before a job is started (:func:`components.jobs.checked_first`):
#: None for a request to start, else the job's own answer to it (:func:`grid_refused`)
check_grid = guard.check_before(grid_inputs, grid_refused)


def cell_refused(exc: Exception) -> tuple:
    """The cell job's answer to a rejected value: the message in the cell's line, its figures unchanged."""
    return no_update, no_update, ic.message(guard.describe(exc), "error")


def check_cell(click, store, _session):
    """A cell click's check before a job is started (:func:`components.jobs.checked_first`):
    None for a click to re-run, PreventUpdate for no click (no job either), else the job's own
    answer (:func:`cell_refused`)."""
    try:
        cell = cell_inputs(click, store, _session)
    except guard.REJECTED as exc:
        return cell_refused(exc)
    if cell is None:
        raise PreventUpdate
    return None


def grid_status(store: dict) -> str:
    rows = store["rows"]
    if not rows:
        return "Starting…"
    r = rows[-1]
    res = "diverged" if r.get("diverged") else f"val {100 * (r.get('val_acc') or 0):.1f}%"
    return (f"Cell {len(rows)} of {store['total']}: lr {session.fmt_sci(r['lr'])}, λ {session.fmt_sci(r['reg'])} "
            f"→ {res}")


@dash.callback(
    Output(ids.HYPERGRID_MESSAGE, "children"),
    Input(ids.HYPERGRID_BUTTON, "n_clicks"),
    State(ids.HYPERGRID_LRS, "value"),
    State(ids.HYPERGRID_REGS, "value"),
    *ic.states(ic.DATA_IDS),
    *ic.states(ic.LOSS_IDS),
    *ic.states(ic.TRAIN_IDS),
    State(ids.SESSION_STORE, "data"),
    background=True,
    interval=POLL_MS,
    progress=[
        Output(ids.HYPERGRID_STORE, "data"),
        Output(ids.HYPERGRID_PROGRESS, "value"),
        Output(ids.HYPERGRID_PROGRESS, "max"),
        Output(ids.HYPERGRID_STATUS, "children"),
    ],
    running=[
        (Output(ids.HYPERGRID_BUTTON, "disabled"), True, False),
        (Output(ids.HYPERGRID_CANCEL, "disabled"), False, True),
        (Output(ids.HYPERGRID_LRS, "disabled"), True, False),
        (Output(ids.HYPERGRID_REGS, "disabled"), True, False),
    ],
    cancel=[Input(ids.HYPERGRID_CANCEL, "n_clicks")],
    prevent_initial_call=True,
)
@jobs.checked_first(check_grid)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def grid_job(set_progress, n_clicks, lr_key, reg_key, dataset, train_size, test_size, preprocessing, loss, reg,
             reg_mode, reg_bias, delta, init, seed, lr, batch, epochs, _session):
    """The whole grid in the background; every finished cell streams the store (see the module docstring)."""
    training._lower_priority()
    try:  # checked before the job was started too (check_grid); a direct call is checked here
        run, lrs, regs, data, prep, cfg = grid_inputs(
            n_clicks, lr_key, reg_key, dataset, train_size, test_size, preprocessing, loss, reg, reg_mode,
            reg_bias, delta, init, seed, lr, batch, epochs, _session,
        )  # fmt: skip
    except guard.REJECTED as exc:
        return grid_refused(exc)
    try:
        total = len(lrs) * len(regs)
        t0 = time.perf_counter()

        def on_cell(store):
            set_progress((store, str(len(store["rows"])), str(total), grid_status(store)))

        store = run_grid(prep, data, cfg, lrs, regs, on_cell, run=run)
    except ValueError as exc:
        return ic.message(f"Cannot run the grid: {exc}", "error")
    except Exception as exc:  # noqa: BLE001 - shown on the page instead of a silent failed job
        traceback.print_exc()
        return ic.message(f"Grid failed: {type(exc).__name__}: {exc}", "error")
    secs = time.perf_counter() - t0
    best = best_cell(store)
    text = f"Done: {total} cells of {cfg.iterations} steps in {secs:.1f} s"
    if best is not None:
        i, j = best
        text += (f" · best: lr {session.fmt_sci(lrs[i])}, λ {session.fmt_sci(regs[j])} "
                 f"({100 * accuracy_matrix(store)[i, j]:.1f}% validation)")
    set_progress((store, str(total), str(total), text))
    return None


@dash.callback(
    Output(ids.HYPERGRID_STATUS, "children", allow_duplicate=True),
    Input(ids.HYPERGRID_CANCEL, "n_clicks"),
    prevent_initial_call=True,
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def grid_stopped(n_clicks):
    """Stop ends the job (``cancel=`` above); the cells finished so far stay in the store."""
    if not n_clicks:
        raise PreventUpdate
    return "Stopped: the finished cells stay; click one to see its run."


@dash.callback(
    Output(ids.HYPERGRID_HEATMAP, "figure"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.HYPERGRID_STORE, "data"),
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def draw_grid(tab, store):
    if not ic.visible(tab, ic.TAB_GRID):
        return no_update
    return grid_figure(store)


@dash.callback(
    Output(ids.HYPERGRID_TEMPLATES, "figure"),
    Output(ids.HYPERGRID_CURVES, "figure"),
    Output(ids.HYPERGRID_CELL, "children"),
    Input(ids.HYPERGRID_HEATMAP, "clickData"),
    State(ids.HYPERGRID_STORE, "data"),
    State(ids.SESSION_STORE, "data"),
    background=True,
    interval=POLL_MS,
    running=[(Output(ids.HYPERGRID_DETAIL, "className"), "hgrid-detail stale", "hgrid-detail")],
    prevent_initial_call=True,
)
@jobs.checked_first(check_cell)
@guarded(outputs=3)  # a malformed value leaves the outputs as they are
def grid_cell_job(click, store, _session):
    """Re-run the clicked cell (see the module docstring) and draw its templates and curves."""
    try:  # checked before the job was started too (check_cell); a direct call is checked here
        cell = cell_inputs(click, store, _session)
    except guard.REJECTED as exc:
        return cell_refused(exc)
    if cell is None:
        return no_update, no_update, no_update
    training._lower_priority()
    i, j = cell
    try:
        res, prep, cfg = cell_run(store, i, j)
    except ValueError as exc:
        return no_update, no_update, ic.message(str(exc), "error")
    data = store["data"]
    sig = [data["dataset"], data["n_train"], data["preprocessing"], cfg.loss]
    hist = session.history_payload(res.history.to_dict("records"), sig)
    val = metrics.accuracy(res.W, prep.X_val, prep.y_val)
    head = [html.B(f"lr {session.fmt_sci(cfg.lr)}, λ {session.fmt_sci(cfg.reg)}"),
            f" · {res.steps:,} steps of {cfg.loss} · validation {100 * val:.1f}%"]
    if res.stopped.startswith("diverged"):
        head = [*head, ic.message(res.stopped, "error")]
    return (templates.templates_figure(res.W, prep.image_shape, prep.class_names, templates.SHARED),
            curves.curves_figure(hist, cfg.loss, prep.n_classes, cfg.delta), html.Div(head, className="hgrid-cell"))
