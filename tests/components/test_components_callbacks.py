"""Callbacks and the glue module called as plain functions, on the built-in MNIST sample."""

from __future__ import annotations

import inspect
import json
import math
from contextvars import copy_context

import numpy as np
import pytest
from dash import Patch
from dash._callback_context import context_value
from dash._utils import AttributeDict, to_json
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks; builds the layout function)
from components import analysis, controls, curves, deferred, ids, layout, session, templates, training
from core import data as core_data
from core.losses import LOSSES

BUILTIN = core_data.BUILTIN


@pytest.fixture(autouse=True)
def _keep_test_priority(monkeypatch):
    """train_job renices its (job) process; called in-process here, it must not renice pytest."""
    monkeypatch.setattr(training, "_lower_priority", lambda: None)


LOG = np.log10


# -- session: slider scales, parsing, stores ---------------------------------


def test_reg_slider_leftmost_stop_is_zero():
    assert session.reg_from_slider(session.REG_ZERO) == 0.0
    assert session.reg_from_slider(-3) == pytest.approx(1e-3)
    assert session.slider_from_reg(0.0) == session.REG_ZERO
    assert session.reg_from_slider(session.slider_from_reg(0.02)) == pytest.approx(0.02)


def test_sizes_round_trip_through_log_positions():
    for n in (5, 50, 200, 5000, 9000, 59_000):
        assert session.size_from_slider(LOG(n)) == n


def test_size_marks_fit_the_pool():
    assert session.size_marks(9000) == [50, 100, 200, 500, 1000, 2000, 5000, 9000]
    assert session.size_marks(2000)[-1] == 2000 and 2000 not in session.size_marks(2000)[:-1]
    assert session.size_marks(540) == [50, 100, 200, 540]  # 500 would sit on top of 540


@pytest.mark.parametrize("h", [0, -1e-5, None, "abc", float("nan")])
def test_bad_step_h_is_a_readable_error(h):
    with pytest.raises(ValueError, match="h"):
        session.check_choice(LOG(50), h, "central", "all", 10)


def test_subset_size_must_be_a_positive_whole_number():
    assert session.check_choice(LOG(50), 1e-5, "central", "random", 30).entries == 30
    with pytest.raises(ValueError, match="entries"):
        session.check_choice(LOG(50), 1e-5, "central", "random", 0)


def test_weights_round_trip_as_float32_base64():
    W = np.random.default_rng(0).standard_normal((785, 10))
    payload = session.encode_weights(W, dataset=BUILTIN)
    assert json.loads(json.dumps(payload)) == payload
    assert len(payload["b64"]) < 45_000
    np.testing.assert_allclose(session.decode_weights(payload), W, rtol=1e-6)
    assert session.weights_fit(payload, BUILTIN, (785, 10))
    assert not session.weights_fit(payload, "other", (785, 10))
    assert session.decode_weights(None) is None


def rec(step, loss=1.0):
    return dict(
        step=step,
        epoch=step / 10,
        lr=0.1,
        loss=loss,
        data_loss=loss,
        reg_loss=0.0,
        train_acc=0.5,
        val_acc=math.nan,
    )


def test_history_continues_under_the_same_objective_and_restarts_otherwise():
    first = session.history_payload([rec(1), rec(2)], ["a"])
    more = session.history_payload([rec(1, 0.5), rec(2, 0.4)], ["a"], first)
    assert more["step"] == [1, 2, 3, 4] and more["loss"][-1] == 0.4
    assert more["val_acc"] == [None] * 4
    fresh = session.history_payload([rec(1)], ["b"], first)
    assert fresh["step"] == [1]


def test_long_history_is_thinned_but_keeps_its_ends():
    h = session.history_payload([rec(i) for i in range(1, 3001)], ["a"])
    assert len(h["step"]) <= session.HISTORY_MAX_POINTS and h["step"][0] == 1 and h["step"][-1] == 3000


# -- the fast path -----------------------------------------------------------

VALUES = dict(
    dataset=BUILTIN,
    train_size=LOG(500),
    test_size=LOG(200),
    preprocessing="standardize",
    loss="softmax",
    delta=1.0,
    reg=-3.0,
    reg_mode="half",
    reg_bias=["bias"],
    gc_samples=LOG(20),
    gc_h=1e-5,
    gc_method="central",
    gc_entries="all",
    gc_subset=100,
    gc_bug="",
    gc_kinks=None,
)


def weights0():
    return session.initial_weights(BUILTIN, "gaussian", 0)


def run_recompute(triggered: list[str], **changes):
    """Call the recompute callback as Dash would (keyword arguments, the sidebar's
    values as one dict), with ``triggered`` prop ids."""
    drawn = changes.pop("drawn", None)
    values = {**VALUES, **changes}
    assert set(values) == set(analysis.VALUES)  # what Dash passes it

    def call():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": p, "value": None} for p in triggered]))
        return analysis.recompute(values=values, weights=weights0(), drawn=drawn)

    return copy_context().run(call)


def test_recompute_first_draw_gives_whole_figures_and_numbers():
    heat, scatter, gc_summary, cards, alert, drawn = run_recompute([])
    assert len(heat.data) == 4 and len(scatter.data) == 2  # errors, bias and the two kink overlays
    assert "CORRECT" in str(gc_summary)
    assert alert is None and drawn.startswith(BUILTIN)
    text = str(cards)
    assert "2.30" in text  # the loss of a near-zero W is ln 10
    assert "500" in text and "200" in text


def test_recompute_after_a_loss_change_sends_patches_within_budget():
    drawn = run_recompute([])[-1]
    heat, scatter, *_ = run_recompute([f"{ids.LOSS}.value"], loss="hinge", drawn=drawn)
    assert isinstance(heat, Patch) and isinstance(scatter, Patch)
    size = sum(len(json.dumps(p.to_plotly_json())) for p in (heat, scatter))
    assert size < 300_000


def test_recompute_after_new_weights_redraws_whole_figures():
    drawn = run_recompute([])[-1]
    heat, *_ = run_recompute([f"{ids.WEIGHTS_STORE}.data"], drawn=drawn)
    assert not isinstance(heat, Patch)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_checks_correct_on_the_real_gradient(loss):
    *_, gc_summary, cards, alert, _ = run_recompute([], loss=loss)
    assert alert is None
    assert "CORRECT" in str(gc_summary) or "ACCEPTABLE" in str(gc_summary)


def test_a_planted_bug_is_caught():
    out = run_recompute([], gc_bug="sign-flip")
    assert "WRONG" in str(out[2])


def test_a_bad_value_becomes_a_message_and_keeps_the_old_results():
    heat, scatter, gc_summary, cards, alert, drawn = run_recompute([f"{ids.GC_H}.value"], gc_h=0)
    assert heat is analysis.no_update and cards is analysis.no_update
    assert "h" in str(alert) and "alert" in str(alert)


def test_too_many_training_samples_is_a_message():
    *_, alert, _ = run_recompute([f"{ids.TRAIN_SIZE}.value"], train_size=LOG(50_000))
    assert "training samples" in str(alert)


# -- the views' sidebar values: one definition, passed as one dict ------------------


def dash_call(fn) -> tuple[dict, list[str], list[str]]:
    """The keyword arguments Dash calls the registered callback ``fn`` with (its
    own grouping of the request's flat lists), each value the "id.property" it
    comes from; and the callback's flat inputs and states."""
    from dash._callback import GLOBAL_CALLBACK_MAP
    from dash._validate import validate_and_group_input_args

    (entry,) = [e for e in GLOBAL_CALLBACK_MAP.values() if getattr(e.get("callback"), "__wrapped__", 0) is fn]
    inputs = [f"{d['id']}.{d['property']}" for d in entry["inputs"]]
    state = [f"{d['id']}.{d['property']}" for d in entry["state"]]
    args, kwargs = validate_and_group_input_args(inputs + state, entry["inputs_state_indices"])
    assert args == []
    return kwargs, inputs, state


@pytest.mark.parametrize("view", ["analysis", "sweep", "landscape"])
def test_views_get_the_sidebar_values_as_one_dict_by_name(view):
    from components import landscape, sweep

    module, fn, own = {
        "analysis": (analysis, analysis.recompute, {}),
        "sweep": (sweep, sweep.update_sweep, {}),
        "landscape": (
            landscape,
            landscape.update_landscape,
            {
                "mode": ids.LANDSCAPE_MODE,
                "direction": ids.LANDSCAPE_DIRECTION,
                "span": ids.LANDSCAPE_SPAN,
                "seed": ids.LANDSCAPE_SEED,
            },
        ),
    }[view]
    kwargs, inputs, state = dash_call(fn)
    inspect.signature(fn).bind(**kwargs)  # the function takes what Dash passes
    values = kwargs["values"]
    assert values == {
        **{name: f"{cid}.value" for name, cid in own.items()},
        **{name: ".".join(controls.VALUES[name]) for name in module.VALUES},
    }
    assert kwargs["weights"] == f"{ids.WEIGHTS_STORE}.data"
    assert len(set(inputs + state)) == len(inputs + state)  # nothing twice
    drawn = f"{ids.GC_DRAWN_STORE}.data"
    if view == "analysis":  # the fast path writes the drawn-marker, reads it and the kinks toggle
        assert kwargs["drawn"] == drawn and set(state) == {drawn, f"{ids.GC_KINKS}.value"}
        assert set(inputs) == {*values.values(), kwargs["weights"]} - set(state)
    else:  # the inside views: after the main view (drawn-marker), the test size read only
        assert kwargs["_drawn"] == drawn and state == [f"{ids.TEST_SIZE}.value"]
        assert set(inputs) == {f"{ids.INSIDE_TABS}.value", *values.values(), kwargs["weights"], drawn} - set(
            state
        )


def test_value_inputs_knows_only_the_sidebar_values():
    group = controls.value_inputs("loss", "test_size", state=("test_size",))
    assert [type(d).__name__ for d in group.values()] == ["Input", "State"]
    assert (group["loss"].component_id, group["test_size"].component_id) == (ids.LOSS, ids.TEST_SIZE)
    with pytest.raises(ValueError, match="no_such"):
        controls.value_inputs("loss", "no_such")
    with pytest.raises(ValueError, match="test_size"):
        controls.value_inputs("loss", state=("test_size",))  # a State it does not read
    assert set(controls.initial_values()) <= set(controls.VALUES)


# -- weights: reset, train, commit ------------------------------------------------


def test_reset_gives_fresh_weights_for_init_and_seed():
    w, hist, alert = training.reset_weights(1, "zeros", 3, BUILTIN, False)
    assert hist is None and alert is None
    assert not session.decode_weights(w).any() and w["dataset"] == BUILTIN


def test_reset_does_nothing_while_training():
    with pytest.raises(PreventUpdate):
        training.reset_weights(1, "zeros", 3, BUILTIN, True)


def test_reset_with_a_bad_seed_is_a_message():
    w, hist, alert = training.reset_weights(1, "gaussian", -2, BUILTIN, False)
    assert w is training.no_update and "seed" in str(alert)


def train(epochs=2, lr=-3, history=None, weights=None, n=200):
    progress = []
    result, alert = training.train_job(
        progress.append,
        1,
        BUILTIN,
        LOG(n),
        LOG(100),
        "standardize",
        "softmax",
        1.0,
        -3.0,
        "half",
        ["bias"],
        "gaussian",
        0,
        lr,
        LOG(50),
        LOG(epochs),
        "fast",
        "shared",
        weights or weights0(),
        history,
        {"id": "t"},
    )
    return result, alert, progress


def test_training_streams_snapshots_and_returns_the_final_one():
    result, alert, progress = train()
    assert alert is None
    assert result["step"] == 8 and len(result["history"]["step"]) == 8  # 200 / 50 * 2 epochs
    live, tpl, crv, value, maximum, status = progress[-1]
    assert live == result and value == maximum == "8" and status.startswith("Done")
    assert isinstance(tpl, Patch) and isinstance(crv, Patch)
    W = session.decode_weights(result["weights"])
    assert not np.allclose(W, session.decode_weights(weights0()))
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]


def test_training_continues_the_history_of_the_same_objective():
    first, _, _ = train()
    second, _, _ = train(history=first["history"], weights=first["weights"])
    assert second["history"]["step"][-1] == 16 and second["step"] == 16


def test_huge_weights_survive_the_store():
    W = np.full((785, 10), 1e300)
    payload = session.encode_weights(W)
    assert payload["dtype"] == "float64" and np.array_equal(session.decode_weights(payload), W)


def test_divergence_keeps_the_last_finite_weights_and_says_so(recwarn):
    # λ = 100 with lr = 10: every step multiplies W by about 1 - lr·λ = -999
    progress = []
    result, alert = training.train_job(
        progress.append,
        1,
        BUILTIN,
        LOG(200),
        LOG(100),
        "standardize",
        "softmax",
        1.0,
        2.0,
        "half",
        ["bias"],
        "gaussian",
        0,
        1.0,
        LOG(50),
        LOG(20),
        "fast",
        "shared",
        weights0(),
        None,
        {"id": "t"},
    )
    assert "diverged" in str(alert) and "learning rate" in str(alert)
    W = session.decode_weights(result["weights"])
    assert np.isfinite(W).all() and result["step"] > 0
    assert progress[-1][-1].startswith("Diverged")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_training_with_a_bad_value_is_a_message():
    progress = []
    result, alert = training.train_job(
        progress.append,
        1,
        BUILTIN,
        LOG(200),
        LOG(100),
        "standardize",
        "softmax",
        1.0,
        -3.0,
        "half",
        [],
        "gaussian",
        "x",
        -3,
        LOG(50),
        LOG(1),
        "fast",
        "shared",
        weights0(),
        None,
        {"id": "t"},
    )
    assert result is training.no_update and "seed" in str(alert) and not progress


def test_commit_takes_the_newest_snapshot_once_no_job_runs():
    result, _, _ = train()
    older = {**result, "step": 4}
    w, h, mark = training.commit(False, result, older, None, BUILTIN)
    assert w == result["weights"] and mark == {"run": 1, "step": 8}
    with pytest.raises(PreventUpdate):
        training.commit(False, result, older, mark, BUILTIN)  # already committed
    with pytest.raises(PreventUpdate):
        training.commit(True, result, older, None, BUILTIN)  # still running
    with pytest.raises(PreventUpdate):
        training.commit(False, result, None, None, "another-dataset")


def test_stop_keeps_the_streamed_snapshot():
    result, _, _ = train()
    live = {**result, "step": 5}
    w, h, mark = training.commit(False, None, live, {"run": 0, "step": 0}, BUILTIN)
    assert mark == {"run": 1, "step": 5}


# -- the small UI callbacks ------------------------------------------------------


def test_margin_only_for_hinge_losses_and_bugs_follow_the_loss():
    disabled, formula, options, value = controls.show_loss("softmax", "sign-flip")
    assert disabled and "log" in str(formula) and value == "sign-flip"
    disabled, formula, options, value = controls.show_loss("hinge", "no-max-shift")
    assert not disabled and value == "" and "no-max-shift" not in [o["value"] for o in options]


def test_sizes_follow_the_dataset():
    out = controls.fit_sizes_to_dataset(BUILTIN, LOG(5000), LOG(50_000))
    t_max, t_marks, t_value, s_value = out[1], out[2], out[3], out[7]
    assert list(t_marks.values())[-1] == "9k"
    assert t_max == pytest.approx(LOG(9000)) and t_value == pytest.approx(LOG(5000))
    assert s_value == pytest.approx(LOG(2000))  # clipped to the 2,000 test images


def test_templates_callback_draws_the_stored_weights():
    fig = templates.draw_templates(weights0(), templates.SHARED, False, None)
    assert len(fig.data) == 2 and fig.layout.annotations[0].text == "<b>0</b>"


def test_curves_callback_uses_the_loss_the_history_was_trained_with():
    h = session.history_payload([rec(1)], [BUILTIN, 500, "standardize", "hinge", 0.0, "half", True, 1.0])
    fig = curves.draw_curves(h, "softmax", 1.0, BUILTIN)
    assert fig.layout.shapes[0].y0 == pytest.approx(9.0)
    fig = curves.draw_curves(None, "softmax", 1.0, BUILTIN)
    assert fig.layout.shapes[0].y0 == pytest.approx(np.log(10))


# -- the page -------------------------------------------------------------------


def test_layout_has_every_id_once_and_serves_locally():
    page = layout.serve()
    found = []

    def walk(node):
        if hasattr(node, "id") and getattr(node, "id", None):
            found.append(node.id)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and hasattr(child, "to_plotly_json"):
                walk(child)

    walk(page)
    for section in deferred.sections():  # their content, mounted in the placeholders after the first views
        for child in section.children:
            walk(child)
    assert len(found) == len(set(found))
    declared = {v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str)}
    assert declared == set(found), declared ^ set(found)
    assert app.app.config.serve_locally


def test_layout_page_json_is_modest():
    assert len(to_json(layout.serve())) < 400_000


def test_bad_data_folder_is_reported_on_the_page(monkeypatch, tmp_path):
    monkeypatch.setenv(core_data.ENV_DATA, str(tmp_path / "missing"))
    options, error = session.dataset_options()
    assert [o["value"] for o in options][0] == BUILTIN
    assert error and "missing" in error
    assert "missing" in str(layout.serve())
