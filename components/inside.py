"""View "Inside the gradient": tabs for the step size h of the numeric gradient
(:mod:`components.sweep`) and the loss landscape around W
(:mod:`components.landscape`).

Only the shown tab computes: each tab's callback takes the Tabs value as an
input and returns ``no_update`` while its tab is hidden.
"""

from __future__ import annotations

from dash import dcc, html

from components import ids, landscape, sweep


def layout(values: dict | None = None) -> html.Section:
    """The section; ``values`` (``{component id: value}``, e.g. from the URL: components.lecture.teach_values)
    sets its controls, the open tab included (the defaults for the ones it leaves out)."""
    values = values or {}
    return html.Section(
        id=ids.INSIDE_VIEW,
        className="card view view-wide",
        children=[
            html.Div(className="view-head", children=[html.H2("Inside the gradient")]),
            html.P(
                "Why the numeric check needs the right step h, and what the loss looks like around the current "
                "weights: the sidebar's loss, data and weights, as above.",
                className="caption",
            ),
            dcc.Tabs(
                id=ids.INSIDE_TABS,
                value=values.get(ids.INSIDE_TABS, sweep.TAB),
                className="inside-tabs",
                parent_className="inside-tabs-parent",
                content_className="inside-tabs-content",
                children=[
                    dcc.Tab(
                        label="Step size h",
                        value=sweep.TAB,
                        className="inside-tab",
                        selected_className="inside-tab--selected",
                        children=sweep.layout(),
                    ),
                    dcc.Tab(
                        label="Loss landscape",
                        value=landscape.TAB,
                        className="inside-tab",
                        selected_className="inside-tab--selected",
                        children=landscape.layout(values),
                    ),
                ],
            ),
        ],
    )
