"""The typeset formulas (components/formulas.py): the right formula for each loss,
penalty and difference method, drawn with MathJax only after the first views."""

from __future__ import annotations

import pytest
from dash import dcc

import app  # noqa: F401  (registers the callbacks)
from components import formulas, ids, layout
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
