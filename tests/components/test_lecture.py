"""Lecture state (components/lecture.py): every control in the URL and back, the
teaching sections' too (mounted after the first views, built from the URL),
bad URL values ignored with a message, no write when the URL already says it,
lecture mode and copy link in the page. Callbacks called as plain functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dash import dcc, html, no_update
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import deferred, examples, hypergrid, ids, inside, landscape, layout, lecture, session, sweep
from components import inspect_common as ic

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

# one non-default value for every control of the teaching sections (mounted after the first views)
TEACH_CHANGED = {
    "inside_tab": "landscape",
    "ls_mode": "2d",
    "ls_direction": "random",
    "ls_span": "0.5",
    "ls_seed": 4,
    "inspect_tab": "grid",
    "ex_split": "test",
    "ex_images": "7,3,42",
    "grid_lrs": "lr7",
    "grid_regs": "reg2",
}


def default_controls() -> dict:
    state, errors = lecture.decode_query("")
    assert errors == []
    return lecture.controls_from_state(state)


def as_args(controls: dict) -> list:
    return [controls[k] for k in lecture.KEYS]


def apply(updates: list, controls: dict, keys=lecture.KEYS) -> dict:
    """The controls after a callback's outputs (no_update keeps the value)."""
    return {k: (controls[k] if u is no_update else u) for k, u in zip(keys, updates, strict=True)}


def default_teach() -> dict:
    return lecture.teach_controls_from_state(lecture.teach_state_from_query(""))


def teach_args(controls: dict) -> list:
    return [controls[k] for k in lecture.TEACH_KEYS]


def mounted_values(search) -> dict:
    """{URL key: value} of the teaching controls in the sections the mount callback sends for ``search``."""
    inside_children, _, inspect_children, _ = deferred.mount_sections(True, search)
    found = {
        c.id: c.value
        for c in html.Div([html.Div(inside_children), html.Div(inspect_children)])._traverse()
        if getattr(c, "id", None) in dict(lecture.TEACH_CONTROLS).values()
    }
    return {k: found[cid] for k, cid in lecture.TEACH_CONTROLS}


def test_lect001_every_control_goes_url_to_controls_to_url_seed_included():
    assert set(CHANGED) == set(lecture.KEYS) and set(TEACH_CHANGED) == set(lecture.TEACH_KEYS)
    assert set(lecture.URL_KEYS) == set(lecture.SCHEMA) == set(lecture.DEFAULTS)
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
    # with the teaching sections' controls too: a link opens them as it says once they are mounted
    full = lecture.encode_query({**lecture.DEFAULTS, **changed, **TEACH_CHANGED})
    assert "ls_seed=4" in full and "inspect_tab=grid" in full and "ex_images=7%2C3%2C42" in full
    *updates, alert = lecture.url_to_controls(full, *as_args(start))
    assert apply(updates, start) == page and alert is None
    teach = mounted_values(full)
    assert teach == lecture.teach_controls_from_state({**lecture.DEFAULTS, **TEACH_CHANGED})
    assert teach["ls_span"] == 0.5 and teach["ex_images"] == "7, 3, 42" and teach["inspect_tab"] == "grid"
    with pytest.raises(PreventUpdate):  # mounted from the URL: nothing to write back
        lecture.teach_to_url(*teach_args(teach), *as_args(page), full)
    with pytest.raises(PreventUpdate):
        lecture.controls_to_url(*as_args(page), full)
    with pytest.raises(PreventUpdate):
        lecture.url_to_teach(full, *teach_args(teach))
    assert lecture.teach_to_url(*teach_args(teach), *as_args(page), query) == full
    # already mounted at the defaults (back/forward): the URL sets every teaching control
    ups = lecture.url_to_teach(full, *teach_args(default_teach()))
    assert apply(ups, default_teach(), lecture.TEACH_KEYS) == teach and no_update not in ups
    # each teaching control alone round-trips
    for key, value in TEACH_CHANGED.items():
        q = lecture.encode_query({**lecture.DEFAULTS, key: value})
        ups = lecture.url_to_teach(q, *teach_args(default_teach()))
        assert [k for k, u in zip(lecture.TEACH_KEYS, ups, strict=True) if u is not no_update] == [key]
        shown = apply(ups, default_teach(), lecture.TEACH_KEYS)
        assert lecture.teach_to_url(*teach_args(shown), *as_args(start), "") == q, key
        assert mounted_values(q) == shown, key
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
    state = {**lecture.DEFAULTS, **{k: v for k, v in CHANGED.items() if k != "dataset"}, **TEACH_CHANGED}
    config = lecture.config_dict(state, origin="trained, run 2")
    assert "lecture" not in config and config["format"] == lecture.CONFIG_FORMAT
    assert config["inspect_tab"] == "grid" and config["ls_seed"] == 4  # the teaching views' controls too
    back, errors = lecture.state_from_config(config)
    assert errors == []
    assert {k: back[k] for k in lecture.URL_KEYS if k != "lecture"} == {
        k: state[k] for k in lecture.URL_KEYS if k != "lecture"
    }
    bad, errors = lecture.state_from_config({"seed": 2.5, "loss": ["hinge"], "what": 1, "reg_bias": "maybe"})
    assert bad["seed"] == 0 and bad["loss"] == "softmax"
    assert len(errors) == 4
    bad, errors = lecture.state_from_config(
        {"ls_seed": -1, "ex_images": "1, two", "inspect_tab": "x", "ls_span": 3}
    )
    assert {k: bad[k] for k in TEACH_CHANGED} == {k: lecture.DEFAULTS[k] for k in TEACH_CHANGED}
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


# -- the teaching sections' controls (mounted after the first views) -------------------------------------

#: Every dcc component type of the layout is either a control (its value is a setting someone
#: chooses: it must be in the URL or in lecture.NOT_IN_URL) or, for the reason given, not one.
CONTROL_TYPES = tuple(
    getattr(dcc, name)
    for name in (
        "Dropdown",
        "Slider",
        "RangeSlider",
        "Input",
        "Textarea",
        "RadioItems",
        "Checklist",
        "Tabs",
        "DatePickerSingle",
        "DatePickerRange",
        "Upload",
        "Clipboard",
        "Button",
        "ConfirmDialog",
        "ConfirmDialogProvider",
        "Geolocation",
    )
    if hasattr(dcc, name)
)
NOT_CONTROLS = {
    dcc.Store: "what the page keeps (weights, history, results), not a setting",
    dcc.Location: "the URL itself",
    dcc.Graph: "a figure; clicking one (a grid cell, a confusion cell) picks a detail to show, not a setting",
    dcc.Markdown: "text (the formulas)",
    dcc.Tab: "one tab of a dcc.Tabs, whose value is the control",
    dcc.Download: "a file sent to the browser",
}
#: raw HTML form elements would be controls too (the page uses html.Button only for actions:
#: Train, Stop, Fix it, Random 5, Run grid, exports; an action is not a state a link could hold)
HTML_CONTROL_TYPES = tuple(
    getattr(html, n) for n in ("Input", "Select", "Textarea", "Option") if hasattr(html, n)
)


def full_page() -> html.Div:
    """The first page and the sections mounted after it."""
    return html.Div([layout.serve(), *deferred.sections()])


def test_lect009_every_user_facing_control_is_in_the_url_or_excluded_with_a_reason():
    """test_lect001 compares the URL keys with themselves; this enumerates the page instead."""
    in_url = dict(lecture.CONTROLS) | dict(lecture.TEACH_CONTROLS)
    url_ids = set(in_url.values())
    assert len(url_ids) == len(in_url)  # one key per control
    assert not url_ids & set(lecture.NOT_IN_URL) and all(lecture.NOT_IN_URL.values())
    seen, unexplained = set(), []
    for c in full_page()._traverse():
        kind = type(c)
        if isinstance(c, HTML_CONTROL_TYPES):
            unexplained.append(f"html.{kind.__name__} {getattr(c, 'id', None)}")
            continue
        if kind.__module__.split(".")[0:2] != ["dash", "dcc"] or kind in NOT_CONTROLS:
            continue
        cid = getattr(c, "id", None)
        if not isinstance(c, CONTROL_TYPES):
            unexplained.append(f"dcc.{kind.__name__} {cid}: neither a control type nor in NOT_CONTROLS")
        elif cid not in url_ids and cid not in lecture.NOT_IN_URL:
            unexplained.append(f"dcc.{kind.__name__} {cid}")
        seen.add(cid)
    assert unexplained == [], "controls neither in the URL nor in lecture.NOT_IN_URL"
    assert url_ids | set(lecture.NOT_IN_URL) <= seen  # and none of those lists a control that is gone
    # the sidebar's controls are in the first page; the teaching ones only in the deferred sections
    first = {getattr(c, "id", None) for c in layout.serve()._traverse()}
    assert set(dict(lecture.CONTROLS).values()) <= first
    assert not set(dict(lecture.TEACH_CONTROLS).values()) & first


def test_lect010_the_teaching_choices_and_defaults_are_the_views_own():
    assert lecture.INSIDE_TABS == (sweep.TAB, landscape.TAB)
    assert lecture.INSPECT_TABS == (ic.TAB_EXAMPLES, ic.TAB_MISTAKES, ic.TAB_COMPARE, ic.TAB_GRID)
    assert lecture.LS_MODES == tuple(landscape.MODES) and lecture.LS_DIRECTIONS == tuple(landscape.DIRECTIONS)
    assert lecture.LS_SPANS == landscape.SPANS and lecture.LS_AUTO == landscape.AUTO
    assert lecture.LS_SEED_MAX == landscape.SEED_MAX and lecture.EX_MAX_ROWS == examples.MAX_ROWS
    assert lecture.GRID_LRS == tuple(hypergrid.LR_GRIDS) and lecture.GRID_REGS == tuple(hypergrid.REG_GRIDS)
    # the URL's defaults are the sections' defaults: a page without a query builds them as before
    assert mounted_values("") == mounted_values(None) == default_teach()
    built = {
        c.id: c.value
        for c in html.Div(deferred.sections())._traverse()
        if getattr(c, "id", None) in dict(lecture.TEACH_CONTROLS).values()
    }
    assert built == {cid: default_teach()[k] for k, cid in lecture.TEACH_CONTROLS}
    assert inside.layout()  # the section builders still take no argument


def test_lect011_bad_teaching_values_are_ignored_with_a_message_and_never_raise():
    start = default_controls()
    query = "?ls_seed=-1&ls_span=3&inspect_tab=zzz&ex_images=1%2Ctwo&grid_regs=reg9&ls_mode=3d&inside_tab=x"
    *updates, alert = lecture.url_to_controls(query, *as_args(start))
    assert all(u is no_update for u in updates)
    _, errors = lecture.decode_query(query)
    assert len(errors) == 7 and "and 1 more" in str(alert)
    for key in ("ls_seed", "ls_span", "inspect_tab", "ex_images", "grid_regs", "ls_mode"):
        assert any(e.startswith(key) for e in errors), key
    assert mounted_values(query) == default_teach()  # the sections open at their defaults
    with pytest.raises(PreventUpdate):  # mounted at the defaults: nothing to set
        lecture.url_to_teach(query, *teach_args(default_teach()))
    # too many images, or numbers beyond any split; the good values of a partly bad link are used
    for bad in ("0,1,2,3,4,5,6,7,8,9,10", "99999999", "-3", "1.5", ""):
        assert lecture.image_numbers(bad) is None, bad
    assert lecture.image_numbers(" 3, 17  42;3 ") == "3,17,42"
    assert mounted_values("?ls_seed=7&ls_span=abc")["ls_seed"] == 7
    for hostile in (
        "?" + "a" * 5000,
        "%ff%fe=1",
        "?ex_images=%00",
        "?ls_seed=" + "9" * 40,
        "&&&",
        "?=",
        None,
        3,
    ):
        lecture.teach_values(hostile)
        try:
            lecture.url_to_teach(hostile, *teach_args({**default_teach(), "ls_seed": 5}))
        except PreventUpdate:
            pass


def test_lect012_back_and_forward_between_teaching_views_and_a_value_being_typed():
    start, teach = default_controls(), default_teach()
    # open the grid tab: the URL follows (a history entry); back restores the examples tab
    grid = lecture.teach_to_url(*teach_args({**teach, "inspect_tab": "grid"}), *as_args(start), "")
    assert grid == "?inspect_tab=grid"
    page = {**teach, "inspect_tab": "grid"}
    ups = lecture.url_to_teach("", *teach_args(page))
    assert apply(ups, page, lecture.TEACH_KEYS) == teach
    assert [u for u in ups if u is not no_update] == [ic.TAB_EXAMPLES]
    ups = lecture.url_to_teach(grid, *teach_args(teach))  # forward
    assert apply(ups, teach, lecture.TEACH_KEYS)["inspect_tab"] == "grid"
    # the sidebar's callbacks keep the teaching part of the URL (the sections may not be mounted yet)
    assert (
        lecture.controls_to_url(*as_args({**start, "loss": "hinge"}), grid) == "?inspect_tab=grid&loss=hinge"
    )
    with pytest.raises(PreventUpdate):
        lecture.url_to_controls(grid, *as_args(start))
    # a seed or image list being typed is left out of the URL, and the URL does not reset it
    for key, typing in (("ls_seed", None), ("ls_seed", -2), ("ex_images", "3, x")):
        page = {**teach, key: typing}
        query = lecture.teach_to_url(*teach_args(page), *as_args(start), "?ls_seed=4")
        assert key not in query
        with pytest.raises(PreventUpdate):
            lecture.url_to_teach(query, *teach_args(page))
    # the same images written another way are the same URL: nothing to write or set
    with pytest.raises(PreventUpdate):
        lecture.teach_to_url(*teach_args({**teach, "ex_images": "0,1 2, 3,4"}), *as_args(start), "")
