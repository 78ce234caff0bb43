"""Inspect, tab "Mistakes & score maps": the confusion matrix on the test split,
the most confident mistakes with their top-3 classes, and the score maps of a
clicked image.

Pure builders (:func:`evaluate`, :func:`confusion_figure`, :func:`gallery`,
:func:`score_map_figure`, :func:`score_map_info`) take core results and return
figures or HTML; the callbacks are thin and compute only while this tab shows.
:func:`score_map_figure` is shared with the Examples tab.
"""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
from dash import ALL, Input, Output, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import exports, formulas, ids, session, theme
from components import inspect_common as ic
from components.grid import Mosaic, mosaic_layout
from components.guard import guarded
from core import explain, metrics
from core.losses import LOSSES, scores

N_MISTAKES = 12  # cards in the gallery


# -- computation ----------------------------------------------------------------


def evaluate(W: np.ndarray, X: np.ndarray, y: np.ndarray, n_classes: int, loss: str, n: int = N_MISTAKES,
             cell: tuple[int, int] | None = None) -> dict:
    """Confusion matrix, accuracies and the ``n`` most confident mistakes
    (all of them, or only those of true class / predicted class ``cell``) with
    their top-3 classes. Values are probabilities for softmax and scores for the
    hinge losses (as :func:`core.metrics.top_k`)."""
    pred = metrics.predict(W, X)
    cm = metrics.confusion_matrix(y, pred, n_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    mistakes = metrics.confident_mistakes(W, X, y, n=len(y), loss=loss)
    if cell is not None:
        mistakes = mistakes[(mistakes["true"] == cell[0]) & (mistakes["pred"] == cell[1])]
    mistakes = mistakes.head(n).reset_index(drop=True)
    idx = mistakes["index"].to_numpy()
    k = min(3, n_classes)
    if idx.size:
        top_c, top_v = metrics.top_k(W, X[idx], k, loss)
        with np.errstate(all="ignore"):
            S = scores(np.asarray(W, dtype=np.float64), X[idx])
        lo, hi = S.min(axis=1), S.max(axis=1)
    else:
        top_c = np.zeros((0, k), np.int64)
        top_v = np.zeros((0, k))
        lo = hi = np.zeros(0)
    return dict(
        cm=cm,
        per_class=per_class,
        accuracy=float(np.trace(cm) / max(cm.sum(), 1)),
        n=int(len(y)),
        n_wrong=int(len(y) - np.trace(cm)),
        mistakes=mistakes,
        top_classes=top_c,
        top_values=top_v,
        score_lo=lo,
        score_hi=hi,
        probabilities=not LOSSES[loss].is_hinge,
        cell=cell,
    )


# -- figures and HTML ------------------------------------------------------------------


def confusion_figure(cm: np.ndarray, class_names, per_class: np.ndarray | None = None,
                     cell: tuple[int, int] | None = None) -> go.Figure:
    """Counts, rows the true class and columns the predicted one: right answers
    (the diagonal, trace 0) in green, mistakes (trace 1) in orange scaled to the
    largest mistake count; per-class accuracy as a column at the right (trace 2).
    ``cell`` (true, pred) is outlined."""
    cm = np.asarray(cm, dtype=np.int64)
    C = cm.shape[0]
    names = [str(c) for c in class_names]
    if per_class is None:
        support = cm.sum(axis=1)
        per_class = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    eye = np.eye(C, dtype=bool)
    right = np.where(eye, cm, np.nan)
    wrong = np.where(eye, np.nan, cm).astype(np.float64)
    wrong[wrong == 0] = np.nan  # empty cells stay white: the eye goes to the mistakes
    wmax = float(np.nanmax(wrong)) if np.isfinite(wrong).any() else 1.0
    rmax = float(cm.diagonal().max()) if C else 1.0
    ij = np.stack(np.meshgrid(np.arange(C), np.arange(C), indexing="ij"), axis=-1)  # (true, pred)
    x = list(range(C))
    common = dict(x=x, y=x, customdata=ij, hoverongaps=False, xgap=1, ygap=1, showscale=False,
                  texttemplate="%{z:d}", textfont=dict(size=11))
    traces = [
        go.Heatmap(z=right, colorscale=[[0, "#e3f4ec"], [1, "#1a7f4b"]], zmin=0, zmax=max(rmax, 1),
                   hovertemplate="true %{y}, predicted %{x}: %{z:d} right<extra></extra>", name="right",
                   **common),
        go.Heatmap(z=wrong, colorscale=[[0, "#fdebd3"], [1, theme.VERMILION]], zmin=0, zmax=max(wmax, 1),
                   hovertemplate="true %{y}, predicted %{x}: %{z:d} mistakes<br>click: show them"
                   "<extra></extra>", name="mistakes", **common),
        go.Heatmap(z=per_class[:, None], x=[0], y=x, xaxis="x2", yaxis="y", colorscale=[[0, "#f7f8fa"],
                   [1, "#c9e7d6"]], zmin=0, zmax=1, showscale=False, texttemplate="%{z:.0%}", xgap=1, ygap=1,
                   textfont=dict(size=11), hovertemplate="class %{y}: %{z:.1%} of its test images right"
                   "<extra></extra>", name="per-class accuracy"),
    ]
    shapes = []
    if cell is not None:
        t, p = cell
        shapes.append(dict(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, xref="x", yref="y",
                           line=dict(color=theme.TEXT, width=2.5)))
    ticks = dict(tickmode="array", tickvals=x, ticktext=names, showgrid=False, zeroline=False,
                 tickfont=dict(color=theme.TEXT), fixedrange=True)
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            margin=dict(l=56, r=8, t=28, b=48),
            xaxis=dict(**ticks, domain=[0.0, 0.85], title=dict(text="predicted class"), side="bottom",
                       range=[-0.5, C - 0.5]),
            yaxis=dict(**ticks, title=dict(text="true class"), autorange="reversed"),
            xaxis2=dict(domain=[0.88, 1.0], tickmode="array", tickvals=[0], ticktext=["acc."], side="bottom",
                        showgrid=False, zeroline=False, fixedrange=True, tickfont=dict(color=theme.MUTED)),
            shapes=shapes,
            meta={"total": int(cm.sum())},
            uirevision="confusion",
        ),
    )


def _bars(classes, values, lo, hi, probabilities: bool, names, true: int, pred: int) -> html.Div:
    rows = []
    for c, v in zip(classes, values, strict=True):
        c = int(c)
        if probabilities:
            width, label = float(v), f"{100 * v:.0f}%"
        else:
            width = (float(v) - lo) / (hi - lo) if hi > lo else 1.0
            label = ic.fmt(float(v), 2)
        kind = "bar-true" if c == true else ("bar-pred" if c == pred else "bar-other")
        rows.append(
            html.Div(
                className="topk-row",
                children=[
                    html.Span(names[c], className="topk-name"),
                    html.Span(html.Span(className=f"topk-fill {kind}",
                                        style={"width": f"{100 * min(max(width, 0.0), 1.0):.1f}%"}),
                              className="topk-track"),
                    html.Span(label, className="topk-value"),
                ],
            )
        )
    return html.Div(rows, className="topk")


def gallery(ev: dict, dataset: str, prep, class_names) -> list:
    """One clickable card per mistake: the image, "true → predicted", the top-3 bars."""
    m = ev["mistakes"]
    names = [str(c) for c in class_names]
    if not len(m):
        if ev["cell"] is not None:
            t, p = ev["cell"]
            return [ic.message(f"No test image of class {names[t]} is predicted as {names[p]}.")]
        return [ic.message("No mistakes on the test images.")]
    cards = []
    for r, row in enumerate(m.itertuples(index=False)):
        i, t, p = int(row.index), int(row.true), int(row.pred)
        conf = (f"p = {row.confidence:.2f}" if ev["probabilities"] else f"s{names[p]} − s{names[t]} = "
                f"{ic.fmt(row.confidence, 2)}")
        cards.append(
            html.Button(
                id=ids.evaluation_mistake(i),
                n_clicks=0,
                className="mistake-card",
                title=f"test image #{i}: true {names[t]}, predicted {names[p]} ({conf}). Click: its score maps.",
                children=[
                    ic.thumbnail(ic.raw_image(dataset, prep, "test", i), f"test image {i}"),
                    html.Div(
                        className="mistake-body",
                        children=[
                            html.Div([html.B(names[t]), " → ", html.B(names[p], className="mistake-pred"),
                                      html.Span(f" #{i}", className="muted")], className="mistake-title"),
                            _bars(ev["top_classes"][r], ev["top_values"][r], ev["score_lo"][r], ev["score_hi"][r],
                                  ev["probabilities"], names, t, p),
                        ],
                    ),
                ],
            )
        )
    return cards


def summary(ev: dict, class_names) -> list:
    names = [str(c) for c in class_names]
    what = "probability" if ev["probabilities"] else "score"
    head = [html.B(f"{100 * ev['accuracy']:.1f}%"), f" of {ev['n']:,} test images right, {ev['n_wrong']:,} wrong. "]
    if ev["cell"] is not None:
        t, p = ev["cell"]
        head.append(f"Showing the surest mistakes of true class {names[t]} predicted as {names[p]} "
                    "(click a green cell for all mistakes). ")
    else:
        head.append("The surest mistakes first (click a confusion cell to see only those). ")
    head.append(f"Bars: the top 3 classes by {what}; green the true class, orange the predicted one.")
    return head


def score_map_figure(W: np.ndarray, x: np.ndarray, image_shape, class_names, label: int | None = None) -> go.Figure:
    """Where each class score of one sample comes from: the images w_c ⊙ x
    (trace 0, one mosaic, one diverging colour scale centred on 0), each titled
    with its class score; below, s_c split into Σ w_c ⊙ x (trace 1) and the
    bias b_c (trace 2), stacked, with s_c itself as a marker (trace 3)."""
    maps, bias, s = explain.score_maps(W, x, image_shape)
    C, H, Wd = maps.shape
    names = [str(c) for c in class_names]
    mosaic = Mosaic(C, H, Wd)
    lim = float(np.finfo(np.float32).max)
    m32 = np.clip(maps, -lim, lim).astype(np.float32)
    bound = theme.nice_ceil(float(np.abs(m32).max()) if m32.size else 1.0)
    pred = int(np.argmax(s))
    titles = [f"{n}: {ic.fmt(v, 2)}" for n, v in zip(names, s, strict=True)]
    layout = mosaic_layout(mosaic, titles, "s<sub>c</sub> = Σ w<sub>c</sub>⊙x (orange) + b<sub>c</sub> (grey)",
                           bias_height=0.2)
    for c, ann in enumerate(layout["annotations"][:C]):
        if c == pred:
            ann["font"] = dict(size=14, color=theme.VERMILION)
            ann["text"] = f"<b>{titles[c]} ◀</b>"
        if label is not None and c == label:
            ann["font"] = dict(size=14, color=theme.GREEN)
            ann["text"] = f"<b>{titles[c]}{' ◀' if c == pred else ''} ✓</b>"
    contrib = s - bias
    heat = go.Heatmap(
        z=mosaic.tile(m32),
        customdata=mosaic.pixel_index(),
        coloraxis="coloraxis",
        hoverongaps=False,
        hovertemplate="class %{customdata[0]} · pixel (%{customdata[1]}, %{customdata[2]})<br>"
        "w·x = %{z:.3g}<extra></extra>",
        name="w ⊙ x",
    )
    bar_kw = dict(x=names, xaxis="x2", yaxis="y2")
    traces = [
        heat,
        go.Bar(y=contrib, marker=dict(color=theme.ORANGE), name="Σ w⊙x",
               hovertemplate="<b>%{x}</b> Σ w⊙x = %{y:.3g}<extra></extra>", **bar_kw),
        go.Bar(y=bias, marker=dict(color=theme.GREY), name="bias",
               hovertemplate="<b>%{x}</b> b = %{y:.3g}<extra></extra>", **bar_kw),
        go.Scatter(y=s, mode="markers", marker=dict(color=theme.TEXT, symbol="diamond", size=9), name="score",
                   hovertemplate="<b>%{x}</b> s = %{y:.4g}<extra></extra>", **bar_kw),
    ]
    layout["yaxis2"].update(theme.axis(zeroline=True, zerolinecolor=theme.MUTED, nticks=4))
    layout["xaxis2"].update(showgrid=False)
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            **layout,
            barmode="relative",
            bargap=0.35,
            margin=dict(l=40, r=8, t=8, b=24),
            coloraxis=dict(colorscale=theme.DIVERGING, cmin=-bound, cmax=bound,
                           colorbar=dict(thickness=12, len=0.62, y=0.62, outlinewidth=0, tickfont=dict(size=11),
                                         title=dict(text="w·x", side="top"))),
            meta={"scores": [float(v) for v in s], "pred": pred},
        ),
    )


def score_map_info(dataset: str, prep, split: str, i: int, s: np.ndarray, class_names, probabilities: bool):
    """The image and a line about it, next to its score maps."""
    names = [str(c) for c in class_names]
    _, y = ic.split_arrays(prep, split)
    t, p = int(y[i]), int(np.argmax(s))
    verdict = html.Span("right", className="ok") if t == p else html.Span("wrong", className="bad")
    extra = []
    if probabilities:
        P = explain.softmax_probabilities(s)
        extra = [f" · p({names[p]}) = {P[p]:.3f}, p({names[t]}) = {P[t]:.3f}"]
    return [
        ic.thumbnail(ic.raw_image(dataset, prep, split, i), f"{ic.SPLITS[split]} image {i}", "thumb thumb-big"),
        html.Div([
            html.Div([f"{ic.SPLITS[split].capitalize()} image #{i}: true ", html.B(names[t]), ", predicted ",
                      html.B(names[p]), " (", verdict, ")", *extra]),
            html.Div("Each panel is w_c ⊙ x, the pixel-by-pixel products whose sum plus the bias b_c is the score "
                     "s_c in its title; red pixels raise that score, blue ones lower it.", className="muted"),
        ]),
    ]


def draw_score_map(weights, dataset, train_size, test_size, preprocessing, loss, split: str, i: int):
    """(figure, info) for sample ``i`` of ``split`` under the stored weights (shared with the Examples tab)."""
    try:
        data = ic.data_of(dataset, train_size, test_size, preprocessing)
        prep = session.prepared(data)
        W = ic.current_weights(weights, prep, data.dataset)
        X, y = ic.split_arrays(prep, split)
        if not 0 <= i < X.shape[0]:
            raise ValueError(f"{ic.SPLITS[split]} image #{i} is not among the {X.shape[0]:,} chosen")
    except ValueError as exc:
        return ic.placeholder(str(exc)), ic.message(str(exc), "error")
    fig = score_map_figure(W, X[i], prep.image_shape, prep.class_names, int(y[i]))
    s = np.asarray(fig.layout.meta["scores"])
    spec = LOSSES.get(loss)
    return fig, score_map_info(data.dataset, prep, split, i, s, prep.class_names, bool(spec and not spec.is_hinge))


# -- layout ----------------------------------------------------------------------------------


def layout(values: dict | None = None) -> html.Div:
    """The tab's content (no control of its own: ``values``, as components.inspector passes every tab, is unused)."""
    return html.Div(
        className="inspect-pane",
        children=[
            ic.caption(
                "How the current weights do on the test images: counts of true against predicted class, the "
                "mistakes the classifier is surest of, and, for a clicked image, where its scores come from."
            ),
            formulas.teach_formula(formulas.evaluation_markdown(), ids.EVALUATION_FORMULA),
            html.Div(
                className="eval-grid",
                children=[
                    dcc.Graph(id=ids.EVALUATION_CONFUSION, figure=ic.placeholder("open this tab to compute"),
                              config=exports.png_config("confusion-matrix"), className="graph graph-confusion"),
                    html.Div([
                        html.Div(id=ids.EVALUATION_SUMMARY, className="eval-summary"),
                        html.Div(id=ids.EVALUATION_GALLERY, className="gallery"),
                    ]),
                ],
            ),
            html.H3("Score maps", className="inspect-h3"),
            html.Div(id=ids.EVALUATION_SCOREMAP_INFO, className="scoremap-info",
                     children=ic.message("Click a mistake above to see its score maps.")),
            dcc.Graph(id=ids.EVALUATION_SCOREMAP, figure=ic.placeholder("click a mistake"),
                      config=exports.png_config("mistake-score-maps"), className="graph graph-scoremap"),
            dcc.Store(id=ids.EVALUATION_SELECTED_STORE, storage_type="memory"),  # no data=None (layout._store)
        ],
    )


# -- callbacks ---------------------------------------------------------------------------------


def _cell(click) -> tuple[int, int] | None:
    """(true, predicted) of a clicked off-diagonal confusion cell; None for anything else."""
    try:
        pt = click["points"][0]
        t, p = (int(v) for v in pt["customdata"])
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    return None if t == p else (t, p)


@dash.callback(
    Output(ids.EVALUATION_CONFUSION, "figure"),
    Output(ids.EVALUATION_SUMMARY, "children"),
    Output(ids.EVALUATION_GALLERY, "children"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.EVALUATION_CONFUSION, "clickData"),
    Input(ids.WEIGHTS_STORE, "data"),
    *ic.inputs(ic.DATA_IDS),
    Input(ids.LOSS, "value"),
)
@guarded(outputs=3)  # a malformed value leaves the outputs as they are
def draw_evaluation(tab, click, weights, dataset, train_size, test_size, preprocessing, loss):
    """Confusion matrix, summary and gallery of the current weights on the test split (only while shown)."""
    if not ic.visible(tab, ic.TAB_MISTAKES):
        return no_update, no_update, no_update
    try:
        data = ic.data_of(dataset, train_size, test_size, preprocessing)
        prep = session.prepared(data)
        W = ic.current_weights(weights, prep, data.dataset)
        if prep.X_test.shape[0] == 0:
            raise ValueError("no test images chosen")
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}")
    except ValueError as exc:
        return ic.placeholder(str(exc)), ic.message(str(exc), "error"), []
    cell = _cell(click)
    ev = evaluate(W, prep.X_test, prep.y_test, prep.n_classes, loss, cell=cell)
    fig = confusion_figure(ev["cm"], prep.class_names, ev["per_class"], cell)
    return fig, summary(ev, prep.class_names), gallery(ev, data.dataset, prep, prep.class_names)


@dash.callback(
    Output(ids.EVALUATION_SELECTED_STORE, "data"),
    Input(ids.evaluation_mistake(ALL), "n_clicks"),
    prevent_initial_call=True,
)
@guarded(outputs=1)  # a malformed value leaves the outputs as they are
def pick_mistake(_clicks):
    """Remember the clicked mistake (a new gallery fires this with no click: ignored)."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    return {"split": "test", "index": int(trig["index"])}


@dash.callback(
    Output(ids.EVALUATION_SCOREMAP, "figure"),
    Output(ids.EVALUATION_SCOREMAP_INFO, "children"),
    Input(ids.INSPECT_TABS, "value"),
    Input(ids.EVALUATION_SELECTED_STORE, "data"),
    Input(ids.WEIGHTS_STORE, "data"),
    *ic.inputs(ic.DATA_IDS),
    Input(ids.LOSS, "value"),
    prevent_initial_call=True,
)
@guarded(outputs=2)  # a malformed value leaves the outputs as they are
def draw_evaluation_scoremap(tab, selected, weights, dataset, train_size, test_size, preprocessing, loss):
    if not ic.visible(tab, ic.TAB_MISTAKES) or not selected:
        return no_update, no_update
    return draw_score_map(weights, dataset, train_size, test_size, preprocessing, loss, "test",
                          int(selected["index"]))
