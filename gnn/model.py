"""Heterogeneous GraphSAGE: one SAGEConv per edge type (PyG `HeteroConv`), a deal head.

Every node type is first projected to the hidden size; each layer sums the
messages of all edge types into a node and adds them to its previous state
(residual), so node types that receive no messages keep their embedding.
An optional wide part (`gnn.wide`), fitted before and frozen, adds a linear term
on the deal's own row and its crosses with its neighbours to the logit.
Needs neither torch-sparse nor pyg-lib: it runs on a whole graph or on sampled
computation graphs cut by `gnn.sampling` (`ModelConfig.fanout`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import cast

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv

from gnn.wide import WideLinear
from ontology.names import Label

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class ModelConfig:
    hidden: int = 32
    layers: int = 2
    dropout: float = 0.2
    # Dropping input features while training makes the model lean on what many neighbours agree on
    # (a contact's record over all its deals) rather than on one node's own attributes, which it
    # otherwise overfits within a few epochs (docs/design.md, "Model choices").
    input_dropout: float = 0.0
    target: str = Label.DEAL
    # Senders each node hears from per edge type, the most recent first (`gnn.sampling`); the model is fitted
    # and scored on mini-batches of target deals' sampled computation graphs. None: full-batch, whole graph.
    fanout: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class HeteroSAGE(nn.Module):
    """Scores target nodes (deals) from their typed neighbourhood.

    Example:
        >>> model = HeteroSAGE({"Deal": 8, "Account": 5}, [("Deal", "FOR_ACCOUNT", "Account"),
        ...                    ("Account", "rev_FOR_ACCOUNT", "Deal")], ModelConfig())
        >>> logits = model(data.x_dict, data.edge_index_dict)   # one logit per deal
    """

    def __init__(self, in_dims: dict[str, int], edge_types: list[EdgeType], config: ModelConfig,
                 wide: WideLinear | None = None) -> None:
        super().__init__()
        self.wide = wide
        self.config = config
        self.in_dims = dict(in_dims)
        self.edge_types: list[EdgeType] = [(e[0], e[1], e[2]) for e in edge_types]
        self.project = nn.ModuleDict({t: nn.Linear(d, config.hidden) for t, d in in_dims.items()})
        self.convs = nn.ModuleList(
            HeteroConv({e: SAGEConv(config.hidden, config.hidden) for e in self.edge_types}, aggr="sum")
            for _ in range(config.layers)
        )
        self.norms = nn.ModuleList(
            nn.ModuleDict({t: nn.LayerNorm(config.hidden) for t in in_dims}) for _ in range(config.layers)
        )
        self.head = nn.Sequential(nn.Linear(config.hidden, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        drop_in = nn.functional.dropout
        h = {t: torch.relu(self.project[t](drop_in(x, self.config.input_dropout, self.training)))
             for t, x in x_dict.items()}
        edges = {e: ei for e, ei in edge_index_dict.items() if e in self.edge_types}
        for conv, layer_norms in zip(self.convs, self.norms, strict=True):
            norms = cast(nn.ModuleDict, layer_norms)  # a ModuleList yields plain Modules to the type checker
            messages = conv(h, edges)
            h = {t: norms[t](v + self.dropout(torch.relu(messages[t]))) if t in messages else v for t, v in h.items()}
        logit = self.head(h[self.config.target]).squeeze(-1)
        return logit if self.wide is None else logit + self.wide(x_dict, edge_index_dict)
