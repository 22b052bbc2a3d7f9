"""The per-epoch budget of sampled training (`FitConfig.epoch_examples`, `early_stop_examples`): above the
examples it changes nothing — the same model as without it — and below them an epoch reads about the budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnn.dataset import CutoffExamples, weigh_by_deal
from gnn.fit import FitConfig, fit_each, fit_graph_model
from gnn.minibatch import cut_once, logits_of_cuts, sampled_logits, subset, training_batches
from gnn.model import HeteroSAGE, ModelConfig
from tests.gnn.test_sampling import random_graph


def cutoffs(count: int, seed: int = 0) -> list[CutoffExamples]:
    """`count` cutoffs on random graphs, every deal an example with a random label."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        data = random_graph(seed + i)
        n = int(data["Deal"].num_nodes)
        labels = torch.from_numpy(rng.integers(0, 2, n).astype(np.float32))
        out.append(CutoffExamples(pd_time(i), "train", data, torch.arange(n), labels, [f"Deal{j}" for j in range(n)]))
    weigh_by_deal(out)
    return out


def pd_time(day: int) -> pd.Timestamp:
    return pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day)


def test_a_budget_above_the_examples_gives_the_same_batches() -> None:
    train = cutoffs(3)
    plain = training_batches(train, 16, torch.Generator().manual_seed(1))
    budgeted = training_batches(train, 16, torch.Generator().manual_seed(1), budget=10_000)
    assert [(ex.cutoff, rows.tolist()) for ex, rows in plain] == [(ex.cutoff, rows.tolist()) for ex, rows in budgeted]


@pytest.mark.parametrize("budget", [1, 40, 100])
def test_a_budget_below_the_examples_reads_about_it_a_fresh_draw_each_epoch(budget: int) -> None:
    train = cutoffs(3)  # 180 examples
    generator = torch.Generator().manual_seed(1)
    first = training_batches(train, 16, generator, budget=budget)
    second = training_batches(train, 16, generator, budget=budget)
    for epoch in (first, second):
        read = sum(len(rows) for _, rows in epoch)
        assert budget <= read < budget + 16  # the batches up to the one that reaches it
    assert [r.tolist() for _, r in first] != [r.tolist() for _, r in second]


def test_the_early_stopping_subset_keeps_every_cutoffs_share_and_all_when_fewer() -> None:
    val = cutoffs(3, seed=10)
    assert subset(val, 1_000) is val
    part = subset(val, 90)
    assert [len(e.deal_ids) for e in part] == [30, 30, 30]
    for whole, cut in zip(val, part, strict=True):
        assert cut.data is whole.data and cut.samplers is whole.samplers  # the graph and its samplers are shared
        positions = {d: i for i, d in enumerate(whole.deal_ids)}
        rows = torch.tensor([positions[d] for d in cut.deal_ids])
        assert torch.equal(cut.index, whole.index[rows]) and torch.equal(cut.labels, whole.labels[rows])


def test_budgets_above_the_examples_train_the_same_model() -> None:
    examples = {"train": cutoffs(3), "val": cutoffs(2, seed=20)}
    model = ModelConfig(hidden=8, layers=2, fanout=4)
    base = FitConfig(model=model, epochs=4, patience=4, batch_size=16)
    unbounded = FitConfig(model=model, epochs=4, patience=4, batch_size=16, epoch_examples=None,
                          early_stop_examples=None)
    a, auroc_a, epoch_a = fit_graph_model(examples, base)
    b, auroc_b, epoch_b = fit_graph_model(examples, unbounded)
    assert (auroc_a, epoch_a) == (auroc_b, epoch_b)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    small = FitConfig(model=model, epochs=4, patience=4, batch_size=16, epoch_examples=32, early_stop_examples=50)
    c, _, _ = fit_graph_model(examples, small)
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())  # the budget does bite


def test_validation_read_from_graphs_cut_once_gives_the_same_logits() -> None:
    val = cutoffs(2, seed=30)
    config = ModelConfig(hidden=8, layers=2, fanout=4)
    torch.manual_seed(0)
    model = HeteroSAGE({t: val[0].data[t].x.shape[1] for t in val[0].data.node_types}, val[0].data.edge_types, config)
    model.eval()
    with torch.no_grad():
        read = logits_of_cuts(model, cut_once(val, config, batch_size=16))
        again = torch.cat([sampled_logits(model, e, batch_size=16) for e in val])
    assert torch.equal(read, again)


def test_configurations_fitted_at_once_are_the_models_fitted_one_after_another() -> None:
    examples = {"train": cutoffs(3), "val": cutoffs(2, seed=20)}
    grid = tuple(FitConfig(model=ModelConfig(hidden=h, layers=2, fanout=4), epochs=3, patience=3, batch_size=16,
                           seed=s) for h, s in ((8, 0), (6, 1)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a worker's count, so the two runs do the same arithmetic
    try:
        alone = fit_each(examples, grid, None, workers=1)
        together = fit_each(examples, grid, None, workers=2)
    finally:
        torch.set_num_threads(threads)
    for (a, auroc_a, epoch_a), (b, auroc_b, epoch_b) in zip(alone, together, strict=True):
        assert (auroc_a, epoch_a) == (auroc_b, epoch_b)
        assert a.state_dict().keys() == b.state_dict().keys()
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), key
