"""`dealgraph serve` with several worker processes: one set of metrics, whichever worker answers the scrape."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from graph import open_store, sqlite_url
from tests.helpers.server import serve_command

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 60


def _healthz_count(text: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "dealgraph_http_requests_total" and sample.labels.get("route") == "/healthz")


def test_every_scrape_counts_the_requests_of_all_workers(tmp_path: Path) -> None:
    open_store(sqlite_url(tmp_path / "graph.db")).close()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999.db").write_bytes(b"stale")  # a previous run's file: must be emptied, not read
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_STORE": sqlite_url(tmp_path / "graph.db"),
           "DEALGRAPH_HOME": str(tmp_path / "home"), "DEALGRAPH_WORKERS": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with serve_command(tmp_path, env) as (base, _):
        before = _healthz_count(httpx.get(f"{base}/metrics").text)
        with ThreadPoolExecutor(8) as pool:  # concurrent new connections: the kernel hands them to both workers
            statuses = list(pool.map(lambda _: httpx.get(f"{base}/healthz").status_code, range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        for _ in range(6):  # each scrape may reach either worker; every one must count all requests
            assert _healthz_count(httpx.get(f"{base}/metrics").text) == before + REQUESTS
