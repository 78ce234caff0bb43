"""V8's explicit compile hint on the scripts a first page load runs.

A script whose very first line is the magic comment ``//# allFunctionsCalledOnLoad``
has all its functions compiled eagerly by Chrome 136+ (V8), on a background
thread while the script streams in; without it they are compiled lazily, on the
main thread, the first time each is called, which a cold load (no code cache)
pays for before the page is drawn. Other browsers ignore the comment. Cold
loads are measured with ``python bench/bench_app.py --cold N``.

:func:`install` (called once by ``app.py``) adds an ``after_request`` hook on
the Flask server that prepends the comment line to a response when all hold:

* status 200, a JavaScript mimetype, no ``Content-Encoding`` (a compressed
  body is never touched);
* the path ends in ``.js`` and lies under ``/_dash-component-suites/`` or
  ``/assets/`` (matched by these rules, never by a file's name, so a new
  vendored bundle in ``assets/vendor/`` is hinted too);
* the path is not one of :data:`LATE_CHUNKS` (scripts fetched only after the
  first views are drawn, or never: compiling them eagerly would cost time and
  memory and save nothing on the first load);
* the body does not already start with the comment;
* the server is not in debug mode (dev tools map errors through source maps,
  whose line numbers an extra first line would shift).

Outside debug mode the component suites' files still name their source maps
(``//# sourceMappingURL=...js.map``, fetched only by a browser's developer tools):
the map of a hinted script is sent with one empty line more at the top of its
``mappings`` (a leading ``;``), so it still matches the script line for line.

The hint is a pure function of the file, so the ETag and caching headers Dash
and Flask set stay valid and are left as they are; 304s (conditional requests)
have no body and pass through. A HEAD request is hinted like its GET, so both
carry the same Content-Length (no body is sent). A ``Range`` request for a file
that would be hinted is answered with the whole hinted file (200): Flask's
206 would cut the unhinted file at offsets that do not match, under the same
ETag, what a browser resuming a truncated download already holds (the same for a
shifted source map).
"""

from __future__ import annotations

import json

import flask
from dash.fingerprint import check_fingerprint

HINT = b"//# allFunctionsCalledOnLoad\n"
_MARKER = HINT.rstrip(b"\n")

SUITES_DIR = "_dash-component-suites/"
JS_MIMETYPES = frozenset({"text/javascript", "application/javascript", "application/x-javascript"})

# Scripts under /_dash-component-suites/ that a first page load never runs, as
# "<package>/<path in package>" without Dash's fingerprint (".v4_4_1m123...").
# Each would be compiled eagerly in full for nothing; the first views load only
# dcc's async-graph, async-slider, async-dropdown and async-upload chunks.
LATE_CHUNKS = (
    "dash/dcc/async-mathjax.js",  # MathJax, 2 MB: fetched for the formulas, only after the first views are drawn
    "dash/dcc/async-markdown.js",  # dcc.Markdown: the formulas only, mounted after the first views
    "dash/dcc/async-datepicker.js",  # dcc.DatePicker*: the page has none
    "dash/dcc/async-highlight.js",  # dcc.Markdown's code highlighting: fetched with the formulas' Markdown
    "dash/dash_table/async-table.js",  # dash_table.DataTable: the page has none (only bundle.js is always loaded)
    "dash/dash_table/async-export.js",  # DataTable export: no DataTable
    "dash/dash_table/async-highlight.js",  # DataTable code highlighting: no DataTable
)


def hinted_path(path: str, routes_prefix: str = "/", assets_url_path: str = "assets") -> bool:
    """Would a 200 JavaScript response at ``path`` (the request path, without the
    query string) get the hint? By path rules only: ``.js`` under the component
    suites or the assets, and not a :data:`LATE_CHUNKS` chunk."""
    if not path.endswith(".js"):
        return False
    suites = routes_prefix + SUITES_DIR
    assets = routes_prefix + assets_url_path.strip("/") + "/"
    if path.startswith(suites):
        name, _ = check_fingerprint(path[len(suites) :])
        return name not in LATE_CHUNKS
    return path.startswith(assets)


def shift_map(body: bytes) -> bytes:
    """A source map (JSON) for its script with one more first line: ``mappings``
    gets a leading ``;`` (an empty generated line). Unchanged if it is not a
    version-3 map."""
    try:
        source_map = json.loads(body)
    except ValueError:
        return body
    if not isinstance(source_map, dict) or not isinstance(source_map.get("mappings"), str):
        return body
    source_map["mappings"] = ";" + source_map["mappings"]
    return json.dumps(source_map, separators=(",", ":")).encode()


def add_hint(body: bytes) -> bytes:
    """``body`` with the hint as its first line (unchanged if it starts with it already)."""
    return body if body.startswith(_MARKER) else HINT + body


def install(app) -> None:
    """The hint on ``app.server``'s script responses (see the module docstring)."""
    server: flask.Flask = app.server
    routes_prefix = app.config.routes_pathname_prefix
    assets_url_path = app.config.assets_url_path

    def _hinted(path: str) -> bool:
        return hinted_path(path, routes_prefix, assets_url_path)

    def _applies() -> bool:
        """Does this request's response change: a hinted script, or the source map of one?"""
        path = flask.request.path
        return not flask.current_app.debug and (
            _hinted(path) or (path.endswith(".js.map") and _hinted(path[: -len(".map")]))
        )

    @server.before_request
    def _whole_file_for_ranges():
        # Answer a Range request with the whole (hinted) file; see the module docstring.
        environ = flask.request.environ
        if "HTTP_RANGE" in environ and _applies():
            environ.pop("HTTP_RANGE")
            environ.pop("HTTP_IF_RANGE", None)

    @server.after_request
    def _shift_source_map(response: flask.Response):
        if (
            response.status_code != 200
            or not flask.request.path.endswith(".js.map")
            or "Content-Encoding" in response.headers
            or not _applies()
        ):
            return response
        response.direct_passthrough = False
        response.set_data(shift_map(response.get_data()))
        return response

    @server.after_request
    def _compile_hint(response: flask.Response):
        if (
            response.status_code != 200
            or response.mimetype not in JS_MIMETYPES
            or "Content-Encoding" in response.headers
            or not flask.request.path.endswith(".js")
            or not _applies()
        ):
            return response
        response.direct_passthrough = False  # send_file's file responses (/assets) pass through otherwise
        body = response.get_data()
        hinted = add_hint(body)
        if hinted is not body:
            response.set_data(hinted)  # sets Content-Length
        return response
