"""The wide part of the graph model: a linear term on a deal's own row and on crosses with its neighbours.

A deal's win chance often hangs on a pairing rather than on either side alone
(a product family that sells in one industry and not in another). Message
passing can learn such pairings only slowly, and the graph model stops
improving on validation within a few epochs, before it does (docs/design.md,
"Model choices"). So, as in Wide & Deep (Cheng et al., 2016), the model's logit
is this linear term plus the GraphSAGE part:

- inputs: the deal's own features (records at opening included), and every
  product of a categorical column of the deal or of one neighbour type with a
  categorical column of another (industry x product family, lead source x rep
  team, ...). A neighbour's columns are the mean over the deal's edges from that
  type, so a deal with two products gets half of each family's cross;
- fitted first, as an L2-regularised logistic regression on the training
  examples (its strength chosen on validation), then frozen while the GraphSAGE
  part learns what it leaves;
- neighbour means are taken by parameter-free message passing (PyG
  `SimpleConv`) keyed by edge type, so edge explanations (`gnn.attribution`)
  credit a cross to the account and product edges that make it.

Neighbour types that reach a deal through several edge types (contacts, split
by role) are left out of the crosses: their columns would mix the roles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn
from torch_geometric.nn import SimpleConv

from gnn.features import FeatureSpec
from gnn.forked import fork_map
from ontology.names import Label

EdgeType = tuple[str, str, str]

#: Strengths of the L2 penalty tried (scikit-learn's C: smaller is stronger), chosen on validation.
C_GRID = (0.003, 0.01, 0.03)


@dataclass(frozen=True)
class WideSpec:
    """Which columns cross with which: categorical column groups per node type, and the edge into the deal."""

    target: str
    in_dim: int
    blocks: dict[str, list[list[int]]]
    relations: dict[str, EdgeType]

    @classmethod
    def from_features(cls, spec: FeatureSpec, edge_types: list[EdgeType], target: str = Label.DEAL) -> WideSpec:
        into_target: dict[str, list[EdgeType]] = {}
        for edge in edge_types:
            if edge[2] == target and edge[0] != target:
                into_target.setdefault(edge[0], []).append((edge[0], edge[1], edge[2]))
        relations = {label: edges[0] for label, edges in sorted(into_target.items()) if len(edges) == 1}
        blocks = {label: list(spec.category_columns(label).values()) for label in [target, *relations]}
        return cls(target, len(spec.column_names(target)), blocks, relations)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WideSpec:
        relations = {label: tuple(edge) for label, edge in data["relations"].items()}
        return cls(data["target"], data["in_dim"], data["blocks"], relations)

    @property
    def width(self) -> int:
        sizes = [(label, len(cols)) for label, groups in self.blocks.items() for cols in groups]
        crosses = sum(a * b for (la, a), (lb, b) in combinations(sizes, 2) if la != lb)
        return self.in_dim + crosses

    def column_names(self, spec: FeatureSpec) -> list[str]:
        """A name per input of the linear term, in order: the deal's columns, then `Account.industry=Finance x
        Product.family=Analytics`-style crosses (for reading the fitted weights)."""
        names = {label: spec.column_names(label) for label in self.blocks}
        blocks = [(label, [f"{label}.{names[label][i]}" for i in cols]) for label, groups in self.blocks.items()
                  for cols in groups]
        crosses = [f"{a} x {b}" for (la, na), (lb, nb) in combinations(blocks, 2) if la != lb for a in na for b in nb]
        return names[self.target] + crosses


def _key(edge: EdgeType) -> str:
    # The key PyG's explain utilities look for in a ModuleDict to set an edge type's mask.
    return "__".join(edge)


class WideLinear(nn.Module):
    """The linear term: `logit = w . [deal row, crosses] + b`."""

    def __init__(self, spec: WideSpec) -> None:
        super().__init__()
        self.spec = spec
        self.means = nn.ModuleDict({_key(e): SimpleConv(aggr="mean") for e in spec.relations.values()})
        self.linear = nn.Linear(spec.width, 1)

    def features(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        """The inputs of the linear term as one table (named by `WideSpec.column_names`): for fitting and reading."""
        own, blocks = self._blocks(x_dict, edge_index_dict)
        crosses = [(a.unsqueeze(2) * b.unsqueeze(1)).flatten(1) for a, b in self._pairs(blocks)]
        return torch.cat([own, *crosses], dim=1)

    def forward(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        """`linear(features(...))`, without building the table: each cross's share is the bilinear form a' W b.
        Explaining a deal runs this on its whole two-hop graph (thousands of deals through a product) several
        times over; the table would be deals x 1,305 columns each time."""
        own, blocks = self._blocks(x_dict, edge_index_dict)
        weight = self.linear.weight[0]
        logit = own @ weight[: own.shape[1]] + self.linear.bias
        start = own.shape[1]
        for a, b in self._pairs(blocks):
            size = a.shape[1] * b.shape[1]
            logit = logit + ((a @ weight[start : start + size].view(a.shape[1], b.shape[1])) * b).sum(dim=1)
            start += size
        return logit

    def _blocks(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> tuple[Tensor, list]:
        own = x_dict[self.spec.target]
        blocks = []
        for label, groups in self.spec.blocks.items():
            rows = own if label == self.spec.target else self._neighbour_mean(label, x_dict, edge_index_dict)
            blocks += [(label, rows[:, cols]) for cols in groups]
        return own, blocks

    @staticmethod
    def _pairs(blocks: list[tuple[str, Tensor]]):
        return ((a, b) for (la, a), (lb, b) in combinations(blocks, 2) if la != lb)

    def _neighbour_mean(self, label: str, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]) -> Tensor:
        """Per deal, the mean features of its `label` neighbours (zeros without any)."""
        own, edge = x_dict[self.spec.target], self.spec.relations[label]
        if edge not in edge_index_dict:
            return own.new_zeros(own.shape[0], x_dict[label].shape[1])
        return self.means[_key(edge)]((x_dict[label], own), edge_index_dict[edge])


def fit_wide(spec: WideSpec, train: list, val: list, workers: int = 1) -> tuple[WideLinear, dict]:
    """Fit the linear term on the training examples, its penalty chosen by validation AUROC; returned frozen.

    `train` and `val` are `gnn.dataset.CutoffExamples` lists; `workers`: penalties fitted at once (`gnn.forked`)."""
    wide = WideLinear(spec)

    def table(examples: list) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            x = [wide.features(e.data.x_dict, e.data.edge_index_dict)[e.index].numpy() for e in examples]
        return np.concatenate(x), np.concatenate([e.labels.numpy() for e in examples])

    (x_train, y_train), (x_val, y_val) = table(train), table(val)
    # Every deal counts once however long it stayed open (`gnn.dataset.weigh_by_deal`); mean 1 keeps C's scale.
    w_train = np.concatenate([e.weight().numpy() for e in train])
    w_train = w_train / w_train.mean()
    fits = fork_map(lambda c: LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train, sample_weight=w_train),
                    C_GRID, workers)
    tried, best = {}, None
    for c, fitted in zip(C_GRID, fits, strict=True):
        tried[c] = roc_auc_score(y_val, fitted.decision_function(x_val)) if len(np.unique(y_val)) > 1 else 0.0
        if best is None or tried[c] > tried[best[0]]:
            best = (c, fitted)
    assert best is not None  # C_GRID is not empty
    with torch.no_grad():
        wide.linear.weight.copy_(torch.from_numpy(best[1].coef_).float())
        wide.linear.bias.copy_(torch.from_numpy(best[1].intercept_).float())
    wide.requires_grad_(False)
    report = {"C": best[0], "columns": spec.width, "val_auroc": {str(c): round(a, 4) for c, a in tried.items()}}
    return wide, report
