"""V8's compile hint (components/compile_hints.py): the scripts a first page load runs come back
with ``//# allFunctionsCalledOnLoad`` as their first line and otherwise byte for byte as Dash and
Flask serve them; the late chunks, CSS, 304s, debug mode and compressed bodies stay untouched."""

from __future__ import annotations

import gzip
import pkgutil
import re
import types
from pathlib import Path

import flask
import pytest
from dash.fingerprint import check_fingerprint

import app
from components import compile_hints
from components.compile_hints import HINT

SUITES = "/_dash-component-suites/"
ASSETS = "/assets/"
FIRST_VIEW_CHUNKS = ("async-graph", "async-slider", "async-dropdown", "async-upload")


@pytest.fixture(scope="module")
def client():
    # The first request sets Dash up, which moves its global callback map (dash._callback) into
    # app.callback_map. test_components_callbacks.py reads the global map and runs after this module,
    # so the map is given back as it was.
    from dash import _callback

    registered = dict(_callback.GLOBAL_CALLBACK_MAP)
    c = app.server.test_client()
    c.get("/")
    yield c
    for key, entry in registered.items():
        _callback.GLOBAL_CALLBACK_MAP.setdefault(key, entry)


@pytest.fixture(scope="module")
def index_scripts(client) -> list[str]:
    html = client.get("/").get_data(as_text=True)
    return re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)


def page_scripts(index_scripts) -> list[str]:
    """The index page's .js scripts under the two prefixes, without their query string."""
    paths = [s.split("?", 1)[0] for s in index_scripts]
    return [p for p in paths if p.endswith(".js") and p.startswith((SUITES, ASSETS))]


def served_unhinted(path: str) -> bytes:
    """The body Dash or Flask serves for ``path`` without the hook: Dash's component suites
    send ``pkgutil.get_data`` of the unfingerprinted path, the assets the file on disk."""
    if path.startswith(SUITES):
        package, _, rest = path[len(SUITES) :].partition("/")
        return pkgutil.get_data(package, check_fingerprint(rest)[0])
    return (Path(app.app.config.assets_folder) / path[len(ASSETS) :]).read_bytes()


def test_hint001_every_script_of_the_index_page_starts_with_the_hint(client, index_scripts):
    scripts = page_scripts(index_scripts)
    assert any("dash_renderer" in p for p in scripts)
    assert any(p.startswith(ASSETS) for p in scripts)
    assert any(p.startswith(ASSETS + "vendor/") for p in scripts)  # the vendored plotly.js, whatever its name
    for path in scripts:
        r = client.get(path)
        body = r.get_data()
        assert r.status_code == 200, path
        assert body.startswith(HINT), path
        assert body[len(HINT) :] == served_unhinted(path), path
        assert int(r.headers["Content-Length"]) == len(body), path


def test_hint002_first_view_chunks_are_hinted_fingerprinted_or_not(client, index_scripts):
    dcc_main = next(p for p in page_scripts(index_scripts) if "/dcc/dash_core_components." in p)
    assert check_fingerprint(dcc_main)[0] != dcc_main  # Dash fingerprints the scripts of the index page
    version = dcc_main.rsplit("/", 1)[1].split(".")[1]  # "v4_4_1m..."
    for chunk in FIRST_VIEW_CHUNKS:
        for path in (f"{SUITES}dash/dcc/{chunk}.js", f"{SUITES}dash/dcc/{chunk}.{version}.js"):
            r = client.get(path)
            assert r.status_code == 200, path
            assert r.get_data() == HINT + served_unhinted(path), path


def test_hint003_late_chunks_come_back_without_the_hint(client):
    for name in ("dash/dcc/async-mathjax.js", "dash/dcc/async-markdown.js", *compile_hints.LATE_CHUNKS):
        path = SUITES + name
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.get_data() == served_unhinted(path), path
        assert not r.get_data().startswith(HINT), path
        assert not compile_hints.hinted_path(path.replace(".js", ".v1_0_0m123.js"))  # fingerprinted too


def test_hint004_conditional_requests_get_an_empty_304_and_etags_are_unchanged(client, monkeypatch):
    paths = (f"{SUITES}dash/dcc/async-graph.js", f"{ASSETS}slider_format.js")  # Dash's ETag, Flask's ETag
    etags = {}
    for path in paths:
        r = client.get(path)
        assert r.get_data().startswith(HINT), path
        etags[path] = r.headers["ETag"]
    monkeypatch.setitem(app.server.config, "DEBUG", True)  # the hook off: the ETag of the plain file
    for path in paths:
        assert client.get(path).headers["ETag"] == etags[path], path
    monkeypatch.setitem(app.server.config, "DEBUG", False)
    for path in paths:
        r = client.get(path, headers={"If-None-Match": etags[path]})
        assert r.status_code == 304, path
        assert r.get_data() == b"", path


def test_hint005_head_has_the_get_headers_and_no_body(client):
    for path in (f"{SUITES}dash/dcc/async-graph.js", f"{ASSETS}slider_format.js"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == 200, path
        assert head.get_data() == b"", path
        assert head.headers["Content-Length"] == got.headers["Content-Length"] == str(len(got.get_data()))
        assert head.headers["ETag"] == got.headers["ETag"], path


def test_hint006_debug_mode_adds_nothing(client, index_scripts, monkeypatch):
    monkeypatch.setitem(app.server.config, "DEBUG", True)
    assert app.server.debug
    for path in [*page_scripts(index_scripts), f"{SUITES}dash/dcc/async-graph.js"]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.get_data() == served_unhinted(path), path
    r = client.get(f"{ASSETS}slider_format.js", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206  # ranges as Flask serves them
    assert r.get_data() == served_unhinted(f"{ASSETS}slider_format.js")[:10]


def test_hint007_css_late_maps_and_html_are_untouched(client):
    r = client.get(f"{ASSETS}style.css")
    assert r.status_code == 200
    assert r.get_data() == served_unhinted(f"{ASSETS}style.css")
    r = client.get(f"{SUITES}dash/dcc/async-markdown.js.map")  # the map of a script sent without the hint
    assert r.status_code == 200
    assert r.get_data() == served_unhinted(f"{SUITES}dash/dcc/async-markdown.js.map")
    assert not client.get("/").get_data().startswith(HINT)
    r = client.get(f"{SUITES}x.js")  # not a component path: Dash's catch-all answers with the index page
    assert r.mimetype == "text/html"
    assert not r.get_data().startswith(HINT)


def test_hint008_range_requests_get_the_whole_hinted_file(client):
    path = f"{ASSETS}slider_format.js"
    r = client.get(path, headers={"Range": "bytes=0-9", "If-Range": client.get(path).headers["ETag"]})
    assert r.status_code == 200
    assert r.get_data() == HINT + served_unhinted(path)


@pytest.fixture()
def bare_server(tmp_path):
    """A Flask server with only the hook, assets from ``tmp_path``, and a compressed script."""
    server = flask.Flask(__name__, static_folder=str(tmp_path), static_url_path="/assets")
    fake_app = types.SimpleNamespace(
        server=server, config=types.SimpleNamespace(routes_pathname_prefix="/", assets_url_path="assets")
    )
    compile_hints.install(fake_app)

    @server.route("/_dash-component-suites/pkg/packed.js")
    def packed():
        return flask.Response(
            gzip.compress(b"var packed = 1;\n"),
            mimetype="text/javascript",
            headers={"Content-Encoding": "gzip"},
        )

    return server


def test_hint009_a_body_that_starts_with_the_hint_is_not_hinted_twice(bare_server, tmp_path):
    (tmp_path / "already.js").write_bytes(HINT + b"var a = 1;\n")
    (tmp_path / "plain.js").write_bytes(b"var b = 2;\n")
    c = bare_server.test_client()
    assert c.get("/assets/already.js").get_data() == HINT + b"var a = 1;\n"
    assert c.get("/assets/plain.js").get_data() == HINT + b"var b = 2;\n"
    assert compile_hints.add_hint(HINT + b"x") == HINT + b"x"
    assert compile_hints.add_hint(b"x") == HINT + b"x"


def test_hint010_compressed_bodies_are_untouched(bare_server):
    r = bare_server.test_client().get("/_dash-component-suites/pkg/packed.js")
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(r.get_data()) == b"var packed = 1;\n"


def test_hint011_path_rules():
    hinted = compile_hints.hinted_path
    assert hinted("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.v4_4_1m17.min.js")
    assert hinted("/_dash-component-suites/dash/dcc/async-graph.v4_4_1m17.js")
    assert hinted("/assets/vendor/any-new-plotly-bundle.min.js")
    assert not hinted("/_dash-component-suites/dash/dcc/async-mathjax.v4_4_1m17.js")
    assert not hinted("/_dash-component-suites/dash/dash_table/async-table.js")
    assert not hinted("/assets/style.css")
    assert not hinted("/assets/vendor/bundle.js.map")
    assert not hinted("/_dash-update-component")
    assert not hinted("/other/script.js")
    assert hinted("/app/assets/x.js", routes_prefix="/app/")
    assert not hinted("/assets/x.js", routes_prefix="/app/")


@pytest.mark.parametrize("script", ["dash/dcc/async-graph.js", "dash/dcc/dash_core_components.js"])
def test_hint012_the_map_of_a_hinted_script_gets_one_more_first_line(client, monkeypatch, script):
    """The hint adds a first line to the script; its source map gets an empty first line
    (a leading ";" in ``mappings``), so developer tools still map it line for line."""
    import json

    path = f"{SUITES}{script}.map"
    original = json.loads(served_unhinted(path))
    r = client.get(path)
    assert r.status_code == 200
    assert client.get(f"{SUITES}{script}").get_data().startswith(HINT)
    shifted = json.loads(r.get_data())
    assert shifted["mappings"] == ";" + original["mappings"]
    assert {k: v for k, v in shifted.items() if k != "mappings"} == {
        k: v for k, v in original.items() if k != "mappings"
    }
    assert int(r.headers["Content-Length"]) == len(r.get_data())
    monkeypatch.setitem(app.server.config, "DEBUG", True)  # debug mode: neither hint nor shift
    assert client.get(path).get_data() == served_unhinted(path)


def test_hint013_shift_map_leaves_what_is_not_a_source_map():
    assert compile_hints.shift_map(b"not json") == b"not json"
    assert compile_hints.shift_map(b"[1, 2]") == b"[1, 2]"
    assert compile_hints.shift_map(b'{"version": 3}') == b'{"version": 3}'
    assert b'"mappings":";AAAA"' in compile_hints.shift_map(b'{"version": 3, "mappings": "AAAA"}')
