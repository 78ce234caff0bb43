"""Exports that re-import to the same state: weights (.npz), histories and
gradient-check tables (CSV), configurations (JSON).

Pure numpy, pandas and the standard library. Nothing here ever unpickles:

* Weights are a zip of ``.npy`` members written with ``allow_pickle=False``::

      format       0-d unicode  "lincls-weights/1"
      W            (D+1, C) float64, bias in row 0 (see core.losses)
      class_names  (C,) unicode
      image_shape  (2,) int64, H * W = D
      config       0-d unicode, a JSON object (see config_to_json)

  :func:`weights_from_npz_bytes` trusts nothing in the file: it bounds the
  file size and every member's declared size before inflating anything,
  accepts exactly the members above, parses each ``.npy`` header itself
  (object and structured dtypes rejected, the declared shape must match the
  bytes present) before ``np.load(..., allow_pickle=False)`` reads the array,
  and checks the arrays against each other. Every rejection is a
  ``ValueError("<field>: <what is wrong>")``.
* CSV tables are written with shortest round-trip float reprs and parsed
  exactly (pandas 3's default, ``float_precision="round_trip"`` on pandas 2),
  so floats survive bit for bit. (Strings: an empty string reads back as NaN.)
* Configurations are JSON objects: finite numbers only, no duplicate keys,
  bounded size and nesting, optionally checked against a schema.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = [
    "FORMAT",
    "MAX_CONFIG_CHARS",
    "MAX_CSV_CHARS",
    "MAX_WEIGHTS_BYTES",
    "CHECK_CONTEXT_COLUMNS",
    "GRADCHECK_COLUMNS",
    "HISTORY_COLUMNS",
    "RUN_COLUMNS",
    "HistoryImport",
    "check_result_from_table",
    "config_from_json",
    "config_to_json",
    "csv_kind",
    "gradcheck_table_from_csv",
    "gradcheck_table_to_csv",
    "history_from_csv",
    "history_to_csv",
    "read_gradcheck_csv",
    "read_history_csv",
    "weights_from_npz_bytes",
    "weights_to_npz_bytes",
]

FORMAT = "lincls-weights/1"
MAX_WEIGHTS_BYTES = 50_000_000
MAX_CONFIG_CHARS = 100_000
MAX_CSV_CHARS = 20_000_000
MAX_CLASS_NAME_CHARS = 200
MIN_CLASSES, MAX_CLASSES = 2, 100  # as core.data
MAX_IMAGE_SIDE = 4096
MAX_JSON_DEPTH = 32
_INT_DIGITS = 19  # |int| < 10**19 covers int64

_MEMBERS = ("format", "W", "class_names", "image_shape", "config")
# (dtype kinds accepted, max itemsize) per member
_KINDS = {"format": "U", "W": "f", "class_names": "U", "image_shape": "iu", "config": "U"}
# A fixed timestamp makes exports of the same state byte-identical.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# pandas 3 parses floats exactly by default (and deprecates float_precision);
# pandas 2 needs float_precision="round_trip" for that.
_READ_CSV_OPTIONS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def _fail(field: str, detail: str) -> ValueError:
    return ValueError(f"{field}: {detail}")


# --------------------------------------------------------------------------
# JSON configurations


def _to_json_value(value, path: str, depth: int = 0):
    """A plain-JSON copy of ``value`` (numpy scalars converted); ValueError naming the key otherwise."""
    if depth > MAX_JSON_DEPTH:
        raise _fail(path, f"nested more than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        v = float(value)
        if not math.isfinite(v):
            raise _fail(path, f"{v!r} is not a finite number (JSON has no NaN or infinity)")
        return v
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _fail(path, f"key {k!r} is not a string")
            out[k] = _to_json_value(v, f"{path}.{k}" if path != "config" else k, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_to_json_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise _fail(path, f"{type(value).__name__} values cannot be stored in JSON")


def config_to_json(config) -> str:
    """The configuration (a dict with string keys, or a dataclass instance) as
    pretty, key-sorted JSON. Tuples become lists, numpy scalars plain numbers;
    NaN, infinities and other types raise ValueError naming the key."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise _fail("config", f"expected a dict, not {type(config).__name__}")
    plain = _to_json_value(config, "config")
    text = json.dumps(plain, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)
    if len(text) > MAX_CONFIG_CHARS:
        raise _fail("config", f"{len(text):,} characters of JSON, more than the {MAX_CONFIG_CHARS:,} limit")
    return text


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed (only finite numbers)")


def _parse_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text[:40]} is out of the float range")
    return v


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _INT_DIGITS:
        raise ValueError(f"integer {text[:25]}... has more than {_INT_DIGITS} digits")
    return int(text)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} appears twice")
        out[k] = v
    return out


def _depth(value) -> int:
    """Nesting depth of parsed JSON (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d + 1)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _is_type(spec) -> bool:
    return isinstance(spec, type) or spec is None


def _matches_type(value, t) -> bool:
    if t is None or t is type(None):
        return value is None
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, t)


def _type_name(t) -> str:
    return "null" if t is None or t is type(None) else t.__name__


def _check_against(key: str, value, spec):
    """(ok, value) where float-typed ints become floats; spec is a type or a tuple
    of allowed values and/or types."""
    options = spec if isinstance(spec, tuple) else (spec,)
    for option in options:
        if _is_type(option):
            if _matches_type(value, option):
                return True, (float(value) if option is float else value)
        elif type(value) is type(option) and value == option:  # strict: True is not 1
            return True, value
    allowed = ", ".join(_type_name(o) if _is_type(o) else repr(o) for o in options)
    return False, f"{key}: {value!r} is not allowed (expected {allowed})"


def config_from_json(
    text,
    schema: dict | None = None,
    *,
    max_chars: int = MAX_CONFIG_CHARS,
    allow_unknown: bool = False,
) -> dict:
    """Parse a JSON object written by :func:`config_to_json` (or by hand).

    Rejected with ValueError: non-JSON, more than ``max_chars`` characters,
    anything but an object at the top, NaN/Infinity, numbers out of the
    float range (1e400), integers of more than 19 digits, duplicate keys,
    nesting deeper than 32 levels. With a ``schema`` ``{key: spec}``, where
    spec is a type (int, float, str, bool, list, dict, None) or a tuple of
    allowed values and/or types (e.g. ``("softmax", "hinge")``, ``(int,
    None)``): each present key must match (bool never passes as int, an int
    passes as float and is converted), and keys outside the schema are errors
    unless ``allow_unknown``. All problems are reported in one message.
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > 4 * max_chars:
            raise _fail("config", f"{len(text):,} bytes, more than the {max_chars:,}-character limit")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail("config", f"not UTF-8 ({exc})") from None
    if not isinstance(text, str):
        raise _fail("config", f"expected JSON text, not {type(text).__name__}")
    if len(text) > max_chars:
        raise _fail("config", f"{len(text):,} characters, more than the {max_chars:,} limit")
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise _fail("config", "nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise _fail("config", f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _fail("config", f"expected a JSON object, not {type(value).__name__}")
    if _depth(value) > MAX_JSON_DEPTH:
        raise _fail("config", f"nested more than {MAX_JSON_DEPTH} levels")
    if schema is None:
        return value
    errors = []
    out = {}
    for key, v in value.items():
        if key not in schema:
            if allow_unknown:
                out[key] = v
            else:
                errors.append(f"{key}: unknown key")
            continue
        ok, result = _check_against(key, v, schema[key])
        if ok:
            out[key] = result
        else:
            errors.append(result)
    if errors:
        raise _fail("config", "; ".join(errors))
    return out


# --------------------------------------------------------------------------
# weights


def _check_weights(W, class_names, image_shape) -> tuple[np.ndarray, tuple[str, ...], tuple[int, int]]:
    """The checks shared by export and import (messages name the field)."""
    if W.ndim != 2:
        raise _fail("W", f"expected a 2-D (D+1, C) array, got shape {W.shape}")
    if W.dtype.kind != "f":
        raise _fail("W", f"expected floating-point weights, not {W.dtype}")
    if W.shape[0] < 2:
        raise _fail("W", f"needs a bias row and at least one feature row, got shape {W.shape}")
    if not np.isfinite(W).all():
        raise _fail("W", "contains NaN or infinite values")
    C = W.shape[1]
    if not MIN_CLASSES <= C <= MAX_CLASSES:
        raise _fail("W", f"{C} classes (columns); need {MIN_CLASSES} to {MAX_CLASSES}")
    if len(image_shape) != 2:
        raise _fail("image_shape", f"expected (height, width), got {image_shape!r}")
    H, Wd = image_shape
    if not (1 <= H <= MAX_IMAGE_SIDE and 1 <= Wd <= MAX_IMAGE_SIDE):
        raise _fail("image_shape", f"{(H, Wd)} is not a plausible image size (1..{MAX_IMAGE_SIDE} per side)")
    if H * Wd + 1 != W.shape[0]:
        raise _fail("image_shape", f"{H}x{Wd} images need W with {H * Wd + 1} rows; W has {W.shape[0]} rows")
    if len(class_names) != C:
        raise _fail("class_names", f"{len(class_names)} names for the {C} classes (columns) of W")
    for i, n in enumerate(class_names):
        if not n:
            raise _fail("class_names", f"name {i} is empty")
        if len(n) > MAX_CLASS_NAME_CHARS:
            raise _fail("class_names", f"name {i} is longer than {MAX_CLASS_NAME_CHARS} characters")
    if len(set(class_names)) != C:
        raise _fail("class_names", "names are not unique")
    return W, tuple(class_names), (int(H), int(Wd))


def weights_to_npz_bytes(W, *, class_names: Sequence[str], image_shape, config) -> bytes:
    """The weights, class names, image shape and training configuration as
    ``.npz`` bytes (layout in the module docstring; no pickle; byte-identical
    for identical inputs). Raises ValueError on anything
    :func:`weights_from_npz_bytes` would reject."""
    W = np.array(W, dtype=np.float64) if np.asarray(W).dtype.kind in "fiu" else np.asarray(W)
    if isinstance(class_names, str) or not isinstance(class_names, Sequence | np.ndarray):
        raise _fail("class_names", "expected a sequence of strings")
    names = [str(n) for n in class_names]
    try:
        shape = tuple(int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise _fail("image_shape", f"expected (height, width), got {image_shape!r}") from None
    W, names, shape = _check_weights(W, names, shape)
    arrays = {
        "format": np.array(FORMAT),
        "W": W,
        "class_names": np.array(names, dtype=str),
        "image_shape": np.array(shape, dtype=np.int64),
        "config": np.array(config_to_json(config)),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in _MEMBERS:
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as fp:
                np.lib.format.write_array(fp, arrays[key], allow_pickle=False)
    data = buf.getvalue()
    if len(data) > MAX_WEIGHTS_BYTES:
        raise _fail("file", f"{len(data):,} bytes, more than the {MAX_WEIGHTS_BYTES:,}-byte import limit")
    return data


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, max_bytes: int) -> np.ndarray:
    if info.flag_bits & 0x1:
        raise _fail(key, "encrypted zip members are not supported")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _fail(key, f"unsupported zip compression method {info.compress_type}")
    try:
        with zf.open(info) as fp:
            raw = fp.read(max_bytes + 1)  # never more than the declared size, checked <= max_bytes
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise _fail(key, f"corrupt zip member ({exc})") from None
    if len(raw) != info.file_size:
        raise _fail(key, f"member holds {len(raw):,} bytes but its zip entry declares {info.file_size:,}")
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as exc:
        raise _fail(key, f"not a valid .npy array ({exc})") from None
    if dtype.hasobject:
        raise _fail(key, f"object arrays are not allowed ({dtype}); the file is never unpickled")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _KINDS[key]:
        raise _fail(key, f"unexpected dtype {dtype}")
    have = len(raw) - fp.tell()
    need = math.prod(shape) * dtype.itemsize
    if need != have:
        raise _fail(key, f"header declares shape {shape} of {dtype} = {need:,} bytes but {have:,} follow")
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise _fail(key, f"cannot be read ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise _fail(key, "not a single .npy array")
    return arr


def _scalar_text(arr: np.ndarray, key: str) -> str:
    if arr.shape != ():
        raise _fail(key, f"expected a single string, got shape {arr.shape}")
    return str(arr[()])


def weights_from_npz_bytes(b, max_bytes: int = MAX_WEIGHTS_BYTES) -> dict:
    """Read bytes written by :func:`weights_to_npz_bytes`.

    Returns ``{"W": (D+1, C) float64, "class_names": tuple of str,
    "image_shape": (H, W), "config": dict}``. Anything else -- more than
    ``max_bytes``, not a zip, truncated or corrupt, missing or extra members,
    pickled or object arrays, wrong dtypes, a header declaring more data than
    present, non-finite or inconsistently shaped weights, an invalid config --
    raises ``ValueError("<field>: ...")``.
    """
    if not isinstance(b, bytes | bytearray | memoryview):
        raise _fail("file", f"expected bytes, not {type(b).__name__}")
    b = bytes(b)
    if len(b) > max_bytes:
        raise _fail("file", f"{len(b):,} bytes, more than the {max_bytes:,}-byte limit")
    try:
        zf = zipfile.ZipFile(io.BytesIO(b))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise _fail("file", f"not a valid .npz (zip) archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            raise _fail("file", "the archive lists a member twice")
        expected = {k + ".npy" for k in _MEMBERS}
        extra = sorted(set(names) - expected)
        if extra:
            raise _fail("file", f"unexpected members {extra[:5]} (a weights file holds {list(_MEMBERS)})")
        for key in _MEMBERS:
            if key + ".npy" not in names:
                raise _fail(key, "missing from the archive")
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise _fail(
                "file", f"members inflate to {declared:,} bytes, more than the {max_bytes:,}-byte limit"
            )
        arrays = {i.filename[:-4]: _read_member(zf, i, i.filename[:-4], max_bytes) for i in infos}

    fmt = _scalar_text(arrays["format"], "format")
    if fmt != FORMAT:
        raise _fail("format", f"{fmt[:60]!r} is not {FORMAT!r}")
    names_arr = arrays["class_names"]
    if names_arr.ndim != 1:
        raise _fail("class_names", f"expected a 1-D array of names, got shape {names_arr.shape}")
    shape_arr = arrays["image_shape"]
    if shape_arr.shape != (2,):
        raise _fail("image_shape", f"expected 2 integers (height, width), got shape {shape_arr.shape}")
    W = arrays["W"]
    W = W.astype(np.float64, copy=False) if W.dtype.itemsize <= 8 else W
    if W.dtype != np.float64:
        raise _fail("W", f"unsupported float type {arrays['W'].dtype}")
    W, class_names, image_shape = _check_weights(
        W, [str(n) for n in names_arr], tuple(int(v) for v in shape_arr)
    )
    config = config_from_json(_scalar_text(arrays["config"], "config"))
    return {
        "W": np.ascontiguousarray(W),
        "class_names": class_names,
        "image_shape": image_shape,
        "config": config,
    }


# --------------------------------------------------------------------------
# CSV tables


def _frame_to_csv(df, what: str) -> str:
    if not isinstance(df, pd.DataFrame):
        raise _fail(what, f"expected a pandas DataFrame, not {type(df).__name__}")
    if df.columns.nlevels != 1 or not all(isinstance(c, str) for c in df.columns):
        raise _fail(what, "column names must be strings")
    if len(set(df.columns)) != len(df.columns):
        raise _fail(what, "column names are not unique")
    for c in df.columns:
        if (
            df[c].dtype == object
            and df[c].map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any()
        ):
            raise _fail(what, f"column {c!r} holds containers; only scalars can be written")
    # repr-precision floats ("%r" would quote); pandas writes shortest round-trip reprs
    return df.to_csv(index=False, lineterminator="\n")


def _frame_from_csv(text, what: str, max_chars: int, required) -> pd.DataFrame:
    if not isinstance(text, str):
        raise _fail(what, f"expected CSV text, not {type(text).__name__}")
    if len(text) > max_chars:
        raise _fail(what, f"{len(text):,} characters, more than the {max_chars:,} limit")
    if not text.strip():
        raise _fail(what, "empty CSV")
    try:
        with warnings.catch_warnings():
            # a line with more values than the header: an error, not a silent index or loss of data
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(text), index_col=False, **_READ_CSV_OPTIONS)
    except pd.errors.ParserWarning:
        raise _fail(what, "not a valid CSV table (a line has more values than the header)") from None
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _fail(what, f"not a valid CSV table ({exc})") from None
    missing = [c for c in (required or ()) if c not in df.columns]
    if missing:
        raise _fail(what, f"missing columns {missing}")
    return df


def history_to_csv(df: pd.DataFrame, *, run: Mapping | None = None) -> str:
    """A training history (``core.train.history_frame``, or the app's history
    store as a table) as CSV text; the index is not written. Floats keep full
    precision. With ``run`` (``{column: value}`` for :data:`RUN_COLUMNS`: the
    objective the history was recorded under) each of those values is appended
    as a constant column, so :func:`read_history_csv` can say what the curves
    mean."""
    return _frame_to_csv(_with_constants(df, run, RUN_COLUMNS, "history"), "history")


def history_from_csv(
    text: str, *, max_chars: int = MAX_CSV_CHARS, required_columns=("step", "loss")
) -> pd.DataFrame:
    """The DataFrame :func:`history_to_csv` wrote (floats bit-identical, int
    columns int64; an all-empty column comes back as float NaN)."""
    return _frame_from_csv(text, "history", max_chars, required_columns)


def gradcheck_table_to_csv(df, *, context: Mapping | None = None) -> str:
    """A gradient-check table (``CheckResult.table``, or the CheckResult itself)
    as CSV text. With ``context`` (``{column: value}`` for
    :data:`CHECK_CONTEXT_COLUMNS`: dataset, loss, method, h, samples, verdict)
    each value is appended as a constant column."""
    table = getattr(df, "table", df)
    return _frame_to_csv(
        _with_constants(table, context, CHECK_CONTEXT_COLUMNS, "gradcheck table"), "gradcheck table"
    )


def gradcheck_table_from_csv(text: str, *, max_chars: int = MAX_CSV_CHARS) -> pd.DataFrame:
    """The DataFrame :func:`gradcheck_table_to_csv` wrote."""
    return _frame_from_csv(text, "gradcheck table", max_chars, ("row", "col"))


def _with_constants(df, values: Mapping | None, allowed: Mapping, what: str):
    if not values:
        return df
    if not isinstance(df, pd.DataFrame):
        raise _fail(what, f"expected a pandas DataFrame, not {type(df).__name__}")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise _fail(what, f"unknown constant columns {unknown} (allowed: {list(allowed)})")
    clash = sorted(set(values) & set(df.columns))
    if clash:
        raise _fail(what, f"columns {clash} are already in the table")
    out = df.copy()
    for key in allowed:  # a fixed order
        if key in values:
            v = _to_json_value(values[key], key)
            if v is None or isinstance(v, dict | list):
                raise _fail(what, f"{key}: {v!r} is not a single value")
            out[key] = pd.Series(
                [v] * len(out), index=out.index, dtype=object if isinstance(v, str) else None
            )
    return out


# --------------------------------------------------------------------------
# reading CSVs back into what the app shows: checked column by column

#: the columns of a training history (``core.train.history_frame`` adds ``seconds``, ignored here)
HISTORY_COLUMNS = ("step", "epoch", "lr", "loss", "data_loss", "reg_loss", "train_acc", "val_acc")
#: optional constant columns of a history: the objective it was recorded under
RUN_COLUMNS = {
    "dataset": "str",
    "n_train": "int",
    "preprocessing": "str",
    "loss_function": "str",
    "reg": "float",
    "reg_mode": "str",
    "reg_bias": "bool",
    "delta": "float",
}
#: the columns of a gradient-check table (``CheckResult.table``)
GRADCHECK_COLUMNS = (
    "row",
    "col",
    "analytic",
    "numeric",
    "abs_diff",
    "rel_error",
    "kink_samples",
    "kink_bound",
)
#: optional constant columns of a gradient-check table: how the check was made
CHECK_CONTEXT_COLUMNS = {
    "dataset": "str",
    "loss_function": "str",
    "method": "str",
    "h": "float",
    "samples": "int",
    "verdict": "str",
}
MAX_HISTORY_ROWS = 100_000
MAX_TEXT_VALUE_CHARS = 200


@dataclasses.dataclass(frozen=True)
class HistoryImport:
    """A history read back by :func:`read_history_csv`: ``frame`` has the
    :data:`HISTORY_COLUMNS` (step int64, the rest float64, NaN where a value
    is missing) and ``run`` the :data:`RUN_COLUMNS` values, or None when the
    file does not record them."""

    frame: pd.DataFrame
    run: dict | None


def csv_kind(text: str) -> str:
    """The kind of a CSV export from its header line: ``"history"`` or
    ``"gradcheck"``; a ValueError naming what was expected otherwise."""
    if not isinstance(text, str):
        raise _fail("file", f"expected CSV text, not {type(text).__name__}")
    header = _header(text)
    if {"row", "col", "analytic", "numeric"} <= set(header):
        return "gradcheck"
    if {"step", "loss"} <= set(header):
        return "history"
    shown = ", ".join(h[:30] for h in header[:6]) + (", …" if len(header) > 6 else "")
    raise _fail(
        "file",
        f"columns {shown or 'none'} are neither a loss history (step, loss, …) "
        "nor a gradient-check table (row, col, analytic, numeric, …)",
    )


def _header(text: str) -> list[str]:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if len(first) > 10_000:
        raise _fail("file", "the header line is longer than 10,000 characters")
    try:
        return [h.strip() for h in next(csv.reader([first]), [])]
    except csv.Error as exc:
        raise _fail("file", f"not a valid CSV header ({exc})") from None


def _read_checked(text, what: str, max_chars: int, max_rows: int, required) -> pd.DataFrame:
    """Parse CSV text (never evaluated: pandas' C parser, plain values only) and
    check the header: no duplicate or empty names, the required columns, at
    least one and at most ``max_rows`` rows."""
    if isinstance(text, str):
        text = text.lstrip("\ufeff")  # spreadsheets save a byte-order mark
    df = _frame_from_csv(text, what, max_chars, ())
    header = _header(text)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise _fail(what, f"columns {dupes[:5]} appear more than once")
    if any(not h for h in header):
        raise _fail(what, "a column has no name")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise _fail(what, f"missing columns {missing}")
    if len(df) == 0:
        raise _fail(what, "no rows")
    if len(df) > max_rows:
        raise _fail(what, f"{len(df):,} rows, more than the {max_rows:,} limit")
    return df


def _line(i: int) -> str:
    return f"line {int(i) + 2}"  # the header is line 1


def _first_bad(s: pd.Series, ok: np.ndarray) -> str:
    i = int(np.flatnonzero(~ok)[0])
    v = s.iloc[i]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        shown = "empty"
    elif isinstance(v, Real) and not isinstance(v, bool | np.bool_):
        shown = str(v)[:40]
    else:
        shown = repr(str(v))[:40]
    return f"{_line(i)}: {shown}"


def _floats(df: pd.DataFrame, c: str, what: str, *, nan_ok: bool = True, inf_ok: bool = False) -> np.ndarray:
    """Column ``c`` as float64; a ValueError naming the line of the first value
    that is not a number (or not finite, unless allowed)."""
    s = df[c]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        num = pd.to_numeric(s.where(~s.map(lambda v: isinstance(v, bool | np.bool_))), errors="coerce")
        ok = num.notna().to_numpy() | s.isna().to_numpy()
        if not ok.all():
            raise _fail(what, f"column {c!r} must hold numbers ({_first_bad(s, ok)})")
        s = num
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.ones(x.shape, bool)
    if not nan_ok:
        ok &= ~np.isnan(x)
    if not inf_ok:
        ok &= ~np.isinf(x)
    if not ok.all():
        raise _fail(what, f"column {c!r} must hold finite numbers ({_first_bad(df[c], ok)})")
    return x


def _ints(df: pd.DataFrame, c: str, what: str, lo: int, hi: int) -> np.ndarray:
    """Column ``c`` as int64 in [lo, hi]; a ValueError naming the first bad line."""
    s = df[c]
    if pd.api.types.is_integer_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype=np.int64)
    else:
        f = _floats(df, c, what, nan_ok=False)
        ok = f == np.round(f)
        if not ok.all():
            raise _fail(what, f"column {c!r} must hold whole numbers ({_first_bad(s, ok)})")
        ok = np.abs(f) < 2.0**53
        if not ok.all():
            raise _fail(what, f"column {c!r}: {_first_bad(s, ok)} is out of range")
        x = f.astype(np.int64)
    ok = (x >= lo) & (x <= hi)
    if not ok.all():
        raise _fail(what, f"column {c!r} must be between {lo:,} and {hi:,} ({_first_bad(s, ok)})")
    return x


def _constants(df: pd.DataFrame, spec: Mapping, what: str) -> dict:
    """The constant columns of ``spec`` present in ``df``: one value each, of the declared type."""
    out = {}
    for key, kind in spec.items():
        if key not in df.columns:
            continue
        s = df[key]
        if s.isna().any():
            raise _fail(what, f"column {key!r} has an empty value ({_first_bad(s, s.notna().to_numpy())})")
        values = pd.unique(s.astype(str))
        if len(values) != 1:
            raise _fail(what, f"column {key!r} must hold one value for the whole table, not {len(values):,}")
        v = s.iloc[0]
        if kind == "str":
            v = str(v)
            if not v or len(v) > MAX_TEXT_VALUE_CHARS:
                raise _fail(
                    what, f"column {key!r}: expected a name of 1 to {MAX_TEXT_VALUE_CHARS} characters"
                )
        elif kind == "bool":
            if isinstance(v, bool | np.bool_):
                v = bool(v)
            elif str(v).strip().lower() in ("true", "false"):
                v = str(v).strip().lower() == "true"
            else:
                raise _fail(what, f"column {key!r}: {str(v)[:40]!r} is not True or False")
        elif kind == "int":
            v = int(_ints(df.iloc[:1], key, what, 0, 10**12)[0])
        else:
            v = float(_floats(df.iloc[:1], key, what, nan_ok=False)[0])
        out[key] = v
    return out


def read_history_csv(
    text, *, max_chars: int = MAX_CSV_CHARS, max_rows: int = MAX_HISTORY_ROWS
) -> HistoryImport:
    """A loss history written by :func:`history_to_csv`, checked.

    Required: ``step`` (whole numbers >= 0, strictly increasing) and ``loss``;
    the other :data:`HISTORY_COLUMNS` are optional (NaN when absent). Values
    are numbers or empty (NaN: no value, e.g. no validation split); infinities
    are refused, accuracies must lie in [0, 1]. Columns of :data:`RUN_COLUMNS`
    must each hold one value of their type (a known loss and regularization
    mode, λ >= 0, Δ > 0); other columns (``seconds``) are ignored. Every
    problem is a ``ValueError("history: ...")`` naming the column and line.
    """
    from core.losses import LOSSES, REG_MODES

    what = "history"
    df = _read_checked(text, what, max_chars, max_rows, ("step", "loss"))
    cols = {"step": _ints(df, "step", what, 0, 10**12)}
    if (np.diff(cols["step"]) <= 0).any():
        i = int(np.flatnonzero(np.diff(cols["step"]) <= 0)[0]) + 1
        raise _fail(what, f"column 'step' must increase from row to row ({_line(i)}: {cols['step'][i]})")
    for c in HISTORY_COLUMNS[1:]:
        cols[c] = _floats(df, c, what) if c in df.columns else np.full(len(df), np.nan)
    for c in ("train_acc", "val_acc"):
        bad = (cols[c] < 0) | (cols[c] > 1)
        if bad.any():
            raise _fail(what, f"column {c!r} must lie between 0 and 1 ({_first_bad(df[c], ~bad)})")
    frame = pd.DataFrame(cols, columns=list(HISTORY_COLUMNS))
    run = _constants(df, RUN_COLUMNS, what)
    if run:
        missing = [k for k in RUN_COLUMNS if k not in run]
        if missing:
            raise _fail(what, f"the run is described without columns {missing}")
        if run["loss_function"] not in LOSSES:
            raise _fail(
                what, f"loss_function {run['loss_function'][:40]!r} is not one of {', '.join(LOSSES)}"
            )
        if run["reg_mode"] not in REG_MODES:
            raise _fail(what, f"reg_mode {run['reg_mode'][:40]!r} is not one of {', '.join(REG_MODES)}")
        if run["reg"] < 0:
            raise _fail(what, f"reg {run['reg']!r} is negative")
        if run["delta"] <= 0:
            raise _fail(what, f"delta {run['delta']!r} is not positive")
        if run["n_train"] < 1:
            raise _fail(what, "n_train must be at least 1")
    return HistoryImport(frame=frame, run=run or None)


def _errors(a: np.ndarray, n: np.ndarray):
    """As ``core.gradcheck.check_gradient`` computes them: |a - n|, the entrywise
    relative error, the global ||a - n|| / ||a + n|| (NaN if a value is not
    finite), its median and max."""
    from core.gradcheck import TINY

    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n)
        rel = diff / np.maximum(np.abs(a) + np.abs(n), TINY)
        if np.isfinite(diff).all():
            num, den = float(np.linalg.norm(a - n)), float(np.linalg.norm(a + n))
            g = 0.0 if num == 0.0 else (num / den if den > 0 else math.inf)
        else:
            g = math.nan
    med = float(np.median(rel)) if rel.size else 0.0
    mx = float(np.max(rel)) if rel.size else 0.0
    return diff, rel, g, med, mx


def _fits(verdict: str, g: float) -> bool:
    """Whether a verdict is possible for the global relative error ``g`` (the bands of core.gradcheck)."""
    from core.gradcheck import ACCEPTABLE_TOL, CORRECT_TOL, WRONG_TOL

    if not math.isfinite(g):
        return verdict == "wrong"
    return {
        "correct": g <= CORRECT_TOL,
        "acceptable": CORRECT_TOL < g <= ACCEPTABLE_TOL,
        "suspicious": g > CORRECT_TOL,
        "wrong": g > WRONG_TOL,
    }[verdict]


def _table_verdict(g: float, diff, kink_samples, kink_bound, a, n) -> str:
    """The verdict the table alone supports: the bands of core.gradcheck with
    only the kinks as an explanation (the check's finite-difference reference
    is not in the table)."""
    from core.gradcheck import ACCEPTABLE_TOL, CORRECT_TOL, WRONG_TOL

    if not math.isfinite(g):
        return "wrong"
    if g <= CORRECT_TOL:
        return "correct"
    den = float(np.linalg.norm(a + n))
    residual = float(np.linalg.norm(np.maximum(diff - kink_bound, 0.0)))
    explained = bool((kink_samples > 0).any()) and residual <= CORRECT_TOL * den
    if explained:
        return "acceptable" if g <= ACCEPTABLE_TOL else "suspicious"
    return "wrong" if g > WRONG_TOL else "suspicious"


def check_result_from_table(
    table: pd.DataFrame, shape, context: Mapping | None = None, *, what="gradcheck table"
):
    """A ``core.gradcheck.CheckResult`` for W of ``shape`` (D+1, C) rebuilt from
    its table, as the app's figure builders take it.

    ``table`` needs ``row``, ``col`` (whole numbers inside ``shape``, each entry
    once), ``analytic`` and ``numeric`` (numbers; NaN and infinities are kept:
    a check can find them); ``abs_diff`` and ``rel_error`` are recomputed and,
    when present, must agree with them; ``kink_samples`` (whole numbers >= 0)
    and ``kink_bound`` (finite, >= 0) default to 0. The summary figures are
    computed as ``check_gradient`` computes them, so they are bit-identical to
    the exported check's. ``context`` (:data:`CHECK_CONTEXT_COLUMNS`) gives the
    method, h and loss name and the verdict, which must fit the relative error;
    without a verdict the table's own (kinks as the only explanation) is used.
    ``extra`` holds ``imported`` = True, ``samples`` and ``dataset`` (or None)
    and ``verdict_source`` ("exported" or "table").
    """
    from core.gradcheck import METHODS, VERDICTS, CheckResult
    from core.losses import LOSSES

    try:
        R, C = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise _fail("shape", f"expected (rows, classes), got {shape!r}") from None
    if R < 1 or C < 1:
        raise _fail("shape", f"expected positive sizes, got {(R, C)}")
    if not isinstance(table, pd.DataFrame):
        raise _fail(what, f"expected a pandas DataFrame, not {type(table).__name__}")
    missing = [c for c in ("row", "col", "analytic", "numeric") if c not in table.columns]
    if missing:
        raise _fail(what, f"missing columns {missing}")
    if len(table) == 0:
        raise _fail(what, "no rows")
    if len(table) > R * C:
        raise _fail(what, f"{len(table):,} rows, more than the {R * C:,} entries of W {(R, C)}")
    row = _ints(table, "row", what, 0, 10**9)
    col = _ints(table, "col", what, 0, 10**9)
    if row.max() >= R or col.max() >= C:
        raise _fail(
            what,
            f"entries up to row {int(row.max()):,}, column {int(col.max()):,}; the current W has shape {(R, C)} "
            "(another dataset: choose its dataset first)",
        )
    flat = row * C + col
    uniq, first = np.unique(flat, return_index=True)
    if uniq.size != flat.size:
        dup = np.setdiff1d(np.arange(flat.size), first)[0]
        raise _fail(what, f"entry W[{row[dup]}, {col[dup]}] appears twice ({_line(dup)})")
    a = _floats(table, "analytic", what, inf_ok=True)
    n = _floats(table, "numeric", what, inf_ok=True)
    diff, rel, g, med, mx = _errors(a, n)
    for c, mine in (("abs_diff", diff), ("rel_error", rel)):
        if c in table.columns:
            theirs = _floats(table, c, what, inf_ok=True)
            ok = np.isclose(theirs, mine, rtol=1e-9, atol=0.0, equal_nan=True) | (theirs == mine)
            if not ok.all():
                raise _fail(
                    what, f"column {c!r} does not match analytic and numeric ({_first_bad(table[c], ok)})"
                )
    ks = (
        _ints(table, "kink_samples", what, 0, 10**12)
        if "kink_samples" in table.columns
        else np.zeros(len(a), np.int64)
    )
    kb = (
        _floats(table, "kink_bound", what, nan_ok=False)
        if "kink_bound" in table.columns
        else np.zeros(len(a))
    )
    if (kb < 0).any():
        raise _fail(
            what, f"column 'kink_bound' must not be negative ({_first_bad(table['kink_bound'], kb >= 0)})"
        )
    ctx = dict(context or {})
    unknown = sorted(set(ctx) - set(CHECK_CONTEXT_COLUMNS))
    if unknown:
        raise _fail(what, f"unknown context {unknown}")
    method, h, name = ctx.get("method"), ctx.get("h"), ctx.get("loss_function")
    if method is not None and method not in METHODS:
        raise _fail(what, f"method {str(method)[:40]!r} is not one of {', '.join(METHODS)}")
    if h is not None and not (isinstance(h, Real) and math.isfinite(h) and 0 < h <= 1):
        raise _fail(what, f"h {h!r} is not a step in (0, 1]")
    if name is not None and name not in LOSSES:
        raise _fail(what, f"loss_function {str(name)[:40]!r} is not one of {', '.join(LOSSES)}")
    samples = ctx.get("samples")
    if samples is not None and not (isinstance(samples, Integral) and samples >= 1):
        raise _fail(what, f"samples {samples!r} is not a count >= 1")
    K = len(a)
    verdict = ctx.get("verdict")
    where = f"over {K:,} checked entr{'y' if K == 1 else 'ies'}"
    if method is not None and h is not None:
        where += f", {method} differences, h={float(h):g}"
    head = f"relative error ||a-n||/||a+n|| = {g:.1e} ({where})"
    if verdict is not None:
        if verdict not in VERDICTS:
            raise _fail(what, f"verdict {str(verdict)[:40]!r} is not one of {', '.join(VERDICTS)}")
        if not _fits(verdict, g):
            raise _fail(what, f"verdict {verdict!r} does not fit the table's relative error {g:.1e}")
        text = f"{verdict.capitalize()}: {head}, as the exported check judged it."
        source = "exported"
    else:
        verdict = _table_verdict(g, diff, ks, kb, a, n)
        text = (
            f"{verdict.capitalize()}: {head}, judged from the table alone (kinks are the only explanation "
            "it records)."
        )
        source = "table"
    frame = pd.DataFrame(
        {
            "row": row,
            "col": col,
            "analytic": a,
            "numeric": n,
            "abs_diff": diff,
            "rel_error": rel,
            "kink_samples": ks,
            "kink_bound": kb,
        }
    )
    return CheckResult(
        table=frame,
        shape=(R, C),
        global_rel_error=g,
        median_rel_error=med,
        max_rel_error=mx,
        verdict=verdict,
        verdict_text=text,
        n_checked=K,
        n_kink_entries=int((ks > 0).sum()),
        method=str(method or ""),
        h=float(h) if h is not None else math.nan,
        part="total",
        seconds=0.0,
        loss=math.nan,
        name=str(name or ""),
        extra={
            "imported": True,
            "samples": None if samples is None else int(samples),
            "dataset": ctx.get("dataset"),
            "verdict_source": source,
        },
    )


def read_gradcheck_csv(text, shape, *, max_chars: int = MAX_CSV_CHARS):
    """A gradient-check table written by :func:`gradcheck_table_to_csv`, checked
    and rebuilt into a ``CheckResult`` for W of ``shape`` (see
    :func:`check_result_from_table`; the context columns are read when present).
    Every problem is a ``ValueError("gradcheck table: ...")``."""
    what = "gradcheck table"
    try:
        R, C = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise _fail("shape", f"expected (rows, classes), got {shape!r}") from None
    df = _read_checked(text, what, max_chars, max(1, R * C), ("row", "col", "analytic", "numeric"))
    context = _constants(df, CHECK_CONTEXT_COLUMNS, what)
    return check_result_from_table(df, (R, C), context, what=what)
