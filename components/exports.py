"""Exports and imports: what a download holds re-creates the same view.

* Weights ``.npz`` (``core.export``: no pickle; W, class names, image shape
  and the configuration of every control). Importing it puts W into this
  page's weights store (in the browser session, never on disk) and restores
  the controls that do not re-initialize W (all but dataset, init and seed).
* Loss history ``.csv`` and gradient-check table ``.csv`` (for pandas or a
  spreadsheet; floats written to round-trip exactly).
* Configuration ``.json``: every control; importing it sets them all, as a
  link does (``components.lecture``).
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
    return session.analyze(session.prepared(data), W, loss, check).check.table


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


def download(kind: str, values: dict, weights: dict | None, history: dict | None):
    """``(dcc.Download data, message)`` for one export of the current page."""
    state = lecture.state_from_controls(values)
    stem = _stem(state)
    if kind == "weights":
        return dcc.send_bytes(weights_file(state, weights), f"{stem}-weights.npz"), "Weights exported."
    if kind == "history":
        frame = history_frame(history)
        if frame.empty:
            raise ValueError("no loss history yet: press Train first")
        return dcc.send_string(core_export.history_to_csv(frame), f"{stem}-history.csv"), (
            f"Loss history exported ({len(frame):,} rows)."
        )
    if kind == "gradcheck":
        table = check_table(values, weights)
        return dcc.send_string(core_export.gradcheck_table_to_csv(table), f"{stem}-gradcheck.csv"), (
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
    *lecture._STATES,
    prevent_initial_call=True,
)
def export(_w, _h, _g, _c, weights, history, *values):
    kind = _KIND_OF.get(ctx.triggered_id)
    if kind is None:
        raise PreventUpdate
    try:
        data, message = download(kind, dict(zip(lecture.KEYS, values, strict=True)), weights, history)
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


def import_upload(contents, filename, values: dict, running: bool = False):
    """``(weights payload, history, {control: value}, message)`` for an uploaded
    file; a value is ``no_update`` where nothing changes. Raises ValueError
    with a readable message for anything that cannot be imported."""
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
        note = f" ({'; '.join(errors[:3])})" if errors else ""
        return payload, None, updates, f"Imported the weights of {name}{note}."
    if lower.endswith(".json"):
        config = core_export.config_from_json(raw)
        state, errors = lecture.state_from_config(config)
        target = lecture.controls_from_state(state)
        updates = {
            k: (no_update if k in _NOT_RESTORED else u)
            for k, u in zip(lecture.KEYS, lecture.control_updates(target, values), strict=True)
        }
        note = f" ({'; '.join(errors[:3])})" if errors else ""
        return no_update, no_update, updates, f"Restored the controls of {name}{note}."
    raise ValueError(f"{name}: expected a weights .npz or a configuration .json")


@dash.callback(
    Output(ids.WEIGHTS_STORE, "data", allow_duplicate=True),
    Output(ids.HISTORY_STORE, "data", allow_duplicate=True),
    *[Output(cid, "value", allow_duplicate=True) for _, cid in lecture.CONTROLS],
    Output(ids.EXPORT_STATUS, "children", allow_duplicate=True),
    Output(ids.EXPORT_UPLOAD, "contents"),
    Input(ids.EXPORT_UPLOAD, "contents"),
    State(ids.EXPORT_UPLOAD, "filename"),
    State(ids.RUNNING_STORE, "data"),
    *lecture._STATES,
    prevent_initial_call=True,
)
def upload(contents, filename, running, *values):
    """Import a weights .npz or a configuration .json (then clear the box, so the same file can come again)."""
    if not contents:
        raise PreventUpdate
    n = len(lecture.KEYS)
    try:
        weights, history, updates, message = import_upload(
            contents, filename, dict(zip(lecture.KEYS, values, strict=True)), bool(running)
        )
    except ValueError as exc:
        return no_update, no_update, *([no_update] * n), status(f"Not imported: {exc}", "error"), None
    return weights, history, *[updates[k] for k in lecture.KEYS], status(message), None


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
                        "The loss and accuracy of every logged step",
                    ),
                    btn(ids.EXPORT_GC_BUTTON, "Check table .csv", "One row per checked entry of W"),
                    btn(ids.EXPORT_CONFIG_BUTTON, "Config .json", "Every control: import it to restore them"),
                ],
            ),
            dcc.Upload(
                id=ids.EXPORT_UPLOAD,
                accept=".npz,.json",
                max_size=MAX_UPLOAD_BYTES,
                multiple=False,
                className="upload",
                className_reject="upload upload-reject",
                children=html.Div(
                    [
                        "Import: drop a weights ",
                        html.B(".npz"),
                        " or a config ",
                        html.B(".json"),
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
