"""Lecture state: every control in the URL, the back button, "Copy link" and lecture mode.

A link reproduces the exact view: ``?loss=hinge&seed=3&gc_bug=sign-flip``
holds every control that differs from its default (human values: 5000
samples, reg 0.001, not slider positions). Two callbacks keep page and URL
in step through a ``dcc.Location(refresh=False)``:

* controls -> URL (:func:`controls_to_url`) writes ``search`` only when the
  encoded state differs from it (each write is a browser history entry);
* URL -> controls (:func:`url_to_controls`) runs when the page opens with a
  query and on back/forward, and sets only the controls whose value differs
  (no needless recomputation). A value the URL cannot set (unknown key, not a
  stop of its slider, a bug that does not apply to the loss, ...) is ignored
  and named in a message; the control keeps its default.

The same conversion reads a configuration JSON (:func:`state_from_config`),
so an exported ``.json`` and a link restore the page the same way.

Lecture mode (``lecture=1`` or the header toggle) adds the class
``lecture`` to the page root (``<html>``): larger text, and the advanced
controls (initialization, check settings, export) hidden (``assets/teach.css``).
"""

from __future__ import annotations

import math

import dash
import numpy as np
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import ids, session, urlstate
from core import data as core_data
from core.gradcheck import BUGS
from core.losses import LOSSES, REG_MODES
from core.train import INITS

SHARED_SCALE, PER_CLASS_SCALE = "shared", "per-class"  # as components.templates (not imported: no cycle)
CONFIG_FORMAT = "lincls-config/1"
CONFIG_META = ("format", "origin", "weights_dataset")  # keys of a configuration that are not controls

#: (URL key, component id): every control of the page, in the sidebar's order.
CONTROLS: tuple[tuple[str, str], ...] = (
    ("dataset", ids.DATASET),
    ("n_train", ids.TRAIN_SIZE),
    ("n_test", ids.TEST_SIZE),
    ("preprocessing", ids.PREPROCESSING),
    ("loss", ids.LOSS),
    ("delta", ids.DELTA),
    ("reg", ids.REG),
    ("reg_mode", ids.REG_MODE),
    ("reg_bias", ids.REG_BIAS),
    ("init", ids.INIT),
    ("seed", ids.SEED),
    ("lr", ids.LR),
    ("batch_size", ids.BATCH_SIZE),
    ("epochs", ids.EPOCHS),
    ("pace", ids.TRAIN_PACE),
    ("gc_samples", ids.GC_SAMPLES),
    ("gc_h", ids.GC_H),
    ("gc_method", ids.GC_METHOD),
    ("gc_entries", ids.GC_ENTRIES),
    ("gc_subset", ids.GC_SUBSET),
    ("gc_bug", ids.GC_BUG),
    ("scale", ids.TEMPLATES_SCALE),
    ("kinks", ids.GC_KINKS),
    ("lecture", ids.LECTURE_TOGGLE),
)
KEYS = tuple(k for k, _ in CONTROLS)

DEFAULTS: dict = {**session.DEFAULTS, "scale": SHARED_SCALE, "kinks": 1, "lecture": 0}

SCHEMA: dict = {
    "dataset": {"type": str, "max_len": 200},
    "n_train": {"type": int, "min": 1, "max": 10_000_000},
    "n_test": {"type": int, "min": 1, "max": 10_000_000},
    "preprocessing": tuple(core_data.PREPROCESSING),
    "loss": tuple(LOSSES),
    "delta": {"type": float, "min": 0.0, "max": 5.0},
    "reg": {"type": float, "min": 0.0, "max": 100.0},
    "reg_mode": tuple(REG_MODES),
    "reg_bias": bool,
    "init": tuple(INITS),
    "seed": {"type": int, "min": 0, "max": 2**31 - 1},
    "lr": {"type": float, "min": 1e-6, "max": 10.0},
    "batch_size": tuple(session.BATCH_SIZES),
    "epochs": tuple(session.EPOCH_CHOICES),
    "pace": ("watch", "fast"),
    "gc_samples": tuple(session.GC_SAMPLE_SIZES),
    "gc_h": {"type": float, "min": 1e-15, "max": 1.0},
    "gc_method": ("central", "forward"),
    "gc_entries": ("all", "random"),
    "gc_subset": {"type": int, "min": 1, "max": 1_000_000},
    "gc_bug": ("", *BUGS),
    "scale": (SHARED_SCALE, PER_CLASS_SCALE),
    "kinks": (0, 1),
    "lecture": (0, 1),
}

_LOG_STEP = 0.5  # the regularization and learning-rate sliders stop every half decade
_LOG_TOL = 1e-3  # how far (in log10) a URL value may be from a stop: 0.003162 is 10^-2.5
_DELTA_STEP = 0.1


# -- conversions: control values <-> human values -------------------------------


def _short(x: float) -> float:
    """Four significant digits, for readable URLs (10^-2.5 -> 0.003162)."""
    return float(f"{x:.4g}")


def _size(pos):
    try:
        return session.size_from_slider(pos)
    except ValueError:
        return None


def _int_or_none(v):
    try:
        return session._int(v, "value", 0)
    except ValueError:
        return None


def _float_or_none(v):
    try:
        return session._number(v, "value")
    except ValueError:
        return None


def state_from_controls(values: dict) -> dict:
    """The URL state ``{key: human value}`` of raw control values (slider
    positions, checklists). A value that is not valid (an empty seed box) is
    None, which the URL leaves out."""
    v = values
    reg_pos = _float_or_none(v.get("reg"))
    lr_pos = _float_or_none(v.get("lr"))
    delta = _float_or_none(v.get("delta"))
    return {
        "dataset": v.get("dataset"),
        "n_train": _size(v.get("n_train")),
        "n_test": _size(v.get("n_test")),
        "preprocessing": v.get("preprocessing"),
        "loss": v.get("loss"),
        "delta": None if delta is None else round(delta, 1),
        "reg": None if reg_pos is None else _short(session.reg_from_slider(reg_pos)),
        "reg_mode": v.get("reg_mode"),
        "reg_bias": "bias" in (v.get("reg_bias") or []),
        "init": v.get("init"),
        "seed": _int_or_none(v.get("seed")),
        "lr": None if lr_pos is None else _short(10.0**lr_pos),
        "batch_size": _size(v.get("batch_size")),
        "epochs": _size(v.get("epochs")),
        "pace": v.get("pace"),
        "gc_samples": _size(v.get("gc_samples")),
        "gc_h": _float_or_none(v.get("gc_h")),
        "gc_method": v.get("gc_method"),
        "gc_entries": v.get("gc_entries"),
        "gc_subset": _int_or_none(v.get("gc_subset")),
        "gc_bug": v.get("gc_bug") or "",
        "scale": v.get("scale") or SHARED_SCALE,
        "kinks": 1 if "show" in (v.get("kinks") or []) else 0,
        "lecture": 1 if "on" in (v.get("lecture") or []) else 0,
    }


def _log_position(x: float, lo: float, hi: float) -> float | None:
    """The slider stop (log10, every half decade in [lo, hi]) of ``x``, or None."""
    if x <= 0:
        return None
    p = math.log10(x)
    stop = round(p / _LOG_STEP) * _LOG_STEP
    if abs(p - stop) > _LOG_TOL or not lo - 1e-9 <= stop <= hi + 1e-9:
        return None
    return float(stop)


def _log_stops(lo: float, hi: float) -> str:
    return ", ".join(session.fmt_sci(10.0**p) for p in np.arange(lo, hi + 1e-9, 2 * _LOG_STEP))


def controls_from_state(state: dict) -> dict:
    """Raw control values for a (validated) URL state: the inverse of :func:`state_from_controls`."""
    s = state
    if s["reg"] == 0:
        reg_pos = session.REG_ZERO
    else:
        reg_pos = _log_position(s["reg"], session.REG_ZERO + _LOG_STEP, session.REG_RANGE[1])
    return {
        "dataset": s["dataset"],
        "n_train": float(np.log10(s["n_train"])),
        "n_test": float(np.log10(s["n_test"])),
        "preprocessing": s["preprocessing"],
        "loss": s["loss"],
        "delta": round(float(s["delta"]), 1),
        "reg": reg_pos,
        "reg_mode": s["reg_mode"],
        "reg_bias": ["bias"] if s["reg_bias"] else [],
        "init": s["init"],
        "seed": int(s["seed"]),
        "lr": _log_position(s["lr"], *session.LR_RANGE),
        "batch_size": float(np.log10(s["batch_size"])),
        "epochs": float(np.log10(s["epochs"])),
        "pace": s["pace"],
        "gc_samples": float(np.log10(s["gc_samples"])),
        "gc_h": float(s["gc_h"]),
        "gc_method": s["gc_method"],
        "gc_entries": s["gc_entries"],
        "gc_subset": int(s["gc_subset"]),
        "gc_bug": s["gc_bug"],
        "scale": s["scale"],
        "kinks": ["show"] if s["kinks"] else [],
        "lecture": ["on"] if s["lecture"] else [],
    }


def _dataset_keys() -> list[str]:
    options, _ = session.dataset_options()
    return [o["value"] for o in options]


def check_state(state: dict, errors: list[str], present: set[str] | None = None) -> dict:
    """What the schema cannot check: the dataset exists, sizes are stops of
    their sliders for that dataset, reg/lr/Δ are stops, the bug applies to the
    loss. Each failing key falls back to its default, with a message in
    ``errors``. ``present``: the keys that came from the user (only those are
    reported)."""
    s = dict(state)
    present = set(s) if present is None else present

    def reject(key: str, why: str):
        if key in present:
            errors.append(f"{key}: {why}; ignored")
        s[key] = DEFAULTS[key]

    if s["dataset"] not in _dataset_keys():
        reject("dataset", f"{s['dataset']!r} is not one of the datasets offered here")
    try:
        train_pool, _, test_pool = session.pools(s["dataset"])
    except ValueError as exc:
        reject("dataset", str(exc))
        train_pool, _, test_pool = session.pools(s["dataset"])
    for key, pool in (("n_train", train_pool), ("n_test", test_pool)):
        stops = session.size_marks(pool)
        if s[key] not in stops:
            reject(key, f"{s[key]:,} is not one of the stops {', '.join(f'{n:,}' for n in stops)}")
            if s[key] not in stops:  # the default does not fit this dataset: its nearest stop
                s[key] = min(stops, key=lambda n: abs(math.log10(n) - math.log10(s[key])))
    if abs(s["delta"] / _DELTA_STEP - round(s["delta"] / _DELTA_STEP)) > 1e-6:
        reject("delta", f"{s['delta']!r} is not a multiple of 0.1")
    if s["reg"] != 0 and _log_position(s["reg"], session.REG_ZERO + _LOG_STEP, session.REG_RANGE[1]) is None:
        reject(
            "reg",
            f"{s['reg']!r} is not a stop of the slider (0 or one of {_log_stops(-6, 2)} and the half decades between)",
        )
    if _log_position(s["lr"], *session.LR_RANGE) is None:
        reject(
            "lr",
            f"{s['lr']!r} is not a stop of the slider ({_log_stops(-6, 1)} and the half decades between)",
        )
    if s["gc_bug"] and s["loss"] not in BUGS[s["gc_bug"]].applies_to:
        reject("gc_bug", f"{s['gc_bug']!r} does not apply to the {s['loss']} loss")
    return s


def decode_query(search) -> tuple[dict, list[str]]:
    """``(state, errors)`` for a URL query: the defaults overlaid with every valid value."""
    state, errors = urlstate.decode_state(search, SCHEMA, DEFAULTS)
    present = {k for k in SCHEMA if k in state and not urlstate._same(state[k], DEFAULTS[k])}
    return check_state(state, errors, present), errors


def encode_query(state: dict) -> str:
    """``"?k=v&..."`` of the state's non-default values (``""`` for the defaults)."""
    return urlstate.encode_state({k: state.get(k) for k in KEYS}, DEFAULTS)


def state_from_config(config: dict) -> tuple[dict, list[str]]:
    """``(state, errors)`` for a configuration dict (``config_from_json``): its
    keys checked like URL values; unknown keys and bad values are named in
    ``errors`` and left at their defaults."""
    errors: list[str] = []
    pairs = []
    for key, value in config.items():
        if key in CONFIG_META:
            continue
        if key not in SCHEMA:
            errors.append(f"unknown key {key!r}; ignored")
            continue
        try:
            pairs.append(urlstate.encode_state({key: value}, {})[1:])
        except ValueError as exc:
            errors.append(f"{exc}; ignored")
    fmt = config.get("format", CONFIG_FORMAT)
    if fmt != CONFIG_FORMAT:
        errors.append(f"format {str(fmt)[:40]!r} is not {CONFIG_FORMAT!r}; read anyway")
    state, errs = decode_query("?" + "&".join(p for p in pairs if p))
    return state, errors + errs


def config_dict(state: dict, **extra) -> dict:
    """The JSON configuration of a state: every control (defaults included; not the lecture
    mode, which is how the page is shown), ``format`` and ``extra`` (keys of :data:`CONFIG_META`)."""
    controls = {k: state[k] for k in KEYS if k != "lecture" and state.get(k) is not None}
    return {"format": CONFIG_FORMAT, **controls, **extra}


# -- comparing and setting controls -------------------------------------------------


def _same_control(a, b) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return sorted(a or []) == sorted(b or [])
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def control_updates(target: dict, current: dict, keys=KEYS) -> list:
    """One output per key of ``keys``: the target value where it differs from the current one, else no_update."""
    return [no_update if _same_control(target[k], current.get(k)) else target[k] for k in keys]


def url_alert(errors: list[str]):
    if not errors:
        return None
    return html.Div(
        className="alert alert-warning",
        role="status",
        children=[
            html.B("Some values in the link were not used: "),
            "; ".join(errors[:6]) + (f"; and {len(errors) - 6} more" if len(errors) > 6 else "") + ".",
        ],
    )


# -- layout ------------------------------------------------------------------------


def location() -> dcc.Location:
    return dcc.Location(id=ids.LECTURE_LOCATION, refresh=False)


def toolbar() -> html.Div:
    """Copy link and the lecture-mode switch (for the header)."""
    return html.Div(
        className="lecture-bar",
        children=[
            html.Div(
                className="copy-link tip",
                title="Copy a link to this exact view (every control, the seed included)",
                children=[
                    dcc.Clipboard(
                        id=ids.LECTURE_COPY,
                        content="",
                        className="copy-icon",
                        title="Copy a link to this exact view",
                    ),
                    html.Span("Copy link", className="copy-label"),
                ],
            ),
            dcc.Checklist(
                id=ids.LECTURE_TOGGLE,
                options=[{"label": "Lecture mode", "value": "on"}],
                value=[],
                className="switch",
                inputClassName="switch-input",
            ),
        ],
    )


def alert_area() -> html.Div:
    return html.Div(id=ids.ALERT_URL)


# -- callbacks -------------------------------------------------------------------------

_STATES = [State(cid, "value") for _, cid in CONTROLS]


@dash.callback(
    *[Output(cid, "value", allow_duplicate=True) for _, cid in CONTROLS],
    Output(ids.ALERT_URL, "children"),
    Input(ids.LECTURE_LOCATION, "search"),
    *_STATES,
    prevent_initial_call=True,  # dcc.Location reports the page's query when it mounts
)
def url_to_controls(search, *values):
    """Open a link, or go back/forward: set the controls the URL describes.
    Nothing when the URL says what the controls already say (it was just
    written from them, perhaps with a value the user is still correcting)."""
    current = dict(zip(KEYS, values, strict=True))
    if encode_query(state_from_controls(current)) == (search or ""):
        raise PreventUpdate
    state, errors = decode_query(search or "")
    return *control_updates(controls_from_state(state), current), url_alert(errors)


@dash.callback(
    Output(ids.LECTURE_LOCATION, "search"),
    *[Input(cid, "value") for _, cid in CONTROLS],
    State(ids.LECTURE_LOCATION, "search"),
    prevent_initial_call=True,
)
def controls_to_url(*args):
    """A control changed: write the URL, unless it already says the same."""
    *values, search = args
    query = encode_query(state_from_controls(dict(zip(KEYS, values, strict=True))))
    if query == (search or ""):
        raise PreventUpdate
    return query


dash.clientside_callback(
    """
    function (search) {
        return window.location.origin + window.location.pathname + (search || '');
    }
    """,
    Output(ids.LECTURE_COPY, "content"),
    Input(ids.LECTURE_LOCATION, "search"),
)

# Pure UI: the class goes on <html> directly, so switching lecture mode re-renders
# nothing in React (a new className on the app's root component re-rendered the
# whole page, and its lazily loaded sliders vanished for seconds on a busy machine).
dash.clientside_callback(
    """
    function (value) {
        const on = !!(value && value.indexOf('on') >= 0);
        const was = document.documentElement.classList.contains('lecture');
        document.documentElement.classList.toggle('lecture', on);
        if (was !== on && window.linclsLectureRedraw) {
            window.linclsLectureRedraw();  // figure text sized for the mode (assets/lecture_fonts.js)
        }
        return on ? 'switch switch-on' : 'switch';
    }
    """,
    Output(ids.LECTURE_TOGGLE, "className"),
    Input(ids.LECTURE_TOGGLE, "value"),
    prevent_initial_call=True,
)
