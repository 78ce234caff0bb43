"""Pieces shared by the four views of "Inspect the classifier" (examples, evaluation, compare, hypergrid).

Nothing here holds state: the sidebar's values come in as callback arguments,
the weights as the ``weights-store`` payload, and every helper is a plain
function of them.

* Tab values and :func:`visible` (each view computes only while its tab shows).
* :data:`DATA_IDS` / :data:`LOSS_IDS` and :func:`choices`: the sidebar's data
  and loss controls, parsed the way the main view parses them.
* :func:`png_data_uri` / :func:`thumbnail`: a raw image as a small PNG
  (``<img src="data:...">``; no Pillow, a dozen lines of zlib).
* Small HTML helpers (subscripts, captions, notes, table numbers); the views' formulas are
  typeset with MathJax (``components.formulas.teach_formula``).
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import plotly.graph_objects as go
from dash import Input, State, html

from components import ids, session, theme

# -- tabs ---------------------------------------------------------------------

TAB_EXAMPLES = "examples"
TAB_MISTAKES = "mistakes"
TAB_COMPARE = "compare"
TAB_GRID = "grid"


def visible(tab, mine: str) -> bool:
    """Is the view ``mine`` the one showing?"""
    return tab == mine


# -- the sidebar's values -----------------------------------------------------

DATA_IDS = (ids.DATASET, ids.TRAIN_SIZE, ids.TEST_SIZE, ids.PREPROCESSING)
LOSS_IDS = (ids.LOSS, ids.REG, ids.REG_MODE, ids.REG_BIAS, ids.DELTA)
TRAIN_IDS = (ids.INIT, ids.SEED, ids.LR, ids.BATCH_SIZE, ids.EPOCHS)


def inputs(control_ids) -> list[Input]:
    return [Input(i, "value") for i in control_ids]


def states(control_ids) -> list[State]:
    return [State(i, "value") for i in control_ids]


def data_of(dataset, train_size, test_size, preprocessing) -> session.DataChoice:
    return session.data_choice(dataset, train_size, test_size, preprocessing)


def loss_of(loss, reg, reg_mode, reg_bias, delta) -> session.LossChoice:
    return session.loss_choice(loss, reg, reg_mode, reg_bias, delta)


def current_weights(weights: dict | None, prep, dataset: str) -> np.ndarray:
    """The stored W, checked against the prepared data (ValueError with a readable message)."""
    shape = (prep.n_features + 1, prep.n_classes)
    if not session.weights_fit(weights, dataset, shape):
        raise ValueError("the weights do not fit this dataset yet: press Reset weights")
    return session.decode_weights(weights)


SPLITS = {"train": "training", "test": "test"}


def split_arrays(prep, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the prepared ``"train"`` or ``"test"`` split."""
    if split == "train":
        return prep.X_train, prep.y_train
    if split == "test":
        return prep.X_test, prep.y_test
    raise ValueError(f"unknown split {split!r}")


def raw_image(dataset: str, prep, split: str, i: int) -> np.ndarray:
    """The original (not preprocessed) image of sample ``i`` of a prepared split."""
    ds = session.load_dataset(dataset)
    if split == "train":
        return ds.x_train[int(prep.train_index[i])]
    return ds.x_test[int(prep.test_index[i])]


# -- images -------------------------------------------------------------------


def to_uint8(img: np.ndarray) -> np.ndarray:
    """uint8 pixels: as they are for uint8 data, else min..max stretched to 0..255."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.nan_to_num((a - lo) / span * 255.0), 0, 255).round().astype(np.uint8)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def png_bytes(img: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a 2-D image."""
    a = to_uint8(img)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {a.shape}")
    h, w = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def png_data_uri(img: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")


def thumbnail(img: np.ndarray, alt: str, cls: str = "thumb") -> html.Img:
    return html.Img(src=png_data_uri(img), alt=alt, title=alt, className=cls)


# -- figures ------------------------------------------------------------------------


def placeholder(text: str = "") -> go.Figure:
    """An empty figure with a muted line of text, without plotly.py's default
    template (7 KB of JSON each; a placeholder draws nothing it would style)."""
    return go.Figure(
        layout=theme.base_layout(
            template={},
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            annotations=[dict(text=text, showarrow=False, font=dict(size=15, color=theme.MUTED))] if text else [],
        )
    )


# -- text -----------------------------------------------------------------------


def sub(*parts) -> html.Sub:
    return html.Sub(list(parts))


def caption(text) -> html.P:
    return html.P(text, className="caption")


def message(text: str, kind: str = "info") -> html.Div:
    """A short note inside a view (``kind="error"`` for a problem)."""
    return html.Div(text, className=f"inspect-note inspect-note-{kind}", role="alert" if kind == "error" else None)


def fmt(x: float, digits: int = 3) -> str:
    """A table number: fixed decimals, a real minus sign, "–" for non-finite."""
    if x is None or not np.isfinite(x):
        return "–"
    s = f"{x:.{digits}f}"
    if s.lstrip("-").strip("0.") == "":
        s = s.lstrip("-")  # no "-0.000"
    return s.replace("-", "−")
