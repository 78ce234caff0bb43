"""In the browser: the page draws with the vendored partial plotly.js bundle and
never fetches the full one (see assets/vendor/README.md)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from components import ids

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("vendor_plotly", REPO / "scripts" / "vendor_plotly.py")
vendor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vendor)

_STATE = """
const urls = performance.getEntriesByType('resource').map(e => e.name);
const traces = Object.keys(Plotly.PlotSchema.get().traces);
const drawn = [...document.querySelectorAll('.js-plotly-plot')].map(gd => (gd._fullData || []).map(t => t.type));
return {version: Plotly.version, urls: urls, traces: traces, drawn: drawn};
"""


@pytest.fixture(scope="module")
def dash_app():
    from app import app

    return app


def test_pb001_page_draws_with_the_vendored_bundle_only(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    for view in (ids.TEMPLATES_GRAPH, ids.CURVES_GRAPH, ids.GC_HEATMAP, ids.GC_SCATTER):
        dash_duo.wait_for_element(f"#{view} .main-svg", timeout=30)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer image", timeout=10)
    time.sleep(0.5)  # any late request for the full bundle would show up here
    state = dash_duo.driver.execute_script(_STATE)
    assert state["version"] == vendor.VERSION
    assert any(u.split("?")[0].endswith(vendor.DEST.name) for u in state["urls"])
    assert not [u for u in state["urls"] if "plotly.min.js" in u]  # the full bundle is never requested
    assert sorted(state["traces"]) == sorted(vendor.TRACES)  # what the bundle registers, as recorded
    drawn = {t for types in state["drawn"] for t in types}
    assert drawn and drawn <= set(vendor.TRACES)
    assert dash_duo.get_logs() == []
