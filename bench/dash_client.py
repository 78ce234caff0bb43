"""A small stand-in for the Dash renderer: talks to the app over HTTP the way the browser does.

Used by the load benchmark (``bench/bench_load.py``) and by the tests that post
callback requests directly. It reads the page config (for the ``endId``
token that background jobs are bound to), the callback list
(``/_dash-dependencies``) and the initial props of every component
(``/_dash-layout``), then builds each request exactly as the renderer does::

    {"output": "..a.b...c.d..", "outputs": [{"id", "property"}, ...],
     "inputs": [{"id", "property", "value"}, ...], "state": [...],
     "changedPropIds": ["a.value"]}

and folds the answers back into its copy of the props. A background callback
is polled (``?cacheKey=…&job=…``) until it answers, like the renderer.

Works with a requests-like session on a URL, or with Flask's test client
(``DashClient(flask_client=app.server.test_client())``).
"""

from __future__ import annotations

import html as html_lib
import json
import re
import time
from dataclasses import dataclass, field

_CONFIG = re.compile(r'<script id="_dash-config" type="application/json">(.*?)</script>', re.S)


@dataclass
class Reply:
    status: int
    data: dict | None
    seconds: float
    size: int = 0


@dataclass
class Callback:
    output: str
    inputs: list[dict]
    state: list[dict]
    outputs: list[dict]
    multi: bool
    background: dict | None = None
    clientside: bool = False  # runs in the browser, never posted

    @property
    def input_ids(self) -> list[str]:
        return [f"{i['id']}.{i['property']}" for i in self.inputs]


def _split_output(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for p in parts:
        i, _, prop = p.rpartition(".")
        out.append({"id": i, "property": prop})
    return out


@dataclass
class DashClient:
    base_url: str = ""
    session: object = None  # requests.Session (or anything with get/post like it)
    flask_client: object = None
    timeout: float = 30.0
    props: dict = field(default_factory=dict)  # "id.prop" -> value, as the page holds them
    end_id: str | None = None
    callbacks: list[Callback] = field(default_factory=list)

    # -- transport ------------------------------------------------------------------

    def _get(self, path: str) -> tuple[int, bytes, float]:
        t0 = time.perf_counter()
        if self.flask_client is not None:
            r = self.flask_client.get(path)
            return r.status_code, r.get_data(), time.perf_counter() - t0
        r = self.session.get(self.base_url + path, timeout=self.timeout)
        return r.status_code, r.content, time.perf_counter() - t0

    def post_raw(self, body, query: dict | None = None, *, raw: bytes | None = None) -> Reply:
        """POST a callback request body (any JSON, or ``raw`` bytes) as the renderer would."""
        query = dict(query or {})
        if self.end_id and "endId" not in query:
            query["endId"] = self.end_id
        path = "/_dash-update-component"
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        payload = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        if self.flask_client is not None:
            r = self.flask_client.post(path, data=payload, headers=headers)
            status, content = r.status_code, r.get_data()
        else:
            r = self.session.post(self.base_url + path, data=payload, headers=headers, timeout=self.timeout)
            status, content = r.status_code, r.content
        seconds = time.perf_counter() - t0
        data = None
        if content:
            try:
                data = json.loads(content)
            except ValueError:
                data = None
        return Reply(status, data, seconds, len(payload))

    # -- the page ---------------------------------------------------------------------

    def load(self) -> float:
        """Load the page as a browser does: index, dependencies, layout. Returns the seconds it took."""
        t = 0.0
        status, content, s = self._get("/")
        t += s
        if status != 200:
            raise RuntimeError(f"GET / answered {status}")
        m = _CONFIG.search(content.decode("utf-8"))
        config = json.loads(html_lib.unescape(m.group(1))) if m else {}
        self.end_id = config.get("end_id")
        status, content, s = self._get("/_dash-dependencies")
        t += s
        self.callbacks = [
            Callback(
                output=d["output"],
                inputs=d["inputs"],
                state=d.get("state", []),
                outputs=_split_output(d["output"]),
                multi=d["output"].startswith(".."),
                background=d.get("background"),
                clientside=bool(d.get("clientside_function")),
            )
            for d in json.loads(content)
        ]
        status, content, s = self._get("/_dash-layout")
        t += s
        self.props = {}
        self._walk(json.loads(content))
        return t

    def _walk(self, node) -> None:
        if isinstance(node, list):
            for n in node:
                self._walk(n)
            return
        if not isinstance(node, dict) or "props" not in node:
            return
        props = node["props"]
        cid = props.get("id")
        for k, v in props.items():
            if isinstance(cid, str):
                self.props[f"{cid}.{k}"] = v
            if k == "children" or isinstance(v, (dict, list)):
                self._walk(v)

    def callback(
        self, *, output: str | None = None, trigger: str | None = None, contains: str = ""
    ) -> Callback:
        """The callback with this exact ``output``, or the first one ``trigger`` ("id.prop")
        is an input of (and whose output string contains ``contains``)."""
        for cb in self.callbacks:
            if output is not None and cb.output == output:
                return cb
            if trigger is not None and trigger in cb.input_ids and contains in cb.output:
                return cb
        raise KeyError(output or trigger)

    def body(self, cb: Callback, changed: list[str], overrides: dict | None = None) -> dict:
        """The request body for ``cb`` with the page's current values (``overrides`` win)."""
        values = {**self.props, **(overrides or {})}

        def items(deps):
            return [
                {"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}
                for d in deps
            ]

        return {
            "output": cb.output,
            "outputs": cb.outputs if cb.multi else cb.outputs[0],
            "inputs": items(cb.inputs),
            "changedPropIds": list(changed),
            "state": items(cb.state),
        }

    def apply(self, cb: Callback, data: dict | None) -> None:
        """Fold a callback answer (or a background progress / side update) into the page's props."""
        if not data:
            return
        for key in ("sideUpdate", "progress"):
            for cid, props in (data.get(key) or {}).items():
                if isinstance(props, dict):
                    for k, v in props.items():
                        self.props[f"{cid}.{k}"] = v
        resp = data.get("response")
        if isinstance(resp, dict):
            for cid, props in resp.items():
                for k, v in (props or {}).items():
                    self.props[f"{cid}.{k}"] = v

    # -- calling callbacks ------------------------------------------------------------------

    def set(self, changes: dict, *, run: bool = True, only=None) -> list[Reply]:
        """Change props as a user would (``{"loss-name.value": "hinge"}``) and run the
        (non-background) callbacks they are inputs of, once each (``only``: those of
        them it accepts). Returns their replies."""
        self.props.update(changes)
        replies = []
        for cb in self.callbacks:
            changed = [c for c in changes if c in cb.input_ids]
            if not changed or cb.background or cb.clientside or not run or (only and not only(cb)):
                continue
            r = self.post_raw(self.body(cb, changed))
            if r.status == 200:
                self.apply(cb, r.data)
            replies.append(r)
        return replies

    def start_background(self, trigger: str, value, *, old_job: str | None = None):
        """Set ``trigger`` and send the request that starts the background callback it triggers.
        Returns (callback, first reply, handles {"cacheKey", "job"} or None when nothing started)."""
        cb = self.callback(trigger=trigger)
        self.props[trigger] = value
        for out, on, _off in _running(cb):
            self.props[out] = on
        query = {"oldJob": old_job} if old_job else None
        first = self.post_raw(self.body(cb, [trigger]), query)
        if first.status != 200 or not first.data or "cacheKey" not in first.data:
            return cb, first, None
        return cb, first, {"cacheKey": first.data["cacheKey"], "job": first.data["job"]}

    def poll_background(self, cb: Callback, trigger: str, handles: dict, *, timeout: float = 60.0):
        """Poll a started background callback like the renderer until it answers (or ``timeout``).
        Returns (final reply, number of polls); the reply is None on a timeout."""
        polls, end = 0, time.time() + timeout
        while time.time() < end:
            time.sleep((cb.background or {}).get("interval", 500) / 1000)
            body = self.body(cb, [trigger])
            for item in body["inputs"] + body["state"]:
                item["value"] = None  # as the renderer does while polling
            reply = self.post_raw(body, handles)
            polls += 1
            if reply.status not in (200, 204):
                return reply, polls
            self.apply(cb, reply.data)
            if reply.status == 204 or (reply.data and "response" in reply.data):
                for out, _on, off in _running(cb):
                    self.props[out] = off
                return reply, polls
        return None, polls

    def run_background(self, trigger: str, value, *, timeout: float = 60.0, old_job: str | None = None):
        """Start the background callback ``trigger`` triggers and poll it to the end.
        Returns (first reply, final reply or None on a timeout, number of polls, job handle)."""
        cb, first, handles = self.start_background(trigger, value, old_job=old_job)
        if handles is None:
            return first, first, 0, None
        reply, polls = self.poll_background(cb, trigger, handles, timeout=timeout)
        return first, reply, polls, handles["job"]

    def cancel(self, cancel_trigger: str, job: str) -> Reply:
        """Press a Stop button: Dash's cancel callback with the job to end (``cancelJob``)."""
        cb = self.callback(trigger=cancel_trigger)
        self.props[cancel_trigger] = (self.props.get(cancel_trigger) or 0) + 1
        return self.post_raw(self.body(cb, [cancel_trigger]), {"cancelJob": job})


def _running(cb: Callback) -> list[tuple[str, object, object]]:
    out = []
    for item in (cb.background or {}).get("running", []) or []:
        # the dependencies list running outputs as [ "id.prop", on, off ]
        if isinstance(item, list) and len(item) == 3:
            out.append((str(item[0]), item[1], item[2]))
    return out
