"""Edge attributions for the heterogeneous model, as a PyG explain algorithm, against a stated reference.

Integrated gradients over the edge masks: every edge of the computation graph
moves from its reference to itself along a straight line, and its attribution
is the average gradient of the deal's logit along that line. Attributions are
signed — positive edges raise the score — and sum to the logit's change from
the reference graph to the real one (completeness), which is what makes path
weights comparable.

The reference is a typical deal (`Reference`): the same deal, with the same
shape of neighbourhood, whose every neighbour is replaced by the average node
of its type — which itself sits among average neighbours. So an edge's
attribution answers "does this neighbour push the score up or down compared
with a typical one?", the question a sentence such as "3 of 4 earlier deals
won — above the 45% typical" answers in words. Against the empty graph (no
`Reference`, how explanations were made before) the same won record could
"lower" the score merely because having an account at all is worth less than
having a typical one, and the sentence never said relative to what.

How the reference enters the model: every edge u -> v gets a twin ref(u) -> v
from the reference node of u's type; the real edge carries mask 2m and its
twin 2(1 - m). Messages are averaged (SAGEConv's and the wide part's mean),
so v sees the mean of m * real + (1 - m) * reference messages: at m = 1 the
real graph exactly, at m = 0 the reference. Reference nodes are linked to each
other by one edge per edge type (mask 1), so the typical neighbour has a
typical neighbourhood of its own.

Why not Captum: PyG's CaptumExplainer needs the `captum` package (and
matplotlib), and its IntegratedGradients on hetero edge masks fails when an
edge type has no edges in the subgraph (autograd refuses unused inputs);
here unused masks simply get zero gradient. GNNExplainer costs about a second
per deal here, far too slow for every open deal at scoring time.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch_geometric.explain import Explainer, HeteroExplanation
from torch_geometric.explain.algorithm import ExplainerAlgorithm
from torch_geometric.explain.config import MaskType, ModelMode, ModelReturnType
from torch_geometric.nn import MessagePassing

if TYPE_CHECKING:
    from gnn.model import HeteroSAGE

EdgeType = tuple[str, str, str]
#: From per-real-edge weights m (leading dimensions: copies; 1 keeps the edge, 0 puts its reference in its place)
#: to the masks of every edge the model sees, copies flattened.
MaskFn = Callable[[dict[EdgeType, Tensor]], dict[EdgeType, Tensor]]

#: What attributions against `Reference` are relative to, in the words a reader gets.
TYPICAL = "a typical deal: each neighbour replaced by the average of its kind"
#: What they were relative to before (and with `reference=None`).
EMPTY = "the deal with no neighbours"


@dataclass(frozen=True)
class Reference:
    """The typical neighbour of each node type, which attributions are measured against.

    Example:
        >>> reference = Reference.mean_of(data.x_dict)   # the average account, contact, deal, ...
        >>> make_explainer(model, EdgeIntegratedGradients(reference=reference))
    """

    x: dict[str, Tensor]  # one feature row per node type

    @classmethod
    def mean_of(cls, x_dict: dict[str, Tensor]) -> Reference:
        """The average node of each type: scaled numbers, category shares, the share of deals won and lost."""
        return cls({t: v.mean(0) if v.shape[0] else v.new_zeros(v.shape[1]) for t, v in x_dict.items()})


def with_reference(x: dict[str, Tensor], edge_index: dict[EdgeType, Tensor], reference: Reference | None,
                   edge_types: list[EdgeType]) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor], MaskFn]:
    """The graph the model runs on to move each edge between its reference and itself, and its mask rule.

    Without a reference that is the graph itself, and an edge's reference is its absence.
    """
    if reference is None:
        return x, edge_index, lambda m: {e: v.reshape(-1) for e, v in m.items()}
    ref = {t: v.shape[0] for t, v in x.items()}
    x2 = {t: torch.cat([v, reference.x[t].view(1, -1).to(v.dtype)]) for t, v in x.items()}
    ei2 = {}
    for e in edge_types:
        if e[0] not in x or e[2] not in x:
            continue
        ei = edge_index.get(e, torch.zeros(2, 0, dtype=torch.long))
        twin = torch.stack([torch.full_like(ei[0], ref[e[0]]), ei[1]])
        ei2[e] = torch.cat([ei, twin, torch.tensor([[ref[e[0]]], [ref[e[2]]]])], dim=1)

    def masks(m: dict[EdgeType, Tensor]) -> dict[EdgeType, Tensor]:
        # Real edge 2m, its twin 2(1 - m): the mean over both is m * real + (1 - m) * reference.
        lead = next(iter(m.values())).shape[:-1] if m else torch.Size()
        out = {}
        for e in ei2:
            v = m[e] if e in m else torch.zeros(lead + (0,))  # a type with no real edge: only its reference edge
            out[e] = torch.cat([2 * v, 2 * (1 - v), torch.ones(lead + (1,))], dim=-1).reshape(-1)
        return out

    return x2, ei2, masks


def copies(x: dict[str, Tensor], edge_index: dict[EdgeType, Tensor],
           k: int) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
    """`k` disjoint copies of a graph, copy-major (copy c's nodes of a type follow copy c - 1's): one forward pass
    runs every copy, each with its own edge masks."""
    sizes = {t: v.shape[0] for t, v in x.items()}
    ei_batch = {}
    for e, ei in edge_index.items():
        offsets = torch.tensor([sizes[e[0]], sizes[e[2]]]).view(2, 1, 1) * torch.arange(k).view(1, k, 1)
        ei_batch[e] = (ei.unsqueeze(1) + offsets).reshape(2, -1)
    return {t: v.repeat(k, 1) for t, v in x.items()}, ei_batch


def set_edge_masks(model: torch.nn.Module, masks: dict[EdgeType, Tensor], edge_index: dict[EdgeType, Tensor]) -> None:
    """PyG's `set_hetero_masks(..., apply_sigmoid=False)`, cheaper (explaining runs it a few times per batch of deals,
    and it was 8% of explaining): the layers of each edge type are found once per model, not on every call, and
    an edge type's loop mask is computed once, and only for layers that add self-loops (none of this model's:
    PyG reads it only where a layer's messages outnumber its edges)."""
    loops: dict[EdgeType, Tensor] = {}
    for edge_type, layers in _layers_of(model).items():
        if edge_type not in masks:
            continue
        for layer in layers:
            if layer.explain is False:  # a layer explicitly left out, as PyG skips it
                continue
            mask = masks[edge_type]
            if "_edge_mask" in layer._parameters and not isinstance(mask, torch.nn.Parameter):
                mask = torch.nn.Parameter(mask)
            if getattr(layer, "add_self_loops", False) and edge_type not in loops:
                loops[edge_type] = edge_index[edge_type][0] != edge_index[edge_type][1]
            layer.explain = True
            layer._edge_mask = mask
            layer._loop_mask = loops.get(edge_type)
            layer._apply_sigmoid = False


def clear_edge_masks(model: torch.nn.Module) -> None:
    """PyG's `clear_masks` for the layers `set_edge_masks` sets (the walk over every module was 2% of explaining)."""
    for layers in _layers_of(model).values():
        for layer in layers:
            if layer.explain is True:
                layer.explain = None
            layer._edge_mask = None
            layer._loop_mask = None
            layer._apply_sigmoid = True


#: Per model, the message-passing layers under each edge type's key, in the order PyG's walk visits them.
_LAYERS: weakref.WeakKeyDictionary[torch.nn.Module, dict[EdgeType, list[MessagePassing]]] = weakref.WeakKeyDictionary()


def _layers_of(model: torch.nn.Module) -> dict[EdgeType, list[MessagePassing]]:
    if model not in _LAYERS:
        found: dict[EdgeType, list[MessagePassing]] = {}
        for module in model.modules():
            if isinstance(module, torch.nn.ModuleDict):
                for edge_type in getattr(model, "edge_types", []):
                    # PyG's ModuleDict takes the edge type itself as a key; torch's, its parts joined.
                    key = edge_type if edge_type in module else "__".join(edge_type)
                    if key in module:
                        found.setdefault(tuple(edge_type), []).extend(
                            m for m in module[key].modules() if isinstance(m, MessagePassing))
        _LAYERS[model] = found
    return _LAYERS[model]


class EdgeIntegratedGradients(ExplainerAlgorithm):
    """Signed edge attributions by integrated gradients on the edge masks, from `reference` (None: the empty graph)."""

    # Four midpoint steps: the ranking of paths is stable, and on the default sample 8 steps cost 1.8x the time
    # (tests check completeness with 64 steps).
    def __init__(self, steps: int = 4, reference: Reference | None = None) -> None:
        super().__init__()
        self.steps = steps
        self.reference = reference

    def supports(self) -> bool:
        cfg = self.explainer_config
        return (
            cfg.edge_mask_type == MaskType.object
            and cfg.node_mask_type is None
            and self.model_config.mode in (ModelMode.binary_classification, ModelMode.regression)
            and self.model_config.return_type == ModelReturnType.raw
        )

    def forward(self, model, x, edge_index, *, target, index=None, **kwargs) -> HeteroExplanation:
        if not isinstance(x, dict):
            raise ValueError("EdgeIntegratedGradients explains heterogeneous graphs")
        # All interpolation steps run as one batch: `steps` disjoint copies of the
        # graph, copy k with every edge at alpha_k of the way from its reference (midpoint
        # rule). One forward and one backward instead of `steps` of each; same result.
        k = self.steps
        alphas = (torch.arange(k, dtype=torch.float) + 0.5) / k
        x_run, ei_run, to_masks = with_reference(x, edge_index, self.reference, model.edge_types)
        sizes = {t: v.shape[0] for t, v in x_run.items()}
        x_batch, ei_batch = copies(x_run, ei_run, k)
        leaves = {e: alphas.view(k, 1).repeat(1, ei.shape[1]).requires_grad_(True) for e, ei in edge_index.items()}
        set_edge_masks(model, to_masks(leaves), ei_batch)
        try:
            out = model(x_batch, ei_batch, **kwargs)
            target_size = sizes[model.config.target]
            every = torch.arange(x[model.config.target].shape[0])
            picks = torch.as_tensor(index if index is not None else every).view(-1)
            picks = (picks.view(1, -1) + target_size * torch.arange(k).view(-1, 1)).reshape(-1)
            grads = torch.autograd.grad(out[picks].sum(), list(leaves.values()), allow_unused=True)
        finally:
            clear_edge_masks(model)
        edge_mask = {}
        for (e, ei), g in zip(edge_index.items(), grads, strict=True):
            edge_mask[e] = torch.zeros(ei.shape[1]) if g is None else g.detach().mean(0)
        explanation = HeteroExplanation()
        explanation.set_value_dict("edge_mask", edge_mask)
        return explanation


def make_explainer(model: torch.nn.Module, algorithm: ExplainerAlgorithm | None = None) -> Explainer:
    """A PyG `Explainer` returning edge attributions for the deals at `index` (signed, by integrated gradients
    from the empty graph, unless another edge-mask algorithm is given, e.g. `EdgeIntegratedGradients(reference=...)`
    or `GNNExplainer(epochs=100)` for comparison)."""
    return Explainer(
        model=model,
        algorithm=algorithm or EdgeIntegratedGradients(),
        explanation_type="model",
        edge_mask_type="object",
        node_mask_type=None,
        model_config=dict(mode="binary_classification", task_level="node", return_type="raw"),
    )


def masked_logits(model: HeteroSAGE, x: dict, edge_index: dict, index: Tensor, drop: dict[tuple, Tensor],
                  reference: Reference | None = None) -> Tensor:
    """The target nodes' logits with some edges put back to their reference (removed, without one): for fidelity."""
    return occluded_logits(model, x, edge_index, index, [drop], reference)[0]


def occluded_logits(model: HeteroSAGE, x: dict, edge_index: dict, index: Tensor, drops: list[dict[tuple, Tensor]],
                    reference: Reference | None = None,
                    own_columns: list[tuple[list[int], Tensor, Tensor | None]] | None = None) -> Tensor:
    """`masked_logits` for several sets of dropped edges at once — one copy of the graph each, one forward pass:
    row c holds the target nodes' logits with the edges of `drops[c]` put back to their reference.

    `own_columns`: [(copies, columns, values)] — in those copies the target nodes' own `columns` are set to
    `values` (None: the reference's, zero without one): the deal's stage and activity, say, against a typical
    deal's."""
    x_run, ei_run, to_masks = with_reference(x, edge_index, reference, model.edge_types)
    keep = {e: torch.ones(len(drops), ei.shape[1]) for e, ei in edge_index.items()}
    for c, drop in enumerate(drops):
        for e, positions in drop.items():
            keep[e][c, positions] = 0.0
    x_batch, ei_batch = copies(x_run, ei_run, len(drops))
    if own_columns:
        target = model.config.target
        size = x_run[target].shape[0]
        x_batch[target] = x_batch[target].clone()
        for which, columns, values in own_columns:
            rows = (index.view(1, -1) + size * torch.tensor(which, dtype=torch.long).view(-1, 1)).reshape(-1, 1)
            typical = values if values is not None else (
                reference.x[target][columns] if reference is not None else torch.zeros(len(columns)))
            x_batch[target][rows, columns] = typical.to(x_batch[target].dtype)
    set_edge_masks(model, to_masks(keep), ei_batch)
    try:
        with torch.no_grad():
            out = model(x_batch, ei_batch)
    finally:
        clear_edge_masks(model)
    target_size = x_run[model.config.target].shape[0]
    picks = index.view(1, -1) + target_size * torch.arange(len(drops)).view(-1, 1)
    return out[picks.reshape(-1)].view(len(drops), -1)
