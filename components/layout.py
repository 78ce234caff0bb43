"""The page: a header, the sidebar of controls on the left, the views on the right, and the stores.

:func:`serve` is the app's layout function, so every page load gets its own
initial weights and session id, and the dataset list reflects the data folder
(``$LINCLS_DATA``) at load time.
"""

from __future__ import annotations

import json
import os
import uuid

import plotly.graph_objects as go
import plotly.io as pio
from dash import dcc, html

from components import (  # noqa: F401  (importing the components registers their callbacks)
    analysis,
    breakit,
    controls,
    curves,
    deferred,
    exports,
    formulas,
    gradcheck,
    ids,
    lecture,
    session,
    summary,
    templates,
    training,
)
from core.data import ENV_DATA


def header() -> html.Header:
    return html.Header(
        className="header",
        children=[
            html.Div(
                className="title",
                children=[
                    html.H1("Linear classifiers on images"),
                    html.P(
                        "Pick a loss, move the sliders, press Train: the loss, its gradient and a numeric "
                        "check of that gradient follow at once.",
                        className="subtitle",
                    ),
                ],
            ),
            lecture.toolbar(),  # Copy link, lecture mode
            controls.train_actions(),
        ],
    )


_FIRST: dict = {}  # first_views of the last few (weights, controls, data folder)


def first_views(weights: dict, d: dict = session.DEFAULTS) -> dict:
    """Everything the views show for the default controls, computed here so the
    first page arrives drawn (no round trip of initial callbacks before anything
    shows). A failure leaves placeholders and says why.

    Every visitor starts from the same weights (the default init and seed), so
    the result is kept, its figures as plain JSON: a page load then costs a few
    milliseconds of server time instead of computing and serializing them again
    (measured: ~160 ms -> ~50 ms for the layout request). A failure is not kept."""
    key = (json.dumps([weights, d], sort_keys=True, default=repr), os.environ.get(ENV_DATA))
    if key not in _FIRST:
        out = _compute_first_views(weights, d)
        if out["alert"] is not None:
            return out
        for name in ("heat", "scatter", "templates", "curves"):
            if isinstance(out[name], go.Figure):
                out[name] = json.loads(pio.to_json(out[name], validate=False))
        if len(_FIRST) >= 4:
            _FIRST.clear()
        _FIRST[key] = out
    return dict(_FIRST[key])


def _compute_first_views(weights: dict, d: dict) -> dict:
    out = dict(heat=None, scatter=None, gc_summary=None, cards=None, alert=None, drawn=None, templates=None)
    try:
        values = controls.initial_values(d)
        out["heat"], out["scatter"], out["gc_summary"], out["cards"], out["alert"], out["drawn"] = (
            analysis.compute_views(values, weights, None, True)
        )
        out["templates"] = templates.draw_templates(weights, templates.SHARED, False, None)
    except Exception as exc:  # noqa: BLE001 - the page still loads and shows the message
        out["alert"] = analysis.alert(f"Could not compute the first view: {type(exc).__name__}: {exc}")
    try:
        n_classes = session.load_dataset(d["dataset"]).n_classes
    except ValueError:
        n_classes = 10
    out["curves"] = curves.curves_figure(None, d["loss"], n_classes, d["delta"])
    return out


def _store(component_id: str, data=None) -> dcc.Store:
    """A memory store; an empty one carries no ``data`` at all. (A memory
    ``dcc.Store`` mounted with ``data=None`` sets its data to ``undefined``
    at once, which fires every callback it is an Input of, prevent_initial_call
    or not: on each page load the curves were redrawn and the training commit
    asked for nothing.)"""
    if data is None:
        return dcc.Store(id=component_id, storage_type="memory")
    return dcc.Store(id=component_id, data=data, storage_type="memory")


def stores(weights: dict, drawn: str | None = None) -> list:
    return [
        _store(ids.SESSION_STORE, {"id": uuid.uuid4().hex}),
        _store(ids.WEIGHTS_STORE, weights),
        _store(ids.HISTORY_STORE),
        _store(ids.LIVE_STORE),
        _store(ids.RESULT_STORE),
        _store(ids.RUNNING_STORE, False),
        _store(ids.COMMITTED_STORE),
        _store(ids.GC_DRAWN_STORE, drawn),
    ]


def serve() -> html.Div:
    """The whole page for one visitor."""
    options, data_error = session.dataset_options()
    d = session.DEFAULTS
    weights = session.initial_weights(d["dataset"], d["init"], d["seed"])
    first = first_views(weights, d)
    return html.Div(
        id=ids.APP_ROOT,
        className="app",
        children=[
            header(),
            html.Div(
                className="body",
                children=[
                    exports.mount(controls.sidebar(options, d)),  # + Export & import
                    html.Main(
                        className="views",
                        children=[
                            html.Div(
                                className="alerts",
                                children=[
                                    html.Div(
                                        id=ids.ALERT_DATA,
                                        children=analysis.alert(data_error) if data_error else None,
                                    ),
                                    html.Div(first["alert"], id=ids.ALERT_COMPUTE),
                                    html.Div(id=ids.ALERT_TRAIN),
                                    lecture.alert_area(),
                                ],
                            ),
                            summary.layout(first["cards"]),
                            html.Div(
                                className="row",
                                children=[
                                    templates.layout(first["templates"]),
                                    curves.layout(first["curves"]),
                                ],
                            ),
                            gradcheck.layout(first["heat"], first["scatter"], first["gc_summary"]),
                            # "Inside the gradient" (step size h, loss landscape) and "Inspect the
                            # classifier" (examples, mistakes, softmax vs SVM, grid): placeholders,
                            # filled once the views above are drawn (components/deferred.py)
                            *deferred.placeholders(),
                        ],
                    ),
                ],
            ),
            *stores(weights, first["drawn"]),
            lecture.location(),
            formulas.store(),
            deferred.store(),
        ],
    )


def validation_layout() -> html.Div:
    """Every component a callback names: the page and the sections mounted after it
    (:mod:`components.deferred`), for Dash to check the callbacks against
    (``app.validation_layout``). Without the figures and the stores' data: Dash
    puts it in every page's HTML."""
    page = html.Div([serve(), *deferred.sections()])
    for component in page._traverse():
        if isinstance(component, dcc.Graph):
            component.figure = None
        elif isinstance(component, dcc.Store) and getattr(component, "data", None) is not None:
            component.data = None
    return page
