"""High-risk score changes held for a person: which are held, what is served meanwhile, who may decide (issue 20)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from gnn.owners.audit import read_events
from gnn.owners.review import ReviewPolicy, pending, serve_scores
from graph import open_store
from tests.gnn.owners.test_scenario import copy_trained

POLICY = ReviewPolicy(min_amount=None, drop_points=0.2, new_model=False, min_move=0.05)


def test_a_sharp_drop_is_held_the_old_score_served_until_revops_accept_and_a_rep_cannot(trained, tmp_path: Path,
                                                                                       capsys) -> None:
    url, home = copy_trained(trained, tmp_path)
    store = open_store(url)
    try:
        served = sorted(store.latest_scores(store.node_ids("Deal")).values(), key=lambda s: -s.probability)
        high, other = served[0], served[-1]
        assert high.probability > 0.3, "the sample has a deal scored high enough to drop sharply"
        drop = replace(high, probability=round(high.probability - 0.3, 4))
        nudge = replace(other, probability=round(other.probability + 0.01, 4))
        written, holds = serve_scores(store, [drop, nudge], POLICY, {})
        assert [r.deal_id for r in written] == [other.deal_id] and len(holds) == 1
        assert "drop of 30 points" in holds[0].text
        assert store.latest_scores([high.deal_id])[high.deal_id].probability == high.probability  # still served
        assert store.latest_scores([other.deal_id])[other.deal_id].probability == nudge.probability
        [held] = pending(store)
        assert held.deal_id == high.deal_id and held.proposed.probability == drop.probability

        common = ["--store", url, "--home", str(home)]
        assert main(["pending", "accept", str(held.seq), "--role", "rep", *common]) == EXIT_BAD_INPUT
        assert "only revops or admin" in capsys.readouterr().err
        assert main(["pending", "list", "--json", *common]) == EXIT_OK
        assert [p["id"] for p in json.loads(capsys.readouterr().out)["pending"]] == [held.seq]
        assert main(["pending", "accept", str(held.seq), "--note", "the CFO left", *common]) == EXIT_OK
        capsys.readouterr()
        assert store.latest_scores([high.deal_id])[high.deal_id].probability == drop.probability
        assert not pending(store)
        assert main(["pending", "reject", str(held.seq), *common]) == EXIT_BAD_INPUT  # decided already

        actions = [(e.action, e.actor.role) for e in read_events(store, deal_id=high.deal_id)]
        assert actions[-2:] == [("review_hold", "system"), ("review_accept", "revops")]
    finally:
        store.close()


@pytest.mark.parametrize("move, amount, version, expect", [
    (-0.25, 0.0, "same", ["drop"]),
    (-0.10, 0.0, "same", []),
    (0.10, 300_000.0, "same", ["amount"]),
    (0.02, 300_000.0, "new", []),
    (0.10, 0.0, "new", ["first score from newly promoted model"]),
])
def test_which_changes_are_high_risk(trained, move: float, amount: float, version: str, expect: list[str]) -> None:
    from gnn.owners.review import risks

    served = next(iter(trained.store.latest_scores(trained.store.node_ids("Deal")).values()))
    new = replace(served, probability=served.probability + move,
                  model_version=served.model_version if version == "same" else "other-version")
    reasons = risks(ReviewPolicy(), new, served, amount)
    assert len(reasons) == len(expect) and all(r.startswith(e) for r, e in zip(reasons, expect, strict=True))
    assert risks(ReviewPolicy(), new, None, amount) == []  # a first score ever is never held
