"""Training's steps in forked workers (`gnn.forked`, two threads or more): the same examples and the same wide
part as built one after another in one process."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_limits

from gnn.dataset import leak_safe_examples
from gnn.threads import size_thread_pools
from gnn.train import train
from gnn.wide import WideSpec, fit_wide
from tests.gnn.funnel import loaded_funnel


@pytest.fixture(scope="module")
def funnel(tmp_path_factory):
    store = loaded_funnel(tmp_path_factory.mktemp("funnel"), leads=300)
    yield store
    store.close()


def test_cutoffs_built_in_forked_workers_are_the_same_examples(funnel):
    full = funnel.snapshot()
    _, _, alone = leak_safe_examples(full)
    _, _, forked = leak_safe_examples(full, workers=2)
    for part in alone:
        assert [e.cutoff for e in alone[part]] == [e.cutoff for e in forked[part]]
        for a, b in zip(alone[part], forked[part], strict=True):
            assert a.deal_ids == b.deal_ids and torch.equal(a.index, b.index) and torch.equal(a.labels, b.labels)
            assert torch.equal(a.weight(), b.weight())
            assert a.data.node_types == b.data.node_types and a.data.edge_types == b.data.edge_types
            for t in a.data.node_types:
                assert torch.equal(a.data[t].x, b.data[t].x) and a.data[t].node_id == b.data[t].node_id, t
            for t in a.data.edge_types:
                assert torch.equal(a.data[t].edge_index, b.data[t].edge_index), t


def test_the_wide_parts_penalties_fitted_in_workers_give_the_same_part(funnel):
    _, spec, examples = leak_safe_examples(funnel.snapshot())
    wide_spec = WideSpec.from_features(spec, examples["train"][0].data.edge_types)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a worker's count, so both runs do the same arithmetic
    try:
        with threadpool_limits(1):
            alone, report_alone = fit_wide(wide_spec, examples["train"], examples["val"])
            forked, report_forked = fit_wide(wide_spec, examples["train"], examples["val"], workers=2)
    finally:
        torch.set_num_threads(threads)
    assert report_alone == report_forked
    for key, value in alone.state_dict().items():
        assert torch.equal(value, forked.state_dict()[key]), key


def test_training_with_two_threads_in_workers_reports_what_one_thread_does(funnel, tmp_path):
    threads = torch.get_num_threads()
    reports = {}
    try:
        for count in (1, 2):  # two: every independent step in two workers of one thread each
            size_thread_pools(count)
            reports[count] = train(funnel, tmp_path / f"home{count}").report
    finally:
        size_thread_pools(threads)
    assert reports[1]["kind"] == "graphsage"
    for key in ("examples", "tuning", "wide", "test"):
        assert reports[1][key] == reports[2][key], key
