"""Browser tests: headless Chromium through dash.testing's ``dash_duo``.

``pytest_setup_options`` (a dash.testing hook) gives Chrome the flags it needs
to run headless as root in CI; ``python -m pytest`` needs no extra flags. A
missing browser or driver is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil

import pytest
from selenium.webdriver.chrome.options import Options

CHROME = next(
    (
        p
        for p in (
            os.environ.get("DASH_TEST_CHROMEPATH"),
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
            shutil.which("google-chrome"),
        )
        if p
    ),
    None,
)


def pytest_setup_options():
    options = Options()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    if CHROME:
        options.binary_location = CHROME
    return options


@pytest.fixture(autouse=True)
def _browser_present():
    """Fail (not skip) at once when the browser or its driver is missing."""
    assert CHROME, "Chromium not found (apt-get install chromium chromium-driver)"
    assert shutil.which("chromedriver"), "chromedriver not found (apt-get install chromium-driver)"
