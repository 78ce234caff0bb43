"""The page: a header, the sidebar of controls on the left, the views on the right, and the stores.

:func:`serve` is the app's layout function, so every page load gets its own
initial weights and session id, and the dataset list reflects the data folder
(``$LINCLS_DATA``) at load time.
"""

from __future__ import annotations

import uuid

from dash import dcc, html

from components import analysis, controls, curves, gradcheck, ids, session, summary, templates, training  # noqa: F401


def header() -> html.Header:
    return html.Header(
        className="header",
        children=[
            html.H1("Linear classifiers on images"),
            html.P(
                "Pick a loss, move the sliders, press Train: the loss, its gradient and a numeric check "
                "of that gradient follow at once.",
                className="subtitle",
            ),
        ],
    )


def stores(weights: dict) -> list:
    memory = dict(storage_type="memory")
    return [
        dcc.Store(id=ids.SESSION_STORE, data={"id": uuid.uuid4().hex}, **memory),
        dcc.Store(id=ids.WEIGHTS_STORE, data=weights, **memory),
        dcc.Store(id=ids.HISTORY_STORE, data=None, **memory),
        dcc.Store(id=ids.LIVE_STORE, data=None, **memory),
        dcc.Store(id=ids.RESULT_STORE, data=None, **memory),
        dcc.Store(id=ids.RUNNING_STORE, data=False, **memory),
        dcc.Store(id=ids.COMMITTED_STORE, data=None, **memory),
        dcc.Store(id=ids.GC_DRAWN_STORE, data=None, **memory),
    ]


def serve() -> html.Div:
    """The whole page for one visitor."""
    options, data_error = session.dataset_options()
    d = session.DEFAULTS
    weights = session.initial_weights(d["dataset"], d["init"], d["seed"])
    return html.Div(
        className="app",
        children=[
            header(),
            html.Div(
                className="body",
                children=[
                    controls.sidebar(options, d),
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
                                    html.Div(id=ids.ALERT_COMPUTE),
                                    html.Div(id=ids.ALERT_TRAIN),
                                ],
                            ),
                            summary.layout(),
                            html.Div(className="row", children=[templates.layout(), curves.layout()]),
                            gradcheck.layout(),
                        ],
                    ),
                ],
            ),
            *stores(weights),
        ],
    )
