"""The boundary: every callback argument is untrusted, so every callback body runs under :func:`guarded`.

A browser sends what its controls allow, but anyone can post any JSON to
``/_dash-update-component``: a value outside the option list, NaN, 1e400, a
list where a number belongs. The parsing helpers in :mod:`components.session`
check type, range and option of every value before it is used and raise
:class:`InputError` naming the control. :func:`guarded` turns that (and any
other ValueError / TypeError of parsing) into a readable alert on the page,
leaves every other output as it was (``no_update``), and never lets an
exception become a 500 with a traceback: unexpected errors are logged on the
server and shown as one line.

Nothing here imports dash at module level, so the pure ``session`` module can
raise :class:`InputError` without depending on dash.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

log = logging.getLogger("lincls.guard")


class InputError(ValueError):
    """A callback input that is rejected at the boundary.

    ``control`` is the control's label as the page shows it (e.g. "training
    samples"); ``str(exc)`` is the whole message, which names the control.
    A ValueError, so code that already handles ValueError handles it too.
    """

    def __init__(self, control: str, message: str):
        self.control = control
        self.message = message if control.lower() in message.lower() else f"{control}: {message}"
        super().__init__(self.message)


class Refused(Exception):
    """A request answered with ``outputs`` where no callback body runs: a
    background callback's check before its job is started (``checked_first``
    in :mod:`components.jobs`). Dash hands it to the app's ``on_error``
    (:func:`on_error`), which answers with these outputs: the request gets
    the callback's own rejection (its alert, the other outputs unchanged) and
    no job is started."""

    def __init__(self, outputs):
        self.outputs = outputs
        super().__init__("refused before the job was started")


# What counts as a rejected input: the parsing helpers' own errors, and the
# TypeError / KeyError / ... a value of the wrong shape causes in code that
# reads it (a list where a dict belongs, a string where a list belongs).
REJECTED = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)

MAX_SHOWN = 300  # characters of an error message shown on the page


def describe(exc: BaseException) -> str:
    """The one-line text of a rejected value for the page (never a traceback)."""
    if isinstance(exc, ValueError):
        text = str(exc)
    else:  # the text of a TypeError etc. names code, not a control
        text = f"a value of the wrong type or shape was sent ({type(exc).__name__})"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def check_before(inputs: Callable, refused: Callable) -> Callable:
    """A check for ``components.jobs.checked_first``: calls ``inputs`` (the
    job's own checking of its arguments) and answers None when it accepts
    them, else ``refused(exc)``, the job's own answer to a rejected value."""

    def check(*args):
        try:
            inputs(*args)
        except REJECTED as exc:
            return refused(exc)
        return None

    return check


def alert_for(message: str):
    from components.analysis import alert  # the page's one alert component

    return alert(message)


def guarded(*, outputs: int, alert: int | None = None, prefix: str = "") -> Callable:
    """Decorate a callback body (below ``@dash.callback``).

    ``outputs``: how many outputs the callback has; ``alert``: the index of its
    alert-area output (``None``: it has none, and a rejected input leaves every
    output unchanged); ``prefix``: put before the message ("Cannot train: ").
    ``PreventUpdate`` passes through. A background callback's ``set_progress``
    passes through untouched.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from dash import no_update
            from dash.exceptions import PreventUpdate

            try:
                return fn(*args, **kwargs)
            except PreventUpdate:
                raise
            except REJECTED as exc:
                message = prefix + describe(exc)
                if not isinstance(exc, InputError):
                    log.info("%s: rejected input: %r", fn.__name__, exc)
            except Exception as exc:  # noqa: BLE001 - a failure is a message, never a 500
                log.exception("%s failed", fn.__name__)
                message = f"{prefix}{fn.__name__.replace('_', ' ')} failed ({type(exc).__name__}); see the server log."
            if alert is None:
                raise PreventUpdate
            out = [no_update] * outputs
            out[alert] = alert_for(message)
            return out[0] if outputs == 1 else tuple(out)

        return wrapper

    return decorate


_BACKGROUND_PREFIX = "An error occurred inside a background callback: "


def error_text(exc: Exception) -> str:
    """What the page says about an exception no callback handled: a rejected
    value's message, a background job's own message (the busy or stopped-job
    text of components/jobs.py), else only the exception's type."""
    text = str(exc)
    if text.startswith(_BACKGROUND_PREFIX):  # Dash's BackgroundCallbackError: "<prefix><msg>\n<traceback>"
        msg = text[len(_BACKGROUND_PREFIX) :].split("\n", 1)[0]
        tb = text[len(_BACKGROUND_PREFIX) + len(msg) :].strip()
        return describe(ValueError(msg)) if not tb else "A background job failed; see the server log."
    if isinstance(exc, ValueError):
        return describe(exc)
    return f"Something failed ({type(exc).__name__}); see the server log."


def on_error(exc: Exception):
    """The app's global ``on_error``: the last net under a callback that is not
    :func:`guarded` (e.g. a new view's). Logs the exception, leaves every output
    as it was, and shows one line (never a traceback) in the compute alert area.
    A :class:`Refused` request is answered with its outputs instead."""
    import dash

    from components import ids

    if isinstance(exc, Refused):  # a background callback's check: its outputs, nothing started
        return exc.outputs
    log.error("callback failed: %s", str(exc).split("\n", 1)[0], exc_info=exc)
    try:
        dash.set_props(ids.ALERT_COMPUTE, {"children": alert_for(error_text(exc))})
    except Exception:  # noqa: BLE001 - outside a callback context: nothing to show it in
        pass
    return None
