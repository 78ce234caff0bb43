"""Teaching moments of the gradient check: "Break it" (a planted bug, named in
a banner, undone by "Fix it") and the kinks of the hinge losses drawn over
the error heatmap.

Kinks: for a hinge loss, an entry of W whose numeric derivative straddles a
kink (some sample's margin crosses zero between W - h and W + h) is expected
to disagree with the analytic gradient: the finite difference averages the
slopes on both sides of the kink, the analytic gradient takes one of them.
:func:`kink_traces` marks those entries on the heatmap (traces 2 and 3 of
``gradcheck.heatmap_figure``: a stipple of dark dots over the pixel mosaic and
the bias row, hover: how many samples are responsible). The traces are always
there (so a ``Patch`` can address them) and empty when nothing straddles a
kink, as for softmax, whose loss is smooth.
"""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, dcc, html
from dash.exceptions import PreventUpdate

from components import ids, theme
from components.grid import Mosaic
from core.gradcheck import BUGS

KINK_COLOUR = "rgba(36, 16, 72, 0.9)"  # a dark violet, apart from every colour of the error scale
KINK_TRACES = (2, 3)  # indices in the heatmap figure: pixel mosaic, bias row


# -- kinks ------------------------------------------------------------------------


def kink_counts(result) -> np.ndarray:
    """(D+1, C) float: samples straddling a kink per checked entry, NaN where none
    (or where the entry was not checked)."""
    if "kink_samples" not in result.table:
        return np.full(result.shape, np.nan)
    counts = result.matrix("kink_samples")
    counts[~(counts > 0)] = np.nan
    return counts


def _kink_arrays(result, image_shape: tuple[int, int]):
    """(mosaic z, bias z) of the kink counts; both empty lists when there is no kink."""
    counts = kink_counts(result)
    if not np.isfinite(counts).any():
        return [], []
    H, Wd = image_shape
    C = counts.shape[1]
    mosaic = Mosaic(C, H, Wd)
    z = mosaic.tile(counts[1:].T.reshape(C, H, Wd).astype(np.float32))
    return z, counts[:1].astype(np.float32)


def kink_traces(result, image_shape: tuple[int, int], class_names, visible: bool = True) -> list:
    """The two overlay traces (pixel mosaic on x/y, bias row on x2/y2)."""
    z, bias = _kink_arrays(result, image_shape)
    common = dict(
        colorscale=[[0.0, KINK_COLOUR], [1.0, KINK_COLOUR]],
        showscale=False,
        hoverongaps=False,
        visible=bool(visible),
        xgap=2,
        ygap=2,
    )
    hover = "%{z:.0f} sample(s) straddle a kink here: the finite difference mixes two slopes"
    return [
        go.Heatmap(
            z=z,  # no customdata: the pixel index would add 86 KB to every whole figure
            name="kinks",
            hovertemplate=hover + "<extra>kink</extra>",
            **common,
        ),
        go.Heatmap(
            z=bias,
            x=[str(c) for c in class_names],
            xaxis="x2",
            yaxis="y2",
            name="bias kinks",
            hovertemplate="<b>%{x}</b> bias<br>" + hover + "<extra>kink</extra>",
            **common,
        ),
    ]


def kink_patch(p: Patch, result, image_shape: tuple[int, int]) -> Patch:
    """Add the overlay's z arrays to a heatmap Patch (empty lists when there is no kink)."""
    z, bias = _kink_arrays(result, image_shape)
    for i, arr in zip(KINK_TRACES, (z, bias), strict=True):
        p["data"][i]["z"] = theme.typed_array(arr) if len(arr) else []
    return p


def kinks_caption(result):
    """Why entries near a kink are no bug (None when there is none)."""
    n = int(getattr(result, "n_kink_entries", 0) or 0)
    if n == 0:
        return None
    total = int(result.n_checked)
    return html.P(
        className="kinks-note",
        children=[
            html.Span("⁘", className="kinks-swatch", **{"aria-hidden": "true"}),
            html.B(f"{n:,} of {total:,} entries straddle a kink"),
            " (dotted on the heatmap with “show kinks”): for each, some sample's margin crosses zero "
            "between W − h and W + h, so the finite difference averages the slopes on both sides, while "
            "the analytic gradient takes one of them. That is the corner of max(0, ·), not a bug; a smaller "
            "h makes it rarer.",
        ],
    )


def kinks_toggle() -> dcc.Checklist:
    return dcc.Checklist(
        id=ids.GC_KINKS,
        options=[{"label": "show kinks", "value": "show"}],
        value=["show"],
        className="check kinks-toggle",
    )


def shows_kinks(value) -> bool:
    """The toggle's value as a bool (None, e.g. before the page is built: shown)."""
    return value is None or "show" in value


@dash.callback(
    Output(ids.GC_HEATMAP, "figure", allow_duplicate=True),
    Input(ids.GC_KINKS, "value"),
    prevent_initial_call=True,
)
def toggle_kinks(value):
    """Show or hide the overlay without recomputing anything."""
    p = Patch()
    for i in KINK_TRACES:
        p["data"][i]["visible"] = shows_kinks(value)
    return p


# -- break it -------------------------------------------------------------------------


def bug_banner_children(bug: str | None) -> list:
    """What the banner says about the planted bug (empty for none)."""
    b = BUGS.get(bug or "")
    if b is None:
        return []
    return [
        html.Div(
            className="bug-text",
            children=[
                html.Div([html.Span("Bug planted: ", className="bug-kicker"), html.B(b.label)]),
                html.Div(b.description, className="bug-description"),
                html.Div(
                    f"The loss value is still right; only ∂L/∂W is wrong. The check catches it {b.caught_when}.",
                    className="bug-when",
                ),
            ],
        ),
    ]


def banner() -> html.Div:
    """The banner (hidden while no bug is planted) with its "Fix it" button."""
    return html.Div(
        id=ids.GC_BUG_BANNER,
        className="bug-banner hidden",
        role="status",
        children=[
            html.Div(id=ids.GC_BUG_TEXT, className="bug-body"),
            html.Button(
                "Fix it",
                id=ids.GC_FIX_BUTTON,
                n_clicks=0,
                className="btn btn-fix",
                title="Back to the real gradient",
            ),
        ],
    )


@dash.callback(
    Output(ids.GC_BUG_BANNER, "className"),
    Output(ids.GC_BUG_TEXT, "children"),
    Input(ids.GC_BUG, "value"),
    prevent_initial_call=True,  # the page opens with no bug planted
)
def show_bug(bug):
    children = bug_banner_children(bug)
    return ("bug-banner" if children else "bug-banner hidden"), children


@dash.callback(
    Output(ids.GC_BUG, "value", allow_duplicate=True),
    Input(ids.GC_FIX_BUTTON, "n_clicks"),
    State(ids.GC_BUG, "value"),
    prevent_initial_call=True,
)
def fix_it(n_clicks, bug):
    """Back to the real gradient: the bug dropdown to "none"."""
    if not n_clicks or not bug:
        raise PreventUpdate
    return ""
