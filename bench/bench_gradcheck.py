"""Benchmark of the gradient checker and of the losses on MNIST.

    python -m bench.bench_gradcheck [--json] [--repeats 5] [--bb-repeats 3]
                                    [--losses softmax,hinge] [--threads N]

Measured side by side in one run (medians over repeats):

1. Full check of all (D+1) x C weights, central differences, N = 1,000: the
   fast exact path (:func:`core.gradcheck.fast_numeric_gradient`) against the
   black-box loop the notebook's approach amounts to
   (:func:`core.gradcheck.numeric_gradient`, two full loss evaluations per
   entry; the loss is evaluated without its gradient, the fastest such loop).
   Goal: >= 300x faster, same numbers (max entrywise relative difference; the
   black box's own round-off, ~eps |L| / h, bounds how well it can agree on
   entries near zero, so the difference relative to the largest entry is
   reported too).
2. The fast path alone at N = 5,000 (goal <= 1 s), and a whole
   :func:`core.gradcheck.check_gradient` (analytic gradient, fast numeric
   gradient, kinks, reference derivative) for information.
3. Loss and gradient at N = 60,000 against the floor of two plain matrix
   products over the same data (``X @ W`` and ``X^T G``, the faster of the two
   orientations of the second), goal <= 1.25x, and against the notebook's own
   functions, ported below as they were written (``np.c_`` bias column and
   all), goal >= 1.3x faster.
"""

from __future__ import annotations

import statistics
import sys

import numpy as np

from bench._common import (
    base_parser,
    interleaved,
    limit_threads,
    machine_info,
    median_ratio,
    report,
    timeit,
)

H = 1e-5


# --------------------------------------------------------------------------
# the course notebook's functions, ported faithfully (baseline only)


def computeSoftmaxLoss(X_tr, y_tr, W, reg):
    n, w = X_tr.shape
    X_tr = np.c_[np.ones((n, 1)), X_tr]
    s_mat = X_tr.dot(W)
    s_m_argmax = np.argmax(s_mat, axis=1)
    s_m_max = s_mat[range(n), s_m_argmax].reshape(-1, 1)
    s_m_exp = np.exp(s_mat - s_m_max)
    L_mat = -np.log(s_m_exp[range(n), y_tr] / np.sum(s_m_exp, axis=1))
    L = np.sum(L_mat) / n
    L += 0.5 * reg * np.sum(W**2)
    dW = np.zeros(W.shape)
    P_m = s_m_exp / np.sum(s_m_exp, axis=1).reshape(-1, 1)
    P_ik = np.zeros(P_m.shape)
    P_ik[range(n), y_tr] = 1
    dW = X_tr.T.dot(P_m - P_ik)
    dW /= n
    dW += reg * W
    return L, dW


def computeHingeLoss(X_tr, y_tr, W, reg):
    n, w = X_tr.shape
    X_tr = np.c_[np.ones((n, 1)), X_tr]
    s_mat = X_tr.dot(W)
    s_k = s_mat[range(n), y_tr]
    pred_score = s_mat - s_k.reshape(-1, 1) + 1
    pred_score[range(n), y_tr] = 0
    L = np.sum(pred_score[np.where(pred_score > 0)]) / n
    L += 0.5 * reg * np.sum(W**2)
    dW = np.zeros(W.shape)
    pred_score[pred_score < 0] = 0
    pred_score[pred_score > 0] = 1
    sum_score = np.sum(pred_score, axis=1)
    pred_score[range(n), y_tr] = -sum_score
    dW = X_tr.T.dot(pred_score)
    dW /= n
    dW += reg * W
    return L, dW


NOTEBOOK = {"softmax": computeSoftmaxLoss, "hinge": computeHingeLoss}


# --------------------------------------------------------------------------


def _progress(msg: str) -> None:
    print(f"[bench_gradcheck] {msg}", file=sys.stderr, flush=True)


def _rel(a, b):
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), np.finfo(float).tiny)


def bench_full_check(X, y, names, repeats, bb_repeats):
    from core.gradcheck import fast_numeric_gradient, loss_function, numeric_gradient

    rows = []
    W = np.random.default_rng(0).normal(size=(X.shape[1] + 1, 10)) * 1e-3
    reg = 0.1
    for name in names:
        _progress(f"full check, {name}, N={len(y)}: fast path, then the black-box loop")
        f = loss_function(name, X, y, reg)
        fast = timeit(lambda name=name: fast_numeric_gradient(name, W, X, y, reg, H, "central"), repeats)
        slow = timeit(lambda f=f: numeric_gradient(f, W, H, "central"), bb_repeats, warmup=0)
        g_fast = fast_numeric_gradient(name, W, X, y, reg, H, "central")
        g_bb = numeric_gradient(f, W, H, "central")
        rel = _rel(g_fast, g_bb)
        floor = 8 * np.finfo(float).eps * abs(f(W)) / H  # the black box's round-off scale
        resolvable = np.abs(g_fast - g_bb) > floor
        ratio = slow["median"] / fast["median"]
        rows.append(
            {
                "benchmark": f"full check {W.size} weights, central",
                "loss": name,
                "N": len(y),
                "ours_s": fast["median"],
                "baseline": "black-box loop",
                "baseline_s": slow["median"],
                "ratio": ratio,
                "goal": ">= 300x faster",
                "met": bool(ratio >= 300),
                "max_rel_diff": float(rel.max()),
                "median_rel_diff": float(np.median(rel)),
                "max_diff/max|g|": float(np.abs(g_fast - g_bb).max() / np.abs(g_bb).max()),
                "n_rel>1e-8": int(((rel > 1e-8) & resolvable).sum()),
            }
        )
    return rows


def bench_fast_5000(X, y, names, repeats):
    from core.gradcheck import check_gradient, fast_numeric_gradient

    rows = []
    W = np.random.default_rng(1).normal(size=(X.shape[1] + 1, 10)) * 1e-3
    for name in names:
        _progress(f"fast path alone, {name}, N={len(y)}")
        t = timeit(lambda name=name: fast_numeric_gradient(name, W, X, y, 0.1, H, "central"), repeats)
        rows.append(
            {
                "benchmark": "fast path alone, all weights, central",
                "loss": name,
                "N": len(y),
                "ours_s": t["median"],
                "goal": "<= 1 s",
                "met": bool(t["median"] <= 1.0),
            }
        )
        res = check_gradient(name, W, X, y, 0.1, h=H)
        t = timeit(lambda name=name: check_gradient(name, W, X, y, 0.1, h=H), repeats)
        rows.append(
            {
                "benchmark": f"whole check_gradient (verdict: {res.verdict})",
                "loss": name,
                "N": len(y),
                "ours_s": t["median"],
            }
        )
    return rows


def bench_loss_60000(X, y, names, repeats):
    """Ours, the floor and the notebook's functions timed in interleaved rounds.

    ``ratio`` is the ratio of the medians (the goal is judged on it);
    ``paired_ratio`` the median over rounds of the back-to-back pairs' ratios,
    which a busy machine disturbs less."""
    from core.losses import get_loss

    rows = []
    W = np.random.default_rng(2).normal(size=(X.shape[1] + 1, 10)) * 1e-3
    G = np.random.default_rng(3).normal(size=(X.shape[0], 10))
    W1 = W[1:]
    fns = {"floor G.T@X": lambda: (X @ W1, G.T @ X), "floor X.T@G": lambda: (X @ W1, X.T @ G)}
    for name in names:
        loss_fn = get_loss(name)
        fns[name] = lambda f=loss_fn: f(W, X, y, 0.1)
        if name in NOTEBOOK:
            fns["notebook " + name] = lambda f=NOTEBOOK[name]: f(X, y, W, 0.1)
    _progress(f"loss + gradient, N={len(y)}: {', '.join(fns)} in interleaved rounds")
    t = interleaved(fns, repeats)
    med = {k: statistics.median(v) for k, v in t.items()}
    floor_key = min(("floor G.T@X", "floor X.T@G"), key=med.get)
    rows.append(
        {
            "benchmark": "floor: X@W + G.T@X  |  X@W + X.T@G",
            "N": len(y),
            "ours_s": med["floor G.T@X"],
            "baseline_s": med["floor X.T@G"],
        }
    )
    for name in names:
        ratio = med[name] / med[floor_key]
        rows.append(
            {
                "benchmark": "loss + gradient",
                "loss": name,
                "N": len(y),
                "ours_s": med[name],
                "baseline": floor_key,
                "baseline_s": med[floor_key],
                "ratio": ratio,
                "paired_ratio": median_ratio(t[name], t[floor_key]),
                "goal": "<= 1.25x floor",
                "met": bool(ratio <= 1.25),
            }
        )
        if name in NOTEBOOK:
            L1, d1 = get_loss(name)(W, X, y, 0.1)
            L2, d2 = NOTEBOOK[name](X, y, W, 0.1)
            speedup = med["notebook " + name] / med[name]
            rows.append(
                {
                    "benchmark": "loss + gradient vs notebook",
                    "loss": name,
                    "N": len(y),
                    "ours_s": med[name],
                    "baseline": "notebook fn",
                    "baseline_s": med["notebook " + name],
                    "ratio": speedup,
                    "paired_ratio": median_ratio(t["notebook " + name], t[name]),
                    "goal": ">= 1.3x faster",
                    "met": bool(speedup >= 1.3),
                    "max_rel_diff": float(max(_rel(d1, d2).max(), _rel(np.array(L1), np.array(L2)))),
                }
            )
    return rows


def main(argv=None) -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--bb-repeats", type=int, default=3, help="repeats of the (slow) black-box loop")
    p.add_argument(
        "--losses",
        default="softmax,hinge",
        help="comma-separated loss names, or 'all' (default: the notebook's two)",
    )
    p.add_argument(
        "--sections",
        default="1,2,3",
        help="which measurements: 1 full check N=1000, 2 fast path N=5000, 3 loss N=60000 (default all)",
    )
    args = p.parse_args(argv)
    sections = {s.strip() for s in args.sections.split(",")}
    if not sections <= {"1", "2", "3"}:
        p.error("--sections takes a comma-separated subset of 1,2,3")
    _limits = limit_threads(args.threads)  # kept alive: the limit holds for the run

    from core.data import load_dataset, prepare
    from core.losses import LOSSES

    names = list(LOSSES) if args.losses == "all" else [s.strip() for s in args.losses.split(",") if s.strip()]
    for n in names:
        if n not in LOSSES:
            p.error(f"unknown loss {n!r}; choose from {', '.join(LOSSES)}")
    if not args.data.is_dir():
        p.error(f"no MNIST folder at {args.data}")
    ds = load_dataset(args.data)
    meta = machine_info()
    meta["data"] = f"{args.data} (per-sample standardization)"
    meta["h"] = H
    meta["repeats"] = f"{args.repeats} (black box: {args.bb_repeats}); medians reported"
    load_before = meta.pop("loadavg_1m")

    rows = []
    if "1" in sections:
        p1000 = prepare(ds, 1000, 10, mode="standardize")
        rows += bench_full_check(p1000.X_train, p1000.y_train, names, args.repeats, args.bb_repeats)
        del p1000
    if "2" in sections:
        p5000 = prepare(ds, 5000, 10, mode="standardize")
        rows += bench_fast_5000(p5000.X_train, p5000.y_train, names, args.repeats)
        del p5000
    if "3" in sections:
        p60000 = prepare(ds, 60000, 10, mode="standardize")
        rows += bench_loss_60000(p60000.X_train, p60000.y_train, names, args.repeats)

    meta["loadavg_1m (start, end)"] = f"{load_before}, {machine_info()['loadavg_1m']}"
    report(rows, "bench_gradcheck: gradient checker and losses on MNIST", args.json, meta=meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
