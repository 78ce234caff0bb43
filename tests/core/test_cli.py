"""The command line as a new user meets it: right answers, and one-line errors for wrong arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.losses import LOSSES

REPO = Path(__file__).resolve().parents[2]


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("loss", list(LOSSES))
def test_cli001_check_json_fields(capsys, loss):
    code, out, err = run_main(capsys, "check", "--loss", loss, "--n", "10", "--json")
    assert code == 0, err
    summary = json.loads(out)
    for field in ("global_rel_error", "max_rel_error", "verdict", "kink_entries", "entries_checked", "seconds"):
        assert field in summary
    assert summary["entries_checked"] == 785 * 10
    assert summary["verdict"] in ("correct", "acceptable")
    assert summary["global_rel_error"] < 1e-6


def test_cli002_check_text_and_subset(capsys):
    code, out, err = run_main(capsys, "check", "--loss", "hinge", "--entries", "50", "--method", "forward")
    assert code == 0, err
    assert "global relative error" in out
    assert "entries checked                        50" in out


def test_cli003_check_catches_injected_bug(capsys):
    code, out, _ = run_main(capsys, "check", "--loss", "softmax", "--bug", "sign-flip", "--json")
    assert code == 0
    assert json.loads(out)["verdict"] == "wrong"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["check", "--loss", "nope"], "invalid choice"),
        (["check", "--n", "0"], "> 0"),
        (["check", "--n", "ten"], "whole number"),
        (["check", "--h", "nan"], "finite"),
        (["check", "--h=-1e-5"], "> 0"),
        (["check", "--reg", "-1"], ">= 0"),
        (["check", "--entries", "some"], "'all'"),
        (["check", "--n", "20000"], ""),  # more samples than the sample holds: a clear error
        (["train", "--lr", "0"], "> 0"),
        (["train", "--batch", "-5"], "> 0"),
        (["check", "--data", "/nonexistent/folder"], "nonexistent"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_cli004_bad_arguments_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_cli005_train_json_summary(capsys, tmp_path):
    save = tmp_path / "w.npz"
    code, out, err = run_main(
        capsys, "train", "--loss", "softmax", "--n-train", "500", "--n-val", "100", "--n-test", "200",
        "--epochs", "2", "--batch", "50", "--json", "--save", str(save),
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["stopped"] == "finished"
    assert summary["test_accuracy"] > 0.6  # chance is 0.1
    assert summary["final_loss"] < np.log(10)
    with np.load(save) as f:
        assert f["W"].shape == (785, 10)


def test_cli006_train_prints_progress_lines(capsys):
    code, out, _ = run_main(capsys, "train", "--n-train", "300", "--n-val", "0", "--n-test", "100",
                            "--epochs", "1", "--batch", "30", "--log-every", "2")
    assert code == 0
    assert sum(line.startswith("step") for line in out.splitlines()) >= 3
    assert "test accuracy" in out


def test_cli007_train_divergence_reported(capsys):
    code, out, err = run_main(capsys, "train", "--lr", "1e6", "--reg", "1e3", "--n-train", "200", "--n-val", "0",
                              "--n-test", "50", "--epochs", "3", "--batch", "10", "--json")
    summary = json.loads(out)
    assert code == 1
    assert summary["stopped"].startswith("diverged")


def test_cli008_sweep_table(capsys):
    code, out, _ = run_main(capsys, "sweep", "--loss", "softmax", "--entries", "40")
    assert code == 0
    assert "central" in out and "forward" in out


def test_cli009_datasets_lists_builtin(capsys):
    code, out, _ = run_main(capsys, "datasets", "--json")
    assert code == 0
    keys = [row["key"] for row in json.loads(out)]
    assert keys[0] == "mnist-sample"


def test_cli010_module_entry_point_bad_argument():
    proc = subprocess.run([sys.executable, "-m", "core", "check", "--method", "backward"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_cli011_black_box_loop_agrees_with_fast_path(capsys):
    argv = ["check", "--loss", "softmax", "--entries", "100", "--method", "forward", "--h", "1e-6", "--json"]
    code, fast, _ = run_main(capsys, *argv)
    assert code == 0
    code, slow, _ = run_main(capsys, *argv, "--black-box")
    assert code == 0
    fast, slow = json.loads(fast), json.loads(slow)
    assert slow["black_box"] and not fast["black_box"]
    assert slow["entries_checked"] == fast["entries_checked"] == 100
    # the loop carries float64 round-off of about eps*L/h (the notebook's ~1e-8); the fast path does not
    assert 1e-10 < slow["global_rel_error"] < 1e-6
    assert fast["global_rel_error"] < slow["global_rel_error"]
