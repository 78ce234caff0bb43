"""View 4, summary numbers: the loss split, accuracies, sizes and the time of the last computation.

Big numbers for the projector, a small line under each saying what it is.
"""

from __future__ import annotations

import math

from dash import html

from components import ids, session


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, digits: int = 4) -> str:
    """Four significant digits, trailing zeros kept (2.300 next to ln 10 = 2.303)."""
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        m, e = f"{x:.{max(digits - 3, 1)}e}".split("e")
        return f"{m}e{int(e)}"
    return f"{x:#.{digits}g}".rstrip(".")


def card(card_id: str, label: str, value: str, detail, tip: str) -> html.Div:
    """One number: a label above, the value large, a detail line below; hover explains it."""
    return html.Div(
        id=card_id,
        className="number-card tip",
        **{"data-tip": tip},
        children=[
            html.Div(label, className="number-label"),
            html.Div(value, className="number-value"),
            html.Div(detail, className="number-detail"),
        ],
    )


def cards(a: session.Analysis | None, loss: session.LossChoice | None = None) -> list:
    """The summary strip for an :class:`~components.session.Analysis` (placeholders for None)."""
    if a is None:
        return [
            card(ids.SUMMARY_LOSS, "Loss", "…", "computing", ""),
            card(ids.SUMMARY_TRAIN_ACC, "Train accuracy", "…", "", ""),
            card(ids.SUMMARY_TEST_ACC, "Test accuracy", "…", "", ""),
            card(ids.SUMMARY_SIZES, "Train / test", "…", "", ""),
            card(ids.SUMMARY_TIME, "Computed in", "…", "", ""),
        ]
    reg = f"λ = {session.fmt_sci(loss.reg)}" if loss else ""
    return [
        card(
            ids.SUMMARY_LOSS,
            "Loss",
            _num(a.loss),
            [html.Span(f"data {_num(a.data_loss)}"), " + ", html.Span(f"reg {session.fmt_sci(a.reg_loss)}")],
            f"Total loss on all {a.n_train:,} training samples at the current weights: the mean data loss plus "
            f"the regularization penalty ({reg}). Gradient norm ‖∂L/∂W‖ = {_num(a.grad_norm)}.",
        ),
        card(
            ids.SUMMARY_TRAIN_ACC,
            "Train accuracy",
            _pct(a.train_acc),
            f"on {a.n_train:,} samples",
            "Share of training images whose highest score is their true class.",
        ),
        card(
            ids.SUMMARY_TEST_ACC,
            "Test accuracy",
            _pct(a.test_acc),
            f"on {a.n_test:,} samples" if a.n_test else "no test samples",
            "The same on held-out test images the training never sees.",
        ),
        card(
            ids.SUMMARY_SIZES,
            "Train / test",
            f"{session.short_count(a.n_train)} / {session.short_count(a.n_test)}",
            f"{a.n_features:,} px · {a.n_classes} classes",
            f"{a.n_train:,} training, {a.n_val:,} validation and {a.n_test:,} test images; "
            f"D pixels per image, C classes; W has (D+1) × C = {(a.n_features + 1) * a.n_classes:,} entries.",
        ),
        card(
            ids.SUMMARY_TIME,
            "Computed in",
            f"{a.seconds * 1000:.0f} ms",
            [
                html.Span(f"loss {a.seconds_loss * 1000:.0f}"),
                " · ",
                html.Span(f"check {a.seconds_check * 1000:.0f} ms"),
            ],
            "Server time for the loss, gradient and accuracies on all training samples plus the gradient check.",
        ),
    ]


def layout(children: list | None = None) -> html.Div:
    return html.Div(
        id=ids.SUMMARY, className="numbers", children=children if children is not None else cards(None)
    )
