"""Training jobs on a shared server: a bounded number at a time, none that spins forever.

* **Slots.** At most ``$LINCLS_MAX_JOBS`` (default 2) training jobs run at once
  on a machine. A job holds one of that many lock files (``flock``) in
  :func:`slot_dir` for its whole run; the kernel frees the lock when the
  job's process ends, however it ends (done, crashed, stopped, killed), so a
  slot is never lost. Every process on the machine shares the pool: gunicorn
  workers, Diskcache job processes, Celery workers.
* **Busy.** When every slot is taken, Train answers at once with "The server is
  busy …" instead of queueing: the manager (:class:`DiskcacheJobs`,
  :class:`CeleryJobs`) does not even start a process or send a task, and a job
  that races past that check and finds no slot returns the same message.
* **Checked first.** A background callback decorated with
  :func:`checked_first` has its arguments checked in the web worker before
  anything is started: a rejected value is answered at once with the
  callback's own message (through the app's ``on_error``,
  :class:`components.guard.Refused`), and no process is started, no task sent,
  no slot taken. The job checks them again (a job function may be called
  directly).
* **Sign of life.** A running job writes a heartbeat into the job store every
  :data:`HEARTBEAT_S`. While the page polls for the result, the manager
  checks it: a job whose process is gone without a result (Diskcache), whose
  Celery task failed, or that has shown no sign of life for
  ``$LINCLS_JOB_DEADLINE`` seconds (default 30; a queued Celery task gets
  :data:`START_GRACE` times that to start) is reported on the page as
  stopped, instead of the page polling forever.
* **Time limit.** A run stops after ``$LINCLS_JOB_MAX_S`` seconds (default
  900); the weights streamed so far are kept, as with Stop.
* **Priority.** A job runs at nice ``$LINCLS_JOB_NICE`` (default 5): when
  the cores are busy, a page request (a control change, the gradient check)
  gets about three times the CPU share of a training job (Linux weights 1024
  against 335), so training streams a little later instead of the page
  waiting. Not more: at nice 10 (weight 110) a job on a machine busy with
  other work gets a few percent of a core (in one load test there, a short
  run got no answer within 90 s).

* **Stop.** A job ended on purpose (Stop, a newer run) is forgotten as it is
  ended, so the page's next poll reads "cancelled" (Dash's 204: the page keeps
  what the job streamed) instead of a started job gone ("stopped
  unexpectedly").
* **Handover.** Two races in Dash's polling are closed: a job that writes its
  result and ends between a poll's "result?" and "running?" counts as running
  until its result is collected (Dash would answer "cancelled" and drop it),
  and a result is left for the next poll while the job's last progress is still
  unread (taking it would clear that progress).

Only jobs started through the manager are limited: calling a job function
directly (tests, scripts) runs it as it is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable

from dash import DiskcacheManager, no_update

log = logging.getLogger("lincls.jobs")

ENV_MAX_JOBS = "LINCLS_MAX_JOBS"
ENV_SLOTS = "LINCLS_SLOTS"
ENV_DEADLINE = "LINCLS_JOB_DEADLINE"
ENV_MAX_S = "LINCLS_JOB_MAX_S"
ENV_NICE = "LINCLS_JOB_NICE"
DEFAULT_MAX_JOBS = 2
DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_S = 900.0
DEFAULT_NICE = 5
HEARTBEAT_S = 1.0
START_GRACE = 4  # a queued task may take this many deadlines to start
CONTEXT_KEY = "lincls_job"  # the job's store key, passed to the job in its callback context
BUSY_JOB = "busy"  # the job handle of a request turned away (nothing was started)
KEEP_S = 3600  # how long heartbeat and bookkeeping entries live in the store
BUSY_RETRIES = 3  # looks again before "busy": a slot seen held may have been a count's instant
BUSY_RETRY_S = 0.02

BUSY_MESSAGE = "The server is busy ({n} training jobs are running). Try again in a moment."
LOST_MESSAGE = "The training job stopped unexpectedly ({why}). Press Train to try again."


def _env_number(name: str, default: float, lo: float, hi: float) -> float:
    try:
        v = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return v if lo <= v <= hi else default


def max_jobs() -> int:
    return int(_env_number(ENV_MAX_JOBS, DEFAULT_MAX_JOBS, 1, 256))


def deadline_s() -> float:
    return _env_number(ENV_DEADLINE, DEFAULT_DEADLINE_S, 1, 86_400)


def max_run_s() -> float:
    return _env_number(ENV_MAX_S, DEFAULT_MAX_S, 1, 7 * 86_400)


def job_nice() -> int:
    return int(_env_number(ENV_NICE, DEFAULT_NICE, 0, 19))


def lower_priority() -> None:
    """Run the calling thread (a job's) at nice :func:`job_nice` at least (Linux: per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        if os.getpriority(os.PRIO_PROCESS, 0) < job_nice():
            os.setpriority(os.PRIO_PROCESS, 0, job_nice())


def cache_dir() -> str:
    """The Diskcache folder (``$LINCLS_CACHE``, default ``<tmp>/lincls-dash-cache``)."""
    return os.environ.get("LINCLS_CACHE") or os.path.join(tempfile.gettempdir(), "lincls-dash-cache")


def slot_dir() -> str:
    """Where the slot lock files live (``$LINCLS_SLOTS``, default ``<cache>/slots``)."""
    return os.environ.get(ENV_SLOTS) or os.path.join(cache_dir(), "slots")


# -- slots ---------------------------------------------------------------------------------


class Slot:
    """One held slot: an open, flock-ed file descriptor (closing it frees the slot)."""

    def __init__(self, fd: int, index: int):
        self.fd, self.index = fd, index

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _lock_slot(folder: str, i: int) -> int | None:
    """A file descriptor holding slot ``i``'s lock, or None when another holds it."""
    fd = os.open(os.path.join(folder, f"slot-{i}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def try_acquire(folder: str | None = None, n: int | None = None) -> Slot | None:
    """A free slot of the ``n`` in ``folder``, held until released or the process ends; None if all are taken."""
    folder = folder or slot_dir()
    n = n or max_jobs()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for i in range(n):
        fd = _lock_slot(folder, i)
        if fd is not None:
            return Slot(fd, i)
    return None


def _slot_free(folder: str, i: int) -> bool:
    """Whether slot ``i`` is free: taken and given back at once (held for microseconds)."""
    fd = _lock_slot(folder, i)
    if fd is None:
        return False
    os.close(fd)  # closing gives the lock back
    return True


def slots_in_use(folder: str | None = None, n: int | None = None) -> int:
    """How many of the ``n`` slots are held right now (a snapshot).

    Each slot is tested alone, so a count holds at most one slot, for
    microseconds; a count that finds every slot held looks again (see
    :data:`BUSY_RETRIES`): another count, or a job testing slots on its way to a
    free one, can hold a slot for that instant, and two Train presses on two
    workers at once were told "busy" with only one job running."""
    folder = folder or slot_dir()
    n = n or max_jobs()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for attempt in range(BUSY_RETRIES + 1):
        used = sum(not _slot_free(folder, i) for i in range(n))
        if used < n or attempt == BUSY_RETRIES:
            return used
        time.sleep(BUSY_RETRY_S)
    return n  # not reached


# -- the job side ----------------------------------------------------------------------------


class TimeLimit(RuntimeError):
    """A run reached ``$LINCLS_JOB_MAX_S``."""


def _job_context() -> dict:
    from dash._callback_context import context_value

    try:
        return context_value.get() or {}
    except LookupError:
        return {}


def limited(fn: Callable, progress: bool = True, manager: _Limits | None = None) -> Callable:
    """Wrap a background job function (the manager does it for every background callback).

    Started by the manager, it runs only while holding a slot, at nice
    :func:`job_nice`, writes a heartbeat into ``manager``'s store while it
    runs (none without one), and its ``set_progress`` (first argument when
    ``progress``) raises :class:`TimeLimit` once the run is older than
    ``$LINCLS_JOB_MAX_S`` (the job's own error handling then keeps what it
    streamed). No free slot: the busy message as the result (:func:`failure_outputs`)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        context = _job_context()
        key = context.get(CONTEXT_KEY)
        if key is None:  # not started by the manager: run as is
            return fn(*args, **kwargs)
        slot = try_acquire()
        for _ in range(BUSY_RETRIES):  # a count may hold a free slot for an instant
            if slot is not None:
                break
            time.sleep(BUSY_RETRY_S)
            slot = try_acquire()
        if slot is None:
            return failure_outputs(context.get("outputs_list"), BUSY_MESSAGE.format(n=max_jobs()))
        lower_priority()  # before the heartbeat thread, which inherits it
        stop = threading.Event()
        if manager is not None:
            threading.Thread(
                target=_heartbeat, args=(manager, key, stop), daemon=True, name="lincls-heartbeat"
            ).start()
        if progress and args:
            limit_at = time.monotonic() + max_run_s()
            set_progress = args[0]

            def checked_progress(value):
                if time.monotonic() > limit_at:
                    raise TimeLimit(
                        f"this server stops a run after {max_run_s():.0f} s; the weights so far are kept"
                    )
                return set_progress(value)

            args = (checked_progress, *args[1:])
        try:
            return fn(*args, **kwargs)
        finally:
            stop.set()
            slot.release()

    return wrapper


def _heartbeat(manager: _Limits, key: str, stop: threading.Event) -> None:
    while True:
        try:
            manager.store_set(f"{key}-alive", time.time())
        except Exception:  # noqa: BLE001 - a missed beat only makes the page wait
            log.warning("heartbeat for %s failed", key, exc_info=True)
        if stop.wait(HEARTBEAT_S):
            return


# -- the web side: managers ------------------------------------------------------------------

CHECK_ATTR = "lincls_check_first"


def checked_first(check: Callable) -> Callable:
    """Decorate a background callback's body (anywhere below ``@dash.callback``;
    ``functools.wraps`` carries the mark outwards) so that the manager calls
    ``check`` with the callback's arguments (its inputs and state, without
    ``set_progress``) before it starts a job. ``check`` returns None to start
    the job, or the callback's outputs to answer with instead (a rejection
    message); it may raise ``PreventUpdate`` (answer: nothing changes). It runs
    in the web worker: keep it to checking values (cached data are fine). The
    answer goes out through the app's ``on_error``, which must be
    :func:`components.guard.on_error` (as in app.py)."""

    def decorate(fn: Callable) -> Callable:
        setattr(fn, CHECK_ATTR, check)
        return fn

    return decorate


def _job_key(job) -> str:
    """The store key that maps a started job's handle to its result key."""
    return f"lincls-job-{job}"


def _is_alert(o) -> bool:
    return (
        isinstance(o, dict)
        and str(o.get("id", "")).startswith("alert-")
        and str(o.get("property", "")).split("@", 1)[0] == "children"
    )


def failure_outputs(outputs_list, message: str):
    """The callback's outputs for a job that never ran or never finished: the
    message in its alert area (an output ``alert-*.children``), no change
    elsewhere. For a callback without an alert output, Dash's error result
    (no traceback), which the app's ``on_error`` (guard.on_error) shows."""
    from components.guard import alert_for

    multi = isinstance(outputs_list, list)
    items = outputs_list if multi else [outputs_list]
    if not any(_is_alert(o) for o in items):
        return {"background_callback_error": {"msg": message, "tb": ""}}
    out = [alert_for(message) if _is_alert(o) else no_update for o in items]
    return out if multi else out[0]


class _Limits:
    """What :class:`DiskcacheJobs` and :class:`CeleryJobs` add to Dash's managers."""

    UNDEFINED: object

    # the store: implemented per manager
    def store_set(self, key: str, value) -> None:
        raise NotImplementedError

    def store_get(self, key: str):
        raise NotImplementedError

    def store_delete(self, key: str) -> None:
        raise NotImplementedError

    def store_result(self, key: str, value) -> None:
        raise NotImplementedError

    def store_has(self, key: str) -> bool:
        return self.store_get(key) is not None

    def job_gone(self, job) -> str | None:
        """Why the job is known to be gone without a result, or None."""
        return None

    def make_job_fn(self, fn, progress, key=None):
        # the job writes its heartbeat through the manager that made it: in a
        # Diskcache job process (forked from the web worker) and in a Celery
        # worker (which builds its own manager when it imports the app) alike
        job_fn = super().make_job_fn(limited(fn, bool(progress), self), progress, key)
        check = getattr(fn, CHECK_ATTR, None)
        if check is not None:  # called through Dash's registry, which keeps job_fn alive
            self.__dict__.setdefault("_checks", {})[id(job_fn)] = check
        return job_fn

    def check_first(self, job_fn, args) -> None:
        """Raise :class:`components.guard.Refused` with the outputs of the job's
        :func:`checked_first` check when it rejects ``args`` (nothing is started then)."""
        check = self.__dict__.get("_checks", {}).get(id(job_fn))
        if check is None:
            return
        outputs = check(**args) if isinstance(args, dict) else check(*args)
        if outputs is not None:
            from components.guard import Refused

            raise Refused(outputs)

    def call_job_fn(self, key, job_fn, args, context):
        self.check_first(job_fn, args)  # a rejected value: answered at once, no slot counted
        outputs = context.get("outputs_list")
        in_use = slots_in_use()
        if in_use >= max_jobs():
            self.store_result(key, failure_outputs(outputs, BUSY_MESSAGE.format(n=in_use)))
            return BUSY_JOB
        self.store_set(f"{key}-meta", {"t": time.time(), "outputs": outputs})
        self.store_delete(f"{key}-alive")
        context = dict(context)
        context[CONTEXT_KEY] = key
        job = super().call_job_fn(key, job_fn, args, context)
        self.store_set(_job_key(job), key)
        return job

    def get_result(self, key, job):
        if self.result_ready(key) and self._progress_pending(key):
            # Dash reads a poll's progress, then its result, and taking the result
            # clears any progress not read yet. A job that wrote its last progress
            # (a final status, a grid's last cell) and its result between the two
            # would lose that progress; left for the next poll, which reads the
            # progress first and then the result (job_running: still "running").
            return self.UNDEFINED
        result = super().get_result(key, job)
        if result is not self.UNDEFINED:
            self._forget(key, job)
            return result
        why = self._lost(key, job)
        if why is None:
            return self.UNDEFINED
        result = super().get_result(key, job)  # it may have finished just now
        if result is not self.UNDEFINED:
            self._forget(key, job)
            return result
        meta = self.store_get(f"{key}-meta") or {}
        log.warning("training job %s lost: %s", job, why)
        with contextlib.suppress(Exception):
            self.terminate_job(job)
        self._forget(key, job)
        return failure_outputs(meta.get("outputs"), LOST_MESSAGE.format(why=why))

    def _lost(self, key, job) -> str | None:
        meta = self.store_get(f"{key}-meta")
        if not meta or str(job) == BUSY_JOB:
            return None  # not started by this manager (or nothing was started)
        why = self.job_gone(job)
        if why:
            return why
        alive = self.store_get(f"{key}-alive")
        now, limit = time.time(), deadline_s()
        if alive is not None and now - float(alive) > limit:
            return f"no sign of life for {now - float(alive):.0f} s"
        if alive is None and now - float(meta["t"]) > START_GRACE * limit:
            return f"it did not start within {now - float(meta['t']):.0f} s"
        return None

    def _progress_pending(self, key) -> bool:
        """Whether the job has written progress that no poll has read yet."""
        try:
            return self.store_has(self._make_progress_key(key))
        except Exception:  # noqa: BLE001 - a store hiccup: behave as Dash would
            return False

    def _forget(self, key, job=None) -> None:
        for name in (f"{key}-meta", f"{key}-alive", *([_job_key(job)] if job is not None else [])):
            with contextlib.suppress(Exception):
                self.store_delete(name)

    def job_running(self, job):
        """Running, or ended with a result nobody has collected yet.

        Dash asks this right after :meth:`get_result` found no result, and
        answers "cancelled" (204, the page stops polling, the result is
        lost) when it is False. A job that writes its result and ends
        between the two questions would be lost that way; counted as
        running, the page polls once more and collects the result."""
        if str(job) == BUSY_JOB:
            return False
        if super().job_running(job):
            return True
        try:
            key = self.store_get(_job_key(job))
            return bool(key) and bool(self.result_ready(key))
        except Exception:  # noqa: BLE001 - a store hiccup: answer as Dash would
            return False

    def _ended_on_purpose(self, job) -> None:
        """Forget the bookkeeping of a job ended on purpose (Stop, a newer run,
        its result collected): a poll after it then reads "cancelled" (Dash's
        204, nothing changes, the page keeps what it streamed) instead of
        finding a started job gone and saying it stopped unexpectedly."""
        try:
            key = self.store_get(_job_key(job))
        except Exception:  # noqa: BLE001 - a store hiccup: the poll may then call it lost
            return
        if key:
            self._forget(key, job)

    def terminate_job(self, job):
        if job is None or str(job) == BUSY_JOB:
            return None
        self._ended_on_purpose(job)
        return super().terminate_job(job)


class DiskcacheJobs(_Limits, DiskcacheManager):
    """Dash's DiskcacheManager (a process per job, results in a shared folder) with the limits above."""

    def store_set(self, key, value):
        self.handle.set(key, value, expire=KEEP_S)

    def store_get(self, key):
        return self.handle.get(key)

    def store_delete(self, key):
        self.handle.delete(key)

    def store_has(self, key):
        return key in self.handle

    def store_result(self, key, value):
        self.handle.set(key, value)

    def job_gone(self, job):
        try:
            running = super().job_running(job)
        except (TypeError, ValueError):
            return None
        return None if running else "its process ended without a result"

    def terminate_job(self, job):
        """End a job's process (Stop, a newer run, a finished job) without blocking.

        Dash's version waits up to a second for the process to disappear, inside a
        Diskcache transaction: a finished job started by another worker stays a
        zombie until that worker reaps it, so every finished job cost the polling
        worker a second and held the cache's write lock for it, stalling every
        other request that touches the cache meanwhile. Here a
        running job is killed (with its children) and nothing waits; this
        worker's own ended jobs are reaped on the way (``active_children``
        polls each without blocking), another worker's are left to it."""
        if job is None or str(job) == BUSY_JOB:
            return
        self._ended_on_purpose(job)
        import multiprocess
        import psutil

        multiprocess.active_children()  # reap this worker's ended job processes
        try:
            proc = psutil.Process(int(job))
            if proc.status() == psutil.STATUS_ZOMBIE:
                return  # it has ended; its parent reaps it
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            proc.kill()
        except (ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
            return


def celery_jobs(celery_app):
    """A :class:`CeleryJobs` for ``celery_app`` (imported here: Celery is optional)."""
    from dash import CeleryManager

    class CeleryJobs(_Limits, CeleryManager):
        """Dash's CeleryManager (jobs as Celery tasks, results in the Redis backend) with the limits above."""

        def store_set(self, key, value):
            self.handle.backend.set(key, json.dumps(value))

        def store_get(self, key):
            raw = self.handle.backend.get(key)
            return None if raw is None else json.loads(raw)

        def store_delete(self, key):
            self.handle.backend.delete(key)

        def store_result(self, key, value):
            from plotly.utils import PlotlyJSONEncoder

            self.handle.backend.set(key, json.dumps(value, cls=PlotlyJSONEncoder))

        def get_or_create_signing_secret(self, generate):
            """The secret Dash signs job handles with, kept in Redis *without* the
            result expiry (Dash's default would let it expire with the results,
            and workers started later would then sign with another one)."""
            client = getattr(self.handle.backend, "client", None)
            if client is None:
                return super().get_or_create_signing_secret(generate)
            key = "lincls:dash-signing-secret"
            client.set(key, generate(), nx=True)
            return client.get(key)

        def job_gone(self, job):
            task = self.get_task(job)
            status = task.status if task is not None else None
            return f"its task ended as {status}" if status in ("FAILURE", "REVOKED") else None

    return CeleryJobs(celery_app)


__all__ = [
    "DiskcacheJobs",
    "TimeLimit",
    "celery_jobs",
    "checked_first",
    "limited",
    "max_jobs",
    "slots_in_use",
    "try_acquire",
]
