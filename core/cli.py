"""Command line: ``python -m core check|train|sweep|datasets|download``.

Every command runs on the built-in MNIST sample unless ``--data DIR`` (or the
environment variable ``LINCLS_DATA``) names a folder of IDX files or a ``.npz``.
A bad argument or a bad data file prints one line to stderr and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument or bad input: reported on one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument on one line instead of usage + error."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message} (see --help)")


# --------------------------------------------------------------------------
# argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _float(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise argparse.ArgumentTypeError(f"expected a number {'>' if lo_open else '>='} {lo:g}, got {text}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"expected a number <= {hi:g}, got {text}")
        return value

    return parse


def _entries(text: str):
    if text == "all":
        return "all"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'all' or a number of entries > 0, got {text!r}") from None


# --------------------------------------------------------------------------
# shared pieces


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from core import data

    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder of IDX files (or a .npz); default: $LINCLS_DATA, else the built-in MNIST sample")
    p.add_argument("--preprocess", choices=data.PREPROCESSING, default="standardize",
                   help="standardize = per-sample (the notebook's featurenormal); center = subtract the mean image")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed for sampling and initialization")


def _add_loss_args(p: argparse.ArgumentParser) -> None:
    from core.losses import LOSSES, REG_MODES

    p.add_argument("--loss", choices=list(LOSSES), default="softmax")
    p.add_argument("--reg", type=_float(0.0), default=0.0, help="regularization strength (>= 0)")
    p.add_argument("--reg-mode", choices=REG_MODES, default="half",
                   help="half: 1/2*reg*||W||^2 (the notebook's); full: reg*||W||^2 (CS231n's)")
    p.add_argument("--no-reg-bias", action="store_true", help="leave the bias row out of the penalty")
    p.add_argument("--delta", type=_float(0.0, lo_open=True), default=1.0, help="margin of the hinge losses")


def _loss_options(args) -> dict:
    return {"delta": args.delta, "reg_mode": args.reg_mode, "reg_bias": not args.no_reg_bias}


def _load(args):
    from core import data

    folder = args.data or os.environ.get("LINCLS_DATA") or None
    return data.load_dataset(folder) if folder else data.load_builtin()


def _emit(summary: dict, as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(summary, allow_nan=False, default=float))
    else:
        print("\n".join(lines))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# --------------------------------------------------------------------------
# commands


def cmd_check(args) -> int:
    from core import data, gradcheck, train

    ds = _load(args)
    prep = data.prepare(ds, n_train=args.n, n_test=0, mode=args.preprocess, seed=args.seed)
    W = train.init_weights(prep.X_train.shape[1], len(prep.class_names), args.init, args.seed)
    result = gradcheck.check_gradient(
        args.loss, W, prep.X_train, prep.y_train, args.reg, h=args.h, method=args.method,
        entries=args.entries, seed=args.seed, part=args.part, bug=args.bug, fast=not args.black_box,
        **_loss_options(args),
    )
    s = result.summary()
    summary = {
        "dataset": ds.name, "loss": args.loss, "n": args.n, "reg": args.reg, "part": args.part,
        "bug": args.bug, "h": args.h, "method": args.method, "black_box": args.black_box,
        "global_rel_error": _finite(result.global_rel_error),
        "max_rel_error": _finite(result.max_rel_error),
        "median_rel_error": _finite(result.median_rel_error),
        "verdict": result.verdict,
        "kink_entries": int(result.n_kink_entries),
        "entries_checked": int(result.n_checked),
        "seconds": round(float(s["seconds"]), 6),
    }
    lines = [
        f"gradient check: {args.loss} loss on {args.n} samples of {ds.name}, reg={args.reg:g}, "
        f"{args.method} differences, h={args.h:g}, {'black-box loop' if args.black_box else 'fast exact path'}"
        + (f", injected bug: {args.bug}" if args.bug else ""),
        f"  global relative error ||a-n||/||a+n||  {result.global_rel_error:.3e}",
        f"  max relative error                     {result.max_rel_error:.3e}",
        f"  median relative error                  {result.median_rel_error:.3e}",
        f"  entries checked                        {result.n_checked}",
        f"  entries straddling a kink              {result.n_kink_entries}",
        f"  seconds                                {s['seconds']:.3f}",
        f"  verdict: {result.verdict} - {result.verdict_text}",
    ]
    _emit(summary, args.json, lines)
    return 0


def cmd_sweep(args) -> int:
    from core import data, gradcheck, train

    ds = _load(args)
    prep = data.prepare(ds, n_train=args.n, n_test=0, mode=args.preprocess, seed=args.seed)
    W = train.init_weights(prep.X_train.shape[1], len(prep.class_names), args.init, args.seed)
    table = gradcheck.step_sweep(args.loss, W, prep.X_train, prep.y_train, args.reg,
                                 entries=args.entries, seed=args.seed, **_loss_options(args))
    if args.json:
        print(table.to_json(orient="records"))
    else:
        wide = table.pivot(index="h", columns="method", values="global_rel_error")
        print(f"step-size sweep: {args.loss} on {args.n} samples; global relative error against h")
        print(wide.to_string(float_format=lambda v: f"{v:.2e}"))
    return 0


def cmd_train(args) -> int:
    from core import data, metrics, train

    ds = _load(args)
    prep = data.prepare(ds, n_train=args.n_train, n_test=args.n_test, n_val=args.n_val,
                        mode=args.preprocess, sampling=args.sampling, seed=args.seed)
    config = train.TrainConfig(
        loss=args.loss, reg=args.reg, reg_mode=args.reg_mode, reg_bias=not args.no_reg_bias,
        delta=args.delta, lr=args.lr, momentum=args.momentum, batch_size=args.batch,
        epochs=args.epochs, lr_decay=args.lr_decay, decay_every=args.decay_every, schedule=args.schedule,
        lr_final=args.lr_final, average=args.average, init=args.init, seed=args.seed,
        log_every=args.log_every,
    )
    config.validate()
    X_val = prep.X_val if len(prep.y_val) else None
    y_val = prep.y_val if len(prep.y_val) else None

    def on_progress(p):
        if not args.json:
            print(f"step {p.step:>6}/{p.n_steps}  epoch {p.epoch:6.2f}  loss {p.loss:9.4f}  "
                  f"train acc {p.train_acc:6.2%}  val acc {p.val_acc:6.2%}  {p.seconds:7.2f}s", flush=True)

    result = train.train(prep.X_train, prep.y_train, config, X_val=X_val, y_val=y_val, on_progress=on_progress)
    last = result.history.iloc[-1] if len(result.history) else None
    summary = {
        "dataset": ds.name, "loss": args.loss, "n_train": args.n_train, "n_val": args.n_val, "n_test": args.n_test,
        "train_accuracy": metrics.accuracy(result.W, prep.X_train, prep.y_train),
        "val_accuracy": metrics.accuracy(result.W, prep.X_val, prep.y_val) if len(prep.y_val) else None,
        "test_accuracy": metrics.accuracy(result.W, prep.X_test, prep.y_test) if len(prep.y_test) else None,
        "final_loss": _finite(float(last["loss"])) if last is not None else None,
        "steps": int(last["step"]) if last is not None else 0,
        "seconds": round(result.seconds, 3),
        "stopped": result.stopped,
    }
    if args.save:
        np.savez(args.save, W=result.W, class_names=np.array(prep.class_names))
    def pct(v):
        return "-" if v is None else f"{v:.2%}"

    lines = [
        f"{result.stopped}: {summary['steps']} steps in {summary['seconds']:.2f} s",
        f"  final loss      {summary['final_loss']}",
        f"  train accuracy  {pct(summary['train_accuracy'])}",
        f"  val accuracy    {pct(summary['val_accuracy'])}",
        f"  test accuracy   {pct(summary['test_accuracy'])}",
    ] + ([f"  weights saved to {args.save}"] if args.save else [])
    _emit(summary, args.json, lines)
    return 1 if result.stopped.startswith("diverged") else 0


def cmd_datasets(args) -> int:
    from core import data

    found = data.available_datasets(args.data or os.environ.get("LINCLS_DATA"))
    rows = [{"key": k, "label": data.dataset_label(k), "path": v} for k, v in found.items()]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['key']:<24} {r['label']:<28} {r['path'] or '(built in)'}")
    return 0


def cmd_download(args) -> int:
    from core import data

    def progress(name, done, total):
        if total:
            print(f"\r{name}: {done / total:6.1%}", end="", file=sys.stderr, flush=True)

    paths = data.download(args.name, args.dir, progress=None if args.quiet else progress)
    if not args.quiet:
        print(file=sys.stderr)
    for p in paths:
        print(p)
    return 0


# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from core import gradcheck, train

    parser = _Parser(prog="python -m core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check", help="check the analytic gradient against finite differences")
    _add_loss_args(p)
    _add_data_args(p)
    p.add_argument("--n", type=_positive_int, default=10, help="number of training samples (first N)")
    p.add_argument("--h", type=_float(0.0, 1.0, lo_open=True), default=1e-5, help="finite-difference step")
    p.add_argument("--method", choices=gradcheck.METHODS, default="central")
    p.add_argument("--entries", type=_entries, default="all", help="'all' or how many random entries")
    p.add_argument("--part", choices=("total", "data", "reg"), default="total")
    p.add_argument("--init", choices=train.INITS, default="uniform", help="W at which to check (uniform: the notebook's)")
    p.add_argument("--bug", choices=list(gradcheck.BUGS), default=None, help="inject a classic gradient mistake")
    p.add_argument("--black-box", action="store_true",
                   help="one full loss evaluation per entry, as the notebook did (slow; shows its round-off)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("sweep", help="relative error of the check against the step size h")
    _add_loss_args(p)
    _add_data_args(p)
    p.add_argument("--n", type=_positive_int, default=10)
    p.add_argument("--entries", type=_entries, default="all")
    p.add_argument("--init", choices=train.INITS, default="uniform")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sweep)

    d = train.TrainConfig()
    p = sub.add_parser("train", help="train with minibatch SGD and report accuracies")
    _add_loss_args(p)
    _add_data_args(p)
    p.set_defaults(reg=d.reg)
    p.add_argument("--lr", type=_float(0.0, lo_open=True), default=d.lr, help="learning rate")
    p.add_argument("--momentum", type=_float(0.0, 0.999), default=d.momentum)
    p.add_argument("--batch", type=_positive_int, default=d.batch_size, help="minibatch size")
    p.add_argument("--epochs", type=_float(0.0, lo_open=True), default=d.epochs)
    p.add_argument("--lr-decay", type=_float(0.0, 1.0, lo_open=True), default=d.lr_decay,
                   help="step schedule: multiply the learning rate by this every --decay-every epochs")
    p.add_argument("--decay-every", type=_float(0.0, lo_open=True), default=d.decay_every, metavar="EPOCHS",
                   help="step: epochs between decays; inverse: epochs until the rate has halved")
    p.add_argument("--schedule", choices=train.SCHEDULES, default=d.schedule,
                   help="learning-rate schedule: step decay, inverse (lr/(1+t/t0)) or cosine")
    p.add_argument("--lr-final", type=_float(0.0, 1.0), default=d.lr_final,
                   help="cosine: the last step's rate as a fraction of --lr")
    p.add_argument("--average", type=_float(0.0), default=d.average, metavar="EPOCHS",
                   help="report the mean of the weights over the last EPOCHS epochs (Polyak-Ruppert; 0: off)")
    p.add_argument("--init", choices=train.INITS, default=d.init)
    p.add_argument("--n-train", type=_positive_int, default=9000)
    p.add_argument("--n-val", type=_nonneg_int, default=1000)
    p.add_argument("--n-test", type=_nonneg_int, default=2000)
    p.add_argument("--sampling", choices=("first", "stratified"), default="first")
    p.add_argument("--log-every", type=_positive_int, default=d.log_every, help="steps between progress lines")
    p.add_argument("--save", metavar="FILE.npz", default=None, help="save the learned W")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("datasets", help="list the datasets the app can use")
    p.add_argument("--data", metavar="DIR", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("download", help="download MNIST or Fashion-MNIST into a folder (needs internet)")
    p.add_argument("name", choices=("mnist", "fashion-mnist"))
    p.add_argument("dir", help="destination folder (created if missing)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
