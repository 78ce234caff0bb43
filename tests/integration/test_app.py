"""The page in a real browser: loads cleanly, reacts to the loss, trains, stops, reports bad values."""

from __future__ import annotations

import pytest

from components import ids


@pytest.fixture(scope="module")
def dash_app():
    from app import app

    return app


def test_app001_page_loads(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=20)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer", timeout=10)
    assert dash_duo.find_element(f"#{ids.SUMMARY_LOSS} .number-value").text not in ("", "…")
    assert dash_duo.get_logs() == []
