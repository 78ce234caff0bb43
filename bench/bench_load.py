"""Load test: a lecture hall of simulated students against ``gunicorn -w 2 app:server`` on 127.0.0.1.

    python bench/bench_load.py                          # 25, 50 and 100 sessions, 75 s each
    python bench/bench_load.py --levels 50 --duration 60 --json

Each simulated student (a thread with its own HTTP session) loads the page as
a browser does (the index, the scripts it names, the callback list, the
layout), then, until the level's time is up, waits a think time and either
changes a control (loss, regularization, step h, preprocessing, training
samples; 80 %) or trains a short run (20 %). Requests are built as the
renderer builds them (``bench/dash_client.py``): a control change runs every
server-side callback that control is an input of; a training run is polled
until it answers, then the page's follow-ups are sent (the
commit and every view on the page redrawn for the new weights). The teaching sections
that the page mounts after its first views (``components/deferred.py``) are
not simulated: neither their first draw nor their redraws after a run. The
server is started here (an isolated job cache, default ``LINCLS_MAX_JOBS``),
on loopback only; everything is bounded in count and time.

Reported per level: latency p50 / p95 of control changes (the round trip of
the callback that recomputes loss, gradient and check) and of all callback
requests, page loads, training runs (done / told "busy"), the error count
(any status other than 200/204, a timeout, a refused or reset connection,
an error message that is not "busy"), each gunicorn worker's memory (RSS:
at the start, after the first minute, its peak sampled every second, at the
end, and the largest growth from the first minute to the end), and the
server's and this client's CPU share. The load generator shares the
machine's cores with the server; the load average is printed before, at
most and after each level.

``--threads N`` runs gthread workers (N threads each); add ``--keep-alive 0``
with them: gthread resets some reused keep-alive connections under load
(gunicorn issue #1698), which the client counts as errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import machine_info, report  # noqa: E402
from bench.dash_client import DashClient  # noqa: E402
from core import data as core_data  # noqa: E402
from components import ids  # noqa: E402
from components.security import is_loopback  # noqa: E402

LOSSES = ("softmax", "hinge", "ova-hinge", "structured-hinge")
CONTROL_CHANGES = [
    lambda r: {f"{ids.LOSS}.value": r.choice(LOSSES)},
    lambda r: {f"{ids.REG}.value": r.choice([-7.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0])},
    lambda r: {f"{ids.GC_H}.value": r.choice([1e-2, 1e-3, 1e-5, 1e-7, 1e-9])},
    lambda r: {f"{ids.PREPROCESSING}.value": r.choice(list(core_data.PREPROCESSING))},
    lambda r: {f"{ids.TRAIN_SIZE}.value": r.choice([2.0, 2.69897, 3.0, 3.69897])},  # 100, 500, 1k, 5k
]
TRAIN = f"{ids.TRAIN_BUTTON}.n_clicks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_args(workers: int, threads: int, keep_alive: float | None = None) -> list[str]:
    """The server command's options (``--threads`` > 1 makes gunicorn use gthread workers)."""
    return [
        "-w",
        str(workers),
        *(["--threads", str(threads)] if threads > 1 else []),
        *(["--keep-alive", f"{keep_alive:g}"] if keep_alive is not None else []),
    ]


def start_server(
    workers: int, threads: int, keep_alive: float | None, cache: str
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "LINCLS_CACHE": cache, "PYTHONPATH": str(REPO)}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *gunicorn_args(workers, threads, keep_alive),
            "-b",
            f"127.0.0.1:{port}",
            "app:server",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(cache, "gunicorn.log"), "wb"),  # noqa: SIM115 - lives as long as the server
    )
    url = f"http://127.0.0.1:{port}"
    end = time.time() + 180
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            if requests.get(url + "/_dash-layout", timeout=5).status_code == 200:
                # every worker answers (each imports the app on its own)
                for _ in range(4 * workers):
                    requests.get(url + "/_dash-layout", timeout=30)
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("gunicorn did not start within 180 s")


def stop_server(proc: subprocess.Popen) -> None:
    kids = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    for k in kids:
        try:
            k.kill()
        except psutil.NoSuchProcess:
            pass


def server_cpu_s(master_pid: int | None) -> float:
    """CPU seconds used so far by the server: master, workers and the job processes they started."""
    if not master_pid:
        return 0.0
    total = 0.0
    try:
        procs = [psutil.Process(master_pid), *psutil.Process(master_pid).children(recursive=True)]
    except psutil.Error:
        return 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def worker_rss_mb(master_pid: int | None) -> dict[int, float]:
    """RSS of each gunicorn worker by pid (the master's children; not the job processes they start)."""
    out = {}
    try:
        for p in psutil.Process(master_pid).children() if master_pid else []:
            with contextlib.suppress(psutil.Error):
                out[p.pid] = round(p.memory_info().rss / 2**20, 1)
    except psutil.Error:
        pass
    return dict(sorted(out.items()))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.control: list[float] = []
        self.requests: list[float] = []
        self.pages: list[float] = []
        self.trains: list[float] = []
        self.busy = 0
        self.errors: list[str] = []

    def add(self, name: str, v: float) -> None:
        with self.lock:
            getattr(self, name).append(v)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


_SCRIPT = re.compile(r'<script src="([^"]+)"')


def student(
    url: str,
    seed: int,
    stop_at: float,
    think: tuple[float, float],
    stats: Stats,
    assets: bool,
    train_share: float = 0.2,
) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    c = DashClient(url, session, timeout=30)
    time.sleep(rng.uniform(0, think[1]))  # students arrive over the first seconds
    try:
        t0 = time.perf_counter()
        c.load()
        if assets:  # a cold browser fetches every script the page names (cached afterwards)
            page = session.get(url + "/", timeout=30).text
            for src in _SCRIPT.findall(page):
                with session.get(url + src, timeout=60, stream=True) as r:
                    for _ in r.iter_content(1 << 20):
                        pass
                    if r.status_code != 200:
                        stats.error(f"GET {src}: {r.status_code}")
        stats.add("pages", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - counted
        stats.error(f"page: {type(exc).__name__}")
        return
    c.props[f"{ids.TRAIN_PACE}.value"] = "fast"
    clicks = 0
    while True:
        pause = rng.uniform(*think)
        if time.time() + pause >= stop_at:
            return
        time.sleep(pause)
        try:
            if rng.random() >= train_share:
                change = rng.choice(CONTROL_CHANGES)(rng)
                key = next(iter(change))
                for reply in c.set(change):
                    stats.add("requests", reply.seconds)
                    if reply.status not in (200, 204):
                        stats.error(f"{key}: HTTP {reply.status}")
                    elif reply.data and ids.ALERT_COMPUTE in (reply.data.get("response") or {}):
                        stats.add("control", reply.seconds)
                        alert = (reply.data["response"][ids.ALERT_COMPUTE] or {}).get("children")
                        if alert:
                            stats.error(f"{key}: alert {str(alert)[:80]}")
            else:
                clicks += 1
                t0 = time.perf_counter()
                first, final, _polls, _job = c.run_background(TRAIN, clicks, timeout=90)
                if final is None:
                    stats.error("train: no answer within 90 s")
                    continue
                if final.status != 200:
                    stats.error(f"train: HTTP {final.status}")
                    continue
                resp = (final.data or {}).get("response") or {}
                text = str((resp.get(ids.ALERT_TRAIN) or {}).get("children") or "")
                if "server is busy" in text:
                    stats.add("trains", -1.0)
                    with stats.lock:
                        stats.busy += 1
                elif ids.RESULT_STORE in resp:
                    stats.add("trains", time.perf_counter() - t0)
                    for reply in after_training(c):
                        stats.add("requests", reply.seconds)
                        if reply.status not in (200, 204):
                            stats.error(f"after training: HTTP {reply.status}")
                else:
                    stats.error(f"train: {text[:80] or 'no result'}")
        except requests.RequestException as exc:
            stats.error(f"{type(exc).__name__}: {str(exc)[:160]}")


def _on_page(c: DashClient, cb) -> bool:
    """Whether every output of ``cb`` is in the page's layout (not in a deferred section)."""
    present = {k.split(".", 1)[0] for k in c.props}
    return all(o["id"] in present for o in cb.outputs if isinstance(o.get("id"), str))


def after_training(c: DashClient) -> list:
    """What the page sends once a run's result has arrived: the result and the running
    flag's fall trigger the commit; the committed weights then redraw every view that shows them (on the page, not in a deferred section)."""
    done = {
        f"{ids.RUNNING_STORE}.data": False,
        f"{ids.RESULT_STORE}.data": c.props.get(f"{ids.RESULT_STORE}.data"),
    }
    replies = c.set(done)
    answered = {
        f"{cid}.{prop}"
        for r in replies
        if r.status == 200 and r.data
        for cid, props in (r.data.get("response") or {}).items()
        for prop in props or {}
    }
    committed = [k for k in (f"{ids.WEIGHTS_STORE}.data", f"{ids.HISTORY_STORE}.data") if k in answered]
    if not committed:
        return replies
    return replies + c.set({k: c.props[k] for k in committed}, only=lambda cb: _on_page(c, cb))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_level(
    url: str,
    master: int | None,
    n: int,
    duration: float,
    think,
    assets: bool,
    seed: int,
    train_share: float = 0.2,
) -> dict:
    stats = Stats()
    load_before = os.getloadavg()[0]
    start = time.time()
    cpu0, me0 = server_cpu_s(master), psutil.Process().cpu_times()
    stop_at = start + duration
    threads = [
        threading.Thread(
            target=student,
            args=(url, seed * 1000 + i, stop_at, think, stats, assets, train_share),
            daemon=True,
        )
        for i in range(n)
    ]
    for t in threads:
        t.start()
    rss_start = worker_rss_mb(master)
    rss_1min: dict[int, float] = {}
    rss_peak: dict[int, float] = dict(rss_start)
    load: list[float] = []
    while any(t.is_alive() for t in threads) and time.time() < stop_at + 120:
        time.sleep(1.0)
        load.append(os.getloadavg()[0])
        now_rss = worker_rss_mb(master)
        for pid, mb in now_rss.items():
            rss_peak[pid] = max(mb, rss_peak.get(pid, 0.0))
        if master and not rss_1min and time.time() - start >= 60:
            rss_1min = now_rss
    for t in threads:
        t.join(timeout=1)
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        stats.error(f"{stuck} sessions still waiting 120 s after the end")
    trains = [t for t in stats.trains if t >= 0]
    rss_end = worker_rss_mb(master)
    same = [pid for pid in rss_1min if pid in rss_end]  # a worker restarted in between is not compared
    growth = max((round(rss_end[pid] - rss_1min[pid], 1) for pid in same), default=None)
    me1, elapsed = psutil.Process().cpu_times(), time.time() - start
    ms = lambda v: None if v is None else round(1000 * v)  # noqa: E731
    return {
        "sessions": n,
        "seconds": round(time.time() - start),
        "requests": len(stats.requests),
        "control p50 ms": ms(pct(stats.control, 50)),
        "control p95 ms": ms(pct(stats.control, 95)),
        "all p50 ms": ms(pct(stats.requests, 50)),
        "all p95 ms": ms(pct(stats.requests, 95)),
        "page p50 ms": ms(pct(stats.pages, 50)),
        "page p95 ms": ms(pct(stats.pages, 95)),
        "trains done": len(trains),
        "train p50 s": None if not trains else round(statistics.median(trains), 1),
        "train p95 s": None if not trains else round(pct(trains, 95), 1),
        "trains busy": stats.busy,
        "errors": len(stats.errors),
        "RSS MB start": "/".join(map(str, rss_start.values())),
        "RSS MB 1 min": "/".join(map(str, rss_1min.values())),
        "RSS MB end": "/".join(map(str, rss_end.values())),
        "RSS MB peak": "/".join(str(rss_peak[pid]) for pid in rss_end if pid in rss_peak),
        "RSS growth after 1 min MB": growth,
        "server CPU %": round(100 * (server_cpu_s(master) - cpu0) / elapsed) if master else None,
        "client CPU %": round(100 * ((me1.user + me1.system) - (me0.user + me0.system)) / elapsed),
        "load before": round(load_before, 1),
        "load max": round(max(load), 1) if load else None,
        "load after": round(os.getloadavg()[0], 1),
        "_errors": stats.errors[:10],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--levels", type=int, nargs="+", default=[25, 50, 100], help="concurrent sessions per level"
    )
    p.add_argument("--duration", type=float, default=75.0, help="seconds per level (default 75, at most 300)")
    p.add_argument("--think", type=float, nargs=2, default=(3.0, 8.0), help="think time range in seconds")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker (> 1: gunicorn's gthread workers; default 1)",
    )
    p.add_argument(
        "--keep-alive",
        type=float,
        default=None,
        help="gunicorn --keep-alive seconds (gthread; 0: a connection per request as sync workers do)",
    )
    p.add_argument("--url", default=None, help="a server already running on this machine (loopback only)")
    p.add_argument("--no-assets", action="store_true", help="do not fetch the page's scripts on page load")
    p.add_argument("--train-share", type=float, default=0.2, help="share of actions that train (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    args = p.parse_args(argv)
    if not all(1 <= n <= 200 for n in args.levels) or not 5 <= args.duration <= 300:
        p.error("levels must be 1..200 sessions and --duration 5..300 s")
    proc = None
    if args.url:
        host = re.sub(r"^https?://", "", args.url).rsplit(":", 1)[0]
        if not is_loopback(host):
            p.error("--url must be a loopback address (127.0.0.1): this tool loads the server on purpose")
        url, master = args.url.rstrip("/"), None
    else:
        cache = tempfile.mkdtemp(prefix="lincls-bench-load-")
        proc, url = start_server(args.workers, args.threads, args.keep_alive, cache)
        master = proc.pid
    rows = []
    try:
        for level in args.levels:
            print(f"level {level} sessions, {args.duration:.0f} s …", file=sys.stderr, flush=True)
            row = run_level(
                url,
                master,
                level,
                args.duration,
                tuple(args.think),
                not args.no_assets,
                args.seed,
                args.train_share,
            )
            for e in row["_errors"]:
                print(f"  error: {e}", file=sys.stderr)
            rows.append(row)
    finally:
        if proc is not None:
            stop_server(proc)
    for r in rows:
        r.pop("_errors", None)
    meta = {
        **machine_info(),
        "server": (
            f"gunicorn {' '.join(gunicorn_args(args.workers, args.threads, args.keep_alive))} app:server "
            f"({'gthread' if args.threads > 1 else 'sync'} workers), Diskcache jobs, "
            f"LINCLS_MAX_JOBS={os.environ.get('LINCLS_MAX_JOBS') or 'default'}"
            if proc
            else url
        ),
        "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "think time s": f"{args.think[0]}-{args.think[1]}",
        "actions": f"{100 - 100 * args.train_share:.0f} % control change, {100 * args.train_share:.0f} % short training run (full speed, 5 epochs of 5,000)",
        "goal": "0 errors and control p95 <= 1000 ms at 50 sessions; RSS flat after the first minute",
    }
    report(rows, "Load: simulated students on 127.0.0.1", args.json, meta=meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
