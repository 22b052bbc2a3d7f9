"""Training report, registry, scores and explanations on the session's small sample."""

from __future__ import annotations

import json
import math

from gnn.registry import ModelRegistry
from gnn.score import open_deal_ids
from gnn.wide import C_GRID


def test_report_has_all_models_side_by_side(trained):
    registry = ModelRegistry(trained.home)
    card = registry.current()
    assert card is not None and card.kind == "graphsage"
    assert card.schema_fingerprint == trained.store.schema.fingerprint
    report = json.loads((registry.path(card.version) / "report.json").read_text())
    assert set(report["test"]) == {"prior", "flat_gbt", "graphsage", "wide_only", "oracle"}
    assert report["wide"]["C"] in C_GRID and report["wide"]["columns"] > 0
    for name, m in report["test"].items():
        assert 0.0 <= m["brier"] <= 1.0, name
        assert m["n"] == report["examples"]["test"]
        if not math.isnan(m["auroc"]):
            assert 0.0 <= m["auroc"] <= 1.0
    assert report["test"]["prior"]["auroc"] == 0.5  # a constant ranks nothing
    split = report["split"]
    assert split["t1"] < split["t2"] < split["end"]


def test_every_open_deal_is_scored_with_the_current_version(trained):
    snap = trained.store.snapshot()
    open_ids = open_deal_ids(snap)
    scores = trained.store.latest_scores(open_ids)
    version = ModelRegistry(trained.home).current_version()
    assert set(scores) == set(open_ids) and open_ids
    assert {s.model_version for s in scores.values()} == {version}
    assert all(0.0 < s.probability < 1.0 for s in scores.values())


def test_explanation_paths_follow_real_edges_from_the_deal(trained):
    scores = trained.store.latest_scores(open_deal_ids(trained.store.snapshot()))
    checked = 0
    for deal_id, score in list(scores.items())[:15]:
        for path in score.explanation.paths:
            steps = path.steps
            assert steps[0].label == "Deal" and steps[0].id == deal_id
            assert path.direction == ("raises" if path.weight >= 0 else "lowers")
            assert path.text
            for a, b in zip(steps, steps[1:], strict=False):
                hood = trained.store.neighbours(a.label, [a.id], b.relation, b.direction)
                assert b.id in {n.node["id"] for n in hood.get(a.id, [])}, (a, b)
                checked += 1
    assert checked > 0


