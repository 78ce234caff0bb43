"""Break it (a planted bug: the check catches it, a banner names it, Fix it undoes
it) and the kinks overlay of the hinge losses (components/breakit.py), as plain
functions on the built-in MNIST sample."""

from __future__ import annotations

from contextvars import copy_context

import numpy as np
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import analysis, breakit, controls, ids, session
from core.gradcheck import BUGS, check_gradient

BUILTIN = session.DEFAULTS["dataset"]


def weights0():
    return session.initial_weights(BUILTIN, "gaussian", 0)


def views(**changes):
    """heatmap, scatter, check summary, cards, alert, drawn for the controls + changes (whole figures)."""
    return analysis.compute_views({**controls.initial_values(), **changes}, weights0(), None, True)


def verdict(summary_children) -> str:
    return str(summary_children[0].children[0].children)


def test_break001_a_planted_bug_turns_the_check_red_and_the_banner_names_it():
    heat, _, summary, *_ = views(gc_bug="sign-flip")
    assert verdict(summary) == "WRONG"
    z = np.asarray(heat.data[0].z, dtype=float)
    assert np.nanmedian(z) > -2  # most entries off by more than 1e-2 (log10 colour scale)
    cls, text = breakit.show_bug("sign-flip")
    assert cls == "bug-banner"
    shown = str(text)
    assert BUGS["sign-flip"].label in shown and BUGS["sign-flip"].description in shown
    assert "loss value is still right" in shown
    # no bug: the banner hides, the check is green again
    assert breakit.show_bug("") == ("bug-banner hidden", [])
    assert breakit.show_bug(None) == ("bug-banner hidden", [])
    assert verdict(views(gc_bug="")[2]) == "CORRECT"


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_break002_every_bug_that_is_always_caught_is_caught(loss):
    for name, bug in BUGS.items():
        if loss not in bug.applies_to:
            continue
        got = verdict(views(loss=loss, gc_bug=name)[2])
        if bug.caught_when.startswith(("always", "whenever")):
            assert got == "WRONG", name
        else:  # caught only in some conditions: the banner says which
            assert bug.caught_when in str(breakit.show_bug(name)[1])


def test_break003_fix_it_restores_the_real_gradient():
    assert breakit.fix_it(1, "sign-flip") == ""
    with pytest.raises(PreventUpdate):
        breakit.fix_it(1, "")
    with pytest.raises(PreventUpdate):
        breakit.fix_it(0, "sign-flip")
    page = str(analysis.dash.get_app().layout())
    assert ids.GC_FIX_BUTTON in page and "bug-banner hidden" in page


def test_break004_kinks_overlay_for_a_hinge_with_kinks_and_none_for_softmax():
    # Δ = 0 at W ~ 0 puts every margin near zero: a step of 1e-2 crosses many kinks
    heat, _, summary, *_ = views(loss="hinge", delta=0.0, gc_h=0.01)
    pixels, bias = heat.data[2], heat.data[3]
    z = np.asarray(pixels.z, dtype=float)
    assert pixels.name == "kinks" and pixels.visible is True and pixels.showscale is False
    assert np.nanmax(z) >= 1 and np.isfinite(z).sum() > 0
    assert "sample(s) straddle a kink" in pixels.hovertemplate
    assert np.asarray(bias.z).shape == (1, 10)
    caption = str(summary)
    assert "straddle a kink" in caption and "not a bug" in caption
    # the counts are the check's: samples with a kink between W - h and W + h
    prep = session.prepared(session.data_choice(BUILTIN, np.log10(5000), 3.0, "standardize"))
    W = session.decode_weights(weights0())
    res = check_gradient("hinge", W, prep.X_train[:50], prep.y_train[:50], 1e-3, h=0.01, delta=0.0)
    assert np.isfinite(z).sum() + np.isfinite(np.asarray(bias.z, float)).sum() == res.n_kink_entries
    assert np.nansum(breakit.kink_counts(res)) == res.table["kink_samples"].sum()
    # softmax is smooth: the overlay traces are there (a Patch addresses them) but empty
    heat, _, summary, *_ = views(loss="softmax", gc_h=0.01)
    assert len(heat.data) == 4 and len(heat.data[2].z) == 0 and len(heat.data[3].z) == 0
    assert "straddle a kink" not in str(summary)
    # and a hinge without kinks at h = 1e-5 draws none either
    heat, *_ = views(loss="hinge")
    assert len(heat.data[2].z) == 0


def test_break005_patches_carry_the_overlay_and_the_toggle_only_its_visibility():
    before = run_recompute([ids.LOSS], dict(loss="hinge", delta=0.0, gc_h=0.01), drawn=structure())
    ops = {".".join(map(str, op["location"])): op for op in before[0].to_plotly_json()["operations"]}
    assert {"data.2.z", "data.3.z"} <= set(ops) and ops["data.2.z"]["params"]["value"]["bdata"]
    p = breakit.toggle_kinks([])
    ops = {
        ".".join(map(str, op["location"])): op["params"]["value"] for op in p.to_plotly_json()["operations"]
    }
    assert ops == {"data.2.visible": False, "data.3.visible": False}
    assert breakit.toggle_kinks(["show"]).to_plotly_json()["operations"][0]["params"]["value"] is True
    # a whole new heatmap (new weights) keeps the toggle's choice
    heat = run_recompute([ids.WEIGHTS_STORE], dict(loss="hinge"), kinks=[])[0]
    assert heat.data[2].visible is False and heat.data[3].visible is False


def structure() -> str:
    prep = session.prepared(session.data_choice(BUILTIN, np.log10(5000), 3.0, "standardize"))
    return f"{BUILTIN}:{prep.n_classes}:{prep.image_shape}"


def run_recompute(triggered, changes, drawn=None, kinks=None):
    values = {**controls.initial_values(), **changes, "gc_kinks": kinks}
    assert set(values) == set(analysis.VALUES)  # what Dash passes it

    def call():
        context_value.set(
            AttributeDict(triggered_inputs=[{"prop_id": f"{t}.value", "value": None} for t in triggered])
        )
        return analysis.recompute(values=values, weights=weights0(), drawn=drawn)

    return copy_context().run(call)
