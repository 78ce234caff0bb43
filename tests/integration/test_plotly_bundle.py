"""In the browser: the page draws with the vendored custom plotly.js bundle and
never fetches the full one (see assets/vendor/README.md), and the bundle draws
each trace type it registers; the built-ins that Dash's polyfill slows down are
the browser's own again (assets/native_builtins.js)."""

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
const script = [...document.querySelectorAll('script[src]')].find((s) => /plotly/.test(s.src));
return {version: Plotly.version, urls: urls, traces: traces, drawn: drawn,
        global: Object.prototype.hasOwnProperty.call(window, 'Plotly') && window.Plotly === Plotly,
        script: script ? script.src.split('?')[0].split('/').pop() : null};
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
    # the bundle's top-level `var Plotly` is the window.Plotly dcc.Graph looks for, and it is the only
    # plotly script on the page
    assert state["global"] and state["script"] == vendor.DEST.name
    assert any(u.split("?")[0].endswith(vendor.DEST.name) for u in state["urls"])
    assert not [u for u in state["urls"] if "plotly.min.js" in u]  # the full bundle is never requested
    assert sorted(state["traces"]) == sorted(vendor.TRACES)  # what the bundle registers, as recorded
    drawn = {t for types in state["drawn"] for t in types}
    assert drawn and drawn <= set(vendor.TRACES)
    assert dash_duo.get_logs() == []


_DRAW_EACH = """
const [traces, done] = [arguments[0], arguments[arguments.length - 1]];
const z = [[1, 2, 3], [2, 4, 5], [3, 5, 9]];
const data = {scatter: {x: [0, 1, 2], y: [1, 3, 2]}, bar: {x: [0, 1, 2], y: [1, 3, 2]}, heatmap: {z: z}, contour: {z: z}};
const layer = {scatter: '.scatterlayer .js-line', bar: '.barlayer .point path', heatmap: '.heatmaplayer image',
               contour: '.contourlayer .contourfill path'};
(async () => {
  const out = {};
  for (const t of traces) {
    const gd = document.createElement('div');
    gd.style.width = '300px'; gd.style.height = '200px';
    document.body.appendChild(gd);
    await Plotly.newPlot(gd, [Object.assign({type: t}, data[t])]);
    const full = gd._fullData[0];
    out[t] = {type: full.type, visible: full.visible, drawn: gd.querySelectorAll(layer[t]).length};
    Plotly.purge(gd); gd.remove();
  }
  return out;
})().then(done, (e) => done({error: String(e)}));
"""


def test_pb003_each_recorded_trace_type_draws(dash_duo, dash_app):
    """Plotly.newPlot of every type in TRACES (contour: only the landscape's 2-D slice uses it)."""
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer image", timeout=30)
    out = dash_duo.driver.execute_async_script(_DRAW_EACH, list(vendor.TRACES))
    assert sorted(out) == sorted(vendor.TRACES), out
    for t, got in out.items():
        assert got["type"] == t and got["visible"] is True and got["drawn"] > 0, (t, got)
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
