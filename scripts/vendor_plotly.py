"""The plotly.js bundle the page uses: a custom bundle of four trace types, vendored in assets/vendor/.

    python scripts/vendor_plotly.py           # check the vendored copy and the recipe (no network)
    python scripts/vendor_plotly.py --build   # build it again from the recipe; install it if it is the recorded file

Why: dcc.Graph draws with ``window.Plotly`` when a script has defined it before
the first graph renders, and otherwise loads the full plotly.js that plotly.py
ships (``package_data/plotly.min.js``, 4.8 MB, every trace type). A script in
``assets/`` is loaded before the Dash renderer, so this 1.2 MB bundle defines
``window.Plotly`` first and the full bundle is never requested. It registers
only the trace types the views build (:data:`TRACES`), so the browser has less
to parse and run on a cold page load than even plotly's smallest official
bundle with a heatmap (the cartesian one, twelve trace types and world calendars).

The recipe is ``scripts/plotly_bundle/``: ``package.json`` pins ``plotly.js``
(the version plotly.py ships, ``plotly.offline.get_plotlyjs_version()``) and
``esbuild`` exactly, ``package-lock.json`` pins every dependency with its
integrity, ``entry.js`` registers the trace types and ``build.js`` bundles it.
``--build`` copies those files to a temporary folder, runs ``npm ci`` (install
scripts off) and ``node build.js`` there, and installs the result only when its
sha256 is :data:`SHA256`; otherwise it installs nothing and prints the digest
it got. Two builds from the same recipe give the same file.

To change the recipe (another trace type, another plotly.js): edit the files in
scripts/plotly_bundle/ (for a new version also ``npm install --package-lock-only``
there, and VERSION here), run ``--build``, check the new file in the browser
(tests/integration), and only then set SHA256 here and in assets/vendor/README.md
to the digest it printed and run ``--build`` again to install it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: the plotly.js version the bundle is built from (plotly.py 7.1 ships 4.1.1)
VERSION = "4.1.1"
#: the trace types entry.js registers (scatter comes with plotly.js/lib/core); checked in the
#: browser against Plotly.PlotSchema by tests/integration/test_plotly_bundle.py
TRACES = ("bar", "contour", "heatmap", "scatter")
#: the first line of the bundle's licence header (build.js writes it)
HEADER = f"* plotly.js (lincls custom: scatter, bar, heatmap, contour - minified) v{VERSION}"
SHA256 = "7e661c4d951fa205f9155760d31ad4a720111d89d2527e860f3e5d4cee776354"

RECIPE = REPO / "scripts" / "plotly_bundle"
RECIPE_FILES = ("package.json", "package-lock.json", "entry.js", "build.js")
VENDOR = REPO / "assets" / "vendor"
DEST = VENDOR / f"plotly-lincls-{VERSION}.min.js"
LICENSE_DEST = VENDOR / "plotly.js-LICENSE.txt"

NPM_CI = ("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
OUT = "plotly-lincls.min.js"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_problems(data: bytes, name: str = DEST.name) -> list[str]:
    """What is wrong with a bundle's bytes (an empty list when they are the recorded file)."""
    problems = []
    if sha256(data) != SHA256:
        problems.append(f"{name}: sha256 {sha256(data)}, recorded {SHA256}")
    head = data[:300].decode("utf-8", "replace")
    if HEADER not in head or "Licensed under the MIT license" not in head:
        problems.append(f"{name}: its header does not read {HEADER!r} and name the MIT license")
    return problems


def recipe_problems() -> list[str]:
    """The recipe must pin plotly.js VERSION and esbuild exactly, in package.json and in its lock file."""
    missing = [name for name in RECIPE_FILES if not (RECIPE / name).is_file()]
    if missing:
        return [f"scripts/plotly_bundle/: missing {', '.join(missing)}"]
    problems = []
    deps = json.loads((RECIPE / "package.json").read_text(encoding="utf-8")).get("dependencies", {})
    locked = json.loads((RECIPE / "package-lock.json").read_text(encoding="utf-8")).get("packages", {})
    if deps.get("plotly.js") != VERSION:
        problems.append(f"package.json asks for plotly.js {deps.get('plotly.js')!r}, not {VERSION}")
    for name, wanted in deps.items():
        if not wanted[:1].isdigit():
            problems.append(f"package.json: {name} {wanted!r} is not an exact version")
        got = locked.get(f"node_modules/{name}", {})
        if got.get("version") != wanted or not got.get("integrity"):
            problems.append(
                f"package-lock.json: {name} is {got.get('version')!r}, package.json says {wanted!r}"
            )
    if locked.get("", {}).get("dependencies") != deps:
        problems.append(
            "package-lock.json was not made from this package.json (run npm install --package-lock-only)"
        )
    return problems


def check() -> list[str]:
    """Problems with the vendored copy and its recipe (an empty list when all is as recorded)."""
    if not DEST.is_file():
        return [f"{DEST.relative_to(REPO)} is missing (run: python scripts/vendor_plotly.py --build)"]
    problems = bundle_problems(DEST.read_bytes())
    if not LICENSE_DEST.is_file() or "MIT License" not in LICENSE_DEST.read_text(encoding="utf-8"):
        problems.append(f"{LICENSE_DEST.relative_to(REPO)} is missing or not the MIT licence")
    return problems + recipe_problems()


def run(cmd: Sequence[str], cwd: Path) -> None:
    subprocess.run(list(cmd), cwd=cwd, check=True)


def build(runner: Callable[[Sequence[str], Path], None] = run) -> tuple[bytes, bytes]:
    """(bundle, plotly.js's LICENSE) built from a copy of the recipe in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="plotly_bundle-") as tmp:
        work = Path(tmp)
        for name in RECIPE_FILES:
            shutil.copyfile(RECIPE / name, work / name)
        runner(NPM_CI, work)
        runner(("node", "build.js", OUT), work)
        return (work / OUT).read_bytes(), (work / "node_modules" / "plotly.js" / "LICENSE").read_bytes()


def install(bundle: bytes, licence: bytes) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for old in VENDOR.glob("plotly-*.js"):  # one plotly bundle: two would both load
        if old != DEST:
            old.unlink()
    DEST.write_bytes(bundle)
    LICENSE_DEST.write_bytes(licence)


def main(argv: list[str] | None = None, runner: Callable[[Sequence[str], Path], None] = run) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--build", action="store_true", help="build from scripts/plotly_bundle/ (needs npm and the registry)"
    )
    args = parser.parse_args(argv)
    if args.build:
        bundle, licence = build(runner)
        refused = bundle_problems(bundle, OUT)
        if b"MIT License" not in licence:
            refused.append("node_modules/plotly.js/LICENSE is not the MIT licence")
        if refused:
            for p in refused:
                print(f"error: {p}", file=sys.stderr)
            print(
                f"nothing installed. If the recipe changed on purpose, check the new build and set\n"
                f'SHA256 = "{sha256(bundle)}" in scripts/vendor_plotly.py and assets/vendor/README.md,\n'
                "then run --build again.",
                file=sys.stderr,
            )
            return 1
        install(bundle, licence)
        print(f"installed {DEST.relative_to(REPO)} ({len(bundle):,} bytes)")
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
        print(f"ok: {DEST.relative_to(REPO)} is plotly.js {VERSION} ({', '.join(TRACES)}), sha256 {SHA256}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
