"""The page section "Inspect the classifier": four tabs below the main views.

Examples (the per-image table), Mistakes & score maps (confusion matrix,
confident mistakes, score maps), Softmax vs SVM (both trained from one start)
and Grid search (lr × λ). Each view computes only while its tab shows (the
tab value is an Input of its callbacks), the training ones in the app's
background manager, so none of them slows the sidebar and the views above.
"""

from __future__ import annotations

from dash import dcc, html

from components import compare, evaluation, examples, hypergrid, ids  # importing registers the callbacks
from components import inspect_common as ic

TABS = (
    (ic.TAB_EXAMPLES, "Examples", examples.layout),
    (ic.TAB_MISTAKES, "Mistakes & score maps", evaluation.layout),
    (ic.TAB_COMPARE, "Softmax vs SVM", compare.layout),
    (ic.TAB_GRID, "Grid search", hypergrid.layout),
)


def section(values: dict | None = None) -> html.Section:
    """The section; ``values`` (``{component id: value}``, e.g. from the URL: components.lecture.teach_values)
    sets its controls, the open tab included (the defaults for the ones it leaves out)."""
    values = values or {}
    return html.Section(
        id=ids.INSPECT_SECTION,
        className="card view inspect",
        children=[
            html.Div(className="view-head", children=[html.H2("Inspect the classifier")]),
            html.P(
                "Look inside the current weights image by image, see where they go wrong, and compare losses "
                "and hyper-parameters with short training runs of their own.",
                className="caption",
            ),
            dcc.Tabs(
                id=ids.INSPECT_TABS,
                value=values.get(ids.INSPECT_TABS, ic.TAB_EXAMPLES),
                className="inspect-tabs",
                parent_className="inspect-tabs-parent",
                content_className="inspect-tab-content",
                children=[
                    dcc.Tab(label=label, value=v, className="inspect-tab", selected_className="inspect-tab--selected",
                            children=build(values))
                    for v, label, build in TABS
                ],
            ),
        ],
    )
