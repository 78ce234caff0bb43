"""Data loading and the loss landscape: timings the tests do not assert.

    python -m bench.bench_core [--json] [--repeats 7]

Rows: the built-in sample loaded uncached (issue: "well under a second"), full
MNIST loaded from ``../shared/data/mnist`` (kept as uint8), ``prepare`` of
5,000 standardized images, and a 41x41 loss-landscape slice at N = 1,000.
"""

from __future__ import annotations

import numpy as np

from bench._common import base_parser, limit_threads, machine_info, report, timeit
from core import data, landscape


def main(argv=None) -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    limit_threads(args.threads)
    rows = []

    t = timeit(data.load_builtin.__wrapped__, repeats=args.repeats)
    ds = data.load_builtin()
    rows.append({"what": "load built-in sample (10k + 2k, uncached)", "median_s": t["median"],
                 "min_s": t["min"], "MB_in_memory": (ds.x_train.nbytes + ds.x_test.nbytes) / 1e6})

    if args.data.is_dir():
        t = timeit(lambda: data.load_dataset(args.data), repeats=max(1, args.repeats // 2))
        full = data.load_dataset(args.data)
        rows.append({"what": "load full MNIST (60k + 10k)", "median_s": t["median"], "min_s": t["min"],
                     "MB_in_memory": (full.x_train.nbytes + full.x_test.nbytes) / 1e6,
                     "dtype": str(full.x_train.dtype)})

    t = timeit(lambda: data.prepare(ds, n_train=5000, n_test=1000), repeats=args.repeats)
    rows.append({"what": "prepare 5,000 + 1,000 (standardize)", "median_s": t["median"], "min_s": t["min"]})

    prep = data.prepare(ds, n_train=1000, n_test=10)
    W = 0.001 * np.random.default_rng(0).standard_normal((prep.n_features + 1, prep.n_classes))
    for loss in ("softmax", "hinge"):
        t = timeit(lambda loss=loss: landscape.slice_2d(loss, W, prep.X_train, prep.y_train, 1e-3, steps=41),
                   repeats=max(1, args.repeats // 2))
        rows.append({"what": f"41x41 landscape, {loss}, N=1000", "median_s": t["median"], "min_s": t["min"]})

    report(rows, "Data loading and landscape", args.json, meta=machine_info())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
