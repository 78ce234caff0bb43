"""Tests for core/data.py: IDX/npz loading and validation, discovery,
sampling, preprocessing and download. Bad files are built in tmp_path; the
full MNIST files come from ../shared/data/mnist (present in CI too)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import importlib.util
import io
import os
import shutil
import struct
import threading
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from core import data

REPO = Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _arrays(seed=0, n_train=30, n_test=12, h=4, w=5, n_classes=3):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, h, w), dtype=np.uint8),
        "y_train": (np.arange(n_train) % n_classes).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, h, w), dtype=np.uint8),
        "y_test": (np.arange(n_test) % n_classes).astype(np.uint8),
    }


def _folder(root: Path, arrays=None, gz=False, **kw) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    arrays = arrays if arrays is not None else _arrays(**kw)
    for key, arr in arrays.items():
        data.write_idx(root / (NAMES[key] + (".gz" if gz else "")), arr)
    return root


def _header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def _raises(match_file, *fields):
    """Context manager: a ValueError naming the file and every field word."""

    @contextlib.contextmanager
    def cm():
        with pytest.raises(ValueError) as info:
            yield info
        msg = str(info.value)
        assert str(match_file) in msg, msg
        for f in fields:
            assert f in msg, msg

    return cm()


def _npz_bytes(arrays: dict[str, np.ndarray], raw: dict[str, bytes] | None = None, compress=False) -> bytes:
    buf = io.BytesIO()
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", mode) as zf:
        for key, arr in arrays.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=True)
            zf.writestr(key + ".npy", b.getvalue())
        for key, payload in (raw or {}).items():
            zf.writestr(key + ".npy", payload)
    return buf.getvalue()


@contextlib.contextmanager
def _peak_memory():
    """Yields a dict whose "peak" is the traced peak allocation in bytes."""
    out = {}
    tracemalloc.start()
    try:
        yield out
    finally:
        out["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


@pytest.fixture(scope="module")
def data_full_mnist():
    return data.load_dataset(SHARED_MNIST)


@pytest.fixture
def data_no_env(monkeypatch):
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    data.clear_cache()
    yield
    data.clear_cache()


# --------------------------------------------------------------------------
# IDX validation
# --------------------------------------------------------------------------


def test_data001_bad_magic(tmp_path):
    folder = _folder(tmp_path / "d")
    bad = folder / NAMES["x_train"]
    bad.write_bytes(b"\x01\x00" + bad.read_bytes()[2:])
    with _raises(bad, "magic"):
        data.load_dataset(folder)


def test_data002_bad_type_byte(tmp_path):
    folder = _folder(tmp_path / "d")
    bad = folder / NAMES["y_test"]
    raw = bytearray(bad.read_bytes())
    raw[2] = 0x07
    bad.write_bytes(bytes(raw))
    with _raises(bad, "type byte"):
        data.load_dataset(folder)


def test_data003_short_file(tmp_path):
    folder = _folder(tmp_path / "d")
    bad = folder / NAMES["x_train"]
    bad.write_bytes(bad.read_bytes()[:-7])
    with _raises(bad, "dimensions", "short"):
        data.load_dataset(folder)
    bad.write_bytes(_header(0x08, (30, 4, 5))[:9])  # header itself truncated
    with _raises(bad, "dimensions", "truncated"):
        data.load_dataset(folder)


def test_data004_trailing_bytes(tmp_path):
    folder = _folder(tmp_path / "d")
    bad = folder / NAMES["y_train"]
    bad.write_bytes(bad.read_bytes() + b"\x00\x01")
    with _raises(bad, "dimensions", "trailing"):
        data.load_dataset(folder)


def test_data005_gzip_short_stream(tmp_path):
    folder = _folder(tmp_path / "d", gz=True)
    bad = folder / (NAMES["x_test"] + ".gz")
    bad.write_bytes(gzip.compress(_header(0x08, (12, 4, 5)) + bytes(100), mtime=0))
    with _raises(bad, "dimensions", "short"):
        data.load_dataset(folder)


def test_data006_gzip_inflating_beyond_header_is_bounded(tmp_path):
    folder = _folder(tmp_path / "d", gz=True)
    bad = folder / (NAMES["x_train"] + ".gz")
    # header says 30x4x5 = 600 bytes; the stream inflates to ~32 MB
    bomb = gzip.compress(_header(0x08, (30, 4, 5)) + bytes(32 << 20), compresslevel=1, mtime=0)
    assert len(bomb) < 200_000
    bad.write_bytes(bomb)
    del bomb
    with _peak_memory() as mem, _raises(bad, "dimensions", "inflates beyond"):
        data.load_dataset(folder)
    assert mem["peak"] < 4 << 20, mem


def test_data007_huge_header_rejected_before_allocating(tmp_path):
    folder = _folder(tmp_path / "d")
    bad = folder / NAMES["x_train"]
    # 4e9 x 28 x 28 images declared in a 40-byte file
    bad.write_bytes(_header(0x08, (4_000_000_000, 28, 28)) + bytes(24))
    with _peak_memory() as mem, _raises(bad, "dimensions", "limit"):
        data.load_dataset(folder)
    assert mem["peak"] < 1 << 20
    # within the limit but far more than the file holds: raw and gzip
    bad.write_bytes(_header(0x08, (1_000_000, 28, 28)) + bytes(24))
    with _peak_memory() as mem, _raises(bad, "dimensions", "short"):
        data.load_dataset(folder)
    assert mem["peak"] < 1 << 20
    bad.unlink()
    gz = folder / (NAMES["x_train"] + ".gz")
    gz.write_bytes(gzip.compress(_header(0x08, (1_000_000, 28, 28)) + bytes(24), mtime=0))
    with _peak_memory() as mem, _raises(gz, "dimensions", "short"):
        data.load_dataset(folder)
    assert mem["peak"] < 4 << 20


def test_data008_image_and_label_counts_differ(tmp_path):
    arrays = _arrays()
    arrays["y_train"] = arrays["y_train"][:-1]
    folder = _folder(tmp_path / "d", arrays)
    with _raises(folder / NAMES["y_train"], "count", "29 labels", "30 images"):
        data.load_dataset(folder)


def test_data009_labels_out_of_range(tmp_path):
    arrays = _arrays()
    arrays["y_test"] = arrays["y_test"].astype(np.int8)
    arrays["y_test"][3] = -1
    folder = _folder(tmp_path / "neg", arrays)
    with _raises(folder / NAMES["y_test"], "labels", "out of range"):
        data.load_dataset(folder)
    arrays = _arrays()
    arrays["y_train"][0] = 100  # more than 100 classes
    folder = _folder(tmp_path / "big", arrays)
    with _raises(folder / NAMES["y_train"], "labels", "out of range"):
        data.load_dataset(folder)
    # beyond the classes named in classes.txt
    folder = _folder(tmp_path / "named", _arrays(n_classes=3))
    (folder / "classes.txt").write_text("a\nb\n")
    with _raises(folder / NAMES["y_train"], "labels", "out of range 0..1"):
        data.load_dataset(folder)


def test_data010_zero_samples(tmp_path):
    arrays = _arrays()
    arrays["x_train"] = arrays["x_train"][:0]
    arrays["y_train"] = arrays["y_train"][:0]
    folder = _folder(tmp_path / "train", arrays)
    with _raises(folder / NAMES["x_train"], "count", "zero samples"):
        data.load_dataset(folder)
    arrays = _arrays()
    arrays["x_test"] = arrays["x_test"][:0]
    arrays["y_test"] = arrays["y_test"][:0]
    folder = _folder(tmp_path / "test", arrays)
    with _raises(folder / NAMES["x_test"], "count", "zero samples"):
        data.load_dataset(folder)


def test_data011_single_class(tmp_path):
    arrays = _arrays()
    arrays["y_train"][:] = 0
    arrays["y_test"][:] = 0
    folder = _folder(tmp_path / "a", arrays)
    with _raises(folder / NAMES["y_train"], "labels", "single class"):
        data.load_dataset(folder)
    # two classes overall but only one in the training split
    arrays["y_test"][0] = 1
    folder = _folder(tmp_path / "b", arrays)
    with _raises(folder / NAMES["y_train"], "labels", "single class"):
        data.load_dataset(folder)


def test_data012_corrupt_gzip(tmp_path):
    folder = _folder(tmp_path / "d", gz=True)
    bad = folder / (NAMES["y_train"] + ".gz")
    raw = bytearray(bad.read_bytes())
    raw[-6] ^= 0xFF  # CRC32 in the trailer
    bad.write_bytes(bytes(raw))
    with _raises(bad, "gzip stream"):
        data.load_dataset(folder)
    bad.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated stream
    with _raises(bad, "gzip stream"):
        data.load_dataset(folder)


def test_data013_path_not_a_regular_file(tmp_path):
    folder = _folder(tmp_path / "dir")
    target = folder / NAMES["x_train"]
    target.unlink()
    target.mkdir()
    with _raises(target, "not a regular file"):
        data.load_dataset(folder)
    target.rmdir()
    os.mkfifo(target)  # opening it would block forever
    with _raises(target, "not a regular file"):
        data.load_dataset(folder)
    target.unlink()
    target.symlink_to("/dev/zero")  # would never end
    with _raises(target, "not a regular file"):
        data.load_dataset(folder)
    with _raises("/dev/zero", "path", "not a regular file"):
        data.load_dataset("/dev/zero")
    with _raises(tmp_path / "missing", "path", "does not exist"):
        data.load_dataset(tmp_path / "missing")
    ok = _folder(tmp_path / "ok")
    (ok / "classes.txt").mkdir()
    with _raises(ok / "classes.txt", "not a regular file"):
        data.load_dataset(ok)


def test_data014_float_idx_nan_inf(tmp_path):
    arrays = _arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.float32) / 255
    arrays["x_test"] = arrays["x_test"].astype(np.float32) / 255
    folder = _folder(tmp_path / "ok", arrays)
    ds = data.load_dataset(folder)
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.dtype.isnative
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])
    for value in (np.nan, np.inf):
        arrays["x_test"][1, 2, 3] = value
        folder = _folder(tmp_path / f"bad{value}", arrays)
        with _raises(folder / NAMES["x_test"], "values", "NaN or inf"):
            data.load_dataset(folder)


def test_data015_wrong_ndim_and_label_dtype(tmp_path):
    arrays = _arrays()
    arrays["x_train"] = arrays["x_train"].reshape(30, 20)
    folder = _folder(tmp_path / "ndim", arrays)
    with _raises(folder / NAMES["x_train"], "dimensions"):
        data.load_dataset(folder)
    arrays = _arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.float32)
    folder = _folder(tmp_path / "float", arrays)
    with _raises(folder / NAMES["y_train"], "dtype", "integers"):
        data.load_dataset(folder)


def test_data016_train_and_test_image_sizes_differ(tmp_path):
    arrays = _arrays()
    arrays["x_test"] = np.zeros((12, 5, 4), np.uint8)
    folder = _folder(tmp_path / "d", arrays)
    with _raises(folder / NAMES["x_test"], "dimensions", "differs"):
        data.load_dataset(folder)


def test_data017_classes_txt(tmp_path):
    folder = _folder(tmp_path / "d", _arrays(n_classes=3))
    (folder / "classes.txt").write_text("cat\ndog\n bird \n\n")
    ds = data.load_dataset(folder)
    assert ds.class_names == ("cat", "dog", "bird")
    (folder / "classes.txt").write_text("cat\ncat\nbird\n")
    with _raises(folder / "classes.txt", "classes", "unique"):
        data.load_dataset(folder)
    (folder / "classes.txt").write_text("cat\n\nbird\n")
    with _raises(folder / "classes.txt", "classes", "empty"):
        data.load_dataset(folder)
    (folder / "classes.txt").write_text("\n".join(f"c{i}" for i in range(101)))
    with _raises(folder / "classes.txt", "classes", "101 class names"):
        data.load_dataset(folder)


def test_data018_ambiguous_and_missing_files(tmp_path):
    folder = _folder(tmp_path / "d")
    (folder / NAMES["y_test"]).unlink()
    with _raises(folder, "y_test", "no t10k-labels"):
        data.load_dataset(folder)
    folder = _folder(tmp_path / "e")
    shutil.copy(folder / NAMES["x_train"], folder / ("emnist-" + NAMES["x_train"]))
    with _raises(folder, "x_train", "ambiguous"):
        data.load_dataset(folder)


# --------------------------------------------------------------------------
# npz
# --------------------------------------------------------------------------


def _keras_arrays(seed=1):
    a = _arrays(seed=seed, h=6, w=3)
    return {
        "x_train": a["x_train"].astype(np.float32) / 255,
        "y_train": a["y_train"].reshape(-1, 1),
        "x_test": a["x_test"].astype(np.float32) / 255,
        "y_test": a["y_test"].astype(np.int64),
    }


def test_data020_npz_keras_layout(tmp_path):
    arrays = _keras_arrays()
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, **arrays, class_names=np.array(["x", "y", "z"]))
    ds = data.load_dataset(path)
    assert ds.name == "mnist"
    assert ds.x_train.dtype == np.float32
    assert ds.image_shape == (6, 3)
    assert ds.n_features == 18
    assert ds.y_train.dtype == np.int64
    assert ds.y_train.shape == (30,)
    assert ds.class_names == ("x", "y", "z")
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"])
    path2 = tmp_path / "plain.npz"
    np.savez(path2, **_arrays())  # uncompressed, uint8, no class names
    ds2 = data.load_dataset(path2)
    assert ds2.x_train.dtype == np.uint8
    assert ds2.class_names == ("0", "1", "2")


def test_data021_npz_object_array_never_unpickled(tmp_path):
    arrays = _keras_arrays()
    arrays["x_test"] = np.array([object()] * 4, dtype=object)
    path = tmp_path / "obj.npz"
    path.write_bytes(_npz_bytes(arrays))
    with _raises(path, "x_test", "dtype", "object arrays"):
        data.load_dataset(path)


def test_data022_npz_header_declares_more_than_file(tmp_path):
    arrays = _keras_arrays()
    del arrays["x_train"]
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 28, 28)}
    )
    path = tmp_path / "short.npz"
    path.write_bytes(_npz_bytes(arrays, raw={"x_train": head.getvalue() + bytes(40)}))
    with _peak_memory() as mem, _raises(path, "x_train", "shape", "holds only"):
        data.load_dataset(path)
    assert mem["peak"] < 1 << 20
    # and trailing data after the declared array
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": (30, 6, 3)})
    path.write_bytes(_npz_bytes(arrays, raw={"x_train": head.getvalue() + bytes(30 * 18 * 4 + 8)}))
    with _raises(path, "x_train", "shape", "trailing"):
        data.load_dataset(path)


def test_data023_npz_oversized_or_bomb_member(tmp_path, monkeypatch):
    arrays = _keras_arrays()
    arrays["x_train"] = np.zeros((2000, 6, 3), np.float64)  # 288 kB of zeros
    arrays["y_train"] = np.arange(2000) % 3
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **arrays)
    assert path.stat().st_size < 20_000
    monkeypatch.setattr(data, "MAX_ARRAY_BYTES", 100_000)
    with _peak_memory() as mem, _raises(path, "x_train", "size", "limit"):
        data.load_dataset(path)
    assert mem["peak"] < 200_000
    # a member whose .npy header alone declares more than the limit
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": (10**9,)})
    del arrays["x_train"]
    path.write_bytes(_npz_bytes(arrays, raw={"x_train": head.getvalue()}, compress=True))
    with _raises(path, "x_train", "shape", "limit"):
        data.load_dataset(path)


def test_data024_npz_nan_inf(tmp_path):
    for i, value in enumerate((np.nan, -np.inf)):
        arrays = _keras_arrays()
        arrays["x_train"][5, 1, 1] = value
        path = tmp_path / f"bad{i}.npz"
        np.savez(path, **arrays)
        with _raises(path, "x_train", "values", "NaN or inf"):
            data.load_dataset(path)


def test_data025_npz_missing_array_and_not_a_zip(tmp_path):
    arrays = _keras_arrays()
    del arrays["y_test"]
    path = tmp_path / "missing.npz"
    np.savez(path, **arrays)
    with _raises(path, "y_test", "missing"):
        data.load_dataset(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with _raises(junk, "archive"):
        data.load_dataset(junk)
    arrays = _keras_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.float64)
    path = tmp_path / "floatlabels.npz"
    np.savez(path, **arrays)
    with _raises(path, "y_train", "dtype"):
        data.load_dataset(path)


def test_data026_npz_corrupt_member_crc(tmp_path):
    path = tmp_path / "crc.npz"
    path.write_bytes(_npz_bytes(_keras_arrays()))  # stored: data bytes appear verbatim
    raw = bytearray(path.read_bytes())
    member = io.BytesIO()
    np.lib.format.write_array(member, _keras_arrays()["x_train"])
    pos = bytes(raw).find(member.getvalue())
    assert pos > 0
    raw[pos + len(member.getvalue()) - 1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with _raises(path, "x_train", "zip entry", "corrupt"):
        data.load_dataset(path)


# --------------------------------------------------------------------------
# built-in sample and real files
# --------------------------------------------------------------------------


def test_data030_builtin_sample():
    ds = data.load_builtin()
    assert ds is data.load_builtin()  # cached
    assert ds.name == "MNIST sample"
    assert ds.x_train.shape == (10_000, 28, 28)
    assert ds.x_test.shape == (2_000, 28, 28)
    assert ds.x_train.dtype == np.uint8
    assert ds.y_train.dtype == np.int64
    assert ds.class_names == tuple(str(i) for i in range(10))
    assert ds.n_classes == 10
    assert ds.image_shape == (28, 28)
    assert ds.n_features == 784
    assert not ds.x_train.flags.writeable
    assert not ds.y_test.flags.writeable
    assert data.load_by_key(data.BUILTIN) is ds
    readme = (data.SAMPLE_DIR / "README.md").read_text()
    for word in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "scripts/make_sample.py"):
        assert word in readme
    total = sum(p.stat().st_size for p in data.SAMPLE_DIR.glob("*.gz"))
    assert 1_500_000 < total < 2_500_000


def test_data031_builtin_sample_is_prefix_of_mnist(data_full_mnist):
    ds = data.load_builtin()
    np.testing.assert_array_equal(ds.x_train, data_full_mnist.x_train[:10_000])
    np.testing.assert_array_equal(ds.y_train, data_full_mnist.y_train[:10_000])
    np.testing.assert_array_equal(ds.x_test, data_full_mnist.x_test[:2_000])
    np.testing.assert_array_equal(ds.y_test, data_full_mnist.y_test[:2_000])
    readme = (data.SAMPLE_DIR / "README.md").read_text()
    for gz in sorted(data.SAMPLE_DIR.glob("*.gz")):
        content_md5 = hashlib.md5(gzip.decompress(gz.read_bytes()), usedforsecurity=False).hexdigest()
        assert content_md5 in readme, gz.name


def test_data032_builtin_sample_loads_uncached_as_uint8():
    # how fast it loads is measured in bench/bench_core.py, not asserted here
    ds = data.load_builtin.__wrapped__()
    assert ds is not data.load_builtin.__wrapped__()
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape == (10_000, 28, 28)
    assert ds.x_test.shape == (2_000, 28, 28)


def test_data033_full_mnist_stays_uint8(data_full_mnist):
    ds = data_full_mnist
    assert ds.name == "mnist"
    assert ds.x_train.shape == (60_000, 28, 28)
    assert ds.x_test.shape == (10_000, 28, 28)
    assert ds.x_train.dtype == np.uint8
    assert ds.x_train.nbytes == 47_040_000
    assert np.bincount(ds.y_train).tolist()[:3] == [5923, 6742, 5958]


def test_data034_uncompressed_and_variant_names(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    variants = {
        "x_train": "train-images.idx3-ubyte",  # Kaggle's spelling
        "y_train": "train-labels.idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    for key, name in variants.items():
        src = data.SAMPLE_DIR / (NAMES[key] + ".gz")
        payload = src.read_bytes() if name.endswith(".gz") else gzip.decompress(src.read_bytes())
        (folder / name).write_bytes(payload)
    # the same file gzipped and not: the uncompressed one is used
    shutil.copy(data.SAMPLE_DIR / (NAMES["x_test"] + ".gz"), folder / (NAMES["x_test"] + ".gz"))
    ds = data.load_dataset(folder)
    ref = data.load_builtin()
    assert ds.name == "raw"
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, key), getattr(ref, key))


def test_data035_any_image_size_and_class_count(tmp_path):
    arrays = _arrays(n_train=40, n_test=10, h=7, w=3, n_classes=4)
    arrays["x_train"] = arrays["x_train"].astype(np.int16) - 100  # IDX type 0x0B
    arrays["x_test"] = arrays["x_test"].astype(np.int16) - 100
    folder = _folder(tmp_path / "shapes", arrays, gz=True)
    ds = data.load_dataset(folder)
    assert ds.image_shape == (7, 3)
    assert ds.n_classes == 4
    assert ds.x_train.dtype == np.int16
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])
    arrays = _arrays(n_train=200, n_test=100, n_classes=100)
    ds = data.load_dataset(_folder(tmp_path / "hundred", arrays))
    assert ds.n_classes == 100


def test_data036_make_sample_script_reproduces_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "scripts" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.make_sample(SHARED_MNIST, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(p.name for p in data.SAMPLE_DIR.glob("*.gz"))
    for path in written:
        committed = (data.SAMPLE_DIR / path.name).read_bytes()
        assert gzip.decompress(path.read_bytes()) == gzip.decompress(committed)
        # gzip mtime=0: byte-identical (with this machine's zlib, zlib.ZLIB_RUNTIME_VERSION)
        assert path.read_bytes() == committed, (path.name, zlib.ZLIB_RUNTIME_VERSION)


# --------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------


def test_data040_available_datasets_builtin_first_then_data_dir(tmp_path, data_no_env):
    avail = data.available_datasets()
    assert next(iter(avail.items())) == (data.BUILTIN, None)
    folder = _folder(tmp_path / "digits")
    avail = data.available_datasets(str(folder))
    assert list(avail)[0] == data.BUILTIN
    assert avail["data:digits"] == str(folder)
    ds = data.load_by_key("data:digits", str(folder))
    assert ds.name == "digits"
    assert data.load_by_key("data:digits", str(folder)) is ds  # cached
    assert data.dataset_label("data:digits") == "digits (data folder)"


def test_data041_env_variable(tmp_path, monkeypatch, data_no_env):
    path = tmp_path / "env.npz"
    np.savez(path, **_keras_arrays())
    monkeypatch.setenv(data.ENV_DATA, str(path))
    avail = data.available_datasets()
    assert avail["data:env.npz"] == str(path)
    assert data.load_by_key("data:env.npz").image_shape == (6, 3)


def test_data042_bad_data_dir_is_an_error(tmp_path, data_no_env):
    with _raises(tmp_path / "nope", "data folder", "does not exist"):
        data.available_datasets(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with _raises(tmp_path / "empty", "data folder", "no dataset"):
        data.available_datasets(str(tmp_path / "empty"))


def test_data043_parent_folder_lists_each_dataset(tmp_path, data_no_env):
    _folder(tmp_path / "root" / "alpha")
    _folder(tmp_path / "root" / "beta", gz=True)
    np.savez(tmp_path / "root" / "gamma.npz", **_keras_arrays())
    (tmp_path / "root" / "notes").mkdir()
    avail = data.available_datasets(str(tmp_path / "root"))
    assert [k for k in avail if k.startswith("data:")] == ["data:alpha", "data:beta", "data:gamma.npz"]
    assert data.load_by_key("data:beta", str(tmp_path / "root")).name == "beta"


@pytest.mark.skipif(
    not FASHION_DIR.exists() and not os.environ.get("CI"),
    reason="dataset-fashion-mnist is not installed (this test must run in CI)",
)
def test_data044_fashion_mnist_discovered(data_no_env):
    names = sorted(p.name for p in FASHION_DIR.iterdir())
    assert names == sorted(NAMES[k] + ".gz" for k in NAMES)
    avail = data.available_datasets()
    assert list(avail)[:2] == [data.BUILTIN, data.FASHION_MNIST]
    assert avail[data.FASHION_MNIST] == str(FASHION_DIR)
    assert data.dataset_label(data.FASHION_MNIST) == "Fashion-MNIST"
    ds = data.load_by_key(data.FASHION_MNIST)
    assert ds.name == "Fashion-MNIST"
    assert ds.class_names == (
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
    assert ds.x_train.shape == (60_000, 28, 28)
    assert ds.x_test.shape == (10_000, 28, 28)
    assert ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert data.load_by_key(data.FASHION_MNIST) is ds
    # named directly with --data it gets the same names
    assert data.load_dataset(FASHION_DIR).class_names == ds.class_names


def test_data045_fashion_discovery_logic(tmp_path, monkeypatch, data_no_env):
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "absent")
    assert data.FASHION_MNIST not in data.available_datasets()
    with pytest.raises(ValueError, match="not installed"):
        data.load_by_key(data.FASHION_MNIST)
    folder = _folder(tmp_path / "fashion", _arrays(n_classes=10, n_train=40, n_test=20), gz=True)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", folder)
    avail = data.available_datasets()
    assert list(avail) == [data.BUILTIN, data.FASHION_MNIST]
    ds = data.load_by_key(data.FASHION_MNIST)
    assert ds.class_names == data.FASHION_MNIST_CLASSES
    assert ds.name == "Fashion-MNIST"


def test_data046_unknown_keys(data_no_env):
    for key in ("nope", "data:nope", ""):
        with pytest.raises(ValueError, match="unknown dataset key"):
            data.load_by_key(key)
    with pytest.raises(ValueError, match="unknown dataset key"):
        data.dataset_label("nope")
    assert "MNIST sample" in data.dataset_label(data.BUILTIN)


# --------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------


def test_data050_standardize_per_sample_with_constant_guard():
    rng = np.random.default_rng(5)
    xtr = rng.integers(0, 256, size=(8, 12), dtype=np.uint8)
    xtr[3] = 7  # constant image
    xte = rng.integers(0, 256, size=(4, 12), dtype=np.uint8)
    a, (b,) = data.preprocess(xtr, [xte], "standardize")
    assert a.dtype == np.float64
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a[3], np.zeros(12))
    keep = [i for i in range(8) if i != 3]
    np.testing.assert_allclose(a[keep].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(a[keep].std(axis=1), 1, atol=1e-12)
    ref = (xte - xte.mean(axis=1, keepdims=True)) / xte.std(axis=1, keepdims=True)
    np.testing.assert_allclose(b, ref, atol=1e-12)
    assert xtr.dtype == np.uint8  # inputs untouched
    assert xtr[3, 0] == 7


def test_data051_center_uses_training_mean_only():
    xtr = np.array([[0, 10], [2, 30]], dtype=np.uint8)
    xte = np.array([[1, 20], [5, 5]], dtype=np.uint8)
    a, (b,) = data.preprocess(xtr, [xte], "center")
    np.testing.assert_array_equal(a, [[-1, -10], [1, 10]])
    np.testing.assert_array_equal(b, [[0, 0], [4, -15]])


def test_data052_scale_and_none():
    xtr = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    xte = np.array([[255, 0]], dtype=np.uint8)
    a, (b,) = data.preprocess(xtr, [xte], "scale")
    np.testing.assert_allclose(a, [[0, 1], [0.2, 0.4]])
    np.testing.assert_allclose(b, [[1, 0]])
    f = np.array([[-2.0, 2.0], [0.0, 1.0]])
    a, (b,) = data.preprocess(f, [np.array([[4.0, -2.0]])], "scale")  # float: training min/max
    np.testing.assert_allclose(a, [[0, 1], [0.5, 0.75]])
    np.testing.assert_allclose(b, [[1.5, 0]])
    a, (b,) = data.preprocess(xtr, [xte], "none")
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, xtr)
    with pytest.raises(ValueError, match="unknown preprocessing"):
        data.preprocess(xtr, [], "whiten")
    with pytest.raises(ValueError, match="feature count"):
        data.preprocess(xtr, [np.zeros((1, 3))], "none")


def _deskew_reference(img: np.ndarray) -> np.ndarray:
    """One image, written out with loops and np.interp (the trusted twin of data.deskew)."""
    H, W = img.shape
    m = img.sum()
    if m == 0:
        return np.zeros((H, W))
    cy = sum(y * img[y, x] for y in range(H) for x in range(W)) / m
    cx = sum(x * img[y, x] for y in range(H) for x in range(W)) / m
    mu11 = sum((y - cy) * (x - cx) * img[y, x] for y in range(H) for x in range(W)) / m
    mu02 = sum((y - cy) ** 2 * img[y, x] for y in range(H) for x in range(W)) / m
    alpha = mu11 / mu02 if mu02 > 1e-12 else 0.0
    out = np.zeros((H, W))
    for y in range(H):
        src = np.arange(W) + alpha * (y - cy) + cx - (W - 1) / 2
        # zero beyond the edges, fading linearly over the one pixel outside
        out[y] = np.interp(src, np.arange(-1, W + 1), np.r_[0.0, img[y], 0.0], left=0.0, right=0.0)
    return out


def _slanted_bar(H=28, W=28, slope=0.4, x0=9.0):
    """A one-pixel-wide stroke x = x0 + slope*y drawn with linear interpolation."""
    img = np.zeros((H, W))
    for y in range(4, H - 4):
        x = x0 + slope * y
        f = int(np.floor(x))
        img[y, f] += 1 - (x - f)
        img[y, f + 1] += x - f
    return img


def test_data055_deskew_matches_loop_reference_and_leaves_input():
    rng = np.random.default_rng(11)
    imgs = rng.integers(0, 256, size=(7, 12, 10)).astype(np.uint8)
    imgs[:, :, :3] = 0  # off-centre ink
    imgs[2] = 0  # a blank image stays blank
    imgs[4] = 0
    imgs[4, 5, 6] = 200  # a single dot: no slant (mu02 = 0), moved to the middle column
    X = imgs.reshape(7, -1)
    before = X.copy()
    got = data.deskew(X, (12, 10), chunk=3)  # chunks of 3: the chunk edges are exercised
    assert got.dtype == np.float64 and got.shape == X.shape
    np.testing.assert_array_equal(X, before)
    for i in range(7):
        np.testing.assert_allclose(got[i].reshape(12, 10), _deskew_reference(imgs[i].astype(float)), atol=1e-9)
    np.testing.assert_array_equal(got[2], 0)
    assert got[4].reshape(12, 10)[5, 4] + got[4].reshape(12, 10)[5, 5] == pytest.approx(200)


@pytest.mark.parametrize("slope", [-0.5, -0.2, 0.0, 0.3, 0.6])
def test_data056_deskew_straightens_a_slanted_stroke(slope):
    img = _slanted_bar(slope=slope, x0=14 - slope * 14)
    out = data.deskew(img.reshape(1, -1), (28, 28)).reshape(28, 28)
    cols = np.arange(28)
    inked = [y for y in range(28) if out[y].sum() > 0.5]
    centres = np.array([out[y] @ cols / out[y].sum() for y in inked])
    # upright: every row's ink at the same column, the image's middle (13.5)
    assert np.ptp(centres) < 0.05
    assert centres.mean() == pytest.approx(13.5, abs=0.05)
    assert out.sum() == pytest.approx(img.sum(), rel=1e-9)  # ink kept (nothing sheared out)
    if slope:
        in_centres = np.array([img[y] @ cols / img[y].sum() for y in inked])
        assert np.ptp(in_centres) > 5 * abs(slope)  # the input was slanted


def test_data057_deskew_mode_scales_and_needs_the_image_shape():
    img = (_slanted_bar() * 255).astype(np.uint8).reshape(1, -1)
    a, (b,) = data.preprocess(img, [img], "deskew", (28, 28))
    np.testing.assert_allclose(a, data.deskew(img, (28, 28)) / 255)
    np.testing.assert_array_equal(a, b)
    assert 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="deskew needs the image shape"):
        data.preprocess(img, [], "deskew")
    with pytest.raises(ValueError, match="deskew needs the image shape"):
        data.preprocess(img, [], "deskew", (27, 28))
    with pytest.raises(ValueError, match="expected"):
        data.deskew(img, (14, 14))


def test_data058_prepare_deskew_on_the_builtin_sample():
    ds = data.load_builtin()
    p = data.prepare(ds, 200, 50, mode="deskew")
    assert p.mode == "deskew"
    assert p.X_train.shape == (200, ds.n_features)
    assert 0 <= p.X_train.min() and p.X_train.max() <= 1
    ref = data.deskew(ds.x_test[:50].reshape(50, -1), ds.image_shape) / 255
    np.testing.assert_allclose(p.X_test, ref)


# --------------------------------------------------------------------------
# sampling and prepare
# --------------------------------------------------------------------------


def test_data060_first_n_sampling():
    ds = data.load_builtin()
    p = data.prepare(ds, 100, 50, n_val=20, mode="none")
    np.testing.assert_array_equal(p.train_index, np.arange(100))
    np.testing.assert_array_equal(p.val_index, np.arange(100, 120))
    np.testing.assert_array_equal(p.test_index, np.arange(50))
    assert p.X_train.shape == (100, 784)
    assert p.X_val.shape == (20, 784)
    assert p.X_test.shape == (50, 784)
    assert p.X_train.dtype == np.float64
    assert p.y_train.dtype == np.int64
    np.testing.assert_array_equal(p.X_val, ds.x_train[100:120].reshape(20, -1))
    np.testing.assert_array_equal(p.y_test, ds.y_test[:50])
    assert p.class_names == ds.class_names
    assert p.image_shape == (28, 28)
    assert p.mode == "none"
    p0 = data.prepare(ds, 10, 5)
    assert p0.X_val.shape == (0, 784)
    assert p0.y_val.shape == (0,)
    assert p0.mode == "standardize"


def test_data061_stratified_sampling_is_seeded_and_disjoint():
    ds = data.load_builtin()
    p = data.prepare(ds, 1000, 300, n_val=500, mode="center", sampling="stratified", seed=7)
    q = data.prepare(ds, 1000, 300, n_val=500, mode="center", sampling="stratified", seed=7)
    for f in ("X_train", "y_train", "X_val", "X_test", "train_index", "val_index", "test_index"):
        np.testing.assert_array_equal(getattr(p, f), getattr(q, f))
    assert len(np.intersect1d(p.train_index, p.val_index)) == 0
    assert len(np.unique(p.train_index)) == 1000
    assert len(np.unique(p.val_index)) == 500
    # class proportions follow the training split (largest-remainder quotas)
    expected = 1000 * np.bincount(ds.y_train) / len(ds.y_train)
    assert np.all(np.abs(np.bincount(p.y_train, minlength=10) - expected) < 1)
    r = data.prepare(ds, 1000, 300, n_val=500, mode="center", sampling="stratified", seed=8)
    assert not np.array_equal(r.train_index, p.train_index)
    # the training rows do not depend on the validation size
    s = data.prepare(ds, 1000, 300, n_val=0, mode="none", sampling="stratified", seed=7)
    np.testing.assert_array_equal(s.train_index, p.train_index)
    # center mode: the statistics are the training rows' mean
    raw = ds.x_train[p.train_index].reshape(1000, -1).astype(np.float64)
    np.testing.assert_allclose(p.X_test, ds.x_test[p.test_index].reshape(300, -1) - raw.mean(axis=0))


def test_data062_sizes_larger_than_available_are_errors():
    ds = data.load_builtin()
    with pytest.raises(ValueError, match="exceeds the 10,000 training"):
        data.prepare(ds, 9_990, 10, n_val=20)
    with pytest.raises(ValueError, match="exceeds the 10,000 training"):
        data.prepare(ds, 10_001, 10, sampling="stratified")
    with pytest.raises(ValueError, match="exceeds the 2,000 test"):
        data.prepare(ds, 10, 2_001)
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        data.prepare(ds, 0, 10)
    with pytest.raises(ValueError, match="n_val must be >= 0"):
        data.prepare(ds, 10, 10, n_val=-1)
    with pytest.raises(ValueError, match="unknown sampling"):
        data.prepare(ds, 10, 10, sampling="random")
    with pytest.raises(ValueError, match="unknown preprocessing"):
        data.prepare(ds, 10, 10, mode="zscore")
    p = data.prepare(ds, 10_000, 2_000, mode="scale", sampling="stratified")
    assert sorted(p.train_index.tolist()) == list(range(10_000))


def test_data063_prepare_converts_only_selected_rows(data_full_mnist):
    with _peak_memory() as mem:
        p = data.prepare(data_full_mnist, 200, 100, n_val=50, sampling="stratified", seed=1)
    assert p.X_train.shape == (200, 784)
    # 350 rows x 784 x 8 bytes = 2.2 MB; converting all 70,000 would be 440 MB
    assert mem["peak"] < 12 << 20, mem
    assert data_full_mnist.x_train.dtype == np.uint8


# --------------------------------------------------------------------------
# download (local HTTP server on 127.0.0.1 only)
# --------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path.startswith("/error/"):
            self.send_error(500, "boom")
            return
        super().do_GET()


@contextlib.contextmanager
def _serve(directory: Path):
    handler = lambda *a, **k: _Handler(*a, directory=str(directory), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_data070_download_success(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    for f in SHARED_MNIST.glob("*.gz"):
        shutil.copy(f, served / f.name)
    # a mirror that re-compressed a file: accepted by its content checksums
    labels = served / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1, mtime=0))
    calls = []
    dest = tmp_path / "out" / "mnist"
    with _serve(served) as base:
        paths = data.download(
            "mnist", dest, base_urls=[base + "error/", base], progress=lambda *a: calls.append(a)
        )
    assert [p.name for p in paths] == list(data.DOWNLOADS["mnist"]["files"])
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in paths)  # no temp files
    for p in paths:
        assert p.read_bytes() == (served / p.name).read_bytes()
    assert calls[-1][0] == "t10k-labels-idx1-ubyte.gz"
    assert calls[-1][1] == calls[-1][2] == labels.stat().st_size
    ds = data.load_dataset(dest)
    assert ds.x_train.shape == (60_000, 28, 28)
    # a second call keeps the valid files without a server
    assert data.download("mnist", dest, base_urls="http://127.0.0.1:9/") == paths


def test_data071_download_checksum_mismatch_leaves_nothing(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_header(0x08, (60_000, 28, 28)) + bytes(5000), mtime=0)
    )
    dest = tmp_path / "dest"
    with _serve(served) as base, pytest.raises(data.ChecksumError, match="checksum mismatch"):
        data.download("mnist", dest, base_urls=base)
    assert list(dest.iterdir()) == []
    # a bad pre-existing file is replaced only by a verified one
    (dest / "train-images-idx3-ubyte.gz").write_bytes(b"partial")
    with _serve(served) as base, pytest.raises(data.ChecksumError):
        data.download("mnist", dest, base_urls=base)
    assert [p.name for p in dest.iterdir()] == ["train-images-idx3-ubyte.gz"]
    assert (dest / "train-images-idx3-ubyte.gz").read_bytes() == b"partial"


def test_data072_download_server_error(tmp_path):
    dest = tmp_path / "dest"
    with _serve(tmp_path) as base:
        with pytest.raises(data.DownloadError, match="500") as info:
            data.download("fashion-mnist", dest, base_urls=base + "error/")
        assert not isinstance(info.value, data.ChecksumError)
        with pytest.raises(data.DownloadError, match="404"):
            data.download("fashion-mnist", dest, base_urls=[base + "missing/"])
    assert list(dest.iterdir()) == []
    with pytest.raises(ValueError, match="unknown download"):
        data.download("cifar", dest)
    with pytest.raises(ValueError, match="only http and https"):
        data.download("mnist", dest, base_urls="file:///etc/")


@pytest.mark.skipif(not FASHION_DIR.exists(), reason="needs Debian's dataset-fashion-mnist files to serve")
def test_data073_download_fashion_writes_class_names(tmp_path):
    dest = tmp_path / "fashion"
    with _serve(FASHION_DIR) as base:
        paths = data.download("fashion-mnist", dest, base_urls=base)
    assert len(paths) == 4
    assert (dest / "classes.txt").read_text().splitlines() == list(data.FASHION_MNIST_CLASSES)
    assert data.load_dataset(dest).class_names == data.FASHION_MNIST_CLASSES
