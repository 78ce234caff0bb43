"""Scale and faults: real servers on free loopback ports, driven as the renderer drives them.

* ``gunicorn -w 4 app:server`` with Diskcache jobs (an isolated cache folder):
  two sessions training different settings at once each see their own
  results; at most ``LINCLS_MAX_JOBS`` jobs run and the next Train is told the
  server is busy without a process being started; a killed job is reported
  within the deadline; a second Train (double click) ends the first job and
  only the newest run comes back; Stop frees the slot, and the page keeps the
  weights streamed so far (the poll after it reads "cancelled", not "stopped
  unexpectedly").
* Celery with Redis: ``redis-server`` on a free port and a Celery worker
  (``celery -A app:celery_app worker``), ``gunicorn -w 2`` with ``REDIS_URL``:
  a training job runs in the worker and its result comes back to the page;
  the busy limit, Stop and a second Train behave as with Diskcache; a bad
  value is answered without a task being sent; a worker process killed
  mid-run is reported instead of polled forever.

Redis is required: when ``redis-server`` is missing the Celery tests fail under
``CI=true`` (``.ci/run`` installs it) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from bench.dash_client import DashClient
from components import ids, jobs

ROOT = Path(__file__).resolve().parents[2]
TRAIN = f"{ids.TRAIN_BUTTON}.n_clicks"
STOP = f"{ids.STOP_BUTTON}.n_clicks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url + "/_dash-layout", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready within {timeout} s")


def stop_tree(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a server and everything it started (gunicorn workers, job processes, pool children)."""
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        kids = []
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for k in kids:
        try:
            k.kill()
        except psutil.NoSuchProcess:
            pass


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    if "REDIS_URL" not in env:
        full.pop("REDIS_URL", None)
    return subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def gunicorn(workers: int, env: dict, tmp: Path, name: str):
    port = free_port()
    proc = start(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "app:server"],
        env,
        tmp / f"{name}.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, proc)
    except Exception:
        stop_tree(proc, signal.SIGINT)  # gunicorn: quick shutdown
        raise RuntimeError((tmp / f"{name}.log").read_text()[-3000:]) from None
    return proc, url


def client(url: str, **props) -> DashClient:
    c = DashClient(url, requests.Session(), timeout=30)
    c.load()
    c.props.update({f"{ids.TRAIN_PACE}.value": "fast", **props})
    return c


def handle_value(handle: str) -> str:
    return handle.rsplit("~", 1)[0]  # the signed handle: "<value>~<signature>"


def poll_once(c: DashClient, cb, handles: dict):
    """One poll of a started Train as the renderer sends it; its progress folded into the page's
    props ("id.prop" -> value; DashClient.apply folds only ``{id: {prop: value}}``)."""
    body = c.body(cb, [TRAIN])
    for item in body["inputs"] + body["state"]:
        item["value"] = None
    reply = c.post_raw(body, handles)
    for key, value in ((reply.data or {}).get("progress") or {}).items():
        c.props[key] = value
    return reply


def stop_keeps_the_weights(c: DashClient, cb, handles: dict, slots: str, n_slots: int) -> None:
    """Poll a running Train until it has streamed weights, press Stop, poll on as the page does:
    the answer is "cancelled" (204: nothing changes, no "stopped unexpectedly"), the page's commit
    makes the streamed snapshot its weights, and the job's slot is freed."""
    live, end = None, time.time() + 30
    while time.time() < end and not (live and live.get("step", 0) > 0):
        time.sleep(0.1)
        reply = poll_once(c, cb, handles)
        assert reply.status == 200 and "response" not in reply.data, reply.data  # still running
        live = c.props.get(f"{ids.LIVE_STORE}.data")
    assert live and live["step"] > 0, "no weights streamed"
    in_use = jobs.slots_in_use(slots, n_slots)
    assert c.cancel(STOP, handles["job"]).status in (200, 204)
    end = time.time() + 15
    while time.time() < end:
        time.sleep(0.1)
        reply = poll_once(c, cb, handles)
        assert reply.status in (200, 204), reply.status
        if reply.status == 204 or "response" in reply.data:
            break
    assert reply.status == 204, reply.data  # not a result, not "the training job stopped unexpectedly"
    live = c.props[f"{ids.LIVE_STORE}.data"]  # the last snapshot streamed before the job ended
    commit = c.callback(trigger=f"{ids.RUNNING_STORE}.data", contains=ids.COMMITTED_STORE)
    c.props[f"{ids.RUNNING_STORE}.data"] = False  # the running flag flips back: the page commits
    reply = c.post_raw(c.body(commit, [f"{ids.RUNNING_STORE}.data"]))
    assert reply.status == 200
    assert response(reply)[ids.WEIGHTS_STORE]["data"]["b64"] == live["weights"]["b64"]
    assert response(reply)[ids.COMMITTED_STORE]["data"] == {"run": live["run"], "step": live["step"]}
    end = time.time() + 10
    while time.time() < end and jobs.slots_in_use(slots, n_slots) >= in_use:
        time.sleep(0.1)
    assert jobs.slots_in_use(slots, n_slots) == in_use - 1


def response(reply) -> dict:
    return (reply.data or {}).get("response") or {}


def alert_text(reply) -> str:
    return str(response(reply).get(ids.ALERT_TRAIN, {}).get("children", ""))


# -- Diskcache under gunicorn -w 4 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def diskcache_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    env = {
        "LINCLS_CACHE": str(tmp / "cache"),
        "LINCLS_MAX_JOBS": "2",
        "LINCLS_JOB_DEADLINE": "3",
    }
    proc, url = gunicorn(4, env, tmp, "gunicorn")
    yield url, env
    stop_tree(proc, signal.SIGINT)  # gunicorn: quick shutdown


def test_scale001_two_sessions_training_at_once_see_only_their_own_results(diskcache_server):
    url, _ = diskcache_server
    settings = {
        "a": {f"{ids.LOSS}.value": "softmax", f"{ids.SEED}.value": 1, f"{ids.TRAIN_PACE}.value": "watch"},
        "b": {f"{ids.LOSS}.value": "hinge", f"{ids.SEED}.value": 2, f"{ids.TRAIN_PACE}.value": "watch"},
    }
    clients = {k: client(url, **v) for k, v in settings.items()}
    results, errors = {}, []

    def train(name):
        try:
            first, final, polls, job = clients[name].run_background(TRAIN, 1, timeout=90)
            results[name] = (final, polls)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(k,)) for k in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for name, (final, polls) in results.items():
        assert final is not None and final.status == 200, name
        assert ids.RESULT_STORE in response(final), (name, response(final))
        result = response(final)[ids.RESULT_STORE]["data"]
        sig = result["history"]["sig"]
        assert sig[3] == settings[name][f"{ids.LOSS}.value"], (name, sig)  # its own loss, not the other's
        assert polls > 3  # both were running at the same time (watch pace: about 5 s)
    wa = results["a"][0].data["response"][ids.RESULT_STORE]["data"]["weights"]["b64"]
    wb = results["b"][0].data["response"][ids.RESULT_STORE]["data"]["weights"]["b64"]
    assert wa != wb


def test_scale002_at_most_max_jobs_run_and_the_next_train_is_told_the_server_is_busy(diskcache_server):
    url, env = diskcache_server
    slow = {f"{ids.TRAIN_PACE}.value": "watch"}
    running = [client(url, **slow) for _ in range(2)]
    started = [c.start_background(TRAIN, 1) for c in running]
    assert all(h is not None and handle_value(h["job"]).isdigit() for _, _, h in started)
    time.sleep(0.5)
    late = client(url)
    cb, first, handles = late.start_background(TRAIN, 1)
    assert handle_value(handles["job"]) == jobs.BUSY_JOB  # nothing was started for it
    reply, _ = late.poll_background(cb, TRAIN, handles, timeout=10)
    assert reply.status == 200 and "server is busy" in alert_text(reply)
    assert set(response(reply)) == {ids.ALERT_TRAIN}  # its weights and results stay as they were
    assert jobs.slots_in_use(os.path.join(env["LINCLS_CACHE"], "slots"), 2) == 2
    for c, (cb, _, h) in zip(running, started, strict=True):
        reply, _ = c.poll_background(cb, TRAIN, h, timeout=60)
        assert reply is not None and ids.RESULT_STORE in response(reply)
    assert jobs.slots_in_use(os.path.join(env["LINCLS_CACHE"], "slots"), 2) == 0
    first, final, _, _ = late.run_background(TRAIN, 2, timeout=60)  # a moment later it trains
    assert ids.RESULT_STORE in response(final)


def test_scale003_a_killed_job_is_reported_within_the_deadline(diskcache_server):
    url, env = diskcache_server
    c = client(url, **{f"{ids.TRAIN_PACE}.value": "watch"})
    cb, _, handles = c.start_background(TRAIN, 1)
    pid = int(handle_value(handles["job"]))
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    reply, _ = c.poll_background(cb, TRAIN, handles, timeout=float(env["LINCLS_JOB_DEADLINE"]) + 5)
    assert reply is not None, "the page would still be polling"
    assert "stopped unexpectedly" in alert_text(reply) and time.time() - t0 < 8
    assert ids.RESULT_STORE not in response(reply)


def test_scale004_a_second_train_ends_the_first_and_only_the_newest_run_comes_back(diskcache_server):
    url, _ = diskcache_server
    c = client(url, **{f"{ids.TRAIN_PACE}.value": "watch"})
    cb, _, first = c.start_background(TRAIN, 1)
    time.sleep(0.8)
    cb, _, second = c.start_background(TRAIN, 2, old_job=first["job"])  # as the renderer sends a re-trigger
    pid1 = int(handle_value(first["job"]))
    deadline = time.time() + 5
    while (
        time.time() < deadline
        and psutil.pid_exists(pid1)
        and psutil.Process(pid1).status() != psutil.STATUS_ZOMBIE
    ):
        time.sleep(0.1)
    assert not psutil.pid_exists(pid1) or psutil.Process(pid1).status() == psutil.STATUS_ZOMBIE
    reply, _ = c.poll_background(cb, TRAIN, second, timeout=60)
    assert response(reply)[ids.RESULT_STORE]["data"]["run"] == 2


def test_scale005_stop_ends_the_job_and_frees_its_slot(diskcache_server):
    url, env = diskcache_server
    slots = os.path.join(env["LINCLS_CACHE"], "slots")
    c = client(url, **{f"{ids.TRAIN_PACE}.value": "watch"})
    cb, _, handles = c.start_background(TRAIN, 1)
    time.sleep(1.0)
    assert jobs.slots_in_use(slots, 2) == 1
    stop_keeps_the_weights(c, cb, handles, slots, 2)
    assert jobs.slots_in_use(slots, 2) == 0


def test_scale006_slots_are_freed_by_the_kernel_however_a_holder_ends(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time; from components import jobs; s = jobs.try_acquire({str(tmp_path)!r}, 1); print(s is not None, flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"True"
        assert jobs.try_acquire(str(tmp_path), 1) is None
        holder.kill()
        holder.wait(5)
        slot = jobs.try_acquire(str(tmp_path), 1)
        assert slot is not None
        slot.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_scale007_a_run_stops_at_the_time_limit_and_keeps_what_it_streamed(monkeypatch, tmp_path):
    from dash._callback_context import context_value

    monkeypatch.setenv(jobs.ENV_MAX_S, "1")
    monkeypatch.setenv(jobs.ENV_SLOTS, str(tmp_path))
    sent = []

    def job(set_progress):
        for i in range(100):
            set_progress(i)
            time.sleep(0.05)
        return "done"

    def run():
        context_value.set({jobs.CONTEXT_KEY: "k", "outputs_list": []})
        return jobs.limited(job)(sent.append)

    import contextvars

    with pytest.raises(jobs.TimeLimit):
        contextvars.copy_context().run(run)
    assert 10 < len(sent) < 40
    assert jobs.slots_in_use(str(tmp_path), 2) == 0


def _hold_for_an_instant(folder: str, i: int, seconds: float, started: threading.Event) -> None:
    """Hold slot ``i`` as a count (or a job on its way to a free slot) does: briefly."""
    import fcntl

    fd = os.open(os.path.join(folder, f"slot-{i}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    started.set()
    time.sleep(seconds)
    os.close(fd)


def test_scale015_a_slot_held_for_an_instant_does_not_make_the_server_busy(monkeypatch, tmp_path):
    """One job runs (slot 0) and slot 1 is free, but another worker's count holds slot 1 for
    an instant: counted then, the server looked full and a second Train was told "busy"
    (seen in CI: two sessions, two workers, two jobs allowed). A count, and a job looking for
    its slot, look again before they say so."""
    from dash._callback_context import context_value

    monkeypatch.setenv(jobs.ENV_SLOTS, str(tmp_path))
    job = jobs.try_acquire(str(tmp_path), 2)  # the running job
    assert job is not None and job.index == 0
    try:
        started = threading.Event()
        holder = threading.Thread(target=_hold_for_an_instant, args=(str(tmp_path), 1, 0.03, started))
        holder.start()
        started.wait(5)
        assert jobs.slots_in_use(str(tmp_path), 2) == 1
        holder.join()

        def run():
            context_value.set({jobs.CONTEXT_KEY: "k", "outputs_list": []})
            return jobs.limited(lambda: "ran", progress=False)()

        import contextvars

        started.clear()
        holder = threading.Thread(target=_hold_for_an_instant, args=(str(tmp_path), 1, 0.03, started))
        holder.start()
        started.wait(5)
        monkeypatch.setenv(jobs.ENV_MAX_JOBS, "2")
        assert contextvars.copy_context().run(run) == "ran"  # not the busy message
        holder.join()
        # really full: both slots held for good, and the answer is "busy"
        other = jobs.try_acquire(str(tmp_path), 2)
        assert other is not None and jobs.slots_in_use(str(tmp_path), 2) == 2
        other.release()
    finally:
        job.release()


def test_scale008_ending_a_job_never_waits_and_reaps_this_workers_ended_jobs(monkeypatch, tmp_path):
    """Dash's DiskcacheManager.terminate_job waits up to 1 s for the process inside a
    Diskcache transaction, and a finished job started by another worker stays a zombie
    until that worker reaps it: every finished job cost the polling worker a second.
    Ours never waits nor locks: a running job is killed, another process's zombie is
    left to its parent, and this process's own ended job processes are reaped."""
    import diskcache
    import multiprocess

    manager = jobs.DiskcacheJobs(diskcache.Cache(str(tmp_path)))

    def never(*_a, **_k):
        raise AssertionError("terminate_job waited or locked the cache")

    monkeypatch.setattr(psutil.Process, "wait", never)
    monkeypatch.setattr(manager.handle, "transact", never)

    own = multiprocess.Process(target=int)  # started as Dash starts a job; ends at once
    own.start()
    foreign = subprocess.Popen([sys.executable, "-c", "pass"])  # multiprocess does not reap it
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for pid in (own.pid, foreign.pid):
            while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                time.sleep(0.02)
        manager.terminate_job(str(foreign.pid))
        assert psutil.Process(foreign.pid).status() == psutil.STATUS_ZOMBIE  # left to its parent
        assert not psutil.pid_exists(own.pid)  # reaped on the way
        manager.terminate_job(str(running.pid))
        assert running.wait(5) == -signal.SIGKILL
        manager.terminate_job(jobs.BUSY_JOB)  # a turned-away request started nothing
        manager.terminate_job("not a pid")
        manager.terminate_job(None)
    finally:
        for proc in (foreign, running):
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)


def _double(x):
    return 2 * x


def test_scale013_a_job_that_ends_between_two_looks_still_hands_over_its_result(monkeypatch, tmp_path):
    """Dash asks for the result, then whether the job runs, and takes "not running and no
    result" as a cancelled job (204: the page stops polling). A job that writes its result
    and ends between the two looks counts as running until its result is collected, so the
    next poll gets it; after that, and for a job that ended without a result, it does not."""
    import diskcache

    monkeypatch.setenv(jobs.ENV_SLOTS, str(tmp_path / "slots"))
    manager = jobs.DiskcacheJobs(diskcache.Cache(str(tmp_path / "cache")))
    job = manager.call_job_fn("k", manager.make_job_fn(_double, False), [21], {"outputs_list": []})
    proc = psutil.Process(int(job))
    for _ in range(500):  # bounded: the job ends (a zombie until reaped) with its result written
        if proc.status() == psutil.STATUS_ZOMBIE and manager.result_ready("k"):
            break
        time.sleep(0.02)
    assert proc.status() == psutil.STATUS_ZOMBIE and manager.result_ready("k")
    assert manager.job_running(job)  # the second look: not "cancelled"
    assert manager.get_result("k", job) == 42  # the next poll
    assert not manager.job_running(job)
    gone = manager.call_job_fn("g", manager.make_job_fn(os._exit, False), [0], {"outputs_list": []})
    for _ in range(500):
        if not psutil.pid_exists(int(gone)) or psutil.Process(int(gone)).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.02)
    assert not manager.result_ready("g") and not manager.job_running(gone)
    assert not manager.job_running(jobs.BUSY_JOB)


def _last_progress_then_result(set_progress):
    set_progress(["the last step"])
    return "done"


def test_scale014_a_jobs_last_progress_is_not_lost_to_its_result(monkeypatch, tmp_path):
    """A poll reads the progress, then the result, and taking the result clears unread
    progress. When the job writes its last progress and its result between the two reads,
    the result waits one poll: that poll finds the progress first, then the result."""
    import diskcache

    monkeypatch.setenv(jobs.ENV_SLOTS, str(tmp_path / "slots"))
    manager = jobs.DiskcacheJobs(diskcache.Cache(str(tmp_path / "cache")))
    assert manager.get_progress("k") is None  # this poll's progress read: nothing yet
    job = manager.call_job_fn(
        "k", manager.make_job_fn(_last_progress_then_result, True), [], {"outputs_list": []}
    )
    proc = psutil.Process(int(job))
    for _ in range(500):  # bounded: the job writes its progress and its result, and ends
        if proc.status() == psutil.STATUS_ZOMBIE and manager.result_ready("k"):
            break
        time.sleep(0.02)
    assert manager.result_ready("k")
    assert manager.get_result("k", job) is manager.UNDEFINED  # the same poll: not yet
    assert manager.job_running(job)  # so Dash polls again instead of calling it cancelled
    assert manager.get_progress("k") == ["the last step"]  # the next poll: the progress ...
    assert manager.get_result("k", job) == "done"  # ... and then the result
    assert not manager.job_running(job) and manager.get_progress("k") is None


def test_scale009_a_job_runs_at_low_priority_and_beats_through_the_manager_that_made_it(
    monkeypatch, tmp_path
):
    """No module global: the manager hands itself to the job it wraps (make_job_fn), and the
    job's heartbeat goes to that manager's store while it runs; the job runs at nice
    LINCLS_JOB_NICE (default 5) so that page requests go first."""
    import diskcache
    from dash._callback_context import context_value

    monkeypatch.setenv(jobs.ENV_SLOTS, str(tmp_path / "slots"))
    manager = jobs.DiskcacheJobs(diskcache.Cache(str(tmp_path / "cache")))
    seen = []

    def job(set_progress):
        for _ in range(250):  # a bounded wait for the first beat
            if manager.store_get("k-alive") is not None:
                break
            time.sleep(0.02)
        seen.append(manager.store_get("k-alive"))
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's nice (Linux)
        return "done"

    def run():
        context_value.set({jobs.CONTEXT_KEY: "k", "outputs_list": []})
        result.append(jobs.limited(job, True, manager)(lambda _v: None))

    import contextvars

    result = []
    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,))  # nice is per thread
    thread.start()
    thread.join(30)
    assert result == ["done"]
    assert isinstance(seen[0], float)
    assert seen[1] >= jobs.job_nice() > 0  # training goes after page requests when the cores are busy
    assert not hasattr(jobs, "MANAGER")


# -- Celery with Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    exe = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server not found (apt-get install redis-server)")
        pytest.skip("redis-server not installed")
    tmp = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=(tmp / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    import redis

    r = redis.Redis(port=port)
    end = time.time() + 20
    while True:
        try:
            if r.ping():
                break
        except redis.ConnectionError:
            if time.time() > end or proc.poll() is not None:
                proc.kill()
                raise RuntimeError((tmp / "redis.log").read_text()) from None
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def celery_server(redis_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("celery")
    env = {
        "REDIS_URL": redis_url,
        "LINCLS_CACHE": str(tmp / "cache"),
        "LINCLS_MAX_JOBS": "2",
        "LINCLS_JOB_DEADLINE": "5",
    }
    worker = start(
        [sys.executable, "-m", "celery", "-A", "app:celery_app", "worker", "--pool=prefork", "-c", "2",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-n", f"lincls-test-{os.getpid()}@%h"],
        env,
        tmp / "worker.log",
    )  # fmt: skip
    web = None
    try:
        from celery import Celery

        probe = Celery("probe", broker=redis_url, backend=redis_url)
        end = time.time() + 90
        while not probe.control.ping(timeout=0.5):
            if time.time() > end or worker.poll() is not None:
                raise RuntimeError((tmp / "worker.log").read_text()[-3000:])
        web, url = gunicorn(2, env, tmp, "gunicorn-celery")
        yield url, worker, probe, env
    finally:
        if web is not None:
            stop_tree(web, signal.SIGINT)
        stop_tree(worker, signal.SIGQUIT)  # a cold shutdown: do not wait for tasks


def test_scale010_training_runs_in_the_celery_worker_and_comes_back(celery_server):
    url, worker, probe, _ = celery_server
    c = client(url)
    first, final, polls, job = c.run_background(TRAIN, 1, timeout=60)
    assert first.status == 200 and len(handle_value(job)) == 36  # a Celery task id, not a pid
    assert final is not None and final.status == 200
    result = response(final)[ids.RESULT_STORE]["data"]
    assert result["run"] == 1 and result["step"] > 0 and result["history"]["loss"]
    stats = probe.control.inspect(timeout=2).stats() or {}
    assert any(s.get("total") for s in stats.values()), stats  # the worker ran it


def test_scale016_celery_busy_limit_stop_and_double_click(celery_server):
    """What test_scale002/004/005 show under Diskcache, with Celery: at most LINCLS_MAX_JOBS jobs
    run and the next Train is told "busy" without a task being sent; Stop ends a task, keeps the
    weights it streamed and frees its slot; a second Train ends the first task and only the
    newest run comes back."""
    url, _, _, env = celery_server
    slots = os.path.join(env["LINCLS_CACHE"], "slots")
    slow = {f"{ids.TRAIN_PACE}.value": "watch"}
    a, b = client(url, **slow), client(url, **slow)
    (cb, _, ha), (_, _, hb) = a.start_background(TRAIN, 1), b.start_background(TRAIN, 1)
    assert len(handle_value(ha["job"])) == 36 and len(handle_value(hb["job"])) == 36  # two tasks
    end = time.time() + 30
    while time.time() < end and jobs.slots_in_use(slots, 2) < 2:
        time.sleep(0.1)
    assert jobs.slots_in_use(slots, 2) == 2  # both run in the worker

    late = client(url)
    late_cb, _, handles = late.start_background(TRAIN, 1)
    assert handle_value(handles["job"]) == jobs.BUSY_JOB  # no task was sent for it
    reply, _ = late.poll_background(late_cb, TRAIN, handles, timeout=10)
    assert reply.status == 200 and "server is busy" in alert_text(reply)
    assert set(response(reply)) == {ids.ALERT_TRAIN}

    stop_keeps_the_weights(a, cb, ha, slots, 2)  # Stop: 204, the streamed weights kept, a slot freed

    b.props[f"{ids.TRAIN_PACE}.value"] = "fast"
    _, _, second = b.start_background(TRAIN, 2, old_job=hb["job"])  # as the renderer sends a re-trigger
    reply, _ = b.poll_background(cb, TRAIN, second, timeout=60)
    assert reply is not None and response(reply)[ids.RESULT_STORE]["data"]["run"] == 2
    end = time.time() + 10
    while time.time() < end and jobs.slots_in_use(slots, 2):
        time.sleep(0.1)
    assert jobs.slots_in_use(slots, 2) == 0  # the first run's task was ended, not left to run on


def test_scale017_a_bad_train_value_is_answered_without_sending_a_task(celery_server):
    """The check before a job is started runs in the web worker for Celery too: no task id."""
    url, _, probe, _ = celery_server
    c = client(url)
    for key, value, word in (
        (f"{ids.LR}.value", float("nan"), "learning rate"),
        (f"{ids.TRAIN_SIZE}.value", float("inf"), "training samples"),
        (f"{ids.SEED}.value", [1], "seed"),
        (f"{ids.LOSS}.value", "mse", "loss"),
    ):
        c.props[key], before = value, c.props[key]
        cb, first, handles = c.start_background(TRAIN, 1)
        c.props[key] = before
        assert first.status == 200 and handles is None, first.data  # answered at once: no task to poll
        assert set(response(first)) == {ids.ALERT_TRAIN} and word in alert_text(first), first.data


def test_scale011_a_celery_job_whose_process_is_killed_is_reported(celery_server):
    url, worker, probe, _ = celery_server
    c = client(url, **{f"{ids.TRAIN_PACE}.value": "watch"})
    cb, _, handles = c.start_background(TRAIN, 1)
    time.sleep(2.0)
    busy = [p for p in psutil.Process(worker.pid).children(recursive=True) if p.cpu_times().user > 0.2]
    victim = max(busy or psutil.Process(worker.pid).children(), key=lambda p: p.cpu_times().user)
    victim.kill()
    t0 = time.time()
    reply, _ = c.poll_background(cb, TRAIN, handles, timeout=30)
    assert reply is not None, "the page would still be polling"
    assert "stopped unexpectedly" in alert_text(reply), response(reply)
    assert time.time() - t0 < 20


def test_scale012_a_job_whose_whole_worker_dies_is_reported_after_the_deadline(celery_server):
    """No process is left to mark the task failed: the missing heartbeat gives it away (runs last: it kills the worker)."""
    url, worker, probe, _ = celery_server
    c = client(url, **{f"{ids.TRAIN_PACE}.value": "watch"})
    cb, _, handles = c.start_background(TRAIN, 1)
    time.sleep(2.0)
    for p in [*psutil.Process(worker.pid).children(recursive=True), psutil.Process(worker.pid)]:
        p.kill()
    t0 = time.time()
    reply, _ = c.poll_background(cb, TRAIN, handles, timeout=30)
    assert reply is not None, "the page would still be polling"
    assert "stopped unexpectedly" in alert_text(reply) and "no sign of life" in alert_text(reply), response(
        reply
    )
    assert time.time() - t0 < 5 + 10  # LINCLS_JOB_DEADLINE = 5 s, plus polling
