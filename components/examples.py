"""Inspect, tab "Examples": the table of the CS231n linear-classification demo for chosen images.

For each chosen training or test image: its thumbnail, the score of every
class, the per-class terms of the loss (probabilities for softmax, margins for
the hinge losses) and its loss L_i; below the table, the mean of those L_i,
the data loss over the whole split, the regularization loss and the total --
the last three exactly :func:`core.losses.loss_parts` (through
:func:`core.explain.example_table`). Clicking an image shows its score maps.

:func:`examples_table` and :func:`totals_block` are pure (core results in, HTML
out); the callbacks compute only while this tab shows.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict

import dash
import numpy as np
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import evaluation, exports, formulas, ids, session
from components import inspect_common as ic
from components.guard import guarded
from core import explain
from core.losses import LOSSES, data_loss_from_scores, regularization, scores

MAX_ROWS = 10
N_RANDOM = 5
DEFAULT_INDICES = "0, 1, 2, 3, 4"


def parse_indices(text, n: int) -> list[int]:
    """Sample numbers from "3, 17 42" (commas or spaces), repeats dropped; ValueError saying what is wrong."""
    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if not parts:
        raise ValueError("enter image numbers such as 0, 1, 2 (or press Random 5)")
    out: list[int] = []
    for p in parts:
        if not re.fullmatch(r"\d+", p):
            raise ValueError(f"{p!r} is not an image number (whole numbers from 0 to {n - 1})")
        i = int(p)
        if i >= n:
            raise ValueError(f"image #{i} does not exist: this split has {n:,} images (0 to {n - 1})")
        if i not in out:
            out.append(i)
    if len(out) > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} images at a time ({len(out)} given)")
    return out


def random_indices(n_clicks: int, n: int, k: int = N_RANDOM) -> list[int]:
    """k distinct sample numbers of 0..n-1, a fixed draw for each click number (reproducible in class)."""
    rng = np.random.default_rng([int(n_clicks or 0), n])
    return sorted(int(i) for i in rng.choice(n, size=min(k, n), replace=False))


def split_data_loss(loss: session.LossChoice, W: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """(1/N) Σ L_i over all of X: the data part of ``loss_parts`` (the same arithmetic, without the gradient)."""
    with np.errstate(all="ignore"):
        S = scores(np.asarray(W, dtype=np.float64), X)
        Li, _ = data_loss_from_scores(loss.loss, S, y, loss.delta)
    return float(Li.sum()) / X.shape[0]


# The data loss over a whole split does not depend on λ, but the table is redrawn
# for every step of the λ slider: a small memo of this pure function (keyed by the
# weights' digest, the data and the loss; never per-session state) keeps those
# redraws at a few milliseconds.
_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 32
_MEMO_LOCK = threading.Lock()


def memo_data_loss(key: tuple, loss: session.LossChoice, W, X, y) -> float:
    full = (hashlib.sha1(np.ascontiguousarray(W).tobytes()).hexdigest(), loss.loss, loss.delta, *key)
    with _MEMO_LOCK:
        if full in _MEMO:
            _MEMO.move_to_end(full)
            return _MEMO[full]
    value = split_data_loss(loss, W, X, y)
    with _MEMO_LOCK:
        _MEMO[full] = value
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return value


def compute(loss: session.LossChoice, W: np.ndarray, X: np.ndarray, y: np.ndarray, indices, class_names,
            data_loss: float | None = None) -> tuple[pd.DataFrame, dict]:
    """The rows of :func:`core.explain.example_table` for ``X[indices]`` and the
    totals of the whole split: ``mean_data_loss`` of the rows, ``data_loss``
    over all of X (``data_loss`` when given, e.g. memoized), ``reg_loss`` and
    ``total`` -- the same numbers as ``core.losses.loss_parts(loss, W, X, y, λ)``."""
    idx = np.asarray(list(indices), dtype=np.intp)
    table, _ = explain.example_table(loss.loss, W, X[idx], y[idx], np.arange(idx.size), loss.reg,
                                     delta=loss.delta, reg_mode=loss.reg_mode, reg_bias=loss.reg_bias,
                                     class_names=list(class_names))
    table["index"] = idx.astype(np.int64)
    if data_loss is None:
        data_loss = split_data_loss(loss, W, X, y)
    R, _ = regularization(np.asarray(W, dtype=np.float64), loss.reg, loss.reg_mode, loss.reg_bias)
    totals = {
        "mean_data_loss": float(table["loss"].mean()) if idx.size else float("nan"),
        "data_loss": data_loss,
        "reg_loss": R,
        "total": data_loss + R,
    }
    return table, totals


# -- HTML -------------------------------------------------------------------------------------


def examples_table(table: pd.DataFrame, loss: str, class_names, split: str, images=None) -> html.Table:
    """Two rows per sample: the scores, then the loss terms (probabilities or
    margins). The true class's cells are outlined (``ex-true``), the highest
    score is bold (``ex-max``), margins that count towards the loss are tinted
    (``ex-active``). ``images`` (one 2-D array per row) become clickable thumbnails."""
    names = [str(c) for c in class_names]
    kind = explain.term_kind(loss)
    is_hinge = LOSSES[loss].is_hinge
    head = html.Thead(html.Tr([
        html.Th("image"), html.Th("sample"), html.Th(""),
        *[html.Th(n, className="ex-num") for n in names],
        html.Th(["L", ic.sub("i")], className="ex-num ex-loss"),
    ]))
    body = []
    S = table[[f"score_{n}" for n in names]].to_numpy(dtype=float)
    T = table[[f"{kind}_{n}" for n in names]].to_numpy(dtype=float)
    cols = {k: table[k].tolist() for k in ("index", "label", "predicted", "correct", "loss")}
    for r in range(len(table)):
        rowd = {k: v[r] for k, v in cols.items()}
        i = int(rowd["index"])
        label = names.index(str(rowd["label"]))
        s, t = S[r], T[r]
        best = int(np.argmax(s))
        ok = bool(rowd["correct"])
        key = f"{split}:{i}"
        img = None
        if images is not None:
            img = html.Button(ic.thumbnail(images[r], f"{ic.SPLITS[split]} image {i}"), id=ids.examples_row(key),
                              n_clicks=0, className="thumb-button", title="show this image's score maps")
        score_cells, term_cells = [], []
        for c in range(len(names)):
            cls = "ex-num" + (" ex-true" if c == label else "") + (" ex-max" if c == best else "")
            score_cells.append(html.Td(ic.fmt(s[c], 2), className=cls))
            tcls = "ex-num ex-term" + (" ex-true" if c == label else "")
            if is_hinge:
                if loss in ("hinge", "structured-hinge") and c == label:
                    text = "·"
                else:
                    text = ic.fmt(t[c], 2)
                    if t[c] > 0:
                        tcls += " ex-active"
            else:
                text = ic.fmt(t[c], 3)
                if c == best:
                    tcls += " ex-max"
            term_cells.append(html.Td(text, className=tcls))
        sample = html.Td(
            rowSpan=2,
            className="ex-sample",
            children=[
                html.Div(f"#{i}"),
                html.Div([html.B(names[label]), " → ", html.B(str(rowd["predicted"]),
                          className="ok" if ok else "bad")], title="true class → predicted class"),
            ],
        )
        body.append(html.Tr(className="ex-row-top", children=[
            html.Td(img, rowSpan=2, className="ex-image"), sample, html.Td("s", className="ex-kind"),
            *score_cells, html.Td(ic.fmt(float(rowd["loss"]), 3), rowSpan=2, className="ex-num ex-loss"),
        ]))
        body.append(html.Tr(className="ex-row-bottom", children=[
            html.Td("margin" if is_hinge else "p", className="ex-kind"), *term_cells,
        ]))
    return html.Table([head, html.Tbody(body)], className="ex-table")


def totals_block(totals: dict, n_rows: int, n_split: int, split: str, loss: session.LossChoice) -> html.Div:
    """The four totals under the table, each with what it is."""
    half = loss.reg_mode == "half"
    reg_text = [("½" if half else ""), "λ‖W‖²", f" (λ = {session.fmt_sci(loss.reg)}"
                + ("" if loss.reg_bias else ", bias left out") + ")"]
    item = lambda label, value, detail, cls="": html.Div(  # noqa: E731
        className=f"ex-total {cls}".strip(),
        children=[html.Div(label, className="ex-total-label"), html.Div(value, className="ex-total-value"),
                  html.Div(detail, className="ex-total-detail")],
    )
    return html.Div(
        className="ex-totals",
        children=[
            item(["mean of these L", ic.sub("i")], ic.fmt(totals["mean_data_loss"], 4), f"the {n_rows} rows above"),
            item("data loss", ic.fmt(totals["data_loss"], 4),
                 ["(1/N) Σ L", ic.sub("i"), f" over all N = {n_split:,} {ic.SPLITS[split]} images"]),
            item("reg. loss", session.fmt_sci(totals["reg_loss"]) if totals["reg_loss"] else "0", reg_text),
            item("total loss", ic.fmt(totals["total"], 4), "data loss + reg. loss", "ex-total-main"),
        ],
    )


# -- layout ----------------------------------------------------------------------------------


def layout(values: dict | None = None) -> html.Div:
    """The tab's content; ``values`` (``{component id: value}``) sets its controls (the defaults else)."""
    values = values or {}
    return html.Div(
        className="inspect-pane",
        children=[
            ic.caption([
                "For chosen images: the score of every class, each class's term of the loss and the image's loss L",
                ic.sub("i"), "; under the table, their mean, the data loss over the whole split, the regularization "
                "and the total (as in the CS231n linear-classification demo). Click an image for its score maps.",
            ]),
            # the sidebar's loss: probabilities or margins (set in the browser, FORMULA_JS below)
            formulas.teach_formula(formulas.examples_markdown("softmax"), ids.EXAMPLES_FORMULA),
            html.Div(
                className="inspect-controls",
                children=[
                    dcc.RadioItems(id=ids.EXAMPLES_SPLIT, options=[{"label": "training", "value": "train"},
                                   {"label": "test", "value": "test"}],
                                   value=values.get(ids.EXAMPLES_SPLIT, "train"), inline=True,
                                   className="segmented"),
                    html.Label(["images ", dcc.Input(id=ids.EXAMPLES_INDICES, type="text",
                                                     value=values.get(ids.EXAMPLES_INDICES, DEFAULT_INDICES),
                                                     debounce=True, className="input input-indices")],
                               className="inline-label", title=f"image numbers, up to {MAX_ROWS}"),
                    html.Button("Random 5", id=ids.EXAMPLES_RANDOM, n_clicks=0, className="btn btn-small",
                                title="five images at random from the chosen split"),
                ],
            ),
            html.Div(id=ids.EXAMPLES_TABLE, className="ex-table-wrap",
                     children=ic.message("Open this tab to compute.")),
            html.Div(id=ids.EXAMPLES_TOTALS),
            html.H3("Score maps", className="inspect-h3"),
            html.Div(id=ids.EXAMPLES_SCOREMAP_INFO, className="scoremap-info",
                     children=ic.message("Click an image in the table to see its score maps.")),
            dcc.Graph(id=ids.EXAMPLES_SCOREMAP, figure=ic.placeholder("click an image in the table"),
                      config=exports.png_config("example-score-maps"), className="graph graph-scoremap"),
            dcc.Store(id=ids.EXAMPLES_SELECTED_STORE, storage_type="memory"),  # no data=None (layout._store)
        ],
    )


# -- callbacks ---------------------------------------------------------------------------------

# The formula follows the sidebar's loss in the browser (no request): one Markdown per loss.
FORMULA_JS = """
function (loss) {
    const texts = __TEXTS__;
    return texts[loss] || texts.softmax;
}
""".replace("__TEXTS__", json.dumps({name: formulas.examples_markdown(name) for name in LOSSES}))

dash.clientside_callback(
    FORMULA_JS,
    Output(ids.EXAMPLES_FORMULA, "children"),
    Input(ids.LOSS, "value"),  # also when the section is mounted (its output is new then)
)



@dash.callback(
    Output(ids.EXAMPLES_INDICES, "value"),
    Input(ids.EXAMPLES_RANDOM, "n_clicks"),
    State(ids.EXAMPLES_SPLIT, "value"),
    *ic.states(ic.DATA_IDS),
    prevent_initial_call=True,
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def pick_random(n_clicks, split, dataset, train_size, test_size, preprocessing):
    """Five random image numbers of the chosen split into the numbers field."""
    try:
        prep = session.prepared(ic.data_of(dataset, train_size, test_size, preprocessing))
        X, _ = ic.split_arrays(prep, split)
    except ValueError:
        raise PreventUpdate from None
    if X.shape[0] == 0:
        raise PreventUpdate
    return ", ".join(str(i) for i in random_indices(n_clicks, X.shape[0]))


def _chosen(indices, split, weights, dataset, train_size, test_size, preprocessing, lc):
    """(data, prep, W, X, y, chosen numbers) for the controls; ValueError with a readable message."""
    data = ic.data_of(dataset, train_size, test_size, preprocessing)
    prep = session.prepared(data)
    W = ic.current_weights(weights, prep, data.dataset)
    X, y = ic.split_arrays(prep, split)
    if X.shape[0] == 0:
        raise ValueError(f"no {ic.SPLITS[split]} images chosen")
    return data, prep, W, X, y, parse_indices(indices, X.shape[0])


# Two callbacks: the rows do not depend on λ, so dragging the λ slider redraws only the totals.


@dash.callback(
    Output(ids.EXAMPLES_TABLE, "children"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.EXAMPLES_INDICES, "value"),
    Input(ids.EXAMPLES_SPLIT, "value"),
    Input(ids.WEIGHTS_STORE, "data"),
    *ic.inputs(ic.DATA_IDS),
    Input(ids.LOSS, "value"),
    Input(ids.DELTA, "value"),
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def draw_examples(tab, indices, split, weights, dataset, train_size, test_size, preprocessing, loss, delta):
    """The table of the chosen images (only while this tab shows)."""
    if not ic.visible(tab, ic.TAB_EXAMPLES):
        return no_update
    try:
        lc = ic.loss_of(loss, session.REG_ZERO, "half", True, delta)  # the rows do not depend on λ
        data, prep, W, X, y, chosen = _chosen(indices, split, weights, dataset, train_size, test_size,
                                              preprocessing, lc)
    except ValueError as exc:
        return ic.message(str(exc), "error")
    table, _ = compute(lc, W, X, y, chosen, prep.class_names, data_loss=0.0)
    images = [ic.raw_image(data.dataset, prep, split, i) for i in chosen]
    return examples_table(table, lc.loss, prep.class_names, split, images)


@dash.callback(
    Output(ids.EXAMPLES_TOTALS, "children"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.EXAMPLES_INDICES, "value"),
    Input(ids.EXAMPLES_SPLIT, "value"),
    Input(ids.WEIGHTS_STORE, "data"),
    *ic.inputs(ic.DATA_IDS),
    *ic.inputs(ic.LOSS_IDS),
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def draw_totals(tab, indices, split, weights, dataset, train_size, test_size, preprocessing,
                loss, reg, reg_mode, reg_bias, delta):
    """Mean, data, regularization and total loss under the table (only while this tab shows)."""
    if not ic.visible(tab, ic.TAB_EXAMPLES):
        return no_update
    try:
        lc = ic.loss_of(loss, reg, reg_mode, reg_bias, delta)
        data, prep, W, X, y, chosen = _chosen(indices, split, weights, dataset, train_size, test_size,
                                              preprocessing, lc)
    except ValueError:
        return None  # the table says what is wrong
    key = (data.dataset, data.n_train, data.n_test, data.preprocessing, split)
    _, totals = compute(lc, W, X, y, chosen, prep.class_names, memo_data_loss(key, lc, W, X, y))
    return totals_block(totals, len(chosen), X.shape[0], split, lc)


@dash.callback(
    Output(ids.EXAMPLES_SELECTED_STORE, "data"),
    Input(ids.examples_row(ALL), "n_clicks"),
    prevent_initial_call=True,
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def pick_example(_clicks):
    """Remember the clicked row (a redrawn table fires this with no click: ignored)."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    split, i = str(trig["index"]).split(":")
    return {"split": split, "index": int(i)}


@dash.callback(
    Output(ids.EXAMPLES_SCOREMAP, "figure"),
    Output(ids.EXAMPLES_SCOREMAP_INFO, "children"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.EXAMPLES_SELECTED_STORE, "data"),
    Input(ids.WEIGHTS_STORE, "data"),
    *ic.inputs(ic.DATA_IDS),
    Input(ids.LOSS, "value"),
    prevent_initial_call=True,
)
@guarded(outputs=2)  # a malformed value leaves the outputs as they are
def draw_examples_scoremap(tab, selected, weights, dataset, train_size, test_size, preprocessing, loss):
    if not ic.visible(tab, ic.TAB_EXAMPLES) or not selected:
        return no_update, no_update
    return evaluation.draw_score_map(weights, dataset, train_size, test_size, preprocessing, loss,
                                     selected["split"], int(selected["index"]))
