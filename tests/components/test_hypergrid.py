"""Inspect / Grid search: the lr × λ heatmap and the re-run of a clicked cell, as plain functions."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from dash.exceptions import PreventUpdate

import app  # noqa: F401  (registers the callbacks)
from components import hypergrid, session, templates, training
from components import inspect_common as ic
from components.grid import Mosaic
from core import data as core_data
from core import metrics
from core.train import TrainConfig, train

BUILTIN = core_data.BUILTIN
LOG = np.log10
DATA = (BUILTIN, LOG(500), LOG(100), "standardize")
# loss, λ slider, penalty, bias, Δ; init, seed, lr, batch, epochs
SETTINGS = ("softmax", -3.0, "half", ["bias"], 1.0, "gaussian", 2, -2.0, LOG(100), LOG(2))
LRS, REGS = (1e-3, 1e-2, 1e-1), (1e-4, 1e-1)


@pytest.fixture(autouse=True)
def _keep_test_priority(monkeypatch):
    monkeypatch.setattr(training, "_lower_priority", lambda: None)


@pytest.fixture(scope="module")
def prep():
    return session.prepared(ic.data_of(*DATA))


@pytest.fixture(scope="module")
def grid(prep):
    """A 3 × 2 grid of 10-step runs and the config it was run with."""
    data = ic.data_of(*DATA)
    cfg = training.train_config(ic.loss_of("softmax", -3.0, "half", ["bias"], 1.0), -2.0, LOG(100), LOG(2),
                                "gaussian", 2, prep.X_train.shape[0])
    cfg = replace(cfg, iterations=10)
    seen = []
    store = hypergrid.run_grid(prep, data, cfg, LRS, REGS, seen.append)
    return store, cfg, seen


def test_hgrid001_heatmap_is_lrs_by_regs(grid):
    store, _, _ = grid
    fig = hypergrid.grid_figure(store)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (len(LRS), len(REGS)) and fig.layout.meta["shape"] == [3, 2]
    for r in store["rows"]:
        assert z[r["i"], r["j"]] == pytest.approx(r["val_acc"])
    assert list(fig.layout.yaxis.ticktext) == ["1e-3", "0.01", "0.1"]
    assert list(fig.layout.xaxis.ticktext) == ["1e-4", "0.1"]
    i, j = np.unravel_index(np.nanargmax(z), z.shape)
    best = fig.layout.shapes[0]
    assert (best.x0, best.y0) == (j - 0.5, i - 0.5)


def test_hgrid002_cells_are_those_of_core_grid_search(prep, grid):
    store, cfg, seen = grid
    expected = metrics.grid_search(prep.X_train, prep.y_train, prep.X_val, prep.y_val, LRS, REGS, cfg)
    got = [(r["lr"], r["reg"], r["val_acc"], r["train_acc"]) for r in store["rows"]]
    want = list(expected[["lr", "reg", "val_acc", "train_acc"]].itertuples(index=False, name=None))
    assert got == want
    assert [len(s["rows"]) for s in seen] == [1, 2, 3, 4, 5, 6]  # one store per finished cell
    assert store["total"] == 6 and store["config"]["iterations"] == 10


def test_hgrid003_clicking_a_cell_yields_that_cells_W(prep, grid):
    store, cfg, _ = grid
    i, j = 1, 0
    res, _, cell_cfg = hypergrid.cell_run(store, i, j)
    assert (cell_cfg.lr, cell_cfg.reg) == (LRS[i], REGS[j])
    # the W the grid trained and scored for this cell (grid_search_steps' config: no logging)
    grid_cfg = replace(cfg, lr=LRS[i], reg=REGS[j], log_every=10**9, snapshot_every=10**9)
    n_classes = int(max(prep.y_train.max(), prep.y_val.max())) + 1
    W_grid = train(prep.X_train, prep.y_train, grid_cfg, n_classes=n_classes).W
    np.testing.assert_array_equal(res.W, W_grid)  # bit-identical: seeded, logging does not touch W
    row = next(r for r in store["rows"] if (r["i"], r["j"]) == (i, j))
    assert metrics.accuracy(res.W, prep.X_val, prep.y_val) == row["val_acc"]
    assert len(res.history) > 1  # the re-run logs a history for the curves


def test_hgrid004_the_cell_job_draws_that_cells_templates_and_curves(prep, grid):
    store, _, _ = grid
    click = {"points": [{"x": 1, "y": 2, "curveNumber": 0}]}
    tpl, crv, head = hypergrid.grid_cell_job(click, store, {"id": "t"})
    res, _, _ = hypergrid.cell_run(store, 2, 1)
    mosaic = Mosaic(10, *prep.image_shape)
    want = mosaic.tile(templates.weight_images(res.W, prep.image_shape))
    np.testing.assert_array_equal(np.asarray(tpl.data[0].z, dtype=np.float32), want)
    assert len(crv.data) == 5 and "lr 0.1, λ 0.1" in str(head)


def test_hgrid005_hidden_tab_and_no_grid(grid):
    store, _, _ = grid
    assert hypergrid.draw_grid("examples", store) is hypergrid.no_update
    assert hypergrid.draw_grid("grid", store).layout.meta["shape"] == [3, 2]
    assert "Run grid" in str(hypergrid.draw_grid("grid", None).layout.annotations[0].text)
    assert hypergrid.grid_cell_job(None, store, {}) == (hypergrid.no_update,) * 3
    assert hypergrid.clicked_cell({"points": [{"x": 5, "y": 0}]}, store) is None


def test_hgrid006_pending_and_diverged_cells(grid):
    store, _, _ = grid
    partial = {**store, "rows": [dict(store["rows"][0]), {**store["rows"][1], "diverged": True, "val_acc": None,
                                                          "train_acc": None}]}
    fig = hypergrid.grid_figure(partial)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.isfinite(z).sum() == 1 and math.isnan(z[0, 1])
    assert [a.text for a in fig.layout.annotations if a.text == "diverged"] == ["diverged"]
    assert "2 of 6 cells" in fig.layout.annotations[-1].text


def test_hgrid007_the_job_streams_the_store_cell_by_cell(monkeypatch):
    monkeypatch.setattr(hypergrid, "MAX_STEPS", 5)
    progress = []
    msg = hypergrid.grid_job(progress.append, 1, "lr2", "reg2", *DATA, *SETTINGS, {"id": "t"})
    assert msg is None
    stores = [p[0] for p in progress]
    assert [len(s["rows"]) for s in stores] == [1, 2, 3, 4, 4]
    assert progress[-1][1] == progress[-1][2] == "4" and progress[-1][3].startswith("Done")
    assert stores[-1]["config"]["iterations"] == 5 and stores[-1]["run"] == 1
    bad = hypergrid.grid_job(progress.append, 1, "nope", "reg2", *DATA, *SETTINGS, {"id": "t"})
    assert "Cannot run the grid" in str(bad)


def test_hgrid008_store_is_plain_json_and_small(grid):
    import json

    store, _, _ = grid
    text = json.dumps(store, allow_nan=False)
    assert len(text) < 5_000
    assert TrainConfig(**store["config"]).iterations == 10


def test_hgrid009_stop_keeps_the_finished_cells_and_says_so():
    assert "finished cells stay" in hypergrid.grid_stopped(2)
    with pytest.raises(PreventUpdate):
        hypergrid.grid_stopped(None)


@pytest.mark.parametrize(
    "change",
    [
        {"lrs": "1e-3"},
        {"regs": [float("nan")]},
        {"regs": list(range(20))},
        {"n_classes": 10_000},
        {"data": {"dataset": BUILTIN, "n_train": "500", "n_test": 100, "preprocessing": "standardize"}},
    ],
)
def test_hgrid010_a_forged_store_does_not_train(grid, change):
    store, _, _ = grid
    with pytest.raises(ValueError):
        hypergrid.check_store({**store, **change})


def test_hgrid011_a_forged_store_cannot_ask_for_a_long_run(grid):
    store, _, _ = grid
    forged = {**store, "config": {**store["config"], "iterations": 10**7}}
    with pytest.raises(ValueError, match="at most"):
        hypergrid.cell_run(forged, 0, 0)
    tpl, crv, head = hypergrid.grid_cell_job({"points": [{"x": 0, "y": 0}]}, forged, {})
    assert tpl is hypergrid.no_update and crv is hypergrid.no_update and "at most" in str(head)
