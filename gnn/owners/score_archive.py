"""Scores a model served, kept when another model's scores replace them, so a rollback can serve them again.

The store keeps each deal's latest score (and a history no contract reads
back), so once a new model's scores are written the old model's are gone from
what is served. Before that happens (`owners.review.serve_scores`, an accepted
review), the replaced scores are appended to the record log (kind
`score_archive`, keyed by the model version that made them), explanation and
metadata included. `restore` writes a version's archived scores back as the
latest ones: the scores and explanations a rep saw before, without retraining
or recomputing anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from graph.explanation import dump_explanation, load_explanation
from graph.store import GraphStore, ScoreRecord

ARCHIVE_KIND = "score_archive"
CHUNK = 200  # scores per record: one record per deal would make a rollback read thousands of rows


def _to_json(s: ScoreRecord) -> dict[str, Any]:
    return {"deal_id": s.deal_id, "probability": s.probability, "band": s.band, "scored_at": s.scored_at.isoformat(),
            "explanation": dump_explanation(s.explanation), "metadata": dict(s.metadata or {})}


def archive(store: GraphStore, scores: Iterable[ScoreRecord]) -> int:
    """Append these served scores to the archive of the versions that made them; returns how many."""
    by_version: dict[str, list[dict[str, Any]]] = {}
    for s in scores:
        by_version.setdefault(s.model_version, []).append(_to_json(s))
    entries = [(version, {"scores": rows[i:i + CHUNK]})
               for version, rows in by_version.items() for i in range(0, len(rows), CHUNK)]
    if entries:
        store.append_records(ARCHIVE_KIND, entries)
    return sum(len(rows) for rows in by_version.values())


def archive_replaced(store: GraphStore, incoming: Sequence[ScoreRecord]) -> int:
    """Archive the served scores that `incoming` (about to be written) replace with another model's."""
    served = store.latest_scores([s.deal_id for s in incoming])
    return archive(store, [served[s.deal_id] for s in incoming
                           if s.deal_id in served and served[s.deal_id].model_version != s.model_version])


def archived(store: GraphStore, version: str) -> dict[str, ScoreRecord]:
    """The latest archived score of each deal that `version` scored."""
    out: dict[str, ScoreRecord] = {}
    for record in store.read_records(ARCHIVE_KIND, key=version):
        for row in record.body["scores"]:
            out[row["deal_id"]] = ScoreRecord(
                deal_id=row["deal_id"], probability=float(row["probability"]), model_version=version,
                scored_at=datetime.fromisoformat(row["scored_at"]), band=row["band"],
                explanation=load_explanation(row["explanation"]), metadata=row.get("metadata") or {})
    return out


def restore(store: GraphStore, version: str, open_ids: Iterable[str]) -> list[ScoreRecord]:
    """Serve `version`'s archived scores again for these (open) deals; returns the records written.

    Each keeps its probability, band, explanation and metadata; the metadata says when it was first scored
    and that a rollback restored it (its `scored_at` is now, so it is the latest score).
    """
    kept = archived(store, version)
    now = datetime.now(UTC)
    records = [ScoreRecord(deal_id=s.deal_id, probability=s.probability, model_version=version, scored_at=now,
                           band=s.band, explanation=s.explanation,
                           metadata={**s.metadata, "restored_by": "rollback",
                                     "first_scored_at": s.scored_at.isoformat()})
               for d in open_ids if (s := kept.get(d)) is not None]
    if records:
        archive_replaced(store, records)  # the rolled-back model's scores stay restorable too
        store.write_scores(records)
    return records
