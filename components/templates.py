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

from components import exports, ids, session, theme
from components.grid import Mosaic, mosaic_layout
from components.guard import guarded

SHARED, PER_CLASS = "shared", "per-class"


def weight_images(W: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(C, H, W) float32 images of the per-class weights (rows 1.. of W)."""
    H, Wd = image_shape
    C = W.shape[1]
    lim = float(np.finfo(np.float32).max)  # huge weights (a diverged run) saturate instead of becoming inf
    return np.ascontiguousarray(np.clip(W[1:].T, -lim, lim).reshape(C, H, Wd), dtype=np.float32)


def symmetric_bounds(images: np.ndarray) -> tuple[float, np.ndarray]:
    """(shared bound, per-class bounds): max |w| overall and per image, never 0."""
    raw = np.abs(images.reshape(images.shape[0], -1)).max(axis=1)
    overall = float(raw.max()) if raw.size else 0.0
    return (overall if overall > 0 else 1.0), np.where(raw > 0, raw, 1.0)


def _shared_bound(bound: float) -> float:
    """The shared colour range: symmetric about 0, snapped to a nice number (see theme.nice_ceil)."""
    return theme.nice_ceil(bound)


def _bias_range(b: np.ndarray) -> list[float]:
    m = theme.nice_ceil(float(np.abs(b).max()) if b.size else 1.0) * 1.1
    return [-m, m]


def _bias(W: np.ndarray) -> np.ndarray:
    lim = float(np.finfo(np.float32).max)
    return np.clip(W[0], -lim, lim).astype(np.float32)


def _bias_colours(b: np.ndarray) -> list[str]:
    return [theme.VERMILION if v > 0 else theme.BLUE for v in b]


_HOVER = "class %{customdata[0]} · pixel (%{customdata[1]}, %{customdata[2]})<br>"


def _titles(names: list[str], per: np.ndarray, shared: bool) -> list[str]:
    return (
        names if shared else [f"{n}  ±{session.fmt_sci(float(m))}" for n, m in zip(names, per, strict=True)]
    )


def templates_figure(
    W: np.ndarray, image_shape: tuple[int, int], class_names, scale: str = SHARED
) -> go.Figure:
    """The class images of W as one mosaic (trace 0), diverging colours centred
    on zero, and a bar chart of the bias (trace 1).

    ``scale="shared"``: one colour scale for all classes, so their magnitudes
    compare (symmetric about 0, its end snapped to a nice number so it stays
    put while training); ``"per-class"``: each image divided by its own
    largest |w|, so the shape of weak templates shows too.
    """
    images = weight_images(W, image_shape)
    C = images.shape[0]
    names = [theme.plain_text(c) for c in class_names]  # user-supplied (classes.txt): text only
    bound, per = symmetric_bounds(images)
    shared = scale != PER_CLASS
    mosaic = Mosaic(C, *image_shape)
    z = mosaic.tile(images if shared else images / per[:, None, None])
    layout = mosaic_layout(mosaic, names, "bias b<sub>c</sub> (row 0 of W)")
    b = _bias(W)
    heat = go.Heatmap(
        z=z,
        customdata=mosaic.pixel_index(),
        coloraxis="coloraxis",
        hoverongaps=False,
        hovertemplate=_HOVER + ("w = %{z:.3g}" if shared else "w / max|w| = %{z:.2f}") + "<extra></extra>",
        name="weights",
    )
    bar = go.Bar(
        x=names,
        y=b,
        xaxis="x2",
        yaxis="y2",
        marker=dict(color=_bias_colours(b)),
        hovertemplate="<b>%{x}</b><br>bias = %{y:.3g}<extra></extra>",
        name="bias",
    )
    layout["yaxis2"].update(
        theme.axis(zeroline=True, zerolinecolor=theme.MUTED, nticks=5, range=_bias_range(b), autorange=False)
    )
    layout["xaxis2"].update(showgrid=False)
    colorbar = dict(theme.COLORBAR_AT, thickness=12, len=0.62, y=0.6, outlinewidth=0, tickfont=dict(size=11))
    if shared:
        colorbar["title"] = dict(text="w", side="top")
    else:
        colorbar.update(tickvals=[-1, 0, 1], ticktext=["−max|w<sub>c</sub>|", "0", "+max|w<sub>c</sub>|"])
    return go.Figure(
        data=[heat, bar],
        layout=theme.base_layout(
            **layout,
            # what the bias axis and the colour bar need (theme.base_layout)
            margin=dict(l=62, r=88, t=8, b=24),
            coloraxis=dict(
                colorscale=theme.DIVERGING,
                colorbar=colorbar,
                cmin=-_shared_bound(bound),
                cmax=_shared_bound(bound),
            )
            if shared
            else dict(colorscale=theme.DIVERGING, colorbar=colorbar, cmin=-1.0, cmax=1.0),
            bargap=0.35,
            meta={"scale": "shared" if shared else "per-class"},
            uirevision="templates",
        ),
    )


def templates_patch(W: np.ndarray, image_shape: tuple[int, int], scale: str = SHARED) -> Patch:
    """Only the numbers of :func:`templates_figure` for the same ``scale``: the
    mosaic, the bias bars and the (snapped) ranges, about 50 KB for MNIST. The
    ranges change only now and then, so plotly mostly redraws just the traces."""
    images = weight_images(W, image_shape)
    C = images.shape[0]
    bound, per = symmetric_bounds(images)
    shared = scale != PER_CLASS
    mosaic = Mosaic(C, *image_shape)
    p = Patch()
    b = _bias(W)
    p["data"][0]["z"] = theme.typed_array(mosaic.tile(images if shared else images / per[:, None, None]))
    p["data"][1]["y"] = theme.typed_array(b)
    p["data"][1]["marker"]["color"] = _bias_colours(b)
    p["layout"]["yaxis2"]["range"] = _bias_range(b)
    if shared:
        m = _shared_bound(bound)
        p["layout"]["coloraxis"]["cmin"] = -m
        p["layout"]["coloraxis"]["cmax"] = m
    return p


def empty_figure(message: str) -> go.Figure:
    return go.Figure(
        layout=theme.base_layout(
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            annotations=[dict(text=message, showarrow=False, font=dict(size=15, color=theme.MUTED))],
        )
    )


def layout(figure: go.Figure | None = None) -> html.Section:
    return html.Section(
        className="card view",
        children=[
            html.Div(
                className="view-head",
                children=[
                    html.H2("Weight templates"),
                    html.Fieldset(
                        id=ids.TEMPLATES_SCALE_FIELDSET,  # disabled while training (the job patches one scale)
                        className="bare",
                        title="One colour scale for all classes (magnitudes compare), or one per class "
                        "(the shape of weak templates shows too)",
                        children=dcc.RadioItems(
                            id=ids.TEMPLATES_SCALE,
                            options=[
                                {"label": "one scale", "value": SHARED},
                                {"label": "scale per class", "value": PER_CLASS},
                            ],
                            value=SHARED,
                            inline=True,
                            className="segmented",
                        ),
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
                figure=figure if figure is not None else empty_figure("loading…"),
                config=exports.png_config("templates"),
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
    prevent_initial_call=True,  # the first page comes drawn (layout.serve)
)
@guarded(outputs=1)  # a malformed store leaves the figure as it is
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
