"""The fast path: any change of data, loss, regularization, check settings or
weights recomputes loss, gradient and gradient check at once, and redraws the
summary numbers and the gradient-check view.

The callback is thin: :func:`components.session.analyze` does the work. When
only numbers changed (same dataset, figures already drawn in full) the figures
are updated with a ``Patch`` of their arrays: about a third of the JSON of
whole figures, and no rebuilding of layouts.
"""

from __future__ import annotations

import time
import traceback

import dash
from dash import Input, Output, State, ctx, html, no_update

from components import breakit, controls, gradcheck, ids, session, summary


def alert(message: str, kind: str = "error") -> html.Div:
    """A readable message for the alert area (role=alert, so screen readers announce it)."""
    return html.Div(message, className=f"alert alert-{kind}", role="alert")


#: what the fast path reads: every data, loss and check value of the sidebar (a
#: change of any reruns it) and the "show kinks" choice (read for a whole new heatmap)
VALUES = (*controls.DATA_VALUES, *controls.LOSS_VALUES, *controls.CHECK_VALUES, "gc_kinks")


def compute_views(values: dict, weights: dict | None, drawn: str | None, full: bool):
    """The outputs of :func:`recompute` for the control ``values`` (pure apart
    from the data cache): heatmap, scatter, check summary, summary cards, alert,
    drawn-marker. Raises ValueError for a bad value."""
    t0 = time.perf_counter()
    data = session.data_choice(
        values["dataset"], values["train_size"], values["test_size"], values["preprocessing"]
    )
    loss = session.loss_choice(
        values["loss"], values["reg"], values["reg_mode"], values["reg_bias"], values["delta"]
    )
    check = session.check_choice(
        values["gc_samples"],
        values["gc_h"],
        values["gc_method"],
        values["gc_entries"],
        values["gc_subset"],
        values.get("gc_bug"),
    )
    prep = session.prepared(data)
    W = session.decode_weights(weights)
    if W is None:
        raise ValueError("no weights yet: press Reset weights")
    a = session.analyze(prep, W, loss, check)
    structure = f"{data.dataset}:{prep.n_classes}:{prep.image_shape}"
    result = a.check
    if full or drawn != structure:
        heat = gradcheck.heatmap_figure(
            result, prep.image_shape, prep.class_names, breakit.shows_kinks(values.get("gc_kinks"))
        )
        scatter = gradcheck.scatter_figure(result)
    else:
        heat = gradcheck.heatmap_patch(result, prep.image_shape)
        scatter = gradcheck.scatter_patch(result)
    a.seconds = time.perf_counter() - t0
    return (
        heat,
        scatter,
        gradcheck.summary(result, a.check_samples, check.h, check.method),
        summary.cards(a, loss),
        None,
        structure,
    )


@dash.callback(
    Output(ids.GC_HEATMAP, "figure"),
    Output(ids.GC_SCATTER, "figure"),
    Output(ids.GC_SUMMARY, "children"),
    Output(ids.SUMMARY, "children"),
    Output(ids.ALERT_COMPUTE, "children"),
    Output(ids.GC_DRAWN_STORE, "data"),
    inputs=dict(
        # a whole new heatmap keeps the "show kinks" choice: read, not a trigger
        values=controls.value_inputs(*VALUES, state=("gc_kinks",)),
        weights=Input(ids.WEIGHTS_STORE, "data"),
    ),
    state=dict(drawn=State(ids.GC_DRAWN_STORE, "data")),
    prevent_initial_call=True,  # the first page comes computed (layout.serve)
)
def recompute(values: dict, weights, drawn):
    """Loss, gradient and check for the current controls (``values``, by the
    names of :data:`VALUES`) and weights. A bad value shows as a message; the
    previous results stay on the page."""
    triggers = set(ctx.triggered_prop_ids.values()) if ctx.triggered_id else set()
    full = not triggers or bool(triggers & {ids.DATASET, ids.WEIGHTS_STORE})
    try:
        return compute_views(values, weights, drawn, full)
    except ValueError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - a failure is shown on the page, the old results stay
        traceback.print_exc()
        message = f"Computation failed: {type(exc).__name__}: {exc}"
    return no_update, no_update, no_update, no_update, alert(message), no_update
