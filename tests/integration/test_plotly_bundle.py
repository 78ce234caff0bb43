"""In the browser: the page draws with the vendored partial plotly.js bundle and
never fetches the full one (see assets/vendor/README.md); the built-ins that
Dash's polyfill slows down are the browser's own again (assets/native_builtins.js)."""

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


# functions of this page that are not the browser's own code, judged by the
# Function.prototype.toString of a fresh frame (the polyfill masks its own)
_NOT_NATIVE = """
const f = document.createElement('iframe'); document.body.appendChild(f);
const ts = f.contentWindow.Function.prototype.toString;
const own = (fn) => ts.call(fn).includes('[native code]');
const checks = {'String.prototype.trim': String.prototype.trim, 'String.prototype.trimStart': String.prototype.trimStart,
  'String.prototype.trimEnd': String.prototype.trimEnd, parseFloat: window.parseFloat, parseInt: window.parseInt,
  'Number.parseFloat': Number.parseFloat, 'Number.parseInt': Number.parseInt, 'Math.sinh': Math.sinh};
f.remove();
return Object.keys(checks).filter((k) => !own(checks[k]));
"""

_SCRIPT_ORDER = """
return [...document.querySelectorAll('script[src]')].map((s) => s.src.split('?')[0].split('/').pop());
"""


def test_pb002_polyfilled_builtins_are_native_again(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer image", timeout=30)
    assert dash_duo.driver.execute_script(_NOT_NATIVE) == []
    order = dash_duo.driver.execute_script(_SCRIPT_ORDER)
    polyfill = next(i for i, name in enumerate(order) if name.startswith("polyfill"))
    fix = order.index("native_builtins.js")
    renderer = next(i for i, name in enumerate(order) if name.startswith("dash_renderer"))
    # after what it fixes, before its users
    assert polyfill < fix < min(order.index(vendor.DEST.name), renderer)
    same = dash_duo.driver.execute_script(
        "return ['  a\\t'.trim(), parseFloat(' 2.5e1x'), parseInt('0x1f'), parseInt(' 077', 10), Math.sinh(0)]"
    )
    assert same == ["a", 25, 31, 77, 0]
    assert dash_duo.get_logs() == []
