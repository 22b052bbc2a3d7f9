"""`model` reads the registry on every request: null before training, the card after."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api.app import create_app
from gnn.registry import ModelCard, ModelRegistry
from graph import open_store, sqlite_url
from tests.api.queries import as_admin, gql
from tests.helpers.server import serve

MODEL = "{ model { version kind trainedAt schemaFingerprint snapshotId metrics { model auroc auprc brier } } }"


def test_model_is_null_before_training_and_the_card_after(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        with serve(create_app(store, tmp_path)) as base_url:
            base_url = as_admin(base_url, tmp_path)
            assert gql(base_url, MODEL) == {"data": {"model": None}}

            card = ModelCard(
                version="2025-03-04-a1b2", kind="graphsage", trained_at=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
                schema_fingerprint="abcd1234abcd1234", snapshot_id="snap-42",
                metrics={"graphsage": {"auroc": 0.81, "auprc": 0.64, "brier": 0.17}, "logreg": {"auroc": 0.74}},
            )
            ModelRegistry(tmp_path).save(card, {"model.pt": b"x"})

            # Same server, no restart: a newly promoted model shows up on the next request.
            model = gql(base_url, MODEL)["data"]["model"]
            assert model["version"] == "2025-03-04-a1b2" and model["kind"] == "graphsage"
            assert model["trainedAt"].startswith("2025-03-04T09:00:00")
            assert model["schemaFingerprint"] == "abcd1234abcd1234" and model["snapshotId"] == "snap-42"
            assert model["metrics"] == [
                {"model": "graphsage", "auroc": 0.81, "auprc": 0.64, "brier": 0.17},
                {"model": "logreg", "auroc": 0.74, "auprc": None, "brier": None},
            ]
    finally:
        store.close()
