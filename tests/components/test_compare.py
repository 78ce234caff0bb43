"""Inspect / Softmax vs SVM: both losses from one start, as plain functions (the job called in-process)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import compare, session, training
from components import inspect_common as ic
from core import data as core_data
from core import metrics
from core.train import init_weights, train

BUILTIN = core_data.BUILTIN
LOG = np.log10
DATA = (BUILTIN, LOG(500), LOG(100), "standardize")
# λ slider, penalty, bias, Δ; init, seed, lr, batch, epochs
SETTINGS = (-3.0, "half", ["bias"], 1.0, "gaussian", 4, -2.0, LOG(100), LOG(2))


@pytest.fixture(autouse=True)
def _keep_test_priority(monkeypatch):
    """The job renices its process; called in-process here, it must not renice pytest."""
    monkeypatch.setattr(training, "_lower_priority", lambda: None)


@pytest.fixture(scope="module")
def prep():
    return session.prepared(ic.data_of(*DATA))


def base(prep):
    return compare.base_config(*SETTINGS, prep.X_train.shape[0])


def test_compare001_both_losses_start_from_one_W_and_train_as_train_would(prep):
    cfg = base(prep)
    runs = compare.compare_runs(prep, cfg)
    W0 = init_weights(prep.n_features, prep.n_classes, "gaussian", 4)
    for loss in compare.COMPARED:
        run = runs[loss]
        np.testing.assert_array_equal(run.W0, W0)
        assert run.config.loss == loss and run.config.seed == 4 and run.config.lr == pytest.approx(0.01)
        alone = train(prep.X_train, prep.y_train, run.config, W0=W0, X_val=prep.X_val, y_val=prep.y_val,
                      n_classes=prep.n_classes)
        np.testing.assert_array_equal(run.W, alone.W)  # stepping the two runs in turn changes nothing
        assert run.steps == 10 and run.stopped == "finished"  # 500 / 100 × 2 epochs
    assert not np.allclose(runs["softmax"].W, runs["hinge"].W)


def test_compare002_long_runs_are_capped(prep, monkeypatch):
    monkeypatch.setattr(compare, "MAX_STEPS", 7)
    cfgs = compare.compare_configs(base(prep), prep.X_train.shape[0])
    assert {c.iterations for c in cfgs.values()} == {7}
    runs = compare.compare_runs(prep, base(prep))
    assert runs["hinge"].steps == runs["softmax"].steps == 7


def test_compare003_the_job_returns_templates_curves_numbers_and_streams_progress(prep):
    progress = []
    out = compare.compare_job(progress.append, 1, *DATA, *SETTINGS, {"id": "t"})
    t_soft, t_hinge, c_soft, c_hinge, n_soft, n_hinge, summary = out
    assert len(t_soft.data) == len(t_hinge.data) == 2  # mosaic + bias
    assert len(c_soft.data) == len(c_hinge.data) == 5
    assert c_hinge.layout.shapes[0].y0 == pytest.approx(9.0)  # the SVM's sanity line: (C − 1)·Δ
    assert c_soft.layout.shapes[0].y0 == pytest.approx(np.log(10))
    value, maximum, status = progress[-1]
    assert value == maximum == "10" and status.startswith("Done")
    text = str(summary)
    assert "same W" in text and "NOT" not in text and "test images" in text
    runs = compare.compare_runs(prep, base(prep))
    test_acc = metrics.accuracy(runs["hinge"].W, prep.X_test, prep.y_test)
    assert f"{100 * test_acc:.1f}%" in str(n_hinge)


def test_compare004_agreement_is_the_share_of_equal_predictions(prep):
    runs = compare.compare_runs(prep, replace(base(prep), epochs=1.0))
    a = compare.agreement(runs, prep.X_test)
    p = [metrics.predict(runs[k].W, prep.X_test) for k in compare.COMPARED]
    assert a == pytest.approx(np.mean(p[0] == p[1]))


def test_compare005_bad_settings_are_a_message():
    progress = []
    out = compare.compare_job(progress.append, 1, *DATA, -3.0, "half", [], 1.0, "gaussian", "x", -2.0, LOG(100),
                              LOG(2), {"id": "t"})
    assert all(o is compare.no_update for o in out[:6]) and "seed" in str(out[6]) and not progress


def test_compare006_a_diverging_run_keeps_finite_weights_and_says_so(prep):
    cfg = replace(base(prep), lr=10.0, reg=100.0, epochs=20.0)  # W × ≈ −999 per step
    runs = compare.compare_runs(prep, cfg)
    assert any(r.stopped.startswith("diverged") for r in runs.values())
    for r in runs.values():
        assert np.isfinite(r.W).all()
    block = compare.numbers_block(runs["softmax"], compare.final_numbers(runs["softmax"], prep))
    assert "diverged" in str(block)


def test_compare007_stop_says_the_run_was_discarded():
    assert "discarded" in compare.compare_stopped(1)
    with pytest.raises(PreventUpdate):
        compare.compare_stopped(0)
