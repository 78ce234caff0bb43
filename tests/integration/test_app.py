"""The page in a real browser: loads cleanly, reacts to the loss, trains, stops, reports bad values.

Each test ends with ``dash_duo.get_logs() == []``: no console error on the way.
"""

from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys

from components import ids

# sum and count of the finite numbers of one trace attribute of a graph, as plotly holds them
_TRACE_STATS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData || !gd._fullData[arguments[1]]) return null;
const v = gd._fullData[arguments[1]][arguments[2]];
let sum = 0, n = 0;
const walk = (a) => { if (a == null) return; if (typeof a === 'number') { if (isFinite(a)) { sum += a; n += 1; } return; }
                      for (let i = 0; i < a.length; i++) walk(a[i]); };
walk(v);
return [sum, n];
"""


def trace_stats(dash_duo, graph_id, trace, attr):
    return dash_duo.driver.execute_script(_TRACE_STATS, graph_id, trace, attr)


def text(dash_duo, selector):
    """The element's text, retried while the element is being re-rendered."""
    for _ in range(20):
        try:
            return dash_duo.find_element(selector).text
        except StaleElementReferenceException:
            time.sleep(0.05)
    return dash_duo.find_element(selector).text


def attribute(dash_duo, selector, name):
    for _ in range(20):
        try:
            return dash_duo.find_element(selector).get_attribute(name)
        except StaleElementReferenceException:
            time.sleep(0.05)
    return dash_duo.find_element(selector).get_attribute(name)


def wait_until(condition, timeout=20, message="condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture(scope="module")
def dash_app():
    from app import app

    return app


def start(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=30)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer", timeout=10)
    wait_until(lambda: trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z"), message="gradient-check heatmap")


def test_app001_page_loads(dash_duo, dash_app):
    start(dash_duo, dash_app)
    for view in (ids.TEMPLATES_GRAPH, ids.CURVES_GRAPH, ids.GC_HEATMAP, ids.GC_SCATTER):
        dash_duo.wait_for_element(f"#{view} .main-svg", timeout=10)
    assert text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value").startswith("2.30")  # ln 10 at W ≈ 0
    assert text(dash_duo, f"#{ids.SUMMARY_SIZES} .number-value") == "5k / 1k"
    assert "ln 10" in text(dash_duo, f"#{ids.CURVES_GRAPH}")
    assert attribute(dash_duo, f"#{ids.DELTA} [role='slider']", "data-disabled") is not None  # softmax: no Δ
    assert attribute(dash_duo, f"#{ids.STOP_BUTTON}", "disabled")
    assert dash_duo.get_logs() == []


def test_app002_changing_the_loss_updates_heatmaps_and_numbers(dash_duo, dash_app):
    start(dash_duo, dash_app)
    loss_before = text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value")
    heat_before = trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z")
    dash_duo.find_element(f"#{ids.LOSS} input[value='hinge']").click()
    # the Weston-Watkins loss of a near-zero W is about (C-1)·Δ = 9
    wait_until(
        lambda: abs(float(text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value")) - 9.0) < 0.1, message="loss 9"
    )
    wait_until(lambda: trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z") != heat_before, message="heatmap redraw")
    assert loss_before.startswith("2.30")
    assert "(C−1)·Δ" in text(dash_duo, f"#{ids.CURVES_GRAPH}")
    wait_until(
        lambda: attribute(dash_duo, f"#{ids.DELTA} [role='slider']", "data-disabled") is None, message="Δ on"
    )
    assert dash_duo.get_logs() == []


def test_app003_train_grows_the_curves_and_changes_the_templates(dash_duo, dash_app):
    start(dash_duo, dash_app)
    tpl_before = trace_stats(dash_duo, ids.TEMPLATES_GRAPH, 0, "z")
    dash_duo.find_element(f"#{ids.TRAIN_BUTTON}").click()
    wait_until(lambda: attribute(dash_duo, f"#{ids.TRAIN_BUTTON}", "disabled"), message="Train off")
    seen = set()

    def points():
        stats = trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y")
        n = stats[1] if stats else 0
        seen.add(n)
        return n

    wait_until(lambda: points() > 0, message="first points")
    wait_until(lambda: points() > min(seen) + 10, message="the curve to grow while training")
    assert text(dash_duo, f"#{ids.TRAIN_STATUS}").startswith("Step")
    mid = trace_stats(dash_duo, ids.TEMPLATES_GRAPH, 0, "z")
    assert mid != tpl_before  # the templates change while it runs
    dash_duo.wait_for_contains_text(f"#{ids.TRAIN_STATUS}", "Done", timeout=30)
    final = points()
    assert any(0 < n < final for n in seen), seen  # drawn while it ran, not one jump at the end
    wait_until(
        lambda: float(text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value")) < 1.0, message="trained loss"
    )
    assert not attribute(dash_duo, f"#{ids.TRAIN_BUTTON}", "disabled")
    assert dash_duo.get_logs() == []


def test_app004_stop_stops_and_keeps_the_weights(dash_duo, dash_app):
    start(dash_duo, dash_app)
    # a long run: 100 epochs (the slider's last stop)
    dash_duo.find_element(f"#{ids.EPOCHS} [role='slider']").send_keys(Keys.END)
    dash_duo.find_element(f"#{ids.TRAIN_PACE} input[value='fast']").click()
    dash_duo.find_element(f"#{ids.TRAIN_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.TRAIN_STATUS}", "Step", timeout=15)
    wait_until(
        lambda: (trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y") or [0, 0])[1] > 5, message="some steps"
    )
    dash_duo.find_element(f"#{ids.STOP_BUTTON}").click()
    wait_until(lambda: not attribute(dash_duo, f"#{ids.TRAIN_BUTTON}", "disabled"), message="stop")
    stopped_at = trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y")[1]
    status = text(dash_duo, f"#{ids.TRAIN_STATUS}")
    assert "Done" not in status
    time.sleep(1.5)
    assert trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y")[1] == stopped_at  # nothing grows after Stop
    assert text(dash_duo, f"#{ids.TRAIN_STATUS}") == status
    assert text(dash_duo, f"#{ids.ALERT_TRAIN}") == ""  # a Stop, not "the training job stopped unexpectedly"
    # the weights learned so far are the current weights: the loss of all 5,000 samples has dropped
    wait_until(
        lambda: float(text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value")) < 2.0, message="kept weights"
    )
    assert attribute(dash_duo, f"#{ids.STOP_BUTTON}", "disabled")
    assert dash_duo.get_logs() == []


def test_app005_a_bad_value_reaches_the_user_as_a_message(dash_duo, dash_app):
    start(dash_duo, dash_app)
    loss_before = text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value")
    h = dash_duo.find_element(f"#{ids.GC_H}")
    h.send_keys(Keys.CONTROL, "a")
    h.send_keys("0", Keys.ENTER)
    dash_duo.wait_for_contains_text(f"#{ids.ALERT_COMPUTE}", "step h must be a positive number", timeout=15)
    assert text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value") == loss_before  # the old results stay
    assert "CORRECT" in text(dash_duo, f"#{ids.GC_SUMMARY}")
    h.send_keys(Keys.CONTROL, "a")
    h.send_keys("1e-4", Keys.ENTER)
    wait_until(lambda: text(dash_duo, f"#{ids.ALERT_COMPUTE}") == "", message="the message to go")
    seed = dash_duo.find_element(f"#{ids.SEED}")
    seed.send_keys(Keys.CONTROL, "a")
    seed.send_keys("-3", Keys.ENTER)
    dash_duo.wait_for_contains_text(f"#{ids.ALERT_TRAIN}", "seed", timeout=15)
    # Train with it: refused before a job starts, answered at once, and the page is not left "running"
    dash_duo.find_element(f"#{ids.TRAIN_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.ALERT_TRAIN}", "Cannot train: seed", timeout=15)
    wait_until(lambda: not attribute(dash_duo, f"#{ids.TRAIN_BUTTON}", "disabled"), message="Train back on")
    assert attribute(dash_duo, f"#{ids.STOP_BUTTON}", "disabled")
    assert text(dash_duo, f"#{ids.SUMMARY_LOSS} .number-value") == loss_before  # the weights stay
    assert dash_duo.get_logs() == []


# the margins each first view asked for and the ones plotly.js drew it with
_MARGINS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullLayout || !gd.layout.margin) return null;
const m = gd.layout.margin, s = gd._fullLayout._size;
return [[m.l, m.r, m.t, m.b], [s.l, s.r, s.t, s.b].map(Math.round)];
"""


@pytest.mark.parametrize("size", [(1440, 900), (1280, 800)])
def test_app006_first_views_are_drawn_once(dash_duo, dash_app, size):
    """plotly.js draws a figure a second time when its tick labels, colour bar or
    legend push a margin wider; the first views ask for margins that already hold
    them on the default page (theme.base_layout), so each is drawn once."""
    dash_duo.driver.set_window_size(*size)
    start(dash_duo, dash_app)
    for view in (ids.TEMPLATES_GRAPH, ids.CURVES_GRAPH, ids.GC_HEATMAP, ids.GC_SCATTER):
        margins = wait_until(lambda view=view: dash_duo.driver.execute_script(_MARGINS, view), message=view)
        asked, drawn = margins
        assert drawn == asked, f"{view}: plotly widened the margins {asked} to {drawn}"
    assert dash_duo.get_logs() == []
