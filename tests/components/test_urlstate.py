"""Tests for components/urlstate.py: lecture state <-> URL query string."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from components import urlstate

SCHEMA = {
    "loss": ("softmax", "hinge", "ova-hinge", "structured-hinge"),
    "reg": {"type": float, "min": 0.0, "max": 10.0},
    "lr": float,
    "seed": {"type": int, "min": 0, "max": 2**31 - 1},
    "steps": (41, 81),
    "reg_bias": bool,
    "title": {"type": str, "max_len": 60},
}
DEFAULTS = {
    "loss": "softmax",
    "reg": 1e-4,
    "lr": 1e-3,
    "seed": 0,
    "steps": 41,
    "reg_bias": True,
    "title": "",
}


def test_url001_round_trip_every_type():
    states = [
        {"loss": "hinge", "reg": 0.001, "seed": 3},
        {"reg": 1e-5, "lr": 0.1 + 0.2, "reg_bias": False, "steps": 81},
        {"title": "Lecture 3: SVM vs softmax & friends/100% ünïcode?#=+", "loss": "structured-hinge"},
        {"reg": 5e-324, "lr": 1.7976931348623157e308, "seed": 2**31 - 1},
        {"reg": 0.0, "lr": -2.5e-7, "seed": 0},
    ]
    for changes in states:
        state = {**DEFAULTS, **changes}
        before = dict(state)
        query = urlstate.encode_state(state, DEFAULTS)
        assert query.startswith("?") or query == ""
        decoded, errors = urlstate.decode_state(query, SCHEMA, DEFAULTS)
        assert errors == []
        assert decoded == state
        for key in state:  # exact types and float bits, not just ==
            assert type(decoded[key]) is type(state[key]), key
            if isinstance(state[key], float):
                assert decoded[key].hex() == state[key].hex(), key
        assert state == before  # inputs unmutated


def test_url002_short_sorted_and_only_non_defaults():
    state = dict(reversed({**DEFAULTS, "seed": 3, "loss": "hinge", "reg": 0.001}.items()))
    assert list(state)[0] == "title"  # insertion order is not the output order
    assert urlstate.encode_state(state, DEFAULTS) == "?loss=hinge&reg=0.001&seed=3"
    assert urlstate.encode_state(dict(DEFAULTS), DEFAULTS) == ""
    # equal numbers of another type are still the default; True is not 1
    assert urlstate.encode_state({"reg": 0.0001, "seed": 0.0}, {"reg": 1e-4, "seed": 0}) == ""
    assert urlstate.encode_state({"flag": 1}, {"flag": True}) == "?flag=1"
    assert urlstate.encode_state({"reg": 1e-05, "reg_bias": False}, DEFAULTS) == "?reg=1e-05&reg_bias=false"
    assert urlstate.encode_state({"lr": 0.30000000000000004}, DEFAULTS) == "?lr=0.30000000000000004"
    assert urlstate.encode_state({"title": "a b&c"}, DEFAULTS) == "?title=a%20b%26c"
    assert urlstate.encode_state({"loss": None}, DEFAULTS) == ""
    assert urlstate.encode_state({"new": 2}, {}) == "?new=2"  # keys without a default are kept


def test_url003_prefix_optional_and_urlencoded_characters():
    for query in (
        "?loss=hinge&seed=3",
        "loss=hinge&seed=3",
        "  ?loss=hinge&seed=3  ",
        "?&loss=hinge&&seed=3&",
    ):
        state, errors = urlstate.decode_state(query, SCHEMA, DEFAULTS)
        assert errors == [] and state == {**DEFAULTS, "loss": "hinge", "seed": 3}, query
    state, errors = urlstate.decode_state("?%6Coss=ova%2Dhinge&title=a+b%20c%26d%3D%C3%BC", SCHEMA, DEFAULTS)
    assert errors == []
    assert state["loss"] == "ova-hinge" and state["title"] == "a b c&d=ü"
    state, errors = urlstate.decode_state("?title=" + quote("x/y?z#w", safe=""), SCHEMA, DEFAULTS)
    assert errors == [] and state["title"] == "x/y?z#w"
    assert urlstate.decode_state("", SCHEMA, DEFAULTS) == (DEFAULTS, [])
    assert urlstate.decode_state("?", SCHEMA, DEFAULTS) == (DEFAULTS, [])
    assert urlstate.decode_state(None, SCHEMA, DEFAULTS) == (DEFAULTS, [])


def test_url004_unknown_keys_ignored_with_a_message():
    state, errors = urlstate.decode_state("?loss=hinge&colour=red&reg%5B%5D=1", SCHEMA, DEFAULTS)
    assert state == {**DEFAULTS, "loss": "hinge"}
    assert errors == ["unknown parameter 'colour'; ignored", "unknown parameter 'reg[]'; ignored"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("reg=nan", "reg: 'nan' is not a number; ignored"),
        ("reg=NaN", "reg: 'NaN' is not a number"),
        ("reg=inf", "reg: 'inf' is not a number"),
        ("reg=-Infinity", "reg: '-Infinity' is not a number"),
        ("lr=1e400", "lr: '1e400' is not a finite number"),
        ("lr=-1e400", "lr: '-1e400' is not a finite number"),
        ("lr=0x1p-3", "lr: '0x1p-3' is not a number"),
        ("lr=+1e-3", "lr: ' 1e-3' is not a number"),  # "+" decodes to a space
        ("lr=1_000", "lr: '1_000' is not a number"),
        ("lr=", "lr: '' is not a number"),
        ("reg=-0.5", "reg: '-0.5' is below the minimum 0.0"),
        ("reg=11", "reg: '11' is above the maximum 10.0"),
        ("seed=" + "9" * 30, "seed: '" + "9" * 30 + "' is too large"),
        ("seed=1e3", "seed: '1e3' is not an integer"),
        ("seed=3.0", "seed: '3.0' is not an integer"),
        ("seed=%D9%A3", "seed: '٣' is not an integer"),  # a non-ASCII digit
        ("seed=-1", "seed: '-1' is below the minimum 0"),
        ("seed=2147483648", "seed: '2147483648' is above the maximum 2147483647"),
        ("seed=[1,2]", "seed: '[1,2]' is not an integer"),
        ("seed=1&seed=2", "seed: given 2 times (one value expected); ignored"),
        ("steps=60", "steps: '60' is not one of 41, 81"),
        ("loss=mse", "loss: 'mse' is not one of softmax, hinge, ova-hinge, structured-hinge"),
        ("reg_bias=maybe", "reg_bias: 'maybe' is not true or false"),
        ("title=" + "x" * 61, "title: value longer than 60 characters"),
        ("title=a%0Ab", "title: 'a\\nb' contains control characters"),
        ("title=%FF", "is not valid UTF-8"),
        ("seed", "'seed' has no value (expected seed=...); ignored"),
    ],
)
def test_url005_bad_values_are_dropped_with_readable_errors(query, message):
    good = "seed=5" if query.startswith("loss=") else "loss=hinge"  # one valid parameter beside
    state, errors = urlstate.decode_state(f"?{good}&{query}", SCHEMA, DEFAULTS)
    expected = {**DEFAULTS, "seed": 5} if good == "seed=5" else {**DEFAULTS, "loss": "hinge"}
    assert state == expected
    assert len(errors) == 1 and message in errors[0], errors


def test_url006_parsing_variants_that_are_accepted():
    cases = {
        "reg=.5": 0.5,
        "reg=5.": 5.0,
        "reg=%2B1E-3": 0.001,
        "reg=0": 0.0,
        "lr=-0.0": -0.0,
        "seed=%2B7": 7,
        "seed=007": 7,
        "reg_bias=FALSE": False,
        "reg_bias=0": False,
        "reg_bias=yes": True,
        "steps=81": 81,
    }
    for query, value in cases.items():
        state, errors = urlstate.decode_state(query, SCHEMA, DEFAULTS)
        key = query.split("=")[0]  # (a literal "+" is a space in a query: %2B is plus)
        assert errors == [] and state[key] == value and type(state[key]) is type(value), query
    state, _ = urlstate.decode_state("lr=-0.0", SCHEMA, DEFAULTS)
    assert str(state["lr"]) == "-0.0"


def test_url007_long_or_non_text_queries_are_ignored_whole():
    long_query = "?loss=hinge&title=" + "x" * urlstate.MAX_QUERY_CHARS
    state, errors = urlstate.decode_state(long_query, SCHEMA, DEFAULTS)
    assert state == DEFAULTS and len(errors) == 1 and "limit 2,000" in errors[0]
    just_fits = "?loss=hinge&title=" + "y" * (urlstate.MAX_QUERY_CHARS - 18)
    assert len(just_fits) == urlstate.MAX_QUERY_CHARS
    state, errors = urlstate.decode_state(just_fits, SCHEMA, DEFAULTS)
    assert state["loss"] == "hinge" and errors == ["title: value longer than 60 characters; ignored"]
    for bad in (b"?loss=hinge", 3, ["loss=hinge"]):
        state, errors = urlstate.decode_state(bad, SCHEMA, DEFAULTS)
        assert state == DEFAULTS and len(errors) == 1 and "must be text" in errors[0]


def test_url008_decode_never_raises_on_garbage():
    import random

    rng = random.Random(0)
    alphabet = "?&=%+;#[]{}\"'\\ \x00\n" + "abcdefghijklmnopqrstuvwxyz0123456789.-eE" + "%FF%C3%28%E2%82ü"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        keyed = rng.choice(["", "seed=", "reg=", "loss=", "title=", "reg_bias="]) + text
        state, errors = urlstate.decode_state(keyed, SCHEMA, DEFAULTS)
        assert set(state) == set(DEFAULTS)
        assert all(isinstance(e, str) and len(e) < 300 for e in errors)
        for key, value in state.items():  # whatever got through obeys the schema
            assert type(value) is type(DEFAULTS[key]), (keyed, key, value)
        assert state["loss"] in SCHEMA["loss"] and 0.0 <= state["reg"] <= 10.0
        assert 0 <= state["seed"] < 2**31


def test_url009_encode_rejects_values_without_a_url_form():
    for bad in ({"reg": float("nan")}, {"reg": float("inf")}, {"seed": [1, 2]}, {"x": {"a": 1}}):
        with pytest.raises(ValueError, match="cannot be put in the URL"):
            urlstate.encode_state(bad, DEFAULTS)


def test_url010_schema_spellings_and_invalid_schemas():
    spec = urlstate.normalize_schema({"a": int, "b": ("x", "y"), "c": (0.1, 1), "d": {"choices": (True,)}})
    assert spec["a"]["type"] is int and spec["b"]["type"] is str
    assert spec["c"]["type"] is float and spec["d"]["type"] is bool
    state, errors = urlstate.decode_state("c=1&b=y", {"b": ("x", "y"), "c": (0.1, 1)}, {})
    assert errors == [] and state == {"c": 1.0, "b": "y"} and type(state["c"]) is float
    for bad in (
        {"a": list},
        {"a": ()},
        {"a": ("x", 1)},
        {"a": {"type": str, "min": 0}},
        {"a": 3},
        {"a": {"typ": int}},
    ):
        with pytest.raises(ValueError, match="schema"):
            urlstate.decode_state("", bad, {})


def test_url011_module_does_not_import_dash_or_plotly():
    code = (
        "import sys; import components.urlstate; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dash', 'plotly')]; "
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
