"""View 3, gradient check: where analytic and numeric gradients disagree, and by how much.

Builders take a ``core.gradcheck.CheckResult`` (``.matrix("rel_error")`` of
shape (D+1, C) with NaN where unchecked, ``.table`` with one row per checked
entry, and the summary numbers) and return figures, Patches or html.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from dash import Patch, dcc, html

from components import breakit, exports, formulas, ids, session, theme
from components.grid import Mosaic, mosaic_layout

LOG_MIN, LOG_MAX = theme.REL_ERROR_RANGE
_TICKS = list(range(int(LOG_MIN), int(LOG_MAX) + 1, 2))
_TICKTEXT = [("1" if t == 0 else f"1e{t}") for t in _TICKS]


def log_rel_error(rel: np.ndarray) -> np.ndarray:
    """log10 of relative errors, clipped to the colour range (NaN stays NaN: not checked)."""
    rel = np.asarray(rel, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.clip(rel, 10.0**LOG_MIN, 10.0**LOG_MAX))
    return out.astype(np.float32)


def _panels(result, image_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, Mosaic]:
    """The log errors of the pixel weights as a mosaic, those of the bias as (1, C), and the mosaic."""
    M = log_rel_error(result.matrix("rel_error"))
    H, Wd = image_shape
    C = M.shape[1]
    mosaic = Mosaic(C, H, Wd)
    return mosaic.tile(M[1:].T.reshape(C, H, Wd)), np.ascontiguousarray(M[:1]), mosaic


def heatmap_figure(result, image_shape: tuple[int, int], class_names, show_kinks: bool = True) -> go.Figure:
    """Per-class heatmaps of the relative error of every checked entry, on a
    log colour scale shared by all panels (trace 0, one mosaic); the bias row
    as a strip below (trace 1). Unchecked entries are left blank. Traces 2
    and 3 dot the entries that straddle a kink (``breakit.kink_traces``)."""
    z, bias, mosaic = _panels(result, image_shape)
    names = [theme.plain_text(c) for c in class_names]  # user-supplied (classes.txt): text only
    layout = mosaic_layout(mosaic, names, "bias (row 0 of W)", bias_height=0.07)
    layout["xaxis2"].update(showgrid=False)
    layout["yaxis2"].update(visible=False)
    traces = [
        go.Heatmap(
            z=z,
            customdata=mosaic.pixel_index(),
            coloraxis="coloraxis",
            hoverongaps=False,
            name="weights",
            hovertemplate="class %{customdata[0]} · pixel (%{customdata[1]}, %{customdata[2]})"
            "<br>rel. error 10<sup>%{z:.1f}</sup><extra></extra>",
        ),
        go.Heatmap(
            z=bias,
            x=names,
            xaxis="x2",
            yaxis="y2",
            coloraxis="coloraxis",
            hoverongaps=False,
            name="bias",
            hovertemplate="<b>%{x}</b> bias<br>rel. error 10<sup>%{z:.1f}</sup><extra></extra>",
            xgap=2,
        ),
        *breakit.kink_traces(result, image_shape, names, show_kinks),
    ]
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            **layout,
            margin=dict(l=8, r=92, t=8, b=24),  # room for the colour bar (theme.base_layout)
            coloraxis=dict(
                colorscale=theme.REL_ERROR_SCALE,
                cmin=LOG_MIN,
                cmax=LOG_MAX,
                colorbar=dict(
                    **theme.COLORBAR_AT,
                    thickness=12,
                    len=0.75,
                    y=0.58,
                    outlinewidth=0,
                    tickvals=_TICKS,
                    ticktext=_TICKTEXT,
                    tickfont=dict(size=11),
                    title=dict(text="rel. error", side="top"),
                ),
            ),
            uirevision="gradcheck",
        ),
    )


def heatmap_patch(result, image_shape: tuple[int, int]) -> Patch:
    """Only the z arrays of :func:`heatmap_figure` (float32 typed arrays)."""
    z, bias, _ = _panels(result, image_shape)
    p = Patch()
    p["data"][0]["z"] = theme.typed_array(z)
    p["data"][1]["z"] = theme.typed_array(bias)
    return breakit.kink_patch(p, result, image_shape)


SCATTER_MAX = 400  # points drawn; an SVG scatter of all 7,850 entries takes seconds to draw
SCATTER_WORST = 150  # of which the entries with the largest errors, always shown


def scatter_rows(table, limit: int = SCATTER_MAX, worst: int = SCATTER_WORST) -> np.ndarray:
    """Which rows of the check table the scatter draws: all of them when there are
    at most ``limit``; else the ``worst`` largest absolute differences, every entry
    near a kink (while room is left) and a fixed random sample of the rest."""
    n = len(table)
    if n <= limit:
        return np.arange(n)
    diff = np.nan_to_num(table["abs_diff"].to_numpy(dtype=np.float64), nan=np.inf)
    order = np.argsort(-diff, kind="stable")
    chosen = list(order[:worst])
    taken = np.zeros(n, bool)
    taken[chosen] = True
    if "kink_samples" in table:
        kinks = np.flatnonzero((table["kink_samples"].to_numpy() > 0) & ~taken)[: limit - len(chosen)]
        chosen.extend(kinks)
        taken[kinks] = True
    rest = np.flatnonzero(~taken)
    room = limit - len(chosen)
    if room > 0:
        chosen.extend(np.random.default_rng(0).choice(rest, size=min(room, rest.size), replace=False))
    return np.sort(np.asarray(chosen, dtype=np.int64))


def _f32(x: np.ndarray) -> np.ndarray:
    """float32 for the browser; values beyond its range saturate instead of overflowing."""
    lim = float(np.finfo(np.float32).max)
    return np.clip(x, -lim, lim).astype(np.float32)


def _scatter_parts(result):
    """Per trace (smooth entries, entries near a kink): x analytic, y numeric,
    customdata (row, col) of W, for the rows :func:`scatter_rows` picks; and the
    limits of the diagonal (over all entries)."""
    t = result.table
    kink_all = t["kink_samples"].to_numpy() > 0 if "kink_samples" in t else np.zeros(len(t), bool)
    a_all = t["analytic"].to_numpy(dtype=np.float64)
    n_all = t["numeric"].to_numpy(dtype=np.float64)
    rows = scatter_rows(t)
    a, n, kink = a_all[rows], n_all[rows], kink_all[rows]
    rc = np.stack([t["row"].to_numpy()[rows], t["col"].to_numpy()[rows]], axis=1).astype(np.int32)
    parts = []
    for mask in (~kink, kink):
        parts.append((_f32(a[mask]), _f32(n[mask]), rc[mask]))
    finite = np.concatenate([a_all[np.isfinite(a_all)], n_all[np.isfinite(n_all)]])
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = -1.0, 1.0
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.04 * (hi - lo)
    return parts, (lo - pad, hi + pad)


def _diagonal(lo: float, hi: float) -> dict:
    return dict(
        type="line",
        xref="x",
        yref="y",
        x0=lo,
        y0=lo,
        x1=hi,
        y1=hi,
        layer="below",
        line=dict(color=theme.GREY, width=1, dash="dot"),
    )


def scatter_figure(result) -> go.Figure:
    """Analytic against numeric derivative, one point per checked entry; points
    on the dotted diagonal agree. Entries with a training sample within h of a
    hinge (a kink) are drawn apart: there the numeric derivative may differ."""
    parts, (lo, hi) = _scatter_parts(result)
    names = ("smooth entries", "near a kink")
    colours = (theme.BLUE, theme.ORANGE)
    traces = []
    for (x, y, rc), name, colour in zip(parts, names, colours, strict=True):
        traces.append(
            go.Scatter(
                x=x,
                y=y,
                customdata=rc,
                mode="markers",
                name=name,
                marker=dict(color=colour, size=5, opacity=0.6, line=dict(width=0)),
                hovertemplate="W[%{customdata[0]}, %{customdata[1]}]<br>analytic %{x:.4g}<br>numeric %{y:.4g}"
                f"<extra>{name}</extra>",
            )
        )
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            showlegend=True,
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=12)),
            margin=dict(l=76, r=12, t=48, b=60),  # tick labels, axis titles, legend (theme.base_layout)
            xaxis=theme.axis(title=dict(text="analytic ∂L/∂W"), range=[lo, hi], exponentformat="e"),
            yaxis=theme.axis(title=dict(text="numeric ∂L/∂W"), range=[lo, hi], exponentformat="e"),
            shapes=[_diagonal(lo, hi)],
            uirevision="gc-scatter",
        ),
    )


def scatter_patch(result) -> Patch:
    parts, (lo, hi) = _scatter_parts(result)
    p = Patch()
    for i, (x, y, rc) in enumerate(parts):
        p["data"][i]["x"] = theme.typed_array(x)
        p["data"][i]["y"] = theme.typed_array(y)
        p["data"][i]["customdata"] = theme.typed_array(rc, dtype="int32")
    p["layout"]["xaxis"]["range"] = [lo, hi]
    p["layout"]["yaxis"]["range"] = [lo, hi]
    p["layout"]["shapes"] = [_diagonal(lo, hi)]
    return p


def _fmt_err(x) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.1e}"


def _stat(label: str, value: str, tip: str) -> html.Div:
    return html.Div(
        className="stat tip",
        **{"data-tip": tip},
        children=[html.Div(value, className="stat-value"), html.Div(label, className="stat-label")],
    )


def summary(result, n_samples: int, h: float, method: str) -> list:
    """The verdict and the numbers of a check, as html."""
    verdict = str(getattr(result, "verdict", "?"))
    colour = theme.VERDICT_COLOURS.get(verdict, theme.MUTED)
    total = getattr(result, "n_total", None)
    checked = int(result.n_checked)
    of = f" of {total:,}" if isinstance(total, int) and total != checked else ""
    return [
        html.Div(
            className="verdict",
            style={"borderColor": colour},
            children=[
                html.Span(verdict.upper(), className="verdict-badge", style={"background": colour}),
                html.Span(str(getattr(result, "verdict_text", "")), className="verdict-text"),
            ],
        ),
        html.Div(
            className="stats",
            children=[
                _stat(
                    "global rel. error",
                    _fmt_err(result.global_rel_error),
                    "One number for the whole gradient (as in the notebook): the norm of the difference "
                    "between analytic and numeric gradients relative to their norms.",
                ),
                _stat("max rel. error", _fmt_err(result.max_rel_error), "The worst single entry."),
                _stat("median rel. error", _fmt_err(result.median_rel_error), "A typical entry."),
                _stat(
                    "entries near a kink",
                    f"{int(result.n_kink_entries):,}",
                    "Entries for which some sample's hinge switched between x−h and x+h: there the "
                    "numeric derivative is expected to be off.",
                ),
            ],
        ),
        html.P(
            f"{checked:,}{of} entries checked on {n_samples:,} samples · {method} differences, h = "
            f"{session.fmt_sci(h)} · {float(result.seconds) * 1000:.0f} ms"
            + (
                f" · the scatter shows {SCATTER_MAX:,} of them: the {SCATTER_WORST} worst, those near a kink "
                "and a random sample"
                if checked > SCATTER_MAX
                else ""
            ),
            className="caption",
        ),
        breakit.kinks_caption(result),  # why entries near a kink are no bug
    ]


def layout(
    heatmap: go.Figure | None = None, scatter: go.Figure | None = None, summary_children=None
) -> html.Section:
    return html.Section(
        id=ids.GC_VIEW,
        className="card view view-wide",
        children=[
            html.Div(className="view-head", children=[html.H2("Gradient check"), breakit.kinks_toggle()]),
            html.P(
                "How far the analytic gradient ∂L/∂W is from a finite-difference estimate, entry by entry, "
                "laid out like the templates: green agrees, red is a bug (or a kink of a hinge loss).",
                className="caption",
            ),
            breakit.banner(),  # names a planted bug; "Fix it"
            formulas.slot(ids.GC_FORMULA),  # the gradient and the relative error, typeset after load
            html.Div(
                className="gc-grid",
                children=[
                    dcc.Graph(
                        id=ids.GC_HEATMAP,
                        figure=heatmap,
                        config=exports.png_config("gradcheck-heatmap"),
                        className="graph graph-gc-heatmap",
                    ),
                    html.Div(
                        className="gc-side",
                        children=[
                            html.Div(summary_children, id=ids.GC_SUMMARY, className="gc-summary"),
                            dcc.Graph(
                                id=ids.GC_SCATTER,
                                figure=scatter,
                                config=exports.png_config("gradcheck-scatter"),
                                className="graph graph-gc-scatter",
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )
