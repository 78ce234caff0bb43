"""Tests for core/export.py: exact round trips and strict rejection of
tampered or malicious weight files, CSV tables and JSON configurations."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import struct
import types
import zipfile

import numpy as np
import pandas as pd
import pytest

from core import export

NAMES = tuple(str(i) for i in range(10))
CONFIG = {"loss": "hinge", "reg": 1e-3, "lr": 0.1 + 0.2, "iterations": None, "seed": 3, "reg_bias": False}


@pytest.fixture()
def W():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((785, 10))
    W[0, :4] = [-0.0, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308]
    return W


@pytest.fixture()
def good(W):
    return export.weights_to_npz_bytes(W, class_names=NAMES, image_shape=(28, 28), config=CONFIG)


def _npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=allow_pickle)
    return buf.getvalue()


def _members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def _replace(blob: bytes, **arrays) -> bytes:
    """``blob`` with the given members replaced (raw bytes or arrays; None drops one)."""
    members = _members(blob)
    for key, value in arrays.items():
        if value is None:
            members.pop(key + ".npy")
        else:
            members[key + ".npy"] = value if isinstance(value, bytes) else _npy(value)
    return _zip(members)


def _rejects(blob, field: str, match: str = "", **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        export.weights_from_npz_bytes(blob, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{field}: "), message
    assert match in message, message
    return message


# --------------------------------------------------------------------------
# weights: round trips


def test_export001_weights_round_trip_bitwise(W, good):
    W_before = W.copy()
    out = export.weights_from_npz_bytes(good)
    assert set(out) == {"W", "class_names", "image_shape", "config"}
    assert out["W"].dtype == np.float64 and out["W"].shape == W.shape
    assert out["W"].tobytes() == W.tobytes()  # bit for bit, -0.0 and subnormals included
    assert out["class_names"] == NAMES
    assert out["image_shape"] == (28, 28)
    assert out["config"] == CONFIG
    assert W.tobytes() == W_before.tobytes()
    # deterministic: the same state gives the same bytes
    again = export.weights_to_npz_bytes(W, class_names=list(NAMES), image_shape=[28, 28], config=dict(CONFIG))
    assert again == good


def test_export002_weights_file_is_a_plain_npz(good, W):
    with np.load(io.BytesIO(good), allow_pickle=False) as z:
        assert sorted(z.files) == sorted(["format", "W", "class_names", "image_shape", "config"])
        assert np.array_equal(z["W"], W)
        assert z["class_names"].dtype.kind == "U"
        assert json.loads(str(z["config"])) == CONFIG
        assert str(z["format"]) == export.FORMAT


def test_export003_other_shapes_and_names_round_trip():
    rng = np.random.default_rng(1)
    W32 = rng.standard_normal((3 * 5 + 1, 4)).astype(np.float32)
    names = ["T-shirt/top", "Ankle boot", "ß ünïcode", "a,b"]
    blob = export.weights_to_npz_bytes(W32, class_names=names, image_shape=(3, 5), config={})
    out = export.weights_from_npz_bytes(bytearray(blob))
    assert np.array_equal(out["W"], W32.astype(np.float64))
    assert out["class_names"] == tuple(names) and out["image_shape"] == (3, 5) and out["config"] == {}


def test_export004_export_refuses_what_import_would_reject(W):
    kw = dict(class_names=NAMES, image_shape=(28, 28), config=CONFIG)
    bad = W.copy()
    bad[5, 5] = np.nan
    cases = [
        ((bad,), kw, "W: contains NaN"),
        ((W[:, :1],), dict(kw, class_names=NAMES[:1]), "W: 1 classes"),
        ((W,), dict(kw, image_shape=(28, 27)), "image_shape:"),
        ((W,), dict(kw, class_names=NAMES[:9]), "class_names: 9 names"),
        ((W,), dict(kw, class_names=("a",) * 10), "class_names: names are not unique"),
        ((W,), dict(kw, config={"reg": float("inf")}), "reg: inf is not a finite number"),
        ((W,), dict(kw, config={"f": print}), "f: builtin_function_or_method"),
        ((W,), dict(kw, config=[1, 2]), "config: expected a dict"),
        ((W.astype(complex),), kw, "W: expected floating-point"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            export.weights_to_npz_bytes(*args, **kwargs)


# --------------------------------------------------------------------------
# weights: tampered and malicious files


def test_export005_not_a_zip_truncated_or_oversized(good):
    _rejects(b"hello", "file", "not a valid .npz")
    _rejects(b"", "file", "not a valid .npz")
    _rejects(good[: len(good) // 2], "file", "not a valid .npz")
    _rejects(good[:-1], "file", "not a valid .npz")
    _rejects(_npy(np.zeros((785, 10))), "file", "not a valid .npz")  # a bare .npy
    _rejects(good, "file", "more than the 1,000-byte limit", max_bytes=1000)
    _rejects("a string", "file", "expected bytes")


def test_export006_object_and_pickled_arrays_are_never_unpickled(good, tmp_path):
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    obj = np.empty((2,), dtype=object)
    obj[:] = [Evil(), Evil()]
    _rejects(_replace(good, W=_npy(obj, allow_pickle=True)), "W", "object arrays are not allowed")
    _rejects(_replace(good, class_names=_npy(obj, allow_pickle=True)), "class_names", "object arrays")
    import pickle

    _rejects(_replace(good, W=pickle.dumps(Evil())), "W", "not a valid .npy array")
    _rejects(_replace(good, config=pickle.dumps({"a": 1})), "config", "not a valid .npy array")
    assert not marker.exists()
    # the control: this payload really would touch the marker when unpickled
    pickle.loads(pickle.dumps(Evil()))
    assert marker.exists()


def test_export007_wrong_shapes_and_dtypes_name_the_field(good, W):
    _rejects(_replace(good, W=W[None]), "W", "2-D")
    _rejects(_replace(good, W=W[:100]), "image_shape", "W has 100 rows")
    _rejects(_replace(good, W=np.ones(W.shape, dtype=np.int64)), "W", "unexpected dtype int64")
    _rejects(_replace(good, W=W.astype(np.complex128)), "W", "unexpected dtype")
    structured = np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")])
    _rejects(_replace(good, W=structured), "W", "unexpected dtype")
    _rejects(_replace(good, image_shape=np.array([28, 28, 1])), "image_shape", "shape (3,)")
    _rejects(_replace(good, image_shape=np.array([28.0, 28.0])), "image_shape", "unexpected dtype")
    _rejects(_replace(good, image_shape=np.array([-28, -28])), "image_shape", "plausible")
    _rejects(_replace(good, class_names=np.array(NAMES[:9])), "class_names", "9 names")
    _rejects(_replace(good, class_names=np.array(NAMES).reshape(2, 5)), "class_names", "1-D")
    _rejects(_replace(good, class_names=np.arange(10)), "class_names", "unexpected dtype")
    _rejects(_replace(good, class_names=np.array(["a"] * 10)), "class_names", "not unique")
    _rejects(_replace(good, class_names=np.array([""] + list(NAMES[1:]))), "class_names", "empty")
    _rejects(_replace(good, format=np.array("lincls-weights/99")), "format", "is not")
    _rejects(_replace(good, format=np.array(["a", "b"])), "format", "single string")


def test_export008_non_finite_weights_rejected(good, W):
    for value in (np.nan, np.inf, -np.inf):
        bad = W.copy()
        bad[100, 3] = value
        _rejects(_replace(good, W=bad), "W", "NaN or infinite")


def test_export009_huge_declared_sizes_rejected_before_reading(good):
    # an .npy header claiming 10**12 floats over a few bytes of data
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    _rejects(_replace(good, W=buf.getvalue() + b"\0" * 64), "W", "header declares shape (1000000, 1000000)")
    # a deflate bomb: 3 MB of zeros in a few KB, against a 1 MB limit
    bomb = _replace(good, W=_npy(np.zeros((3 * 10**6 // 8 // 10, 10))))
    assert len(bomb) < 100_000
    _rejects(bomb, "file", "members inflate to", max_bytes=1_000_000)
    # a member whose zip entry under-declares its size: stops at the declared size, CRC fails
    members = _members(good)
    payload = members["W.npy"]
    raw = bytearray(_zip(members, compression=zipfile.ZIP_STORED))
    true_size = struct.pack("<I", len(payload))
    fake_size = struct.pack("<I", 1000)
    n = 0
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (pos := raw.find(sig, start)) >= 0:
            if raw[pos + offset : pos + offset + 4] == true_size:
                raw[pos + offset : pos + offset + 4] = fake_size
                n += 1
            start = pos + 4
    assert n == 2  # local and central headers of W.npy patched
    _rejects(bytes(raw), "W", "corrupt zip member (Bad CRC-32")


def test_export010_missing_extra_and_duplicated_members(good):
    _rejects(_replace(good, config=None), "config", "missing")
    _rejects(_replace(good, W=None), "W", "missing")
    members = _members(good)
    members["extra.npy"] = _npy(np.zeros(2))
    _rejects(_zip(members), "file", "unexpected members ['extra.npy']")
    members = _members(good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("W.npy", members["W.npy"])
    _rejects(buf.getvalue(), "file", "twice")


def test_export011_corrupt_encrypted_and_bad_config_members(good):
    raw = bytearray(good)
    start = raw.find(b"W.npy") + len(b"W.npy") + 200  # inside W's compressed data
    raw[start : start + 50] = bytes(50)
    _rejects(bytes(raw), "W", "corrupt")
    enc = bytearray(good)
    pos = enc.find(b"PK\x01\x02")  # first central-directory entry: set its "encrypted" flag
    enc[pos + 8] |= 0x1
    _rejects(bytes(enc), "format", "encrypted")
    _rejects(_replace(good, config=np.array("{not json")), "config", "not valid JSON")
    _rejects(_replace(good, config=np.array('{"reg": NaN}')), "config", "NaN is not allowed")
    _rejects(_replace(good, config=np.array("[1, 2]")), "config", "expected a JSON object")


# --------------------------------------------------------------------------
# JSON configurations


def test_export012_config_json_round_trip():
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        loss: str = "softmax"
        reg: float = 1e-4
        batch_size: int = 200
        iterations: int | None = None
        reg_bias: bool = True

    text = export.config_to_json(Cfg())
    assert export.config_from_json(text) == dataclasses.asdict(Cfg())
    nested = {
        "a": [1, 2.5, "x", None, True],
        "b": {"c": (1, 2), "d": np.float64(0.1), "e": np.int64(7), "f": np.bool_(True)},
        "g": 1e-300,
        "h": "ünïcode \" quotes",
    }
    back = export.config_from_json(export.config_to_json(nested))
    assert back == {**nested, "b": {"c": [1, 2], "d": 0.1, "e": 7, "f": True}}
    assert type(back["b"]["e"]) is int and type(back["b"]["f"]) is bool
    assert list(json.loads(export.config_to_json({"z": 1, "a": 2}))) == ["a", "z"]  # sorted keys
    assert export.config_from_json(export.config_to_json({}).encode()) == {}


def test_export013_config_from_json_rejects_malformed_input():
    cases = [
        ('{"a": NaN}', "NaN is not allowed"),
        ('{"a": Infinity}', "Infinity is not allowed"),
        ('{"a": -Infinity}', "Infinity is not allowed"),
        ('{"a": 1e400}', "out of the float range"),
        ('{"a": ' + "9" * 25 + "}", "more than 19 digits"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ("[1, 2]", "expected a JSON object"),
        ('"text"', "expected a JSON object"),
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32"),
        ("[" * 200_000 + "]" * 200_000, "characters, more than"),
        ('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested"),
    ]
    for text, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            export.config_from_json(text, max_chars=500_000 if len(text) < 300_000 else 100_000)
        assert str(info.value).startswith("config: ")
    with pytest.raises(ValueError, match="not UTF-8"):
        export.config_from_json(b'{"a": "\xff"}')
    with pytest.raises(ValueError, match="expected JSON text"):
        export.config_from_json(None)
    with pytest.raises(ValueError, match="more than the 10 limit"):
        export.config_from_json('{"a": 12345}', max_chars=10)


def test_export014_config_schema_checks_types_and_choices():
    schema = {
        "loss": ("softmax", "hinge"),
        "reg": float,
        "seed": int,
        "reg_bias": bool,
        "iterations": (int, None),
        "name": str,
    }
    ok = export.config_from_json(
        '{"loss": "hinge", "reg": 1, "seed": 3, "reg_bias": false, "iterations": null, "name": "x"}', schema
    )
    assert ok == {"loss": "hinge", "reg": 1.0, "seed": 3, "reg_bias": False, "iterations": None, "name": "x"}
    assert type(ok["reg"]) is float
    assert export.config_from_json('{"iterations": 50}', schema) == {"iterations": 50}
    bad = {
        '{"loss": "mse"}': "loss: 'mse' is not allowed (expected 'softmax', 'hinge')",
        '{"reg": "0.1"}': "reg: '0.1' is not allowed (expected float)",
        '{"reg": true}': "reg: True is not allowed",
        '{"seed": 1.5}': "seed: 1.5 is not allowed (expected int)",
        '{"seed": true}': "seed: True is not allowed",
        '{"reg_bias": 1}': "reg_bias: 1 is not allowed (expected bool)",
        '{"iterations": "5"}': "iterations: '5' is not allowed (expected int, null)",
        '{"name": ["x"]}': "name: ['x'] is not allowed",
        '{"extra": 1}': "extra: unknown key",
    }
    for text, message in bad.items():
        with pytest.raises(ValueError) as info:
            export.config_from_json(text, schema)
        assert message in str(info.value), (text, str(info.value))
    with pytest.raises(ValueError) as info:  # every problem reported at once
        export.config_from_json('{"loss": "mse", "seed": "x", "extra": 1}', schema)
    assert str(info.value).count(";") == 2
    assert export.config_from_json('{"extra": 1}', schema, allow_unknown=True) == {"extra": 1}


# --------------------------------------------------------------------------
# CSV tables


def _history(n=25, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "step": np.arange(0, 10 * n, 10, dtype=np.int64),
            "epoch": np.linspace(0, 2.5, n),
            "lr": 1e-3 * 0.95 ** np.arange(n),
            "loss": rng.standard_normal(n) ** 2 + 1e-17,
            "data_loss": rng.standard_normal(n) ** 2,
            "reg_loss": rng.random(n) * 1e-9,
            "train_acc": rng.random(n),
            "val_acc": np.where(np.arange(n) % 3 == 0, np.nan, rng.random(n)),
            "seconds": np.cumsum(rng.random(n)),
        }
    )
    df.loc[3, "loss"] = -0.0
    df.loc[4, "loss"] = 5e-324
    return df


def test_export015_history_csv_round_trip_exact():
    df = _history()
    before = df.copy()
    text = export.history_to_csv(df)
    assert text.splitlines()[0] == ",".join(df.columns)
    back = export.history_from_csv(text)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    for c in df.columns:  # bit for bit, signed zero included
        assert back[c].to_numpy().tobytes() == df[c].to_numpy().tobytes(), c
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    rng = np.random.default_rng(8)  # many floats across the whole exponent range
    wide = pd.DataFrame(
        {
            "step": np.arange(20_000, dtype=np.int64),
            "loss": rng.standard_normal(20_000) * 10.0 ** rng.integers(-307, 307, 20_000),
        }
    )
    back = export.history_from_csv(export.history_to_csv(wide))
    assert back["loss"].to_numpy().tobytes() == wide["loss"].to_numpy().tobytes()
    empty = df.iloc[:0]
    assert list(export.history_from_csv(export.history_to_csv(empty)).columns) == list(df.columns)


def test_export016_gradcheck_csv_round_trip_exact():
    rng = np.random.default_rng(4)
    a = rng.standard_normal(12)
    table = pd.DataFrame(
        {
            "row": rng.integers(0, 785, 12),
            "col": rng.integers(0, 10, 12),
            "analytic": a,
            "numeric": a + 1e-9 * rng.standard_normal(12),
            "abs_diff": np.abs(1e-9 * rng.standard_normal(12)),
            "rel_error": rng.random(12) * 1e-7,
            "kink_samples": rng.integers(0, 3, 12),
            "kink_bound": rng.random(12),
        }
    )
    text = export.gradcheck_table_to_csv(table)
    back = export.gradcheck_table_from_csv(text)
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    result = types.SimpleNamespace(table=table)  # a CheckResult-like object
    assert export.gradcheck_table_to_csv(result) == text


def test_export017_csv_rejections():
    with pytest.raises(ValueError, match="history: expected a pandas DataFrame"):
        export.history_to_csv({"step": [1]})
    with pytest.raises(ValueError, match="column names must be strings"):
        export.history_to_csv(pd.DataFrame({0: [1.0]}))
    with pytest.raises(ValueError, match="holds containers"):
        export.history_to_csv(pd.DataFrame({"step": [1], "w": [[1, 2]]}))
    with pytest.raises(ValueError, match="history: empty CSV"):
        export.history_from_csv("  \n")
    with pytest.raises(ValueError, match="missing columns \\['loss'\\]"):
        export.history_from_csv("step,acc\n1,0.5\n")
    with pytest.raises(ValueError, match="more than the 10 limit"):
        export.history_from_csv("step,loss\n1,2\n", max_chars=10)
    with pytest.raises(ValueError, match="expected CSV text"):
        export.history_from_csv(b"step,loss\n1,2\n")
    with pytest.raises(ValueError, match="gradcheck table: not a valid CSV"):
        export.gradcheck_table_from_csv('row,col\n1,"2\n')
