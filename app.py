"""Linear classifiers on MNIST-like images: a Dash app for teaching.

Run ``python app.py [--host H] [--port P] [--data FOLDER] [--debug]`` and open
http://127.0.0.1:8050. For several users: ``gunicorn -w 4 app:server``.

Configuration is read from the environment, so it works the same under
gunicorn or a Celery worker, where ``main()`` does not run:

* ``LINCLS_DATA``: a data folder (what ``--data`` sets, once, before serving).
* ``REDIS_URL``: run training jobs with Celery (``celery -A app:celery_app worker``)
  instead of Diskcache processes.
* ``LINCLS_CACHE``: the Diskcache folder (default: a folder in the temp dir).
"""

from __future__ import annotations

import os

# One BLAS thread per process, set before numpy is imported. A web server runs
# many small matrix products for several users (and training jobs in separate
# processes); multi-threaded BLAS on top of that only oversubscribes the cores.
# Measured here on 2 busy cores: the loss on 5,000 MNIST images took 364 ms with
# 2 OpenBLAS threads and 14 ms with one. Set OPENBLAS_NUM_THREADS to override.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402

import dash  # noqa: E402

from components import compile_hints, guard, security  # noqa: E402
from components import layout as page  # noqa: E402  (importing components registers their callbacks)
from components.background import make_manager  # noqa: E402
from core import data as core_data  # noqa: E402

manager, celery_app = make_manager()

app = dash.Dash(
    __name__,
    title="Linear classifiers",
    update_title=None,
    serve_locally=True,
    background_callback_manager=manager,
    on_error=guard.on_error,  # the last net under any callback: a line on the page, never a traceback
)
app.validation_layout = page.validation_layout()  # with the sections mounted after load
app.layout = page.serve
server = app.server
security.install(app)  # request-size limit, callback envelope check, security headers (CSP ...)
compile_hints.install(app)  # V8's eager-compile hint on the scripts a first load runs

try:  # warm the data and figure caches, so the first visitor does not wait for them
    page.serve()
except Exception as _exc:  # noqa: BLE001 - never block start-up; the page reports problems itself
    print(f"warning: warm-up failed: {_exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.add_argument(
        "--data", default=None, help=f"a folder of datasets to offer (also ${core_data.ENV_DATA})"
    )
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, dev tools)")
    args = parser.parse_args(argv)
    if args.data:
        # set once, before serving; callbacks and job processes read it from the environment
        os.environ[core_data.ENV_DATA] = args.data
    try:
        core_data.available_datasets()
    except ValueError as exc:
        print(f"warning: {exc} (the page offers the built-in datasets and says so)", file=sys.stderr)
    message, refuse = security.host_warning(args.host, args.debug)
    if message:
        print(message, file=sys.stderr)
    if refuse:
        return 2
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
