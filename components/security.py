"""What a server facing a room of students adds to every response and request.

:func:`install` (called once by ``app.py``) sets up, on the Flask server:

* **A bound on request bodies** (``MAX_CONTENT_LENGTH``, ``$LINCLS_MAX_REQUEST_MB``,
  default 8 MB): a larger body is refused with 413 before it is read. The
  page's upload (``components/exports.py``) sizes its own limit to fit under
  it. Measured: the largest request without an upload is the commit of a run
  (two weight snapshots and their histories), 0.34 MB for MNIST with
  float64 weights; a dataset with more pixels or classes needs proportionally more.
* **A check of the callback envelope** on ``/_dash-update-component``: a body
  that is not the JSON object the renderer sends, names no known callback, or
  whose inputs, state or outputs are not the ones that callback declares, gets a
  plain 400 (Dash itself would raise and answer 500). The *values* are checked
  by the callbacks (``components/guard.py``); this only checks their envelope.
* **Security headers**: a Content-Security-Policy that runs only this server's
  scripts (plus the hash of Dash's one inline start-up script), no framing,
  no MIME sniffing, no referrer. See :func:`content_security_policy` for why
  each allowance is there.
* ``SECRET_KEY`` from ``$LINCLS_SECRET_KEY`` when set: Dash signs the handles
  of background jobs with it (else with a random secret it keeps in the job
  store, which is as shared as the jobs themselves).
"""

from __future__ import annotations

import os

import flask

ENV_MAX_REQUEST = "LINCLS_MAX_REQUEST_MB"
ENV_SECRET_KEY = "LINCLS_SECRET_KEY"
DEFAULT_MAX_REQUEST_MB = 8.0

DISPATCH_SUFFIX = "_dash-update-component"
MAX_PATTERN_ITEMS = 10_000  # matched components a pattern-matching (ALL) request may list


def max_request_bytes() -> int:
    """The request-body limit in bytes (``$LINCLS_MAX_REQUEST_MB``, default 8 MB)."""
    raw = os.environ.get(ENV_MAX_REQUEST)
    try:
        mb = float(raw) if raw else DEFAULT_MAX_REQUEST_MB
    except ValueError:
        mb = DEFAULT_MAX_REQUEST_MB
    if not 0.01 <= mb <= 1024:
        mb = DEFAULT_MAX_REQUEST_MB
    return int(mb * 1024 * 1024)


def content_security_policy(app) -> str:
    """The CSP for every response.

    * ``script-src 'self'`` and the hash of every inline script Dash renders
      (``app.csp_hashes()``: the renderer start-up line, and clientside
      callbacks if any are added); no ``'unsafe-inline'``, no ``'unsafe-eval'``
      (checked in the browser: nothing this page runs needs eval).
    * ``style-src 'self' 'unsafe-inline'``: plotly.js writes ``style="..."``
      attributes into the SVG it draws and the Dash components inject a few
      ``<style>`` rules at run time; neither can be hashed or given a nonce.
      Inline *styles* cannot run code, so this is the one allowance.
    * ``img-src 'self' data:``: plotly draws some markers and the mode bar
      icons as data: URLs.
    * everything else ``'self'`` or ``'none'``; ``frame-ancestors 'none'``.
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *app.csp_hashes()],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{k} {' '.join(v)}" for k, v in directives.items())


STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


# -- the callback envelope ------------------------------------------------------


class EnvelopeError(ValueError):
    """A callback request that is not what the renderer sends (answered with 400)."""


def _prop(item) -> tuple:
    return (item.get("id") if isinstance(item.get("id"), str) else repr(item.get("id")), item.get("property"))


def _split_output(output: str) -> list[tuple[str, str]]:
    """(id, property) of each output in a callback's output string ("a.b" or "..a.b...c.d..");
    the ``@hash`` of an ``allow_duplicate`` output removed."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for p in parts:
        p = p.split("@", 1)[0]
        i, _, prop = p.rpartition(".")
        out.append((i, prop))
    return out


def _is_pattern(items) -> bool:
    """Pattern-matching dependencies (their ids are dicts, kept as JSON strings in the callback map)."""
    return any(not isinstance(i.get("id"), str) or i["id"].startswith("{") for i in items)


def check_envelope(app, body) -> None:
    """Raise :class:`EnvelopeError` unless ``body`` is a well-formed request for
    one of ``app``'s callbacks, with exactly the inputs, state and outputs it
    declares (pattern-matching callbacks: the shape only)."""
    if not isinstance(body, dict):
        raise EnvelopeError("the request body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in app.callback_map:
        raise EnvelopeError("unknown callback output")
    cb = app.callback_map[output]
    if "callback" not in cb:
        raise EnvelopeError("a clientside callback runs in the browser")
    for key, declared in (("inputs", cb.get("inputs", [])), ("state", cb.get("state", []))):
        got = body.get(key, [])
        if not isinstance(got, list) or len(got) != len(declared):
            raise EnvelopeError(f"{key}: expected a list of {len(declared)}")
        if _is_pattern(declared):
            if not all(isinstance(g, (dict, list)) for g in got):
                raise EnvelopeError(f"{key}: malformed entries")
            continue
        for g, d in zip(got, declared, strict=True):
            if not isinstance(g, dict) or g.get("id") != d["id"] or g.get("property") != d["property"]:
                raise EnvelopeError(f"{key}: not the ones this callback declares")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise EnvelopeError("changedPropIds: expected a list of strings")
    limit = MAX_PATTERN_ITEMS if _is_pattern(cb.get("inputs", [])) else len(cb.get("inputs", []))
    if len(changed) > limit:
        raise EnvelopeError("changedPropIds: too many")
    outputs = body.get("outputs")
    if outputs is None:
        return  # legacy renderers send only "output"
    if cb.get("no_output"):
        return
    declared_out = _split_output(output)
    items = outputs if isinstance(outputs, list) else [outputs]
    if not all(isinstance(o, (dict, list)) for o in items):
        raise EnvelopeError("outputs: malformed entries")
    if any(isinstance(o, list) for o in items) or any(not isinstance(o.get("id"), str) for o in items):
        return  # pattern-matching outputs
    if len(items) != len(declared_out):
        raise EnvelopeError(f"outputs: expected {len(declared_out)}")
    for o, (i, prop) in zip(items, declared_out, strict=True):
        if o.get("id") != i or str(o.get("property", "")).split("@", 1)[0] != prop:
            raise EnvelopeError("outputs: not the ones this callback declares")


# -- the host ---------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Is ``host`` reachable from this machine only (127.x.x.x, ::1, localhost)?"""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str, debug: bool = False) -> tuple[str | None, bool]:
    """(message, refuse) for serving on ``host``: a warning when the page is
    reachable from other machines; refused with ``debug`` there (Dash's debug
    mode runs the Werkzeug debugger, which executes code sent to it)."""
    if is_loopback(host):
        return None, False
    if debug:
        return f"error: --debug only on a loopback host (127.0.0.1), not {host}: the debugger runs code", True
    return (
        f"warning: serving on {host}: the page is reachable from other machines. For a lecture, "
        "prefer gunicorn behind HTTPS (see the README's deployment section)",
        False,
    )


# -- install ------------------------------------------------------------------


def install(app) -> None:
    """Limits, the envelope check and the headers on ``app.server`` (see the module docstring)."""
    server: flask.Flask = app.server
    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes()
    secret = os.environ.get(ENV_SECRET_KEY)
    if secret:
        server.secret_key = secret
    policy: dict[str, str] = {}

    @server.before_request
    def _check_callback_request():
        req = flask.request
        if req.method != "POST" or not req.path.endswith(DISPATCH_SUFFIX):
            return None
        body = req.get_json(silent=True)  # a body over MAX_CONTENT_LENGTH raises 413 here
        try:
            check_envelope(app, body)
        except EnvelopeError as exc:
            return flask.jsonify(error=f"bad callback request: {exc}"), 400
        return None

    @server.after_request
    def _headers(response: flask.Response):
        if "csp" not in policy:  # after the first request: every callback and inline script is known
            policy["csp"] = content_security_policy(app)
        response.headers.setdefault("Content-Security-Policy", policy["csp"])
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
