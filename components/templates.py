"""View 1, weight templates: each class's weights as an image, the bias apart.

Figure builders are pure (W in, figure or Patch out). During training the
background job patches this figure with :func:`templates_patch`; the callback
here redraws it whole when the stored weights or the scale switch change.
"""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, dcc, html

from components import ids, session, theme
from components.grid import grid_layout

SHARED, PER_CLASS = "shared", "per-class"


def weight_images(W: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(C, H, W) float32 images of the per-class weights (rows 1.. of W)."""
    H, Wd = image_shape
    C = W.shape[1]
    return np.ascontiguousarray(W[1:].T.reshape(C, H, Wd), dtype=np.float32)


def symmetric_bounds(images: np.ndarray) -> tuple[float, np.ndarray]:
    """(shared bound, per-class bounds): max |w| overall and per image, never 0."""
    per = np.abs(images.reshape(images.shape[0], -1)).max(axis=1)
    per = np.where(per > 0, per, 1.0)
    return float(per.max()), per


def _bias_colours(b: np.ndarray) -> list[str]:
    return [theme.VERMILION if v > 0 else theme.BLUE for v in b]


def templates_figure(
    W: np.ndarray, image_shape: tuple[int, int], class_names, scale: str = SHARED
) -> go.Figure:
    """One heatmap per class (trace ``c``), diverging colours centred on zero,
    and a bar chart of the bias (trace ``C``).

    ``scale="shared"``: one colour scale (and colour bar) for all classes, so
    their magnitudes compare; ``"per-class"``: each image uses its own range,
    so the shape of weak templates shows too.
    """
    images = weight_images(W, image_shape)
    C = images.shape[0]
    names = [str(c) for c in class_names]
    bound, per = symmetric_bounds(images)
    shared = scale != PER_CLASS
    layout, axes, (bx, by) = grid_layout(names, "bias b<sub>c</sub> (row 0 of W)")
    traces = []
    for c in range(C):
        xr, yr = axes[c]
        t = dict(
            z=images[c],
            name=names[c],
            xaxis=xr,
            yaxis=yr,
            hovertemplate=f"<b>{names[c]}</b><br>pixel row %{{y}}, col %{{x}}<br>w = %{{z:.3g}}<extra></extra>",
            zmin=-float(per[c]),
            zmax=float(per[c]),
            colorscale=theme.DIVERGING,
            showscale=False,
        )
        if shared:
            t["coloraxis"] = "coloraxis"
        traces.append(go.Heatmap(**t))
    b = W[0].astype(np.float32)
    traces.append(
        go.Bar(
            x=names,
            y=b,
            xaxis=bx,
            yaxis=by,
            marker=dict(color=_bias_colours(b)),
            hovertemplate="<b>%{x}</b><br>bias = %{y:.3g}<extra></extra>",
            name="bias",
        )
    )
    layout[f"yaxis{C + 1}"].update(theme.axis(zeroline=True, zerolinecolor=theme.MUTED, nticks=3))
    layout[f"xaxis{C + 1}"].update(tickfont=dict(size=12, color=theme.TEXT), showgrid=False)
    fig = go.Figure(
        data=traces,
        layout=theme.base_layout(
            **layout,
            margin=dict(l=40, r=8, t=26, b=24),
            coloraxis=dict(
                colorscale=theme.DIVERGING,
                cmin=-bound,
                cmax=bound,
                showscale=shared,
                colorbar=dict(
                    thickness=12,
                    len=0.7,
                    y=0.6,
                    outlinewidth=0,
                    tickfont=dict(size=11),
                    title=dict(text="w", side="top"),
                ),
            ),
            bargap=0.35,
            uirevision="templates",
        ),
    )
    return fig


def templates_patch(W: np.ndarray, image_shape: tuple[int, int]) -> Patch:
    """Only the numbers of :func:`templates_figure`: every image, both kinds of
    colour range, and the bias bars (about 45 KB for MNIST). Works whichever
    scale the figure shows."""
    images = weight_images(W, image_shape)
    bound, per = symmetric_bounds(images)
    p = Patch()
    for c in range(images.shape[0]):
        p["data"][c]["z"] = theme.typed_array(images[c])
        p["data"][c]["zmin"] = -float(per[c])
        p["data"][c]["zmax"] = float(per[c])
    C = images.shape[0]
    b = W[0].astype(np.float32)
    p["data"][C]["y"] = theme.typed_array(b)
    p["data"][C]["marker"]["color"] = _bias_colours(b)
    p["layout"]["coloraxis"]["cmin"] = -bound
    p["layout"]["coloraxis"]["cmax"] = bound
    return p


def empty_figure(message: str) -> go.Figure:
    return go.Figure(
        layout=theme.base_layout(
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            annotations=[dict(text=message, showarrow=False, font=dict(size=15, color=theme.MUTED))],
        )
    )


def layout() -> html.Section:
    return html.Section(
        className="card view",
        children=[
            html.Div(
                className="view-head",
                children=[
                    html.H2("Weight templates"),
                    dcc.RadioItems(
                        id=ids.TEMPLATES_SCALE,
                        options=[
                            {"label": "one scale", "value": SHARED},
                            {"label": "scale per class", "value": PER_CLASS},
                        ],
                        value=SHARED,
                        inline=True,
                        className="segmented",
                    ),
                ],
            ),
            html.P(
                "Each class's weights drawn as an image: red pixels raise that class's score, blue pixels "
                "lower it. They update live while training.",
                className="caption",
            ),
            dcc.Graph(
                id=ids.TEMPLATES_GRAPH,
                figure=empty_figure("loading…"),
                config={"displayModeBar": False},
                className="graph graph-templates",
            ),
        ],
    )


@dash.callback(
    Output(ids.TEMPLATES_GRAPH, "figure"),
    Input(ids.WEIGHTS_STORE, "data"),
    Input(ids.TEMPLATES_SCALE, "value"),
    State(ids.RUNNING_STORE, "data"),
    State(ids.LIVE_STORE, "data"),
)
def draw_templates(weights, scale, running, live):
    """Redraw the templates from the stored W (or, while a job runs, its latest snapshot)."""
    if running and live and live.get("weights"):
        weights = live["weights"]
    W = session.decode_weights(weights)
    if W is None:
        return empty_figure("no weights yet")
    try:
        ds = session.load_dataset(weights["dataset"])
    except ValueError as exc:
        return empty_figure(str(exc))
    if W.shape != (ds.n_features + 1, ds.n_classes):
        return empty_figure("weights do not fit this dataset: press Reset")
    return templates_figure(W, ds.image_shape, ds.class_names, scale)
