"""The typeset formulas (components/formulas.py): the right formula for each loss,
penalty and difference method, drawn with MathJax only after the first views; every
teaching view's formula typeset too, with the symbols of what it shows."""

from __future__ import annotations

import json

import pytest
from dash import dcc, html

import app  # noqa: F401  (registers the callbacks)
from components import deferred, examples, formulas, ids, layout
from core.losses import LOSSES


@pytest.mark.parametrize("loss", list(LOSSES))
def test_formula001_each_loss_shows_its_loss_and_gradient(loss):
    curves = formulas.curves_markdown(loss, "half", True)
    assert LOSSES[loss].formula in curves and r"\tfrac{1}{2} \lambda \lVert W \rVert^2" in curves
    grad = formulas.gradcheck_markdown(loss, "half", True, "central")
    assert r"\frac{\partial L}{\partial W} = \frac{1}{N} X^\top" in grad and r"+ \lambda W" in grad
    assert formulas.REL_ERROR_TEX in grad and "2h" in grad
    if loss == "softmax":
        assert "(P - Y)" in grad
    else:
        assert "X^\\top M" in grad and r"\Delta" in grad  # the margin indicators M
    assert all(line.startswith(r"$\displaystyle") for line in grad.split("\n\n"))


def test_formula002_penalty_and_differences_follow_the_controls():
    assert r"\lambda \lVert \tilde W \rVert^2" in formulas.curves_markdown("hinge", "full", False)
    assert r"2\lambda \tilde W" in formulas.gradcheck_markdown("hinge", "full", False, "forward")
    assert r"L(W + hE_{ij}) - L(W)}{h}" in formulas.gradcheck_markdown("softmax", "half", True, "forward")


def test_formula003_typeset_with_mathjax_only_after_the_first_views():
    curves, check = formulas.draw_formulas(["hinge", "half", ["bias"], "central"])
    assert isinstance(curves, dcc.Markdown) and curves.mathjax and check.mathjax
    assert r"\Delta" in check.children
    # nonsense from the page falls back to the defaults instead of failing
    curves, check = formulas.draw_formulas(["nope", None, None, None])
    assert LOSSES["softmax"].formula in curves.children
    # the first page carries no MathJax: empty slots, filled in once the graphs are drawn
    page = str(layout.serve())
    assert "mathjax=True" not in page and ids.CURVES_FORMULA in page and ids.GC_FORMULA in page
    for graph in (ids.TEMPLATES_GRAPH, ids.CURVES_GRAPH, ids.GC_HEATMAP, ids.GC_SCATTER):
        assert graph in formulas.AFTER_LOAD_JS


def test_formula004_the_curves_formula_is_the_one_their_history_was_trained_with():
    # trained (or imported) under the hinge with λ‖W̃‖², then the sidebar moved to softmax
    sig = ["builtin:mnist-sample", 5000, "standardize", "hinge", 0.001, "full", False, 1.0]
    curves, check = formulas.draw_formulas(["softmax", "half", ["bias"], "central", sig])
    assert LOSSES["hinge"].formula in curves.children and LOSSES["softmax"].formula not in curves.children
    assert r"\lambda \lVert \tilde W \rVert^2" in curves.children
    assert "(P - Y)" in check.children and r"+ \lambda W" in check.children  # the check: the sidebar's
    # no usable signature (no history, or one the page mangled): the sidebar's objective
    for bad in (None, [], ["x"] * 8, sig[:5], {"loss": "hinge"}):
        curves, _ = formulas.draw_formulas(["softmax", "half", ["bias"], "central", bad])
        assert LOSSES["softmax"].formula in curves.children, bad
    assert "history.sig" in formulas.AFTER_LOAD_JS  # the page passes the stored history's signature


# -- the teaching views (mounted after the first views, components.deferred) ------------------

#: each teaching view's formula and symbols it must show (LaTeX, as typeset)
TEACH_SYMBOLS = {
    ids.SWEEP_FORMULA: (
        r"\frac{L(w + h) - L(w)}{h}",  # forward
        r"\frac{L(w + h) - L(w - h)}{2h}",  # central
        r"\underbrace{\varepsilon / h}_{\text{round-off}}",  # the left of the V
        r"\underbrace{h \ \text{or}\ h^2}_{\text{truncation}}",  # the right of the V
        r"\frac{\lVert a - n \rVert}{\lVert a + n \rVert}",  # the y axis
    ),
    ids.LANDSCAPE_FORMULA: (r"L(W + a D_1)", r"D_1 = -\nabla L", r"W - \eta \nabla L"),
    ids.EXAMPLES_FORMULA: (
        r"s_j = w_j^\top x + b_j",
        r"p_j = \frac{e^{s_j}}{\sum_k e^{s_k}}",
        r"L_i = -\log p_{y_i}",
        r"L = \frac{1}{N} \sum_i L_i + R(W)",
    ),
    ids.EVALUATION_FORMULA: (
        r"\hat y = \arg\max_c s_c",
        r"(w_c \odot x)_p + b_c",
        r"\frac{M_{cc}}{\sum_j M_{cj}}",
    ),
    ids.COMPARE_FORMULA: (LOSSES["softmax"].formula, LOSSES["hinge"].formula),
    ids.HYPERGRID_FORMULA: (
        r"\arg\max_{\eta, \lambda}",
        r"\text{acc}_{\text{val}}",
        r"v \leftarrow 0.9\, v",
        r"R_\lambda(W)",
        r"W \leftarrow W + v",
    ),
}


def _mounted() -> html.Div:
    return html.Div(deferred.sections())


def test_formula005_every_teaching_view_typesets_its_formula_with_mathjax():
    page = _mounted()
    found = {c.id: c for c in page._traverse() if getattr(c, "id", None) in TEACH_SYMBOLS}
    assert set(found) == set(TEACH_SYMBOLS)
    for component_id, symbols in TEACH_SYMBOLS.items():
        tex = found[component_id]
        assert isinstance(tex, dcc.Markdown) and tex.mathjax, component_id
        lines = tex.children.split("\n\n")
        assert all(line.startswith(r"$\displaystyle ") and line.endswith("$") for line in lines), component_id
        assert len(lines) <= 5 and all(len(line) < 140 for line in lines), (
            component_id
        )  # short lines (TeX source)
        for symbol in symbols:
            assert symbol in tex.children, (component_id, symbol)
    # every tab of both sections carries a typeset formula, and no plain-HTML formula is left
    tabs = [c for c in page._traverse() if isinstance(c, dcc.Tab)]
    assert len(tabs) == 6
    for tab in tabs:
        inside = [c for c in html.Div(tab.children)._traverse() if isinstance(c, dcc.Markdown) and c.mathjax]
        assert inside, tab.label
    for c in page._traverse():
        cls = str(getattr(c, "className", "") or "").split()
        assert "formula" not in cls and "inspect-formula" not in cls, getattr(c, "id", cls)
    # the MathJax of these views arrives with the sections, after the first views: not in the first page
    assert "mathjax=True" not in str(layout.serve())


@pytest.mark.parametrize("loss", list(LOSSES))
def test_formula006_the_examples_formula_is_the_one_of_the_sidebars_loss(loss):
    text = formulas.examples_markdown(loss)
    assert r"s_j = w_j^\top x + b_j" in text and r"L = \frac{1}{N} \sum_i L_i + R(W)" in text
    if loss == "softmax":  # probabilities, as the table's rows "p"
        assert r"p_j = \frac{e^{s_j}}{\sum_k e^{s_k}}" in text and r"\Delta" not in text
    else:  # margins, as the table's rows "margin" (core.explain.per_class_terms)
        assert r"m_j = \max(0,\," in text and r"\Delta" in text
    assert {
        "hinge": r"\sum_{j \ne y_i} m_j",
        "ova-hinge": r"t_j = \pm 1",
        "structured-hinge": r"\max_{j \ne y_i} m_j",
        "softmax": r"-\log p_{y_i}",
    }[loss] in text
    # the page switches it in the browser: the script holds each loss's text
    assert json.dumps(text)[1:-1] in examples.FORMULA_JS


def test_formula007_landscape_formula_follows_its_slice_and_direction():
    line = formulas.landscape_markdown("1d", "gradient")
    plane = formulas.landscape_markdown("2d", "gradient")
    rand = formulas.landscape_markdown("2d", "random")
    assert "f(a) = L(W + a D_1)" in line and "b = 0" not in line and "D_2" not in line
    assert "f(a, b) = L(W + a D_1 + b D_2)" in plane and r"D_2\ \text{random}" in plane and "b = 0" in plane
    assert r"\nabla" not in rand and r"\lVert D_{:,c} \rVert = \lVert W_{:,c} \rVert" in rand
    # the sweep names both methods; no \color (its MathJax extension is not served: a console error)
    sweep_tex = formulas.sweep_markdown()
    assert r"\text{forward: }" in sweep_tex and r"\text{central: }" in sweep_tex
    for tex in (
        sweep_tex,
        line,
        plane,
        rand,
        formulas.evaluation_markdown(),
        formulas.compare_markdown(),
        formulas.grid_markdown(),
        *map(formulas.examples_markdown, LOSSES),
    ):
        assert "color" not in tex
