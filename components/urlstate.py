"""Lecture state in the URL query string (pure functions; no dash import).

``encode_state(state, defaults)`` writes only what differs from the defaults,
in sorted key order, e.g. ``?loss=hinge&reg=0.001&seed=3``::

    bool   -> "true" / "false"
    int    -> decimal digits
    float  -> repr(x), the shortest string that round-trips ("0.001", "1e-05")
    str    -> percent-encoded UTF-8
    None   -> left out (None means "unset")

``decode_state(query, schema, defaults)`` reads such a string back (the ``?``
is optional; ``+`` and ``%xx`` escapes are decoded). It never raises on a bad
query: every unknown key, repeated key, malformed, out-of-range or disallowed
value is dropped and explained in ``errors``, and the defaults stand. Queries
longer than :data:`MAX_QUERY_CHARS` are ignored as a whole.

Schema: ``{key: spec}``, where spec is one of

* a type: ``int``, ``float``, ``str`` or ``bool``;
* a tuple (or list) of allowed values, e.g. ``("softmax", "hinge")``; their
  type is the key's type (ints and floats together make a float);
* a dict ``{"type": ..., "choices": (...), "min": ..., "max": ...,
  "max_len": ...}`` (all but ``type`` optional; ``type`` may be left out when
  ``choices`` is given). ``min``/``max`` are inclusive; ``max_len`` bounds
  strings (default :data:`MAX_STR_CHARS`).

An invalid schema (a programming error, not user input) raises ValueError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Integral, Real
from urllib.parse import quote, unquote_plus

__all__ = ["MAX_QUERY_CHARS", "MAX_STR_CHARS", "decode_state", "encode_state", "normalize_schema"]

MAX_QUERY_CHARS = 2000
MAX_STR_CHARS = 200
_MAX_NUMBER_CHARS = 64
_INT_DIGITS = 18  # |int| < 10**18: fits int64, and far beyond any UI control

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TYPES = (bool, int, float, str)


def _show(text: str, limit: int = 40) -> str:
    """A short repr of user input for messages."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------
# schema


def _spec(key: str, spec) -> dict:
    if isinstance(spec, type):
        spec = {"type": spec}
    elif isinstance(spec, tuple | list | frozenset | set):
        spec = {"choices": tuple(spec)}
    elif not isinstance(spec, Mapping):
        raise ValueError(f"schema[{key!r}]: expected a type, a tuple of choices or a dict, not {spec!r}")
    spec = dict(spec)
    unknown = set(spec) - {"type", "choices", "min", "max", "max_len"}
    if unknown:
        raise ValueError(f"schema[{key!r}]: unknown entries {sorted(unknown)}")
    choices = spec.get("choices")
    if choices is not None:
        choices = tuple(choices)
        if not choices:
            raise ValueError(f"schema[{key!r}]: empty choices")
        kinds = {bool if isinstance(c, bool) else type(c) for c in choices}
        if "type" not in spec:
            if kinds <= {int, float}:
                spec["type"] = float if float in kinds else int
            elif len(kinds) == 1:
                spec["type"] = kinds.pop()
            else:
                raise ValueError(f"schema[{key!r}]: choices of mixed types {choices!r}")
        spec["choices"] = choices
    t = spec.get("type")
    if t not in _TYPES:
        raise ValueError(f"schema[{key!r}]: type must be one of int, float, str, bool, not {t!r}")
    if choices is not None:
        for c in choices:
            if not _is_instance(c, t):
                raise ValueError(f"schema[{key!r}]: choice {c!r} is not a {t.__name__}")
    for bound in ("min", "max"):
        if bound in spec and (
            t not in (int, float) or not isinstance(spec[bound], Real) or isinstance(spec[bound], bool)
        ):
            raise ValueError(f"schema[{key!r}]: {bound} needs a numeric type and a number")
    spec.setdefault("max_len", MAX_STR_CHARS)
    return spec


def normalize_schema(schema: Mapping) -> dict[str, dict]:
    """``{key: {"type", "choices"?, "min"?, "max"?, "max_len"}}`` from any accepted spelling."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"schema must be a dict, not {type(schema).__name__}")
    return {str(k): _spec(str(k), v) for k, v in schema.items()}


def _is_instance(value, t) -> bool:
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, Integral) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, Real) and not isinstance(value, bool)
    return isinstance(value, str)


# --------------------------------------------------------------------------
# encoding


def _same(value, default) -> bool:
    """``value == default`` without True == 1 or "1" == 1 coincidences."""
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool) and value == default
    if isinstance(value, Real) and isinstance(default, Real):
        return float(value) == float(default)
    return type(value) is type(default) and value == default


def _format(key: str, value) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{key}: {v!r} cannot be put in the URL (not finite)")
        return repr(v)
    if isinstance(value, str):
        return value
    raise ValueError(f"{key}: {type(value).__name__} values cannot be put in the URL")


def encode_state(state: Mapping, defaults: Mapping) -> str:
    """``"?k=v&..."`` for the entries of ``state`` that differ from ``defaults``
    (sorted by key; ``""`` when nothing differs). None values are left out.
    Raises ValueError for values that have no URL form (NaN, lists, ...)."""
    pairs = []
    for key in sorted(state):
        value = state[key]
        if value is None or (key in defaults and _same(value, defaults[key])):
            continue
        pairs.append(f"{quote(str(key), safe='')}={quote(_format(str(key), value), safe='')}")
    return "?" + "&".join(pairs) if pairs else ""


# --------------------------------------------------------------------------
# decoding


def _parse(key: str, raw: str, spec: dict):
    """(value, None) or (None, error message)."""
    t = spec["type"]
    shown = _show(raw)
    if t is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            value = True
        elif low in _FALSE:
            value = False
        else:
            return None, f"{key}: {shown} is not true or false"
    elif t is int:
        if len(raw) > _MAX_NUMBER_CHARS or not _INT_RE.fullmatch(raw):
            return None, f"{key}: {shown} is not an integer"
        if len(raw.lstrip("+-")) > _INT_DIGITS:
            return None, f"{key}: {shown} is too large"
        value = int(raw)
    elif t is float:
        if len(raw) > _MAX_NUMBER_CHARS or not _FLOAT_RE.fullmatch(raw):
            return None, f"{key}: {shown} is not a number"
        value = float(raw)
        if not math.isfinite(value):
            return None, f"{key}: {shown} is not a finite number"
    else:
        if len(raw) > spec["max_len"]:
            return None, f"{key}: value longer than {spec['max_len']} characters"
        if _CONTROL.search(raw):
            return None, f"{key}: {shown} contains control characters"
        value = raw
    choices = spec.get("choices")
    if choices is not None and not any(_same(value, c) for c in choices):
        allowed = ", ".join(_format(key, c) for c in choices)
        return None, f"{key}: {shown} is not one of {allowed}"
    if "min" in spec and value < spec["min"]:
        return None, f"{key}: {shown} is below the minimum {spec['min']!r}"
    if "max" in spec and value > spec["max"]:
        return None, f"{key}: {shown} is above the maximum {spec['max']!r}"
    return value, None


def _unquote(text: str) -> str | None:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return None


def decode_state(query, schema: Mapping, defaults: Mapping) -> tuple[dict, list[str]]:
    """``(state, errors)``: the defaults overlaid with every valid value of
    ``query``; ``errors`` explains each dropped parameter in plain words.
    Never raises for any ``query`` (the schema itself must be valid)."""
    specs = normalize_schema(schema)
    state = dict(defaults)
    errors: list[str] = []
    if query is None:
        return state, errors
    if not isinstance(query, str):
        return state, [f"the query must be text, not {type(query).__name__}; ignored"]
    if len(query) > MAX_QUERY_CHARS:
        return state, [f"the query is {len(query):,} characters long (limit {MAX_QUERY_CHARS:,}); ignored"]
    query = query.strip()
    if query.startswith("?"):
        query = query[1:]
    seen: dict[str, list[str]] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_key, sep, raw_value = part.partition("=")
        key, value = _unquote(raw_key), _unquote(raw_value)
        if key is None or value is None:
            errors.append(f"{_show(part)} is not valid UTF-8 after %-decoding; ignored")
            continue
        if not sep:
            errors.append(f"{_show(key)} has no value (expected {key}=...); ignored")
            continue
        if key not in specs:
            errors.append(f"unknown parameter {_show(key)}; ignored")
            continue
        seen.setdefault(key, []).append(value)
    for key, values in seen.items():
        if len(values) > 1:
            errors.append(f"{key}: given {len(values)} times (one value expected); ignored")
            continue
        value, error = _parse(key, values[0], specs[key])
        if error is None:
            state[key] = value
        else:
            errors.append(error + "; ignored")
    return state, errors
