"""Tests for reading the CSV exports back into what the app shows (core/export.py):
a loss history with the objective it was recorded under, and a gradient-check
table rebuilt into the CheckResult the figure builders take. Exact round trips;
bad files refused with a message naming the column and line."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import export
from core.gradcheck import VERDICTS, check_gradient
from core.train import HISTORY_COLUMNS as TRAIN_COLUMNS

RUN = {
    "dataset": "mnist-sample",
    "n_train": 5000,
    "preprocessing": "standardize",
    "loss_function": "hinge",
    "reg": 0.001,
    "reg_mode": "half",
    "reg_bias": True,
    "delta": 0.5,
}


def _history(n=120, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "step": np.arange(1, n + 1, dtype=np.int64) * 5,
            "epoch": np.arange(1, n + 1) / 40,
            "lr": np.full(n, 1e-3),
            "loss": 2.3 * np.exp(-np.arange(n) / 50) + rng.random(n) * 1e-3,
            "data_loss": 2.2 * np.exp(-np.arange(n) / 50),
            "reg_loss": np.full(n, 0.1) + 1e-17,
            "train_acc": rng.random(n),
            "val_acc": np.where(np.arange(n) % 4 == 0, rng.random(n), np.nan),  # logged now and then
        }
    )


def _check(loss="hinge", method="central", h=1e-5, entries="all", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 12))
    y = rng.integers(0, 4, 30)
    W = rng.standard_normal((13, 4)) * 0.01
    return check_gradient(loss, W, X, y, 0.05, h=h, method=method, entries=entries)


def _context(result, **changes):
    ctx = dict(
        dataset="mnist-sample",
        loss_function=result.name,
        method=result.method,
        h=result.h,
        samples=30,
        verdict=result.verdict,
    )
    return {**ctx, **changes}


# --------------------------------------------------------------------------
# history


def test_export_import001_history_round_trip_with_its_run():
    df = _history()
    text = export.history_to_csv(df, run=RUN)
    assert text.splitlines()[0].split(",") == [*export.HISTORY_COLUMNS, *export.RUN_COLUMNS]
    assert export.csv_kind(text) == "history"
    got = export.read_history_csv(text)
    pd.testing.assert_frame_equal(got.frame, df, check_exact=True)
    for c in df.columns:  # bit for bit
        assert got.frame[c].to_numpy().tobytes() == df[c].to_numpy().tobytes(), c
    assert got.run == RUN and isinstance(got.run["reg"], float) and got.run["reg_bias"] is True
    assert export.history_to_csv(got.frame, run=got.run) == text  # and out again, byte for byte


def test_export_import002_history_without_run_or_optional_columns():
    df = _history(10)
    got = export.read_history_csv(export.history_to_csv(df))
    assert got.run is None
    pd.testing.assert_frame_equal(got.frame, df, check_exact=True)
    got = export.read_history_csv("step,loss\n1,2.5\n2,\n3,2.25\n")  # a hand-made table
    assert list(got.frame.columns) == list(export.HISTORY_COLUMNS)
    assert got.frame["step"].tolist() == [1, 2, 3] and math.isnan(got.frame["loss"][1])
    assert got.frame["val_acc"].isna().all() and got.frame["step"].dtype == np.int64
    # core.train's own history (with seconds), and a spreadsheet's byte-order mark and CRLF
    train = _history(5).assign(seconds=np.arange(5) * 0.1)[list(TRAIN_COLUMNS)]
    text = "\ufeff" + export.history_to_csv(train).replace("\n", "\r\n")
    got = export.read_history_csv(text)
    pd.testing.assert_frame_equal(got.frame, train[list(export.HISTORY_COLUMNS)], check_exact=True)


BAD_HISTORIES = [
    ("", "empty CSV"),
    ("step,loss\n", "no rows"),
    ("step,acc\n1,0.5\n", "missing columns ['loss']"),
    ("step,loss,loss\n1,2,3\n", "appear more than once"),
    ("step,loss,\n1,2,3\n", "a column has no name"),
    ("step,loss\n1,2\n1,2\n", "must increase from row to row (line 3: 1)"),
    ("step,loss\n1.5,2\n", "'step' must hold whole numbers (line 2: 1.5)"),
    ("step,loss\n-1,2\n", "'step' must be between 0"),
    ("step,loss\n1,2\n,3\n", "'step' must hold finite numbers (line 3: empty)"),
    ("step,loss\n1,two\n", "'loss' must hold numbers (line 2: 'two')"),
    ("step,loss\n1,inf\n", "'loss' must hold finite numbers (line 2: inf)"),
    ("step,loss\n1,1e400\n", "'loss' must hold finite numbers"),
    ("step,loss\n1,True\n", "'loss' must hold numbers"),
    ("step,loss,train_acc\n1,2,1.5\n", "'train_acc' must lie between 0 and 1 (line 2: 1.5)"),
    ("step,loss,val_acc\n1,2,0.5\n2,2,-0.1\n", "'val_acc' must lie between 0 and 1 (line 3: -0.1)"),
    ('step,loss\n1,"2\n', "not a valid CSV"),
    ("step,loss\n" + "1,2,3,4\n", "not a valid CSV"),
]


@pytest.mark.parametrize(("text", "why"), BAD_HISTORIES)
def test_export_import003_bad_histories_are_refused_with_the_line(text, why):
    with pytest.raises(ValueError) as info:
        export.read_history_csv(text)
    assert str(info.value).startswith("history: ") and why in str(info.value), str(info.value)


def _with_run(**changes) -> str:
    return export.history_to_csv(_history(3), run={**RUN, **changes})


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda t: t.replace(",hinge,", ",svm,"), "loss_function 'svm' is not one of softmax"),
        (lambda t: t.replace(",half,", ",double,"), "reg_mode 'double' is not one of"),
        (lambda t: t.replace(",True,", ",maybe,"), "'reg_bias': 'maybe' is not True or False"),
        (lambda t: t.replace(",0.001,", ",-1,"), "reg -1.0 is negative"),
        (lambda t: t.replace(",0.5\n", ",0\n"), "delta 0.0 is not positive"),
        (lambda t: t.replace(",5000,", ",lots,"), "'n_train' must hold"),
        (lambda t: t.replace(",hinge,", ",softmax,", 1), "'loss_function' must hold one value"),
        (lambda t: t.replace(",hinge,", ",,", 1), "'loss_function' has an empty value (line 2: empty)"),
        (
            lambda t: "\n".join(",".join(r.split(",")[:-1]) for r in t.splitlines()) + "\n",
            "the run is described without columns ['delta']",
        ),
    ],
)
def test_export_import004_the_run_columns_are_checked(mutate, why):
    with pytest.raises(ValueError, match="^history: ") as info:
        export.read_history_csv(mutate(_with_run()))
    assert why in str(info.value), str(info.value)


def test_export_import005_limits():
    text = export.history_to_csv(_history(50))
    with pytest.raises(ValueError, match="50 rows, more than the 49 limit"):
        export.read_history_csv(text, max_rows=49)
    with pytest.raises(ValueError, match="more than the 100 limit"):
        export.read_history_csv(text, max_chars=100)
    with pytest.raises(ValueError, match="header line is longer"):
        export.csv_kind("a" * 20_000 + "\n1\n")
    with pytest.raises(ValueError, match="unknown constant columns"):
        export.history_to_csv(_history(2), run={"colour": "red"})
    with pytest.raises(ValueError, match="already in the table"):
        export.history_to_csv(_history(2).assign(dataset="x"), run=RUN)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("step,loss\n", "history"),
        ("step,epoch,lr,loss,seconds\n", "history"),
        ("row,col,analytic,numeric\n", "gradcheck"),
        ("\ufeffrow,col,analytic,numeric,abs_diff\r\n", "gradcheck"),
    ],
)
def test_export_import006_csv_kind_from_the_header(text, kind):
    assert export.csv_kind(text) == kind


@pytest.mark.parametrize("text", ["a,b,c\n1,2,3\n", "", "row,col\n1,2\n", "loss\n2\n"])
def test_export_import007_unrecognized_csvs_name_what_was_expected(text):
    with pytest.raises(ValueError, match="neither a loss history .* nor a gradient-check table"):
        export.csv_kind(text)


# --------------------------------------------------------------------------
# gradient-check tables


@pytest.mark.parametrize(
    ("loss", "method", "h"),
    [
        ("softmax", "central", 1e-5),
        ("softmax", "forward", 1e-3),
        ("hinge", "central", 1e-5),
        ("hinge", "forward", 1e-2),
        ("ova-hinge", "central", 0.3),
        ("structured-hinge", "central", 1e-5),
    ],
)
def test_export_import008_gradcheck_round_trip_gives_the_same_result(loss, method, h):
    r = _check(loss, method, h)
    text = export.gradcheck_table_to_csv(r, context=_context(r))
    assert export.csv_kind(text) == "gradcheck"
    got = export.read_gradcheck_csv(text, r.shape)
    pd.testing.assert_frame_equal(got.table, r.table, check_exact=True)
    for k in ("global_rel_error", "median_rel_error", "max_rel_error", "n_checked", "n_kink_entries"):
        a, b = getattr(got, k), getattr(r, k)
        assert a == b or (math.isnan(a) and math.isnan(b)), k
    assert (got.verdict, got.method, got.h, got.name, got.shape) == (r.verdict, method, h, loss, r.shape)
    assert (
        got.verdict_text.startswith(got.verdict.capitalize() + ":")
        and "as the exported check" in got.verdict_text
    )
    assert np.array_equal(got.matrix("rel_error"), r.matrix("rel_error"), equal_nan=True)
    assert got.extra == {
        "imported": True,
        "samples": 30,
        "dataset": "mnist-sample",
        "verdict_source": "exported",
    }
    # and out again: the same file
    assert export.gradcheck_table_to_csv(got, context=_context(got, samples=30)) == text


def test_export_import009_gradcheck_subset_and_plain_table():
    r = _check("softmax", entries=9, seed=2)
    got = export.read_gradcheck_csv(export.gradcheck_table_to_csv(r), r.shape)  # no context columns
    pd.testing.assert_frame_equal(got.table, r.table, check_exact=True)
    assert got.n_checked == 9 and np.isnan(got.matrix()).sum() == 13 * 4 - 9
    assert got.verdict == r.verdict == "correct" and got.extra["verdict_source"] == "table"
    assert got.method == "" and math.isnan(got.h) and got.extra["samples"] is None
    # only the four essential columns: the rest is recomputed
    slim = r.table[["row", "col", "analytic", "numeric"]]
    got = export.check_result_from_table(slim, r.shape)
    pd.testing.assert_frame_equal(got.table, r.table.assign(kink_bound=0.0, kink_samples=0), check_exact=True)
    assert got.global_rel_error == r.global_rel_error


def test_export_import010_verdict_from_the_table_alone():
    # kinks explain a hinge's forward-difference mismatch; the table records them
    r = _check("hinge", "forward", 1e-2)
    got = export.read_gradcheck_csv(export.gradcheck_table_to_csv(r), r.shape)
    assert got.verdict in VERDICTS and got.global_rel_error == r.global_rel_error
    assert "judged from the table alone" in got.verdict_text
    t = r.table.copy()
    t["numeric"] = t["analytic"] * 1.5  # a real bug
    assert (
        export.check_result_from_table(t[["row", "col", "analytic", "numeric"]], r.shape).verdict == "wrong"
    )
    t["numeric"] = t["analytic"] * (1 + 1e-5)
    assert (
        export.check_result_from_table(t[["row", "col", "analytic", "numeric"]], r.shape).verdict
        == "suspicious"
    )
    t.loc[3, "numeric"] = np.nan  # non-finite values are kept (a check can find them): wrong
    got = export.check_result_from_table(t[["row", "col", "analytic", "numeric"]], r.shape)
    assert got.verdict == "wrong" and math.isnan(got.global_rel_error)
    text = export.gradcheck_table_to_csv(got)
    again = export.read_gradcheck_csv(text, r.shape)
    assert again.verdict == "wrong" and np.isnan(again.table["numeric"][3])


def _gc_text(**changes) -> str:
    r = _check("hinge")
    return export.gradcheck_table_to_csv(r, context=_context(r, **changes))


def _edit(col: str, line: int, value: str):
    """Replace the value of ``col`` on CSV line ``line`` (1 = header)."""

    def f(text):
        rows = text.splitlines()
        i = rows[0].split(",").index(col)
        cells = rows[line - 1].split(",")
        cells[i] = value
        rows[line - 1] = ",".join(cells)
        return "\n".join(rows) + "\n"

    return f


def _longer(line: int):
    """One more value on CSV line ``line``."""

    def f(text):
        rows = text.split("\n")
        rows[line - 1] += ",extra"
        return "\n".join(rows)

    return f


BAD_TABLES = [
    (lambda t: "row,col,analytic,numeric\n", "no rows"),
    (lambda t: t.replace("analytic", "analytical", 1), "missing columns ['analytic']"),
    (_edit("row", 2, "13"), "entries up to row 13, column 3; the current W has shape (13, 4)"),
    (_edit("col", 2, "4"), "the current W has shape (13, 4) (another dataset: choose its dataset first)"),
    (_edit("row", 2, "-1"), "'row' must be between 0"),
    (_edit("row", 2, "0.5"), "'row' must hold whole numbers (line 2: 0.5)"),
    (_edit("col", 3, "x"), "'col' must hold numbers (line 3: 'x')"),
    (_edit("col", 3, "0"), "entry W[0, 0] appears twice (line 3)"),
    (_edit("analytic", 5, "abc"), "'analytic' must hold numbers (line 5: 'abc')"),
    (_edit("rel_error", 4, "0.5"), "'rel_error' does not match analytic and numeric (line 4: 0.5)"),
    (_edit("abs_diff", 4, "1"), "'abs_diff' does not match"),
    (_edit("kink_samples", 2, "-2"), "'kink_samples' must be between 0"),
    (_edit("kink_bound", 2, "-2"), "'kink_bound' must not be negative (line 2: -2.0)"),
    (_edit("kink_bound", 2, "inf"), "'kink_bound' must hold finite numbers (line 2: inf)"),
    (_edit("method", 2, "backward"), "'method' must hold one value for the whole table"),
    (lambda t: t.replace(",central,", ",backward,"), "method 'backward' is not one of central, forward"),
    (lambda t: t.replace(",1e-05,", ",2,"), "h 2.0 is not a step in (0, 1]"),
    (lambda t: t.replace(",1e-05,", ",0,"), "h 0.0 is not a step in (0, 1]"),
    (lambda t: t.replace(",30,correct", ",0,correct"), "samples 0 is not a count >= 1"),
    (lambda t: t.replace(",correct", ",fine"), "verdict 'fine' is not one of correct"),
    (lambda t: t.replace(",correct", ",wrong"), "verdict 'wrong' does not fit the table's relative error"),
    (lambda t: t.replace(",hinge,", ",svm,"), "loss_function 'svm' is not one of"),
    (_longer(3), "not a valid CSV table (Error tokenizing data"),
    (_longer(2), "a line has more values than the header"),
]


@pytest.mark.parametrize(("mutate", "why"), BAD_TABLES)
def test_export_import011_bad_gradcheck_tables_are_refused(mutate, why):
    text = mutate(_gc_text())
    with pytest.raises(ValueError) as info:
        export.read_gradcheck_csv(text, (13, 4))
    assert str(info.value).startswith("gradcheck table: ") and why in str(info.value), str(info.value)


def test_export_import012_gradcheck_limits_and_shape():
    text = _gc_text()
    with pytest.raises(ValueError, match="52 rows, more than the 24 limit"):
        export.read_gradcheck_csv(text, (6, 4))  # more rows than W has entries
    with pytest.raises(ValueError, match="more than the 50 limit"):
        export.read_gradcheck_csv(text, (13, 4), max_chars=50)
    with pytest.raises(ValueError, match="^shape: "):
        export.read_gradcheck_csv(text, "big")
    with pytest.raises(ValueError, match="expected a pandas DataFrame"):
        export.check_result_from_table({"row": [0]}, (13, 4))
    assert export.read_gradcheck_csv(text, (20, 4)).shape == (20, 4)  # a table fits a larger W
