"""Running the app under uvicorn: what `dealgraph serve` and `dealgraph demo` call.

One worker serves the app built here; several workers (`DEALGRAPH_WORKERS`,
by default one per CPU) each build their own from the environment
(`app_from_env`), with their own store connections, and share their metrics
through prometheus_client's multiprocess mode (`shared_metrics_dir`), so a
scrape of `/metrics` counts every worker's requests whichever worker answers.
uvicorn runs with uvloop and httptools (they are dependencies), which roughly
halves the per-request overhead of the default asyncio loop and h11 parser;
the httptools protocol is bounded (`api.http_protocol`): a request head over
DEALGRAPH_MAX_HEADER_BYTES plus 64 KB gets 431 before it is parsed.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.ops import METRICS_DIR_ENV, configure_logging
from api.settings import Settings

log = logging.getLogger(__name__)
#: uvicorn's HTTP protocol for `serve`: an import path, so worker processes load it themselves.
HTTP_PROTOCOL = "api.http_protocol:BoundedHttpTools"


def freeze_startup_heap() -> None:
    """Exclude everything built at start-up (schema, ontology, libraries: ~130k objects) from garbage collection.

    Otherwise every full collection walks them all: ~60 ms with the whole server stopped, every few
    hundred requests, which is most of the p99 of a busy server. Request garbage is still collected.
    """
    gc.collect()
    gc.freeze()


def build_app(settings: Settings):  # noqa: ANN201 - a FastAPI app; typed loosely so importing this module stays light
    """The served app on the configured store, with the start-up heap frozen."""
    from api.app import create_app
    from graph import open_store

    app = create_app(open_store(settings.store, **settings.store_credentials()), settings.home, settings=settings)
    freeze_startup_heap()
    return app


def app_from_env():  # noqa: ANN201
    """The app for one uvicorn worker process, configured from DEALGRAPH_* (uvicorn's `--factory`)."""
    settings = Settings()
    configure_logging(settings.log_format)
    return build_app(settings)


@contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """A folder where worker processes keep their metrics (`PROMETHEUS_MULTIPROC_DIR`), emptied first.

    Set before the workers start: prometheus_client picks its multiprocess mode when it is imported. An
    operator's own `PROMETHEUS_MULTIPROC_DIR` is used (and emptied, as prometheus_client asks); else a
    temporary folder, removed afterwards.
    """
    given = os.environ.get(METRICS_DIR_ENV)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="dealgraph-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's counts would be added to this one's
        stale.unlink()
    os.environ[METRICS_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted, with JSON request logs on stderr (`DEALGRAPH_LOG_FORMAT=text` for plain)."""
    import uvicorn

    configure_logging(settings.log_format)
    # httptools, with each request's head bounded before it is parsed (api/http_protocol.py)
    common: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "access_log": False, "loop": "auto",
              "http": HTTP_PROTOCOL, "timeout_graceful_shutdown": 10}
    if settings.workers == 1:
        uvicorn.run(build_app(settings), **common)
        return
    # Worker processes read their settings from the environment: pass on what the command line chose.
    os.environ["DEALGRAPH_STORE"] = settings.store
    os.environ["DEALGRAPH_HOME"] = str(settings.home)
    with shared_metrics_dir():
        log.info("starting %d worker processes", settings.workers)
        uvicorn.run("api.server:app_from_env", factory=True, workers=settings.workers, **common)
