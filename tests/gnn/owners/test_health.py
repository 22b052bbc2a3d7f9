"""modelHealth and its gauges when health cannot be computed: an error that says so, never a 5xx (step 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.app import create_app
from api.auth import Role
from gnn.registry import ModelCard, ModelRegistry
from graph import open_store, sqlite_url
from tests.api.book_data import build_book
from tests.api.queries import Endpoint, create_key, gql, post
from tests.helpers.server import serve

HEALTH = "{ modelHealth { modelVersion breaches { name } } }"


def test_model_health_before_training_is_null_and_a_broken_model_is_an_error_not_a_5xx(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        with serve(create_app(store, tmp_path)) as url:
            rep = Endpoint(url, create_key(tmp_path, Role.REP, rep_id="005-rita"))
            assert gql(rep, HEALTH) == {"data": {"modelHealth": None}}  # no model yet; every role may ask
            card = ModelCard("v-broken", "graphsage", datetime.now(UTC), "f", "s", {})
            ModelRegistry(tmp_path).save(card, {"model.pt": b"-", "report.json": b"{}"})  # no split in its report
            response = post(url, HEALTH, token=rep.token)
            metrics = httpx.get(f"{url}/metrics", timeout=30)
    finally:
        store.close()
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "HEALTH_UNAVAILABLE" and "dealgraph monitor" in error["message"]
    assert metrics.status_code == 200 and "dealgraph_http_requests_total" in metrics.text
    assert "dealgraph_model_" not in metrics.text


def test_the_api_starts_without_loading_the_model_code() -> None:
    """The owners' loop is imported by every API worker; torch and scikit-learn load only when a figure needs them."""
    import subprocess
    import sys

    code = "import sys, api.app; print(sorted(m for m in ('torch', 'sklearn', 'torch_geometric') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
