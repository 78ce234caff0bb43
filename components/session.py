"""Glue between the page and ``core``: control values in, core calls, compact store payloads out.

Nothing here imports dash. The functions are pure (same input, same output)
apart from the read-only, bounded caches of loaded and prepared data, so the
callbacks that call them stay thin and every piece is testable as a plain
function.

Per-session state never lives here: it travels in ``dcc.Store`` payloads made
by :func:`encode_weights` / :func:`history_payload`. The data folder comes from
the environment variable ``LINCLS_DATA`` (set by ``app.main()`` from ``--data``
before the server starts, or by whoever starts gunicorn / a Celery worker), read
at call time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import numbers
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from components.guard import InputError
from core import data as core_data
from core.losses import LOSSES, REG_MODES, loss_parts
from core.metrics import accuracy

# -- slider scales ----------------------------------------------------------
# Log-scale sliders carry log10 of the value; the regularization slider's
# leftmost stop means exactly zero.
REG_ZERO = -7.0
REG_RANGE = (REG_ZERO, 2.0)
LR_RANGE = (-6.0, 1.0)
NICE_SIZES = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
GC_SAMPLE_SIZES = (5, 10, 20, 50, 100, 200, 500)
BATCH_SIZES = (1, 10, 50, 100, 200, 500, 1000)
EPOCH_CHOICES = (1, 2, 5, 10, 20, 50, 100)
VAL_MAX = 1_000  # validation samples held out of the training split (at most a tenth of it)
SAMPLING = "first"  # the notebook's: the first N images (deterministic, no seed)

# What the controls can send (anything else is rejected; see the parsing helpers below).
SIZE_POSITION_MAX = 7.0  # a sample-size slider at 10 million; the data layer then checks the dataset has them
DELTA_RANGE = (0.0, 5.0)
H_MAX = 1.0  # the gradient check's step h lies in (0, H_MAX]
SUBSET_MAX = 1_000_000  # entries of W a random check may ask for (it clips to the size of W)
SEED_MAX = 2**32 - 1
GC_METHODS = ("central", "forward")
GC_ENTRY_MODES = ("all", "random")
PACES = ("watch", "fast")

DEFAULTS = dict(
    dataset=core_data.BUILTIN,
    n_train=5_000,
    n_test=1_000,
    preprocessing="standardize",
    loss="softmax",
    delta=1.0,
    reg=1e-3,
    reg_mode="half",
    reg_bias=True,
    init="gaussian",
    seed=0,
    lr=1e-3,
    batch_size=200,
    epochs=5,
    pace="watch",
    gc_samples=50,
    gc_h=1e-5,
    gc_method="central",
    gc_entries="all",
    gc_subset=200,
    gc_bug="",
)


def reg_from_slider(v) -> float:
    """Regularization strength for a slider position (log10; the leftmost stop is 0)."""
    v = _number(v, "regularization", *REG_RANGE)
    return 0.0 if v <= REG_ZERO + 1e-9 else float(10.0**v)


def slider_from_reg(reg: float) -> float:
    return REG_ZERO if reg <= 0 else float(np.log10(reg))


def pow10(v, what="value", lo: float | None = None, hi: float | None = None) -> float:
    """10 to the slider position ``v`` (which must lie in ``[lo, hi]`` when given)."""
    return float(10.0 ** _number(v, what, lo, hi))


def size_from_slider(v, what="sample size") -> int:
    """Sample sizes are placed on the slider by log10: 3.699 -> 5,000 (at least 1, at most 10 million)."""
    return int(round(10.0 ** _number(v, what, 0.0, SIZE_POSITION_MAX)))


def size_marks(pool: int) -> list[int]:
    """The selectable sizes for a pool of ``pool`` samples: nice round sizes below it, then all of it."""
    sizes = [n for n in NICE_SIZES if n * 1.4 < pool]  # not too close to the last stop: labels would collide
    if pool >= 1:
        sizes.append(int(pool))
    return sizes


def short_count(n: int) -> str:
    """1000 -> "1k", 9000 -> "9k", 500 -> "500", 12345 -> "12k"."""
    if n >= 1000:
        k = n / 1000
        return f"{k:.0f}k" if k >= 10 or k == int(k) else f"{k:.1f}k"
    return str(n)


def fmt_sci(x: float) -> str:
    """Short human form of a positive number: 0.001 -> "1e-3", 0.0316 -> "3.2e-2", 2 -> "2"."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "–")
    if 0.01 <= abs(x) < 1000:
        return f"{x:.3g}"
    m, e = f"{x:.1e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


# -- parsing: every value from the page is untrusted ------------------------------
# (a client can post any JSON: the wrong type, NaN, 1e400, a value not on offer).
# Each helper returns the typed value or raises InputError naming the control;
# components/guard.py shows that on the page.


def _shown(v, limit: int = 40) -> str:
    """A client value inside a message: its repr, cut short (it may be anything)."""
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(v, what: str, lo: float | None = None, hi: float | None = None) -> float:
    """``v`` as a finite float, within ``[lo, hi]`` when given."""
    if v is None or isinstance(v, bool):
        raise InputError(what, f"{what}: enter a number")
    if not isinstance(v, (numbers.Real, str)) or (isinstance(v, str) and len(v) > 40):
        raise InputError(what, f"{what}: {_shown(v)} is not a number")
    try:
        x = float(v)
    except (ValueError, OverflowError):
        raise InputError(what, f"{what}: {_shown(v)} is not a number") from None
    if not math.isfinite(x):
        raise InputError(what, f"{what}: {_shown(v)} is not a finite number")
    if lo is not None and hi is not None and not lo <= x <= hi:
        raise InputError(what, f"{what} must be between {lo:g} and {hi:g}, not {_shown(v)}")
    if lo is not None and x < lo:
        raise InputError(what, f"{what} must be at least {lo:g}, not {_shown(v)}")
    if hi is not None and x > hi:
        raise InputError(what, f"{what} must be at most {hi:g}, not {_shown(v)}")
    return x


def _int(v, what: str, lo: int, hi: int | None = None) -> int:
    """``v`` as a whole number ``>= lo`` (and ``<= hi`` when given)."""
    x = _number(v, what)
    if x != int(x):
        raise InputError(what, f"{what}: {_shown(v)} is not a whole number")
    if x < lo:
        raise InputError(what, f"{what} must be at least {lo}, not {int(x)}")
    if hi is not None and x > hi:
        raise InputError(what, f"{what} must be at most {hi:,}, not {_shown(v)}")
    return int(x)


def _choice(v, options, what: str) -> str:
    """``v`` if it is one of the (string) ``options`` the control offers."""
    if isinstance(v, str) and v in options:
        return v
    raise InputError(what, f"{what}: {_shown(v)} is not one of {', '.join(map(str, options))}")


def _stop(v, choices, what: str) -> int:
    """The size a stop of a log-placed choice slider stands for; any other position is rejected."""
    x = _number(v, what)
    for c in choices:
        if abs(x - math.log10(c)) < 1e-6:
            return int(c)
    stops = ", ".join(short_count(c) for c in choices)
    raise InputError(what, f"{what}: {_shown(v)} is not one of the slider's stops ({stops})")


# -- choices as typed values ------------------------------------------------


@dataclass(frozen=True)
class DataChoice:
    dataset: str
    n_train: int
    n_test: int
    preprocessing: str


@dataclass(frozen=True)
class LossChoice:
    loss: str
    reg: float
    reg_mode: str = "half"
    reg_bias: bool = True
    delta: float = 1.0

    @property
    def options(self) -> dict:
        return dict(delta=self.delta, reg_mode=self.reg_mode, reg_bias=self.reg_bias)

    @property
    def signature(self) -> list:
        return [self.loss, self.reg, self.reg_mode, self.reg_bias, self.delta]


@dataclass(frozen=True)
class CheckChoice:
    n_samples: int = 50
    h: float = 1e-5
    method: str = "central"
    entries: str | int = "all"
    bug: str | None = None


def dataset_key(dataset) -> str:
    """A dataset key as sent by the page: a short string (the data layer then
    accepts only the keys it offers; a data folder is never named from the page)."""
    if not dataset:
        raise InputError("dataset", "choose a dataset")
    if not isinstance(dataset, str) or len(dataset) > 200:
        raise InputError("dataset", f"dataset: {_shown(dataset)} is not one of the datasets offered")
    return dataset


def data_choice(dataset, train_pos, test_pos, preprocessing) -> DataChoice:
    return DataChoice(
        dataset_key(dataset),
        size_from_slider(train_pos, "training samples"),
        size_from_slider(test_pos, "test samples"),
        _choice(preprocessing, core_data.PREPROCESSING, "preprocessing"),
    )


def reg_bias_choice(reg_bias) -> bool:
    """The "include bias" checklist ([] or ["bias"]; a plain boolean is accepted too)."""
    if isinstance(reg_bias, bool):
        return reg_bias
    if isinstance(reg_bias, list) and len(reg_bias) <= 1 and all(v == "bias" for v in reg_bias):
        return bool(reg_bias)
    raise InputError("include bias", f"include bias: {_shown(reg_bias)} is not [] or ['bias']")


def loss_choice(loss, reg_pos, reg_mode, reg_bias, delta) -> LossChoice:
    if not (isinstance(loss, str) and loss in LOSSES):
        raise InputError("loss", f"unknown loss {_shown(loss)}; choose one of {', '.join(LOSSES)}")
    if not (isinstance(reg_mode, str) and reg_mode in REG_MODES):
        raise InputError("penalty", f"unknown regularization convention (penalty) {_shown(reg_mode)}")
    d = _number(delta, "margin Δ", *DELTA_RANGE)
    return LossChoice(loss, reg_from_slider(reg_pos), reg_mode, reg_bias_choice(reg_bias), d)


def check_choice(samples_pos, h, method, entries, subset, bug=None) -> CheckChoice:
    from core.gradcheck import BUGS

    n = _stop(samples_pos, GC_SAMPLE_SIZES, "gradient check samples")
    hv = _number(h, "step h")
    if not 0 < hv <= H_MAX:
        raise InputError("step h", f"step h must be a positive number such as 1e-5 (at most {H_MAX:g}), not {_shown(h)}")
    method = _choice(method, GC_METHODS, "differences")
    if _choice(entries, GC_ENTRY_MODES, "entries") == "all":
        ent: str | int = "all"
    else:
        ent = _int(subset, "number of entries to check", 1, SUBSET_MAX)
    if bug not in (None, ""):
        bug = _choice(bug, tuple(BUGS), "planted bug")
    return CheckChoice(n, hv, method, ent, bug or None)


# -- data (read-only caches) -------------------------------------------------


def data_dir() -> str | None:
    """The extra data folder (``--data`` / ``$LINCLS_DATA``), read at call time."""
    return os.environ.get(core_data.ENV_DATA) or None


def dataset_options() -> tuple[list[dict], str | None]:
    """Dropdown options for every dataset the data layer finds, and an error
    message when the configured data folder is unusable (the built-in sample is
    then still offered)."""
    error = None
    try:
        avail = core_data.available_datasets(data_dir())
    except ValueError as exc:
        error = f"Data folder not used: {exc}"
        avail = {core_data.BUILTIN: None}  # what needs no folder: the built-in sample and Fashion-MNIST
        if core_data.FASHION_MNIST_DIR.is_dir():
            avail[core_data.FASHION_MNIST] = str(core_data.FASHION_MNIST_DIR)
    options = []
    for key in avail:
        try:
            label = "MNIST sample (built in)" if key == core_data.BUILTIN else core_data.dataset_label(key)
        except ValueError:
            label = key
        options.append({"label": label, "value": key})
    return options, error


def load_dataset(key: str) -> core_data.Dataset:
    return core_data.load_by_key(key, data_dir())


def pools(key: str) -> tuple[int, int, int]:
    """(training pool, validation size, test pool) of a dataset: how many samples each slider may take."""
    ds = load_dataset(key)
    n_all = int(ds.y_train.shape[0])
    n_val = min(VAL_MAX, n_all // 10)
    return n_all - n_val, n_val, int(ds.y_test.shape[0])


@functools.lru_cache(maxsize=6)
def _prepared(key: str, folder: str | None, n_train: int, n_test: int, preprocessing: str):
    ds = core_data.load_by_key(key, folder)
    n_all = int(ds.y_train.shape[0])
    n_val = min(VAL_MAX, n_all // 10, max(0, n_all - n_train))
    if n_train > n_all:
        raise ValueError(f"{n_train:,} training samples requested; {ds.name} has {n_all:,}")
    return core_data.prepare(ds, n_train, n_test, n_val, preprocessing, SAMPLING, 0)


def prepared(choice: DataChoice):
    """The design matrices for a data choice (cached; the arrays are shared: never modify them)."""
    return _prepared(choice.dataset, data_dir(), choice.n_train, choice.n_test, choice.preprocessing)


# -- weights and history in stores ------------------------------------------


_F32_MAX = float(np.finfo(np.float32).max)


def encode_weights(W: np.ndarray, **meta) -> dict:
    """A JSON-safe, compact store payload for W: base64 of float32 bytes with its
    shape (float64 when some weight is beyond float32's range, as after a
    divergence)."""
    W = np.asarray(W, dtype=np.float64)
    wide = bool(np.isfinite(W).all() and W.size and np.abs(W).max() > _F32_MAX)
    arr = np.ascontiguousarray(W, dtype="<f8" if wide else "<f4")
    return {
        "shape": list(arr.shape),
        "dtype": "float64" if wide else "float32",
        "b64": base64.b64encode(arr.tobytes()).decode("ascii"),
        **meta,
    }


MAX_WEIGHTS = 10_000_000  # entries of a W the stores may carry ((D+1)·C; MNIST has 7,850)


def _bad_weights(detail: str) -> InputError:
    return InputError("weights", f"weights: the stored weights are malformed ({detail}); press Reset weights")


def decode_weights(payload: dict | None) -> np.ndarray | None:
    """W (float64) from :func:`encode_weights`' payload, or None for an empty store.

    The payload comes back from the page, so its shape, dtype and length are
    checked before anything is decoded or allocated (InputError otherwise)."""
    if not payload:
        return None
    if not isinstance(payload, dict):
        raise _bad_weights("not an object")
    if "b64" not in payload:
        return None
    shape, dtype, b64 = payload.get("shape"), payload.get("dtype", "float32"), payload["b64"]
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
        and shape[0] * shape[1] <= MAX_WEIGHTS
    ):
        raise _bad_weights(f"shape {_shown(shape)}")
    if dtype not in ("float32", "float64"):
        raise _bad_weights(f"dtype {_shown(dtype)}")
    nbytes = shape[0] * shape[1] * (8 if dtype == "float64" else 4)
    if not isinstance(b64, str) or len(b64) != 4 * -(-nbytes // 3):
        raise _bad_weights("length does not match the shape")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_weights("not base64") from None
    W = np.frombuffer(raw, dtype="<f8" if dtype == "float64" else "<f4").astype(np.float64)
    return W.reshape(shape)


def weights_fit(payload: dict | None, dataset: str, shape: tuple[int, int]) -> bool:
    """Does the stored W belong to this dataset and have this (D+1, C) shape?"""
    return (
        isinstance(payload, dict)
        and payload.get("dataset") == dataset
        and isinstance(payload.get("shape"), list)
        and tuple(payload["shape"]) == tuple(shape)
    )


def initial_weights(dataset: str, init: str, seed) -> dict:
    """The store payload of a freshly initialized W for a dataset."""
    from core.train import INITS, init_weights

    dataset = dataset_key(dataset)
    init = _choice(init, INITS, "initial weights")
    s = _int(seed, "seed", 0, SEED_MAX)
    ds = load_dataset(dataset)
    W = init_weights(ds.n_features, ds.n_classes, init, s)
    return encode_weights(W, dataset=dataset, origin=f"{init} init, seed {s}", run=0, step=0)


HISTORY_KEYS = ("step", "epoch", "lr", "loss", "data_loss", "reg_loss", "train_acc", "val_acc")
HISTORY_MAX_POINTS = 800


def _compact(values) -> list:
    """Five significant digits: plenty for a curve, a third of the JSON."""
    out = []
    for v in values:
        v = float(v)
        out.append(None if not math.isfinite(v) else float(f"{v:.5g}"))
    return out


def history_payload(records, sig: list, previous: dict | None = None) -> dict:
    """The history store payload for training ``records`` (Progress-like
    objects or dicts with :data:`HISTORY_KEYS`), appended to ``previous`` when
    that history was recorded under the same objective ``sig``; steps and epochs
    continue from it. Long histories are thinned to about
    :data:`HISTORY_MAX_POINTS` points (the last point is always kept)."""
    cols: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    step0 = epoch0 = 0.0
    if previous and previous.get("sig") == sig and previous.get("step"):
        for k in HISTORY_KEYS:
            cols[k] = list(previous.get(k) or [])
        step0 = float(cols["step"][-1])
        epoch0 = float(cols["epoch"][-1] or 0.0)
    new: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    for r in records:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k))
        for k in HISTORY_KEYS:
            new[k].append(get(k))
    new["step"] = [int(s + step0) for s in new["step"]]
    new["epoch"] = [e + epoch0 for e in new["epoch"]]
    for k in HISTORY_KEYS:
        cols[k].extend(new[k] if k == "step" else _compact(new[k]))
    n = len(cols["step"])
    if n > HISTORY_MAX_POINTS:
        keep = np.unique(np.r_[np.linspace(0, n - 1, HISTORY_MAX_POINTS).round().astype(int), n - 1])
        cols = {k: [v[i] for i in keep] for k, v in cols.items()}
    return {"sig": sig, **cols}


def _real_or_none(v) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)))


def check_history(payload, what: str = "history") -> dict | None:
    """A history payload as it comes back from the page (None for none): a
    ``sig`` list of plain values and :data:`HISTORY_KEYS` columns of numbers
    (or None) of one length, at most twice :data:`HISTORY_MAX_POINTS`."""
    if not payload:
        return None
    bad = InputError(what, f"{what}: the stored training history is malformed; press Reset weights")
    if not isinstance(payload, dict):
        raise bad
    sig = payload.get("sig")
    if sig is not None and not (
        isinstance(sig, list)
        and len(sig) <= 32
        and all(_real_or_none(v) or isinstance(v, (str, bool, np.bool_)) for v in sig)
    ):
        raise bad
    lengths = set()
    for k in HISTORY_KEYS:
        col = payload.get(k) or []
        if not isinstance(col, list) or len(col) > 2 * HISTORY_MAX_POINTS or not all(map(_real_or_none, col)):
            raise bad
        lengths.add(len(col))
    if len(lengths) > 1:
        raise bad
    return payload


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**12


def check_snapshot(snap, what: str = "training snapshot") -> dict | None:
    """A live/result snapshot (``components.training.snapshot``) from the page, or None."""
    if not snap:
        return None
    if not (
        isinstance(snap, dict)
        and _count(snap.get("run"))
        and _count(snap.get("step"))
        and isinstance(snap.get("dataset"), str)
        and isinstance(snap.get("weights"), dict)
    ):
        raise InputError(what, f"{what}: malformed; press Reset weights")
    check_history(snap.get("history"), what)
    return snap


def check_mark(mark, what: str = "committed run") -> dict | None:
    """``{"run", "step"}`` of the last committed snapshot, or None."""
    if not mark:
        return None
    if not (isinstance(mark, dict) and _count(mark.get("run", 0)) and _count(mark.get("step", 0))):
        raise InputError(what, f"{what}: malformed")
    return mark


_SESSION_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def session_id(store) -> str:
    """The page's session id (``{"id": uuid hex}``; it keys background jobs apart)."""
    sid = store.get("id") if isinstance(store, dict) else None
    if not (isinstance(sid, str) and _SESSION_ID.fullmatch(sid)):
        raise InputError("session", "session: this page's session id is missing or malformed; reload the page")
    return sid


def clicks(n, what: str = "button") -> int:
    """A button's n_clicks (None before the first click)."""
    return 0 if n is None else _int(n, what, 0, 10**9)


def history_arrays(payload: dict | None) -> dict[str, np.ndarray]:
    """Columns of a history payload as float arrays (None -> NaN); empty arrays for no history."""
    out = {}
    for k in HISTORY_KEYS:
        vals = (payload or {}).get(k) or []
        out[k] = np.array([np.nan if v is None else v for v in vals], dtype=float)
    return out


def objective_signature(data: DataChoice, loss: LossChoice) -> list:
    """What a loss curve means: the data and the objective (a new one starts a new history)."""
    return [data.dataset, data.n_train, data.preprocessing, *loss.signature]


# -- the fast path: loss, gradient, check -------------------------------------


@dataclass
class Analysis:
    """Everything the summary and gradient-check views show for one W."""

    loss: float
    data_loss: float
    reg_loss: float
    grad_norm: float
    train_acc: float
    test_acc: float
    n_train: int
    n_val: int
    n_test: int
    n_features: int
    n_classes: int
    check: object  # core.gradcheck.CheckResult
    check_samples: int
    seconds_loss: float
    seconds_check: float
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def analyze(prep, W: np.ndarray, loss: LossChoice, check: CheckChoice) -> Analysis:
    """Loss split, gradient norm and accuracies on the whole training set, and the
    gradient check on its first ``check.n_samples`` samples."""
    from core.gradcheck import check_gradient

    if W.shape != (prep.n_features + 1, prep.n_classes):
        raise ValueError(
            f"the weights have shape {W.shape}, the data needs {(prep.n_features + 1, prep.n_classes)}; press Reset"
        )
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):  # huge weights after a divergence give inf, shown as such
        parts = loss_parts(loss.loss, W, prep.X_train, prep.y_train, loss.reg, **loss.options)
        grad_norm = float(np.linalg.norm(parts.dW))
    train_acc = accuracy(W, prep.X_train, prep.y_train)
    test_acc = accuracy(W, prep.X_test, prep.y_test) if prep.X_test.shape[0] else math.nan
    t1 = time.perf_counter()
    n = min(check.n_samples, prep.X_train.shape[0])
    with np.errstate(all="ignore"):
        result = check_gradient(
            loss.loss,
            W,
            prep.X_train[:n],
            prep.y_train[:n],
            loss.reg,
            h=check.h,
            method=check.method,
            entries=check.entries,
            seed=0,
            bug=check.bug,
            **loss.options,
        )
    t2 = time.perf_counter()
    return Analysis(
        loss=parts.loss,
        data_loss=parts.data_loss,
        reg_loss=parts.reg_loss,
        grad_norm=grad_norm,
        train_acc=train_acc,
        test_acc=test_acc,
        n_train=int(prep.X_train.shape[0]),
        n_val=int(prep.X_val.shape[0]),
        n_test=int(prep.X_test.shape[0]),
        n_features=int(prep.n_features),
        n_classes=int(prep.n_classes),
        check=result,
        check_samples=n,
        seconds_loss=t1 - t0,
        seconds_check=t2 - t1,
        seconds=t2 - t0,
    )
