"""Inside the gradient, tab 2: the loss landscape around the current weights.

1-D and 2-D slices ``L(W + a·D1 + b·D2)`` (:mod:`core.landscape`) for the
sidebar's loss, regularization and training samples, along ``−∇L`` or random
directions (filter-normalized: each class column scaled to the norm of that
class's weights). The hinge's piecewise-linear bowl against softmax's smooth
one. With ``−∇L`` the point one gradient step ``W − η∇L`` with the sidebar's
learning rate reaches is marked.

Pieces: :func:`landscape_1d_figure`, :func:`landscape_2d_figure` (pure figure
builders), :func:`layout` (the tab's content with its controls),
:func:`update_landscape` (the callback; computes only while its tab is shown).
Slices are cached by weights and settings: a change of the learning rate only
moves the step's marker.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html, no_update

from components import controls, exports, formulas, ids, session, sweep, theme
from components.guard import guarded

TAB = "landscape"

MODES = {"1d": "1-D line", "2d": "2-D plane"}
DIRECTIONS = {"gradient": "−∇L (steepest descent)", "random": "random"}
SPANS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
AUTO = "auto"
#: "auto" span (:func:`auto_span`): a bowl in view, the loss at both ends this
#: fraction of L(W) above the lowest point. The right span differs by 100x
#: between W at initialization (||W|| ~ 0.09: about 20-50) and trained W
#: (about 1), so no fixed default would show a bowl for both.
AUTO_RISE = 0.1
AUTO_SAMPLES = 500  # samples the auto span is judged on (21 loss values: ~200 ms on 2,000, ~50 ms on 500)
DEFAULTS = dict(mode="1d", direction="gradient", span=AUTO, seed=0)
STEPS = {"1d": 201, "2d": 41}
#: training samples a slice uses at most. Measured with one BLAS thread on this
#: 2-core machine shared with other work (load average ~4; softmax, the slowest
#: loss): a 41 x 41 plane on 5,000 samples took 1.6-2.6 s, on 2,000 about 0.65 s;
#: a 201-point line on 5,000 about 0.2 s. The caption shows each slice's time.
MAX_SAMPLES = {"1d": 10_000, "2d": 2_000}
PLANE_SIZE = (640, 500)  # px of the 2-D figure (the graph box is 500 px high)
SEED_MAX = 2**32 - 1


# -- the figures --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Where one gradient step ``W − η∇L`` lands: at ``a`` along D1, with loss ``loss``."""

    a: float
    loss: float
    lr: float


def _axis_title(direction: str, which: int = 1) -> str:
    if which == 1 and direction == "gradient":
        return "a  (along D₁ = −∇L)"
    return f"{'a' if which == 1 else 'b'}  (along D{'₁' if which == 1 else '₂'}, random)"


def _step_label(step: Step) -> str:
    return f"one step W − η∇L (η = {session.fmt_sci(step.lr)})"


def landscape_1d_figure(
    df: pd.DataFrame, *, direction: str = "gradient", step: Step | None = None
) -> go.Figure:
    """Total, data and regularization loss along the line ``W + a·D1`` (df from
    :func:`core.landscape.slice_1d`), the current W marked at a = 0 and, when
    given, the point one gradient step reaches."""
    a = df["alpha"].to_numpy(dtype=np.float64)
    k0 = int(np.argmin(np.abs(a)))
    # the penalty gets its own small panel below: on the loss axis it would pin
    # the range to 0 and flatten the bowl of the total (it is often ~1e-5 of it)
    traces = [
        go.Scatter(
            x=a,
            y=df[col].to_numpy(dtype=np.float64),
            name=name,
            mode="lines",
            line=dict(color=colour, width=width, dash=dash_style),
            yaxis=yaxis,
            hovertemplate=f"a = %{{x:.3g}}<br>{name} %{{y:.4g}}<extra></extra>",
        )
        for col, name, colour, width, dash_style, yaxis in (
            ("loss", "total loss", theme.TEXT, 3.5, "solid", "y"),
            ("data_loss", "data loss", theme.ORANGE, 2.5, "solid", "y"),
            ("reg_loss", "reg. loss", theme.GREEN, 2.5, "dash", "y2"),
        )
    ]
    traces.append(
        go.Scatter(
            x=[float(a[k0])],
            y=[float(df["loss"].iloc[k0])],
            name="current W",
            mode="markers+text",
            text=["current W"],
            textposition="top center",
            textfont=dict(size=14, color=theme.TEXT),
            marker=dict(size=14, color=theme.PAPER, line=dict(width=3, color=theme.TEXT)),
            hovertemplate="current W<br>loss %{y:.4g}<extra></extra>",
        )
    )
    if step is not None:
        traces.append(
            go.Scatter(
                x=[step.a],
                y=[step.loss],
                name=_step_label(step),
                mode="markers",
                marker=dict(
                    size=18, symbol="star", color=theme.VERMILION, line=dict(width=1, color=theme.PAPER)
                ),
                hovertemplate=f"{_step_label(step)}<br>a = %{{x:.3g}}<br>loss %{{y:.4g}}<extra></extra>",
            )
        )
    span = float(np.max(np.abs(a))) if a.size else 1.0
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            showlegend=True,
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=13)),
            margin=dict(l=60, r=16, t=34, b=48),
            autosize=True,  # after the fixed-size plane, follow the graph's box again
            xaxis=theme.axis(title=dict(text=_axis_title(direction)), range=[-span, span], anchor="y2"),
            yaxis=theme.axis(title=dict(text="loss"), domain=[0.3, 1.0], exponentformat="e"),
            yaxis2=theme.axis(
                title=dict(text="reg."), domain=[0.0, 0.2], exponentformat="e", nticks=3, rangemode="tozero"
            ),
            shapes=[
                dict(
                    type="line",
                    x0=0,
                    x1=0,
                    xref="x",
                    y0=0,
                    y1=1,
                    yref="paper",
                    layer="below",
                    line=dict(color=theme.GREY, width=1, dash="dot"),
                )
            ],
            hovermode="closest",
            uirevision="landscape-1d",
        ),
    )


def landscape_2d_figure(
    alphas: np.ndarray,
    betas: np.ndarray,
    L: np.ndarray,
    *,
    direction: str = "random",
    step: Step | None = None,
) -> go.Figure:
    """Filled contours of the total loss ``L[j, i] = L(W + alphas[i]·D1 +
    betas[j]·D2)`` (from :func:`core.landscape.slice_2d`) on square axes, the
    current W marked at (0, 0) and, when given, the point one gradient step
    reaches at (step.a, 0) with an arrow from W."""
    alphas = np.asarray(alphas, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64)
    Z = np.asarray(L, dtype=np.float64)
    span = float(max(np.max(np.abs(alphas)), np.max(np.abs(betas))))
    traces = [
        go.Contour(
            z=Z,
            x=alphas,
            y=betas,
            name="loss",
            colorscale="Viridis",
            ncontours=22,
            contours=dict(coloring="heatmap", showlines=True),
            line=dict(width=0.7, color="rgba(255,255,255,0.55)"),
            colorbar=dict(
                thickness=14, outlinewidth=0, title=dict(text="loss", side="top"), tickfont=dict(size=12)
            ),
            hovertemplate="a = %{x:.3g}, b = %{y:.3g}<br>loss %{z:.4g}<extra></extra>",
        ),
        go.Scatter(
            x=[0.0],
            y=[0.0],
            name="current W",
            mode="markers+text",
            text=["current W"],
            textposition="top center",
            textfont=dict(size=14, color=theme.PAPER),
            marker=dict(size=14, color=theme.PAPER, line=dict(width=3, color=theme.TEXT)),
            hovertemplate="current W<extra></extra>",
        ),
    ]
    annotations = []
    if step is not None:
        traces.append(
            go.Scatter(
                x=[step.a],
                y=[0.0],
                name=_step_label(step),
                mode="markers",
                marker=dict(
                    size=20, symbol="star", color=theme.VERMILION, line=dict(width=1.5, color=theme.PAPER)
                ),
                hovertemplate=f"{_step_label(step)}<br>a = %{{x:.3g}}<br>loss {step.loss:.4g}<extra></extra>",
            )
        )
        if abs(step.a) <= span:
            annotations.append(
                dict(
                    x=step.a,
                    y=0,
                    ax=0,
                    ay=0,
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    showarrow=True,
                    arrowhead=2,
                    arrowwidth=2,
                    arrowcolor=theme.VERMILION,
                    standoff=9,
                    startstandoff=8,
                    text="",
                )
            )
    return go.Figure(
        data=traces,
        layout=theme.base_layout(
            # a fixed size keeps the colour bar beside the square plot (CSS centres it)
            width=PLANE_SIZE[0],
            height=PLANE_SIZE[1],
            showlegend=step is not None,
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=13)),
            margin=dict(l=60, r=16, t=34, b=48),
            xaxis=theme.axis(
                title=dict(text=_axis_title(direction, 1)), range=[-span, span], constrain="domain"
            ),
            yaxis=theme.axis(
                title=dict(text=_axis_title(direction, 2)),
                range=[-span, span],
                scaleanchor="x",
                scaleratio=1,
                constrain="domain",
            ),
            annotations=annotations,
            hovermode="closest",
            uirevision="landscape-2d",
        ),
    )


# -- the formulas -------------------------------------------------------------------


def formula(mode: str, direction: str) -> str:
    """The function plotted and what D1, D2 are (and, along −∇L, where one step lands): the
    Markdown of a MathJax formula (:func:`components.formulas.landscape_markdown`)."""
    return formulas.landscape_markdown(mode, direction)


# -- computation (cached) -------------------------------------------------------------


@dataclass
class Slice:
    mode: str
    direction: str
    span: float
    seed: int
    n_used: int
    n_train: int
    loss0: float
    grad_norm: float
    D1: np.ndarray
    seconds: float
    df: pd.DataFrame | None = None
    alphas: np.ndarray | None = None
    betas: np.ndarray | None = None
    L: np.ndarray | None = None
    notes: list = field(default_factory=list)
    gradient_used: bool = False
    auto: bool = False


def auto_span(loss, W: np.ndarray, X: np.ndarray, y: np.ndarray, D: np.ndarray) -> float:
    """A span that puts a bowl in view: the smallest of :data:`SPANS` that
    holds the lowest point seen along ``W + a·D`` (over ``a = ±SPANS``) well
    inside (at most 2/3 of the span out) and at whose ends the loss is at least
    ``AUTO_RISE·L(W)`` above that lowest point, on both sides. The largest
    span when none qualifies. 2·len(SPANS) + 1 loss values."""
    from core.gradcheck import loss_function

    f = loss_function(loss.loss, X, y, loss.reg, **loss.options)
    with np.errstate(all="ignore"):
        L0 = f(W)
        plus = [f(W + s * D) for s in SPANS]
        minus = [f(W - s * D) for s in SPANS]
    rise = AUTO_RISE * max(abs(L0), 1e-12)
    low, at = L0, 0.0
    for s, lp, lm in zip(SPANS, plus, minus, strict=True):
        for value, a in ((lp, s), (lm, -s)):
            if value < low:
                low, at = value, a
    for k, s in enumerate(SPANS):
        if abs(at) <= s * 2 / 3 and min(plus[k], minus[k]) >= low + rise:
            return float(s)
    return float(SPANS[-1])


@functools.lru_cache(maxsize=8)
def _slice_cached(
    wkey: tuple, folder, data, loss, mode: str, direction: str, span: float | str, seed: int
) -> Slice:
    """The slice for one W and setting (``wkey``: the weights store's (b64,
    dtype, shape); ``folder``: the data folder, so a new one never serves old
    results)."""
    from core.landscape import ZERO_NORM, directions, slice_1d, slice_2d
    from core.losses import loss_parts

    W = session.decode_weights({"b64": wkey[0], "dtype": wkey[1], "shape": list(wkey[2])})
    prep = session.prepared(data)
    shape = (prep.n_features + 1, prep.n_classes)
    if W.shape != shape:
        raise ValueError(f"the weights have shape {W.shape}, the data needs {shape}: press Reset weights")
    if not np.isfinite(W).all():
        raise ValueError("the weights are not finite (training diverged): press Reset weights")
    n_train = int(prep.X_train.shape[0])
    n = min(n_train, MAX_SAMPLES[mode])
    X, y = prep.X_train[:n], prep.y_train[:n]
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        parts = loss_parts(loss.loss, W, X, y, loss.reg, **loss.options)
        g_norm = float(np.linalg.norm(parts.dW))
        D1, D2 = directions(
            loss.loss, W, X, y, loss.reg, kind=(direction, "random"), seed=seed, **loss.options
        )
        notes = []
        gradient_used = direction == "gradient" and math.isfinite(g_norm) and g_norm > ZERO_NORM
        if direction == "gradient" and not gradient_used:
            notes.append(
                "The gradient is 0 here (every margin met, λ = 0): a random direction is used instead."
            )
        if float(np.linalg.norm(W)) <= ZERO_NORM:
            notes.append("W = 0 has no scale to borrow: the directions have norm 1.")
        auto = span == AUTO
        if auto:
            span = auto_span(loss, W, X[:AUTO_SAMPLES], y[:AUTO_SAMPLES], D1)
        out = Slice(mode, direction, span, seed, n, n_train, float(parts.loss), g_norm, D1, 0.0, notes=notes)
        out.auto = auto
        out.gradient_used = gradient_used
        if mode == "1d":
            out.df = slice_1d(
                loss.loss, W, X, y, loss.reg, direction=D1, span=span, steps=STEPS["1d"], **loss.options
            )
        else:
            out.alphas, out.betas, out.L = slice_2d(
                loss.loss,
                W,
                X,
                y,
                loss.reg,
                directions=(D1, D2),
                span=span,
                steps=STEPS["2d"],
                **loss.options,
            )
    out.seconds = time.perf_counter() - t0
    return out


def parse_controls(mode, direction, span, seed) -> tuple[str, str, float | str, int]:
    """The landscape's own controls as typed values (InputError naming the control)."""
    mode = session._choice(mode, tuple(MODES), "slice (1d or 2d)")
    direction = session._choice(direction, tuple(DIRECTIONS), "direction")
    if span != AUTO:
        x = session._number(span, "span")
        near = [s for s in SPANS if abs(x - s) <= 1e-9 * s]
        if not near:
            raise session.InputError(
                "span", f"span: {span!r} is not one of auto, {', '.join(f'{s:g}' for s in SPANS)}"
            )
        span = float(near[0])
    return mode, direction, span, session._int(seed, "seed", 0, SEED_MAX)


def compute(values: dict, weights: dict | None):
    """(Slice, Step or None, LossChoice) for raw control ``values``; ValueError for a bad value."""
    mode, direction, span, seed = parse_controls(
        values["mode"], values["direction"], values["span"], values["seed"]
    )
    data = session.data_choice(
        values["dataset"], values["train_size"], values["test_size"], values["preprocessing"]
    )
    loss = session.loss_choice(
        values["loss"], values["reg"], values["reg_mode"], values["reg_bias"], values["delta"]
    )
    if not weights or "b64" not in weights:
        raise ValueError("no weights yet: press Reset weights")
    wkey = (weights["b64"], weights.get("dtype", "float32"), tuple(weights["shape"]))
    sl = _slice_cached(wkey, session.data_dir(), data, loss, mode, direction, span, seed)
    step = None
    if sl.gradient_used:
        lr = session.pow10(values["lr"], "learning rate")
        a = lr * sl.grad_norm / float(np.linalg.norm(sl.D1))
        step = Step(a=a, loss=_loss_at(weights, data, loss, sl, a), lr=lr)
    return sl, step, loss


def _loss_at(weights: dict, data, loss, sl: Slice, a: float) -> float:
    """L(W + a·D1) on the slice's samples (the loss after the gradient step)."""
    from core.gradcheck import loss_function

    W = session.decode_weights(weights)
    prep = session.prepared(data)
    f = loss_function(
        loss.loss, prep.X_train[: sl.n_used], prep.y_train[: sl.n_used], loss.reg, **loss.options
    )
    with np.errstate(all="ignore"):
        return float(f(W + a * sl.D1))


def figure(sl: Slice, step: Step | None) -> go.Figure:
    if sl.mode == "1d":
        return landscape_1d_figure(sl.df, direction=sl.direction if sl.gradient_used else "random", step=step)
    return landscape_2d_figure(
        sl.alphas, sl.betas, sl.L, direction=sl.direction if sl.gradient_used else "random", step=step
    )


def caption(sl: Slice, step: Step | None, loss) -> list:
    from core.losses import LOSSES

    points = f"{STEPS['1d']} points of the line" if sl.mode == "1d" else "41 × 41 points of the plane"
    if sl.n_used < sl.n_train:
        samples = (
            f"on the first {sl.n_used:,} of the {sl.n_train:,} training samples (a "
            f"{'2-D' if sl.mode == '2d' else '1-D'} slice uses at most {MAX_SAMPLES[sl.mode]:,}, for speed)"
        )
    else:
        samples = f"on all {sl.n_train:,} training samples"
    parts = [
        f"{LOSSES[loss.loss].label}: loss at {points} through the current W {samples}, "
        f"a{' and b' if sl.mode == '2d' else ''} from −{sl.span:g} to {sl.span:g}"
        + (" (auto: chosen to bring the bowl into view)" if sl.auto else "")
        + f", seed {sl.seed} · {sl.seconds * 1000:.0f} ms. "
    ]
    if step is not None:
        where = f"a = {step.a:.3g}"
        if abs(step.a) > sl.span:
            where += f", outside the plotted ±{sl.span:g}: choose a wider span to see it"
        parts.append(
            f"★ one gradient step with η = {session.fmt_sci(step.lr)} lands at {where}; loss {sl.loss0:.4g} → {step.loss:.4g}. "
        )
    if LOSSES[loss.loss].is_hinge:
        parts.append(
            "A hinge loss is piecewise linear: every sample adds kinks, straight in between (with thousands "
            "of samples they blur into a curve: try 50 training samples); only λ‖W‖² bends it. "
        )
    else:
        parts.append("Softmax is smooth: a rounded bowl, no kinks at any zoom. ")
    parts.extend(n + " " for n in sl.notes)
    return parts


# -- the tab's content and callback ---------------------------------------------------


def layout(values: dict | None = None) -> html.Div:
    """The tab's content; ``values`` (``{component id: value}``) sets its controls (the defaults else)."""
    v = values or {}
    d = dict(
        mode=v.get(ids.LANDSCAPE_MODE, DEFAULTS["mode"]),
        direction=v.get(ids.LANDSCAPE_DIRECTION, DEFAULTS["direction"]),
        span=v.get(ids.LANDSCAPE_SPAN, DEFAULTS["span"]),
        seed=v.get(ids.LANDSCAPE_SEED, DEFAULTS["seed"]),
    )
    return html.Div(
        className="inside-pane",
        children=[
            html.Div(
                className="inside-top",
                children=[
                    formulas.teach_formula(formula(d["mode"], d["direction"]), ids.LANDSCAPE_FORMULA),
                    html.Div(
                        className="inside-controls",
                        children=[
                            controls.field(
                                "Slice",
                                "1-D: the loss along one direction (total, data and penalty); 2-D: the total "
                                "loss on a plane through W.",
                                controls.radio(
                                    ids.LANDSCAPE_MODE,
                                    [{"label": v, "value": k} for k, v in MODES.items()],
                                    d["mode"],
                                ),
                            ),
                            controls.field(
                                "Direction",
                                "−∇L: steepest descent (the loss falls for small a > 0), scaled to ‖W‖. Random: "
                                "each class column scaled to that class's weights (Li et al., 2018). In 2-D the "
                                "second direction is always random.",
                                controls.radio(
                                    ids.LANDSCAPE_DIRECTION,
                                    [{"label": v, "value": k} for k, v in DIRECTIONS.items()],
                                    d["direction"],
                                ),
                            ),
                            controls.field(
                                "Seed",
                                "Seeds the random directions.",
                                dcc.Input(
                                    id=ids.LANDSCAPE_SEED,
                                    type="number",
                                    value=d["seed"],
                                    min=0,
                                    step=1,
                                    debounce=True,
                                    className="input input-short",
                                ),
                            ),
                            controls.field(
                                "Span",
                                "a and b run from −span to span; a = 1 moves W by as much as it already weighs. "
                                "auto: the smallest span with the lowest point well inside and the loss clearly higher at both ends.",
                                controls.radio(
                                    ids.LANDSCAPE_SPAN,
                                    [{"label": "auto", "value": AUTO}]
                                    + [{"label": f"{v:g}", "value": v} for v in SPANS],
                                    d["span"],
                                    cls="segmented segmented-tight",
                                ),
                                cls="inside-span",
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(id=ids.LANDSCAPE_MESSAGE),
            dcc.Graph(
                id=ids.LANDSCAPE_GRAPH,
                figure=sweep.placeholder_figure("Computing the landscape…"),
                config=exports.png_config("loss-landscape"),
                className="graph graph-landscape",
            ),
            html.P(id=ids.LANDSCAPE_CAPTION, className="caption"),
        ],
    )


#: what the landscape reads of the sidebar: the data, the objective and the
#: learning rate (the step's marker); the test size is read, not a trigger
VALUES = (*controls.DATA_VALUES, *controls.LOSS_VALUES, "lr")


@dash.callback(
    Output(ids.LANDSCAPE_GRAPH, "figure"),
    Output(ids.LANDSCAPE_CAPTION, "children"),
    Output(ids.LANDSCAPE_FORMULA, "children"),
    Output(ids.LANDSCAPE_MESSAGE, "children"),
    inputs=dict(
        tab=Input(ids.INSIDE_TABS, "value"),
        values=dict(
            mode=Input(ids.LANDSCAPE_MODE, "value"),
            direction=Input(ids.LANDSCAPE_DIRECTION, "value"),
            span=Input(ids.LANDSCAPE_SPAN, "value"),
            seed=Input(ids.LANDSCAPE_SEED, "value"),
            **controls.value_inputs(*VALUES, state=("test_size",)),
        ),
        weights=Input(ids.WEIGHTS_STORE, "data"),
        _drawn=Input(ids.GC_DRAWN_STORE, "data"),  # after the main view (see components.sweep.update_sweep)
    ),
)
@guarded(outputs=4, alert=3, prefix="Loss landscape: ")
def update_landscape(tab, values: dict, weights, _drawn):
    """The slice for the current weights, sidebar and landscape controls
    (``values``: mode, direction, span, seed and the names of :data:`VALUES`);
    nothing while the tab is hidden. A bad value shows as a message
    (:func:`components.guard.guarded`); the old figure stays."""
    if tab != TAB or sweep._only_triggered_by(f"{ids.GC_DRAWN_STORE}.data"):
        return no_update, no_update, no_update, no_update
    sl, step, lc = compute(values, weights)  # a bad value: a message (guarded)
    return figure(sl, step), caption(sl, step, lc), formula(sl.mode, sl.direction), None
