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

The teaching sections' controls (:data:`TEACH_CONTROLS`: which tab of "Inside
the gradient" and "Inspect the classifier" is open, the landscape's slice,
direction, span and seed, the examples' split and image numbers, the grid's
presets) are in the URL too, e.g. ``?inspect_tab=grid&ls_seed=4``. Those
sections are mounted after the first views are drawn (:mod:`components.deferred`),
so the first views never wait for them, and no callback can read or set their
controls before. Instead:

* the sections are built from the URL when they are mounted
  (:func:`teach_values`, read by ``deferred.mount_sections``);
* until then the URL holds their state: :func:`controls_to_url` writes the
  sidebar's controls and keeps the teaching part of the query as it is;
* once mounted, :func:`teach_to_url` writes the URL when one of them changes
  and :func:`url_to_teach` sets them on back/forward, as the two callbacks
  above do for the sidebar.

The same conversion reads a configuration JSON (:func:`state_from_config`),
so an exported ``.json`` and a link restore the page the same way, the
teaching views included.

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
from components import inspect_common as ic
from core import data as core_data
from core.gradcheck import BUGS
from core.losses import LOSSES, REG_MODES
from core.train import INITS

SHARED_SCALE, PER_CLASS_SCALE = "shared", "per-class"  # as components.templates (not imported: no cycle)
CONFIG_FORMAT = "lincls-config/1"
CONFIG_META = ("format", "origin", "weights_dataset")  # keys of a configuration that are not controls

#: (URL key, component id): every control of the first page (sidebar and header), in the sidebar's order.
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

#: (URL key, component id): the controls of the teaching sections, mounted after the first
#: views (components.deferred; see the module docstring for how the URL reaches them)
TEACH_CONTROLS: tuple[tuple[str, str], ...] = (
    ("inside_tab", ids.INSIDE_TABS),
    ("ls_mode", ids.LANDSCAPE_MODE),
    ("ls_direction", ids.LANDSCAPE_DIRECTION),
    ("ls_span", ids.LANDSCAPE_SPAN),
    ("ls_seed", ids.LANDSCAPE_SEED),
    ("inspect_tab", ids.INSPECT_TABS),
    ("ex_split", ids.EXAMPLES_SPLIT),
    ("ex_images", ids.EXAMPLES_INDICES),
    ("grid_lrs", ids.HYPERGRID_LRS),
    ("grid_regs", ids.HYPERGRID_REGS),
)
TEACH_KEYS = tuple(k for k, _ in TEACH_CONTROLS)
URL_KEYS = KEYS + TEACH_KEYS

#: Every other control of the page (and of the sections mounted later) and why a link leaves it
#: out; tests/components/test_lecture.py fails on a control that is in neither list.
NOT_IN_URL: dict[str, str] = {
    ids.EXPORT_UPLOAD: "a file to import, not a setting: importing it sets the controls it carries",
    ids.LECTURE_COPY: "the Copy link button itself (its content is the URL)",
}

# The teaching views' choices, as their modules define them (components.landscape, examples and
# hypergrid import this module through components.exports, so they cannot be imported here;
# test_lecture checks that these are the same).
INSIDE_TABS = ("sweep", "landscape")
INSPECT_TABS = (ic.TAB_EXAMPLES, ic.TAB_MISTAKES, ic.TAB_COMPARE, ic.TAB_GRID)
LS_MODES = ("1d", "2d")
LS_DIRECTIONS = ("gradient", "random")
LS_AUTO = "auto"
LS_SPANS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
LS_SEED_MAX = 2**32 - 1
EX_MAX_ROWS = 10
EX_MAX_INDEX = 10_000_000  # no split is larger (the sample-size sliders stop below)
GRID_LRS = ("lr4", "lr7", "lr2")
GRID_REGS = ("reg4", "reg6", "reg2")

DEFAULTS: dict = {
    **session.DEFAULTS,
    "scale": SHARED_SCALE,
    "kinks": 1,
    "lecture": 0,
    "inside_tab": INSIDE_TABS[0],
    "ls_mode": LS_MODES[0],
    "ls_direction": LS_DIRECTIONS[0],
    "ls_span": LS_AUTO,
    "ls_seed": 0,
    "inspect_tab": INSPECT_TABS[0],
    "ex_split": "train",
    "ex_images": "0,1,2,3,4",
    "grid_lrs": GRID_LRS[0],
    "grid_regs": GRID_REGS[0],
}

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
    # the teaching sections
    "inside_tab": INSIDE_TABS,
    "ls_mode": LS_MODES,
    "ls_direction": LS_DIRECTIONS,
    "ls_span": (LS_AUTO, *(f"{s:g}" for s in LS_SPANS)),  # a string: "auto" or a number
    "ls_seed": {"type": int, "min": 0, "max": LS_SEED_MAX},
    "inspect_tab": INSPECT_TABS,
    "ex_split": ("train", "test"),
    "ex_images": {"type": str, "max_len": 120},  # "3,17,42": checked by image_numbers
    "grid_lrs": GRID_LRS,
    "grid_regs": GRID_REGS,
}
TEACH_SCHEMA = {k: SCHEMA[k] for k in TEACH_KEYS}

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


def image_numbers(text) -> str | None:
    """The examples' image numbers ("3, 17 42") as the URL writes them ("3,17,42"): at most
    :data:`EX_MAX_ROWS` whole numbers, repeats dropped; None when the text is not such a list
    (whether each image exists depends on the split; the Examples view says so)."""
    parts = [
        p for p in str(text if text is not None else "").replace(",", " ").replace(";", " ").split() if p
    ]
    if not parts or len(parts) > 4 * EX_MAX_ROWS or not all(p.isdecimal() and p.isascii() for p in parts):
        return None
    out: list[int] = []
    for p in parts:
        i = int(p)
        if i >= EX_MAX_INDEX:
            return None
        if i not in out:
            out.append(i)
    return ",".join(map(str, out)) if len(out) <= EX_MAX_ROWS else None


def _span_text(value) -> str | None:
    """The landscape's span as the URL writes it: "auto" or one of :data:`LS_SPANS` ("0.5")."""
    if value == LS_AUTO:
        return LS_AUTO
    x = _float_or_none(value)
    if x is None:
        return None
    near = [s for s in LS_SPANS if abs(x - s) <= 1e-9 * s]
    return f"{near[0]:g}" if near else None


def teach_state_from_controls(values: dict) -> dict:
    """The URL state of the teaching controls' raw values (``{key: value}`` by
    :data:`TEACH_KEYS`); a value that is not valid (a seed being typed) is None,
    which the URL leaves out."""
    v = values
    seed = _int_or_none(v.get("ls_seed"))

    def choice(key, choices):
        return v.get(key) if v.get(key) in choices else None

    return {
        "inside_tab": choice("inside_tab", INSIDE_TABS),
        "ls_mode": choice("ls_mode", LS_MODES),
        "ls_direction": choice("ls_direction", LS_DIRECTIONS),
        "ls_span": _span_text(v.get("ls_span")),
        "ls_seed": seed if seed is not None and seed <= LS_SEED_MAX else None,
        "inspect_tab": choice("inspect_tab", INSPECT_TABS),
        "ex_split": choice("ex_split", ("train", "test")),
        "ex_images": image_numbers(v.get("ex_images")),
        "grid_lrs": choice("grid_lrs", GRID_LRS),
        "grid_regs": choice("grid_regs", GRID_REGS),
    }


def teach_controls_from_state(state: dict) -> dict:
    """Raw control values for a (validated) teaching state: the inverse of :func:`teach_state_from_controls`."""
    s = state
    return {
        **{
            k: s[k]
            for k in (
                "inside_tab",
                "ls_mode",
                "ls_direction",
                "inspect_tab",
                "ex_split",
                "grid_lrs",
                "grid_regs",
            )
        },
        "ls_span": LS_AUTO if s["ls_span"] == LS_AUTO else float(s["ls_span"]),
        "ls_seed": int(s["ls_seed"]),
        "ex_images": ", ".join(s["ex_images"].split(",")),  # as the field shows them: "0, 1, 2"
    }


def _check_teach(s: dict, reject) -> None:
    """What the schema cannot check of the teaching keys: the image numbers are a short list."""
    numbers = image_numbers(s["ex_images"])
    if numbers is None:
        reject("ex_images", f"{s['ex_images'][:40]!r} is not a list of at most {EX_MAX_ROWS} image numbers")
    else:
        s["ex_images"] = numbers


def teach_state_from_query(search) -> dict:
    """The teaching part of a URL query: every valid teaching value, the defaults for the others
    (the errors are reported by :func:`url_to_controls`, which reads the whole query)."""
    state, _ = urlstate.decode_state(search, TEACH_SCHEMA, {k: DEFAULTS[k] for k in TEACH_KEYS})

    def reject(key, _why):
        state[key] = DEFAULTS[key]

    _check_teach(state, reject)
    return state


def teach_values(search) -> dict:
    """``{component id: value}`` of the teaching controls for a URL query: what the sections
    are built with when they are mounted (components.deferred)."""
    controls = teach_controls_from_state(teach_state_from_query(search))
    return {cid: controls[k] for k, cid in TEACH_CONTROLS}


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
    _check_teach(s, reject)
    return s


def decode_query(search) -> tuple[dict, list[str]]:
    """``(state, errors)`` for a URL query: the defaults overlaid with every valid value."""
    state, errors = urlstate.decode_state(search, SCHEMA, DEFAULTS)
    present = {k for k in SCHEMA if k in state and not urlstate._same(state[k], DEFAULTS[k])}
    return check_state(state, errors, present), errors


def encode_query(state: dict) -> str:
    """``"?k=v&..."`` of the state's non-default values (``""`` for the defaults); a key the
    state does not hold (the teaching ones, for a state of the sidebar alone) is left out."""
    return urlstate.encode_state({k: state.get(k) for k in URL_KEYS}, DEFAULTS)


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
    """The JSON configuration of a state: every control, the teaching views' too (defaults
    included; not the lecture mode, which is how the page is shown), ``format`` and ``extra``
    (keys of :data:`CONFIG_META`)."""
    controls = {k: state[k] for k in URL_KEYS if k != "lecture" and state.get(k) is not None}
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
    """Open a link, or go back/forward: set the controls the URL describes
    (the sidebar's; :func:`url_to_teach` sets the teaching sections'), and name
    every value of the link that was not used. Nothing when the URL says what
    the controls already say (it was just written from them, perhaps with a
    value the user is still correcting)."""
    current = dict(zip(KEYS, values, strict=True))
    if encode_query({**state_from_controls(current), **teach_state_from_query(search)}) == (search or ""):
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
    """A control changed: write the URL, unless it already says the same. The
    teaching part of the query stays as it is (its controls may not be mounted
    yet: the URL is where their state waits; :func:`teach_to_url` writes it)."""
    *values, search = args
    main = state_from_controls(dict(zip(KEYS, values, strict=True)))
    query = encode_query({**main, **teach_state_from_query(search)})
    if query == (search or ""):
        raise PreventUpdate
    return query


def _same_state(a, b) -> bool:
    return a is not None and b is not None and urlstate._same(a, b)


@dash.callback(
    *[Output(cid, "value", allow_duplicate=True) for _, cid in TEACH_CONTROLS],
    Input(ids.LECTURE_LOCATION, "search"),
    *[State(cid, "value") for _, cid in TEACH_CONTROLS],
    # fires only once the sections are mounted (before, none of its outputs is on the page);
    # not when they are: they are built from the URL (deferred.mount_sections)
    prevent_initial_call=True,
)
def url_to_teach(search, *values):
    """Back/forward (or an imported configuration): set the teaching controls the URL
    describes, each only where it differs (a bad value was named by :func:`url_to_controls`)."""
    current = teach_state_from_controls(dict(zip(TEACH_KEYS, values, strict=True)))
    target = teach_state_from_query(search)
    if encode_query(current) == encode_query(target):
        raise PreventUpdate  # what the URL says (or a value being typed, which the URL left out)
    controls = teach_controls_from_state(target)
    return [no_update if _same_state(current[k], target[k]) else controls[k] for k in TEACH_KEYS]


@dash.callback(
    Output(ids.LECTURE_LOCATION, "search", allow_duplicate=True),
    *[Input(cid, "value") for _, cid in TEACH_CONTROLS],
    *_STATES,
    State(ids.LECTURE_LOCATION, "search"),
    prevent_initial_call=True,
)
def teach_to_url(*args):
    """A teaching control changed (a tab, the landscape's seed, the examples' images, ...):
    write the URL with the sidebar's controls, unless it already says the same. (Also called
    when the sections are mounted: built from the URL, they say the same.)"""
    n = len(TEACH_KEYS)
    teach, main, search = args[:n], args[n:-1], args[-1]
    query = encode_query(
        {
            **state_from_controls(dict(zip(KEYS, main, strict=True))),
            **teach_state_from_controls(dict(zip(TEACH_KEYS, teach, strict=True))),
        }
    )
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
