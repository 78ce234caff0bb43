"""The section "Inspect the classifier" in a real browser: every tab opens, a clicked image shows its
score maps, a tiny grid search fills its heatmap. One test (one server start) to keep CI short; it ends
with ``dash_duo.get_logs() == []``.
"""

from __future__ import annotations

import time

import pytest

from components import hypergrid, ids

# [number of traces, number of finite z values of trace 0] of a graph, as plotly holds it
_GRAPH = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData || !gd._fullData.length) return null;
let n = 0;
const walk = (a) => { if (a == null) return; if (typeof a === 'number') { if (isFinite(a)) n += 1; return; }
                      for (let i = 0; i < a.length; i++) walk(a[i]); };
walk(gd._fullData[0].z);
return [gd._fullData.length, n];
"""


def graph(dash_duo, graph_id):
    return dash_duo.driver.execute_script(_GRAPH, graph_id)


def wait_until(condition, timeout=30, message="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - an element being re-rendered: try again
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def click(dash_duo, element):
    """Scroll the element to the middle of the window (clear of the sticky header), then click it."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def open_tab(dash_duo, label):
    tab = next(t for t in dash_duo.find_elements(f"#{ids.INSPECT_TABS} .tab") if t.text.strip() == label)
    click(dash_duo, tab)


@pytest.fixture(scope="module")
def dash_app():
    from app import app

    return app


def test_teachi001_every_tab_opens_score_maps_show_and_the_grid_fills(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    # Examples (the tab shown first): the table of the default images, thumbnails that open score maps
    dash_duo.wait_for_element(f"#{ids.EXAMPLES_TABLE} table", timeout=30)
    assert len(dash_duo.find_elements(f"#{ids.EXAMPLES_TABLE} .thumb-button")) == 5
    dash_duo.wait_for_contains_text(f"#{ids.EXAMPLES_TOTALS}", "total loss", timeout=10)
    click(dash_duo, dash_duo.find_elements(f"#{ids.EXAMPLES_TABLE} .thumb-button")[1])
    wait_until(lambda: (graph(dash_duo, ids.EXAMPLES_SCOREMAP) or [0])[0] == 4, message="examples score maps")
    dash_duo.wait_for_contains_text(f"#{ids.EXAMPLES_SCOREMAP_INFO}", "Training image #1", timeout=10)

    # Mistakes & score maps: confusion matrix and gallery; a clicked mistake shows its score maps
    open_tab(dash_duo, "Mistakes & score maps")
    wait_until(lambda: (graph(dash_duo, ids.EVALUATION_CONFUSION) or [0])[0] == 3, message="confusion matrix")
    cards = wait_until(lambda: dash_duo.find_elements(f"#{ids.EVALUATION_GALLERY} .mistake-card"), message="gallery")
    assert len(cards) == 12
    click(dash_duo, cards[0])
    wait_until(lambda: (graph(dash_duo, ids.EVALUATION_SCOREMAP) or [0, 0])[1] == 7840, message="score maps")
    dash_duo.wait_for_contains_text(f"#{ids.EVALUATION_SCOREMAP_INFO}", "Test image #", timeout=10)

    # Softmax vs SVM: opens, ready to train
    open_tab(dash_duo, "Softmax vs SVM")
    dash_duo.wait_for_element(f"#{ids.COMPARE_BUTTON}", timeout=10)
    assert dash_duo.find_element(f"#{ids.COMPARE_BUTTON}").is_enabled()
    assert not dash_duo.find_element(f"#{ids.COMPARE_CANCEL}").is_enabled()

    # Grid search: the quick 2 × 2 preset fills the heatmap and reports the best cell
    open_tab(dash_duo, "Grid search")
    dash_duo.select_dcc_dropdown(f"#{ids.HYPERGRID_LRS}", value=hypergrid.LR_GRIDS["lr2"][0])
    dash_duo.select_dcc_dropdown(f"#{ids.HYPERGRID_REGS}", value=hypergrid.REG_GRIDS["reg2"][0])
    click(dash_duo, dash_duo.find_element(f"#{ids.HYPERGRID_BUTTON}"))
    dash_duo.wait_for_contains_text(f"#{ids.HYPERGRID_STATUS}", "Done", timeout=90)
    wait_until(lambda: graph(dash_duo, ids.HYPERGRID_HEATMAP) == [1, 4], message="2 x 2 heatmap")
    assert "best" in dash_duo.find_element(f"#{ids.HYPERGRID_STATUS}").text
    assert dash_duo.get_logs() == []
