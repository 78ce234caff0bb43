"""Helpers shared by the benchmarks: timing, machine facts, MNIST, a table or JSON.

A benchmark builds ``rows`` (a list of flat dicts, one per measurement) and
hands them to :func:`report`, which prints an aligned text table or, with
``--json``, one JSON document ``{"title", "meta", "rows"}`` for machines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


def timeit(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; median, min, all (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "times": times}


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[str, list[float]]:
    """Time several callables in rounds (a, b, c, a, b, c, ...), so that a busy
    spell of the machine hits all of them alike; returns each one's times."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(max(1, repeats)):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def median_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """Median over rounds of num[i] / den[i] (pairs measured back to back)."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median reported)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS threads (via threadpoolctl) for the whole run; default: leave as configured",
    )
    p.add_argument("--data", type=Path, default=MNIST_DIR, help=f"MNIST folder (default {MNIST_DIR})")
    return p


def limit_threads(n: int | None):
    """Apply a BLAS thread limit for the rest of the process (None: no change)."""
    if n is None:
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


def machine_info() -> dict:
    """Facts that explain timings: CPUs, load, library versions, BLAS threads."""
    import numpy as np

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        from threadpoolctl import threadpool_info

        np.ones(2) @ np.ones(2)  # make sure BLAS is loaded
        info["blas"] = [
            f"{d.get('internal_api')} {d.get('version')} {d.get('architecture')} threads={d.get('num_threads')}"
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = None
    return info


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.2e}"
        return f"{v:.4g}"
    return str(v)


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Aligned text table of ``rows``; columns in first-seen order unless given."""
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in cells:
        out.append(
            "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True))
        )
    return "\n".join(out)


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if hasattr(v, "item"):  # numpy scalars
        return _jsonable(v.item())
    return v


def report(rows: list[dict], title: str, as_json: bool, *, meta: dict | None = None, file=None) -> None:
    """Print ``rows`` as a table under ``title`` (plus ``meta`` lines), or as JSON."""
    file = sys.stdout if file is None else file
    if as_json:
        doc = {
            "title": title,
            "meta": {k: _jsonable(v) for k, v in (meta or {}).items()},
            "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows],
        }
        print(json.dumps(doc, indent=2), file=file)
        return
    print(title, file=file)
    print("=" * len(title), file=file)
    for k, v in (meta or {}).items():
        print(f"{k}: {v}", file=file)
    print(file=file)
    print(format_table(rows), file=file)
