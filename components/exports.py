"""Exports and imports: what a download holds re-creates the same view.

* Weights ``.npz`` (``core.export``: no pickle; W, class names, image shape
  and the configuration of every control). Importing it puts W into this
  page's weights store (in the browser session, never on disk) and restores
  the controls that do not re-initialize W (all but dataset, init and seed).
* Loss history ``.csv`` (one row per logged step, plus constant columns naming
  the objective it was recorded under) and gradient-check table ``.csv`` (one
  row per checked entry, plus constant columns: dataset, loss, method, h,
  samples, verdict); plain tables for pandas or a spreadsheet, floats written
  to round-trip exactly. Importing a history puts it into the history store
  (the loss curves redraw it); importing a check table redraws the
  gradient-check view from it (``core.export.read_gradcheck_csv`` rebuilds the
  CheckResult the figure builders take) until a control or the weights change.
* Configuration ``.json``: every control, the teaching views' too (their
  tabs, the landscape's slice and seed, the examples' images, the grid's
  presets: read from the URL, which holds them); importing it sets them all,
  as a link does (``components.lecture``): the sidebar's controls directly,
  the teaching views' through the URL (they may not be mounted yet).
* Figures: PNG from each graph's toolbar (:func:`png_config`: a named file at
  twice the screen resolution).

Uploads are limited to :data:`MAX_UPLOAD_BYTES` (20 MB, less when the
server's request limit is smaller) in the browser (``max_size`` of the upload
box) and again on the server before anything is decoded.
"""

from __future__ import annotations

import base64
import binascii
import re
import time

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import ids, lecture, session
from core import export as core_export


def _upload_limit() -> int:
    """20 MB, or less when the server's request limit (``components.security``,
    default 8 MB) cannot carry that much as base64 (4/3 of the file), so the
    browser refuses a file the server would answer with HTTP 413."""
    try:
        from components import security

        room = int((security.max_request_bytes() - 100_000) * 3 / 4)
    except ImportError:
        room = 20_000_000
    return max(100_000, min(20_000_000, room))


MAX_UPLOAD_BYTES = _upload_limit()
# base64 of MAX_UPLOAD_BYTES plus the "data:...;base64," prefix
_MAX_CONTENTS_CHARS = 4 * (MAX_UPLOAD_BYTES // 3 + 1) + 200
_WEIGHT_FIXED = ("dataset", "init", "seed")  # restoring these would re-initialize W
_NOT_RESTORED = ("lecture",)  # how the page is shown, not what it computes


def png_config(name: str) -> dict:
    """dcc.Graph config: only the "download as PNG" button (shown on hover), named, at scale 2."""
    return {
        "displaylogo": False,
        "modeBarButtons": [["toImage"]],
        "toImageButtonOptions": {"format": "png", "filename": f"lincls-{name}", "scale": 2},
    }


# -- downloads ---------------------------------------------------------------------------


def _stem(state: dict) -> str:
    loss = str(state.get("loss") or "loss")
    seed = state.get("seed")
    return f"lincls-{loss}" + (f"-seed{seed}" if seed is not None else "")


def history_run(history: dict | None) -> dict | None:
    """The objective a history store was recorded under (its ``sig``,
    ``session.objective_signature``) as :data:`core.export.RUN_COLUMNS`, or None."""
    sig = (history or {}).get("sig")
    if not isinstance(sig, list) or len(sig) != len(core_export.RUN_COLUMNS) or any(v is None for v in sig):
        return None
    return dict(zip(core_export.RUN_COLUMNS, sig, strict=True))


def history_store(frame: pd.DataFrame, run: dict | None) -> dict:
    """The history store payload for an imported history (thinned like a
    trained one; with ``run``, the same ``sig`` as the run that recorded it)."""
    sig = [run[k] for k in core_export.RUN_COLUMNS] if run else None
    return session.history_payload(frame.to_dict("records"), sig)


def history_frame(history: dict | None) -> pd.DataFrame:
    """The history store as a table: one row per logged step (empty without training)."""
    cols = {k: (history or {}).get(k) or [] for k in session.HISTORY_KEYS}
    n = len(cols["step"])
    return pd.DataFrame(
        {
            k: pd.array(cols[k], dtype="int64")
            if k == "step"
            else np.array([np.nan if v is None else float(v) for v in cols[k][:n]], dtype=float)
            for k in session.HISTORY_KEYS
        }
    )


def check_table(values: dict, weights: dict | None) -> pd.DataFrame:
    """The gradient-check table of the current controls and weights (as the view shows it)."""
    return check_export(values, weights)[0]


def check_export(values: dict, weights: dict | None) -> tuple[pd.DataFrame, dict]:
    """The gradient-check table of the current controls and weights and its
    context (:data:`core.export.CHECK_CONTEXT_COLUMNS`)."""
    W = session.decode_weights(weights)
    if W is None:
        raise ValueError("no weights yet: press Reset weights")
    data = session.data_choice(
        values["dataset"], values["n_train"], values["n_test"], values["preprocessing"]
    )
    loss = session.loss_choice(
        values["loss"], values["reg"], values["reg_mode"], values["reg_bias"], values["delta"]
    )
    check = session.check_choice(
        values["gc_samples"],
        values["gc_h"],
        values["gc_method"],
        values["gc_entries"],
        values["gc_subset"],
        values["gc_bug"],
    )
    a = session.analyze(session.prepared(data), W, loss, check)
    context = dict(
        dataset=data.dataset,
        loss_function=loss.loss,
        method=check.method,
        h=float(check.h),
        samples=int(a.check_samples),
        verdict=str(a.check.verdict),
    )
    return a.check.table, context


def weights_file(state: dict, weights: dict | None) -> bytes:
    W = session.decode_weights(weights)
    if W is None:
        raise ValueError("no weights yet: press Reset weights")
    ds = session.load_dataset(weights.get("dataset") or state["dataset"])
    config = lecture.config_dict(
        state, origin=str(weights.get("origin", "")), weights_dataset=str(weights.get("dataset", ""))
    )
    return core_export.weights_to_npz_bytes(
        W, class_names=[str(c) for c in ds.class_names], image_shape=ds.image_shape, config=config
    )


def download(kind: str, values: dict, weights: dict | None, history: dict | None, search: str | None = None):
    """``(dcc.Download data, message)`` for one export of the current page (``values``: the
    sidebar's controls; ``search``: the URL's query, which holds the teaching views' controls)."""
    state = {**lecture.state_from_controls(values), **lecture.teach_state_from_query(search)}
    stem = _stem(state)
    if kind == "weights":
        return dcc.send_bytes(weights_file(state, weights), f"{stem}-weights.npz"), "Weights exported."
    if kind == "history":
        frame = history_frame(history)
        if frame.empty:
            raise ValueError("no loss history yet: press Train first")
        text = core_export.history_to_csv(frame, run=history_run(history))
        return dcc.send_string(text, f"{stem}-history.csv"), (f"Loss history exported ({len(frame):,} rows).")
    if kind == "gradcheck":
        table, context = check_export(values, weights)
        text = core_export.gradcheck_table_to_csv(table, context=context)
        return dcc.send_string(text, f"{stem}-gradcheck.csv"), (
            f"Gradient-check table exported ({len(table):,} entries)."
        )
    if kind == "config":
        text = core_export.config_to_json(lecture.config_dict(state))
        return dcc.send_string(text, f"{stem}-config.json"), "Configuration exported."
    raise ValueError(f"unknown export {kind!r}")


_KIND_OF = {
    ids.EXPORT_WEIGHTS_BUTTON: "weights",
    ids.EXPORT_HISTORY_BUTTON: "history",
    ids.EXPORT_GC_BUTTON: "gradcheck",
    ids.EXPORT_CONFIG_BUTTON: "config",
}


@dash.callback(
    Output(ids.EXPORT_DOWNLOAD, "data"),
    Output(ids.EXPORT_STATUS, "children"),
    *[Input(b, "n_clicks") for b in _KIND_OF],
    State(ids.WEIGHTS_STORE, "data"),
    State(ids.HISTORY_STORE, "data"),
    State(ids.LECTURE_LOCATION, "search"),
    *lecture._STATES,
    prevent_initial_call=True,
)
def export(_w, _h, _g, _c, weights, history, search, *values):
    kind = _KIND_OF.get(ctx.triggered_id)
    if kind is None:
        raise PreventUpdate
    try:
        data, message = download(kind, dict(zip(lecture.KEYS, values, strict=True)), weights, history, search)
    except ValueError as exc:
        return no_update, status(f"Not exported: {exc}", "error")
    return data, status(message)


# -- imports -----------------------------------------------------------------------------


def status(message: str, kind: str = "ok") -> html.Div:
    return html.Div(message, className=f"export-message export-{kind}", role="status")


def decode_upload(contents: str | None) -> bytes:
    """The bytes of a dcc.Upload ``contents`` string, size-checked before decoding."""
    if not isinstance(contents, str) or "," not in contents:
        raise ValueError("the upload is empty or not a file")
    if len(contents) > _MAX_CONTENTS_CHARS:
        raise ValueError(f"the file is larger than {_mb(MAX_UPLOAD_BYTES)}")
    head, _, b64 = contents.partition(",")
    if not head.endswith(";base64"):
        raise ValueError("the upload is not base64-encoded")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the upload is not valid base64") from None
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the file is larger than {_mb(MAX_UPLOAD_BYTES)}")
    return raw


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _safe_name(filename) -> str:
    name = str(filename or "the file")
    return re.sub(r"[^\w.\- ]", "_", name)[:80]


NO_VIEWS = (no_update, no_update, no_update)  # gradient-check heatmap, scatter, summary


def _csv_text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not UTF-8 text") from None


def _num(x: float, pct: bool = False) -> str:
    if not np.isfinite(x):
        return "–"
    return f"{100 * x:.1f} %" if pct else f"{x:.4g}"


def import_history(text: str, name: str, values: dict) -> tuple[dict, str]:
    """The history store for a loss-history CSV and the status line."""
    got = core_export.read_history_csv(text)
    store = history_store(got.frame, got.run)
    f = got.frame
    n = len(f)
    last = f.iloc[-1]
    tail = f"last loss {_num(last['loss'])}"
    if np.isfinite(last["val_acc"]):
        tail += f", val. acc. {_num(last['val_acc'], True)}"
    elif np.isfinite(last["train_acc"]):
        tail += f", train acc. {_num(last['train_acc'], True)}"
    if got.run:
        r = got.run
        what = f"{r['loss_function']}, λ = {session.fmt_sci(r['reg'])}"
        if r["loss_function"] != "softmax":
            what += f", Δ = {session.fmt_sci(r['delta'])}"
        what += f", {r['n_train']:,} samples"
        if r["dataset"] != values.get("dataset"):
            what += f" of {r['dataset'][:60]}"
    else:
        what = f"objective not recorded: the sanity line is for the selected loss ({values.get('loss')})"
    thinned = f", drawn as {len(store['step']):,} points" if len(store["step"]) < n else ""
    return store, (
        f"Loaded loss history: {n:,} step{'s' if n != 1 else ''} ({what}; {tail}{thinned}) from {name}."
    )


def import_gradcheck(text: str, name: str, values: dict, kinks=None) -> tuple[tuple, str]:
    """``(heatmap, scatter, summary)`` of the gradient-check view drawn from a
    check-table CSV, with the same builders as a computed check, and the status line."""
    from components import breakit, gradcheck  # they import this module (png_config)

    ds = session.load_dataset(session.dataset_key(values.get("dataset")))
    shape = (ds.n_features + 1, ds.n_classes)
    result = core_export.read_gradcheck_csv(text, shape)
    names = [str(c) for c in ds.class_names]
    heat = gradcheck.heatmap_figure(result, ds.image_shape, names, breakit.shows_kinks(kinks))
    scatter = gradcheck.scatter_figure(result)
    samples = result.extra.get("samples")
    children = gradcheck.summary(result, samples or 0, result.h, result.method or "?")
    checked = result.n_checked
    total = shape[0] * shape[1]
    how = f"{checked:,}{f' of {total:,}' if checked != total else ''} entries"
    if samples:
        how += f" checked on {samples:,} samples"
    if result.method and np.isfinite(result.h):
        how += f" · {result.method} differences, h = {session.fmt_sci(result.h)}"
    if checked > gradcheck.SCATTER_MAX:
        how += f" · the scatter shows {gradcheck.SCATTER_MAX:,} of them"
    children[2] = html.P(
        [
            how + " · ",
            html.B(f"imported from {name}"),
            ": not computed from the current weights; changing a control or the weights recomputes the check.",
        ],
        className="caption gc-imported",
    )
    other = result.extra.get("dataset")
    note = f"; checked on {str(other)[:60]}" if other and other != values.get("dataset") else ""
    loss = f", {result.name}" if result.name else ""
    return (heat, scatter, children), (
        f"Loaded gradient-check table: {checked:,} entries{loss}, {result.verdict} "
        f"(relative error {result.global_rel_error:.1e}{note}) from {name}."
    )


def import_upload(contents, filename, values: dict, running: bool = False, kinks=None):
    """``(weights payload, history, {control: value}, (heatmap, scatter,
    summary), message)`` for an uploaded file; a value is ``no_update`` where
    nothing changes. The controls are the sidebar's (:data:`lecture.KEYS`) and,
    for a configuration (``.json``, or the one a weights ``.npz`` carries),
    the teaching views' (:data:`lecture.TEACH_KEYS`). Raises ValueError with
    a readable message for anything that cannot be imported."""
    if running:
        raise ValueError("a training job is running: stop it first")
    name = _safe_name(filename)
    lower = name.lower()
    raw = decode_upload(contents)
    if lower.endswith(".npz"):
        got = core_export.weights_from_npz_bytes(raw, max_bytes=MAX_UPLOAD_BYTES)
        dataset = values["dataset"]
        ds = session.load_dataset(dataset)
        names = tuple(str(c) for c in ds.class_names)
        cfg_dataset = got["config"].get("dataset", "?") if isinstance(got["config"], dict) else "?"
        if got["W"].shape != (ds.n_features + 1, ds.n_classes) or tuple(got["image_shape"]) != tuple(
            ds.image_shape
        ):
            raise ValueError(
                f"{name} holds W of shape {got['W'].shape} for {got['image_shape'][0]}x{got['image_shape'][1]} "
                f"images (dataset {cfg_dataset!s:.60}); the current dataset needs "
                f"{(ds.n_features + 1, ds.n_classes)}: choose its dataset first"
            )
        if got["class_names"] != names:
            raise ValueError(
                f"{name} was trained on classes {', '.join(got['class_names'][:4])}, … (dataset "
                f"{cfg_dataset!s:.60}), not on those of the current dataset: choose its dataset first"
            )
        state, errors = lecture.state_from_config(got["config"])
        keep = set(_WEIGHT_FIXED) | set(_NOT_RESTORED)
        target = lecture.controls_from_state(state)
        updates = {
            k: (no_update if k in keep else u)
            for k, u in zip(lecture.KEYS, lecture.control_updates(target, values), strict=True)
        }
        payload = session.encode_weights(
            got["W"], dataset=dataset, origin=f"imported from {name}", run=0, step=0, imported=time.time()
        )
        updates.update(lecture.teach_controls_from_state(state))  # set through the URL (upload)
        note = f" ({'; '.join(errors[:3])})" if errors else ""
        return payload, None, updates, NO_VIEWS, f"Imported the weights of {name}{note}."
    if lower.endswith(".json"):
        config = core_export.config_from_json(raw)
        state, errors = lecture.state_from_config(config)
        target = lecture.controls_from_state(state)
        updates = {
            k: (no_update if k in _NOT_RESTORED else u)
            for k, u in zip(lecture.KEYS, lecture.control_updates(target, values), strict=True)
        }
        updates.update(lecture.teach_controls_from_state(state))  # set through the URL (upload)
        note = f" ({'; '.join(errors[:3])})" if errors else ""
        return no_update, no_update, updates, NO_VIEWS, f"Restored the controls of {name}{note}."
    if lower.endswith(".csv"):
        text = _csv_text(raw, name)
        unchanged = {k: no_update for k in lecture.KEYS}
        try:
            kind = core_export.csv_kind(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {str(exc).removeprefix('file: ')}") from None
        if kind == "history":
            store, message = import_history(text, name, values)
            return no_update, store, unchanged, NO_VIEWS, message
        views, message = import_gradcheck(text, name, values, kinks)
        return no_update, no_update, unchanged, views, message
    raise ValueError(
        f"{name}: expected a weights .npz, a configuration .json, or a loss-history or gradient-check .csv"
    )


@dash.callback(
    Output(ids.WEIGHTS_STORE, "data", allow_duplicate=True),
    Output(ids.HISTORY_STORE, "data", allow_duplicate=True),
    *[Output(cid, "value", allow_duplicate=True) for _, cid in lecture.CONTROLS],
    Output(ids.GC_HEATMAP, "figure", allow_duplicate=True),
    Output(ids.GC_SCATTER, "figure", allow_duplicate=True),
    Output(ids.GC_SUMMARY, "children", allow_duplicate=True),
    Output(ids.LECTURE_LOCATION, "search", allow_duplicate=True),
    Output(ids.EXPORT_STATUS, "children", allow_duplicate=True),
    Output(ids.EXPORT_UPLOAD, "contents"),
    Input(ids.EXPORT_UPLOAD, "contents"),
    State(ids.EXPORT_UPLOAD, "filename"),
    State(ids.RUNNING_STORE, "data"),
    State(ids.GC_KINKS, "value"),
    State(ids.LECTURE_LOCATION, "search"),
    *lecture._STATES,
    prevent_initial_call=True,
)
def upload(contents, filename, running, kinks, search, *values):
    """Import a weights .npz, a configuration .json, a loss-history .csv or a
    gradient-check .csv (then clear the box, so the same file can come again).
    A configuration sets the sidebar's controls and writes the URL, whose
    teaching part sets the teaching views' controls (now, or when they are
    mounted: ``components.lecture``). A file that cannot be imported is named
    in one line; the page stays as it was."""
    if not contents:
        raise PreventUpdate
    n = len(lecture.KEYS)
    current = dict(zip(lecture.KEYS, values, strict=True))
    try:
        weights, history, updates, views, message = import_upload(
            contents, filename, current, bool(running), kinks
        )
    except ValueError as exc:
        return (
            no_update,
            no_update,
            *([no_update] * n),
            *NO_VIEWS,
            no_update,
            status(f"Not imported: {exc}", "error"),
            None,
        )
    query = no_update
    if any(k in updates for k in lecture.TEACH_KEYS):
        shown = {k: current[k] if updates[k] is no_update else updates[k] for k in lecture.KEYS}
        teach = lecture.teach_state_from_controls({k: updates[k] for k in lecture.TEACH_KEYS})
        q = lecture.encode_query({**lecture.state_from_controls(shown), **teach})
        query = no_update if q == (search or "") else q
    return weights, history, *[updates[k] for k in lecture.KEYS], *views, query, status(message), None


# -- layout ------------------------------------------------------------------------------


def panel() -> html.Fieldset:
    """The sidebar group: four downloads and the import box."""

    def btn(bid, label, tip):
        return html.Button(label, id=bid, n_clicks=0, className="btn btn-small", title=tip)

    return html.Fieldset(
        className="group export-group",
        children=[
            html.Legend("Export & import"),
            html.Div(
                className="export-buttons",
                children=[
                    btn(
                        ids.EXPORT_WEIGHTS_BUTTON,
                        "Weights .npz",
                        "W, class names and every control (no pickle)",
                    ),
                    btn(
                        ids.EXPORT_HISTORY_BUTTON,
                        "Loss history .csv",
                        "The loss and accuracy of every logged step: import it to redraw the curves",
                    ),
                    btn(
                        ids.EXPORT_GC_BUTTON,
                        "Check table .csv",
                        "One row per checked entry of W: import it to redraw the check",
                    ),
                    btn(ids.EXPORT_CONFIG_BUTTON, "Config .json", "Every control: import it to restore them"),
                ],
            ),
            dcc.Upload(
                id=ids.EXPORT_UPLOAD,
                accept=".npz,.json,.csv",
                max_size=MAX_UPLOAD_BYTES,
                multiple=False,
                className="upload",
                className_reject="upload upload-reject",
                children=html.Div(
                    [
                        "Import: drop a weights ",
                        html.B(".npz"),
                        ", a config ",
                        html.B(".json"),
                        " or a history / check table ",
                        html.B(".csv"),
                        f" here, or click ({_mb(MAX_UPLOAD_BYTES)} at most)",
                    ]
                ),
            ),
            html.Div(id=ids.EXPORT_STATUS, className="export-status"),
            dcc.Download(id=ids.EXPORT_DOWNLOAD),
        ],
    )


def mount(sidebar: html.Aside) -> html.Aside:
    """The sidebar with :func:`panel` as its last group."""
    sidebar.children = [*(sidebar.children or []), panel()]
    return sidebar
