"""The plotly.js bundle the page uses: a partial (cartesian) bundle vendored in assets/vendor/.

    python scripts/vendor_plotly.py                     # check the vendored copy (no network)
    python scripts/vendor_plotly.py --fetch             # fetch it again with `npm pack` and install it
    python scripts/vendor_plotly.py --tarball FILE.tgz  # install it from a tarball got any other way

Why: dcc.Graph draws with ``window.Plotly`` when a script has defined it before
the first graph renders, and otherwise loads the full plotly.js that plotly.py
ships (``package_data/plotly.min.js``, 4.8 MB, every trace type). A script in
``assets/`` is loaded before the Dash renderer, so this 1.5 MB bundle defines
``window.Plotly`` first and the full bundle is never requested: about a third
of the JavaScript to download and, above all, to parse on every cold page load.

The bundle is the npm package ``plotly.js-cartesian-dist-min`` at the plotly.js
version plotly.py ships (see ``plotly.offline.get_plotlyjs_version()``); its
trace types are :data:`TRACES`. It is MIT licensed: the file keeps its licence
header and the package's LICENSE sits beside it (assets/vendor/README.md).

Reproducing it needs no npm project: ``npm pack NAME@VERSION`` (or a download of
the registry tarball named in :data:`TARBALL`) gives a tarball whose sha512 must be
:data:`INTEGRITY`; the file in it must hash to :data:`SHA256`. The script checks
both before it writes anything, and ``tests/components/test_vendor_plotly.py``
checks the copy in the repository against :data:`SHA256`.

To move to another version: set VERSION (and the digests this script prints
when they differ), run with ``--fetch``, re-run the tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PACKAGE = "plotly.js-cartesian-dist-min"
VERSION = "4.1.1"
#: the registry tarball and its sha512 (npm's "integrity" field, ``npm view NAME@VERSION dist``)
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
INTEGRITY = "sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg=="
#: the bundle inside the tarball and its sha256
MEMBER = "package/plotly-cartesian.min.js"
SHA256 = "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a"
LICENSE_MEMBER = "package/LICENSE"
#: trace types the bundle registers (its README; checked in the browser by tests/integration)
TRACES = (
    "bar",
    "box",
    "contour",
    "heatmap",
    "histogram",
    "histogram2d",
    "histogram2dcontour",
    "image",
    "pie",
    "scatter",
    "scatterternary",
    "violin",
)

VENDOR = REPO / "assets" / "vendor"
DEST = VENDOR / f"plotly-cartesian-{VERSION}.min.js"
LICENSE_DEST = VENDOR / "plotly.js-LICENSE.txt"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def check(path: Path = DEST) -> list[str]:
    """Problems with the vendored copy (an empty list when it is the recorded file)."""
    if not path.is_file():
        return [f"{path.relative_to(REPO)} is missing (run: python scripts/vendor_plotly.py --fetch)"]
    data = path.read_bytes()
    problems = []
    if sha256(data) != SHA256:
        problems.append(f"{path.name}: sha256 {sha256(data)}, recorded {SHA256}")
    head = data[:300].decode("utf-8", "replace")
    if f"v{VERSION}" not in head or "Licensed under the MIT license" not in head:
        problems.append(f"{path.name}: its header does not name v{VERSION} and the MIT license")
    if not LICENSE_DEST.is_file() or "MIT" not in LICENSE_DEST.read_text(encoding="utf-8"):
        problems.append(f"{LICENSE_DEST.relative_to(REPO)} is missing or not the MIT licence")
    return problems


def extract(tgz: bytes) -> tuple[bytes, bytes]:
    """(bundle, licence) from the package tarball, after checking the tarball's and the bundle's digests."""
    got = integrity(tgz)
    if got != INTEGRITY:
        raise SystemExit(f"tarball integrity {got}, expected {INTEGRITY}: not {PACKAGE}@{VERSION}")
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        bundle = tar.extractfile(MEMBER).read()
        licence = tar.extractfile(LICENSE_MEMBER).read()
    if sha256(bundle) != SHA256:
        raise SystemExit(f"{MEMBER}: sha256 {sha256(bundle)}, expected {SHA256}")
    return bundle, licence


def npm_pack() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tgz,) = Path(tmp).glob("*.tgz")
        return tgz.read_bytes()


def install(bundle: bytes, licence: bytes) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for old in VENDOR.glob("plotly-cartesian-*.min.js"):
        if old != DEST:
            old.unlink()
    DEST.write_bytes(bundle)
    LICENSE_DEST.write_bytes(licence)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--fetch", action="store_true", help=f"fetch {PACKAGE}@{VERSION} with `npm pack`")
    how.add_argument("--tarball", type=Path, help="install from this package tarball (.tgz)")
    args = parser.parse_args(argv)
    if args.fetch or args.tarball:
        tgz = args.tarball.read_bytes() if args.tarball else npm_pack()
        install(*extract(tgz))
        print(f"installed {DEST.relative_to(REPO)} ({len(DEST.read_bytes()):,} bytes)")
    problems = check()
    try:
        from plotly.offline import get_plotlyjs_version

        shipped = get_plotlyjs_version()
    except ImportError:
        shipped = None
    if shipped and shipped.split(".")[0] != VERSION.split(".")[0]:
        problems.append(f"plotly.py ships plotly.js {shipped}, a different major version from {VERSION}")
    elif shipped and shipped != VERSION:
        print(f"note: plotly.py ships plotly.js {shipped}; the vendored bundle is {VERSION}", file=sys.stderr)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        print(f"ok: {DEST.relative_to(REPO)} is {PACKAGE}@{VERSION}, sha256 {SHA256}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
