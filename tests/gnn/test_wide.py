"""The wide part (`gnn.wide`): crosses of a deal's categories with its neighbours', frozen under the GraphSAGE part,
and credited to the edges that make them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gnn.attribution import EdgeIntegratedGradients, make_explainer
from gnn.dataset import leak_safe_examples
from gnn.features import FeatureSpec, encode
from gnn.fit import FitConfig, fit_graph_model
from gnn.model import HeteroSAGE, ModelConfig
from gnn.wide import WideLinear, WideSpec
from graph import GraphStore, open_store, sqlite_url

T0 = "2025-01-01T00:00:00+00:00"
CROSS = "Account.industry=Finance x Product.family=Platform"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GraphStore]:
    """One deal at a Finance account with two products, a Platform and an Analytics one."""
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    store.upsert_nodes("Account", [{"id": "acme", "name": "Acme", "industry": "Finance", "created_at": T0},
                                   {"id": "globex", "name": "Globex", "industry": "Retail", "created_at": T0}])
    store.upsert_nodes("Product", [{"id": "p1", "name": "Core", "family": "Platform", "created_at": T0},
                                   {"id": "p2", "name": "Insight", "family": "Analytics", "created_at": T0}])
    store.upsert_nodes("Deal", [{"id": "d", "name": "Deal d", "amount": 1000.0, "created_at": T0},
                                {"id": "e", "name": "Deal e", "amount": 2000.0, "created_at": T0}])
    store.upsert_edges("FOR_ACCOUNT", [{"src": "d", "dst": "acme"}, {"src": "e", "dst": "globex"}])
    store.upsert_edges("FOR_PRODUCT", [{"id": "li1", "src": "d", "dst": "p1"}, {"id": "li2", "src": "d", "dst": "p2"},
                                       {"id": "li3", "src": "e", "dst": "p1"}])
    try:
        yield store
    finally:
        store.close()


def wide_model(store: GraphStore):
    snapshot = store.snapshot()
    spec = FeatureSpec.fit(snapshot.schema, snapshot)
    data = encode(spec, snapshot)
    wide = WideLinear(WideSpec.from_features(spec, data.edge_types))
    return spec, data, wide


def test_a_neighbour_category_crosses_the_deal_account_and_product_categories(store: GraphStore) -> None:
    spec, data, wide = wide_model(store)
    names = wide.spec.column_names(spec)
    assert len(names) == wide.spec.width == wide.linear.in_features
    assert "Contact" not in wide.spec.relations  # split by role: several edge types into a deal
    assert set(wide.spec.relations) >= {"Account", "Product"}
    rows = wide.features(data.x_dict, data.edge_index_dict).detach()
    d, e = data["Deal"].node_id.index("d"), data["Deal"].node_id.index("e")
    column = {name: rows[:, i] for i, name in enumerate(names)}
    # d: one Finance account, two products: half of each family's cross.
    assert float(column[CROSS][d]) == pytest.approx(0.5)
    assert float(column["Account.industry=Finance x Product.family=Analytics"][d]) == pytest.approx(0.5)
    assert float(column["Account.industry=Retail x Product.family=Platform"][d]) == 0.0
    assert float(column["Account.industry=Retail x Product.family=Platform"][e]) == pytest.approx(1.0)
    assert float(column[CROSS][e]) == 0.0
    # The deal's own columns come first, unchanged.
    assert torch.equal(rows[:, : data["Deal"].x.shape[1]], data["Deal"].x)
    # The logit, computed without the table, is the linear term of the table.
    with torch.no_grad():
        torch.nn.init.normal_(wide.linear.weight)
        expected = wide.linear(wide.features(data.x_dict, data.edge_index_dict)).squeeze(-1)
        assert torch.allclose(wide(data.x_dict, data.edge_index_dict), expected, atol=1e-5)


def test_explanations_credit_a_cross_to_the_edges_that_make_it(store: GraphStore) -> None:
    spec, data, wide = wide_model(store)
    model = HeteroSAGE({t: data[t].x.shape[1] for t in data.node_types}, data.edge_types, ModelConfig(), wide)
    with torch.no_grad():
        model.head[-1].weight.zero_()  # the GraphSAGE part says nothing: the score is the wide part's
        wide.linear.weight.zero_()
        wide.linear.weight[0, wide.spec.column_names(spec).index(CROSS)] = 2.0
    d = data["Deal"].node_id.index("d")
    masks = make_explainer(model, EdgeIntegratedGradients(steps=64))(data.x_dict, data.edge_index_dict,
                                                                      index=torch.tensor([d]))
    credit = {}
    for edge in data.edge_types:
        for pos, value in enumerate(masks[edge].edge_mask.tolist()):
            if abs(value) > 1e-6:
                src, dst = data[edge].edge_index[:, pos].tolist()
                credit[(edge[1], data[edge[0]].node_id[src], data[edge[2]].node_id[dst])] = value
    # The cross is 2.0 x (Finance share of d's account: 1) x (Platform share of its products: 1/2), all of it
    # through the account edge and the Platform product's edge, half each; the Analytics product's edge gets none.
    assert credit == pytest.approx({("rev_FOR_ACCOUNT", "acme", "d"): 0.5, ("rev_FOR_PRODUCT", "p1", "d"): 0.5},
                                  abs=1e-3)


def test_the_graphsage_part_trains_around_the_wide_part_without_moving_it(trained) -> None:
    _, spec, examples = leak_safe_examples(trained.store.snapshot())
    wide = WideLinear(WideSpec.from_features(spec, examples["train"][0].data.edge_types))
    wide.requires_grad_(False)
    before = {k: v.clone() for k, v in wide.state_dict().items()}
    model, _, _ = fit_graph_model(examples, FitConfig(epochs=2, patience=5), wide)
    assert model.wide is wide
    assert all(torch.equal(before[k], v) for k, v in wide.state_dict().items())
    torch.manual_seed(FitConfig().seed)  # as fit_graph_model does before building the model
    initial = HeteroSAGE(model.in_dims, model.edge_types, model.config)
    assert not torch.equal(model.head[-1].weight, initial.head[-1].weight)  # the rest did learn
