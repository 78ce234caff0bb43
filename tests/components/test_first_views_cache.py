"""layout.first_views is computed once per (weights, controls, data folder) and
kept, figures as plain JSON; a failure is never kept (issue 5: page-load time)."""

from __future__ import annotations

import json

import pytest
from dash._utils import to_json

from components import analysis, layout, session
from core.data import ENV_DATA


@pytest.fixture(autouse=True)
def _empty_cache():
    layout._FIRST.clear()
    yield
    layout._FIRST.clear()


def _weights(seed=0):
    d = session.DEFAULTS
    return session.initial_weights(d["dataset"], d["init"], seed)


def test_fv001_computed_once_then_kept(monkeypatch):
    calls = []
    compute = layout._compute_first_views
    monkeypatch.setattr(layout, "_compute_first_views", lambda w, d: calls.append(1) or compute(w, d))
    a = layout.first_views(_weights())
    b = layout.first_views(_weights())
    assert len(calls) == 1
    assert a["alert"] is None and a["drawn"]
    for name in ("heat", "scatter", "templates", "curves"):
        assert isinstance(a[name], dict) and a[name]["data"]  # plain JSON, served as is
        assert json.loads(to_json(a[name])) == a[name]
        assert b[name] is a[name]
    b["heat"] = None  # a caller's dict is its own
    assert layout.first_views(_weights())["heat"] is a["heat"]


def test_fv002_other_weights_controls_or_data_folder_are_computed_again(monkeypatch, tmp_path):
    calls = []
    compute = layout._compute_first_views
    monkeypatch.setattr(layout, "_compute_first_views", lambda w, d: calls.append(1) or compute(w, d))
    layout.first_views(_weights(0))
    layout.first_views(_weights(1))
    layout.first_views(_weights(0), {**session.DEFAULTS, "loss": "hinge"})
    monkeypatch.setenv(ENV_DATA, str(tmp_path))
    layout.first_views(_weights(0))
    assert len(calls) == 4


def test_fv003_a_failure_is_not_kept(monkeypatch):
    def broken(*_args):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(analysis, "compute_views", broken)
        failed = layout.first_views(_weights())
    assert failed["alert"] is not None and not layout._FIRST
    assert layout.first_views(_weights())["alert"] is None


def test_fv004_kept_figures_serialize_as_the_figures_would():
    fresh = layout._compute_first_views(_weights(), session.DEFAULTS)
    kept = layout.first_views(_weights())
    for name in ("heat", "scatter", "templates", "curves"):
        assert json.loads(to_json(fresh[name])) == kept[name]
