"""Exports and imports (components/exports.py) as plain functions: every download
re-imports (weights, configuration) or re-reads (CSV) to the same thing; uploads
are size-limited, validated, never unpickled."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from dash import no_update

import app  # noqa: F401  (registers the callbacks)
from components import exports, ids, layout, lecture, session
from core import export as core_export

BUILTIN = session.DEFAULTS["dataset"]


def page_controls(**changes) -> dict:
    state, _ = lecture.decode_query("")
    return lecture.controls_from_state({**state, **changes})


def trained_weights(seed=5) -> dict:
    W = np.random.default_rng(seed).standard_normal((785, 10)) * 0.01
    return session.encode_weights(W, dataset=BUILTIN, origin="trained, run 1", run=1, step=40)


def as_upload(data: dict) -> str:
    """The ``contents`` dcc.Upload would send for a dcc.Download payload."""
    raw = base64.b64decode(data["content"]) if data.get("base64") else data["content"].encode("utf-8")
    return "data:application/octet-stream;base64," + base64.b64encode(raw).decode("ascii")


def test_export_ui001_weights_npz_reimports_to_the_identical_W_and_controls():
    weights = trained_weights()
    shown = page_controls(loss="hinge", reg=0.01, seed=3, gc_bug="sign-flip", delta=0.5)
    data, message = exports.download("weights", shown, weights, None)
    assert data["filename"] == "lincls-hinge-seed3-weights.npz" and data["base64"]
    got = core_export.weights_from_npz_bytes(base64.b64decode(data["content"]))
    assert got["config"]["loss"] == "hinge" and got["config"]["origin"] == "trained, run 1"
    # import it into a fresh page (defaults, its own initial weights)
    fresh = page_controls()
    payload, history, updates, message = exports.import_upload(as_upload(data), "w.npz", fresh)
    assert np.array_equal(session.decode_weights(payload), session.decode_weights(weights))  # bit for bit
    assert payload["dataset"] == BUILTIN and "imported" in payload["origin"] and history is None
    assert updates["loss"] == "hinge" and updates["gc_bug"] == "sign-flip"
    assert updates["delta"] == 0.5 and updates["reg"] == pytest.approx(-2.0)
    assert updates["seed"] is no_update and updates["init"] is no_update  # would re-initialize W
    assert updates["dataset"] is no_update and updates["lecture"] is no_update
    assert "Imported" in message


def test_export_ui002_config_json_restores_every_control():
    shown = page_controls(
        loss="ova-hinge", seed=11, lr=0.1, epochs=20, gc_h=0.001, scale="per-class", kinks=0
    )
    data, _ = exports.download("config", shown, trained_weights(), None)
    assert data["filename"] == "lincls-ova-hinge-seed11-config.json"
    config = json.loads(data["content"])
    assert config["format"] == lecture.CONFIG_FORMAT and config["seed"] == 11 and "lecture" not in config
    fresh = page_controls()
    weights, history, updates, message = exports.import_upload(as_upload(data), "c.json", fresh)
    assert weights is no_update and history is no_update
    restored = {k: (fresh[k] if u is no_update else u) for k, u in updates.items()}
    assert {k: v for k, v in restored.items() if k != "lecture"} == {
        k: v for k, v in shown.items() if k != "lecture"
    }
    assert updates["seed"] == 11  # the seed too: a config re-creates the initial weights
    assert "Restored" in message


def test_export_ui003_history_and_check_table_csv_read_back_the_same():
    history = session.history_payload(
        [
            dict(
                step=s,
                epoch=s / 10,
                lr=1e-3,
                loss=2.3 - s / 100,
                data_loss=2.2,
                reg_loss=0.1,
                train_acc=0.1 + s / 100,
                val_acc=float("nan"),
            )
            for s in range(1, 31)
        ],
        [BUILTIN, 5000, "standardize", "softmax", 0.001, "half", True, 1.0],
    )
    shown = page_controls()
    data, message = exports.download("history", shown, trained_weights(), history)
    frame = core_export.history_from_csv(data["content"])
    assert list(frame.columns) == list(session.HISTORY_KEYS) and len(frame) == 30
    assert frame["loss"].tolist() == history["loss"] and frame["val_acc"].isna().all()
    with pytest.raises(ValueError, match="Train"):
        exports.download("history", shown, trained_weights(), None)
    shown = page_controls(gc_entries="random", gc_subset=40, gc_samples=10)
    data, message = exports.download("gradcheck", shown, trained_weights(), None)
    table = core_export.gradcheck_table_from_csv(data["content"])
    again = exports.check_table(shown, trained_weights())
    assert len(table) == 40 and np.array_equal(table["rel_error"].to_numpy(), again["rel_error"].to_numpy())
    assert data["filename"].endswith("-gradcheck.csv")


def test_export_ui004_uploads_are_size_limited_before_decoding(monkeypatch):
    assert exports.png_config("x")["toImageButtonOptions"]["scale"] == 2
    fresh = page_controls()
    huge = "data:application/octet-stream;base64," + "A" * (exports._MAX_CONTENTS_CHARS + 4)
    called = []
    monkeypatch.setattr(exports.base64, "b64decode", lambda *a, **k: called.append(1))
    assert exports.MAX_UPLOAD_BYTES <= 20_000_000
    with pytest.raises(ValueError, match="larger than"):
        exports.import_upload(huge, "w.npz", fresh)
    assert called == []  # rejected before decoding anything
    page = str(layout.serve())
    assert f"max_size={exports.MAX_UPLOAD_BYTES}" in page  # the browser refuses it first


def _npz(**arrays) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w") as fp:
                np.lib.format.write_array(fp, arr, allow_pickle=True)
    return "data:application/octet-stream;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def test_export_ui005_bad_files_are_refused_with_a_reason():
    fresh = page_controls()
    cases = {
        ("x.txt", "data:text/plain;base64,aGVsbG8="): "expected a weights .npz",
        ("x.npz", "data:application/octet-stream;base64,bm90IGEgemlw"): "not a valid .npz",
        ("x.npz", "data:application/octet-stream;base64,@@@"): "not valid base64",
        ("x.npz", "no comma"): "not a file",
        (
            "x.npz",
            _npz(  # a pickled object array: refused, never unpickled
                format=np.array(core_export.FORMAT),
                W=np.array([{"a": 1}], dtype=object),
                class_names=np.array(list("0123456789")),
                image_shape=np.array([28, 28]),
                config=np.array("{}"),
            ),
        ): "W",
        ("x.json", "data:application/json;base64," + base64.b64encode(b"[1, 2]").decode()): "JSON object",
    }
    for (name, contents), why in cases.items():
        with pytest.raises(ValueError, match=why):
            exports.import_upload(contents, name, fresh)
    # weights of another shape (e.g. 32x32 images): refused, the dataset named
    W = np.zeros((1025, 10))
    raw = core_export.weights_to_npz_bytes(
        W, class_names=list("abcdefghij"), image_shape=(32, 32), config={"dataset": "cifar-gray"}
    )
    upload = "data:;base64," + base64.b64encode(raw).decode()
    with pytest.raises(ValueError, match="cifar-gray"):
        exports.import_upload(upload, "c.npz", fresh)
    # same shape, other class names (Fashion-MNIST weights on MNIST)
    raw = core_export.weights_to_npz_bytes(
        np.zeros((785, 10)), class_names=[f"c{i}" for i in range(10)], image_shape=(28, 28), config={}
    )
    with pytest.raises(ValueError, match="classes"):
        exports.import_upload("data:;base64," + base64.b64encode(raw).decode(), "f.npz", fresh)
    with pytest.raises(ValueError, match="stop it first"):
        exports.import_upload(upload, "c.npz", fresh, running=True)


def test_export_ui006_callbacks_report_and_clear_the_upload_box():
    fresh = page_controls()
    out = exports.upload(
        "data:text/plain;base64,aGVsbG8=", "notes.txt", False, *[fresh[k] for k in lecture.KEYS]
    )
    assert out[0] is no_update and "Not imported" in str(out[-2]) and out[-1] is None
    data, _ = exports.download("config", page_controls(loss="hinge"), trained_weights(), None)
    out = exports.upload(as_upload(data), "c.json", False, *[fresh[k] for k in lecture.KEYS])
    assert out[2 + lecture.KEYS.index("loss")] == "hinge" and out[-1] is None
    assert len(out) == 2 + len(lecture.KEYS) + 2
    # the graphs offer a PNG download named after the view
    page = layout.serve()
    configs = {}

    def walk(node):
        if getattr(node, "id", None) in (
            ids.TEMPLATES_GRAPH,
            ids.CURVES_GRAPH,
            ids.GC_HEATMAP,
            ids.GC_SCATTER,
        ):
            configs[node.id] = node.config
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and hasattr(child, "to_plotly_json"):
                walk(child)

    walk(page)
    assert len(configs) == 4
    for cfg in configs.values():
        assert cfg["modeBarButtons"] == [["toImage"]] and cfg["toImageButtonOptions"]["scale"] == 2
        assert cfg["toImageButtonOptions"]["filename"].startswith("lincls-")
