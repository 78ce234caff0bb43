"""The vendored custom plotly.js bundle (assets/vendor/): the recorded file, its
licence, a recipe pinned to the plotly.js plotly.py ships, and every trace type
the views build.

How it is made and why: scripts/vendor_plotly.py. That the page really draws
with it (and never fetches the full bundle): tests/integration/test_plotly_bundle.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

REPO = Path(__file__).resolve().parents[2]


def _vendor_module():
    spec = importlib.util.spec_from_file_location("vendor_plotly", REPO / "scripts" / "vendor_plotly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vendor = _vendor_module()


def test_vp001_vendored_file_is_the_recorded_one():
    data = vendor.DEST.read_bytes()
    assert hashlib.sha256(data).hexdigest() == vendor.SHA256
    assert vendor.check() == []
    # the one plotly bundle in assets/ (two would both load, and the last would win): by the
    # header every plotly.js dist file starts with, and ours too
    bundles = [p for p in (REPO / "assets").rglob("*.js") if b"* plotly.js" in p.read_bytes()[:300]]
    assert bundles == [vendor.DEST]


def test_vp002_licence_kept():
    head = vendor.DEST.read_bytes()[:300].decode()
    assert head.startswith("/**\n" + vendor.HEADER + "\n")
    assert f"plotly.js (lincls custom: scatter, bar, heatmap, contour - minified) v{vendor.VERSION}" in head
    assert "Licensed under the MIT license" in head
    licence = vendor.LICENSE_DEST.read_text(encoding="utf-8")
    assert "MIT License" in licence and "Plotly" in licence
    readme = (vendor.VENDOR / "README.md").read_text(encoding="utf-8")
    assert vendor.DEST.name in readme and f"plotly.js@{vendor.VERSION}" in readme and vendor.SHA256 in readme


def test_vp003_same_major_version_as_plotly_py():
    """plotly.py builds the figures for the plotly.js it ships; the bundle must speak the same major version."""
    assert get_plotlyjs_version().split(".")[0] == vendor.VERSION.split(".")[0]


def _trace_classes_used() -> dict[str, list[str]]:
    """{trace type: [files]} for every ``go.<Trace>(`` in the app's Python code."""
    found: dict[str, list[str]] = {}
    files = [REPO / "app.py", *sorted((REPO / "components").glob("*.py"))]
    for path in files:
        for name in set(re.findall(r"\bgo\.([A-Z][A-Za-z0-9]*)\(", path.read_text(encoding="utf-8"))):
            cls = getattr(go, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseTraceType):
                found.setdefault(cls().type, []).append(path.name)
    return found


def test_vp004_every_trace_type_the_views_build_is_in_the_bundle():
    used = _trace_classes_used()
    assert {"heatmap", "scatter", "bar"} <= set(used)  # the scan finds the views' traces
    missing = {t: f for t, f in used.items() if t not in vendor.TRACES}
    assert not missing, (
        f"trace types not in the vendored plotly.js bundle (they would not be drawn): {missing}; "
        "see assets/vendor/README.md"
    )
    # the figures' lean template keeps the defaults of exactly the bundle's trace types
    from components import theme

    assert set(theme.TRACE_TYPES) == set(vendor.TRACES)


def test_vp005_no_plotly_express():
    """plotly.express picks trace types at run time, which the scan above cannot see."""
    for path in [REPO / "app.py", *(REPO / "components").glob("*.py")]:
        assert not re.search(r"plotly\.express|plotly import express", path.read_text(encoding="utf-8")), path


def _fake_runner(bundle: bytes, licence: bytes = b"MIT License\n\nCopyright (c) Plotly"):
    """Stands in for npm and node: records the commands, writes what a build would leave behind."""
    calls = []

    def runner(cmd, cwd):
        calls.append((tuple(cmd), sorted(p.name for p in Path(cwd).iterdir())))
        if cmd[0] == "npm":
            (Path(cwd) / "node_modules" / "plotly.js").mkdir(parents=True)
            (Path(cwd) / "node_modules" / "plotly.js" / "LICENSE").write_bytes(licence)
        else:
            (Path(cwd) / cmd[-1]).write_bytes(bundle)

    return runner, calls


def test_vp006_a_build_that_is_not_the_recorded_file_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(vendor, "install", lambda *a: pytest.fail("installed an unverified bundle"))
    fake = f"/**\n{vendor.HEADER}\n* Licensed under the MIT license\n*/\nvar Plotly={{}};".encode()
    runner, calls = _fake_runner(fake)
    assert vendor.main(["--build"], runner=runner) == 1
    err = capsys.readouterr().err
    assert "nothing installed" in err
    assert hashlib.sha256(fake).hexdigest() in err  # the digest to record, if the change is wanted
    # npm ci (the lock file's exact tree, no install scripts), then the build, on a copy of the whole recipe
    assert [c[0][:2] for c in calls] == [("npm", "ci"), ("node", "build.js")]
    assert "--ignore-scripts" in calls[0][0]
    assert set(vendor.RECIPE_FILES) <= set(calls[0][1])


def test_vp007_the_recorded_build_is_installed_and_replaces_the_old_bundle(tmp_path, monkeypatch):
    vendor_dir = tmp_path / "vendor"
    vendor_dir.mkdir()
    (vendor_dir / "plotly-cartesian-4.1.1.min.js").write_text("old")
    (vendor_dir / "README.md").write_text("kept")
    bundle = f"/**\n{vendor.HEADER}\n* Licensed under the MIT license\n*/\nvar Plotly={{}};".encode()
    monkeypatch.setattr(vendor, "SHA256", hashlib.sha256(bundle).hexdigest())
    monkeypatch.setattr(vendor, "VENDOR", vendor_dir)
    monkeypatch.setattr(vendor, "DEST", vendor_dir / vendor.DEST.name)
    monkeypatch.setattr(vendor, "LICENSE_DEST", vendor_dir / "plotly.js-LICENSE.txt")
    monkeypatch.setattr(vendor, "REPO", tmp_path)
    monkeypatch.setattr(vendor, "recipe_problems", lambda: [])
    runner, _ = _fake_runner(bundle)
    assert vendor.main(["--build"], runner=runner) == 0
    assert sorted(p.name for p in vendor_dir.iterdir()) == sorted(
        ["README.md", vendor.DEST.name, "plotly.js-LICENSE.txt"]
    )
    assert (vendor_dir / vendor.DEST.name).read_bytes() == bundle
    # and a build whose header lost the licence is refused even with the right digest
    stripped = bundle.replace(b"MIT", b"")
    monkeypatch.setattr(vendor, "SHA256", hashlib.sha256(stripped).hexdigest())
    runner, _ = _fake_runner(stripped)
    assert vendor.main(["--build"], runner=runner) == 1
    assert (vendor_dir / vendor.DEST.name).read_bytes() == bundle


def test_vp009_recipe_pins_plotly_js_and_esbuild_exactly():
    recipe = vendor.RECIPE
    assert all((recipe / name).is_file() for name in vendor.RECIPE_FILES)
    deps = json.loads((recipe / "package.json").read_text(encoding="utf-8"))["dependencies"]
    assert set(deps) == {"plotly.js", "esbuild"}
    assert deps["plotly.js"] == vendor.VERSION == get_plotlyjs_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", deps["esbuild"])
    lock = json.loads((recipe / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == deps
    for name, version in deps.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"]["node_modules/plotly.js"]["integrity"].startswith("sha512-")
    assert vendor.recipe_problems() == []
    # node_modules and build output are never committed
    assert "node_modules/" in (recipe / ".gitignore").read_text(encoding="utf-8").split()


def test_vp010_entry_registers_exactly_the_recorded_traces():
    """scatter comes with plotly.js/lib/core; the others are registered by name."""
    entry = (vendor.RECIPE / "entry.js").read_text(encoding="utf-8")
    assert "require('plotly.js/lib/core')" in entry
    registered = set(re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry)) - {"core"}
    assert registered | {"scatter"} == set(vendor.TRACES)
    assert vendor.HEADER.startswith("* plotly.js")  # what test_vp001 looks for


def test_vp011_a_recipe_that_drifts_is_reported(tmp_path, monkeypatch):
    for name in vendor.RECIPE_FILES:
        (tmp_path / name).write_bytes((vendor.RECIPE / name).read_bytes())
    monkeypatch.setattr(vendor, "RECIPE", tmp_path)
    assert vendor.recipe_problems() == []
    package = json.loads((tmp_path / "package.json").read_text())
    package["dependencies"]["esbuild"] = "^" + package["dependencies"]["esbuild"]
    (tmp_path / "package.json").write_text(json.dumps(package))
    problems = vendor.recipe_problems()
    assert any("not an exact version" in p for p in problems)
    assert any("was not made from this package.json" in p for p in problems)


def test_vp008_check_mode_passes():
    assert vendor.main([]) == 0
