"""Make the built-in MNIST sample in core/sample_data/mnist-sample/.

Takes the first 10,000 training and the first 2,000 test images (and labels),
in their original order, from the four original MNIST IDX files and writes them
in the same IDX gzip format (gzip mtime=0, so re-running gives the same bytes
with the same zlib). Usage, from the repository root:

    python scripts/make_sample.py [--src ../shared/data/mnist] [--dest core/sample_data/mnist-sample]

Then check the digests printed against core/sample_data/mnist-sample/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.data import load_dataset, write_idx  # noqa: E402

DEFAULT_SRC = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_DEST = REPO / "core" / "sample_data" / "mnist-sample"
FILES = (
    ("train-images-idx3-ubyte.gz", "x_train"),
    ("train-labels-idx1-ubyte.gz", "y_train"),
    ("t10k-images-idx3-ubyte.gz", "x_test"),
    ("t10k-labels-idx1-ubyte.gz", "y_test"),
)


def make_sample(src: Path, dest: Path, n_train: int = 10_000, n_test: int = 2_000) -> list[Path]:
    ds = load_dataset(src)  # validates the originals
    if ds.x_train.dtype.name != "uint8":
        raise SystemExit(f"{src}: expected uint8 images, got {ds.x_train.dtype}")
    parts = {
        "x_train": ds.x_train[:n_train],
        "y_train": ds.y_train[:n_train].astype("uint8"),
        "x_test": ds.x_test[:n_test],
        "y_test": ds.y_test[:n_test].astype("uint8"),
    }
    if len(parts["x_train"]) != n_train or len(parts["x_test"]) != n_test:
        raise SystemExit(f"{src}: fewer samples than requested")
    dest.mkdir(parents=True, exist_ok=True)
    return [write_idx(dest / fname, parts[key]) for fname, key in FILES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder with the four original MNIST files")
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output folder")
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    args = ap.parse_args(argv)
    for path in make_sample(args.src, args.dest, args.n_train, args.n_test):
        raw = path.read_bytes()
        content = gzip.decompress(raw)
        print(
            f"{path.name}: {len(raw):,} bytes gz sha256 {hashlib.sha256(raw).hexdigest()}; "
            f"content {len(content):,} bytes md5 {hashlib.md5(content, usedforsecurity=False).hexdigest()}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
