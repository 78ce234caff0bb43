"""Exports and imports (components/exports.py) as plain functions: every download
re-imports (weights, configuration) or re-reads (CSV) to the same thing; uploads
are size-limited, validated, never unpickled."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from dash import dcc, html, no_update

import app  # noqa: F401  (registers the callbacks)
from components import analysis, curves, deferred, exports, ids, layout, lecture, session
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
    payload, history, updates, views, message = exports.import_upload(as_upload(data), "w.npz", fresh)
    assert views == exports.NO_VIEWS
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
    weights, history, updates, views, message = exports.import_upload(as_upload(data), "c.json", fresh)
    assert views == exports.NO_VIEWS
    assert weights is no_update and history is no_update
    restored = {k: (fresh[k] if updates[k] is no_update else updates[k]) for k in lecture.KEYS}
    assert {k: v for k, v in restored.items() if k != "lecture"} == {
        k: v for k, v in shown.items() if k != "lecture"
    }
    assert updates["seed"] == 11  # the seed too: a config re-creates the initial weights
    assert "Restored" in message


def test_export_ui013_config_json_carries_the_teaching_views_and_restores_them_through_the_url():
    """The teaching views' controls live in the URL (their sections may not be mounted yet): the
    export reads them from it, the import writes them back into it, the sidebar's with them."""
    shown = page_controls(loss="hinge", seed=3)
    search = "?inspect_tab=grid&inside_tab=landscape&ls_mode=2d&ls_seed=9&ex_images=5%2C2&grid_lrs=lr2&loss=hinge&seed=3"
    data, _ = exports.download("config", shown, trained_weights(), None, search)
    config = json.loads(data["content"])
    assert {
        k: config[k] for k in ("inspect_tab", "inside_tab", "ls_mode", "ls_seed", "ex_images", "grid_lrs")
    } == {
        "inspect_tab": "grid",
        "inside_tab": "landscape",
        "ls_mode": "2d",
        "ls_seed": 9,
        "ex_images": "5,2",
        "grid_lrs": "lr2",
    }
    assert config["ls_span"] == "auto" and config["ex_split"] == "train"  # defaults written out too
    # import it into a fresh page: the sidebar's controls are set, the URL carries all of it
    fresh = page_controls()
    out = upload_outputs(as_upload(data), "c.json", fresh, search="")
    assert out["controls"]["loss"] == "hinge" and out["controls"]["seed"] == 3
    assert lecture.decode_query(out["search"])[0] == lecture.decode_query(search)[0]
    assert out["search"] == lecture.encode_query(lecture.decode_query(search)[0])
    # ... which the teaching sections are built from (or set from, once mounted)
    values = lecture.teach_values(out["search"])
    assert values[ids.INSPECT_TABS] == "grid" and values[ids.LANDSCAPE_SEED] == 9
    assert values[ids.EXAMPLES_INDICES] == "5, 2" and values[ids.HYPERGRID_LRS] == "lr2"
    # the page already shows it: no new history entry; a CSV or a refused file leaves the URL alone
    assert (
        upload_outputs(as_upload(data), "c.json", page_controls(loss="hinge", seed=3), search=out["search"])[
            "search"
        ]
        is no_update
    )
    bad = upload_outputs("data:text/plain;base64,aGVsbG8=", "notes.txt", fresh, search="")
    assert bad["search"] is no_update and "Not imported" in str(bad["status"])
    # a weights file carries the same configuration (the controls that keep W included)
    npz, _ = exports.download("weights", shown, trained_weights(), None, search)
    got = core_export.weights_from_npz_bytes(base64.b64decode(npz["content"]))
    assert got["config"]["inspect_tab"] == "grid" and got["config"]["ls_seed"] == 9
    back = upload_outputs(as_upload(npz), "w.npz", fresh, search="")
    assert "inspect_tab=grid" in back["search"] and "ls_seed=9" in back["search"]
    assert "seed=3" not in back["search"].replace("ls_seed", "")  # the weights keep this page's seed


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
    # the history's columns, then the objective it was recorded under (constant columns)
    assert list(frame.columns) == [*session.HISTORY_KEYS, *core_export.RUN_COLUMNS] and len(frame) == 30
    assert frame["loss_function"].unique().tolist() == ["softmax"]
    assert frame["n_train"].unique().tolist() == [5000]
    assert frame["loss"].tolist() == history["loss"] and frame["val_acc"].isna().all()
    with pytest.raises(ValueError, match="Train"):
        exports.download("history", shown, trained_weights(), None)
    shown = page_controls(gc_entries="random", gc_subset=40, gc_samples=10)
    data, message = exports.download("gradcheck", shown, trained_weights(), None)
    table = core_export.gradcheck_table_from_csv(data["content"])
    again = exports.check_table(shown, trained_weights())
    assert len(table) == 40 and np.array_equal(table["rel_error"].to_numpy(), again["rel_error"].to_numpy())
    assert data["filename"].endswith("-gradcheck.csv")
    assert table["method"].unique().tolist() == ["central"] and table["samples"].unique().tolist() == [10]
    assert table["verdict"].iloc[0] in ("correct", "acceptable") and table["dataset"].iloc[0] == BUILTIN


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
        ("x.txt", "data:text/plain;base64,aGVsbG8="): "expected a weights .npz, a configuration .json, or a",
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
        "data:text/plain;base64,aGVsbG8=", "notes.txt", False, ["show"], "", *[fresh[k] for k in lecture.KEYS]
    )
    assert out[0] is no_update and "Not imported" in str(out[-2]) and out[-1] is None
    data, _ = exports.download("config", page_controls(loss="hinge"), trained_weights(), None)
    out = exports.upload(as_upload(data), "c.json", False, ["show"], "", *[fresh[k] for k in lecture.KEYS])
    assert out[2 + lecture.KEYS.index("loss")] == "hinge" and out[-1] is None
    assert len(out) == 2 + len(lecture.KEYS) + 3 + 1 + 2
    assert out[-3] == "?loss=hinge"  # the URL follows (and carries the teaching views' controls)


def test_export_ui012_every_graph_offers_a_png_download_named_after_its_view():
    """Every dcc.Graph of the page, the teaching sections mounted after load included, has the
    toolbar's "download as PNG" button (and only that), with its own file name."""
    page = html.Div([layout.serve(), *deferred.sections()])
    graphs = [c for c in page._traverse() if isinstance(c, dcc.Graph)]
    found = {g.id for g in graphs}
    # the four first views and every teaching view's graph (a graph added later is walked too)
    assert {
        ids.TEMPLATES_GRAPH,
        ids.CURVES_GRAPH,
        ids.GC_HEATMAP,
        ids.GC_SCATTER,
        ids.SWEEP_GRAPH,
        ids.LANDSCAPE_GRAPH,
        ids.EXAMPLES_SCOREMAP,
        ids.EVALUATION_CONFUSION,
        ids.EVALUATION_SCOREMAP,
        ids.COMPARE_TEMPLATES_SOFTMAX,
        ids.COMPARE_CURVES_HINGE,
        ids.HYPERGRID_HEATMAP,
        ids.HYPERGRID_TEMPLATES,
        ids.HYPERGRID_CURVES,
    } <= found
    assert len(graphs) >= 16
    names = []
    for graph in graphs:
        cfg = graph.config or {}
        assert cfg.get("displayModeBar", "hover") is not False, graph.id
        assert cfg.get("modeBarButtons") == [["toImage"]], graph.id
        opts = cfg.get("toImageButtonOptions") or {}
        assert opts.get("format") == "png" and opts.get("scale") == 2, graph.id
        assert opts.get("filename", "").startswith("lincls-"), graph.id
        names.append(opts["filename"])
    assert len(set(names)) == len(names), names  # each view saves under its own name


# -- the CSVs re-import: a history redraws the loss curves, a check table the gradient-check view


def trained_history(sig=None, n=120) -> dict:
    sig = sig or [BUILTIN, 5000, "standardize", "hinge", 0.001, "half", True, 0.5]
    return session.history_payload(
        [
            dict(
                step=s,
                epoch=s / 25,
                lr=1e-3,
                loss=2.3 * np.exp(-s / 40) + 0.3,
                data_loss=2.2 * np.exp(-s / 40) + 0.25,
                reg_loss=0.05,
                train_acc=0.9 - 0.8 * np.exp(-s / 30),
                val_acc=(0.88 - 0.8 * np.exp(-s / 30)) if s % 10 == 0 else float("nan"),
            )
            for s in range(1, n + 1)
        ],
        sig,
    )


def upload_outputs(contents, filename, controls, running=False, kinks=("show",), search="") -> dict:
    """The upload callback called as Dash calls it, its outputs by name."""
    out = exports.upload(
        contents, filename, running, list(kinks), search, *[controls[k] for k in lecture.KEYS]
    )
    n = len(lecture.KEYS)
    assert len(out) == 2 + n + 6
    return {
        "weights": out[0],
        "history": out[1],
        "controls": dict(zip(lecture.KEYS, out[2 : 2 + n], strict=True)),
        "heatmap": out[2 + n],
        "scatter": out[3 + n],
        "gc_summary": out[4 + n],
        "search": out[5 + n],
        "status": out[6 + n],
        "contents": out[7 + n],
    }


def views_of(controls: dict, weights: dict) -> tuple:
    """The gradient-check view the page computes for these controls and weights."""
    values = {
        **{k: controls[k] for k in analysis_keys()},
        **{k: controls[k] for k in ("gc_samples", "gc_h", "gc_method", "gc_entries", "gc_subset", "gc_bug")},
        "train_size": controls["n_train"],
        "test_size": controls["n_test"],
        "gc_kinks": ["show"],
    }
    return analysis.compute_views(values, weights, None, True)


def analysis_keys() -> tuple:
    return ("dataset", "preprocessing", "loss", "delta", "reg", "reg_mode", "reg_bias")


def test_export_ui007_history_csv_redraws_the_same_loss_curves():
    history = trained_history()
    shown = page_controls(loss="hinge", delta=0.5)
    data, _ = exports.download("history", shown, trained_weights(), history)
    fresh = page_controls()  # another page: softmax selected, no history
    out = upload_outputs(as_upload(data), "lincls-hinge-seed0-history.csv", fresh)
    assert out["history"] == history  # the store, objective (sig) included
    assert out["weights"] is no_update and all(v is no_update for v in out["controls"].values())
    assert all(out[k] is no_update for k in ("heatmap", "scatter", "gc_summary")) and out["contents"] is None
    text = str(out["status"].children)
    assert text.startswith("Loaded loss history: 120 steps (hinge, λ = 1e-3, Δ = 0.5, 5,000 samples;")
    assert "last loss 0.4145, val. acc. 86.5 %" in text and "\n" not in text
    # the curves view draws the imported store as it drew the original (the sanity line of the hinge)
    original = curves.draw_curves(history, "hinge", 0.5, BUILTIN)
    imported = curves.draw_curves(out["history"], fresh["loss"], fresh["delta"], BUILTIN)
    assert imported.to_json() == original.to_json()
    assert "(C−1)·Δ" in imported.layout.annotations[0].text
    # exported again, it is the same file
    again, _ = exports.download("history", fresh, trained_weights(), out["history"])
    assert again["content"] == data["content"]


def test_export_ui008_history_csv_without_objective_and_long_histories():
    # a hand-made or core.train history: no run columns; the curves use the selected loss
    frame = exports.history_frame(trained_history(n=30))
    text = core_export.history_to_csv(frame.assign(seconds=np.arange(30) * 0.5))
    contents = "data:text/csv;base64," + base64.b64encode(text.encode()).decode()
    out = upload_outputs(contents, "run.csv", page_controls())
    assert out["history"]["sig"] is None and out["history"]["step"] == list(range(1, 31))
    assert "objective not recorded" in str(out["status"].children)
    fig = curves.draw_curves(out["history"], "softmax", 1.0, BUILTIN)
    assert "ln 10" in fig.layout.annotations[0].text and len(fig.data[0].x) == 30
    # a long history is thinned as a trained one is; the last step is kept
    steps = np.arange(1, 5001)
    long = pd.DataFrame({"step": steps, "loss": 2.0 / np.sqrt(steps)})
    contents = "data:text/csv;base64," + base64.b64encode(core_export.history_to_csv(long).encode()).decode()
    out = upload_outputs(contents, "long.csv", page_controls())
    assert len(out["history"]["step"]) <= session.HISTORY_MAX_POINTS and out["history"]["step"][-1] == 5000
    assert "5,000 steps" in str(out["status"].children) and "drawn as" in str(out["status"].children)
    assert session.check_history(out["history"]) is out["history"]


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_export_ui009_check_table_csv_redraws_the_same_gradient_check_view(loss):
    weights = trained_weights(seed=7)
    shown = page_controls(loss=loss, gc_samples=20)
    data, _ = exports.download("gradcheck", shown, weights, None)
    heat, scatter, summary_children, *_ = views_of(shown, weights)
    # another page (other loss and check settings, its own weights): the imported table is drawn
    fresh = page_controls(loss="structured-hinge", gc_h=-3.0)
    out = upload_outputs(as_upload(data), "lincls-gradcheck.csv", fresh)
    assert out["weights"] is no_update and out["history"] is no_update
    assert all(v is no_update for v in out["controls"].values()) and out["contents"] is None
    assert out["heatmap"].to_json() == heat.to_json()
    assert out["scatter"].to_json() == scatter.to_json()
    # the same verdict and numbers; the caption says where the check came from
    assert str(out["gc_summary"][1]) == str(summary_children[1])
    assert str(out["gc_summary"][0].children[0]) == str(summary_children[0].children[0])  # the badge
    assert str(out["gc_summary"][3]) == str(summary_children[3])  # the kinks note (or none)
    caption = str(out["gc_summary"][2])
    assert (
        "7,850 entries checked on 20 samples" in caption and "imported from lincls-gradcheck.csv" in caption
    )
    status_text = str(out["status"].children)
    assert status_text.startswith(f"Loaded gradient-check table: 7,850 entries, {loss}, ")
    # the kinks toggle's state is kept
    hidden = upload_outputs(as_upload(data), "g.csv", fresh, kinks=())
    assert hidden["heatmap"].data[2].visible is False and out["heatmap"].data[2].visible is True


def _csv_upload(text: str | bytes) -> str:
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    return "data:text/csv;base64," + base64.b64encode(raw).decode()


def _good_table() -> str:
    return exports.download(
        "gradcheck", page_controls(gc_entries="random", gc_subset=30), trained_weights(), None
    )[0]["content"]


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: "a,b\n1,2\n", "x.csv: columns a, b are neither a loss history"),
        (lambda: b"step,loss\n1,\xff\n", "x.csv is not UTF-8 text"),
        (lambda: "step,loss\n1,2\n1,3\n", "history: column 'step' must increase"),
        (
            lambda: "step,loss\n1,nan\n2,inf\n",
            "history: column 'loss' must hold finite numbers (line 3: inf)",
        ),
        (lambda: "step,loss\n", "history: no rows"),
        (lambda: "row,col,analytic,numeric\n1024,0,1,1\n", "the current W has shape (785, 10)"),
        (lambda: "row,col,analytic,numeric\n0,0,1,1\n0,0,1,1\n", "entry W[0, 0] appears twice"),
        (lambda: _good_table().replace(",central,", ",sideways,"), "method 'sideways' is not one of"),
        (lambda: "row,col,analytic,numeric\n0,0,__import__('os'),1\n", "'analytic' must hold numbers"),
    ],
)
def test_export_ui010_bad_csvs_leave_the_page_as_it_was(make, why):
    out = upload_outputs(_csv_upload(make()), "x.csv", page_controls())
    assert out["weights"] is no_update and out["history"] is no_update
    assert all(v is no_update for v in out["controls"].values())
    assert all(out[k] is no_update for k in ("heatmap", "scatter", "gc_summary"))
    text = str(out["status"].children)
    assert text.startswith("Not imported: ") and why in text and "\n" not in text, text
    assert "export-error" in out["status"].className and out["contents"] is None


def test_export_ui011_csv_import_refused_while_training_and_offered_in_the_box():
    data, _ = exports.download("history", page_controls(), trained_weights(), trained_history())
    out = upload_outputs(as_upload(data), "h.csv", page_controls(), running=True)
    assert out["history"] is no_update and "stop it first" in str(out["status"].children)
    box = exports.panel().children[2]
    assert box.id == ids.EXPORT_UPLOAD and ".csv" in box.accept.split(",")
    assert ".csv" in str(box.children)
