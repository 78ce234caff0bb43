"""Benchmark of the running app, measured from outside as a browser sees it.

    python bench/bench_app.py                 # starts `python app.py` on a free port
    python bench/bench_app.py --url http://127.0.0.1:8050   # an app that is already running
    python bench/bench_app.py --json bench.json             # also write the numbers as JSON
    python bench/bench_app.py --against 64f8b5a --cold 10   # first loads only: this tree against a git revision

Measures (targets from issue 5 in brackets):

1. the callback that answers a change of loss or regularization, at N = 5,000
   training samples with the check of all 7,850 entries on 50 samples: time of
   the HTTP round trip on this machine (an upper bound of the server time)
   p50 / p90 [p50 <= 150 ms], and the JSON it sends [<= 300 KB];
2. how often the page updates while training (progress bar, templates and
   curves redraws per second, in headless Chromium) [>= 4 per second], and
   the browser's side of one update (response -> figures drawn; long tasks);
3. the first page load in headless Chromium, until every view is drawn [<= 2 s]:
   cold (each in a fresh browser profile, nothing cached) and warm (reloads),
   with the CPU seconds the browser spent on it (a number that the machine's
   load changes much less than the wall time), and for cold loads where the
   time goes: the startup scripts fetched, run (DOMContentLoaded), the layout
   arrived; the rest, to every view drawn, is rendering.

   A cold load starts once the fresh browser has gone quiet (:func:`settle`):
   for its first half second or so Chromium starts its own helper processes,
   and on 2 cores that took both cores (about 1 s of CPU), which is the
   browser's start-up, not the page's. Loads that start at once, while it is
   still starting (as this benchmark measured before), are alternated with the
   settled ones and reported beside them (``cold_browser_starting``).

``--against REV`` measures only 3., side by side: it checks REV out into a
temporary git worktree, starts both apps and alternates cold loads between them
(A B, B A, ...), each in a fresh, settled browser, so both see the same machine; it
prints both medians and their ratio.

Not a test: the numbers depend on the machine and its load (printed with them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from components import ids  # noqa: E402

LOSSES = ("softmax", "hinge", "ova-hinge", "structured-hinge")
REG_POSITIONS = (-7.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0)


# -- the app ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, cwd: Path = REPO) -> subprocess.Popen:
    # the server's request log goes to a file: an unread pipe fills after a few hundred requests,
    # and then every request thread blocks on its log line (the live updates slowed to ~2/s)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(120):
        try:
            if requests.get(url, timeout=1).ok:
                return proc
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the app exited: {log.read().decode(errors='replace')[-2000:]}")
        time.sleep(0.25)
    proc.terminate()
    raise SystemExit("the app did not start within 30 s")


def component_props(layout: dict) -> dict[str, dict]:
    """{id: props} of every component of a /_dash-layout response."""
    found: dict[str, dict] = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict):
                if "id" in props and isinstance(props["id"], str):
                    found[props["id"]] = props
                walk(props.get("children"))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(layout)
    return found


# -- 1. the fast callback ---------------------------------------------------------


def bench_callback(base: str, rounds: int) -> dict:
    deps = requests.get(base + "_dash-dependencies", timeout=10).json()
    # the callback of the loss and regularization controls (others may patch the heatmap too)
    (dep,) = [
        d
        for d in deps
        if f"{ids.GC_HEATMAP}.figure" in d["output"] and ids.LOSS in [i["id"] for i in d["inputs"]]
    ]
    props = component_props(requests.get(base + "_dash-layout", timeout=30).json())
    values = {
        (i["id"], i["property"]): props[i["id"]].get(i["property"]) for i in dep["inputs"] + dep["state"]
    }
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in dep["output"].strip(".").split("...")
    ]
    session = requests.Session()
    times, sizes = [], []
    for k in range(rounds):
        if k % 2 == 0:
            key, value = (ids.LOSS, "value"), LOSSES[(k // 2) % len(LOSSES)]
        else:
            key, value = (ids.REG, "value"), REG_POSITIONS[(k // 2) % len(REG_POSITIONS)]
        values[key] = value
        body = {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": [{**i, "value": values[(i["id"], i["property"])]} for i in dep["inputs"]],
            "state": [{**s, "value": values[(s["id"], s["property"])]} for s in dep["state"]],
            "changedPropIds": [f"{key[0]}.{key[1]}"],
        }
        t0 = time.perf_counter()
        r = session.post(base + "_dash-update-component", json=body, timeout=30)
        dt = time.perf_counter() - t0
        r.raise_for_status()
        payload = r.json()["response"]
        assert ids.GC_HEATMAP in payload, "the callback answered without figures"
        alert = payload.get(ids.ALERT_COMPUTE, {}).get("children")
        assert not alert, f"the callback reported: {alert}"
        if k >= 2:  # the first two warm caches up
            times.append(dt * 1000)
            sizes.append(len(r.content))
    n_train = round(10 ** float(values[(ids.TRAIN_SIZE, "value")]))
    n_gc = round(10 ** float(values[(ids.GC_SAMPLES, "value")]))
    q = statistics.quantiles(times, n=10)
    return {
        "n_train": n_train,
        "gradcheck_samples": n_gc,
        "gradcheck_entries": values[(ids.GC_ENTRIES, "value")],
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p90_ms": round(q[8], 1),
        "max_ms": round(max(times), 1),
        "json_kb_median": round(statistics.median(sizes) / 1000, 1),
        "json_kb_max": round(max(sizes) / 1000, 1),
    }


# -- 2. and 3. in the browser ---------------------------------------------------------


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    chrome = shutil.which("chromium") or shutil.which("google-chrome")
    if chrome:
        options.binary_location = chrome
    return webdriver.Chrome(options=options)


_TOP_DRAWN = f"""
const q = (s) => document.querySelector(s);
const n = q('#{ids.SUMMARY_LOSS} .number-value');
return !!(q('#{ids.TEMPLATES_GRAPH} .heatmaplayer image') && n && n.innerText !== '…');
"""

_ALL_DRAWN = f"""
const q = (s) => document.querySelector(s);
const n = q('#{ids.SUMMARY_LOSS} .number-value');
return !!(q('#{ids.TEMPLATES_GRAPH} .heatmaplayer image') && q('#{ids.GC_HEATMAP} .heatmaplayer image')
  && q('#{ids.GC_SCATTER} .scatterlayer .point') && q('#{ids.CURVES_GRAPH} .shapelayer path')
  && n && n.innerText !== '…');
"""


# the scripts asked for before the views were drawn (arguments[0], ms): not the chunks the
# page loads afterwards (MathJax, the teaching sections), which a fast load reaches sooner
_PAGE_FACTS = """
const res = performance.getEntriesByType('resource');
const js = res.filter(e => e.name.split('?')[0].endsWith('.js') && e.startTime < arguments[0]);
return {
  plotly_js: window.Plotly ? window.Plotly.version : null,
  plotly_bundle: (js.find(e => /plotly[^/]*\\.js/.test(e.name.split('?')[0])) || {name: ''}).name.split('?')[0].split('/').pop(),
  js_kb: Math.round(js.reduce((s, e) => s + (e.decodedBodySize || 0), 0) / 1000),
  js_transferred_kb: Math.round(js.reduce((s, e) => s + (e.transferSize || 0), 0) / 1000),
};
"""


def _browser_cpu(driver) -> float | None:
    """CPU seconds (user + system) used so far by the browser's processes (Linux /proc;
    None elsewhere). Unlike the wall time, barely changed by other work on the machine.
    With the time of their ended children (cutime, cstime): a renderer that a reload
    replaces takes its CPU time with it otherwise, and a warm load then counted a tenth
    of its work."""
    try:
        parent: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parent[int(entry)] = int(fields[1])
                ticks[int(entry)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        tree, todo = set(), [driver.service.process.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo.extend(child for child, ppid in parent.items() if ppid == pid and child not in tree)
        return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError):
        return None


_TIMELINE = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
const js = res.filter(e => e.name.split('?')[0].endsWith('.js') && e.startTime < nav.domContentLoadedEventEnd);
const layout = res.find(e => e.name.includes('_dash-layout'));
return {scripts_fetched: Math.max(...js.map(e => e.responseEnd)), scripts_run: nav.domContentLoadedEventEnd,
        layout_arrived: layout ? layout.responseEnd : null};
"""


def settle(driver, window_s: float = 0.2, quiet_cpu_s: float = 0.02, limit_s: float = 10.0) -> float:
    """Open about:blank in a fresh browser and wait until the browser is quiet:
    ``window_s`` in which its processes used at most ``quiet_cpu_s`` of CPU
    (measured here: right after launch it uses about 0.2 s of CPU per 0.1 s, both
    cores, for 0.5-0.6 s, then nothing). Returns the seconds it took; where the
    CPU time cannot be read (not Linux), waits one second."""
    driver.get("about:blank")
    t0 = time.perf_counter()
    before = _browser_cpu(driver)
    if before is None:
        time.sleep(1.0)
        return 1.0
    while time.perf_counter() - t0 < limit_s:
        time.sleep(window_s)
        now = _browser_cpu(driver)
        if now is None or now - before <= quiet_cpu_s:
            break
        before = now
    return time.perf_counter() - t0


def _load(driver, base: str, timeline: list | None = None) -> tuple[float, float, float | None]:
    """(seconds until every view is drawn, seconds until the top of the page is,
    browser CPU seconds spent meanwhile). ``timeline``: append the page's own
    milestones (ms from navigation: its startup scripts fetched, run (DOMContentLoaded),
    the layout arrived)."""
    driver.get("about:blank")
    cpu0 = _browser_cpu(driver)
    t0 = time.perf_counter()
    driver.get(base)
    top = None
    while time.perf_counter() - t0 < 60:
        if top is None and driver.execute_script(_TOP_DRAWN):
            top = time.perf_counter() - t0
        if driver.execute_script(_ALL_DRAWN):
            break
        time.sleep(0.02)
    total = time.perf_counter() - t0
    cpu1 = _browser_cpu(driver)
    if timeline is not None:
        timeline.append(driver.execute_script(_TIMELINE))
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return total, top if top is not None else total, cpu


def bench_first_load(base: str, cold: int, warm: int) -> dict:
    """Seconds from navigation until every view is drawn (and until the top of the
    page, numbers and templates, is).

    cold: ``cold`` fresh browsers, one load each (a new profile: empty HTTP cache
    and V8 code cache, as a first visit), each once the browser is quiet
    (:func:`settle`), alternated with ``cold`` more that load at once, while the
    browser is still starting (``cold_browser_starting``); warm: ``warm`` more
    loads in the last settled browser (scripts cached, as a reload or a second visit)."""
    runs = {"settled": _Loads(), "starting": _Loads()}
    warms, loadavg, settle_s = _Loads(), [], []
    facts, errors = None, 0
    for i in range(cold):
        for mode in ("settled", "starting") if i % 2 == 0 else ("starting", "settled"):
            driver = browser()
            try:
                if mode == "settled":
                    settle_s.append(settle(driver))
                loadavg.append(os.getloadavg()[0])
                total, top, cpu = _load(driver, base, runs[mode].timeline)
                runs[mode].add(total, top, cpu)
                if facts is None:
                    facts = driver.execute_script(_PAGE_FACTS, total * 1000)
                for _ in range(warm if mode == "settled" and i == cold - 1 else 0):
                    loadavg.append(os.getloadavg()[0])
                    warms.add(*_load(driver, base))
                errors += len([e for e in driver.get_log("browser") if e["level"] == "SEVERE"])
            finally:
                driver.quit()
    settled, starting = runs["settled"].summary(), runs["starting"].summary()
    return {
        "cold": {**settled, "settle_median_s": round(statistics.median(settle_s), 2)},
        "cold_browser_starting": {
            **starting,
            "ratio_settled_to_starting": round(settled["median_s"] / starting["median_s"], 2),
        },
        "warm": warms.summary() if warms.times else None,
        "page": facts,
        "load_average_1min_median": round(statistics.median(loadavg), 2),
        "console_errors": errors,
    }


class _Loads:
    """The page loads of one kind: their times, tops of page, browser CPU and milestones."""

    def __init__(self):
        self.times, self.tops, self.cpu, self.timeline = [], [], [], []

    def add(self, total: float, top: float, cpu: float | None) -> None:
        self.times.append(total)
        self.tops.append(top)
        if cpu is not None:
            self.cpu.append(cpu)

    def summary(self) -> dict:
        out = {
            "loads": len(self.times),
            "median_s": round(statistics.median(self.times), 2),
            "max_s": round(max(self.times), 2),
            "all_s": [round(x, 2) for x in self.times],
            "top_of_page_median_s": round(statistics.median(self.tops), 2),
            "browser_cpu_median_s": round(statistics.median(self.cpu), 2) if self.cpu else None,
        }
        if self.timeline:  # where the time goes: medians of the page's milestones, seconds from navigation
            out["timeline_median_s"] = {
                k: round(statistics.median(m[k] for m in self.timeline) / 1000, 2)
                for k in ("scripts_fetched", "scripts_run", "layout_arrived")
                if all(m.get(k) is not None for m in self.timeline)
            }
        return out


_COUNT_UPDATES = f"""
window.__updates = {{progress: 0, templates: 0, curves: 0}};
const bar = document.getElementById('{ids.TRAIN_PROGRESS}');
new MutationObserver(() => window.__updates.progress++).observe(bar, {{attributes: true, attributeFilter: ['value']}});
for (const [key, id] of [['templates', '{ids.TEMPLATES_GRAPH}'], ['curves', '{ids.CURVES_GRAPH}']]) {{
  const gd = document.querySelector('#' + id + ' .js-plotly-plot');
  gd.on('plotly_afterplot', () => {{ window.__updates[key]++; window.__drawn.push(performance.now()); }});
}}
// the browser's side of each update: the callback responses (polls) and the main thread's long tasks
window.__drawn = []; window.__polls = []; window.__busy = [];
new PerformanceObserver((l) => {{ for (const e of l.getEntries()) if (e.name.includes('_dash-update-component'))
  window.__polls.push([e.responseEnd, e.responseEnd - e.startTime, e.transferSize]); }}).observe({{type: 'resource'}});
new PerformanceObserver((l) => {{ for (const e of l.getEntries()) window.__busy.push(e.duration); }}).observe({{type: 'longtask'}});
return true;
"""

_UPDATE_FACTS = """
const polls = window.__polls, drawn = window.__drawn;
// a poll that brought a progress update (a figure Patch) is large; the others are a few hundred bytes
const updates = polls.filter(p => p[2] > 5000);
const render = updates.map(p => { const t = drawn.find(d => d > p[0]); return t === undefined ? null : t - p[0]; })
  .filter(x => x !== null);
const med = (xs) => { if (!xs.length) return null; const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
return {polls: polls.length, updates: updates.length, request_ms_median: med(updates.map(p => p[1])),
        update_kb_median: med(updates.map(p => p[2])) / 1000, render_ms_median: med(render),
        long_task_ms_total: window.__busy.reduce((a, b) => a + b, 0)};
"""


def bench_training(driver, base: str, seconds: float) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(base)
    t0 = time.perf_counter()
    while not driver.execute_script(_ALL_DRAWN) and time.perf_counter() - t0 < 60:
        time.sleep(0.05)
    # a long run: 100 epochs at full speed
    driver.find_element(By.CSS_SELECTOR, f"#{ids.EPOCHS} [role='slider']").send_keys(Keys.END)
    driver.find_element(By.CSS_SELECTOR, f"#{ids.TRAIN_PACE} input[value='fast']").click()
    time.sleep(0.5)
    driver.find_element(By.ID, ids.TRAIN_BUTTON).click()
    status = ""
    while "Step" not in status and time.perf_counter() - t0 < 60:
        status = driver.find_element(By.ID, ids.TRAIN_STATUS).text
        time.sleep(0.05)
    driver.execute_script(_COUNT_UPDATES)
    load = os.getloadavg()[0]
    # count over the window, or only while the run lasts if it ends sooner (a finished run
    # sends no updates, and counting its idle tail would understate the rate)
    start = time.perf_counter()
    running = True
    while running and time.perf_counter() - start < seconds:
        time.sleep(0.1)
        running = driver.find_element(By.ID, ids.STOP_BUTTON).get_attribute("disabled") is None
    window = time.perf_counter() - start
    counts = driver.execute_script("return window.__updates")
    facts = driver.execute_script(_UPDATE_FACTS)
    if running:
        driver.find_element(By.ID, ids.STOP_BUTTON).click()
    rates = {k: round(v / window, 2) for k, v in counts.items()}
    busy = facts.pop("long_task_ms_total")
    return {
        "window_s": round(window, 2),
        "still_training_at_end": running,
        "per_second": rates,
        # response of a poll that carried an update -> the next figure drawn (JSON, Patch, plotly)
        "browser": {k: round(v, 1) if isinstance(v, float) else v for k, v in facts.items()},
        "long_tasks_percent": round(100 * busy / 1000 / window),  # main thread in tasks > 50 ms
        "load_average_1min": round(load, 2),
    }


# -- main -------------------------------------------------------------------------


def bench_against(rev: str, loads: int) -> dict:
    """Cold first loads of this tree and of git revision ``rev``,
    alternated in one run (see the module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-app-"))
    other = tmp / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(other), rev], cwd=REPO, check=True)
    trees = {"this tree": REPO, rev: other}
    procs, bases = [], {}
    try:
        for name, tree in trees.items():
            port = free_port()
            procs.append(start_app(port, cwd=tree))
            bases[name] = f"http://127.0.0.1:{port}/"
        cold = {name: [] for name in trees}
        loadavg = []
        for i in range(loads):
            for name in list(trees) if i % 2 == 0 else list(trees)[::-1]:
                driver = browser()
                try:
                    settle(driver)
                    loadavg.append(os.getloadavg()[0])
                    cold[name].append(_load(driver, bases[name])[0])
                finally:
                    driver.quit()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=REPO, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        name: {
            "cold_median_s": round(statistics.median(cold[name]), 2),
            "cold_all_s": [round(x, 2) for x in cold[name]],
        }
        for name in trees
    }
    out["cold_ratio"] = round(out["this tree"]["cold_median_s"] / out[rev]["cold_median_s"], 2)
    out["load_average_1min_median"] = round(statistics.median(loadavg), 2)
    return out


def _print_first_load(res: dict) -> None:
    """The first loads as a table: medians, slowest, browser CPU; settled cold loads against
    those that start while the browser is starting, measured alternately in this run."""
    rows = [("cold, settled", res["cold"]), ("cold, starting", res["cold_browser_starting"])]
    if res["warm"]:
        rows.append(("warm", res["warm"]))
    print(f"{'first load':<16} {'median':>8} {'slowest':>8} {'browser CPU':>12}  loads")
    for name, r in rows:
        print(
            f"{name:<16} {r['median_s']:>6.2f} s {r['max_s']:>6.2f} s {r['browser_cpu_median_s'] or 0:>10.2f} s  {r['loads']}"
        )
    print(f"cold ratio settled / starting: {res['cold_browser_starting']['ratio_settled_to_starting']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="benchmark an app already running at this address")
    parser.add_argument("--rounds", type=int, default=42, help="callback requests (the first 2 warm up)")
    parser.add_argument(
        "--cold", type=int, default=3, help="cold page loads (each in a fresh browser), settled and starting"
    )
    parser.add_argument("--warm", type=int, default=5, help="warm page loads (in the last browser)")
    parser.add_argument("--train-seconds", type=float, default=6.0, help="window for counting updates")
    parser.add_argument("--no-browser", action="store_true", help="only the HTTP part")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument(
        "--against", metavar="REV", help="only first loads, alternated with those of this git revision"
    )
    args = parser.parse_args(argv)
    if args.against:
        res = bench_against(args.against, args.cold)
        print(f"{'version':<12} {'cold median':>12}  cold loads")
        for name in ("this tree", args.against):
            r = res[name]
            print(f"{name:<12} {r['cold_median_s']:>10.2f} s  {r['cold_all_s']}")
        print(
            f"cold ratio this tree / {args.against}: {res['cold_ratio']}; load average {res['load_average_1min_median']}"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2))
        return 0

    proc = None
    base = args.url
    if not base:
        port = free_port()
        proc = start_app(port)
        base = f"http://127.0.0.1:{port}"
    base = base.rstrip("/") + "/"
    results = {"url": base, "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        results["callback"] = bench_callback(base, args.rounds)
        print("callback:", json.dumps(results["callback"]))
        if not args.no_browser:
            results["first_load"] = bench_first_load(base, args.cold, args.warm)
            print("first load:", json.dumps(results["first_load"]))
            _print_first_load(results["first_load"])
            driver = browser()
            try:
                results["training"] = bench_training(driver, base, args.train_seconds)
                print("training:", json.dumps(results["training"]))
            finally:
                driver.quit()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    results["load_average_after"] = os.getloadavg()
    print(
        f"load average before {results['load_average']}, after {results['load_average_after']} "
        f"on {results['cpus']} cores"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
