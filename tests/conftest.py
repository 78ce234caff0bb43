"""Settings for the whole test run, read before any test module imports the app.

Background jobs of this run get a private folder (``LINCLS_CACHE``: Diskcache
results, the job slots of ``components/jobs.py`` and the secret that signs job
handles) instead of the machine-wide default ``<tmp>/lincls-dash-cache``.
Otherwise a server or another test run on the same machine would share them:
its jobs would take this run's ``LINCLS_MAX_JOBS`` slots and a Train here
could be told "the server is busy". A folder set by the caller is kept.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "LINCLS_CACHE" not in os.environ:
    _folder = tempfile.mkdtemp(prefix="lincls-test-cache-")
    os.environ["LINCLS_CACHE"] = _folder
    atexit.register(shutil.rmtree, _folder, ignore_errors=True)
