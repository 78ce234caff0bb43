"""What MathJax costs the first page load, measured in headless Chromium.

    python bench/bench_formulas.py [--loads 6] [--json out.json]

Three variants of the same page, loaded in turns (``--loads`` each):

* ``none``: the MathJax and Markdown chunks blocked (as if the app drew no
  typeset formula);
* ``eager``: the formulas typeset in the first page (``formulas.slot``
  returns the Markdown at once);
* ``after-load``: what the app does: the formulas are asked for once the page
  has loaded and the browser is idle.

Per load (seconds from navigation): first contentful paint, the top of the
page drawn (numbers and templates), every view drawn, when the browser asked
for the MathJax chunk, and when the formulas appear (``mjx-container``). Not
a test: the numbers depend on the machine and its load (on a shared machine,
``nice -n -10`` keeps other processes from dominating them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_app import _ALL_DRAWN, _TOP_DRAWN, browser, free_port  # noqa: E402

EAGER = """
import sys
sys.argv = ["app.py"]
import app
from dash import html
from components import formulas, ids
def slot(component_id):
    text = (formulas.curves_markdown("softmax", "half", True) if component_id == ids.CURVES_FORMULA
            else formulas.gradcheck_markdown("softmax", "half", True, "central"))
    return html.Div(formulas.typeset(text), id=component_id, className="view-formula")
formulas.slot = slot
app.app.run(host="127.0.0.1", port={port})
"""

_FORMULAS = "return document.querySelectorAll('.view-formula mjx-container').length >= 2;"
_MATHJAX_START = """
const e = performance.getEntriesByType('resource').find((r) => r.name.indexOf('async-mathjax') >= 0);
return e ? e.startTime / 1000 : null;
"""
_FCP = """
const e = performance.getEntriesByName('first-contentful-paint')[0];
return e ? e.startTime / 1000 : null;
"""


def start(cmd: list[str]) -> subprocess.Popen:
    import requests

    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, requests


def wait_up(proc, requests, url: str) -> None:
    for _ in range(160):
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the app exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.25)
    raise SystemExit("the app did not start within 40 s")


def load(driver, url: str, block: bool) -> dict:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setBlockedURLs", {"urls": ["*async-mathjax.js*", "*async-markdown.js*"] if block else []}
    )
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(url)
    top = drawn = formulas = None
    while time.perf_counter() - t0 < 60:
        now = time.perf_counter() - t0
        if top is None and driver.execute_script(_TOP_DRAWN):
            top = now
        if drawn is None and driver.execute_script(_ALL_DRAWN):
            drawn = now
        if formulas is None and not block and driver.execute_script(_FORMULAS):
            formulas = now
        if drawn is not None and (block or formulas is not None or now > drawn + 30):
            break
        time.sleep(0.02)
    return {
        "fcp": driver.execute_script(_FCP),
        "top": top,
        "drawn": drawn,
        "mathjax_requested": driver.execute_script(_MATHJAX_START),
        "formulas": formulas,
    }


def summarize(rows: list[dict]) -> dict:
    out = {}
    for key in ("fcp", "top", "drawn", "mathjax_requested", "formulas"):
        vals = [r[key] for r in rows if r[key] is not None]
        out[key] = round(statistics.median(vals), 2) if vals else None
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--loads", type=int, default=6, help="page loads per variant (the first warms caches)"
    )
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    p1, p2 = free_port(), free_port()
    shipped, requests = start([sys.executable, "app.py", "--port", str(p1)])
    eager, _ = start([sys.executable, "-c", EAGER.replace("{port}", str(p2))])
    urls = {"shipped": f"http://127.0.0.1:{p1}/", "eager": f"http://127.0.0.1:{p2}/"}
    rows: dict[str, list] = {"none": [], "eager": [], "after-load": []}
    try:
        wait_up(shipped, requests, urls["shipped"])
        wait_up(eager, requests, urls["eager"])
        driver = browser()
        try:
            for i in range(args.loads):
                for name, url, block in (
                    ("none", urls["shipped"], True),
                    ("eager", urls["eager"], False),
                    ("after-load", urls["shipped"], False),
                ):
                    r = load(driver, url, block)
                    if i > 0:  # the first round warms the server's and the browser's caches
                        rows[name].append(r)
                    print(name, json.dumps({k: None if v is None else round(v, 2) for k, v in r.items()}))
        finally:
            driver.quit()
    finally:
        for proc in (shipped, eager):
            proc.terminate()
            proc.wait(timeout=10)
    results = {name: summarize(r) for name, r in rows.items()}
    print("medians (s):", json.dumps(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"medians": results, "loads": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
