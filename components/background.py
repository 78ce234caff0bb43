"""The background-callback manager: Celery when ``REDIS_URL`` is set, else Diskcache.

Diskcache keeps job results and progress in a folder shared by every process on
the machine (``$LINCLS_CACHE``, default ``<tmp>/lincls-dash-cache``), so
``gunicorn -w 4 app:server`` works: a job started through one worker can be
polled through another. With ``REDIS_URL`` jobs run in Celery workers started
with ``celery -A app:celery_app worker`` (same environment, e.g. ``LINCLS_DATA``).
"""

from __future__ import annotations

import os
import tempfile


def make_manager():
    """``(manager, celery_app)``; ``celery_app`` is None without ``REDIS_URL``."""
    url = os.environ.get("REDIS_URL")
    if url:
        from celery import Celery
        from dash import CeleryManager

        celery_app = Celery("lincls", broker=url, backend=url)
        return CeleryManager(celery_app), celery_app
    import diskcache
    from dash import DiskcacheManager

    folder = os.environ.get("LINCLS_CACHE") or os.path.join(tempfile.gettempdir(), "lincls-dash-cache")
    return DiskcacheManager(diskcache.Cache(folder)), None
