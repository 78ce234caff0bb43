"""The teaching sections mounted after the first views (components/deferred.py): the first page
holds light placeholders in their place, the mount callback returns the sections, and the
validation layout knows every component a callback names."""

from __future__ import annotations

import json

import plotly
import pytest
from dash import dcc, html
from dash.exceptions import PreventUpdate

import app
from components import deferred, ids, layout, lecture

# ids that only the mounted sections hold (a few of each tab)
HEAVY = (
    ids.INSIDE_TABS,
    ids.SWEEP_GRAPH,
    ids.LANDSCAPE_GRAPH,
    ids.INSPECT_TABS,
    ids.EXAMPLES_TABLE,
    ids.EVALUATION_CONFUSION,
    ids.COMPARE_BUTTON,
    ids.HYPERGRID_HEATMAP,
)


def component_ids(node) -> list:
    return [c.id for c in node._traverse() if getattr(c, "id", None) is not None] + (
        [node.id] if getattr(node, "id", None) is not None else []
    )


def find(node, component_id):
    return next(c for c in node._traverse() if getattr(c, "id", None) == component_id)


def test_deferred001_first_page_has_placeholders_not_the_sections():
    page = layout.serve()
    found = component_ids(page)
    for section_id, _, title, line, _ in deferred.SECTIONS:
        section = find(page, section_id)
        assert isinstance(section, html.Section) and deferred.PLACEHOLDER_CLASS in section.className
        text = json.dumps(section.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
        assert title in text and line in text
        assert len(text) < 1000  # a heading and a line
    assert not set(HEAVY) & set(found)
    assert ids.DEFERRED_STORE in found
    # in the page's order: after the gradient check, Inside the gradient then Inspect the classifier
    views = (ids.GC_VIEW, ids.INSIDE_VIEW, ids.INSPECT_SECTION)
    assert [i for i in found if i in views] == list(views)


def test_deferred002_mount_callback_returns_the_sections():
    inside_children, inside_class, inspect_children, inspect_class = deferred.mount_sections(True)
    mounted = html.Div([html.Div(inside_children), html.Div(inspect_children)])
    assert set(HEAVY) <= set(component_ids(mounted))
    # the same card as the placeholder, without its class "deferred"
    page = layout.serve()
    assert find(page, ids.INSIDE_VIEW).className == f"{inside_class} {deferred.PLACEHOLDER_CLASS}"
    assert find(page, ids.INSPECT_SECTION).className == f"{inspect_class} {deferred.PLACEHOLDER_CLASS}"
    with pytest.raises(PreventUpdate):
        deferred.mount_sections(None)


def test_deferred003_no_control_of_the_url_lives_in_a_deferred_section():
    """A link sets its controls at once: each must be in the first page, none in a deferred section."""
    page_ids = set(component_ids(layout.serve()))
    section_ids = set(component_ids(html.Div(deferred.sections())))
    for _, control_id in lecture.CONTROLS:
        assert control_id in page_ids and control_id not in section_ids


def test_deferred004_validation_layout_has_every_callback_id_and_no_figure_data():
    known = set(component_ids(app.app.validation_layout))
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    named = set()
    for dep in deps:
        parts = [p for p in dep["output"].strip(".").split("...") if p]
        named |= {p.rsplit(".", 1)[0] for p in parts}
        named |= {i["id"] for i in dep["inputs"] + dep["state"]}
    named = {n for n in named if not n.startswith("{")}  # pattern-matching ids are made by callbacks
    assert named <= known, named - known
    for c in app.app.validation_layout._traverse():
        assert not (isinstance(c, dcc.Graph) and c.figure)
        assert not (isinstance(c, dcc.Store) and getattr(c, "data", None))
    assert len(json.dumps(app.app.validation_layout, cls=plotly.utils.PlotlyJSONEncoder)) < 150_000


def test_deferred005_empty_memory_stores_carry_no_data():
    """A memory dcc.Store mounted with data=None sets its data to undefined at once, which fires every
    callback it is an Input of (prevent_initial_call or not): an empty store must leave ``data`` out."""
    page = html.Div([layout.serve(), *deferred.sections()])
    stores = [c for c in page._traverse() if isinstance(c, dcc.Store)]
    assert len(stores) >= 10
    for store in stores:
        props = store.to_plotly_json()["props"]
        assert "data" not in props or props["data"] is not None, store.id
