"""Score every open deal with the current model, explain each score, and store both.

Scoring uses the graph as the data knows it now (the newest fact's time), the
same encoding as training, and the model's calibration. The explanation is
computed here, once, so serving it is a lookup and a deal review later sees
exactly what the rep saw.
"""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from tqdm import tqdm

from gnn.explain import PathExplainer
from gnn.features import FeatureSpec, encode, latest_event_time, outcome_flags
from gnn.model import HeteroSAGE, ModelConfig
from gnn.registry import ModelCard, ModelRegistry, RegistryError
from gnn.fit import calibrate
from graph.snapshot import Snapshot
from graph.store import GraphStore, ScoreRecord

log = logging.getLogger(__name__)
BANDS = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))


def band(probability: float) -> str:
    return next(name for floor, name in BANDS if probability >= floor)


@dataclass
class LoadedModel:
    card: ModelCard
    model: HeteroSAGE | None  # None: the small-data fallback (class prior)
    spec: FeatureSpec
    platt: tuple[float, float]
    prior: float


def load_model(home: Path, version: str | None = None) -> LoadedModel:
    """The current model (or `version`) from the registry, ready to score."""
    registry = ModelRegistry(home)
    version = version or registry.current_version()
    if version is None:
        raise RegistryError(f"no trained model in {registry.root}; run `dealgraph train` first")
    card = registry.card(version)
    blob = torch.load(io.BytesIO((registry.path(version) / "model.pt").read_bytes()), weights_only=True)
    model = None
    if blob["kind"] != "prior":
        model = HeteroSAGE(blob["in_dims"], [tuple(e) for e in blob["edge_types"]], ModelConfig(**blob["config"]))
        model.load_state_dict(blob["state_dict"])
        model.eval()
    return LoadedModel(card, model, FeatureSpec.from_dict(blob["spec"]), tuple(blob["platt"]), float(blob["prior"]))


def open_deal_ids(snapshot: Snapshot) -> list[str]:
    """Deals with no outcome in the snapshot."""
    closed = set(outcome_flags(snapshot).index)
    return [d for d in snapshot.nodes["Deal"]["id"] if d not in closed]


def predict(loaded: LoadedModel, snapshot: Snapshot, now: pd.Timestamp) -> tuple[HeteroData, np.ndarray]:
    """The encoded graph and the calibrated win probability of every deal in it, in row order."""
    data = encode(loaded.spec, snapshot, now)
    if loaded.model is None:
        return data, np.full(data["Deal"].num_nodes, loaded.prior)
    with torch.no_grad():
        logits = loaded.model(data.x_dict, data.edge_index_dict).numpy()
    return data, calibrate(logits, loaded.platt)


def score_snapshot(loaded: LoadedModel, snapshot: Snapshot, now: pd.Timestamp, deal_ids: list[str]) -> dict[str, float]:
    """Calibrated win probabilities of these deals, from the graph in `snapshot` as of `now`."""
    data, probs = predict(loaded, snapshot, now)
    positions = pd.Index(data["Deal"].node_id).get_indexer(deal_ids)
    return dict(zip(deal_ids, probs[positions].tolist()))


def score_open_deals(
    store: GraphStore, home: Path, top: int = 3, explain: bool = True, progress: bool = False
) -> list[ScoreRecord]:
    """Score, explain and store every open deal; returns the records written."""
    loaded = load_model(home)
    full = store.snapshot()
    now = latest_event_time(full)
    deal_ids = open_deal_ids(full)
    if not deal_ids:
        return []
    data, all_probs = predict(loaded, full, now)
    positions = pd.Index(data["Deal"].node_id).get_indexer(deal_ids)
    probs = all_probs[positions]
    explainer = None
    if explain and loaded.model is not None:
        explainer = PathExplainer(loaded.model, data, full, hops=loaded.model.config.layers)
    scored_at = datetime.now(UTC)
    metadata = {"model_kind": loaded.card.kind, "as_of": now.isoformat(), "schema": loaded.card.schema_fingerprint}
    explanations: list[dict | None] = [None] * len(deal_ids)
    if loaded.model is None:
        # The fallback explains nothing about a deal; say why instead of inventing paths.
        note = "too little closed-deal history for a graph model: this is the base win rate"
        explanations = [{"method": "class-prior", "paths": [], "fidelity": None, "note": note}] * len(deal_ids)
    if explainer is not None:
        chunk = 16
        for i in tqdm(range(0, len(deal_ids), chunk), desc="explaining", unit="batch", disable=not progress, file=sys.stderr):
            explanations[i : i + chunk] = explainer.explain_many([int(p) for p in positions[i : i + chunk]], top=top)
    records = [
        ScoreRecord(
            deal_id=deal_id,
            probability=round(float(p), 4),
            model_version=loaded.card.version,
            scored_at=scored_at,
            band=band(float(p)),
            explanation=explanation,
            metadata=metadata,
        )
        for deal_id, p, explanation in zip(deal_ids, probs, explanations)
    ]
    store.write_scores(records)
    log.info("scored %d open deals with model %s", len(records), loaded.card.version)
    return records


