"""Colours, fonts and figure defaults shared by every view (a light, projector-friendly theme).

Figures set their look in a small explicit layout (:func:`base_layout`, :func:`axis`)
on top of :data:`TEMPLATE`, plotly.py's default template less what no figure here
uses, which importing this module makes the default.
"""

from __future__ import annotations

import base64
import html

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

#: the trace types the views draw (the vendored plotly.js bundle has these and no others)
TRACE_TYPES = ("bar", "contour", "heatmap", "scatter")


def lean_template(name: str = "plotly") -> go.layout.Template:
    """Template ``name`` without the defaults of trace types other than
    :data:`TRACE_TYPES` and of polar, ternary, 3-D and geo subplots: the same
    look for these figures, with 3 KB of JSON in each instead of 7 KB (sent with
    every figure and read by plotly.js at every draw)."""
    t = pio.templates[name].to_plotly_json()
    for key in ("polar", "ternary", "scene", "geo"):
        t["layout"].pop(key, None)
    t["data"] = {k: v for k, v in t["data"].items() if k in TRACE_TYPES}
    return go.layout.Template(t)


TEMPLATE = lean_template()
pio.templates["lincls"] = TEMPLATE
pio.templates.default = "lincls"  # once, on import: read-only after that

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
PAPER = "#ffffff"
UNCHECKED = "#eef0f3"  # background behind heatmap cells that hold no value

# series colours (colour-blind safe, Okabe-Ito)
BLUE = "#0072b2"
ORANGE = "#e69f00"
GREEN = "#009e73"
VERMILION = "#d55e00"
PURPLE = "#cc79a7"
GREY = "#7b8794"

# weights: diverging, blue negative, white zero, red positive
DIVERGING = [
    [0.0, "#053061"],
    [0.15, "#2166ac"],
    [0.3, "#4393c3"],
    [0.42, "#d1e5f0"],
    [0.5, "#f7f7f7"],
    [0.58, "#fddbc7"],
    [0.7, "#d6604d"],
    [0.85, "#b2182b"],
    [1.0, "#67001f"],
]

# relative error on a log10 axis from 1e-12 to 1e0; the colour changes where the
# notebook's rule of thumb changes its judgement (1e-7, 1e-4, 1e-2)
REL_ERROR_RANGE = (-12.0, 0.0)
REL_ERROR_SCALE = [
    [0.0, "#1a7f4b"],
    [5 / 12, "#8cc56d"],  # 1e-7: still "correct"
    [8 / 12, "#fee08b"],  # 1e-4: acceptable only near kinks
    [10 / 12, "#f46d43"],  # 1e-2: probably wrong
    [1.0, "#a50026"],
]

VERDICT_COLOURS = {
    "correct": "#1a7f4b",
    "acceptable": "#8a6d00",
    "suspicious": "#c2410c",
    "wrong": "#b91c1c",
}


def base_layout(**overrides) -> dict:
    """Layout keys every figure starts from (white, system font, small margins).

    Margins: plotly.js lets tick labels (``automargin``), colour bars and legends
    push the margins wider, and when they do it draws the whole figure a second
    time. The first views therefore ask for the margins their default drawing
    ends up with (:data:`COLORBAR_AT` keeps a colour bar's share independent of
    the figure's width), so they are drawn once; a wider label (lecture mode's
    larger text, another scale) still widens them. ``tests/integration``
    checks that the first views are not widened on the default page."""
    layout = dict(
        font=dict(family=FONT, size=13, color=TEXT),
        paper_bgcolor=PAPER,
        plot_bgcolor=PAPER,
        margin=dict(l=48, r=16, t=28, b=40),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        showlegend=False,
    )
    layout.update(overrides)
    return layout


#: colour bar position: just right of the plot area, a fixed distance from it
#: (plotly's default x=1.02 is a fraction of the plot's width, so the margin it
#: needs would change with the window)
COLORBAR_AT = dict(x=1.0, xanchor="left", xpad=12)


def axis(**overrides) -> dict:
    """A plain axis: light grid, no zero line, muted ticks."""
    ax = dict(gridcolor=GRID, zeroline=False, linecolor=GRID, tickfont=dict(color=MUTED), automargin=True)
    ax.update(overrides)
    return ax


_TYPED = {
    np.dtype("float32"): "f4",
    np.dtype("float64"): "f8",
    np.dtype("int8"): "i1",
    np.dtype("uint8"): "u1",
    np.dtype("int16"): "i2",
    np.dtype("int32"): "i4",
}


def plain_text(text) -> str:
    """``text`` for a plotly string (title, annotation, tick or hover label) that
    shows it literally: plotly reads a few HTML tags (<b>, <a href>, <br>, ...)
    in such strings, so user-supplied text (a class name from classes.txt) has
    its ``&``, ``<`` and ``>`` escaped; plotly turns the entities back into the
    characters, drawn as text."""
    return html.escape(str(text), quote=False)


def typed_array(values, dtype="float32") -> dict:
    """plotly.js's typed-array spec (``{"dtype", "bdata", "shape"}``) for a Patch.

    Figures built from numpy arrays are encoded like this by plotly.py; a Patch
    is not, so a Patch that assigns arrays would otherwise send long decimal
    lists. NaN stays NaN (a gap in a heatmap)."""
    values = np.asarray(values)
    if np.dtype(dtype) == np.float32 and values.dtype.kind == "f" and values.dtype.itemsize > 4:
        lim = float(
            np.finfo(np.float32).max
        )  # huge weights (a diverged run) saturate instead of becoming inf
        values = np.clip(values, -lim, lim)
    arr = np.ascontiguousarray(values, dtype=dtype)
    spec = {"dtype": _TYPED[arr.dtype], "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        spec["shape"] = ", ".join(str(d) for d in arr.shape)
    return spec


_NICE = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(x: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 times a power of ten that is >= x.

    Axis and colour ranges snapped to these stay put while training moves the
    numbers a little: plotly then redraws the traces, not the axes (text
    measuring is most of the cost of a redraw)."""
    if not np.isfinite(x) or x <= 0:
        return 1.0 if not np.isfinite(x) or x == 0 else nice_ceil(-x)
    e = np.floor(np.log10(x))
    m = x / 10.0**e
    for n in _NICE:
        if m <= n * (1 + 1e-12):
            return float(n * 10.0**e)
    return float(10.0 ** (e + 1))
