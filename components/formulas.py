r"""The formulas each view shows, typeset with Dash's MathJax (``dcc.Markdown(mathjax=True)``).

* Loss curves: the objective, the chosen loss's :math:`L_i` and the penalty.
* Gradient check: the analytic gradient being checked (as derived in the
  notebook: softmax :math:`X^\top(P - Y)/N + \lambda W`; the hinges through
  their margin indicators) and the relative error with its finite difference.
* The teaching views below them (:func:`teach_formula`, built into the sections
  that :mod:`components.deferred` mounts after the first views): the step-size
  sweep's two difference quotients and where round-off and truncation win, the
  landscape's slice ``L(W + a D1 + b D2)`` and its directions, the examples'
  scores and per-class terms (softmax probabilities, hinge margins), the score
  map ``w_c ⊙ x`` and per-class accuracy, the two losses compared side by side,
  and the grid search's objective and update.

MathJax is a 2 MB script that Dash loads (as the ``async-mathjax`` chunk) only
when a mathjax Markdown is rendered. So the first page carries no formula:
the formulas are filled in by :func:`draw_formulas`, which the browser asks
for only once the first views are drawn and it is idle
(:data:`AFTER_LOAD_JS`). First paint and the first drawn views are not delayed (numbers in
``bench/bench_formulas.py``).
"""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

from components import firstviews, ids
from core.losses import LOSSES

# -- the formulas (LaTeX), short enough to read from the back of the room --------

LOSS_TEX = {name: spec.formula for name, spec in LOSSES.items()}

# dL/dW = X^T M / N + the penalty's gradient, X with a column of ones (the bias);
# one short line per formula, so each reads from the back of the room
_GRAD = r"a = \frac{\partial L}{\partial W} = \frac{1}{N} X^\top M + {REG}"
GRAD_TEX = {
    "softmax": (
        r"a = \frac{\partial L}{\partial W} = \frac{1}{N} X^\top (P - Y) + {REG}",
        r"P_{ij} = \frac{e^{s_{ij}}}{\sum_k e^{s_{ik}}},\quad Y_{ij} = \mathbf{1}[j = y_i]",
    ),
    "hinge": (
        _GRAD,
        r"M_{ij} = \mathbf{1}[s_{ij} - s_{iy_i} + \Delta > 0]\ \ (j \ne y_i)",
        r"M_{iy_i} = -\sum_{j \ne y_i} M_{ij}",
    ),
    "ova-hinge": (
        _GRAD,
        r"M_{ij} = -t_{ij}\, \mathbf{1}[\Delta - t_{ij} s_{ij} > 0]",
    ),
    "structured-hinge": (
        _GRAD,
        r"M_{ij^*} = 1,\ M_{iy_i} = -1 \ \text{if}\ s_{ij^*} - s_{iy_i} + \Delta > 0",
        r"j^* = \arg\max_{j \ne y_i} s_{ij}",
    ),
}

NUMERIC_TEX = {
    "central": r"n_{ij} = \frac{L(W + hE_{ij}) - L(W - hE_{ij})}{2h}",
    "forward": r"n_{ij} = \frac{L(W + hE_{ij}) - L(W)}{h}",
}
REL_ERROR_TEX = r"e_{ij} = \frac{|a_{ij} - n_{ij}|}{|a_{ij}| + |n_{ij}|}"


def reg_tex(reg_mode: str, reg_bias: bool) -> tuple[str, str]:
    """(penalty R(W), its gradient) for the convention and whether the bias row is penalized."""
    W = "W" if reg_bias else r"\tilde W"
    if reg_mode == "full":
        return rf"R(W) = \lambda \lVert {W} \rVert^2", rf"2\lambda {W}"
    return rf"R(W) = \tfrac{{1}}{{2}} \lambda \lVert {W} \rVert^2", rf"\lambda {W}"


def _math(*lines: str) -> str:
    """One paragraph per formula (they flow side by side where there is room)."""
    return "\n\n".join(rf"$\displaystyle {line}$" for line in lines)


def curves_markdown(loss: str, reg_mode: str, reg_bias: bool) -> str:
    """The objective the loss curves show."""
    penalty, _ = reg_tex(reg_mode, reg_bias)
    text = _math(
        r"L(W) = \frac{1}{N} \sum_i L_i + R(W)",
        LOSS_TEX.get(loss, LOSS_TEX["softmax"]),
        penalty,
    )
    return text + ("" if reg_bias else "\n\n" + r"$\tilde W$: W without its bias row")


def gradcheck_markdown(loss: str, reg_mode: str, reg_bias: bool, method: str) -> str:
    """The gradient being checked (a, analytic) against the finite difference (n), and the error."""
    _, reg_grad = reg_tex(reg_mode, reg_bias)
    grad = [line.replace("{REG}", reg_grad) for line in GRAD_TEX.get(loss, GRAD_TEX["softmax"])]
    return _math(*grad, NUMERIC_TEX.get(method, NUMERIC_TEX["central"]), REL_ERROR_TEX)


def typeset(text: str) -> dcc.Markdown:
    return dcc.Markdown(text, mathjax=True, className="formula-tex")


# -- the teaching views' formulas (one short line each, for the back of the room) -------------


def sweep_markdown() -> str:
    """The step-size sweep: both difference quotients, the error's two parts (round-off on the
    left of the V, truncation on the right) and the relative error on the y axis. (No colour:
    Dash's MathJax would fetch the TeX colour extension from the server, which does not serve it.)"""
    return _math(
        r"\text{forward: } n = \frac{L(w + h) - L(w)}{h}",
        r"\text{central: } n = \frac{L(w + h) - L(w - h)}{2h}",
        r"\text{error} \approx \underbrace{\varepsilon / h}_{\text{round-off}}"
        r" + \underbrace{h \ \text{or}\ h^2}_{\text{truncation}}",
        r"e = \frac{\lVert a - n \rVert}{\lVert a + n \rVert}",
    )


def landscape_markdown(mode: str, direction: str) -> str:
    """The function a landscape slice plots and what its directions are."""
    plane = mode == "2d"
    lines = [r"f(a, b) = L(W + a D_1 + b D_2)" if plane else r"f(a) = L(W + a D_1)"]
    if direction == "gradient":
        lines.append(
            r"D_1 = -\nabla L \, \frac{\lVert W \rVert}{\lVert \nabla L \rVert}"
            + (r",\ \ D_2\ \text{random}" if plane else "")
        )
        lines.append(
            r"W - \eta \nabla L:\ \ a = \frac{\eta \lVert \nabla L \rVert}{\lVert D_1 \rVert}"
            + (r",\ b = 0" if plane else "")
        )
    else:
        lines.append(
            (r"D_1, D_2" if plane else r"D_1")
            + r"\ \text{random},\ \ \lVert D_{:,c} \rVert = \lVert W_{:,c} \rVert"
        )
    return _math(*lines)


#: each loss's per-class term, as the Examples table shows it (core.explain.per_class_terms), and L_i
EXAMPLE_TERMS = {
    "softmax": (r"p_j = \frac{e^{s_j}}{\sum_k e^{s_k}}", r"L_i = -\log p_{y_i}"),
    "hinge": (r"m_j = \max(0,\, s_j - s_{y_i} + \Delta)", r"L_i = \sum_{j \ne y_i} m_j"),
    "ova-hinge": (r"m_j = \max(0,\, \Delta - t_j s_j),\ t_j = \pm 1", r"L_i = \sum_j m_j"),
    "structured-hinge": (r"m_j = \max(0,\, s_j - s_{y_i} + \Delta)", r"L_i = \max_{j \ne y_i} m_j"),
}


def examples_markdown(loss: str) -> str:
    """The Examples table's rows: scores, the per-class terms of the loss, L_i; the totals below."""
    term, li = EXAMPLE_TERMS.get(loss, EXAMPLE_TERMS["softmax"])
    return _math(r"s_j = w_j^\top x + b_j", term, li, r"L = \frac{1}{N} \sum_i L_i + R(W)")


def evaluation_markdown() -> str:
    """Prediction, the score map of class c (w_c ⊙ x, summed, plus the bias) and per-class accuracy."""
    return _math(
        r"\hat y = \arg\max_c s_c",
        r"s_c = \sum_p (w_c \odot x)_p + b_c",
        r"\text{acc}_c = \frac{M_{cc}}{\sum_j M_{cj}}",
    )


def compare_markdown() -> str:
    """The two losses trained side by side (from the same W_0, on the same batches)."""
    return _math(
        r"\text{softmax: }" + LOSS_TEX["softmax"],
        r"\text{SVM: }" + LOSS_TEX["hinge"],
    )


def grid_markdown() -> str:
    """What the grid search picks, and the update each of its cells trains with (SGD, momentum 0.9)."""
    return _math(
        r"(\eta^*, \lambda^*) = \arg\max_{\eta, \lambda} \text{acc}_{\text{val}}(W_{\eta, \lambda})",
        r"v \leftarrow 0.9\, v - \eta \nabla_W \big(L_{\text{data}} + R_\lambda(W)\big)",
        r"W \leftarrow W + v",
    )


def teach_formula(text: str, component_id: str | None = None) -> html.Div:
    """A teaching view's formula box: ``text`` typeset (a Markdown of :func:`_math` lines) in large
    type; ``component_id`` names the Markdown, whose ``children`` a callback may replace. These views are mounted after the first views are drawn (components.deferred), so their
    MathJax never delays the first page."""
    kw = {"id": component_id} if component_id else {}
    return html.Div(
        dcc.Markdown(text, mathjax=True, className="formula-tex", **kw),
        className="view-formula teach-formula",
    )


# -- layout and callback ------------------------------------------------------------------


def slot(component_id: str) -> html.Div:
    """Where a view's formulas go (empty in the first page; filled after load)."""
    return html.Div(id=component_id, className="view-formula", **{"aria-live": "off"})


# The 2 MB MathJax chunk is requested only once the first views are drawn
# (components.firstviews), after everything the first page needs.
AFTER_LOAD_JS = """
function (loss, regMode, regBias, method, history) {
    const trained = history && Array.isArray(history.sig) && Array.isArray(history.step)
        && history.step.length ? history.sig : null;
    return __WHEN_DRAWN__.then(() => [loss, regMode, regBias, method, trained]);
}
""".replace("__WHEN_DRAWN__", firstviews.WHEN_DRAWN_JS)


def store() -> dcc.Store:
    """Holds the choices to typeset; set by :data:`AFTER_LOAD_JS` once the page is drawn."""
    return dcc.Store(id=ids.FORMULA_STORE, storage_type="memory")


dash.clientside_callback(
    AFTER_LOAD_JS,
    Output(ids.FORMULA_STORE, "data"),
    Input(ids.LOSS, "value"),
    Input(ids.REG_MODE, "value"),
    Input(ids.REG_BIAS, "value"),
    Input(ids.GC_METHOD, "value"),
    Input(ids.HISTORY_STORE, "data"),
)


@dash.callback(
    Output(ids.CURVES_FORMULA, "children"),
    Output(ids.GC_FORMULA, "children"),
    Input(ids.FORMULA_STORE, "data"),
    prevent_initial_call=True,
)
def draw_formulas(choice):
    """The typeset formulas: the gradient check's for the chosen loss, penalty and
    differences; the curves' for the objective of the training history they show
    (its signature ``sig``: the loss and penalty it was trained with), or the chosen
    one while there is none."""
    loss, reg_mode, reg_bias, method, trained = (list(choice or []) + [None] * 5)[:5]
    loss = loss if loss in LOSSES else "softmax"
    reg_mode = reg_mode if reg_mode in ("half", "full") else "half"
    bias = isinstance(reg_bias, list) and "bias" in reg_bias
    curves = (loss, reg_mode, bias)
    if isinstance(trained, list) and len(trained) > 6 and trained[3] in LOSSES:
        # the history's signature (session.objective_signature): [..., loss, reg, reg_mode, reg_bias, ...]
        curves = (trained[3], trained[5] if trained[5] in ("half", "full") else "half", trained[6] is True)
    return (
        typeset(curves_markdown(*curves)),
        typeset(gradcheck_markdown(loss, reg_mode, bias, method or "central")),
    )
