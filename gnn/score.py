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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from gnn.dataset import CutoffExamples, TemporalSplit, build_examples
from gnn.explain import PathExplainer
from gnn.features import FeatureSpec, encode, latest_event_time
from gnn.fit import calibrate, logits_of
from gnn.gate import NO_SKILL, NO_SKILL_BAND, SKILL, band
from gnn.minibatch import sampler_of
from gnn.model import HeteroSAGE, ModelConfig
from gnn.registry import ModelCard, ModelRegistry, RegistryError
from gnn.wide import WideLinear, WideSpec
from graph.deals import DealShape
from graph.explanation import Explanation
from graph.snapshot import Snapshot, Timeline
from graph.store import GraphStore, ScoreRecord
from ontology.names import Label

log = logging.getLogger(__name__)
NO_SKILL_NOTE = ("the model did not earn serving on the test period ({why}): this is the base win rate, "
                 "not a judgement of this deal")


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
        wide = WideLinear(WideSpec.from_dict(blob["wide"])) if blob.get("wide") else None  # none before gnn.wide
        model = HeteroSAGE(blob["in_dims"], [tuple(e) for e in blob["edge_types"]], ModelConfig(**blob["config"]), wide)
        model.load_state_dict(blob["state_dict"])
        model.eval()
    return LoadedModel(card, model, FeatureSpec.from_dict(blob["spec"]), tuple(blob["platt"]), float(blob["prior"]))


def open_deal_ids(snapshot: Snapshot) -> list[str]:
    """Deals open in the snapshot (`graph.deals`: no outcome edge)."""
    shape = DealShape.of(snapshot.schema)
    return shape.open_ids(list(snapshot.nodes[shape.deal.name][shape.deal.key]),
                          set(snapshot.edges[shape.outcome.name]["src"]))


def deals_as_examples(spec: FeatureSpec, snapshot: Snapshot, now: pd.Timestamp, deal_ids: list[str]) -> CutoffExamples:
    """These deals as model input, from the graph in `snapshot` as of `now` (labels unknown: NaN)."""
    data = encode(spec, snapshot, now)
    index = torch.from_numpy(pd.Index(data[Label.DEAL].node_id).get_indexer(deal_ids))
    return CutoffExamples(now, "open", data, index, torch.full((len(deal_ids),), float("nan")), deal_ids)


def score_snapshot(loaded: LoadedModel, snapshot: Snapshot, now: pd.Timestamp, deal_ids: list[str]) -> dict[str, float]:
    """Calibrated win probabilities of these deals, from the graph in `snapshot` as of `now`."""
    probs = predict_examples(loaded, [deals_as_examples(loaded.spec, snapshot, now, deal_ids)])
    return dict(zip(deal_ids, probs.tolist(), strict=True))


def score_open_deals(
    store: GraphStore, home: Path, top: int = 3, explain: bool = True, progress: bool = False,
    changed_only: bool = False, write: bool = True, only: Collection[str] | None = None,
) -> list[ScoreRecord]:
    """Score, explain and store every open deal; returns the records written.

    With `write=False` nothing is stored: the records are returned for the caller to serve or hold
    (`gnn.owners.review` holds high-risk changes for a person to accept first).

    Every score records what it saw (`metadata`): the snapshot (`snapshot`, and the store's `graph_version`
    where it keeps one) and a fingerprint of the deal's computation graph (`graph`, `gnn.sampling`).
    `changed_only`: rescore only deals whose fingerprint moved since their latest score by this model (a new
    neighbour among the sampled ones, a changed input, a moved clock) or that have none: the same scores as a
    full rescore, since a deal's score depends on nothing else. Of those, only deals whose own record moved
    (`own_digests`) or whose score moved by `EXPLAIN_TOLERANCE` or more since the score their explanation was
    made for are explained again; the others keep that explanation, which says which score it explains
    (`extra["explains"]`: its probability, time and snapshot). `only`: just these open deals (a rollback fills
    the few its model never scored).
    """
    loaded = load_model(home)
    full = store.snapshot()
    opened = open_examples(full, loaded.spec)
    if opened is None:
        return []
    if only is not None:
        wanted = set(only)
        opened = _rows(opened, [i for i, d in enumerate(opened.deal_ids) if d in wanted])
        if not opened.deal_ids:
            return []
    prints = fingerprints(loaded, opened)  # of the deals it may score only (`_rows` keeps the graph's sampler)
    own = own_digests(full, opened.deal_ids)
    previous: dict[str, ScoreRecord] = {}
    if changed_only:
        previous = store.latest_scores(opened.deal_ids)
        opened = _stale(previous, loaded, opened, prints)
        if not opened.deal_ids:
            log.info("no open deal's computation graph changed: nothing rescored")
            return []
    deal_ids, positions, data = opened.deal_ids, opened.index, opened.data
    state = loaded.card.state if loaded.model is not None else NO_SKILL
    # No skill: serve the base rate, said to be that, rather than a ranking the test period did not bear out.
    probs = predict_examples(loaded, [opened]) if state == SKILL else np.full(len(deal_ids), loaded.prior)
    explainer = None
    if explain and state == SKILL and loaded.model is not None:  # a model has skill only where there is one
        config = loaded.model.config
        sampler = sampler_of(opened, config.fanout, config.layers) if config.fanout is not None else None
        explainer = PathExplainer(loaded.model, data, full, hops=config.layers, platt=loaded.platt,
                                  now=opened.cutoff, sampler=sampler,
                                  deal_columns=loaded.spec.column_names(Label.DEAL))
    metadata = {"model_kind": loaded.card.kind, "as_of": opened.cutoff.isoformat(),
                "schema": loaded.card.schema_fingerprint, "state": state, "base_rate": round(loaded.prior, 4),
                "quality": loaded.card.params.get("quality"), "snapshot": _snapshot_id(full)}
    changes = store.changes_since(None)
    if changes is not None:
        metadata["graph_version"] = changes.mark.graph
    explanations: list[Explanation | None] = [None] * len(deal_ids)
    if state == NO_SKILL:
        # Nothing about the deal is explained; say why instead of inventing paths.
        if loaded.model is None:
            note = "too little closed-deal history for a graph model: this is the base win rate"
        else:
            failed = [c["text"] for c in loaded.card.params.get("gate", {}).get("checks", []) if not c["passed"]]
            note = NO_SKILL_NOTE.format(why="; ".join(failed) or "failed the serving gate")
        explanations = [Explanation(method="class-prior", note=note)] * len(deal_ids)
    if explainer is not None:
        kept = {i: e for i, d in enumerate(deal_ids)
                if (e := kept_explanation(previous.get(d), loaded.card.version, float(probs[i]), own[d],
                                          loaded.prior)) is not None}
        todo = [i for i in range(len(deal_ids)) if i not in kept]
        if kept:
            log.info("%d rescored deals keep their explanation (own record unchanged, score within %.2f)",
                     len(kept), EXPLAIN_TOLERANCE)
        chunk = 16
        batches = tqdm(range(0, len(todo), chunk), desc="explaining", unit="batch", disable=not progress,
                       file=sys.stderr)
        for i in batches:
            rows = todo[i : i + chunk]
            for row, made in zip(rows, explainer.explain_many([int(positions[r]) for r in rows], top=top),
                                 strict=True):
                explanations[row] = made
        for row, explanation in kept.items():
            explanations[row] = explanation
    records = score_records(loaded.card.version, dict(zip(deal_ids, probs, strict=True)),
                            explanations=dict(zip(deal_ids, explanations, strict=True)), metadata=metadata,
                            base_rate=loaded.prior, per_deal={d: {"graph": prints[d], "own": own[d]} for d in deal_ids})
    if write:
        store.write_scores(records)
    log.info("scored %d open deals with model %s", len(records), loaded.card.version)
    return records


def fingerprints(loaded: LoadedModel, opened: CutoffExamples) -> dict[str, str]:
    """Per deal, the fingerprint of the computation graph the model scores it from (the class prior: none)."""
    if loaded.model is None:
        return dict.fromkeys(opened.deal_ids, "")
    sampler = sampler_of(opened, loaded.model.config.fanout, loaded.model.config.layers)
    return dict(zip(opened.deal_ids, sampler.digests(loaded.model.config.target, opened.index), strict=True))


def own_digests(snapshot: Snapshot, deal_ids: list[str]) -> dict[str, str]:
    """Per deal, a fingerprint of its own record: its row and every edge that touches it (a stage change, an
    activity, a contact role, a line item), as stored — not the encoded inputs, so a moved clock leaves it as it
    was. An explanation speaks of these facts; while they stand and the score barely moved, it still holds."""
    label = DealShape.of(snapshot.schema).deal.name
    deals = snapshot.nodes[label]
    where = snapshot.node_index(label)
    asked = where.get_indexer(deal_ids)
    # Only the asked deals' rows and edges are hashed (a row's hash is its own): a tenth of the graph's at 1M rows.
    mine = np.zeros(len(deals), dtype=bool)
    mine[asked[asked >= 0]] = True
    total = np.zeros(len(deals), dtype=np.uint64)
    total[mine] = _row_hashes(deals[mine])
    for name, frame in snapshot.edges.items():
        rel = snapshot.schema.relations[name]
        salt = np.uint64(int(pd.util.hash_array(np.array([name], dtype=object))[0]))
        for at, node_type in zip(snapshot.edge_ends(name), (rel.source, rel.target), strict=True):
            if node_type != label or frame.empty:
                continue
            keep = at >= 0
            keep[keep] = mine[at[keep]]
            hashes = _row_hashes(frame[keep]) ^ salt
            np.add.at(total, at[keep], hashes)  # a sum: the set of edges, in any order
    return {d: f"{total[i]:016x}" if i >= 0 else "" for d, i in zip(deal_ids, asked, strict=True)}


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of every column, by value (columns in name order, so their order is no change)."""
    ordered = frame[sorted(frame.columns)]
    try:
        return pd.util.hash_pandas_object(ordered, index=False).to_numpy(np.uint64)
    except TypeError:  # a cell pandas cannot hash (a list): hash its text
        return pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy(np.uint64)


#: A rescored deal keeps its explanation while its score stays this close to the one the explanation was made for.
EXPLAIN_TOLERANCE = 0.01


def kept_explanation(before: ScoreRecord | None, version: str, probability: float, own: str,
                     base_rate: float) -> Explanation | None:
    """The explanation a rescored deal keeps, marked with the score it explains; None: explain it again.

    Kept only when the same model made it, the deal's own record (`own_digests`) is as it was, its band is the
    same, and its score is within `EXPLAIN_TOLERANCE` of the score the explanation was made for (not of the
    latest one, so small moves cannot add up unexplained)."""
    if before is None or before.explanation is None or before.model_version != version:
        return None
    if not own or before.metadata.get("own") != own:
        return None
    if before.explanation.method == "class-prior" or before.metadata.get("state") != SKILL:
        return None
    explains = before.explanation.extra.get("explains") or {
        "probability": before.probability, "scored_at": before.scored_at.isoformat(),
        "snapshot": before.metadata.get("snapshot")}
    if abs(probability - float(explains["probability"])) >= EXPLAIN_TOLERANCE or \
            band(probability, base_rate) != before.band:
        return None
    return replace(before.explanation, extra={**before.explanation.extra, "explains": explains})


def _stale(latest: Mapping[str, ScoreRecord], loaded: LoadedModel, opened: CutoffExamples,
           prints: dict[str, str]) -> CutoffExamples:
    """The open deals whose latest score is not this model's on the same computation graph."""
    keep = [i for i, d in enumerate(opened.deal_ids)
            if d not in latest or latest[d].model_version != loaded.card.version
            or latest[d].metadata.get("graph") != prints[d]]
    log.info("%d of %d open deals changed since their latest score", len(keep), len(opened.deal_ids))
    return _rows(opened, keep)


def _rows(opened: CutoffExamples, keep: list[int]) -> CutoffExamples:
    """These positions of the open deals only."""
    rows = torch.tensor(keep, dtype=torch.long)
    # `replace` keeps the graph's samplers (built for `fingerprints`) and any field added later.
    return replace(opened, index=opened.index[rows], labels=opened.labels[rows],
                   deal_ids=[opened.deal_ids[i] for i in keep])


def _snapshot_id(full: Snapshot) -> str:
    from gnn.train import snapshot_id  # training imports scoring: import here to avoid a cycle

    return snapshot_id(full)


def open_examples(snapshot: Snapshot, spec: FeatureSpec) -> CutoffExamples | None:
    """The deals open in `snapshot` as model input, at the time it stands for (labels unknown: NaN).

    The time is the snapshot's `as_of` time, or its newest fact for a whole-store
    snapshot: what `dealgraph score` scores. None when no deal is open.

    Example:
        >>> opened = open_examples(store.snapshot(), spec)
        >>> my_model.predict_proba(flat_features(opened.data, opened.index))[:, 1]
    """
    deal_ids = open_deal_ids(snapshot)
    if not deal_ids:
        return None
    now = pd.Timestamp(snapshot.as_of_time) if snapshot.as_of_time is not None else latest_event_time(snapshot)
    return deals_as_examples(spec, snapshot, now, deal_ids)


def predict_examples(loaded: LoadedModel, examples: list[CutoffExamples]) -> np.ndarray:
    """Calibrated win probabilities of the examples' deals, in order (the prior for the fallback model)."""
    if loaded.model is None:
        return np.full(sum(len(e.deal_ids) for e in examples), loaded.prior)
    return calibrate(logits_of(loaded.model, examples), loaded.platt)


def predict_split(
    loaded: LoadedModel, full: Snapshot, split: TemporalSplit, part: str = "test", timeline: Timeline | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and calibrated probabilities of a registered model on one period of a temporal split.

    The examples are encoded with the model's own feature spec, so any version can
    be compared with any other model on the same deals and cutoffs.

    Example:
        >>> split, spec, examples = leak_safe_examples(full)
        >>> y_test, p_test = predict_split(load_model(home), full, split)
    """
    examples = build_examples(full, loaded.spec, split, only=part, timeline=timeline)[part]
    labels = np.concatenate([e.labels.numpy() for e in examples]) if examples else np.zeros(0)
    return labels, predict_examples(loaded, examples)


def store_scores(
    store: GraphStore,
    model_version: str,
    probabilities: Mapping[str, float],
    explanations: Mapping[str, Explanation | None] | None = None,
    metadata: Mapping[str, object] | None = None,
    base_rate: float = 0.5,
    per_deal: Mapping[str, Mapping[str, object]] | None = None,
) -> list[ScoreRecord]:
    """Write win probabilities as each deal's latest score, under `model_version`; returns the records.

    `per_deal`: metadata of single deals, over `metadata` (each deal's graph fingerprint).
    Bands are relative to `base_rate` (`gnn.gate.band`); with `metadata["state"] == "no_skill"` every
    band is "no_skill": the probability is the base rate, not a judgement of the deal.
    The one place scores become `ScoreRecord`s (rounding, band, time), for
    `dealgraph score` and for a model of your own: register it under a version of
    its own (`gnn.registry.new_version`) so every score says which model made it.

    Example:
        >>> store_scores(store, "20260101T120000Z-my-logreg-1a2b", {"006A1": 0.42},
        ...              metadata={"model_kind": "logreg"})
    """
    records = score_records(model_version, probabilities, explanations, metadata, base_rate, per_deal)
    store.write_scores(records)
    return records


def score_records(
    model_version: str,
    probabilities: Mapping[str, float],
    explanations: Mapping[str, Explanation | None] | None = None,
    metadata: Mapping[str, object] | None = None,
    base_rate: float = 0.5,
    per_deal: Mapping[str, Mapping[str, object]] | None = None,
) -> list[ScoreRecord]:
    """The `ScoreRecord`s `store_scores` writes (rounding, band, time), not yet written."""
    scored_at = datetime.now(UTC)
    explanations = explanations or {}
    no_skill = (metadata or {}).get("state") == NO_SKILL
    records = [
        ScoreRecord(
            deal_id=deal_id,
            probability=round(float(p), 4),
            model_version=model_version,
            scored_at=scored_at,
            band=NO_SKILL_BAND if no_skill else band(float(p), base_rate),
            explanation=explanations.get(deal_id),
            metadata={**(metadata or {}), **(per_deal or {}).get(deal_id, {})},
        )
        for deal_id, p in probabilities.items()
    ]
    return records


