"""Security: headers and CSP (checked in the browser too), request-size limit, safe defaults,
user-supplied names shown as text, and a Dash without the background-job handle bugs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains

import app as app_module
from bench.dash_client import DashClient
from components import ids, security, session
from core import data as core_data

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def dash_app():
    return app_module.app


@pytest.fixture(scope="module")
def http():
    c = app_module.app.server.test_client()
    c.get("/")  # the first request sets Dash up (callback map, CSP hashes)
    return c


def csp_of(response) -> dict[str, list[str]]:
    out = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


# -- headers -------------------------------------------------------------------------------------------


def test_sec001_every_response_carries_the_security_headers(http):
    page = http.get("/").get_data(as_text=True)
    script = re.search(r'<script src="(/_dash-component-suites/[^"]+)"', page).group(1)
    responses = {
        "page": http.get("/"),
        "layout": http.get("/_dash-layout"),
        "asset": http.get("/assets/style.css"),
        "script": http.get(script),
        "missing": http.get("/no-such-page/../x"),
        "callback": http.post("/_dash-update-component", json={}),
    }
    for name, r in responses.items():
        h = r.headers
        assert h["X-Content-Type-Options"] == "nosniff", name
        assert h["X-Frame-Options"] == "DENY", name
        assert h["Referrer-Policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], name


def test_sec002_the_csp_runs_only_the_apps_own_scripts(http, dash_app):
    r = http.get("/")
    csp = csp_of(r)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'", *dash_app.csp_hashes()]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]  # plotly's style attributes (see security.py)
    # every inline script of the page is allowed by its hash, and nothing else is inline
    page = re.sub(r"<!--.*?-->", "", r.get_data(as_text=True), flags=re.S)  # (Dash's IE-only note)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page, re.S)
    assert inline
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]
    # every script file comes from this server
    assert all(src.startswith("/") for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', page))


# -- request size --------------------------------------------------------------------------------------


def test_sec003_an_oversized_post_gets_413_before_it_is_read(http):
    limit = app_module.server.config["MAX_CONTENT_LENGTH"]
    assert limit == security.max_request_bytes() == 8 * 1024 * 1024
    big = b'{"output": "' + b"x" * limit + b'"}'
    r = http.post("/_dash-update-component", data=big, content_type="application/json")
    assert r.status_code == 413
    r = http.post("/_dash-update-component", data=b"[" * (limit + 1), content_type="application/json")
    assert r.status_code == 413


def _largest_commit_body(client: DashClient) -> dict:
    """The largest request the page itself sends: a commit of live and final snapshots with
    float64 weights (a diverged run) and full-length histories."""
    W = np.full((785, 10), 1e39)  # beyond float32: stored as float64
    hist = {k: [1.23456789e-3] * session.HISTORY_MAX_POINTS for k in session.HISTORY_KEYS}
    hist["step"] = list(range(1, session.HISTORY_MAX_POINTS + 1))
    hist["sig"] = [core_data.BUILTIN, 5000, "standardize", "softmax", 0.001, "half", True, 1.0]
    snap = {
        "run": 3,
        "step": 9999,
        "dataset": core_data.BUILTIN,
        "weights": session.encode_weights(
            W, dataset=core_data.BUILTIN, origin="trained, run 3", run=3, step=9999
        ),
        "history": hist,
    }
    cb = client.callback(trigger=f"{ids.RESULT_STORE}.data", contains=ids.COMMITTED_STORE)
    return client.body(
        cb,
        [f"{ids.RESULT_STORE}.data"],
        {
            f"{ids.RUNNING_STORE}.data": False,
            f"{ids.RESULT_STORE}.data": snap,
            f"{ids.LIVE_STORE}.data": {**snap, "step": 9000},
            f"{ids.COMMITTED_STORE}.data": None,
        },
    )


def test_sec004_the_largest_legitimate_request_is_far_below_the_limit(http):
    client = DashClient(flask_client=app_module.app.server.test_client())
    client.load()
    body = _largest_commit_body(client)
    r = client.post_raw(body)
    assert r.status == 200 and r.data["response"][ids.WEIGHTS_STORE]["data"]["dtype"] == "float64"
    limit = security.max_request_bytes()
    assert 200_000 < r.size < limit / 10, r.size  # measured: 344,925 bytes (0.34 MB)


@pytest.fixture(scope="module")
def live_url():
    """The app on a real socket (werkzeug, threaded), for a few checks over real HTTP."""
    from werkzeug.serving import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = make_server("127.0.0.1", port, app_module.server, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}"
    srv.shutdown()


def test_sec005_over_real_http_limits_envelopes_and_headers_hold(live_url):
    client = DashClient(live_url, requests.Session())
    client.load()
    limit = security.max_request_bytes()
    try:
        r = requests.post(
            live_url + "/_dash-update-component",
            data=b"0" * (limit + 1024),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 413
    except requests.ConnectionError:
        pass  # the server may close the connection on the oversized body: refused either way
    assert client.post_raw({"output": "nope"}).status == 400
    r = client.post_raw(_largest_commit_body(client))
    assert r.status == 200
    cb = client.callback(trigger=f"{ids.GC_H}.value", contains=ids.ALERT_COMPUTE)
    r = client.post_raw(client.body(cb, [f"{ids.GC_H}.value"], {f"{ids.GC_H}.value": float("nan")}))
    assert r.status == 200 and "step h" in json.dumps(r.data["response"][ids.ALERT_COMPUTE])
    h = requests.get(live_url + "/", timeout=10).headers
    assert h["X-Content-Type-Options"] == "nosniff" and "script-src 'self'" in h["Content-Security-Policy"]


# -- versions and defaults -----------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_sec006_dash_is_at_least_4_4_1_installed_and_required():
    """Earlier releases let a client kill another session's background job or read its result."""
    import dash

    assert _version(dash.__version__) >= (4, 4, 1), dash.__version__
    for req in ("requirements.txt", "requirements-dev.txt"):
        pins = re.findall(r"^dash(?:\[[^\]]*\])?\s*>=\s*([\d.]+)", (ROOT / req).read_text(), re.M)
        assert pins and all(_version(p) >= (4, 4, 1) for p in pins), (req, pins)


def test_sec007_debug_off_and_loopback_by_default_with_a_warning_otherwise(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(app_module.app, "run", lambda **kw: calls.append(kw))
    assert app_module.main([]) == 0
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["debug"] is False
    assert "warning" not in capsys.readouterr().err
    assert app_module.main(["--host", "0.0.0.0"]) == 0
    assert calls[-1]["host"] == "0.0.0.0" and "reachable from other machines" in capsys.readouterr().err
    n = len(calls)
    assert app_module.main(["--host", "0.0.0.0", "--debug"]) == 2 and len(calls) == n  # refused
    assert "--debug only on a loopback host" in capsys.readouterr().err
    assert app_module.main(["--host", "::1", "--debug"]) == 0
    for host, loop in (("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True), ("[::1]", True),
                       ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False)):  # fmt: skip
        assert security.is_loopback(host) is loop, host


def test_sec008_the_data_folder_cannot_be_named_from_the_page(http, tmp_path):
    """Only whoever starts the server names it (--data / $LINCLS_DATA); the page sends keys it was offered."""
    client = DashClient(flask_client=http)
    client.load()
    cb = client.callback(trigger=f"{ids.DATASET}.value", contains=ids.ALERT_COMPUTE)
    before = os.environ.get(core_data.ENV_DATA)
    for key in (str(tmp_path), f"data:{ROOT}", "data:../../etc", "/etc/passwd"):
        r = client.post_raw(client.body(cb, [f"{ids.DATASET}.value"], {f"{ids.DATASET}.value": key}))
        assert r.status == 200 and "dataset" in json.dumps(r.data["response"][ids.ALERT_COMPUTE])
    assert os.environ.get(core_data.ENV_DATA) == before


# -- in the browser -------------------------------------------------------------------------------------


def _start(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=30)
    dash_duo.wait_for_element(f"#{ids.TEMPLATES_GRAPH} .heatmaplayer", timeout=15)


def test_sec010_the_page_works_under_its_csp_without_a_console_error_and_the_csp_blocks_injections(
    dash_duo, dash_app
):
    _start(dash_duo, dash_app)
    dash_duo.find_element(f"#{ids.LOSS} input[value='hinge']").click()
    dash_duo.wait_for_contains_text(f"#{ids.CURVES_GRAPH}", "(C−1)·Δ", timeout=15)
    ActionChains(dash_duo.driver).move_to_element(
        dash_duo.find_element(f"#{ids.TEMPLATES_GRAPH} .nsewdrag")
    ).perform()  # a hover label: plotly's inline styles
    dash_duo.find_element(f"#{ids.TRAIN_PACE} input[value='fast']").click()
    dash_duo.find_element(f"#{ids.TRAIN_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.TRAIN_STATUS}", "Done", timeout=60)
    assert dash_duo.get_logs() == []
    # the policy is enforced: an inline script injected into the page does not run
    dash_duo.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__pwned = 1';"
        "document.body.appendChild(s);"
    )
    time.sleep(0.3)
    assert dash_duo.driver.execute_script("return window.__pwned === undefined")
    logs = dash_duo.get_logs()
    assert logs and all("Content Security Policy" in e["message"] for e in logs), logs


@pytest.fixture
def hostile_dataset(tmp_path, monkeypatch):
    """A data folder whose dataset (folder) name and class names are HTML, shown by default."""
    folder = tmp_path / HOSTILE
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("t10k", 60)):
        core_data.write_idx(
            folder / f"{split}-images-idx3-ubyte", rng.integers(0, 255, (n, 8, 8), dtype=np.uint8)
        )
        core_data.write_idx(folder / f"{split}-labels-idx1-ubyte", (np.arange(n) % 3).astype(np.uint8))
    names = [HOSTILE, "<b>bold</b>", "a & b"]
    (folder / "classes.txt").write_text("\n".join(names) + "\n")
    monkeypatch.setenv(core_data.ENV_DATA, str(tmp_path))
    key = f"data:{HOSTILE}"
    assert key in core_data.available_datasets()
    return key, names


def test_sec012_dataset_and_class_names_are_shown_as_text_only(dash_duo, dash_app, hostile_dataset):
    from urllib.parse import urlencode

    key, names = hostile_dataset
    dash_duo.start_server(dash_app)
    dash_duo.driver.get(dash_duo.server_url + "/?" + urlencode({"dataset": key}))  # the lecture link to it
    script = "return Array.from(document.querySelectorAll('#templates-graph .annotation-text')).map(e => e.textContent)"
    end = time.time() + 40
    while time.time() < end and names[0] not in (dash_duo.driver.execute_script(script) or []):
        time.sleep(0.2)
    texts = dash_duo.driver.execute_script(script)
    alerts = [e.text for e in dash_duo.find_elements(".alert")]
    for name in names:
        assert name in texts, (
            texts,
            alerts,
            dash_duo.driver.current_url,
        )  # literally: "<b>" is text, "&" is "&"
    ticks = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#gradcheck-heatmap .x2tick text')).map(e => e.textContent)"
    )
    assert HOSTILE in ticks, ticks
    assert f"{HOSTILE} (data folder)" in dash_duo.find_element(f"#{ids.DATASET}").text
    assert (
        dash_duo.driver.execute_script(
            "return document.querySelectorAll('img[src=\"x\"], [onerror], #templates-graph b').length"
        )
        == 0
    )
    assert dash_duo.get_logs() == []  # no alert, no blocked handler: nothing was even attempted
