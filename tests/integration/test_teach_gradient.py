"""View "Inside the gradient" in a real browser: the step-size sweep draws, with its typeset
formula and the toolbar's PNG download, the landscape tab draws its line and its plane, with no
console error."""

from __future__ import annotations

import time

import pytest

from components import ids

# name, type and point count of every trace of a graph, as plotly holds them
_TRACES = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData) return null;
return gd._fullData.map(t => {
  const z = t.z;
  const rows = z ? z.length : 0;
  const cols = z && z[0] ? z[0].length : 0;
  return [t.name, t.type, t.x ? t.x.length : 0, rows, cols];
});
"""


# the titles of a graph's mode-bar buttons (plotly draws them; hidden until hover, but present)
_MODEBAR = """
return Array.from(document.querySelectorAll('#' + arguments[0] + ' .modebar-btn')).map(b => b.getAttribute('data-title'));
"""


def formula_tex(dash_duo, component_id):
    """The LaTeX a formula's dcc.Markdown holds (what MathJax typesets)."""
    return dash_duo.driver.execute_script(
        "const c = window.dash_component_api.getLayout(arguments[0]); return c && c.props.children;",
        component_id,
    )


def traces(dash_duo, graph_id):
    return dash_duo.driver.execute_script(_TRACES, graph_id)


def wait_until(condition, timeout=30, message="condition"):
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


def names(dash_duo, graph_id):
    t = traces(dash_duo, graph_id) or []
    return [row[0] for row in t]


def test_teachg001_sweep_then_landscape_line_and_plane(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    section = dash_duo.wait_for_element(f"#{ids.INSIDE_VIEW}", timeout=30)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView()", section)

    # tab 1, shown first: the sweep, two curves of 23 steps, the caption with its numbers
    wait_until(
        lambda: names(dash_duo, ids.SWEEP_GRAPH) == ["central differences", "forward differences"],
        message="the sweep's two curves",
    )
    # its formula typeset (MathJax arrives with the section), and the toolbar's PNG download
    wait_until(
        lambda: dash_duo.driver.execute_script(
            "return !!document.querySelector(arguments[0] + ' mjx-container svg')", f"#{ids.SWEEP_FORMULA}"
        ),
        message="the sweep's formula typeset",
    )
    assert "truncation" in formula_tex(dash_duo, ids.SWEEP_FORMULA)
    titles = dash_duo.driver.execute_script(_MODEBAR, ids.SWEEP_GRAPH)
    assert len(titles) == 1 and "download" in titles[0].lower() and "png" in titles[0].lower(), titles
    assert [row[2] for row in traces(dash_duo, ids.SWEEP_GRAPH)] == [23, 23]
    dash_duo.wait_for_contains_text(f"#{ids.SWEEP_CAPTION}", "7,850 entries", timeout=10)
    assert "your h = 1e-5" in dash_duo.find_element(f"#{ids.SWEEP_GRAPH}").text

    # tab 2: the 1-D line along −∇L with the current W and one gradient step
    dash_duo.find_element(f"#{ids.INSIDE_TABS} .tab:nth-child(2)").click()
    wait_until(
        lambda: (
            names(dash_duo, ids.LANDSCAPE_GRAPH)[:4] == ["total loss", "data loss", "reg. loss", "current W"]
        ),
        message="the 1-D landscape",
    )
    assert any(n.startswith("one step") for n in names(dash_duo, ids.LANDSCAPE_GRAPH))
    dash_duo.wait_for_contains_text(f"#{ids.LANDSCAPE_CAPTION}", "201 points", timeout=10)

    # switch to 2-D: a 41 x 41 contour with W at the origin
    dash_duo.find_element(f"#{ids.LANDSCAPE_MODE} input[value='2d']").click()
    contour = wait_until(
        lambda: [row for row in traces(dash_duo, ids.LANDSCAPE_GRAPH) or [] if row[1] == "contour"],
        message="the 2-D landscape",
    )
    assert contour[0][3:] == [41, 41]
    assert "current W" in names(dash_duo, ids.LANDSCAPE_GRAPH)
    # its formula follows, typeset by MathJax
    wait_until(
        lambda: "b D_2" in (formula_tex(dash_duo, ids.LANDSCAPE_FORMULA) or ""), message="the plane's formula"
    )
    wait_until(
        lambda: dash_duo.driver.execute_script(
            "return !!document.querySelector(arguments[0] + ' mjx-container svg')",
            f"#{ids.LANDSCAPE_FORMULA}",
        ),
        message="the plane's formula typeset",
    )

    # and back to 1-D
    dash_duo.find_element(f"#{ids.LANDSCAPE_MODE} input[value='1d']").click()
    wait_until(lambda: names(dash_duo, ids.LANDSCAPE_GRAPH)[:1] == ["total loss"], message="1-D again")
    assert dash_duo.get_logs() == []
