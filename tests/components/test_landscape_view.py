"""The loss-landscape view ("Inside the gradient", tab 2): figure builders and callback as plain functions."""

from __future__ import annotations

from contextvars import copy_context

import numpy as np
import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict

from components import controls, ids, landscape, session
from core import data as core_data
from core.landscape import directions, slice_1d, slice_2d
from core.losses import loss_parts

BUILTIN = core_data.BUILTIN
LOG = np.log10


def small_problem(seed=3, N=40, D=6, C=4, scale=0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, size=N)
    W = rng.normal(size=(D + 1, C)) * scale
    return W, X, y


def named(fig, name):
    (t,) = [t for t in fig.data if t.name == name or t.name.startswith(name)]
    return t


# -- the figures ---------------------------------------------------------------------


def test_landv001_line_shows_total_data_reg_and_the_current_w_at_zero():
    W, X, y = small_problem()
    df = slice_1d("softmax", W, X, y, 0.1, direction="gradient", span=1.0, steps=41)
    fig = landscape.landscape_1d_figure(df, direction="gradient")
    assert [t.name for t in fig.data] == ["total loss", "data loss", "reg. loss", "current W"]
    w = named(fig, "current W")
    assert list(w.x) == [0.0]
    assert w.y[0] == pytest.approx(loss_parts("softmax", W, X, y, 0.1).loss)
    np.testing.assert_allclose(named(fig, "total loss").y, df["loss"])
    assert "−∇L" in fig.layout.xaxis.title.text
    assert list(fig.layout.xaxis.range) == [-1.0, 1.0]


def test_landv002_line_marks_the_gradient_step():
    W, X, y = small_problem()
    df = slice_1d("softmax", W, X, y, 0.1, direction="gradient", span=1.0, steps=41)
    step = landscape.Step(a=0.25, loss=1.5, lr=0.1)
    fig = landscape.landscape_1d_figure(df, direction="gradient", step=step)
    star = named(fig, "one step")
    assert (list(star.x), list(star.y)) == ([0.25], [1.5]) and star.marker.symbol == "star"
    assert "η = 0.1" in star.name


def test_landv003_plane_is_a_square_contour_with_w_at_the_origin():
    W, X, y = small_problem()
    a, b, L = slice_2d("hinge", W, X, y, 0.1, directions=("gradient", "random"), span=2.0, steps=41)
    fig = landscape.landscape_2d_figure(a, b, L, direction="gradient", step=landscape.Step(0.3, 1.0, 0.01))
    contour = fig.data[0]
    assert contour.type == "contour"
    assert np.asarray(contour.z).shape == (41, 41) and len(contour.x) == len(contour.y) == 41
    w = named(fig, "current W")
    assert (list(w.x), list(w.y)) == ([0.0], [0.0])
    star = named(fig, "one step")
    assert (list(star.x), list(star.y)) == ([0.3], [0.0])
    (arrow,) = fig.layout.annotations  # from W to the step
    assert (arrow.ax, arrow.ay, arrow.x, arrow.y) == (0, 0, 0.3, 0)
    assert fig.layout.yaxis.scaleanchor == "x" and list(fig.layout.xaxis.range) == [-2.0, 2.0]
    assert "−∇L" in fig.layout.xaxis.title.text and "random" in fig.layout.yaxis.title.text


def test_landv004_a_step_beyond_the_span_gets_no_arrow():
    W, X, y = small_problem()
    a, b, L = slice_2d("softmax", W, X, y, 0.0, span=1.0, steps=5)
    fig = landscape.landscape_2d_figure(a, b, L, step=landscape.Step(3.0, 1.0, 1.0))
    assert not fig.layout.annotations
    fig = landscape.landscape_2d_figure(a, b, L)  # random plane: no step, no legend
    assert [t.name for t in fig.data] == ["loss", "current W"] and not fig.layout.showlegend


def test_landv005_hinge_is_piecewise_linear_softmax_is_curved():
    """What the caption tells the class: along a line, the hinge's data loss has
    straight pieces (zero second differences away from kinks); softmax's has none."""
    W, X, y = small_problem(N=20)
    second = {}
    for name in ("hinge", "softmax"):
        df = slice_1d(name, W, X, y, 0.0, direction="random", span=1.0, steps=401, seed=1)
        d2 = np.abs(np.diff(df["data_loss"].to_numpy(), 2))
        second[name] = np.mean(d2 < 1e-12 * max(1.0, df["data_loss"].abs().max()))
    assert second["hinge"] > 0.5 and second["softmax"] < 0.05


def test_landv006_formula_follows_mode_and_direction():
    one = landscape.formula("1d", "gradient")
    two = landscape.formula("2d", "random")
    assert "L(W + a D_1)" in one and "b D_2" not in one and r"-\nabla L" in one and r"\eta" in one
    assert "L(W + a D_1 + b D_2)" in two and "random" in two and r"\eta" not in two
    assert r"D_1, D_2\ \text{random}" in two and r"\lVert D_{:,c} \rVert = \lVert W_{:,c} \rVert" in two
    # typeset with MathJax, in the box the tab's layout gives it
    assert all(line.startswith("$") and line.endswith("$") for line in one.split("\n\n"))
    box = next(c for c in landscape.layout()._traverse() if getattr(c, "id", None) == ids.LANDSCAPE_FORMULA)
    assert box.mathjax and box.children == landscape.formula("1d", "gradient")


# -- the callback ----------------------------------------------------------------------

VALUES = {**controls.initial_values(), "lr": -3.0}
SMALL = LOG(500)  # training samples for most callback tests (the built-in sample's 500 stop)


@pytest.fixture(scope="module")
def weights0():
    return session.initial_weights(BUILTIN, "gaussian", 0)


def call(
    mode="1d",
    direction="gradient",
    span=1.0,
    seed=0,
    *,
    tab=landscape.TAB,
    weights=None,
    triggered=None,
    **changes,
):
    """update_landscape with the app's default sidebar values (500 training
    samples), ``changes`` applied, as Dash calls it (keyword arguments, the
    landscape's controls and the sidebar values it reads as one dict); with
    ``triggered`` (prop ids) inside a callback context."""
    sidebar = {**VALUES, "train_size": SMALL, **changes}
    values = dict(mode=mode, direction=direction, span=span, seed=seed)
    values.update((k, sidebar[k]) for k in landscape.VALUES)
    kwargs = dict(tab=tab, values=values, weights=weights, _drawn="drawn")
    if triggered is None:
        return landscape.update_landscape(**kwargs)

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": p, "value": None} for p in triggered]))
        return landscape.update_landscape(**kwargs)

    return copy_context().run(run)


def test_landv010_line_along_minus_gradient_with_the_sgd_step(weights0):
    fig, caption, formula, message = call(weights=weights0)
    assert message is None
    w = named(fig, "current W")
    assert list(w.x) == [0.0]
    # the step W − η∇L is W + a·D1 with a = η‖∇L‖/‖D1‖ (gradient on the same 500 samples)
    prep = session.prepared(session.data_choice(BUILTIN, SMALL, VALUES["test_size"], VALUES["preprocessing"]))
    W = session.decode_weights(weights0)
    X, y = prep.X_train, prep.y_train
    g = loss_parts("softmax", W, X, y, 1e-3).dW
    D1, _ = directions("softmax", W, X, y, 1e-3, kind="gradient")
    star = named(fig, "one step")
    assert star.x[0] == pytest.approx(1e-3 * np.linalg.norm(g) / np.linalg.norm(D1))
    assert star.y[0] == pytest.approx(loss_parts("softmax", W - 1e-3 * g, X, y, 1e-3).loss)
    assert star.y[0] < w.y[0]  # a small step downhill lowers the loss
    text = "".join(caption)
    assert "all 500 training samples" in text and "201 points" in text and " ms" in text
    assert r"-\nabla L" in formula


def test_landv011_plane_at_the_sidebar_n_is_capped_and_says_so(weights0):
    fig, caption, formula, message = call("2d", "gradient", train_size=VALUES["train_size"], weights=weights0)
    assert message is None
    assert np.asarray(fig.data[0].z).shape == (41, 41)
    assert (list(named(fig, "current W").x), list(named(fig, "current W").y)) == ([0.0], [0.0])
    assert named(fig, "one step").y[0] == 0.0
    text = "".join(caption)
    assert "first 2,000 of the 5,000 training samples" in text and "at most 2,000" in text
    assert "b D_2" in formula


def test_landv012_random_directions_have_no_step(weights0):
    fig, caption, formula, _ = call("2d", "random", span=10.0, seed=4, weights=weights0)
    assert [t.name for t in fig.data] == ["loss", "current W"]
    assert list(fig.layout.xaxis.range) == [-10.0, 10.0]
    assert "seed 4" in "".join(caption) and "random" in str(formula)


def test_landv013_nothing_is_computed_while_the_tab_is_hidden(weights0):
    assert call(tab="sweep", weights=weights0) == (no_update,) * 4
    assert call(weights=weights0, triggered=[f"{ids.GC_DRAWN_STORE}.data"]) == (no_update,) * 4


def test_landv014_a_new_learning_rate_only_moves_the_step(weights0):
    fig1, *_ = call(weights=weights0, lr=-3.0)
    hits = landscape._slice_cached.cache_info().hits
    fig2, *_ = call(weights=weights0, lr=-2.0)
    assert landscape._slice_cached.cache_info().hits == hits + 1  # the slice itself is reused
    assert named(fig2, "one step").x[0] == pytest.approx(10 * named(fig1, "one step").x[0])


def test_landv015_a_step_outside_the_span_is_explained(weights0):
    fig, caption, *_ = call(weights=weights0, lr=0.0, span=0.1)  # η = 1, span 0.1
    assert "outside the plotted ±0.1" in "".join(caption)


def test_landv016_zero_weights_are_noted(weights0):
    zeros = session.initial_weights(BUILTIN, "zeros", 0)
    _, caption, _, message = call("1d", "random", weights=zeros)
    assert message is None and "W = 0" in "".join(caption)


def test_landv017_hinge_caption(weights0):
    _, caption, _, message = call(weights=weights0, loss="hinge")
    assert message is None and "piecewise linear" in "".join(caption)


@pytest.mark.parametrize(
    "args, changes, words",
    [
        (dict(seed="abc"), {}, "seed: 'abc' is not a number"),
        (dict(seed=-1), {}, "seed must be at least 0"),
        (dict(seed=1.5), {}, "not a whole number"),
        (dict(span=3.0), {}, "span: 3.0 is not one of auto, 0.1"),
        (dict(span="wide"), {}, "span: 'wide' is not a number"),
        (dict(span=None), {}, "span"),
        (dict(mode="3d"), {}, "slice (1d or 2d)"),
        (dict(direction="up"), {}, "direction"),
        (dict(direction=["gradient"]), {}, "direction"),
        ({}, dict(loss="nope"), "unknown loss"),
        ({}, dict(lr="fast"), "learning rate"),
        ({}, dict(reg="x"), "regularization"),
    ],
)
def test_landv018_bad_values_are_readable_messages(weights0, args, changes, words):
    fig, caption, formula, message = call(weights=weights0, **args, **changes)
    assert fig is no_update and caption is no_update and formula is no_update
    assert "Loss landscape" in str(message) and words in str(message) and "alert" in str(message)


def test_landv019_no_foreign_or_diverged_weights_are_messages(weights0):
    assert "Reset weights" in str(call(weights=None)[3])
    assert "Reset weights" in str(call(weights=session.encode_weights(np.zeros((5, 3)), dataset=BUILTIN))[3])
    W = session.decode_weights(weights0).copy()
    W[3, 2] = np.inf
    assert "not finite" in str(call(weights=session.encode_weights(W, dataset=BUILTIN))[3])


def test_landv020_auto_span_holds_the_lowest_point_and_rises_on_both_sides():
    from core.gradcheck import loss_function

    W, X, y = small_problem()
    lc = session.LossChoice("softmax", 0.01)
    f = loss_function("softmax", X, y, 0.01)
    for kind in ("gradient", "random"):
        D1, _ = directions("softmax", W, X, y, 0.01, kind=kind, seed=2)
        span = landscape.auto_span(lc, W, X, y, D1)
        a = np.linspace(-span, span, 401)
        L = np.array([f(W + t * D1) for t in a])
        k = int(np.argmin(L))
        assert abs(a[k]) < span  # the bottom of the bowl is inside
        assert min(L[0], L[-1]) >= L[k] + 0.5 * landscape.AUTO_RISE * f(W)  # and both ends are higher
    # the direction of steepest descent goes downhill first: its span is larger than a tiny one
    D1, _ = directions("softmax", W, X, y, 0.01, kind="gradient")
    assert landscape.auto_span(lc, W, X, y, D1) > landscape.SPANS[0]


def test_landv021_auto_span_widens_for_the_small_initial_weights(weights0):
    fig, caption, _, message = call(span="auto", weights=weights0)
    assert message is None
    span = fig.layout.xaxis.range[1]
    assert span >= 10  # ‖W‖ ≈ 0.09 at initialization: a = 1 barely moves the loss
    assert f"from −{span:g} to {span:g} (auto" in "".join(caption)
    total = np.asarray(named(fig, "total loss").y, dtype=float)
    assert 0 < int(np.argmin(total)) < len(total) - 1  # along −∇L: down, then up again


def test_landv022_the_penalty_has_its_own_panel():
    W, X, y = small_problem()
    df = slice_1d("softmax", W, X, y, 1e-4, direction="random", steps=21)
    fig = landscape.landscape_1d_figure(df, direction="random")
    assert named(fig, "reg. loss").yaxis == "y2" and named(fig, "total loss").yaxis in (None, "y")
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]  # the loss panel above, not from 0
