"""The two teaching sections below the main views, mounted once the first views are drawn.

"Inside the gradient" (:mod:`components.inside`) and "Inspect the classifier"
(:mod:`components.inspector`) are a quarter of the page's components (tabs,
sliders, a table, two plotly graphs), and their callbacks fire as soon as they
are on the page. In the first page they made the first views (templates,
curves, gradient check) wait for them. So the first page carries a light
placeholder for each, the same card with its heading and one line, in the
same place, and the browser asks for the sections once the first views are
drawn and it is idle (:data:`AFTER_VIEWS_JS`, as :mod:`components.formulas`
does for MathJax). The sections' callbacks then fire as for any component
added to the page, with the sidebar's current values.

Their own controls (tabs, the landscape's slice and seed, the examples'
images, the grid's presets: :data:`components.lecture.TEACH_CONTROLS`) are in
the URL, but no callback can set them before they are mounted: the mount
callback builds the sections from the URL as it is then (``search``, a State:
reading it costs the first views nothing), and ``components.lecture`` keeps
URL and controls in step afterwards. The sidebar's controls they read are in
the first page, so a link or an imported configuration restores them as before.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from components import firstviews, ids, inside, inspector, lecture

#: (section id, its class, heading, the line shown until the section is mounted, its layout
#: (a function of ``{component id: value}``, the teaching controls' values))
SECTIONS = (
    (
        ids.INSIDE_VIEW,
        "card view view-wide",
        "Inside the gradient",
        "The step size h of the numeric check, and the loss landscape around W: loading …",
        inside.layout,
    ),
    (
        ids.INSPECT_SECTION,
        "card view inspect",
        "Inspect the classifier",
        "Examples, mistakes and score maps, softmax vs SVM, grid search: loading …",
        inspector.section,
    ),
)
PLACEHOLDER_CLASS = "deferred"


def placeholder(section_id: str) -> html.Section:
    """The light card that holds a section's place in the first page."""
    _, class_name, title, line, _ = next(s for s in SECTIONS if s[0] == section_id)
    return html.Section(
        id=section_id,
        className=f"{class_name} {PLACEHOLDER_CLASS}",
        children=[
            html.Div(className="view-head", children=[html.H2(title)]),
            html.P(line, className="caption"),
        ],
    )


def placeholders() -> list[html.Section]:
    return [placeholder(s[0]) for s in SECTIONS]


def store() -> dcc.Store:
    """Set by :data:`AFTER_VIEWS_JS` once the first views are drawn."""
    return dcc.Store(id=ids.DEFERRED_STORE, storage_type="memory")


def sections(values: dict | None = None) -> list[html.Section]:
    """The full sections, as the mount callback sends them; ``values`` sets their controls
    (:func:`components.lecture.teach_values` of the URL; the defaults without)."""
    return [build(values) for *_, build in SECTIONS]


# Resolves once the first views are drawn and the browser is idle (components.firstviews).
AFTER_VIEWS_JS = """
function (_id) {
    return __WHEN_DRAWN__;
}
""".replace("__WHEN_DRAWN__", firstviews.WHEN_DRAWN_JS)

dash.clientside_callback(
    AFTER_VIEWS_JS,
    Output(ids.DEFERRED_STORE, "data"),
    Input(ids.DEFERRED_STORE, "id"),  # once, when the page mounts
)


@dash.callback(
    *[Output(section_id, prop) for section_id, *_ in SECTIONS for prop in ("children", "className")],
    Input(ids.DEFERRED_STORE, "data"),
    State(ids.LECTURE_LOCATION, "search"),
    prevent_initial_call=True,
)
def mount_sections(ready, search=None):
    """Each section's content and class, in place of its placeholder's, its controls set
    as the URL says (a link to the landscape's plane opens on it; bad values: the defaults)."""
    if not ready:
        raise PreventUpdate
    out = []
    for section in sections(lecture.teach_values(search)):
        out += [section.children, section.className]
    return out
