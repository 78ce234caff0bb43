"""The page in a real browser imports its CSV exports through the upload box: a
loss-history .csv redraws the loss curves, a gradient-check .csv redraws the
check view, a bad file is named in one line and the views stay. No console error."""

from __future__ import annotations

import numpy as np
import pytest

from components import exports, ids, lecture, session
from tests.integration.test_app import text, trace_stats, wait_until

BUILTIN = session.DEFAULTS["dataset"]


@pytest.fixture(scope="module")
def dash_app():
    from app import app

    return app


def controls(**changes) -> dict:
    state, _ = lecture.decode_query("")
    return lecture.controls_from_state({**state, **changes})


def weights() -> dict:
    W = np.random.default_rng(3).standard_normal((785, 10)) * 0.01
    return session.encode_weights(W, dataset=BUILTIN, origin="trained, run 1", run=1, step=120)


def history_csv() -> str:
    sig = [BUILTIN, 5000, "standardize", "hinge", 0.001, "half", True, 1.0]
    records = [
        dict(
            step=s,
            epoch=s / 25,
            lr=1e-3,
            loss=9.0 * np.exp(-s / 40) + 0.5,
            data_loss=9.0 * np.exp(-s / 40) + 0.45,
            reg_loss=0.05,
            train_acc=0.9 - 0.8 * np.exp(-s / 30),
            val_acc=0.88 - 0.8 * np.exp(-s / 30),
        )
        for s in range(1, 121)
    ]
    history = session.history_payload(records, sig)
    data, _ = exports.download("history", controls(loss="hinge"), weights(), history)
    return data["content"]


def gradcheck_csv() -> str:
    # a check that catches a planted bug: the page's own check says CORRECT, this table WRONG
    data, _ = exports.download("gradcheck", controls(gc_bug="sign-flip"), weights(), None)
    assert ",wrong\n" in data["content"]
    return data["content"]


def upload(dash_duo, path) -> None:
    box = dash_duo.find_element(f"#{ids.EXPORT_UPLOAD} input[type=file]")
    box.send_keys(str(path))


def test_export_int001_csvs_import_through_the_upload_box(dash_duo, dash_app, tmp_path):
    hist = tmp_path / "lincls-hinge-history.csv"
    hist.write_text(history_csv())
    check = tmp_path / "lincls-softmax-gradcheck.csv"
    check.write_text(gradcheck_csv())
    bad = tmp_path / "notes.csv"
    bad.write_text("when,what\nmonday,lecture\n")

    dash_duo.start_server(dash_app)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "CORRECT", timeout=30)
    dash_duo.wait_for_element(f"#{ids.CURVES_GRAPH} .main-svg", timeout=10)
    wait_until(lambda: trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z"), message="gradient-check heatmap")
    assert trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y") == [0, 0]  # no training yet: no curve

    # 1. the loss history: the curves view draws its 120 steps, with the hinge's sanity line
    upload(dash_duo, hist)
    dash_duo.wait_for_contains_text(f"#{ids.EXPORT_STATUS}", "Loaded loss history: 120 steps", timeout=30)
    assert "hinge" in text(dash_duo, f"#{ids.EXPORT_STATUS}")
    wait_until(
        lambda: (trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y") or [0, 0])[1] == 120,
        message="the imported loss curve",
    )
    for trace in range(5):  # loss, data loss, reg. loss, train and val. accuracy
        assert trace_stats(dash_duo, ids.CURVES_GRAPH, trace, "y")[1] == 120
    dash_duo.wait_for_contains_text(f"#{ids.CURVES_GRAPH}", "(C−1)·Δ", timeout=10)

    # 2. the gradient-check table: the view shows its verdict and its heatmap
    before = trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z")
    upload(dash_duo, check)
    dash_duo.wait_for_contains_text(f"#{ids.EXPORT_STATUS}", "Loaded gradient-check table: 7,850", timeout=30)
    dash_duo.wait_for_contains_text(f"#{ids.GC_SUMMARY}", "WRONG", timeout=30)
    assert "imported from lincls-softmax-gradcheck.csv" in text(dash_duo, f"#{ids.GC_SUMMARY}")
    after = wait_until(
        lambda: (s := trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z")) != before and s,
        message="the imported heatmap",
    )
    assert after[1] == 7840  # every pixel weight checked, drawn

    # 3. a CSV that is neither: one line says so, and the views stay as they were
    upload(dash_duo, bad)
    dash_duo.wait_for_contains_text(
        f"#{ids.EXPORT_STATUS}", "Not imported: notes.csv: columns when, what", timeout=30
    )
    assert "\n" not in text(dash_duo, f"#{ids.EXPORT_STATUS}")
    assert "WRONG" in text(dash_duo, f"#{ids.GC_SUMMARY}")
    assert trace_stats(dash_duo, ids.GC_HEATMAP, 0, "z") == after
    assert trace_stats(dash_duo, ids.CURVES_GRAPH, 0, "y")[1] == 120

    # 4. the same history file again (the box was cleared, so it is read again)
    upload(dash_duo, hist)
    dash_duo.wait_for_contains_text(f"#{ids.EXPORT_STATUS}", "Loaded loss history", timeout=30)
    assert dash_duo.get_logs() == []
