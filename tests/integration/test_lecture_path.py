"""A 10-minute lecture, followed in a real browser: open a shared link, switch
the loss (and go back and forth), plant a bug and fix it, train, sweep h, open
a mistake's score map, export the weights. No console error on the way."""

from __future__ import annotations

import base64
import json
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from components import ids, lecture
from core import export as core_export
from tests.integration.test_app import attribute, dash_app, text, trace_stats, wait_until  # noqa: F401

# Wraps fetch so the test can read the export callback's answer (what dcc.Download receives).
_CAPTURE_EXPORTS = f"""
if (!window.__exports) {{
  window.__exports = [];
  const orig = window.fetch;
  window.fetch = function (url, opts) {{
    const p = orig.apply(this, arguments);
    if (opts && typeof opts.body === 'string' && opts.body.indexOf('{ids.EXPORT_DOWNLOAD}.data') >= 0) {{
      p.then((r) => r.clone().text().then((t) => window.__exports.push(t)));
    }}
    return p;
  }};
}}
return true;
"""

_SHAPES_X = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.layout && gd.layout.shapes ? JSON.stringify(gd.layout.shapes.map((s) => s.x0)) : null;
"""


def checked(dash_duo, control_id, value) -> bool:
    return bool(
        dash_duo.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return !!(e && e.checked);",
            f"#{control_id} input[value='{value}']",
        )
    )


def loss_value(dash_duo) -> float:
    try:
        return float(text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value"))
    except ValueError:
        return float("nan")


def scroll_to(dash_duo, element_id):
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView({block: 'start'});", element_id
    )


def test_path001_a_ten_minute_lecture(dash_duo, dash_app):  # noqa: F811
    d = dash_duo.driver
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=40)

    # 1. open a shared link: the controls follow it, the seed included
    d.get(dash_duo.server_url + "/?loss=hinge&seed=3&reg=0.01&gc_samples=20&pace=fast")
    wait_until(lambda: checked(dash_duo, ids.LOSS, "hinge"), timeout=40, message="hinge from the link")
    wait_until(lambda: attribute(dash_duo, f"#{ids.SEED}", "value") == "3", message="seed 3 from the link")
    # the Weston-Watkins loss at W ~ 0 is about (C-1)·Δ = 9, plus the penalty
    wait_until(lambda: abs(loss_value(dash_duo) - 9.0) < 0.2, timeout=40, message="the hinge loss")
    assert "seed=3" in d.current_url and "loss=hinge" in d.current_url
    assert attribute(dash_duo, f"#{ids.DELTA} [role='slider']", "data-disabled") is None  # Δ for the hinge
    # the formulas are typeset (MathJax, after load) for the loss of the link
    wait_until(
        lambda: d.execute_script(f"return !!document.querySelector('#{ids.GC_FORMULA} mjx-container')"),
        timeout=40,
        message="typeset formulas",
    )
    # Copy link holds the link of this exact view (the dcc.Clipboard's content)
    content_js = "return window.dash_component_api.getLayout(arguments[0]).props.content;"
    link = wait_until(lambda: d.execute_script(content_js, ids.LECTURE_COPY), message="the link to copy")
    assert link == d.current_url and "seed=3" in link and "loss=hinge" in link

    # 2. switch the loss: the URL follows; back and forward restore each view
    dash_duo.find_element(f"#{ids.LOSS} input[value='softmax']").click()
    wait_until(lambda: "loss=" not in d.current_url, message="loss=softmax (the default) leaves the URL")
    wait_until(lambda: abs(loss_value(dash_duo) - 2.30) < 0.1, timeout=30, message="the softmax loss, ln 10")
    assert "seed=3" in d.current_url
    d.back()
    wait_until(lambda: checked(dash_duo, ids.LOSS, "hinge"), message="back: hinge again")
    wait_until(lambda: abs(loss_value(dash_duo) - 9.0) < 0.2, timeout=30, message="back: the hinge loss")
    d.forward()
    wait_until(lambda: checked(dash_duo, ids.LOSS, "softmax"), message="forward: softmax again")
    wait_until(lambda: abs(loss_value(dash_duo) - 2.30) < 0.1, timeout=30, message="forward: ln 10")

    # 3. break it: plant a bug, the check says WRONG and the banner names it; Fix it
    scroll_to(dash_duo, ids.GC_VIEW)
    dash_duo.select_dcc_dropdown(f"#{ids.GC_BUG}", value="Sign flip")
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "WRONG", timeout=30)
    wait_until(
        lambda: "hidden" not in attribute(dash_duo, f"#{ids.GC_BUG_BANNER}", "class"), message="banner"
    )
    assert "Sign flip" in text(dash_duo, f"#{ids.GC_BUG_BANNER}")
    wait_until(lambda: "gc_bug=sign-flip" in d.current_url, message="the bug in the URL")
    dash_duo.find_element(f"#{ids.GC_FIX_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=30)
    wait_until(lambda: "hidden" in attribute(dash_duo, f"#{ids.GC_BUG_BANNER}", "class"), message="no banner")
    wait_until(lambda: "gc_bug" not in d.current_url, message="the bug leaves the URL")

    # 4. train: the loss curve grows
    before = (trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y") or [0, 0])[1]
    dash_duo.find_element(f"#{ids.TRAIN_BUTTON}").click()
    wait_until(
        lambda: (trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y") or [0, 0])[1] > before + 5,
        timeout=40,
        message="the curve to grow",
    )
    dash_duo.wait_for_contains_text(f"#{ids.TRAIN_STATUS}", "Done", timeout=180)
    wait_until(lambda: loss_value(dash_duo) < 1.0, timeout=30, message="a trained loss")

    # 5. inside the gradient: the step-size sweep, and the sidebar's h marked on it
    scroll_to(dash_duo, ids.INSIDE_VIEW)
    wait_until(lambda: trace_stats(dash_duo, ids.SWEEP_GRAPH, 0, "y"), timeout=60, message="the h sweep")
    shapes = d.execute_script(_SHAPES_X, ids.SWEEP_GRAPH)
    h = dash_duo.find_element(f"#{ids.GC_H}")
    h.send_keys(Keys.CONTROL, "a")
    h.send_keys("0.001", Keys.ENTER)
    wait_until(lambda: d.execute_script(_SHAPES_X, ids.SWEEP_GRAPH) != shapes, timeout=40, message="h marked")
    wait_until(lambda: "gc_h=0.001" in d.current_url, message="h in the URL")

    # 6. inspect the classifier: a mistake's score map
    scroll_to(dash_duo, ids.INSPECT_SECTION)
    tab = d.find_element(By.XPATH, f"//*[@id='{ids.INSPECT_TABS}']//*[contains(text(), 'istakes')]")
    tab.click()
    dash_duo.wait_for_element(".mistake-card", timeout=60).click()
    wait_until(
        lambda: d.execute_script(
            f"return !!document.querySelector('#{ids.EVALUATION_SCOREMAP} .heatmaplayer image')"
        ),
        timeout=60,
        message="a mistake's score map",
    )

    # 7. export the weights: the download's data is a weights file of this view
    d.execute_script(_CAPTURE_EXPORTS)
    scroll_to(dash_duo, ids.EXPORT_WEIGHTS_BUTTON)
    dash_duo.find_element(f"#{ids.EXPORT_WEIGHTS_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.EXPORT_STATUS}", "Weights exported", timeout=30)
    answers = wait_until(lambda: d.execute_script("return window.__exports"), message="the export answer")
    data = json.loads(answers[-1])["response"][ids.EXPORT_DOWNLOAD]["data"]
    got = core_export.weights_from_npz_bytes(base64.b64decode(data["content"]))
    assert data["filename"] == "lincls-softmax-seed3-weights.npz"
    assert got["W"].shape == (785, 10) and got["config"]["seed"] == 3 and got["config"]["gc_h"] == 0.001
    assert got["config"]["format"] == lecture.CONFIG_FORMAT and "trained" in got["config"]["origin"]

    time.sleep(0.5)
    assert dash_duo.get_logs() == []


# height of each sidebar slider's track (0: laid out but not drawn), by its control id
_SLIDER_HEIGHTS = """
const out = {};
for (const e of document.querySelectorAll('.sidebar [role=slider]')) {
  const id = e.closest('.dash-slider-container').id;
  out[id] = Math.round(e.getBoundingClientRect().height);
}
return out;
"""


# font size (px) of the first y tick label of a graph
_TICK_PX = """
const t = document.querySelector('#' + arguments[0] + ' .ytick text');
return t ? parseFloat(t.style.fontSize) : null;
"""


def test_path002_lecture_mode_hides_only_the_advanced_controls_and_back(dash_duo, dash_app):  # noqa: F811
    """Lecture mode hides the advanced controls and enlarges the text, the figures' too
    (assets/lecture_fonts.js); every other slider stays drawn, in lecture mode and after
    it. (Chromium left sliders whose container is a CSS size container at zero height once
    the fields beside them were hidden.)"""
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=40)
    d = dash_duo.driver
    before = wait_until(
        lambda: (h := d.execute_script(_SLIDER_HEIGHTS)) and len(h) >= 6 and all(h.values()) and h,
        message="every slider drawn",
    )
    font = "return parseFloat(getComputedStyle(document.documentElement).fontSize)"
    small = d.execute_script(font)
    ticks = {g: d.execute_script(_TICK_PX, g) for g in (ids.CURVES_GRAPH, ids.GC_SCATTER)}
    assert all(ticks.values()), ticks
    advanced = {ids.TEST_SIZE, ids.GC_SAMPLES}  # class "advanced": out of sight in lecture mode
    assert advanced <= set(before)
    dash_duo.find_element(f"#{ids.LECTURE_TOGGLE} input").click()
    wait_until(lambda: d.execute_script(font) > small, message="larger text")
    time.sleep(0.5)  # layout settles (a broken slider stays at 0; it does not come back)
    on = d.execute_script(_SLIDER_HEIGHTS)
    assert all(on[k] == 0 for k in advanced), on
    assert all(on[k] > 0 for k in before if k not in advanced), on
    assert not dash_duo.find_element(f"#{ids.INIT_FIELDSET}").is_displayed()

    def tick_sizes():
        return {g: d.execute_script(_TICK_PX, g) for g in ticks}

    wait_until(
        lambda: all(px and px >= 1.2 * ticks[g] for g, px in tick_sizes().items()),
        message=f"larger figure text than {ticks}",
    )
    dash_duo.find_element(f"#{ids.LECTURE_TOGGLE} input").click()
    wait_until(lambda: d.execute_script(font) == small, message="normal text")
    time.sleep(0.5)
    off = d.execute_script(_SLIDER_HEIGHTS)
    assert all(off[k] > 0 for k in before), off
    wait_until(lambda: tick_sizes() == ticks, message="the server's figure text sizes again")
    assert dash_duo.get_logs() == []


_VALUE = "const c = window.dash_component_api.getLayout(arguments[0]); return c ? c.props.value : null;"


def test_path003_a_link_opens_the_teaching_views_as_shared_and_back_restores_them(dash_duo, dash_app):  # noqa: F811
    """The teaching sections are mounted after the first views, built from the URL: a link opens the
    landscape's plane with its seed and the grid tab with its presets; a tab or a seed changed goes into
    the URL, and back / forward restore each view."""
    d = dash_duo.driver
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=40)
    link = "/?grid_lrs=lr7&inside_tab=landscape&inspect_tab=grid&ls_mode=2d&ls_seed=4&seed=3"
    d.get(dash_duo.server_url + link)

    def value(component_id):
        return d.execute_script(_VALUE, component_id)

    # the plane is drawn (the landscape tab is open, 2-D), with the link's seed; the grid tab its presets
    wait_until(
        lambda: d.execute_script(f"return !!document.querySelector('#{ids.LANDSCAPE_GRAPH} .contour')"),
        timeout=60,
        message="the landscape's plane from the link",
    )
    assert value(ids.LANDSCAPE_SEED) == 4 and value(ids.INSPECT_TABS) == "grid"
    assert value(ids.HYPERGRID_LRS) == "lr7" and value(ids.SEED) == 3
    assert "seed 4" in text(dash_duo, f"#{ids.LANDSCAPE_CAPTION}")
    assert d.current_url == dash_duo.server_url + link  # mounted as the link says: nothing rewritten

    # open another tab and change the landscape's seed: the URL follows each
    scroll_to(dash_duo, ids.INSPECT_SECTION)
    d.find_element(By.XPATH, f"//*[@id='{ids.INSPECT_TABS}']//*[contains(text(), 'istakes')]").click()
    wait_until(lambda: "inspect_tab=mistakes" in d.current_url, message="the tab in the URL")
    scroll_to(dash_duo, ids.INSIDE_VIEW)
    seed = dash_duo.find_element(f"#{ids.LANDSCAPE_SEED}")
    seed.send_keys(Keys.CONTROL, "a")
    seed.send_keys("12", Keys.ENTER)
    wait_until(lambda: "ls_seed=12" in d.current_url, message="the landscape's seed in the URL")
    dash_duo.wait_for_contains_text(f"#{ids.LANDSCAPE_CAPTION}", "seed 12", timeout=40)

    # back: seed 4 again (and its plane); back again: the grid tab; forward twice: the last view
    d.back()
    wait_until(lambda: value(ids.LANDSCAPE_SEED) == 4, message="back: seed 4")
    dash_duo.wait_for_contains_text(f"#{ids.LANDSCAPE_CAPTION}", "seed 4", timeout=40)
    d.back()
    wait_until(lambda: value(ids.INSPECT_TABS) == "grid", message="back: the grid tab")
    assert d.current_url == dash_duo.server_url + link
    d.forward()
    d.forward()
    wait_until(
        lambda: value(ids.LANDSCAPE_SEED) == 12 and value(ids.INSPECT_TABS) == "mistakes", message="forward"
    )
    assert value(ids.SEED) == 3  # the sidebar's seed never moved

    time.sleep(0.5)
    assert dash_duo.get_logs() == []
