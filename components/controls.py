"""The sidebar: small reusable control wrappers, the grouped controls, and the
callbacks that keep controls consistent (Δ only for hinge losses, sample-size
stops that fit the chosen dataset, the subset size only for a random subset).
"""

from __future__ import annotations

import math

import dash
import numpy as np
from dash import Input, Output, State, dcc, html

from components import ids, session
from components.guard import guarded
from core import data as core_data
from core.gradcheck import BUGS
from core.losses import LOSSES, REG_MODES
from core.train import INITS

# -- wrappers -------------------------------------------------------------


def field(label: str, tip: str, control, *, hint: str | None = None, cls: str = "") -> html.Div:
    """A labelled control; hovering the label shows ``tip`` (CSS tooltip, no JS)."""
    return html.Div(
        className=f"field {cls}".strip(),
        children=[
            html.Label(
                className="field-label tip",
                **{"data-tip": tip, "aria-label": f"{label}: {tip}"},
                children=[label, html.Span("i", className="info", **{"aria-hidden": "true"})],
            ),
            control,
            html.Div(hint, className="field-hint") if hint else None,
        ],
    )


def group(title: str, children: list, *, fieldset_id: str | None = None) -> html.Fieldset:
    """A titled group of fields; a fieldset, so `disabled` can grey all of it at once."""
    kw = {"id": fieldset_id} if fieldset_id else {}
    return html.Fieldset(className="group", children=[html.Legend(title), *children], **kw)


def log_slider(control_id: str, lo: float, hi: float, value: float, marks: dict, transform: str, step=0.5):
    """A slider whose position is log10 of the value; the tooltip shows the value itself."""
    return dcc.Slider(
        id=control_id,
        min=lo,
        max=hi,
        step=step,
        value=value,
        marks=marks,
        allow_direct_input=False,
        updatemode="drag",
        tooltip={"placement": "top", "always_visible": False, "transform": transform},
        className="slider",
    )


def choice_marks(choices) -> dict:
    """Slider marks for sizes placed by log10 (the slider can only stop on them)."""
    return {float(np.log10(n)): session.short_count(int(n)) for n in choices}


def choice_slider(control_id: str, choices, value: int, *, updatemode: str = "mouseup"):
    """A slider that stops only at ``choices`` (placed by log10, so 50 and 5,000 both get room)."""
    marks = choice_marks(choices)
    return dcc.Slider(
        id=control_id,
        min=min(marks),
        max=max(marks),
        step=None,
        value=_nearest_position(value, choices),
        marks=marks,
        allow_direct_input=False,
        updatemode=updatemode,
        className="slider",
    )


def _nearest_position(value: int, choices) -> float:
    choices = list(choices)
    best = min(choices, key=lambda n: abs(math.log10(n) - math.log10(max(value, 1))))
    return float(np.log10(best))


def radio(control_id: str, options, value, *, inline=True, cls="segmented"):
    return dcc.RadioItems(id=control_id, options=options, value=value, inline=inline, className=cls)


def button(control_id: str, label: str, *, primary=False, disabled=False, tip: str = ""):
    return html.Button(
        label,
        id=control_id,
        n_clicks=0,
        disabled=disabled,
        className="btn btn-primary" if primary else "btn",
        title=tip or None,
    )


# -- the sidebar ------------------------------------------------------------

REG_MARKS = {session.REG_ZERO: "0", -6: "1e-6", -4: "1e-4", -2: "0.01", 0: "1", 2: "100"}
LR_MARKS = {-6: "1e-6", -4: "1e-4", -2: "0.01", 0: "1"}
DELTA_MARKS = {0: "0", 1: "1", 2: "2", 5: "5"}
PACE_OPTIONS = [{"label": "watch (≈ 5 s)", "value": "watch"}, {"label": "full speed", "value": "fast"}]
MODE_LABELS = {"half": "½λ‖W‖²", "full": "λ‖W‖²"}
PREPROCESSING_LABELS = {
    "standardize": "standardize",
    "center": "center",
    "scale": "scale to [0, 1]",
    "deskew": "deskew, scale to [0, 1]",
    "none": "raw pixels",
}


def bug_options(loss: str) -> list[dict]:
    """ "No bug" and every planted mistake that applies to ``loss``."""
    opts = [{"label": "none (the real gradient)", "value": ""}]
    opts += [{"label": b.label, "value": b.name} for b in BUGS.values() if loss in b.applies_to]
    return opts


def _sub(*parts):
    return html.Sub(list(parts))


_YI = ["y", _sub("i")]
FORMULAS = {
    # the registry's LaTeX (LossSpec.formula) as plain HTML: no 2 MB MathJax to load
    "softmax": [
        "L",
        _sub("i"),
        " = −log ( e",
        html.Sup(["s", _sub(*_YI)]),
        " / ∑",
        _sub("j"),
        " e",
        html.Sup(["s", _sub("j")]),
        " )",
    ],
    "hinge": ["L", _sub("i"), " = ∑", _sub("j≠", *_YI), " max(0, s", _sub("j"), " − s", _sub(*_YI), " + Δ)"],
    "ova-hinge": [
        "L",
        _sub("i"),
        " = ∑",
        _sub("j"),
        " max(0, Δ − t",
        _sub("j"),
        " s",
        _sub("j"),
        "),  t",
        _sub("j"),
        " = ±1",
    ],
    "structured-hinge": [
        "L",
        _sub("i"),
        " = max(0, max",
        _sub("j≠", *_YI),
        " s",
        _sub("j"),
        " − s",
        _sub(*_YI),
        " + Δ)",
    ],
}


def formula(loss: str) -> list:
    """The per-sample loss of ``loss`` as HTML (the LaTeX source for a loss without an HTML form)."""
    return FORMULAS.get(loss) or [html.Code(LOSSES[loss].formula)]


def size_slider_props(dataset: str, n_train: int, n_test: int) -> dict:
    """min/max/marks/value of both sample-size sliders for a dataset."""
    train_pool, _, test_pool = session.pools(dataset)
    out = {}
    for name, pool, want in (("train", train_pool, n_train), ("test", test_pool, n_test)):
        choices = session.size_marks(pool)
        marks = choice_marks(choices)
        out[name] = dict(
            min=min(marks), max=max(marks), marks=marks, value=_nearest_position(min(want, pool), choices)
        )
    return out


def initial_values(d: dict = session.DEFAULTS) -> dict:
    """The raw values the sidebar starts with (slider positions, not sizes), keyed like
    ``analysis.compute_views`` expects them, so the first page can be drawn on the server."""
    sizes = size_slider_props(d["dataset"], d["n_train"], d["n_test"])
    return dict(
        dataset=d["dataset"],
        train_size=sizes["train"]["value"],
        test_size=sizes["test"]["value"],
        preprocessing=d["preprocessing"],
        loss=d["loss"],
        delta=d["delta"],
        reg=session.slider_from_reg(d["reg"]),
        reg_mode=d["reg_mode"],
        reg_bias=["bias"] if d["reg_bias"] else [],
        gc_samples=_nearest_position(d["gc_samples"], session.GC_SAMPLE_SIZES),
        gc_h=d["gc_h"],
        gc_method=d["gc_method"],
        gc_entries=d["gc_entries"],
        gc_subset=d["gc_subset"],
        gc_bug=d["gc_bug"],
    )


# -- the sidebar's values as callback dependencies --------------------------------

#: the sidebar values the views read, by the names of :func:`initial_values` (and
#: of the views' ``compute`` functions): name -> (component id, property)
VALUES = {
    "dataset": (ids.DATASET, "value"),
    "train_size": (ids.TRAIN_SIZE, "value"),
    "test_size": (ids.TEST_SIZE, "value"),
    "preprocessing": (ids.PREPROCESSING, "value"),
    "loss": (ids.LOSS, "value"),
    "delta": (ids.DELTA, "value"),
    "reg": (ids.REG, "value"),
    "reg_mode": (ids.REG_MODE, "value"),
    "reg_bias": (ids.REG_BIAS, "value"),
    "lr": (ids.LR, "value"),
    "gc_samples": (ids.GC_SAMPLES, "value"),
    "gc_h": (ids.GC_H, "value"),
    "gc_method": (ids.GC_METHOD, "value"),
    "gc_entries": (ids.GC_ENTRIES, "value"),
    "gc_subset": (ids.GC_SUBSET, "value"),
    "gc_bug": (ids.GC_BUG, "value"),
    "gc_kinks": (ids.GC_KINKS, "value"),
}
#: the data and the objective: what every view of the loss reads
DATA_VALUES = ("dataset", "train_size", "test_size", "preprocessing")
LOSS_VALUES = ("loss", "delta", "reg", "reg_mode", "reg_bias")
#: the gradient check's settings
CHECK_VALUES = ("gc_samples", "gc_h", "gc_method", "gc_entries", "gc_subset", "gc_bug")


def value_inputs(*names: str, state: tuple[str, ...] = ()) -> dict:
    """``{name: Input(id, property)}`` for the sidebar values ``names`` (see
    :data:`VALUES`); those also in ``state`` as ``State`` (read, but a change
    does not run the callback).

    A group for Dash's flexible callback signature: with
    ``inputs=dict(values=value_inputs(...), ...)`` the callback gets one
    argument ``values``, a dict by these names, ready for the views' ``compute``.
    On the wire (``/_dash-dependencies``, the request) it stays a flat list."""
    unknown = [n for n in (*names, *state) if n not in VALUES]
    if unknown or not set(state) <= set(names):
        raise ValueError(f"not sidebar values of this call: {unknown or sorted(set(state) - set(names))}")
    return {n: (State if n in state else Input)(*VALUES[n]) for n in names}


def train_actions() -> html.Div:
    """Train / Stop, the progress bar and the status line: in the header, always in sight."""
    return html.Div(
        className="actions",
        children=[
            button(ids.TRAIN_BUTTON, "Train", primary=True, tip="Train from the current weights"),
            button(ids.STOP_BUTTON, "Stop", disabled=True, tip="Stop and keep the weights learned so far"),
            html.Div(
                className="progress-box",
                children=[
                    html.Progress(id=ids.TRAIN_PROGRESS, value="0", max="1", className="progress"),
                    html.Div(id=ids.TRAIN_STATUS, className="train-status", children="Ready."),
                ],
            ),
        ],
    )


def sidebar(dataset_options: list[dict], d: dict = session.DEFAULTS) -> html.Aside:
    """All controls, grouped: data, loss, initialization, training, gradient check."""
    sizes = size_slider_props(d["dataset"], d["n_train"], d["n_test"])
    return html.Aside(
        className="sidebar",
        children=[
            group(
                "Data",
                fieldset_id=ids.DATA_FIELDSET,
                children=[
                    field(
                        "Dataset",
                        "The images to classify: the built-in MNIST sample, plus every dataset found "
                        "(Fashion-MNIST when installed, the --data folder).",
                        dcc.Dropdown(
                            id=ids.DATASET,
                            options=dataset_options,
                            value=d["dataset"],
                            clearable=False,
                            searchable=False,
                            className="dropdown",
                        ),
                    ),
                    field(
                        "Training samples",
                        "How many training images the loss, gradient and training use (the first N). "
                        "A further tenth (at most 1,000) is held out for validation.",
                        dcc.Slider(
                            id=ids.TRAIN_SIZE,
                            step=None,
                            allow_direct_input=False,
                            className="slider",
                            **sizes["train"],
                        ),
                    ),
                    field(
                        "Test samples",
                        "How many test images the test accuracy is measured on.",
                        dcc.Slider(
                            id=ids.TEST_SIZE,
                            step=None,
                            allow_direct_input=False,
                            className="slider",
                            **sizes["test"],
                        ),
                        cls="advanced",  # hidden in lecture mode (assets/teach.css)
                    ),
                    field(
                        "Preprocessing",
                        "standardize: each image to mean 0 and standard deviation 1; center: subtract the mean "
                        "training image; scale: pixels to [0, 1]; deskew: shear each digit upright and centre "
                        "it, then scale (sharper templates, higher accuracy); raw: 0 to 255.",
                        radio(
                            ids.PREPROCESSING,
                            [{"label": PREPROCESSING_LABELS[m], "value": m} for m in core_data.PREPROCESSING],
                            d["preprocessing"],
                        ),
                    ),
                ],
            ),
            group(
                "Loss",
                children=[
                    field(
                        "Loss function",
                        "Softmax (cross-entropy) or one of the multiclass hinge (SVM) losses.",
                        radio(
                            ids.LOSS,
                            [{"label": spec.label, "value": name} for name, spec in LOSSES.items()],
                            d["loss"],
                            inline=False,
                            cls="choices",
                        ),
                    ),
                    html.Div(formula(d["loss"]), id=ids.LOSS_FORMULA, className="formula"),
                    field(
                        "Margin Δ",
                        "The margin the hinge losses ask the correct class to win by. Softmax has no margin.",
                        dcc.Slider(
                            id=ids.DELTA,
                            min=0,
                            max=5,
                            step=0.1,
                            value=d["delta"],
                            marks=DELTA_MARKS,
                            allow_direct_input=False,
                            updatemode="drag",
                            disabled=not LOSSES[d["loss"]].uses_margin,
                            tooltip={"placement": "top", "always_visible": False},
                            className="slider",
                        ),
                    ),
                    field(
                        "Regularization λ",
                        "Strength of the L2 penalty on W, on a log scale; the leftmost stop is λ = 0.",
                        log_slider(
                            ids.REG,
                            *session.REG_RANGE,
                            session.slider_from_reg(d["reg"]),
                            REG_MARKS,
                            "linclsReg",
                        ),
                    ),
                    field(
                        "Penalty",
                        "½λ‖W‖² has gradient λW (the notebook's); λ‖W‖² has gradient 2λW (CS231n's).",
                        html.Div(
                            className="inline-row",
                            children=[
                                radio(
                                    ids.REG_MODE,
                                    [{"label": MODE_LABELS[m], "value": m} for m in REG_MODES],
                                    d["reg_mode"],
                                ),
                                dcc.Checklist(
                                    id=ids.REG_BIAS,
                                    options=[{"label": "include bias", "value": "bias"}],
                                    value=["bias"] if d["reg_bias"] else [],
                                    className="check",
                                ),
                            ],
                        ),
                    ),
                ],
            ),
            group(
                "Initialization",
                fieldset_id=ids.INIT_FIELDSET,
                children=[
                    field(
                        "Initial weights",
                        "gaussian: 0.001·N(0, 1) (CS231n); uniform: U[0, 1) (the notebook); zeros. "
                        "Changing it (or the seed) resets W.",
                        radio(ids.INIT, [{"label": m, "value": m} for m in INITS], d["init"]),
                    ),
                    html.Div(
                        className="inline-row",
                        children=[
                            field(
                                "Seed",
                                "Seeds the initial weights and the order of the training minibatches.",
                                dcc.Input(
                                    id=ids.SEED,
                                    type="number",
                                    value=d["seed"],
                                    min=0,
                                    step=1,
                                    debounce=True,
                                    className="input input-short",
                                ),
                                cls="field-inline",
                            ),
                            button(
                                ids.RESET_BUTTON,
                                "Reset weights",
                                tip="Start again from freshly initialized weights",
                            ),
                        ],
                    ),
                ],
            ),
            group(
                "Training",
                children=[
                    field(
                        "Learning rate",
                        "Step size of minibatch SGD (momentum 0.9), on a log scale. Too large and the loss diverges.",
                        log_slider(
                            ids.LR, *session.LR_RANGE, float(np.log10(d["lr"])), LR_MARKS, "linclsPow10"
                        ),
                    ),
                    field(
                        "Batch size",
                        "Training images per gradient step.",
                        choice_slider(ids.BATCH_SIZE, session.BATCH_SIZES, d["batch_size"]),
                    ),
                    field(
                        "Epochs",
                        "Passes over the training samples. Train continues from the current weights.",
                        choice_slider(ids.EPOCHS, session.EPOCH_CHOICES, d["epochs"]),
                    ),
                    field(
                        "Pace",
                        "watch: a short run is slowed down to last about 5 seconds, so the curves and templates "
                        "can be seen changing; full speed: as fast as the server can.",
                        radio(ids.TRAIN_PACE, PACE_OPTIONS, d["pace"]),
                        cls="advanced",
                    ),
                ],
            ),
            group(
                "Gradient check",
                children=[
                    field(
                        "Samples",
                        "How many training samples the numeric gradient is computed on.",
                        choice_slider(
                            ids.GC_SAMPLES, session.GC_SAMPLE_SIZES, d["gc_samples"], updatemode="drag"
                        ),
                        cls="advanced",
                    ),
                    html.Div(
                        className="inline-row advanced",
                        children=[
                            field(
                                "Step h",
                                "The finite-difference step: (L(w+h) − L(w−h)) / 2h. Try 1e-2 or 1e-9.",
                                dcc.Input(
                                    id=ids.GC_H,
                                    type="number",
                                    value=d["gc_h"],
                                    step="any",
                                    debounce=True,
                                    className="input input-short",
                                ),
                                cls="field-inline",
                            ),
                            field(
                                "Differences",
                                "central: error ~h²; forward: (L(w+h) − L(w)) / h, error ~h.",
                                radio(
                                    ids.GC_METHOD,
                                    [{"label": m, "value": m} for m in ("central", "forward")],
                                    d["gc_method"],
                                ),
                                cls="field-inline",
                            ),
                        ],
                    ),
                    html.Div(
                        className="inline-row advanced",
                        children=[
                            field(
                                "Entries",
                                "Check every entry of W, or a random subset of them.",
                                radio(
                                    ids.GC_ENTRIES,
                                    [
                                        {"label": "all", "value": "all"},
                                        {"label": "random", "value": "random"},
                                    ],
                                    d["gc_entries"],
                                ),
                                cls="field-inline",
                            ),
                            field(
                                "How many",
                                "Size of the random subset of entries.",
                                dcc.Input(
                                    id=ids.GC_SUBSET,
                                    type="number",
                                    value=d["gc_subset"],
                                    min=1,
                                    step=1,
                                    debounce=True,
                                    disabled=d["gc_entries"] == "all",
                                    className="input input-short",
                                ),
                                cls="field-inline",
                            ),
                        ],
                    ),
                    field(
                        "Plant a bug",
                        "Check a deliberately wrong analytic gradient (a classic mistake) to see what the "
                        "check reports. The loss value stays right; only the gradient is wrong.",
                        dcc.Dropdown(
                            id=ids.GC_BUG,
                            options=bug_options(d["loss"]),
                            value=d["gc_bug"],
                            clearable=False,
                            searchable=False,
                            className="dropdown",
                        ),
                    ),
                ],
            ),
        ],
    )


# -- callbacks that keep the controls consistent -----------------------------


@dash.callback(
    Output(ids.DELTA, "disabled"),
    Output(ids.LOSS_FORMULA, "children"),
    Output(ids.GC_BUG, "options"),
    Output(ids.GC_BUG, "value"),
    Input(ids.LOSS, "value"),
    dash.State(ids.GC_BUG, "value"),
    prevent_initial_call=True,
)
@guarded(outputs=4)
def show_loss(loss, bug):
    """Δ only means something for the hinge losses; the formula and the bugs on offer follow the loss."""
    spec = LOSSES.get(loss, LOSSES["softmax"])
    keep = bug if bug in BUGS and spec.name in BUGS[bug].applies_to else ""
    return not spec.uses_margin, formula(spec.name), bug_options(spec.name), keep


@dash.callback(
    Output(ids.GC_SUBSET, "disabled"),
    Input(ids.GC_ENTRIES, "value"),
    prevent_initial_call=True,
)
def toggle_subset(entries):
    return entries == "all"


@dash.callback(
    Output(ids.TRAIN_SIZE, "min"),
    Output(ids.TRAIN_SIZE, "max"),
    Output(ids.TRAIN_SIZE, "marks"),
    Output(ids.TRAIN_SIZE, "value"),
    Output(ids.TEST_SIZE, "min"),
    Output(ids.TEST_SIZE, "max"),
    Output(ids.TEST_SIZE, "marks"),
    Output(ids.TEST_SIZE, "value"),
    Input(ids.DATASET, "value"),
    dash.State(ids.TRAIN_SIZE, "value"),
    dash.State(ids.TEST_SIZE, "value"),
    prevent_initial_call=True,
)
@guarded(outputs=8)
def fit_sizes_to_dataset(dataset, train_pos, test_pos):
    """The sample-size stops of the chosen dataset (keeping the chosen sizes where they fit)."""
    try:
        n_train = session.size_from_slider(train_pos)
        n_test = session.size_from_slider(test_pos)
        p = size_slider_props(dataset, n_train, n_test)
    except ValueError:
        raise dash.exceptions.PreventUpdate from None
    t, s = p["train"], p["test"]
    return t["min"], t["max"], t["marks"], t["value"], s["min"], s["max"], s["marks"], s["value"]
