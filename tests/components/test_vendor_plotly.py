"""The vendored plotly.js partial bundle (assets/vendor/): the recorded file, its
licence, a version that fits plotly.py, and every trace type the views build.

How it is made and why: scripts/vendor_plotly.py. That the page really draws
with it (and never fetches the full bundle): tests/integration/test_plotly_bundle.py.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import re
import tarfile
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
    # header every plotly.js dist file starts with
    bundles = [p for p in (REPO / "assets").rglob("*.js") if b"* plotly.js" in p.read_bytes()[:300]]
    assert bundles == [vendor.DEST]


def test_vp002_licence_kept():
    head = vendor.DEST.read_bytes()[:300].decode()
    assert f"plotly.js (cartesian - minified) v{vendor.VERSION}" in head
    assert "Licensed under the MIT license" in head
    licence = vendor.LICENSE_DEST.read_text(encoding="utf-8")
    assert "MIT License" in licence and "Plotly" in licence
    readme = (vendor.VENDOR / "README.md").read_text(encoding="utf-8")
    assert f"{vendor.PACKAGE}@{vendor.VERSION}" in readme and vendor.SHA256 in readme


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
        f"trace types not in the vendored {vendor.PACKAGE} (they would not be drawn): {missing}; "
        "see assets/vendor/README.md"
    )


def test_vp005_no_plotly_express():
    """plotly.express picks trace types at run time, which the scan above cannot see."""
    for path in [REPO / "app.py", *(REPO / "components").glob("*.py")]:
        assert not re.search(r"plotly\.express|plotly import express", path.read_text(encoding="utf-8")), path


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_vp006_a_tarball_that_is_not_the_recorded_package_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(vendor, "install", lambda *a: pytest.fail("installed an unverified bundle"))
    fake = tmp_path / "fake.tgz"
    fake.write_bytes(_tarball({vendor.MEMBER: b"window.Plotly = {};", vendor.LICENSE_MEMBER: b"MIT"}))
    with pytest.raises(SystemExit, match="integrity"):
        vendor.main(["--tarball", str(fake)])


def test_vp007_the_right_tarball_with_another_bundle_is_refused(monkeypatch):
    """The second check: the bundle's own sha256 (e.g. after changing INTEGRITY but not SHA256)."""
    tgz = _tarball({vendor.MEMBER: b"window.Plotly = {};", vendor.LICENSE_MEMBER: b"MIT"})
    monkeypatch.setattr(vendor, "INTEGRITY", vendor.integrity(tgz))
    with pytest.raises(SystemExit, match="sha256"):
        vendor.extract(tgz)


def test_vp008_check_mode_passes():
    assert vendor.main([]) == 0
