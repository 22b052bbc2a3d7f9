"""Shared fixtures: one small sample, loaded and trained once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from graph import GraphStore, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from ontology import load_schema

SMALL_ACCOUNTS = 150


@dataclass
class Trained:
    sample: Path
    home: Path
    store_url: str
    store: GraphStore


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    """A small sample loaded into SQLite, with a trained model and scored open deals."""
    from gnn.score import score_open_deals
    from gnn.train import train

    root = tmp_path_factory.mktemp("trained")
    sample = root / "sample"
    generate_sample(sample, accounts=SMALL_ACCOUNTS, seed=11)
    schema = load_schema()
    url = sqlite_url(root / "graph.db")
    store = open_store(url, schema)
    load_export(store, sample, load_mapping("salesforce", schema), root / "quarantine")
    train(store, root, truth=sample / "truth.csv")
    score_open_deals(store, root)
    yield Trained(sample, root, url, store)
    store.close()
