"""Small multiples: one image panel per class plus a bias strip, as one plotly figure.

Both the weight templates and the gradient-check heatmaps are "one (H, W)
image per class, and the bias apart". One figure with one heatmap trace per
class (not C separate graphs) keeps the JSON small and lets a ``Patch`` update
every panel by trace index: ``data[c]`` is class ``c``, ``data[C]`` the bias.
"""

from __future__ import annotations

import math

from components import theme


def n_columns(n_classes: int) -> int:
    """Panels per row: 10 classes -> 5 x 2; few classes -> one row; many -> about square."""
    if n_classes <= 5:
        return n_classes
    if n_classes <= 12:
        return math.ceil(n_classes / 2)
    return math.ceil(math.sqrt(n_classes * 1.6))


def grid_layout(
    titles: list[str],
    bias_title: str,
    *,
    bias_height: float = 0.16,
    gap_x: float = 0.025,
    gap_y: float = 0.09,
    title_size: int = 14,
) -> tuple[dict, list[tuple[str, str]], tuple[str, str]]:
    """Layout keys for ``len(titles)`` square image panels in a grid above a
    full-width bias row.

    Returns ``(layout, panel_axes, bias_axes)``: ``panel_axes[c]`` is the
    ``("x3", "y3")`` pair for the trace of class ``c``; ``bias_axes`` the pair of
    the bias trace. Images are drawn the right way up (y reversed) with square
    pixels and no ticks.
    """
    n = len(titles)
    ncols = max(1, n_columns(n))
    nrows = max(1, math.ceil(n / ncols))
    top_of_bias = bias_height + gap_y
    cell_w = (1.0 - gap_x * (ncols - 1)) / ncols
    cell_h = (1.0 - top_of_bias - gap_y * (nrows - 1)) / nrows
    layout: dict = {}
    annotations = []
    panel_axes = []
    for c in range(n):
        r, k = divmod(c, ncols)
        x0 = k * (cell_w + gap_x)
        y1 = 1.0 - r * (cell_h + gap_y)
        i = c + 1
        xname, yname = ("xaxis" if i == 1 else f"xaxis{i}"), ("yaxis" if i == 1 else f"yaxis{i}")
        xref, yref = ("x" if i == 1 else f"x{i}"), ("y" if i == 1 else f"y{i}")
        layout[xname] = dict(
            domain=[x0, x0 + cell_w], anchor=yref, visible=False, constrain="domain", fixedrange=True
        )
        layout[yname] = dict(
            domain=[y1 - cell_h, y1],
            anchor=xref,
            visible=False,
            autorange="reversed",
            scaleanchor=xref,
            scaleratio=1,
            constrain="domain",
            fixedrange=True,
        )
        annotations.append(
            dict(
                text=f"<b>{titles[c]}</b>",
                x=x0 + cell_w / 2,
                y=y1,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=title_size),
            )
        )
        panel_axes.append((xref, yref))
    i = n + 1
    bx, by = f"x{i}", f"y{i}"
    layout[f"xaxis{i}"] = dict(domain=[0.0, 1.0], anchor=by, fixedrange=True, tickfont=dict(size=12))
    layout[f"yaxis{i}"] = dict(domain=[0.0, bias_height], anchor=bx, fixedrange=True)
    annotations.append(
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
        )
    )
    layout["annotations"] = annotations
    return layout, panel_axes, (bx, by)
