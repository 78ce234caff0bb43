"""Small multiples: one image panel per class plus a bias row, as one plotly figure.

Both the weight templates and the gradient-check heatmaps are "one (H, W)
image per class, and the bias apart". The class images are tiled into one
mosaic (panels separated by a blank line) and drawn as a *single* heatmap
trace: plotly draws that in a tenth of the time of ten heatmap subplots, which
is what lets the templates redraw several times a second while training. The
bias gets its own small axes below (trace 1), so a ``Patch`` of a figure is
``data[0].z`` (the mosaic) and ``data[1]`` (the bias).

Hover: ``customdata`` holds, for every cell, (class index, pixel row, pixel
column) as uint8, sent once with the whole figure (a Patch leaves it alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from components import theme

GAP = 2  # blank columns between panels (rows get more: room for the titles)


def n_columns(n_classes: int) -> int:
    """Panels per row: 10 classes -> 5 x 2; few classes -> one row; many -> about square."""
    if n_classes <= 5:
        return n_classes
    if n_classes <= 12:
        return math.ceil(n_classes / 2)
    return math.ceil(math.sqrt(n_classes * 1.6))


@dataclass(frozen=True)
class Mosaic:
    """Where each class's (H, W) panel sits in the tiled image."""

    n_classes: int
    height: int
    width: int
    gap: int = GAP

    @property
    def row_gap(self) -> int:
        """Blank rows above each row of panels but the first: room for a title."""
        return max(self.gap, round(0.3 * self.height))

    @property
    def ncols(self) -> int:
        return max(1, n_columns(self.n_classes))

    @property
    def nrows(self) -> int:
        return max(1, math.ceil(self.n_classes / self.ncols))

    @property
    def shape(self) -> tuple[int, int]:
        g, rg = self.gap, self.row_gap
        return (self.nrows * (self.height + rg) - rg, self.ncols * (self.width + g) - g)

    def origin(self, c: int) -> tuple[int, int]:
        """Top-left cell of class ``c``'s panel."""
        r, k = divmod(c, self.ncols)
        return r * (self.height + self.row_gap), k * (self.width + self.gap)

    def tile(self, images: np.ndarray) -> np.ndarray:
        """(C, H, W) -> the float32 mosaic, NaN between panels."""
        out = np.full(self.shape, np.nan, dtype=np.float32)
        for c in range(self.n_classes):
            r0, c0 = self.origin(c)
            out[r0 : r0 + self.height, c0 : c0 + self.width] = images[c]
        return out

    def pixel_index(self) -> np.ndarray:
        """(rows, cols, 3): class, pixel row, pixel column of every cell (0 in the gaps,
        which show no hover). uint8 when everything fits (a third of the JSON of
        int16; and no 0xFF bytes, whose base64 "/" plotly's JSON escapes to 6 chars)."""
        small = max(self.n_classes, self.height, self.width) <= 255
        out = np.zeros((*self.shape, 3), dtype=np.uint8 if small else np.int16)
        rr, cc = np.mgrid[0 : self.height, 0 : self.width]
        for c in range(self.n_classes):
            r0, c0 = self.origin(c)
            block = out[r0 : r0 + self.height, c0 : c0 + self.width]
            block[..., 0] = c
            block[..., 1] = rr
            block[..., 2] = cc
        return out

    def titles(self, names: list[str], size: int = 15) -> list[dict]:
        """One annotation per panel, centred above it (data coordinates of the mosaic axes)."""
        out = []
        for c, name in enumerate(names):
            r0, c0 = self.origin(c)
            out.append(
                dict(
                    text=f"<b>{name}</b>",
                    x=c0 + (self.width - 1) / 2,
                    y=r0 - 0.5,
                    xref="x",
                    yref="y",
                    xanchor="center",
                    yanchor="bottom",
                    showarrow=False,
                    font=dict(size=size),
                )
            )
        return out


def mosaic_layout(mosaic: Mosaic, names: list[str], bias_title: str, *, bias_height: float = 0.16) -> dict:
    """Layout keys: the mosaic on ``x``/``y`` (square pixels, upright images, no
    ticks) above a full-width bias row on ``x2``/``y2``."""
    rows, cols = mosaic.shape
    top = bias_height + 0.1
    return dict(
        xaxis=dict(
            domain=[0.0, 1.0], range=[-0.5, cols - 0.5], visible=False, constrain="domain", fixedrange=True
        ),
        yaxis=dict(
            domain=[top, 0.93],
            range=[rows - 0.5, -0.5],
            visible=False,
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
            fixedrange=True,
        ),
        xaxis2=dict(
            domain=[0.0, 1.0], anchor="y2", fixedrange=True, tickfont=dict(size=12, color=theme.TEXT)
        ),
        yaxis2=dict(domain=[0.0, bias_height], anchor="x2", fixedrange=True),
        annotations=[
            *mosaic.titles(names),
            dict(
                text=bias_title,
                x=0.0,
                y=bias_height,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=12, color=theme.MUTED),
            ),
        ],
    )
