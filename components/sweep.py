"""Inside the gradient, tab 1: the step size h of the numeric gradient.

The relative error of forward and central differences against h on log–log
axes, for the current weights and the sidebar's loss, regularization, data and
gradient-check samples/entries (:func:`core.gradcheck.step_sweep`): round-off
on the left (error ~ ε/h), truncation on the right (~h forward, ~h² central),
the best h of each method at the bottom of its V, and the sidebar's h as a
vertical line.

Pieces: :func:`sweep_figure` (pure figure builder), :func:`layout` (the tab's
content), :func:`update_sweep` (the callback; computes only while its tab is
shown). Results are cached by weights and settings, so switching tabs back, or
a change of a control this view does not use, costs no recomputation.
"""

from __future__ import annotations

import functools
import math
import time

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html, no_update

from components import controls, exports, formulas, ids, session, theme
from components.guard import guarded

TAB = "sweep"

#: the steps swept: 23 points, half a decade apart, from 1e-12 to 1e-1 (the core's default)
HS = np.logspace(-12, -1, 23)
#: colours of the two methods (the same in the formula, the legend and the labels)
COLOURS = {"central": theme.BLUE, "forward": theme.ORANGE}
ORDERS = {"central": "h²", "forward": "h"}
#: errors are drawn on a log axis: an exact 0 (a hinge away from its kinks) is drawn here
FLOOR = 1e-17

ROUNDOFF_TEXT = "round-off error ~ ε/h"
TRUNCATION_TEXT = "truncation error ~ h (forward) / h² (central)"
# drawn on two lines, to fit under the right arm of the V
_TRUNCATION_LINES = "truncation error<br>~ h (forward) / h² (central)"


# -- the formula (typeset with MathJax: components.formulas) ----------------------


def formula() -> html.Div:
    """The two difference quotients (named in their curves' colours), the error's round-off and
    truncation parts, and the relative error on the y axis."""
    return formulas.teach_formula(formulas.sweep_markdown(), ids.SWEEP_FORMULA)


# -- the figure -----------------------------------------------------------------


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks at every other power of ten between lo and hi, labelled 1e-12 … 1."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    step = 2 if k1 - k0 > 6 else 1
    ks = [k for k in range(k0, k1 + 1) if k % step == 0]
    return [10.0**k for k in ks], [("1" if k == 0 else f"1e{k}") for k in ks]


def best_steps(df: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """{method: (h, error)} at the smallest finite error of each method's curve."""
    out = {}
    for method, part in df.groupby("method", sort=False):
        e = part["global_rel_error"].to_numpy(dtype=np.float64)
        ok = np.isfinite(e)
        if ok.any():
            k = int(np.argmin(np.where(ok, e, np.inf)))
            out[str(method)] = (float(part["h"].iloc[k]), float(e[k]))
    return out


def sweep_figure(df: pd.DataFrame, h_chosen: float | None) -> go.Figure:
    """Relative error against h (log–log), one line per method (central, then
    forward), with the minimum of each line marked and labelled, the round-off
    and truncation regions labelled, and ``h_chosen`` (the sidebar's h) as a
    dashed vertical line (none when it is None or not a positive number)."""
    best = best_steps(df)
    traces = []
    annotations = []
    methods = [m for m in ("central", "forward") if m in set(df["method"])]
    for method in methods:
        part = df[df["method"] == method].sort_values("h")
        h = part["h"].to_numpy(dtype=np.float64)
        e = part["global_rel_error"].to_numpy(dtype=np.float64)
        shown = np.where(np.isfinite(e), np.maximum(e, FLOOR), np.nan)
        size = np.full(h.size, 6.0)
        if method in best:
            size[int(np.argmin(np.abs(h - best[method][0])))] = 14.0
        traces.append(
            go.Scatter(
                x=h,
                y=shown,
                customdata=e,
                name=f"{method} differences",
                mode="lines+markers",
                line=dict(color=COLOURS[method], width=3),
                marker=dict(color=COLOURS[method], size=size, line=dict(width=1.5, color=theme.PAPER)),
                hovertemplate=f"{method}<br>h = %{{x:.1e}}<br>rel. error %{{customdata:.2e}}<extra></extra>",
            )
        )
        if method in best:
            bh, be = best[method]
            # above the minimum, inside the V (below it is the bottom of the plot);
            # a minimum at an end of the range (no V: e.g. a hinge far from its
            # kinks has no truncation error) is labelled from inside the plot
            at_end = -1 if bh >= h.max() else (1 if bh <= h.min() else 0)
            words = "best" if at_end == 0 else "smallest"
            annotations.append(
                dict(
                    x=math.log10(bh),
                    y=math.log10(max(be, FLOOR)),
                    xref="x",
                    yref="y",
                    text=f"<b>{words} {method}</b><br>h ≈ {session.fmt_sci(bh)}: {session.fmt_sci(be)}",
                    showarrow=True,
                    arrowhead=2,
                    arrowcolor=COLOURS[method],
                    ax=70 * at_end,
                    ay=-48 if at_end == 0 else -70,
                    font=dict(size=13, color=COLOURS[method]),
                    bgcolor="rgba(255,255,255,0.85)",
                )
            )
    # y range (log10), and each region label at the bottom of its side unless
    # the curves come down there (no V), then at the top
    finite = df["global_rel_error"].to_numpy(dtype=np.float64)
    finite = np.maximum(finite[np.isfinite(finite)], FLOOR)
    ylo, yhi = (float(finite.min()), float(finite.max())) if finite.size else (1e-12, 1.0)
    yr = (math.log10(ylo) - 1.5, math.log10(yhi) + 0.4)
    for text, x, anchor, end in (
        (ROUNDOFF_TEXT, 0.01, "left", "first"),
        (_TRUNCATION_LINES, 0.99, "right", "last"),
    ):
        ends = df.sort_values("h").groupby("method")["global_rel_error"].agg(end).to_numpy(dtype=np.float64)
        ends = ends[np.isfinite(ends)]
        high = ends.size == 0 or (math.log10(max(ends.min(), FLOOR)) - yr[0]) > 0.45 * (yr[1] - yr[0])
        annotations.append(
            dict(
                text=text,
                x=x,
                y=0.03 if high else 0.9,
                xref="x domain",
                yref="y domain",
                xanchor=anchor,
                yanchor="bottom" if high else "top",
                align=anchor,
                showarrow=False,
                font=dict(size=15, color=theme.MUTED),
            )
        )
    shapes = []
    hs = df["h"].to_numpy(dtype=np.float64)
    lo, hi = (float(hs.min()), float(hs.max())) if hs.size else (1e-12, 1e-1)
    chosen = h_chosen is not None and math.isfinite(h_chosen) and h_chosen > 0
    if chosen:
        lo, hi = min(lo, h_chosen), max(hi, h_chosen)
        shapes.append(
            dict(
                type="line",
                x0=h_chosen,
                x1=h_chosen,
                xref="x",
                y0=0,
                y1=1,
                yref="y domain",
                line=dict(color=theme.PURPLE, width=2, dash="dash"),
            )
        )
        annotations.append(
            dict(
                text=f"your h = {session.fmt_sci(h_chosen)}",
                x=math.log10(h_chosen),
                xref="x",
                y=1.0,
                yref="y domain",
                yanchor="top",
                xanchor="left" if h_chosen < 1e-3 else "right",
                xshift=4 if h_chosen < 1e-3 else -4,
                showarrow=False,
                font=dict(size=13, color=theme.PURPLE),
                bgcolor="rgba(255,255,255,0.85)",
            )
        )
    xr = (math.log10(lo) - 0.25, math.log10(hi) + 0.25)
    xt = _log_ticks(lo, hi)
    yt = _log_ticks(ylo, yhi)
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            showlegend=True,
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=13)),
            margin=dict(l=64, r=16, t=34, b=48),
            xaxis=theme.axis(
                type="log",
                range=list(xr),
                tickvals=xt[0],
                ticktext=xt[1],
                title=dict(text="step h"),
            ),
            yaxis=theme.axis(
                type="log",
                range=list(yr),
                tickvals=yt[0],
                ticktext=yt[1],
                title=dict(text="relative error ‖a − n‖ / ‖a + n‖"),
            ),
            shapes=shapes,
            annotations=annotations,
            hovermode="closest",
            uirevision="sweep",
        ),
    )


def placeholder_figure(text: str = "Open this tab to compute the sweep.") -> go.Figure:
    """An empty frame with a short note (before the first computation)."""
    return go.Figure(
        layout=theme.base_layout(
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            annotations=[
                dict(
                    text=text,
                    x=0.5,
                    y=0.5,
                    xref="paper",
                    yref="paper",
                    showarrow=False,
                    font=dict(size=15, color=theme.MUTED),
                )
            ],
        )
    )


# -- computation (cached) ---------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _sweep_cached(wkey: tuple, folder, data, loss, n_samples: int, entries):
    """(DataFrame, seconds, samples used, entries checked) for one W and setting.

    ``wkey`` is the weights store's (b64, dtype, shape): hashable and exact.
    ``folder`` (the data folder) is part of the key only so a new folder
    never serves old results."""
    from core.gradcheck import step_sweep

    W = session.decode_weights({"b64": wkey[0], "dtype": wkey[1], "shape": list(wkey[2])})
    prep = session.prepared(data)
    shape = (prep.n_features + 1, prep.n_classes)
    if W.shape != shape:
        raise ValueError(f"the weights have shape {W.shape}, the data needs {shape}: press Reset weights")
    if not np.isfinite(W).all():
        raise ValueError("the weights are not finite (training diverged): press Reset weights")
    n = min(int(n_samples), prep.X_train.shape[0])
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        df = step_sweep(
            loss.loss,
            W,
            prep.X_train[:n],
            prep.y_train[:n],
            loss.reg,
            hs=HS,
            entries=entries,
            seed=0,
            **loss.options,
        )
    k = W.size if entries == "all" else min(int(entries), W.size)
    return df, time.perf_counter() - t0, n, k


def compute(values: dict, weights: dict | None):
    """(df, seconds, samples, entries, h or None) for raw control ``values``;
    ValueError with a readable message for a bad value."""
    data = session.data_choice(
        values["dataset"], values["train_size"], values["test_size"], values["preprocessing"]
    )
    loss = session.loss_choice(
        values["loss"], values["reg"], values["reg_mode"], values["reg_bias"], values["delta"]
    )
    try:
        check = session.check_choice(
            values["gc_samples"], values["gc_h"], "central", values["gc_entries"], values["gc_subset"]
        )
        h = check.h
    except ValueError as exc:
        if "step h" not in str(exc):
            raise
        # a bad h only loses its line: the sweep does not need it
        check = session.check_choice(
            values["gc_samples"], 1e-5, "central", values["gc_entries"], values["gc_subset"]
        )
        h = None
    if not weights or "b64" not in weights:
        raise ValueError("no weights yet: press Reset weights")
    wkey = (weights["b64"], weights.get("dtype", "float32"), tuple(weights["shape"]))
    df, seconds, n, k = _sweep_cached(wkey, session.data_dir(), data, loss, check.n_samples, check.entries)
    return df, seconds, n, k, h, loss


def caption(df: pd.DataFrame, seconds: float, n: int, k: int, h, loss) -> list:
    """What was computed, the best step of each method, and what to look for."""
    best = best_steps(df)
    parts = [
        f"Relative error of the numeric gradient over {k:,} entries of W on the first {n:,} training "
        f"samples (the sidebar's gradient-check samples and entries), {len(HS)} steps from "
        f"{session.fmt_sci(HS[0])} to {session.fmt_sci(HS[-1])}; each loss value rounded to float64 "
        f"as a black-box loss is · {seconds * 1000:.0f} ms. "
    ]
    if best:
        parts.append(
            "Best: "
            + ", ".join(
                f"{m} h ≈ {session.fmt_sci(bh)} (error {session.fmt_sci(be)})"
                for m, (bh, be) in best.items()
                if m in COLOURS
            )
            + ". "
        )
    from core.losses import LOSSES

    if LOSSES[loss.loss].is_hinge:
        parts.append(
            "A hinge is piecewise linear: differences are exact until a step crosses a kink, so a "
            "right arm comes from kinks (and, for forward differences, the curved penalty λ‖W‖²), not from h² or h."
        )
    else:
        parts.append("Smaller is not better: below the best h round-off takes over.")
    if h is None:
        parts.append(" The sidebar's step h is not a positive number: no line drawn.")
    return parts


# -- the tab's content and callback -----------------------------------------------


def layout() -> html.Div:
    return html.Div(
        className="inside-pane",
        children=[
            html.Div(
                className="inside-top",
                children=[
                    formula(),
                    html.P(
                        [
                            "Finite differences trade two errors: a larger h bends away from the tangent "
                            "(truncation), a smaller h subtracts two nearly equal loss values whose "
                            "rounding (ε ≈ 1e-16 of L) is divided by h (round-off). ",
                            html.B("Central differences"),
                            " cancel the h term, so they win at a larger h.",
                        ],
                        className="inside-note",
                    ),
                ],
            ),
            html.Div(id=ids.SWEEP_MESSAGE),
            dcc.Graph(
                id=ids.SWEEP_GRAPH,
                figure=placeholder_figure("Computing the sweep…"),
                config=exports.png_config("step-size-sweep"),
                className="graph graph-sweep",
            ),
            html.P(id=ids.SWEEP_CAPTION, className="caption"),
        ],
    )


def _only_triggered_by(prop: str) -> bool:
    """True when ``prop`` is the only trigger of the running callback (False outside one)."""
    try:
        triggers = set(dash.ctx.triggered_prop_ids)
    except Exception:  # noqa: BLE001 - called as a plain function (tests): no context
        return False
    return triggers == {prop}


#: what the sweep reads: the data, the objective, and the check's samples, h
#: (the line), entries and subset; the test size is read, not a trigger (the
#: sweep does not use the test set)
VALUES = (*controls.DATA_VALUES, *controls.LOSS_VALUES, "gc_samples", "gc_h", "gc_entries", "gc_subset")


@dash.callback(
    Output(ids.SWEEP_GRAPH, "figure"),
    Output(ids.SWEEP_CAPTION, "children"),
    Output(ids.SWEEP_MESSAGE, "children"),
    inputs=dict(
        tab=Input(ids.INSIDE_TABS, "value"),
        values=controls.value_inputs(*VALUES, state=("test_size",)),
        weights=Input(ids.WEIGHTS_STORE, "data"),
        # An output of the main view's callback: Dash holds this callback back until
        # the main view has answered the same change, so the two never compete for
        # the CPU (the main view's controls stay as fast as without this view).
        _drawn=Input(ids.GC_DRAWN_STORE, "data"),
    ),
)
@guarded(outputs=3, alert=2, prefix="Step-size sweep: ")
def update_sweep(tab, values: dict, weights, _drawn):
    """The sweep for the current weights and sidebar (``values``, by the names of
    :data:`VALUES`); nothing while the tab is hidden. A bad value shows as a
    message (:func:`components.guard.guarded`); the previous figure stays."""
    if tab != TAB or _only_triggered_by(f"{ids.GC_DRAWN_STORE}.data"):
        return no_update, no_update, no_update
    df, seconds, n, k, h, lc = compute(values, weights)  # a bad value: a message (guarded)
    return sweep_figure(df, h), caption(df, seconds, n, k, h, lc), None
