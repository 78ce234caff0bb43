"""Data layer: loading, validating, sampling and preprocessing image datasets.

Pure numpy + standard library (no dash/plotly). Everything the app trains on
comes through here:

* ``load_builtin()`` -- the MNIST sample committed in ``core/sample_data``
  (first 10,000 training / first 2,000 test images, IDX gzip format).
* ``load_dataset(path)`` -- a folder with the four IDX files (gzipped or not,
  any image size, 2..100 classes, optional ``classes.txt``) or a ``.npz`` with
  ``x_train, y_train, x_test, y_test`` (the Keras ``mnist.npz`` layout).
* ``available_datasets()`` / ``load_by_key()`` -- what the UI offers: the
  built-in sample, Debian's Fashion-MNIST when installed, and ``--data DIR`` /
  ``$LINCLS_DATA``.
* ``prepare()`` -- choose train/validation/test rows (first-N or seeded
  stratified) and preprocess them to float64 design matrices.
* ``download()`` -- fetch MNIST / Fashion-MNIST from public mirrors into a
  folder, verifying checksums, never leaving a half-written file behind.

Every malformed input raises ``ValueError`` whose message names the file and
the field at fault; memory stays bounded on bad files (sizes are checked before
anything is allocated and compressed streams are inflated with a bound).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import math
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BUILTIN",
    "DOWNLOADS",
    "ENV_DATA",
    "FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "MAX_ARRAY_BYTES",
    "PREPROCESSING",
    "SAMPLE_DIR",
    "SAMPLING",
    "ChecksumError",
    "Dataset",
    "DownloadError",
    "KnownFile",
    "Prepared",
    "available_datasets",
    "clear_cache",
    "dataset_label",
    "deskew",
    "download",
    "load_builtin",
    "load_by_key",
    "load_dataset",
    "prepare",
    "preprocess",
    "read_idx",
    "select_indices",
    "verify_download",
    "write_idx",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

BUILTIN = "mnist-sample"
FASHION_MNIST = "fashion-mnist"
PREPROCESSING = ("standardize", "center", "scale", "deskew", "none")
SAMPLING = ("first", "stratified")

#: Environment variable naming a data folder (same meaning as ``--data``).
ENV_DATA = "LINCLS_DATA"

#: The committed MNIST sample (IDX gzip files).
SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data" / "mnist-sample"

#: Where Debian's ``dataset-fashion-mnist`` package installs its four files
#: (``train-images-idx3-ubyte.gz`` etc., the standard names, gzipped).
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

MIN_CLASSES = 2
MAX_CLASSES = 100

#: Largest array (in bytes) any loader will allocate; files declaring more are
#: rejected before anything is read. Module-level so tests can lower it.
MAX_ARRAY_BYTES = 1 << 30

#: Upper bound on the size of a ``classes.txt`` file.
MAX_CLASSES_FILE_BYTES = 64 * 1024

_CHUNK = 1 << 20

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}

# "train-images-idx3-ubyte", "t10k-labels.idx1-ubyte.gz",
# "emnist-digits-test-images-idx3-ubyte.gz", ...
_IDX_NAME_RE = re.compile(
    r"(?:^|[-_.])(train|t10k|test)[-_.](images|labels)[-_.]idx(\d)[-_.]ubyte(\.gz)?$",
    re.IGNORECASE,
)
_ROLES = {
    ("train", "images"): "x_train",
    ("train", "labels"): "y_train",
    ("test", "images"): "x_test",
    ("test", "labels"): "y_test",
}
_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _fail(where: object, field: str, detail: str) -> ValueError:
    """A ValueError naming the file (``where``) and the field at fault."""
    return ValueError(f"{where}: {field}: {detail}")


# --------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset. Arrays from the loaders are read-only (they are cached
    and shared); labels are int64 in ``0..n_classes-1``."""

    name: str
    x_train: np.ndarray  # (N, H, W), native dtype (uint8 for IDX ubyte)
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        for key in _ARRAY_KEYS:
            if not isinstance(getattr(self, key), np.ndarray):
                raise TypeError(f"Dataset.{key} must be a numpy array")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 3:
                raise _fail(self.name, f"x_{split}", f"expected (N, H, W) images, got shape {x.shape}")
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise _fail(self.name, f"y_{split}", f"expected ({x.shape[0]},) labels, got shape {y.shape}")
            if y.dtype != np.int64:
                raise _fail(self.name, f"y_{split}", f"labels must be int64, got {y.dtype}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise _fail(
                self.name, "image shape", f"train {self.x_train.shape[1:]} != test {self.x_test.shape[1:]}"
            )
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        h, w = self.image_shape
        return h * w


@dataclass(frozen=True, eq=False)
class Prepared:
    """Design matrices ready for a linear classifier (no bias column)."""

    X_train: np.ndarray  # (n_train, D) float64
    y_train: np.ndarray  # (n_train,) int64
    X_val: np.ndarray  # (n_val, D), may have 0 rows
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    train_index: np.ndarray  # rows of Dataset.x_train
    val_index: np.ndarray  # rows of Dataset.x_train (disjoint from train_index)
    test_index: np.ndarray  # rows of Dataset.x_test
    mode: str
    sampling: str = "first"
    seed: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


# --------------------------------------------------------------------------
# Low-level readers
# --------------------------------------------------------------------------


def _require_regular_file(path: Path, what: str = "file") -> os.stat_result:
    """stat() (following symlinks) and insist on a regular file: a FIFO, a
    device such as /dev/zero, or a directory is never opened."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _fail(path, what, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, what, "not a regular file")
    return st


def _read_bounded(stream, nbytes: int) -> bytearray:
    """Read up to ``nbytes`` bytes in chunks; memory grows only with the data
    actually present, never with what a header claims."""
    buf = bytearray()
    while len(buf) < nbytes:
        chunk = stream.read(min(_CHUNK, nbytes - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _check_array_size(where: object, field: str, shape: Sequence[int], dtype: np.dtype) -> int:
    nbytes = math.prod(int(d) for d in shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise _fail(
            where,
            field,
            f"declares {nbytes:,} bytes of data (shape {tuple(shape)}), more than the {MAX_ARRAY_BYTES:,}-byte limit",
        )
    return nbytes


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip, detected by content) into a read-only
    array of native byte order. Raises ValueError naming the file and field."""
    path = Path(path)
    st = _require_regular_file(path)
    with open(path, "rb") as raw:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):  # pragma: no cover - race
            raise _fail(path, "file", "not a regular file")
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    return _read_idx_stream(gz, path, file_size=None)
            except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise _fail(path, "gzip stream", f"corrupt or truncated ({exc})") from None
        raw.seek(0)
        return _read_idx_stream(raw, path, file_size=st.st_size)


def _read_idx_stream(f, path: Path, file_size: int | None) -> np.ndarray:
    head = f.read(4)
    if len(head) < 4:
        raise _fail(path, "header", f"only {len(head)} bytes; an IDX file starts with a 4-byte magic number")
    if head[0] != 0 or head[1] != 0:
        raise _fail(
            path, "magic", f"first two bytes must be 0x0000, got 0x{head[:2].hex()} (not an IDX file)"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        raise _fail(
            path, "type byte", f"0x{code:02x} is not an IDX data type (expected one of 08 09 0b 0c 0d 0e)"
        )
    if ndim == 0:
        raise _fail(path, "ndim", "number of dimensions is 0")
    dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise _fail(path, "dimensions", f"header truncated: {ndim} dimensions need {4 * ndim} bytes")
    dims = struct.unpack(f">{ndim}I", dims_raw)
    dtype = _IDX_DTYPES[code]
    nbytes = _check_array_size(path, "dimensions", dims, dtype)
    header_len = 4 + 4 * ndim
    if file_size is not None:
        # Raw file: compare with its size before reading anything.
        have = file_size - header_len
        if have < nbytes:
            raise _fail(
                path,
                "dimensions",
                f"{dims} need {nbytes:,} bytes of data but the file holds only {have:,} (file is short)",
            )
        if have > nbytes:
            raise _fail(
                path,
                "dimensions",
                f"{dims} need {nbytes:,} bytes of data but the file has {have - nbytes:,} trailing bytes",
            )
        buf = _read_bounded(f, nbytes)
        if len(buf) != nbytes:  # pragma: no cover - file changed under us
            raise _fail(path, "dimensions", "file is short")
    else:
        # Compressed: inflate at most nbytes + 1, never the whole stream.
        buf = _read_bounded(f, nbytes + 1)
        if len(buf) < nbytes:
            raise _fail(
                path,
                "dimensions",
                f"{dims} need {nbytes:,} bytes of data but the stream holds only {len(buf):,} (file is short)",
            )
        if len(buf) > nbytes:
            raise _fail(
                path,
                "dimensions",
                f"the gzip stream inflates beyond the {header_len + nbytes:,} bytes its header declares (trailing bytes)",
            )
        f.read(1)  # reach EOF so gzip checks the CRC and length trailer
    arr = np.frombuffer(buf, dtype=dtype, count=math.prod(dims)).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file; gzip it (mtime=0, reproducible) when the
    name ends in ``.gz``. The file is written to a temporary name and moved
    into place, so no half-written file is ever left behind."""
    path = Path(path)
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        raise ValueError(f"{path}: dtype: {arr.dtype} cannot be stored in IDX")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"{path}: ndim: {arr.ndim} cannot be stored in IDX")
    header = bytes([0, 0, _IDX_CODES[native], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    _write_atomic(path, payload)
    return path


def _write_atomic(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------
# .npz reader (never unpickles; checks zip metadata before reading)
# --------------------------------------------------------------------------


def _read_npz_member(zf: zipfile.ZipFile, path: Path, key: str, kinds: str = "uif") -> np.ndarray:
    where = f"{path} (array {key})"
    member = key + ".npy"
    try:
        info = zf.getinfo(member)
    except KeyError:
        names = sorted(n.removesuffix(".npy") for n in zf.namelist())
        raise _fail(path, key, f"missing array (the archive holds {names})") from None
    if info.flag_bits & 0x1:
        raise _fail(where, "zip entry", "encrypted members are not supported")
    # Zip metadata first: the declared uncompressed size bounds everything.
    if info.file_size > MAX_ARRAY_BYTES + 65536:
        raise _fail(
            where,
            "size",
            f"member inflates to {info.file_size:,} bytes, more than the {MAX_ARRAY_BYTES:,}-byte limit",
        )
    try:
        with zf.open(info) as fp:
            try:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
            except ValueError as exc:
                raise _fail(where, "npy header", str(exc)) from None
            header_len = fp.tell()
            if dtype.hasobject:
                raise _fail(
                    where, "dtype", f"object arrays are not allowed ({dtype}); the file is never unpickled"
                )
            if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
                raise _fail(where, "dtype", f"{dtype} is not a supported numeric type")
            nbytes = _check_array_size(where, "shape", shape, dtype)
            have = info.file_size - header_len
            if have < nbytes:
                raise _fail(
                    where,
                    "shape",
                    f"header declares {shape} = {nbytes:,} bytes but the member holds only {max(have, 0):,}",
                )
            if have > nbytes:
                raise _fail(
                    where,
                    "shape",
                    f"header declares {shape} = {nbytes:,} bytes but the member has {have - nbytes:,} trailing bytes",
                )
            buf = _read_bounded(fp, nbytes)
            if len(buf) != nbytes or fp.read(1):
                raise _fail(where, "size", "member data does not match its zip metadata")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise _fail(where, "zip entry", f"corrupt ({exc})") from None
    arr = np.frombuffer(buf, dtype=dtype, count=math.prod(shape))
    arr = arr.reshape(shape, order="F" if fortran else "C")
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def _load_npz(path: Path, name: str | None, class_names: Sequence[str] | None) -> Dataset:
    _require_regular_file(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(path, "archive", f"not a valid .npz (zip) file ({exc})") from None
    with zf:
        arrays = {key: _read_npz_member(zf, path, key) for key in _ARRAY_KEYS}
        if class_names is None and "class_names.npy" in zf.namelist():
            names = _read_npz_member(zf, path, "class_names", kinds="U")
            class_names = [str(s) for s in names.reshape(-1)]
            _check_class_names(f"{path} (array class_names)", class_names)
    where = {key: f"{path} (array {key})" for key in _ARRAY_KEYS}
    for key in ("x_train", "x_test"):
        x = arrays[key]
        if x.ndim == 4 and x.shape[-1] == 1:  # (N, H, W, 1) channel-last grayscale
            arrays[key] = x.reshape(x.shape[:3])
    for key in ("y_train", "y_test"):
        y = arrays[key]
        if y.ndim == 2 and y.shape[1] == 1:  # Keras CIFAR-style (N, 1) labels
            arrays[key] = y.reshape(-1)
    return _build_dataset(name or path.stem, arrays, where, class_names, None)


# --------------------------------------------------------------------------
# Validation and assembly
# --------------------------------------------------------------------------


def _check_class_names(where: object, names: Sequence[str]) -> None:
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise _fail(where, "classes", f"{len(names)} class names; need {MIN_CLASSES} to {MAX_CLASSES}")
    for i, n in enumerate(names):
        if not n:
            raise _fail(where, "classes", f"class name {i} is empty")
    if len(set(names)) != len(names):
        raise _fail(where, "classes", "class names are not unique")


def _read_classes_txt(path: Path) -> tuple[str, ...]:
    st = _require_regular_file(path)
    if st.st_size > MAX_CLASSES_FILE_BYTES:
        raise _fail(
            path, "classes", f"file is {st.st_size:,} bytes; at most {MAX_CLASSES_FILE_BYTES:,} expected"
        )
    try:
        text = path.read_bytes()[:MAX_CLASSES_FILE_BYTES].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(path, "classes", f"not UTF-8 text ({exc})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    _check_class_names(path, lines)
    return tuple(lines)


def _build_dataset(
    name: str,
    arrays: dict[str, np.ndarray],
    where: dict[str, str],
    class_names: Sequence[str] | None,
    classes_where: object | None,
) -> Dataset:
    """Validate four raw arrays (naming ``where[key]`` in every error) and
    assemble a read-only Dataset."""
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        xk, yk = f"x_{split}", f"y_{split}"
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 3:
            raise _fail(
                where[xk], "dimensions", f"images must be (count, height, width), got shape {x.shape}"
            )
        if y.ndim != 1:
            raise _fail(where[yk], "dimensions", f"labels must be (count,), got shape {y.shape}")
        if x.shape[0] == 0:
            raise _fail(where[xk], "count", "zero samples")
        if y.shape[0] == 0:
            raise _fail(where[yk], "count", "zero samples")
        if x.shape[1] == 0 or x.shape[2] == 0:
            raise _fail(where[xk], "dimensions", f"empty images of shape {x.shape[1:]}")
        if x.shape[0] != y.shape[0]:
            raise _fail(
                where[yk], "count", f"{y.shape[0]:,} labels but {where[xk]} holds {x.shape[0]:,} images"
            )
        if x.dtype.kind not in "uif":
            raise _fail(where[xk], "dtype", f"{x.dtype} images are not supported")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = int(np.count_nonzero(~np.isfinite(x)))
            raise _fail(where[xk], "values", f"{bad:,} NaN or inf values")
        if y.dtype.kind not in "iu":
            raise _fail(where[yk], "dtype", f"labels must be integers, got {y.dtype}")
        out[xk], out[yk] = x, y
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise _fail(
            where["x_test"],
            "dimensions",
            f"image size {out['x_test'].shape[1:]} differs from training {out['x_train'].shape[1:]}",
        )
    if class_names is not None:
        class_names = tuple(str(c) for c in class_names)
        _check_class_names(classes_where or name, class_names)
        limit = len(class_names)
    else:
        limit = MAX_CLASSES
    top = -1
    for yk in ("y_train", "y_test"):
        y = out[yk]
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= limit:
            bad = lo if lo < 0 else hi
            extra = (
                f" ({len(class_names)} class names)"
                if class_names is not None
                else f" (at most {MAX_CLASSES} classes)"
            )
            raise _fail(where[yk], "labels", f"value {bad} out of range 0..{limit - 1}{extra}")
        top = max(top, hi)
    if class_names is None:
        if top + 1 < MIN_CLASSES:
            raise _fail(
                where["y_train"], "labels", f"a single class ({top}); need {MIN_CLASSES} to {MAX_CLASSES}"
            )
        class_names = tuple(str(i) for i in range(top + 1))
    if np.unique(out["y_train"]).size < MIN_CLASSES:
        raise _fail(
            where["y_train"], "labels", f"the training split holds a single class ({int(out['y_train'][0])})"
        )
    for yk in ("y_train", "y_test"):
        out[yk] = out[yk].astype(np.int64)
    for key in _ARRAY_KEYS:
        if not out[key].flags.c_contiguous:
            out[key] = np.ascontiguousarray(out[key])
        out[key].flags.writeable = False
    return Dataset(name=name, class_names=class_names, **out)


def _find_idx_files(folder: Path) -> dict[str, Path]:
    """Map x_train/y_train/x_test/y_test to the IDX files in ``folder``."""
    found: dict[str, list[Path]] = {k: [] for k in _ARRAY_KEYS}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise _fail(folder, "folder", f"cannot be listed ({exc.strerror or exc})") from None
    for entry in entries:
        m = _IDX_NAME_RE.search(entry.name)
        if not m:
            continue
        split = "train" if m.group(1).lower() == "train" else "test"
        key = _ROLES[(split, m.group(2).lower())]
        found[key].append(Path(entry.path))
    result: dict[str, Path] = {}
    for key, paths in found.items():
        if not paths:
            split, kind = (
                ("train" if key.endswith("train") else "t10k"),
                ("images" if key[0] == "x" else "labels"),
            )
            ndim = 3 if kind == "images" else 1
            raise _fail(
                folder,
                key,
                f"no {split}-{kind}-idx{ndim}-ubyte[.gz] file found (folder holds {[e.name for e in entries][:20]})",
            )
        if len(paths) > 1:
            # The same file gzipped and not: use the uncompressed one.
            plain = [p for p in paths if not p.name.lower().endswith(".gz")]
            stems = {p.name[:-3].lower() if p.name.lower().endswith(".gz") else p.name.lower() for p in paths}
            if len(stems) == 1 and len(plain) == 1:
                paths = plain
            else:
                raise _fail(folder, key, f"ambiguous: several files match ({[p.name for p in paths]})")
        result[key] = paths[0]
    return result


def _is_known_fashion_dir(path: Path) -> bool:
    with contextlib.suppress(OSError):
        return path.resolve() == FASHION_MNIST_DIR.resolve()
    return False


def _load_idx_folder(folder: Path, name: str | None, class_names: Sequence[str] | None) -> Dataset:
    files = _find_idx_files(folder)
    arrays = {key: read_idx(p) for key, p in files.items()}
    classes_where: object | None = None
    classes_file = folder / "classes.txt"
    if class_names is None and os.path.lexists(classes_file):
        class_names = _read_classes_txt(classes_file)
        classes_where = classes_file
    if class_names is None and _is_known_fashion_dir(folder):
        class_names = FASHION_MNIST_CLASSES
    if name is None:
        name = "Fashion-MNIST" if _is_known_fashion_dir(folder) else folder.resolve().name
    return _build_dataset(name, arrays, {k: str(p) for k, p in files.items()}, class_names, classes_where)


def load_dataset(
    path: str | os.PathLike, *, name: str | None = None, class_names: Sequence[str] | None = None
) -> Dataset:
    """Load a folder of IDX files (gzipped or not) or a ``.npz`` file.

    Class names come from ``class_names``, else a ``classes.txt`` in the folder
    (one per line) or a ``class_names`` array in the ``.npz``, else Debian's
    Fashion-MNIST names for that folder, else ``"0", "1", ...``.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return _load_idx_folder(path, name, class_names)
    if not os.path.lexists(path):
        raise _fail(path, "path", "does not exist")
    _require_regular_file(path, "path")
    if path.suffix.lower() == ".npz" or zipfile.is_zipfile(path):
        return _load_npz(path, name, class_names)
    raise _fail(path, "path", "expected a folder of IDX files or a .npz file")


@functools.lru_cache(maxsize=1)
def load_builtin() -> Dataset:
    """The committed MNIST sample (first 10,000 train / 2,000 test images)."""
    return _load_idx_folder(SAMPLE_DIR, "MNIST sample", None)


# --------------------------------------------------------------------------
# Dataset discovery
# --------------------------------------------------------------------------


def _looks_like_dataset(path: Path) -> bool:
    try:
        if path.is_file():
            return path.suffix.lower() == ".npz"
        if path.is_dir():
            return any(
                (m := _IDX_NAME_RE.search(e.name)) and m.group(2).lower() == "images"
                for e in os.scandir(path)
            )
    except OSError:
        return False
    return False


def _scan_data_dir(source: str | os.PathLike) -> list[tuple[str, str]]:
    path = Path(source).expanduser()
    if not path.exists():
        raise _fail(path, "data folder", f"does not exist (named by --data or ${ENV_DATA})")
    if _looks_like_dataset(path):
        return [(f"data:{path.resolve().name}", str(path))]
    if path.is_dir():
        children = sorted(p for p in path.iterdir() if _looks_like_dataset(p))
        if children:
            return [(f"data:{p.name}", str(p)) for p in children]
    raise _fail(
        path,
        "data folder",
        "holds no dataset (expected train/t10k images and labels IDX files, a .npz, or sub-folders of those)",
    )


def available_datasets(data_dir: str | os.PathLike | None = None) -> dict[str, str | None]:
    """Ordered ``{key: path}`` of the datasets to offer.

    Always starts with ``BUILTIN -> None``; adds ``"fashion-mnist"`` when
    Debian's package folder exists; then ``data_dir`` (or ``$LINCLS_DATA``) as
    ``"data:<name>"`` -- the folder itself if it holds a dataset, else each
    dataset sub-folder / ``.npz`` inside it. A named folder that does not
    exist or holds nothing loadable is a ValueError (fail fast at start-up).
    """
    out: dict[str, str | None] = {BUILTIN: None}
    if _looks_like_dataset(FASHION_MNIST_DIR):
        out[FASHION_MNIST] = str(FASHION_MNIST_DIR)
    source = data_dir if data_dir not in (None, "") else (os.environ.get(ENV_DATA) or None)
    if source is not None:
        for key, p in _scan_data_dir(source):
            out.setdefault(key, p)
    return out


def dataset_label(key: str) -> str:
    """Human-readable label for a key from ``available_datasets``."""
    if key == BUILTIN:
        return "MNIST sample (10,000 train / 2,000 test, built in)"
    if key == FASHION_MNIST:
        return "Fashion-MNIST"
    if key.startswith("data:") and len(key) > 5:
        return f"{key[5:]} (data folder)"
    raise ValueError(f"unknown dataset key {key!r}")


@functools.lru_cache(maxsize=4)
def _load_cached(key: str, path: str) -> Dataset:
    if key == FASHION_MNIST:
        return load_dataset(path, name="Fashion-MNIST")
    return load_dataset(path)


def load_by_key(key: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load (and cache) the dataset behind a key of ``available_datasets``."""
    if key == BUILTIN:
        return load_builtin()
    if key == FASHION_MNIST:
        if not _looks_like_dataset(FASHION_MNIST_DIR):
            raise ValueError(
                f"dataset {key!r} is not installed: {FASHION_MNIST_DIR} is missing "
                "(apt-get install dataset-fashion-mnist, or `python -m core download fashion-mnist DIR` and --data DIR)"
            )
        return _load_cached(key, str(FASHION_MNIST_DIR))
    if not key.startswith("data:"):
        raise ValueError(f"unknown dataset key {key!r}")
    avail = available_datasets(data_dir)
    if key not in avail:
        raise ValueError(f"unknown dataset key {key!r}; available: {list(avail)}")
    return _load_cached(key, str(Path(avail[key]).resolve()))


def clear_cache() -> None:
    """Forget cached datasets (e.g. after files changed on disk)."""
    load_builtin.cache_clear()
    _load_cached.cache_clear()


# --------------------------------------------------------------------------
# Sampling and preprocessing
# --------------------------------------------------------------------------


def _check_size(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _stratified_pick(labels: np.ndarray, pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n`` of ``pool`` (indices into ``labels``) keeping class
    proportions (largest-remainder quotas), uniformly at random within each
    class. Returns sorted indices."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pool_labels = labels[pool]
    classes, counts = np.unique(pool_labels, return_counts=True)
    quota = n * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    if short:
        # Largest fractional parts first; ties by class order (stable sort).
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:short]] += 1
    chosen = []
    for cls, k in zip(classes, take, strict=True):
        if k:
            members = pool[pool_labels == cls]
            chosen.append(rng.choice(members, size=int(k), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def select_indices(
    y_train: np.ndarray,
    y_test: np.ndarray,
    n_train: int,
    n_test: int,
    n_val: int = 0,
    sampling: str = "first",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train_index, val_index, test_index). Validation rows come from the
    training split, disjoint from the training rows (right after them for
    ``"first"``). Sizes larger than what exists are errors, never clamped."""
    n_train = _check_size("n_train", n_train, 1)
    n_val = _check_size("n_val", n_val, 0)
    n_test = _check_size("n_test", n_test, 0)
    if sampling not in SAMPLING:
        raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLING}")
    have_train, have_test = len(y_train), len(y_test)
    if n_train + n_val > have_train:
        raise ValueError(
            f"n_train + n_val = {n_train} + {n_val} = {n_train + n_val:,} exceeds the {have_train:,} training samples available"
        )
    if n_test > have_test:
        raise ValueError(f"n_test = {n_test:,} exceeds the {have_test:,} test samples available")
    if sampling == "first":
        return (
            np.arange(n_train, dtype=np.int64),
            np.arange(n_train, n_train + n_val, dtype=np.int64),
            np.arange(n_test, dtype=np.int64),
        )
    seed = _check_size("seed", seed, 0)
    # One independent stream per split, so e.g. n_val does not move the
    # training rows and n_test never moves anything else.
    rng_train, rng_val, rng_test = (np.random.default_rng([seed, k]) for k in range(3))
    all_train = np.arange(have_train, dtype=np.int64)
    train_idx = _stratified_pick(y_train, all_train, n_train, rng_train)
    rest = np.setdiff1d(all_train, train_idx, assume_unique=True)
    val_idx = _stratified_pick(y_train, rest, n_val, rng_val)
    test_idx = _stratified_pick(y_test, np.arange(have_test, dtype=np.int64), n_test, rng_test)
    return train_idx, val_idx, test_idx


def _as_matrix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 1:
        raise ValueError(f"expected a 2-D (samples, features) or 3-D image array, got shape {x.shape}")
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def preprocess(
    X_train_raw: np.ndarray,
    X_other_list: Iterable[np.ndarray],
    mode: str,
    image_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Turn raw rows into float64 features. Statistics come from the training
    rows only and are applied unchanged to every other array.

    * ``standardize`` -- per sample: ``(x - mean(x)) / std(x)``; a constant
      image (std 0) becomes all zeros.
    * ``center`` -- subtract the training mean image.
    * ``scale`` -- to [0, 1]: unsigned integers by their dtype's maximum
      (uint8 / 255), anything else by the training split's min and max.
    * ``deskew`` -- straighten each image (see :func:`deskew`; needs
      ``image_shape``), then ``scale``.
    * ``none`` -- just float64.
    """
    if mode not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing mode {mode!r}; expected one of {PREPROCESSING}")
    raw_train = _as_matrix(X_train_raw)
    raw_others = [_as_matrix(x) for x in X_other_list]
    for x in raw_others:
        if x.shape[1] != raw_train.shape[1]:
            raise ValueError(
                f"feature count {x.shape[1]} differs from the training split's {raw_train.shape[1]}"
            )
    train = raw_train.astype(np.float64)  # always a new array
    others = [x.astype(np.float64) for x in raw_others]
    if mode == "deskew":
        if image_shape is None or int(np.prod(image_shape)) != raw_train.shape[1]:
            raise ValueError(
                f"deskew needs the image shape of the {raw_train.shape[1]} features, not {image_shape!r}"
            )
        train = deskew(train, image_shape)
        others = [deskew(x, image_shape) for x in others]
    mats = [train, *others]
    if mode == "standardize":
        for m in mats:
            if m.shape[0] == 0:
                continue
            m -= m.mean(axis=1, keepdims=True)
            # einsum avoids an (N, D) temporary for m * m
            std = np.sqrt(np.einsum("ij,ij->i", m, m) / m.shape[1])[:, None]
            std[std < 1e-12] = 1.0
            m /= std
    elif mode == "center":
        mean = train.mean(axis=0) if train.shape[0] else np.zeros(train.shape[1])
        for m in mats:
            m -= mean
    elif mode in ("scale", "deskew"):
        if raw_train.dtype.kind == "u":
            lo, hi = 0.0, float(np.iinfo(raw_train.dtype).max)
        elif train.size:
            lo, hi = float(train.min()), float(train.max())
        else:
            lo, hi = 0.0, 1.0
        span = hi - lo if hi > lo else 1.0
        for m in mats:
            m -= lo
            m /= span
    return train, others


def deskew(X: np.ndarray, image_shape: tuple[int, int], chunk: int = 256) -> np.ndarray:
    """Straighten slanted digits: shear each image sideways so that its ink's
    principal axis is vertical and its centre of mass sits in the middle column.

    ``X`` is (N, H*W), row-major images of ``image_shape`` = (H, W) with
    non-negative ink. From the image's moments (centre ``cy, cx``; ``mu11``,
    ``mu02`` over rows y and columns x, weighted by ink) the slant is
    ``alpha = mu11 / mu02`` (columns per row), and output pixel (y, x) takes
    the input at column ``x + alpha*(y - cy) + cx - (W-1)/2`` of the same row,
    linearly interpolated (zero outside the image). A blank image stays blank.
    This is the classic MNIST preprocessing (LeCun et al.'s "deskewing"):
    a per-image transform that uses no labels and no other image. Returns a
    new float64 (N, H*W) array; ``X`` is not changed. Images are done
    ``chunk`` at a time: small chunks keep the padded rows in cache (about
    0.05 s for 5,000 MNIST images, 0.7-1 s for 60,000).
    """
    H, Wd = (int(v) for v in image_shape)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != H * Wd:
        raise ValueError(f"deskew: expected (N, {H * Wd}) rows for images of {H}x{Wd}, got {X.shape}")
    out = np.empty(X.shape, dtype=np.float64)
    rows = np.arange(H, dtype=np.float64)
    cols = np.arange(Wd, dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        img = X[start : start + chunk].astype(np.float64).reshape(-1, H, Wd)
        mass = img.sum(axis=(1, 2))
        safe = np.where(mass > 0, mass, 1.0)
        by_row = img.sum(axis=2)  # (n, H)
        cy = by_row @ rows / safe
        cx = img.sum(axis=1) @ cols / safe
        dy = rows[None, :] - cy[:, None]  # (n, H)
        mu11 = np.einsum("nh,nh->n", dy, img @ cols - by_row * cx[:, None]) / safe
        mu02 = np.einsum("nh,nh->n", dy * dy, by_row) / safe
        alpha = np.where(mu02 > 1e-12, mu11 / np.where(mu02 > 1e-12, mu02, 1.0), 0.0)
        alpha[mass <= 0] = 0.0
        shift = alpha[:, None] * dy + np.where(mass > 0, cx - (Wd - 1) / 2, 0.0)[:, None]  # (n, H)
        # Each output row is its input row moved sideways by `shift`: the blend of two whole
        # windows of the row, zero-padded by W+1 each side (a move of more than W empties it).
        left = np.clip(np.floor(shift), -(Wd + 1), Wd)
        frac = (shift - left)[:, :, None]
        start_col = (left + Wd + 1).astype(np.intp)  # window of padded columns [start, start + W)
        padded = np.zeros((len(img), H, 3 * Wd + 2))
        padded[:, :, Wd + 1 : 2 * Wd + 1] = img
        windows = np.lib.stride_tricks.sliding_window_view(padded, Wd, axis=2)  # (n, H, 2W+3, W)
        n_idx = np.arange(len(img))[:, None]
        r_idx = np.arange(H)[None, :]
        res = windows[n_idx, r_idx, start_col]
        res += frac * (windows[n_idx, r_idx, start_col + 1] - res)
        # a blend of two values lies between them: keep rounding from stepping outside
        np.clip(res, min(0.0, img.min()), max(0.0, img.max()), out=res)
        out[start : start + len(img)] = res.reshape(len(img), H * Wd)
    return out


def prepare(
    ds: Dataset,
    n_train: int,
    n_test: int,
    n_val: int = 0,
    mode: str = "standardize",
    sampling: str = "first",
    seed: int = 0,
) -> Prepared:
    """Select rows (see ``select_indices``) and preprocess them (see
    ``preprocess``). Only the selected rows are converted to float64, so a
    full uint8 MNIST stays cheap. Same inputs -> identical arrays."""
    if mode not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing mode {mode!r}; expected one of {PREPROCESSING}")
    tr, va, te = select_indices(ds.y_train, ds.y_test, n_train, n_test, n_val, sampling, seed)
    d = ds.n_features
    X_train, (X_val, X_test) = preprocess(
        ds.x_train[tr].reshape(len(tr), d),
        [ds.x_train[va].reshape(len(va), d), ds.x_test[te].reshape(len(te), d)],
        mode,
        ds.image_shape,
    )
    return Prepared(
        X_train=X_train,
        y_train=ds.y_train[tr].copy(),
        X_val=X_val,
        y_val=ds.y_train[va].copy(),
        X_test=X_test,
        y_test=ds.y_test[te].copy(),
        class_names=tuple(ds.class_names),
        image_shape=ds.image_shape,
        train_index=tr,
        val_index=va,
        test_index=te,
        mode=mode,
        sampling=sampling,
        seed=int(seed),
    )


# --------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------


class DownloadError(RuntimeError):
    """A file could not be fetched from any mirror (the message lists why)."""


class ChecksumError(DownloadError):
    """Every mirror served content that failed checksum verification."""


@dataclass(frozen=True)
class KnownFile:
    """Checksums of one published file.

    ``gz_md5`` / ``gz_sha256``: digests of known ``.gz`` files (a match accepts
    the file at once). ``size`` / ``md5`` / ``sha256``: the uncompressed IDX
    content, checked when the gzip container itself is not a known one (mirrors
    re-compress files; the content is what matters).
    """

    size: int
    md5: str
    sha256: str
    gz_md5: tuple[str, ...] = ()
    gz_sha256: tuple[str, ...] = ()


#: Mirrors and checksums. Sources of the digests:
#: * MNIST gz MD5s: the files on the mirrors below, as used by torchvision.
#: * MNIST gz SHA256s: the copy in ../shared/data/mnist (a re-compressed copy:
#:   its gz MD5s differ from the mirrors', its content is identical).
#: * MNIST content MD5s: the well-known MD5s of the uncompressed IDX files;
#:   content SHA256s and sizes computed from ../shared/data/mnist.
#: * Fashion-MNIST gz MD5s: published by zalandoresearch (README).
#: * Fashion-MNIST content MD5s, SHA256s, sizes: computed from Debian's
#:   dataset-fashion-mnist files, whose content MD5s match the ones other
#:   projects publish for the uncompressed Fashion-MNIST files. (Debian
#:   re-compressed the .gz, so its gz digests match neither list above.)
DOWNLOADS: dict[str, dict] = {
    "mnist": {
        "title": "MNIST",
        "base_urls": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        "class_names": None,
        "files": {
            "train-images-idx3-ubyte.gz": KnownFile(
                size=47040016,
                md5="6bbc9ace898e44ae57da46a324031adb",
                sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                gz_md5=("f68b3c2dcbeaaa9fbdd348bbdeb94873",),
                gz_sha256=("db8f937d487057fb14a9f0fbe97f0bc8d311ab41b750d41e1ff37c43b9e55e19",),
            ),
            "train-labels-idx1-ubyte.gz": KnownFile(
                size=60008,
                md5="a25bea736e30d166cdddb491f175f624",
                sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                gz_md5=("d53e105ee54ea40749a09fcbcd1e9432",),
                gz_sha256=("51fc562b6747b666fbf6e84ce29d43c3cb5f9c388c664d43b33f02095313405a",),
            ),
            "t10k-images-idx3-ubyte.gz": KnownFile(
                size=7840016,
                md5="2646ac647ad5339dbf082846283269ea",
                sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                gz_md5=("9fb629c4189551a2d022fa330f9573f3",),
                gz_sha256=("cfeddb84311ecf044fc6a5b0f6ee8a24d265d4e83e388400186eb114082f4209",),
            ),
            "t10k-labels-idx1-ubyte.gz": KnownFile(
                size=10008,
                md5="27ae3e4e09519cfbb04c329615203637",
                sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                gz_md5=("ec29112dd5afa0611ce80d1b7f02629c",),
                gz_sha256=("e41c74e484045d39b462a7790a4af51301bd9b0b24f0154798d713ec68c45920",),
            ),
        },
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "base_urls": (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        "class_names": FASHION_MNIST_CLASSES,
        "files": {
            "train-images-idx3-ubyte.gz": KnownFile(
                size=47040016,
                md5="f4a8712d7a061bf5bd6d2ca38dc4d50a",
                sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                gz_md5=("8d4fb7e6c68d591d4c3dfef9ec88bf0d",),
            ),
            "train-labels-idx1-ubyte.gz": KnownFile(
                size=60008,
                md5="9018921c3c673c538a1fc5bad174d6f9",
                sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                gz_md5=("25c81989df183df01b3e8a0aad5dffbe",),
            ),
            "t10k-images-idx3-ubyte.gz": KnownFile(
                size=7840016,
                md5="8181f5470baa50b63fa0f6fddb340f0a",
                sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                gz_md5=("bef4ecab320f06d8554ea6380940ec79",),
            ),
            "t10k-labels-idx1-ubyte.gz": KnownFile(
                size=10008,
                md5="15d484375f8d13e6eb1aabb0c3f46965",
                sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                gz_md5=("bb300cfdad3c16e7a12a480ee83cd310",),
            ),
        },
    },
}

ProgressFn = Callable[[str, int, "int | None"], None]


def _digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def verify_download(path: str | os.PathLike, known: KnownFile) -> str:
    """Check a downloaded ``.gz`` against ``known``. Returns ``"gz"`` when the
    file is a known gzip file, ``"content"`` when its (bounded) decompressed
    content has the known size and digests; raises ChecksumError otherwise."""
    path = Path(path)
    md5, sha = _digests(path)
    if md5 in known.gz_md5 or sha in known.gz_sha256:
        return "gz"
    c_md5, c_sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    n = 0
    try:
        with gzip.open(path, "rb") as gz:
            while n <= known.size and (chunk := gz.read(min(_CHUNK, known.size + 1 - n))):
                n += len(chunk)
                c_md5.update(chunk)
                c_sha.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ChecksumError(
            f"{path.name}: checksum mismatch (not a valid gzip file: {exc}; md5 {md5})"
        ) from None
    if n != known.size or c_md5.hexdigest() != known.md5 or c_sha.hexdigest() != known.sha256:
        raise ChecksumError(
            f"{path.name}: checksum mismatch (gz md5 {md5}; content md5 {c_md5.hexdigest()}"
            f"{'' if n <= known.size else '+'}, {n:,} bytes; expected content md5 {known.md5}, {known.size:,} bytes)"
        )
    return "content"


def _fetch(
    url: str, dest: Path, fname: str, known: KnownFile, progress: ProgressFn | None, timeout: float
) -> None:
    """Download ``url`` to a temporary file next to ``dest/fname``, verify it
    and move it into place; the temporary file is removed on any failure."""
    import urllib.request  # lazy: only downloads need it

    limit = known.size + (1 << 20)  # a gzip of this content is never larger
    fd, tmp_name = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=dest)
    tmp: Path | None = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "lincls-data"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status = getattr(resp, "status", 200)
                if status != 200:
                    raise DownloadError(f"{url}: HTTP status {status}")
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and total > limit:
                    raise DownloadError(
                        f"{url}: {total:,} bytes announced, more than the {limit:,} expected at most"
                    )
                done = 0
                if progress:
                    progress(fname, 0, total)
                while chunk := resp.read(_CHUNK):
                    done += len(chunk)
                    if done > limit:
                        raise DownloadError(f"{url}: more than the {limit:,} bytes expected at most")
                    out.write(chunk)
                    if progress:
                        progress(fname, done, total)
                if total is not None and done != total:
                    raise DownloadError(f"{url}: connection closed after {done:,} of {total:,} bytes")
            out.flush()
            os.fsync(out.fileno())
        try:
            verify_download(tmp, known)
        except ChecksumError as exc:
            raise ChecksumError(f"{url}: {exc}") from None
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest / fname)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _normalize_base_urls(base_urls: str | Sequence[str]) -> list[str]:
    import urllib.parse

    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
    if not urls:
        raise ValueError("base_urls is empty")
    out = []
    for u in urls:
        scheme = urllib.parse.urlsplit(u).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"base URL {u!r}: only http and https are supported")
        out.append(u if u.endswith("/") else u + "/")
    return out


def download(
    name: str,
    dest_dir: str | os.PathLike,
    base_urls: str | Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    *,
    timeout: float = 60.0,
) -> list[Path]:
    """Fetch the four files of ``name`` (``"mnist"`` or ``"fashion-mnist"``)
    into ``dest_dir`` and return their paths (train images, train labels,
    test images, test labels).

    Each file is tried on every base URL in turn (``base_urls`` overrides the
    table in ``DOWNLOADS``), streamed to a temporary file in ``dest_dir``,
    verified (``verify_download``) and only then renamed into place: a failed
    or interrupted download never leaves a partial file, and nothing is resumed.
    Files already present and valid are kept. For Fashion-MNIST a
    ``classes.txt`` with its class names is written too, so ``--data dest_dir``
    shows them. ``progress(filename, bytes_done, bytes_total_or_None)`` is called
    as data arrives. Raises ChecksumError when every mirror served bad content,
    DownloadError for other failures, ValueError for an unknown name.
    """
    import http.client
    import urllib.error

    if name not in DOWNLOADS:
        raise ValueError(f"unknown download {name!r}; expected one of {sorted(DOWNLOADS)}")
    spec = DOWNLOADS[name]
    urls = _normalize_base_urls(spec["base_urls"] if base_urls is None else base_urls)
    dest = Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for fname, known in spec["files"].items():
        final = dest / fname
        if os.path.lexists(final):
            if not final.is_file():
                raise DownloadError(f"{final}: exists and is not a regular file; not touching it")
            try:
                verify_download(final, known)
                if progress:
                    size = final.stat().st_size
                    progress(fname, size, size)
                paths.append(final)
                continue
            except ChecksumError:
                pass  # a bad or partial file from elsewhere: replace it atomically
        errors: list[Exception] = []
        for base in urls:
            url = base + fname
            try:
                _fetch(url, dest, fname, known, progress, timeout)
                break
            except ChecksumError as exc:
                errors.append(exc)
            except (
                DownloadError,
                urllib.error.URLError,
                http.client.HTTPException,
                OSError,
                ValueError,
            ) as exc:
                errors.append(DownloadError(f"{url}: {exc}"))
        else:
            detail = "; ".join(str(e) for e in errors)
            if all(isinstance(e, ChecksumError) for e in errors):
                raise ChecksumError(f"{fname}: no mirror served a file with the expected checksums: {detail}")
            raise DownloadError(f"{fname}: download failed from every mirror: {detail}")
        paths.append(final)
    if spec["class_names"]:
        _write_atomic(dest / "classes.txt", ("\n".join(spec["class_names"]) + "\n").encode())
    return paths
