"""The background-callback manager: Celery when ``REDIS_URL`` is set, else Diskcache.

Diskcache keeps job results and progress in a folder shared by every process on
the machine (``$LINCLS_CACHE``, default ``<tmp>/lincls-dash-cache``), so
``gunicorn -w 4 app:server`` works: a job started through one worker can be
polled through another. With ``REDIS_URL`` jobs run in Celery workers started
with ``celery -A app:celery_app worker`` (same environment, e.g. ``LINCLS_DATA``).
"""

from __future__ import annotations

import os


def make_manager():
    """``(manager, celery_app)``; ``celery_app`` is None without ``REDIS_URL``.

    Either manager runs at most ``$LINCLS_MAX_JOBS`` training jobs at once and
    reports a job that died instead of polling it forever (``components/jobs.py``)."""
    from components import jobs

    url = os.environ.get("REDIS_URL")
    if url:
        from celery import Celery

        celery_app = Celery("lincls", broker=url, backend=url)
        celery_app.conf.update(
            worker_prefetch_multiplier=1,  # a worker takes a job only when it can run it
            broker_connection_retry_on_startup=True,
            result_expires=3600,
        )
        return jobs.celery_jobs(celery_app), celery_app
    import diskcache

    folder = jobs.cache_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)  # it holds the secret that signs job handles
    return jobs.DiskcacheJobs(diskcache.Cache(folder)), None
