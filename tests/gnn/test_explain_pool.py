"""Explaining in worker processes gives exactly the explanations one process gives, in the same order."""

from __future__ import annotations

import torch

from gnn.explain_pool import CHUNK, MIN_PARALLEL, explain_all, worker_count
from gnn.score import load_model, open_examples, scoring_explainer
from gnn.threads import usable_cores
from ontology.names import Label


def test_workers_explain_every_deal_as_one_process_does_in_order(trained) -> None:
    loaded = load_model(trained.home)
    snapshot = trained.store.snapshot()
    opened = open_examples(snapshot, loaded.spec)
    assert opened is not None and loaded.model is not None
    explainer = scoring_explainer(loaded, opened, snapshot)
    positions = [int(p) for p in opened.index]
    assert len(positions) > 2 * CHUNK  # three chunks or more: both workers explain some, one of them twice

    serial = explain_all(explainer, positions, workers=1)
    parallel = explain_all(explainer, positions, workers=2)

    assert len(parallel) == len(positions)
    assert [e.to_json() for e in parallel] == [e.to_json() for e in serial]
    assert sum(len(e.paths) for e in serial) > len(serial)  # real explanations, not empty ones compared
    # In order: every path of a deal's explanation starts at that deal.
    for pos, made in zip(positions, parallel, strict=True):
        deal_id = explainer.facts.node_id(Label.DEAL, pos)
        assert all(p.steps[0].id == deal_id for p in made.paths)


def test_the_pool_is_sized_by_the_numeric_threads_and_left_out_for_few_deals() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert worker_count(10_000) == 1  # one thread given: one process, no fork
        torch.set_num_threads(2)
        assert worker_count(10_000) == min(2, usable_cores())
        assert worker_count(MIN_PARALLEL - 1) == 1
    finally:
        torch.set_num_threads(before)
