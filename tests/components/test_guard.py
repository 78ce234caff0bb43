"""The boundary: every callback input is untrusted.

The parsing helpers and :func:`components.guard.guarded` as plain functions,
then requests posted to ``/_dash-update-component`` through Flask's test
client, built as the renderer builds them (``bench/dash_client.py``): values
outside the option list, NaN, ±Infinity, 1e400, negative and huge sizes, the
wrong types, lists where numbers belong. Each is rejected with a message that
names the control, the other outputs stay as they were, and no request is
answered with a 500.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import tracemalloc

import numpy as np
import pytest
from dash import DiskcacheManager, no_update
from dash.exceptions import PreventUpdate

import app
from bench.dash_client import DashClient
from components import guard, ids, jobs, session, training
from core import data as core_data

LOG = np.log10
NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def _keep_test_priority(monkeypatch):
    """train_job renices its (job) process; called in-process here, it must not renice pytest."""
    monkeypatch.setattr(training, "_lower_priority", lambda: None)


# -- InputError and guarded ----------------------------------------------------------------


def test_guard001_input_error_names_the_control_and_is_a_value_error():
    exc = guard.InputError("seed", "must be at least 0, not -3")
    assert isinstance(exc, ValueError) and exc.control == "seed"
    assert str(exc) == "seed: must be at least 0, not -3"
    assert str(guard.InputError("seed", "seed must be at least 0")) == "seed must be at least 0"


def test_guard002_guarded_turns_rejections_into_the_alert_and_keeps_other_outputs():
    @guard.guarded(outputs=3, alert=1, prefix="Cannot: ")
    def cb(v):
        return session._int(v, "seed", 0), "ok", "ok"

    first, alert, third = cb(-1)
    assert first is no_update and third is no_update
    assert "Cannot: seed must be at least 0" in str(alert) and "role" in str(alert.to_plotly_json())
    assert cb(5) == (5, "ok", "ok")


def test_guard003_wrong_types_and_surprises_are_one_line_never_a_traceback():
    @guard.guarded(outputs=2, alert=1)
    def wrong_type(v):
        return v["key"], None  # a list where a dict belongs: TypeError

    @guard.guarded(outputs=2, alert=1)
    def surprise(_v):
        raise RuntimeError("internal detail\nTraceback (most recent call last): ...")

    _, a1 = wrong_type([1])
    assert "wrong type" in a1.children and "Traceback" not in a1.children
    _, a2 = surprise(1)
    assert "failed (RuntimeError)" in a2.children and "internal detail" not in a2.children


def test_guard004_without_an_alert_output_a_rejection_changes_nothing():
    @guard.guarded(outputs=2)
    def cb(v):
        return session._number(v, "x"), 1

    with pytest.raises(PreventUpdate):
        cb(NAN)

    @guard.guarded(outputs=1)
    def passes_prevent(_v):
        raise PreventUpdate

    with pytest.raises(PreventUpdate):
        passes_prevent(1)


def test_guard005_background_error_text_keeps_the_message_and_drops_the_traceback():
    from dash.exceptions import BackgroundCallbackError

    busy = BackgroundCallbackError("An error occurred inside a background callback: The server is busy.\n")
    crash = BackgroundCallbackError(
        'An error occurred inside a background callback: boom\nTraceback (most recent call last):\n  File "x"'
    )
    assert guard.error_text(busy) == "The server is busy."
    assert "Traceback" not in guard.error_text(crash) and "boom" not in guard.error_text(crash)
    assert guard.error_text(KeyError("x")) == "Something failed (KeyError); see the server log."


# -- the parsing helpers ------------------------------------------------------------------------

NOT_NUMBERS = [None, True, "abc", "1" * 100, [1], {"a": 1}, NAN, INF, -INF, 10**400, 1e400]


@pytest.mark.parametrize("v", NOT_NUMBERS, ids=repr)
def test_guard010_numbers_must_be_finite_numbers(v):
    with pytest.raises(guard.InputError, match="learning rate"):
        session._number(v, "learning rate")


SLIDERS = {
    "training samples": (lambda v: session.size_from_slider(v, "training samples"), [-1e6, -0.5, 7.5, 400.0]),
    "regularization": (session.reg_from_slider, [-8.0, 2.5, 1e12]),
    "learning rate": (lambda v: session.pow10(v, "learning rate", *session.LR_RANGE), [-7.0, 1.5, 400.0]),
    "batch size": (lambda v: session._stop(v, session.BATCH_SIZES, "batch size"), [2.5, LOG(3), 6.0, -1.0]),
    "epochs": (lambda v: session._stop(v, session.EPOCH_CHOICES, "epochs"), [LOG(1000), LOG(10**6), 0.5]),
    "seed": (lambda v: session._int(v, "seed", 0, session.SEED_MAX), [-1, 2.5, 2**32, 1e12]),
}


@pytest.mark.parametrize("control", list(SLIDERS))
@pytest.mark.parametrize("kind", ["out of range", "not a number"])
def test_guard011_slider_positions_off_the_slider_are_rejected(control, kind):
    call, off = SLIDERS[control]
    for v in off if kind == "out of range" else NOT_NUMBERS[:6]:
        with pytest.raises(guard.InputError) as err:
            call(v)
        assert control in str(err.value), (v, str(err.value))


def test_guard012_choices_must_be_on_offer():
    for v in ("nope", 1, ["standardize"], None, {"x": 1}):
        with pytest.raises(guard.InputError, match="preprocessing"):
            session.data_choice(core_data.BUILTIN, LOG(500), LOG(100), v)
        with pytest.raises(guard.InputError, match="loss"):
            session.loss_choice(v, -3, "half", ["bias"], 1.0)
        with pytest.raises(guard.InputError, match="penalty"):
            session.loss_choice("softmax", -3, v, ["bias"], 1.0)
        with pytest.raises(guard.InputError, match="differences"):
            session.check_choice(LOG(50), 1e-5, v, "all", 10)
    for v in (["bias", "bias"], ["x"], "bias", 1, {"bias": 1}):
        with pytest.raises(guard.InputError, match="bias"):
            session.loss_choice("softmax", -3, "half", v, 1.0)
    with pytest.raises(guard.InputError, match="planted bug"):
        session.check_choice(LOG(50), 1e-5, "central", "all", 10, "rm -rf")
    with pytest.raises(guard.InputError, match="margin"):
        session.loss_choice("hinge", -3, "half", [], 1e9)
    with pytest.raises(guard.InputError, match="step h"):
        session.check_choice(LOG(50), 10.0, "central", "all", 10)
    with pytest.raises(guard.InputError, match="entries"):
        session.check_choice(LOG(50), 1e-5, "central", "random", 10**9)
    with pytest.raises(guard.InputError, match="gradient check samples"):
        session.check_choice(LOG(7), 1e-5, "central", "all", 10)  # 7 is not a stop


def test_guard013_a_data_folder_is_never_named_from_the_page(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    for key in (str(tmp_path), f"data:{tmp_path}", "data:../../etc", "/etc/passwd", "x" * 500, ["data:x"]):
        with pytest.raises(ValueError, match="dataset"):
            session.prepared(session.data_choice(key, LOG(500), LOG(100), "standardize"))


def _payload(shape, dtype="float32", b64=None):
    n = int(np.prod(shape)) * (8 if dtype == "float64" else 4)
    return {
        "shape": shape,
        "dtype": dtype,
        "b64": b64 if b64 is not None else base64.b64encode(bytes(n)).decode(),
    }


@pytest.mark.parametrize(
    "payload",
    [
        "b64",
        ["b64"],
        _payload([785, 10], b64="AAAA"),  # too short for its shape
        _payload([785, 10], dtype="object"),
        _payload([10**6, 10**6], b64="AAAA"),  # a huge shape with a tiny body: rejected, nothing allocated
        _payload([785, -10], b64="AAAA"),
        _payload([785.0, 10.0]),
        _payload([7850]),
        _payload([2, 2], b64="!!!!!!!!!!!!!!!!!!!!!!!!"),
    ],
)
def test_guard014_weights_from_the_page_are_checked_before_decoding(payload):
    tracemalloc.start()
    try:
        with pytest.raises(guard.InputError, match="weights"):
            session.decode_weights(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert session.decode_weights(None) is None and session.decode_weights({}) is None


@pytest.mark.parametrize(
    "history",
    [
        "x",
        {"sig": "x"},
        {"sig": [[1]], "step": [1]},
        {"sig": [], "step": [1, 2], "loss": [1.0]},  # columns of different lengths
        {"sig": [], "step": ["a"]},
        {"sig": [], "step": list(range(5000))},  # longer than any history the app makes
    ],
)
def test_guard015_malformed_histories_are_rejected(history):
    with pytest.raises(guard.InputError, match="history"):
        session.check_history(history)


def test_guard016_snapshots_marks_session_ids_and_clicks():
    for snap in ("x", {"run": -1, "step": 0, "dataset": "d", "weights": {}}, {"run": 1, "step": "2"}):
        with pytest.raises(guard.InputError):
            session.check_snapshot(snap)
    with pytest.raises(guard.InputError):
        session.check_mark({"run": "1"})
    for store in (None, {}, {"id": 5}, {"id": "../x"}, {"id": "a" * 100}, ["id"]):
        with pytest.raises(guard.InputError, match="session"):
            session.session_id(store)
    assert session.session_id({"id": "0123456789abcdef0123456789abcdef"})
    for n in (-1, 1.5, "x", [1], 1e300):
        with pytest.raises(guard.InputError, match="Train"):
            session.clicks(n, "Train button")


def test_guard017_no_allocation_sized_by_an_untrusted_number():
    """Sizes far beyond the dataset are refused by the data layer before anything is allocated."""
    session.prepared(session.data_choice(core_data.BUILTIN, LOG(500), LOG(100), "standardize"))  # warm
    tracemalloc.start()
    try:
        for train, test in ((session.SIZE_POSITION_MAX, LOG(100)), (LOG(500), session.SIZE_POSITION_MAX)):
            with pytest.raises(ValueError, match="samples"):
                session.prepared(session.data_choice(core_data.BUILTIN, train, test, "standardize"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # 10 million float64 samples of 784 pixels would be 62 GB


# -- the training callback as a function -----------------------------------------------------------

W0 = None


def train_args(**changes):
    global W0
    if W0 is None:
        W0 = session.initial_weights(core_data.BUILTIN, "gaussian", 0)
    args = dict(
        n_clicks=1,
        dataset=core_data.BUILTIN,
        train_size=LOG(200),
        test_size=LOG(100),
        preprocessing="standardize",
        loss="softmax",
        delta=1.0,
        reg=-3.0,
        reg_mode="half",
        reg_bias=["bias"],
        init="gaussian",
        seed=0,
        lr=-3.0,
        batch=LOG(50),
        epochs=LOG(1),
        pace="fast",
        scale="shared",
        weights=W0,
        history=None,
        session={"id": "t"},
    )
    args.update(changes)
    return list(args.values())


@pytest.mark.parametrize(
    "field, value, control",
    [
        ("n_clicks", "1; drop", "Train button"),
        ("train_size", 1e400, "training samples"),
        ("test_size", [3], "test samples"),
        ("lr", 50.0, "learning rate"),
        ("batch", LOG(3), "batch size"),
        ("epochs", LOG(10**6), "epochs"),
        ("seed", 2**40, "seed"),
        ("init", "ones", "initial weights"),
        ("pace", "ludicrous", "pace"),
        ("scale", {"x": 1}, "templates scale"),
        ("weights", {"dataset": core_data.BUILTIN, "shape": [785, 10], "b64": "AAAA"}, "weights"),
        ("history", {"sig": [], "step": "1"}, "history"),
        ("session", {"id": ["x"]}, "session"),
        ("delta", NAN, "margin"),
        ("reg_bias", "yes", "bias"),
    ],
)
def test_guard020_train_rejects_each_bad_value_with_its_control_and_starts_nothing(field, value, control):
    progress = []
    result, alert = training.train_job(progress.append, *train_args(**{field: value}))
    assert result is no_update and not progress
    assert "Cannot train" in alert.children and control.lower() in alert.children.lower(), alert.children


# -- over HTTP: requests as a client can post them -----------------------------------------------------


@pytest.fixture(scope="module")
def client():
    c = DashClient(flask_client=app.app.server.test_client())
    c.load()
    return c


# control (its input) -> the word the message must contain, and values that must be rejected
CONTROLS = {
    f"{ids.DATASET}.value": ("dataset", ["../../etc/passwd", 5, ["mnist-sample"], {"a": 1}]),
    f"{ids.TRAIN_SIZE}.value": ("training samples", [NAN, INF, 400, -5, "3e99", [3.7]]),
    f"{ids.TEST_SIZE}.value": ("test samples", [NAN, -INF, 1e300, [3]]),
    f"{ids.PREPROCESSING}.value": ("preprocessing", ["rm", 1, None, ["scale"]]),
    f"{ids.LOSS}.value": ("loss", ["mse", 3, ["softmax"], {"x": 1}]),
    f"{ids.DELTA}.value": ("margin", [NAN, -1, 1e9, "x", [1]]),
    f"{ids.REG}.value": ("regularization", [NAN, INF, 1e400, 50, [1]]),
    f"{ids.REG_MODE}.value": ("penalty", ["both", 0, None]),
    f"{ids.REG_BIAS}.value": ("bias", ["bias", ["x"], 5, {"bias": True}]),
    f"{ids.GC_SAMPLES}.value": ("gradient check samples", [NAN, 2.5, 1e9, "x"]),
    f"{ids.GC_H}.value": ("step h", [0, -1e-5, NAN, INF, 1e300, "abc", [1e-5]]),
    f"{ids.GC_METHOD}.value": ("differences", ["backward", None, 1]),
    f"{ids.GC_ENTRIES}.value": ("entries", ["some", 1, None]),
    f"{ids.GC_BUG}.value": ("bug", ["no-such-bug", 5, ["sign-flip"]]),
    f"{ids.WEIGHTS_STORE}.data": ("weights", ["b64", [1], {"b64": "AAAA", "shape": [10**6, 10**6]}]),
}


def _alert_text(reply, alert_id):
    children = ((reply.data or {}).get("response") or {}).get(alert_id, {}).get("children")
    return json.dumps(children) if children is not None else ""


@pytest.mark.parametrize("control", list(CONTROLS))
def test_guard030_recompute_over_http_names_the_control_and_keeps_the_results(client, control):
    cb = client.callback(trigger=f"{ids.GC_H}.value", contains=ids.ALERT_COMPUTE)
    word, values = CONTROLS[control]
    for v in values:
        r = client.post_raw(client.body(cb, [control], {control: v}))
        assert r.status == 200, (v, r.status)
        response = r.data["response"]
        assert set(response) == {ids.ALERT_COMPUTE}, (v, set(response))  # the old results stay
        assert word.lower() in _alert_text(r, ids.ALERT_COMPUTE).lower(), (
            v,
            _alert_text(r, ids.ALERT_COMPUTE),
        )


def test_guard031_subset_size_is_checked_when_random_entries_are_chosen(client):
    cb = client.callback(trigger=f"{ids.GC_H}.value", contains=ids.ALERT_COMPUTE)
    for v in (0, -3, 10**12, NAN, 2.5, "x"):
        over = {f"{ids.GC_ENTRIES}.value": "random", f"{ids.GC_SUBSET}.value": v}
        r = client.post_raw(client.body(cb, [f"{ids.GC_SUBSET}.value"], over))
        assert r.status == 200 and "entries" in _alert_text(r, ids.ALERT_COMPUTE)


def test_guard032_reset_weights_over_http(client):
    cb = client.callback(trigger=f"{ids.INIT}.value", contains=ids.ALERT_TRAIN)
    for key, v, word in (
        (f"{ids.SEED}.value", -3, "seed"),
        (f"{ids.SEED}.value", 2**64, "seed"),
        (f"{ids.SEED}.value", "7; rm", "seed"),
        (f"{ids.INIT}.value", "ones", "initial weights"),
        (f"{ids.DATASET}.value", "data:../x", "dataset"),
    ):
        r = client.post_raw(client.body(cb, [key], {key: v}))
        assert r.status == 200 and set(r.data["response"]) == {ids.ALERT_TRAIN}
        assert word in _alert_text(r, ids.ALERT_TRAIN), (v, _alert_text(r, ids.ALERT_TRAIN))


# a few values that are wrong for any control, posted to every callback the app has
NASTY = [NAN, 10**30, [1, [2]], {"b64": 1, "shape": [10**9, 10**9]}]


def test_guard040_no_callback_answers_500_to_any_nasty_value(client, monkeypatch):
    """Every server-side callback of the page (also the other views' and the background ones),
    every input and state. A background callback's job is not started here (a value its check
    lets through would start one per post): test_guard043-046 run them."""
    started = []
    monkeypatch.setattr(DiskcacheManager, "call_job_fn", lambda self, key, *_a: started.append(key) or "0")
    failures = []
    n = n_background = 0
    for cb in client.callbacks:
        n_background += bool(cb.background)
        for dep in cb.inputs + cb.state:
            if str(dep["id"]).startswith("{"):
                continue  # pattern-matching inputs: the lists the renderer builds
            key = f"{dep['id']}.{dep['property']}"
            changed = [key] if key in cb.input_ids else cb.input_ids[:1]
            for v in NASTY:
                r = client.post_raw(client.body(cb, changed, {key: v}))
                n += 1
                if r.status not in (200, 204, 400) or "Traceback" in json.dumps(r.data):
                    failures.append((cb.output[:60], key, repr(v)[:30], r.status))
    assert n > 200 and n_background >= 4 and not failures, failures


def test_guard041_malformed_envelopes_are_400_not_500(client):
    cb = client.callback(trigger=f"{ids.GC_H}.value", contains=ids.ALERT_COMPUTE)
    good = client.body(cb, [f"{ids.GC_H}.value"])
    bad_bodies = [
        [],
        "x",
        None,
        {},
        {"output": "nope.children"},
        {**good, "output": 5},
        {**good, "inputs": good["inputs"][:-1]},
        {**good, "inputs": "x"},
        {**good, "state": [{"id": "x", "property": "y", "value": 1}]},
        {**good, "inputs": [{"id": "weights-store", "property": "data", "value": 1}] * len(good["inputs"])},
        {**good, "changedPropIds": "x"},
        {**good, "changedPropIds": [1]},
        {**good, "outputs": [{"id": "x", "property": "y"}]},
        {**good, "outputs": ["x"]},
    ]
    for body in bad_bodies:
        r = client.post_raw(body)
        assert r.status == 400, (body if not isinstance(body, dict) else list(body), r.status)
        assert "Traceback" not in json.dumps(r.data)
    for raw in (b"{not json", b"\xff\xfe", b'{"output": ' * 1000):
        assert client.post_raw(None, raw=raw).status == 400
    clientside = next(c for c in app.app.callback_map if "callback" not in app.app.callback_map[c])
    assert client.post_raw({**good, "output": clientside}).status == 400


def test_guard042_nan_and_infinity_literals_in_the_json_are_rejected_like_any_bad_value(client):
    cb = client.callback(trigger=f"{ids.GC_H}.value", contains=ids.ALERT_COMPUTE)
    body = json.dumps(client.body(cb, [f"{ids.GC_H}.value"], {f"{ids.GC_H}.value": INF}))
    assert "Infinity" in body
    r = client.post_raw(None, raw=body.encode())
    assert r.status == 200 and "step h" in _alert_text(r, ids.ALERT_COMPUTE)


# -- background callbacks over HTTP: Train is checked before a job is started ---------------------------

TRAIN = f"{ids.TRAIN_BUTTON}.n_clicks"
GOOD_W = session.initial_weights(core_data.BUILTIN, "gaussian", 0)

# every input and state of Train -> the word its message must contain, and values it must refuse:
# NaN, ±Infinity and 1e400 (JSON Infinity), negative, huge, the wrong type, a list, off the option list
# (a number as a string, "7", is a number: the number inputs may send one)
TRAIN_BAD = {
    TRAIN: ("Train button", [NAN, INF, -1, 10**30, 2.5, "one", [1], {"n": 1}]),
    f"{ids.DATASET}.value": ("dataset", ["../../etc/passwd", "data:/etc", 5, ["mnist-sample"], {"a": 1}]),
    f"{ids.TRAIN_SIZE}.value": ("training samples", [NAN, 1e400, -5, 400, 10**30, "3e99", "x", [3.7]]),
    f"{ids.TEST_SIZE}.value": ("test samples", [NAN, -INF, -1, 1e300, "2e300", [3]]),
    f"{ids.PREPROCESSING}.value": ("preprocessing", ["rm", 1, None, ["scale"]]),
    f"{ids.LOSS}.value": ("loss", ["mse", 3, None, ["softmax"], {"x": 1}]),
    f"{ids.DELTA}.value": ("margin", [NAN, INF, -1, 1e9, "x", [1]]),
    f"{ids.REG}.value": ("regularization", [NAN, 1e400, -50, 50, "x", [1]]),
    f"{ids.REG_MODE}.value": ("penalty", ["both", 0, None, ["half"]]),
    f"{ids.REG_BIAS}.value": ("bias", ["bias", ["x"], ["bias", "bias"], 5]),
    f"{ids.INIT}.value": ("initial weights", ["ones", 3, ["zeros"]]),
    f"{ids.SEED}.value": ("seed", [NAN, 1e400, -3, 2**64, 2.5, "seven", [7]]),
    f"{ids.LR}.value": ("learning rate", [NAN, INF, -50, 50, "x", [-3]]),
    f"{ids.BATCH_SIZE}.value": ("batch size", [NAN, 1e400, -1, 99, LOG(3), "x", [2]]),
    f"{ids.EPOCHS}.value": ("epochs", [NAN, INF, -1, LOG(10**6), "x", [1]]),
    f"{ids.TRAIN_PACE}.value": ("pace", ["ludicrous", 1, None, ["fast"]]),
    f"{ids.TEMPLATES_SCALE}.value": ("templates scale", ["huge", 1, None, ["shared"]]),
    f"{ids.WEIGHTS_STORE}.data": (
        "weights",
        [
            NAN,
            "b64",
            [1],
            {**GOOD_W, "b64": "AAAA"},  # too short for its shape
            {**GOOD_W, "b64": "!" * 40},
            {**GOOD_W, "dtype": "object"},
            {**GOOD_W, "b64": 5},
        ],
    ),
    f"{ids.HISTORY_STORE}.data": (
        "history",
        [NAN, "x", [1], {"sig": [], "step": "1"}, {"sig": [], "step": list(range(5000))}],
    ),
    f"{ids.SESSION_STORE}.data": (
        "session",
        [None, NAN, "x", {"id": ["x"]}, {"id": "../x"}, {"id": "a" * 100}],
    ),
}


@pytest.fixture
def nothing_starts(monkeypatch):
    """Starting a job fails the test: Dash's manager is never reached."""

    def started(*_a, **_k):
        raise AssertionError("a job was started")

    monkeypatch.setattr(DiskcacheManager, "call_job_fn", started)


def test_guard043_train_is_rejected_over_http_before_any_job_starts(client, nothing_starts):
    """Each bad value of every Train input and state, posted as the renderer posts a click: the
    answer comes at once (no job handle to poll, no job process, no slot), names the control in
    the train alert and changes nothing else (the weights and the last result stay)."""
    cb = client.callback(trigger=TRAIN)
    assert cb.background
    assert {f"{d['id']}.{d['property']}" for d in cb.inputs + cb.state} == set(TRAIN_BAD)  # every one
    page_w = client.props[f"{ids.WEIGHTS_STORE}.data"]
    assert page_w["shape"] == GOOD_W["shape"] and page_w["dataset"] == GOOD_W["dataset"]
    failures = []
    for control, (word, values) in TRAIN_BAD.items():
        for v in values:
            over = {TRAIN: 1, f"{ids.TRAIN_PACE}.value": "fast", control: v}
            r = client.post_raw(client.body(cb, [TRAIN], over))
            text = _alert_text(r, ids.ALERT_TRAIN)
            ok = (
                r.status == 200
                and "cacheKey" not in r.data
                and "job" not in r.data
                and set(r.data.get("response", {})) == {ids.ALERT_TRAIN}
                and "Cannot train" in text
                and word.lower() in text.lower()
                and "Traceback" not in json.dumps(r.data)
            )
            if not ok:
                failures.append((control, repr(v)[:40], r.status, json.dumps(r.data)[:200]))
    assert not failures, failures
    assert jobs.slots_in_use() == 0


def test_guard044_a_valid_train_request_still_starts_its_job(client):
    """The check lets the page's own values through: the same request, with good values, starts
    a job (a handle to poll) whose result comes back; its slot is free afterwards."""
    c = DashClient(flask_client=app.app.server.test_client())
    c.load()
    c.props[f"{ids.TRAIN_PACE}.value"] = "fast"
    first, final, polls, job = c.run_background(TRAIN, 1, timeout=60)
    assert first.status == 200 and "cacheKey" in first.data and job
    assert final is not None and final.status == 200, final
    assert final.data["response"][ids.RESULT_STORE]["data"]["run"] == 1
    assert jobs.slots_in_use() == 0


# -- the other background callbacks over HTTP: "train both", the grid search, a grid-cell click -------------
# Checked before a job is started too (jobs.checked_first: compare.check_compare, hypergrid.check_grid and
# check_cell): a bad value is answered at once, and the manager is never asked to start a job.


@pytest.fixture(scope="module")
def bg_client():
    c = DashClient(flask_client=app.app.server.test_client())
    c.load()
    c.props.update(
        {f"{ids.HYPERGRID_LRS}.value": "lr2", f"{ids.HYPERGRID_REGS}.value": "reg2"}
    )  # mounted later
    return c


@pytest.fixture
def job_starts(monkeypatch):
    """Where Dash's manager would start a job: its key is recorded and a stub handle answered (nothing runs)."""
    started = []
    monkeypatch.setattr(DiskcacheManager, "call_job_fn", lambda self, key, *_a: started.append(key) or "0")
    return started


def _post(c: DashClient, trigger: str, over: dict):
    """Post ``trigger``'s background callback as the renderer starts it, ``over`` as the page's values."""
    cb = c.callback(trigger=trigger)
    assert cb.background
    return c.post_raw(c.body(cb, [trigger], over))


def _text(reply, output_id) -> str:
    children = ((reply.data or {}).get("response") or {}).get(output_id, {}).get("children")
    return json.dumps(children, ensure_ascii=False)


def _answered_at_once(reply, output_id: str, words: tuple[str, ...]) -> bool:
    """A 200 with no job handle to poll, only ``output_id`` changed, its message holding ``words``."""
    data = reply.data or {}
    text = _text(reply, output_id).lower()
    return (
        reply.status == 200
        and "cacheKey" not in data
        and "job" not in data
        and set(data.get("response", {})) == {output_id}
        and all(w.lower() in text for w in words)
        and "Traceback" not in json.dumps(data)
    )


COMPARE_BAD = {
    f"{ids.DATASET}.value": ("dataset", ["../../etc/passwd", 5, ["mnist-sample"], {"a": 1}]),
    f"{ids.TRAIN_SIZE}.value": ("training samples", [NAN, 1e400, -5, 400, 10**30, "x", [3.7]]),
    f"{ids.TEST_SIZE}.value": ("test samples", [NAN, -INF, 1e300, [3]]),
    f"{ids.PREPROCESSING}.value": ("preprocessing", ["rm", 1, None, ["scale"]]),
    f"{ids.REG}.value": ("regularization", [NAN, 1e400, 50, "x", [1]]),
    f"{ids.REG_MODE}.value": ("penalty", ["both", 0, None, ["half"]]),
    f"{ids.REG_BIAS}.value": ("bias", [5, ["x"], "bias"]),
    f"{ids.DELTA}.value": ("margin", [NAN, INF, -1, [1]]),
    f"{ids.INIT}.value": ("initial weights", ["ones", 3, ["zeros"]]),
    f"{ids.SEED}.value": ("seed", [NAN, -3, 2**64, 2.5, [7]]),
    f"{ids.LR}.value": ("learning rate", [NAN, INF, 50, [-3]]),
    f"{ids.BATCH_SIZE}.value": ("batch size", [NAN, -1, LOG(3), "x"]),
    f"{ids.EPOCHS}.value": ("epochs", [NAN, INF, LOG(10**6), [1]]),
}


def _good_starts_bad_refused(bg_client, job_starts, trigger, bad: dict, output_id: str, refusal: str):
    """A click with the page's own values starts a job; a click with any one of ``bad``'s values
    (control -> (word naming it, values)) is answered at once in ``output_id`` with ``refusal``
    and that word, and starts no job and holds no slot."""
    r = _post(bg_client, trigger, {trigger: 1})
    assert r.status == 200 and "cacheKey" in r.data and len(job_starts) == 1, r.data
    failures = []
    for control, (word, values) in bad.items():
        for v in values:
            r = _post(bg_client, trigger, {trigger: 1, control: v})
            if not _answered_at_once(r, output_id, (refusal, word)):
                failures.append((control, repr(v)[:30], r.status, json.dumps(r.data)[:160]))
    assert not failures, failures
    assert len(job_starts) == 1  # the good request's only
    assert jobs.slots_in_use() == 0


def test_guard045_train_both_is_rejected_over_http_before_any_job_starts(bg_client, job_starts):
    """The page's own values pass the check (the manager is asked to start the job); each bad value
    is answered at once (no job handle, no job, no slot), naming the control in the comparison's
    summary, every other output (the two runs' figures and numbers) unchanged."""
    _good_starts_bad_refused(
        bg_client,
        job_starts,
        f"{ids.COMPARE_BUTTON}.n_clicks",
        COMPARE_BAD,
        ids.COMPARE_SUMMARY,
        "Cannot train",
    )


GRID_BAD = {
    f"{ids.HYPERGRID_BUTTON}.n_clicks": ("Run grid button", [NAN, -1, "one", [1]]),
    f"{ids.HYPERGRID_LRS}.value": ("learning-rate grid", ["lr999", 5, None, ["lr4"], {"lr4": 1}]),
    f"{ids.HYPERGRID_REGS}.value": ("λ grid", ["reg999", None, 1e400, ["reg4"]]),
    f"{ids.LOSS}.value": ("loss", ["mse", 3, ["softmax"]]),
    f"{ids.DATASET}.value": ("dataset", [5, "../../etc/passwd"]),
    f"{ids.TRAIN_SIZE}.value": ("training samples", [1e400, NAN, -5]),
    f"{ids.TEST_SIZE}.value": ("test samples", [NAN, [3]]),
    f"{ids.PREPROCESSING}.value": ("preprocessing", [["scale"], "rm"]),
    f"{ids.REG}.value": ("regularization", [NAN, 50]),
    f"{ids.REG_MODE}.value": ("penalty", ["both"]),
    f"{ids.REG_BIAS}.value": ("bias", [5]),
    f"{ids.DELTA}.value": ("margin", [INF]),
    f"{ids.INIT}.value": ("initial weights", ["ones"]),
    f"{ids.SEED}.value": ("seed", [-3, 2**64]),
    f"{ids.LR}.value": ("learning rate", [NAN]),
    f"{ids.BATCH_SIZE}.value": ("batch size", ["x"]),
    f"{ids.EPOCHS}.value": ("epochs", [LOG(10**6)]),
}


def test_guard046_grid_search_is_rejected_over_http_before_any_job_starts(bg_client, job_starts):
    """As test_guard045 for the grid search: the message in the grid's message line, the grid (its
    store, streamed as progress) untouched, no job started for a bad value."""
    _good_starts_bad_refused(
        bg_client,
        job_starts,
        f"{ids.HYPERGRID_BUTTON}.n_clicks",
        GRID_BAD,
        ids.HYPERGRID_MESSAGE,
        "Cannot run the grid",
    )


def test_guard047_grid_search_refuses_a_list_for_its_grid_choice_by_name(bg_client, job_starts):
    """A list (unhashable) for a grid preset names its control, over HTTP and in the job itself."""
    from components import hypergrid

    args = dict(
        n_clicks=1, lr_key="lr2", reg_key="reg2", dataset=core_data.BUILTIN, train_size=LOG(500),
        test_size=LOG(100), preprocessing="standardize", loss="softmax", reg=-3.0, reg_mode="half",
        reg_bias=["bias"], delta=1.0, init="gaussian", seed=2, lr=-2.0, batch=LOG(100), epochs=LOG(2),
        _session={"id": "t"},
    )  # fmt: skip
    for control, key, word in (
        (f"{ids.HYPERGRID_LRS}.value", "lr_key", "learning-rate grid"),
        (f"{ids.HYPERGRID_REGS}.value", "reg_key", "λ grid"),
    ):
        r = _post(bg_client, f"{ids.HYPERGRID_BUTTON}.n_clicks", {control: ["lr4", "reg4"]})
        assert _answered_at_once(r, ids.HYPERGRID_MESSAGE, ("Cannot run the grid", word)), r.data
        text = str(hypergrid.grid_job(lambda _p: None, **{**args, key: ["lr4", "reg4"]}))
        assert "Cannot run the grid" in text and word in text and "TypeError" not in text, text
    assert not job_starts


def _grid_store() -> dict:
    """A well-formed 2 × 2 grid store (no cell computed: the check does not need them)."""
    from components import hypergrid

    data = session.data_choice(core_data.BUILTIN, LOG(500), LOG(100), "standardize")
    prep = session.prepared(data)
    lc = session.loss_choice("softmax", -3.0, "half", ["bias"], 1.0)
    cfg = training.train_config(lc, -2.0, LOG(100), LOG(2), "gaussian", 2, prep.X_train.shape[0])
    cfg = dataclasses.replace(cfg, iterations=10)
    return hypergrid.grid_store(data, cfg, (1e-3, 1e-2), (1e-4, 1e-1), prep.n_classes, [])


def test_guard048_a_grid_cell_click_with_bad_values_is_answered_before_any_job_starts(bg_client, job_starts):
    """Re-running a clicked cell: a click on a cell of a good grid starts its job; no click starts
    nothing and changes nothing (204). A click that is not on a cell (outside the grid, malformed
    click data) names the grid cell, a missing or malformed grid store says so: at once, in the
    cell's line only (its figures stay), never a 500 or a traceback, and no job is started."""
    trigger = f"{ids.HYPERGRID_HEATMAP}.clickData"
    store_key = f"{ids.HYPERGRID_STORE}.data"
    store = _grid_store()
    click = {"points": [{"x": 1, "y": 1}]}
    r = _post(bg_client, trigger, {trigger: click, store_key: store})
    assert r.status == 200 and "cacheKey" in r.data and len(job_starts) == 1, r.data
    r = _post(bg_client, trigger, {trigger: None, store_key: store})
    assert r.status == 204 and len(job_starts) == 1
    cases = [
        (store, {"points": [{"x": 1e400, "y": NAN}]}, "grid cell"),
        (store, {"points": [{"x": -1, "y": 10**30}]}, "grid cell"),
        (store, {"points": [{"x": 2, "y": 0}]}, "grid cell"),  # one column past the last
        (store, {"points": [{"x": 0, "y": 2}]}, "grid cell"),
        (store, {"points": []}, "grid cell"),
        (store, "x", "grid cell"),
        (store, [1], "grid cell"),
        (None, click, "Run grid"),
        ("x", click, "Run grid"),
        ({**store, "lrs": [NAN] * 3}, click, "lrs"),
        ({**store, "regs": list(range(20))}, click, "regs"),
        ({**store, "config": {**store["config"], "iterations": 10**7}}, click, "at most"),
        ({**store, "n_classes": 10**4}, click, "classes"),
        ({"lrs": [1e-3] * 3, "regs": [1e-3] * 3, "data": {"dataset": "../x"}}, click, "wrong type"),
    ]
    failures = []
    for bad_store, value, word in cases:
        r = _post(bg_client, trigger, {trigger: value, store_key: bad_store})
        if not _answered_at_once(r, ids.HYPERGRID_CELL, (word,)):
            failures.append((repr(bad_store)[:40], repr(value)[:40], r.status, json.dumps(r.data)[:160]))
    assert not failures, failures
    assert len(job_starts) == 1
    assert jobs.slots_in_use() == 0
    from components import hypergrid

    tpl, crv, line = hypergrid.grid_cell_job(
        {"points": [{"x": 2, "y": 0}]}, store, {"id": "t"}
    )  # the job's own
    assert tpl is no_update and crv is no_update and "grid cell" in str(line)
