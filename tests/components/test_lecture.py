"""Lecture state (components/lecture.py): every control in the URL and back,
bad URL values ignored with a message, no write when the URL already says it,
lecture mode and copy link in the page. Callbacks called as plain functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import ids, layout, lecture, session

# one non-default value for every control: the round trip must carry each of them
CHANGED = {
    "dataset": None,  # set below: a second dataset when one is installed
    "n_train": 2000,
    "n_test": 500,
    "preprocessing": "center",
    "loss": "hinge",
    "delta": 0.3,
    "reg": 0.003162,
    "reg_mode": "full",
    "reg_bias": False,
    "init": "uniform",
    "seed": 3,
    "lr": 0.01,
    "batch_size": 50,
    "epochs": 20,
    "pace": "fast",
    "gc_samples": 20,
    "gc_h": 0.0001,
    "gc_method": "forward",
    "gc_entries": "random",
    "gc_subset": 77,
    "gc_bug": "sign-flip",
    "scale": "per-class",
    "kinks": 0,
    "lecture": 1,
}


def default_controls() -> dict:
    state, errors = lecture.decode_query("")
    assert errors == []
    return lecture.controls_from_state(state)


def as_args(controls: dict) -> list:
    return [controls[k] for k in lecture.KEYS]


def apply(updates: list, controls: dict) -> dict:
    """The controls after a callback's outputs (no_update keeps the value)."""
    return {k: (controls[k] if u is no_update else u) for k, u in zip(lecture.KEYS, updates, strict=True)}


def test_lect001_every_control_goes_url_to_controls_to_url_seed_included():
    assert set(CHANGED) == set(lecture.KEYS) == set(lecture.SCHEMA)
    keys = [o["value"] for o in session.dataset_options()[0]]
    changed = {k: v for k, v in CHANGED.items() if k != "dataset"}
    if len(keys) > 1:  # Fashion-MNIST or a --data folder: the dataset round-trips too
        changed["dataset"] = keys[1]
        stops = session.size_marks(session.pools(keys[1])[0])
        changed["n_train"] = stops[-2]
        changed["n_test"] = session.size_marks(session.pools(keys[1])[2])[-2]
    query = lecture.encode_query({**lecture.DEFAULTS, **changed})
    assert "seed=3" in query and "loss=hinge" in query and "lecture=1" in query
    # open the link: URL -> controls
    start = default_controls()
    *updates, alert = lecture.url_to_controls(query, *as_args(start))
    assert alert is None
    page = apply(updates, start)
    for key in changed:  # every changed control is set, and only those
        assert updates[lecture.KEYS.index(key)] is not no_update, key
    assert page["seed"] == 3 and page["loss"] == "hinge" and page["lecture"] == ["on"]
    assert page["n_train"] == pytest.approx(np.log10(changed["n_train"]))
    assert page["reg"] == pytest.approx(-2.5) and page["lr"] == pytest.approx(-2.0)
    assert page["reg_bias"] == [] and page["kinks"] == []
    # the page writes the same URL back: controls -> URL is a no-op, so no loop
    with pytest.raises(PreventUpdate):
        lecture.controls_to_url(*as_args(page), query)
    # and from a page whose URL says something else, it writes exactly that query
    assert lecture.controls_to_url(*as_args(page), "") == query
    # each control alone round-trips too (sizes: the stops of the default dataset)
    for key, value in {**changed, "n_train": CHANGED["n_train"], "n_test": CHANGED["n_test"]}.items():
        if key == "dataset":
            continue
        q = lecture.encode_query({**lecture.DEFAULTS, key: value})
        *ups, alert = lecture.url_to_controls(q, *as_args(start))
        assert alert is None, key
        assert lecture.controls_to_url(*as_args(apply(ups, start)), "") == q, key


def test_lect002_default_page_has_an_empty_query_and_needs_no_update():
    start = default_controls()
    with pytest.raises(PreventUpdate):
        lecture.url_to_controls("", *as_args(start))
    with pytest.raises(PreventUpdate):
        lecture.controls_to_url(*as_args(start), "")
    with pytest.raises(PreventUpdate):
        lecture.controls_to_url(*as_args(start), None)  # dcc.Location before it mounts


def test_lect003_bad_url_values_are_ignored_with_a_message():
    start = default_controls()
    query = (
        "?loss=nope&seed=-4&reg=0.005&n_train=3000&lr=abc&delta=0.55&gc_h=0&zzz=1"
        "&dataset=/etc/passwd&epochs=3&loss=hinge&lecture=2&seed=x"
    )
    *updates, alert = lecture.url_to_controls(query, *as_args(start))
    assert all(u is no_update for u in updates)  # nothing bad reaches a control
    text = str(alert)
    assert "alert-warning" in text and "zzz" in text and "and 5 more" in text  # at most 6 spelled out
    _, errors = lecture.decode_query(query)
    assert len(errors) == 11
    for word in (
        "zzz",
        "reg",
        "n_train",
        "lr",
        "delta",
        "gc_h",
        "dataset",
        "epochs",
        "loss",
        "lecture",
        "seed",
    ):
        assert any(e.startswith(word) or repr(word) in e for e in errors), word
    # the good values of a partly bad link are still used
    *updates, alert = lecture.url_to_controls("?loss=hinge&seed=7&reg=0.005", *as_args(start))
    page = apply(updates, start)
    assert page["loss"] == "hinge" and page["seed"] == 7 and page["reg"] == start["reg"]
    assert "reg" in str(alert)
    # a bug that does not apply to the loss
    *updates, alert = lecture.url_to_controls("?loss=hinge&gc_bug=no-max-shift", *as_args(start))
    assert apply(updates, start)["gc_bug"] == "" and "gc_bug" in str(alert)


def test_lect004_hostile_queries_never_raise():
    start = default_controls()
    for query in ("?" + "a" * 5000, "%ff%fe=1", "?loss=%00", "?seed=" + "9" * 40, "&&&", "?=", "?seed=1"):
        *updates, alert = lecture.url_to_controls(query, *as_args(start))
        assert all(u is no_update for u in updates) or query == "?seed=1", query
    assert alert is None


def test_lect008_a_value_being_typed_is_not_reset_by_its_own_url():
    """h = 0 or seed = -3 is a mistake the page reports; writing the URL must not
    bounce back and replace it with the default (the user is still typing)."""
    start = default_controls()
    for key, bad in (("gc_h", 0), ("seed", -3), ("gc_subset", None)):
        page = {**start, key: bad}
        query = lecture.encode_query(lecture.state_from_controls(page))  # what controls_to_url writes
        assert (key in query) == (key == "gc_h")  # an invalid seed or subset is left out of the URL
        with pytest.raises(PreventUpdate):
            lecture.url_to_controls(query, *as_args(page))


def test_lect005_back_button_restores_the_previous_view():
    """Back/forward hands the old query to url_to_controls: the controls follow, and
    the controls-to-URL callback then sees its own query and writes nothing."""
    start = default_controls()
    hinge = lecture.controls_to_url(*as_args({**start, "loss": "hinge"}), "")
    *ups, _ = lecture.url_to_controls(hinge, *as_args(start))
    page = apply(ups, start)
    assert page["loss"] == "hinge"
    # back to the page without a query
    *ups, _ = lecture.url_to_controls("", *as_args(page))
    back = apply(ups, page)
    assert back["loss"] == "softmax" and back == {**page, "loss": "softmax"}
    with pytest.raises(PreventUpdate):
        lecture.controls_to_url(*as_args(back), "")


def test_lect006_a_configuration_reads_like_a_link():
    state = {**lecture.DEFAULTS, **{k: v for k, v in CHANGED.items() if k != "dataset"}}
    config = lecture.config_dict(state, origin="trained, run 2")
    assert "lecture" not in config and config["format"] == lecture.CONFIG_FORMAT
    back, errors = lecture.state_from_config(config)
    assert errors == []
    assert {k: back[k] for k in lecture.KEYS if k != "lecture"} == {
        k: state[k] for k in lecture.KEYS if k != "lecture"
    }
    bad, errors = lecture.state_from_config({"seed": 2.5, "loss": ["hinge"], "what": 1, "reg_bias": "maybe"})
    assert bad["seed"] == 0 and bad["loss"] == "softmax"
    assert len(errors) == 4


def test_lect007_page_has_location_copy_link_and_lecture_mode():
    page = str(layout.serve())
    for component_id in (
        ids.LECTURE_LOCATION,
        ids.LECTURE_COPY,
        ids.LECTURE_TOGGLE,
        ids.ALERT_URL,
        ids.APP_ROOT,
    ):
        assert component_id in page
    css = Path(__file__).resolve().parents[2].joinpath("assets", "teach.css").read_text()
    assert ":root.lecture" in css and ".lecture #init-fieldset" in css
