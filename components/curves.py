"""View 2, loss curves: total, data and regularization loss, training and validation accuracy.

The expected loss at W ≈ 0 (``LossSpec.initial_loss``) is drawn as a sanity
line. The figure is rebuilt from the history store; a running job patches the
same traces (:func:`curves_patch`) with the history so far.
"""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, Patch, dcc, html

from components import exports, formulas, ids, session, theme
from components.guard import guarded
from core.losses import LOSSES

# trace order (the Patch relies on it)
TRACES = (
    ("loss", "loss", theme.TEXT, "solid", "y"),
    ("data_loss", "data loss", theme.ORANGE, "solid", "y"),
    ("reg_loss", "reg. loss", theme.GREEN, "dash", "y"),
    ("train_acc", "train acc.", theme.BLUE, "solid", "y2"),
    ("val_acc", "val. acc.", theme.VERMILION, "dash", "y2"),
)


def initial_loss_text(loss: str, n_classes: int, delta: float) -> tuple[float, str]:
    """The expected data loss at W ≈ 0 and how it is computed, e.g. (2.303, "ln 10")."""
    spec = LOSSES[loss]
    value = float(spec.initial_loss(n_classes, delta))
    d = session.fmt_sci(delta)
    how = {
        "softmax": f"ln {n_classes}",
        "hinge": f"(C−1)·Δ = {n_classes - 1}·{d}",
        "ova-hinge": f"C·Δ = {n_classes}·{d}",
        "structured-hinge": f"Δ = {d}",
    }.get(loss, "")
    return value, how


def curves_figure(history: dict | None, loss: str, n_classes: int, delta: float) -> go.Figure:
    """Loss (top) and accuracy (bottom) against the training step, with the
    sanity line at the expected starting loss of ``loss``."""
    cols = session.history_arrays(history)
    steps = cols["step"]
    traces = []
    for key, name, colour, dash_style, yaxis in TRACES:
        traces.append(
            go.Scatter(
                x=steps.astype(np.float32),
                y=np.clip(cols[key], -3e38, 3e38).astype(np.float32),
                name=name,
                mode="lines",
                line=dict(color=colour, width=2.5 if key in ("loss", "train_acc") else 2, dash=dash_style),
                yaxis=yaxis,
                hovertemplate=f"{name}: %{{y:.4g}}<extra>step %{{x}}</extra>"
                if yaxis == "y"
                else f"{name}: %{{y:.1%}}<extra>step %{{x}}</extra>",
            )
        )
    value, _ = initial_loss_text(loss, n_classes, delta)
    label = LOSSES[loss].label
    empty = steps.size == 0
    annotations = [sanity_annotation(loss, n_classes, delta)]
    if empty:
        annotations.append(
            dict(
                text="Press <b>Train</b>: the curves grow here.",
                x=0.5,
                y=0.5,
                xref="paper",
                yref="paper",
                showarrow=False,
                font=dict(size=15, color=theme.MUTED),
            )
        )
    fig = go.Figure(
        data=traces,
        layout=theme.base_layout(
            showlegend=True,
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=12)),
            margin=dict(l=82, r=12, t=36, b=40),  # tick labels and titles, legend (theme.base_layout)
            xaxis=theme.axis(
                title=dict(text="training step"), anchor="y2", rangemode="tozero", showticklabels=not empty
            ),
            yaxis=theme.axis(
                domain=[0.42, 1.0],
                title=dict(text=f"loss ({label.split(' (')[0]})" if len(label) < 40 else "loss"),
                rangemode="tozero",
            ),
            yaxis2=theme.axis(
                domain=[0.0, 0.3], title=dict(text="accuracy"), range=[0, 1.02], tickformat=".0%"
            ),
            shapes=[
                dict(
                    type="line",
                    xref="x domain",
                    x0=0,
                    x1=1,
                    yref="y",
                    y0=value,
                    y1=value,
                    line=dict(color=theme.PURPLE, width=1.5, dash="dot"),
                )
            ],
            annotations=annotations,
            hovermode="x unified",
            uirevision=str(loss),
        ),
    )
    return fig


def sanity_annotation(loss: str, n_classes: int, delta: float) -> dict:
    """The label of the sanity line, e.g. "expected at start: ln 10 ≈ 2.303"."""
    value, how = initial_loss_text(loss, n_classes, delta)
    number = f"{value:.4g}"
    if not how:
        text = f"expected at start: {number}"
    elif how.endswith(f"= {number}") or how.endswith(f"Δ = {session.fmt_sci(delta)}") and value == delta:
        text = f"expected at start: {how}"
    else:
        text = f"expected at start: {how} {'≈' if loss == 'softmax' else '='} {number}"
    return dict(
        text=text,
        x=1.0,
        xref="x domain",
        y=value,
        yref="y",
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font=dict(size=12, color=theme.PURPLE),
    )


def curves_patch(
    history: dict, loss: str, n_classes: int, delta: float, last_step: int | None = None
) -> Patch:
    """The five curves of :func:`curves_figure` replaced with ``history``
    (float32 typed arrays) and the "press Train" hint removed.

    With ``last_step`` (where the running job will end) the step axis is fixed
    to [0, last_step] and the loss axis snapped to a nice top: the curve grows
    into a still frame, and plotly redraws only the lines, not the axes."""
    cols = session.history_arrays(history)
    p = Patch()
    if last_step:
        value, _ = initial_loss_text(loss, n_classes, delta)
        finite = cols["loss"][np.isfinite(cols["loss"])]
        top = max(value, float(finite.max()) if finite.size else value, 1e-12)
        p["layout"]["xaxis"]["range"] = [0, float(last_step)]
        p["layout"]["xaxis"]["autorange"] = False
        p["layout"]["yaxis"]["range"] = [0, min(theme.nice_ceil(top * 1.05), 3e38)]
        p["layout"]["yaxis"]["autorange"] = False
    x = theme.typed_array(cols["step"])
    for i, (key, *_rest) in enumerate(TRACES):
        p["data"][i]["x"] = x
        p["data"][i]["y"] = theme.typed_array(cols[key])
    p["layout"]["annotations"] = [sanity_annotation(loss, n_classes, delta)]
    p["layout"]["xaxis"]["showticklabels"] = True
    return p


def layout(figure: go.Figure | None = None) -> html.Section:
    return html.Section(
        className="card view",
        children=[
            html.Div(className="view-head", children=[html.H2("Loss curves")]),
            html.P(
                "Loss of each training minibatch (total = data + regularization) and accuracy after each "
                "logged step; the dotted line is the loss to expect before any training.",
                className="caption",
            ),
            formulas.slot(ids.CURVES_FORMULA),  # the objective, typeset once the page has loaded
            dcc.Graph(
                id=ids.CURVES_GRAPH,
                figure=figure,
                config=exports.png_config("loss-curves"),
                className="graph graph-curves",
            ),
        ],
    )


@dash.callback(
    Output(ids.CURVES_GRAPH, "figure"),
    Input(ids.HISTORY_STORE, "data"),
    Input(ids.LOSS, "value"),
    Input(ids.DELTA, "value"),
    Input(ids.DATASET, "value"),
    prevent_initial_call=True,  # the first page comes drawn (layout.serve)
)
@guarded(outputs=1)  # a malformed store leaves the figure as it is
def draw_curves(history, loss, delta, dataset):
    """The curves of the stored history; its sanity line for the loss it was
    trained with (or, with no history yet, the selected loss)."""
    history = session.check_history(history)
    try:
        n_classes = session.load_dataset(session.dataset_key(dataset)).n_classes
    except ValueError:
        n_classes = 10
    if history and history.get("step") and history.get("sig") and len(history["sig"]) > 7:
        sig = history["sig"]
        loss, delta = sig[3], sig[7]
    if not isinstance(loss, str) or loss not in LOSSES:
        loss = "softmax"
    try:
        d = session._number(delta, "margin Δ", *session.DELTA_RANGE)
    except ValueError:
        d = 1.0
    return curves_figure(history, loss, n_classes, d)
