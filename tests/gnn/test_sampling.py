"""The neighbour sampler (`gnn.sampling`): exact when the cap exceeds every degree, newest first when it does not,
the same graph for a deal whatever its batch, and generic over node and edge types."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn.model import HeteroSAGE, ModelConfig
from gnn.sampling import NeighbourSampler

# Node types beyond the deal's own: any the schema declares must just work (an Activity here).
SIZES = {"Deal": 60, "Product": 4, "Account": 9, "Activity": 120}
RELATIONS = [("Deal", "FOR_PRODUCT", "Product"), ("Deal", "FOR_ACCOUNT", "Account"), ("Activity", "ON_DEAL", "Deal")]


def random_graph(seed: int) -> HeteroData:
    """Products are hubs (about 15 deals each), every deal has several activities, both directions typed."""
    rng = np.random.default_rng(seed)
    data = HeteroData()
    for t, n in SIZES.items():
        data[t].x = torch.from_numpy(rng.normal(size=(n, 5)).astype(np.float32))
        data[t].time = torch.from_numpy(rng.integers(0, 1_000_000, n))
        data[t].node_id = [f"{t}{i}" for i in range(n)]
    for src, rel, dst in RELATIONS:
        n = SIZES[src]
        ei = torch.stack([torch.arange(n), torch.from_numpy(rng.integers(0, SIZES[dst], n))])
        data[src, rel, dst].edge_index = ei
        data[dst, f"rev_{rel}", src].edge_index = ei.flip(0)
    return data


def model_for(data: HeteroData, fanout: int | None) -> HeteroSAGE:
    torch.manual_seed(0)
    config = ModelConfig(hidden=16, layers=2, fanout=fanout)
    return HeteroSAGE({t: data[t].x.shape[1] for t in data.node_types}, data.edge_types, config).eval()


@pytest.mark.parametrize("batch_size", [1, 7, 60])
def test_cap_above_every_degree_gives_the_full_batch_predictions(batch_size: int) -> None:
    data = random_graph(0)
    model = model_for(data, fanout=10_000)
    seeds = torch.randperm(SIZES["Deal"], generator=torch.Generator().manual_seed(1))[:40]
    with torch.no_grad():
        full = model(data.x_dict, data.edge_index_dict)[seeds]
        sampled = torch.empty(len(seeds))
        for rows, s in NeighbourSampler(data, 10_000, hops=2).batches("Deal", seeds, batch_size):
            sampled[rows] = model(s.x_dict, s.edge_index_dict)[s.seeds]
    assert torch.allclose(full, sampled, atol=1e-5), (full - sampled).abs().max()


def test_a_capped_hub_keeps_its_newest_senders() -> None:
    data = random_graph(1)
    data["Product"].time = torch.zeros(SIZES["Product"], dtype=torch.long)  # known from the start: deals set the order
    sampler = NeighbourSampler(data, fanout=3, hops=2)
    s = sampler.sample("Deal", torch.arange(SIZES["Deal"]))
    edge = ("Deal", "FOR_PRODUCT", "Product")  # deals -> product: the hub's senders
    ei = s.edge_index_dict[edge]
    full = data[edge].edge_index
    deal_time = data["Deal"].time
    for product in range(SIZES["Product"]):
        senders = s.nodes["Deal"][ei[0, ei[1] == int((s.nodes["Product"] == product).nonzero()[0, 0])]]
        all_senders = full[0, full[1] == product]
        newest = all_senders[torch.argsort(deal_time[all_senders], descending=True, stable=True)][:3]
        assert sorted(senders.tolist()) == sorted(newest.tolist())
    # Every node hears from at most 3 senders per edge type.
    for e, index in s.edge_index_dict.items():
        assert int(torch.bincount(index[1]).max()) <= 3, e


def test_a_deal_is_scored_the_same_alone_and_in_any_batch() -> None:
    data = random_graph(2)
    model = model_for(data, fanout=2)
    sampler = NeighbourSampler(data, fanout=2, hops=2)
    seeds = torch.arange(SIZES["Deal"])
    with torch.no_grad():
        together = sampler.sample("Deal", seeds)
        batch = model(together.x_dict, together.edge_index_dict)[together.seeds]
        for d in (0, 17, 59):
            alone = sampler.sample("Deal", torch.tensor([d]))
            assert torch.allclose(model(alone.x_dict, alone.edge_index_dict)[alone.seeds][0], batch[d], atol=1e-5)


def test_fingerprints_move_exactly_where_an_input_of_the_sampled_neighbourhood_does() -> None:
    data = random_graph(3)
    on_deal = data["Activity", "ON_DEAL", "Deal"].edge_index
    deal = int(on_deal[1, 0])
    sampler = NeighbourSampler(data, fanout=2, hops=2)
    deals = torch.arange(SIZES["Deal"])
    before = sampler.digests("Deal", deals)
    assert before == sampler.digests("Deal", deals) and len(set(before)) == len(before)
    sampled = sampler.sample("Deal", torch.tensor([deal]))
    activity = int(sampled.nodes["Activity"][0])  # one the deal hears from
    data["Activity"].x[activity] += 1.0
    after = sampler.digests("Deal", deals)
    # Exactly the deals whose sampled graphs hold that activity changed: the deal itself at least.
    hold = {d for d in range(SIZES["Deal"])
            if activity in sampler.sample("Deal", torch.tensor([d])).nodes["Activity"].tolist()}
    assert deal in hold
    assert {d for d in range(SIZES["Deal"]) if after[d] != before[d]} == hold


def test_explanations_run_on_the_sampled_graph_the_score_came_from(trained) -> None:
    """The explainer cuts each deal's sampled computation graph (capped per node and edge type), and the model
    on that graph gives the deal's score: what is explained is what was scored."""
    from gnn.explain import PathExplainer
    from gnn.fit import calibrate
    from gnn.score import load_model, open_examples, predict_examples

    loaded = load_model(trained.home)
    assert loaded.model is not None and loaded.model.config.fanout is not None  # training samples by default
    snap = trained.store.snapshot()
    opened = open_examples(snap, loaded.spec)
    assert opened is not None
    explainer = PathExplainer(loaded.model, opened.data, snap, hops=loaded.model.config.layers, platt=loaded.platt)
    scores = predict_examples(loaded, [opened])
    for i in range(0, len(opened.deal_ids), max(1, len(opened.deal_ids) // 8)):
        pos = int(opened.index[i])
        node_map, sub = explainer._computation_graph(pos)
        local = int((node_map["Deal"] == pos).nonzero()[0, 0])
        with torch.no_grad():
            logit = loaded.model(sub.x_dict, sub.edge_index_dict)[local].numpy()
        assert calibrate(logit, loaded.platt) == pytest.approx(scores[i], abs=1e-5)
        for e, ei in sub.edge_index_dict.items():
            assert not len(ei[1]) or int(torch.bincount(ei[1]).max()) <= loaded.model.config.fanout, e


@pytest.mark.parametrize("fanout", [0, -3])
def test_a_fanout_below_one_is_refused_before_anything_is_read(trained, tmp_path, fanout: int) -> None:
    from gnn.train import TrainConfig, train
    from graph import InvalidInput

    with pytest.raises(InvalidInput, match="--fanout"):
        train(trained.store, tmp_path, config=TrainConfig(fanout=fanout))
    assert not any(tmp_path.iterdir())  # nothing registered
