"""Examples from each deal's life: every closed deal is an example, deals weigh the same, horizons censor
honestly, newborn deals are seen by nobody, and a split error says which window lacks what."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.dataset import coverage, labelled, leak_safe_examples, temporal_split
from gnn.train import TrainConfig, train
from graph.store import InvalidInput
from tests.gnn.funnel import LOSS_AFTER_DAYS, loaded_funnel


@pytest.fixture(scope="module")
def funnel(tmp_path_factory):
    store = loaded_funnel(tmp_path_factory.mktemp("funnel"), leads=400)
    yield store
    store.close()


def test_every_closed_deal_of_a_fast_funnel_is_an_example(funnel):
    # Wins close in ~14 days: a 30-day grid alone missed most of them.
    full = funnel.snapshot()
    split, _, examples = leak_safe_examples(full)
    cov = coverage(full, examples)
    assert cov["closed_deals"] > 300 and cov["without"] == 0, cov
    grid_only = {d for c in split.cutoffs for d in labelled(full, split, c).query("~newborn").index}
    assert len(grid_only & set(full.nodes["Outcome"]["id"].str.removesuffix(":outcome"))) < cov["closed_deals"]


def test_every_closed_deal_of_the_sample_is_an_example(trained):
    full = trained.store.snapshot()
    _, _, examples = leak_safe_examples(full)
    assert coverage(full, examples)["without"] == 0


def test_each_deal_weighs_one_in_its_split(funnel):
    _, _, examples = leak_safe_examples(funnel.snapshot())
    for part in examples.values():
        total: dict[str, float] = {}
        for e in part:
            for d, w in zip(e.deal_ids, e.weight().tolist(), strict=True):
                total[d] = total.get(d, 0.0) + w
        assert total and np.allclose(list(total.values()), 1.0)
    long_lived = max((d for e in examples["train"] for d in e.deal_ids),
                     key=lambda d: sum(d in e.deal_ids for e in examples["train"]))
    assert sum(long_lived in e.deal_ids for e in examples["train"]) > 1  # so the weights did something


def test_newborn_deals_send_no_messages_and_show_no_outcome(funnel):
    # A deal created inside a bucket is an example at its creation: it sees the graph at the bucket's start,
    # and nobody sees it (its existence is later than the other examples' cutoff).
    full = funnel.snapshot()
    split, spec, examples = leak_safe_examples(full)
    flags = [spec.column_names("Deal").index(f) for f in ("won", "lost")]
    checked = 0
    for e in examples["train"] + examples["val"]:
        chosen = labelled(full, split, e.cutoff)
        newborn = pd.Index(e.data["Deal"].node_id).get_indexer(chosen.index[chosen["newborn"]])
        if not len(newborn):
            continue
        for edge_type in e.data.edge_types:
            if edge_type[0] == "Deal":
                assert not np.isin(e.data[edge_type].edge_index[0].numpy(), newborn).any(), edge_type
        assert (e.data["Deal"].x.numpy()[newborn][:, flags] == 0).all()
        checked += 1
    assert checked


def test_a_horizon_censors_every_window_that_the_deadline_cuts(funnel):
    full = funnel.snapshot()
    # Shorter than the loss rule, so leads still open at the end have windows that fit before it.
    split = temporal_split(full, 30, horizon_days=LOSS_AFTER_DAYS // 3)
    horizon = pd.Timedelta(days=LOSS_AFTER_DAYS // 3)
    closed = set(full.edges["HAS_OUTCOME"]["src"])
    still_open = 0
    for c in split.cutoffs:
        chosen = labelled(full, split, c)
        assert (chosen["at"] + horizon <= split.label_deadline(split.split_of(c))).all()
        never_closed = chosen[~chosen.index.isin(closed)]
        assert (never_closed["label"] == 0).all()
        still_open += len(never_closed)
    assert still_open  # deals open at the end contribute "not won within H" until the data ends


def test_a_split_error_says_which_window_lacks_what(funnel, tmp_path):
    with pytest.raises(InvalidInput, match=r"test window .* --horizon 200"):
        train(funnel, tmp_path, config=TrainConfig(horizon_days=200))
