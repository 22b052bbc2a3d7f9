"""Mini-batches of target deals on sampled computation graphs (`gnn.sampling`), for fitting and scoring.

A model whose `ModelConfig.fanout` is set is fitted and scored this way: the
cost of a step is its batch's sampled neighbourhoods, not the cutoff's whole
graph, and a hub (a product on 750 deals) costs `fanout` senders, not 750.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from gnn.dataset import CutoffExamples
from gnn.model import HeteroSAGE, ModelConfig
from gnn.sampling import NeighbourSampler, Sample

#: Target deals per forward pass when no gradient is kept (scoring, validation).
EVAL_BATCH = 4096


def is_sampled(model: torch.nn.Module) -> bool:
    return isinstance(model, HeteroSAGE) and model.config.fanout is not None


def sampler_of(examples: CutoffExamples, fanout: int | None, hops: int) -> NeighbourSampler:
    """The sampler of one cutoff's graph, built on first use and kept with its examples."""
    key = (fanout, hops)
    if key not in examples.samplers:
        examples.samplers[key] = NeighbourSampler(examples.data, fanout, hops)
    return examples.samplers[key]


def sampled_logits(model: HeteroSAGE, examples: CutoffExamples, batch_size: int = EVAL_BATCH) -> Tensor:
    """The logits of the examples' deals, each from its sampled computation graph, in order."""
    sampler = sampler_of(examples, model.config.fanout, model.config.layers)
    out = torch.empty(len(examples.index))
    for rows, sample in sampler.batches(model.config.target, examples.index, batch_size):
        out[rows] = model(sample.x_dict, sample.edge_index_dict)[sample.seeds]
    return out


def cut_once(examples: list[CutoffExamples], config: ModelConfig,
             batch_size: int = EVAL_BATCH) -> list[tuple[HeteroData, Sample]]:
    """Every example's sampled computation graph, cut once, in the order `sampled_logits` reads them, without
    their inputs (gathered at each read: holding a cut costs its positions only). Early stopping reads the same
    validation examples every epoch; cutting them once saves the sampling every epoch would repeat."""
    cuts = []
    for ex in examples:
        sampler = sampler_of(ex, config.fanout, config.layers)
        cuts += [(ex.data, replace(sample, x_dict={}))
                 for _, sample in sampler.batches(config.target, ex.index, batch_size)]
    return cuts


def logits_of_cuts(model: HeteroSAGE, cuts: list[tuple[HeteroData, Sample]]) -> Tensor:
    """The logits `sampled_logits` gives, from graphs cut once (`cut_once`), in the same order."""
    outs = []
    for data, sample in cuts:
        x = {t: data[t].x[positions] for t, positions in sample.nodes.items() if "x" in data[t]}
        outs.append(model(x, sample.edge_index_dict)[sample.seeds])
    return torch.cat(outs) if outs else torch.zeros(0)


def training_batches(examples: list[CutoffExamples], batch_size: int, generator: torch.Generator,
                     budget: int | None = None) -> list[tuple[CutoffExamples, Tensor]]:
    """One epoch: every training example once, in shuffled mini-batches of one cutoff each (a batch shares its
    cutoff's graph), the batches of all cutoffs in shuffled order. Rows index the cutoff's examples.

    `budget`: at most about this many examples an epoch — the first shuffled batches that reach it, a fresh
    draw each epoch — so an epoch costs the same however many deals the history holds and early stopping
    counts in the same units at any scale. None, or a budget above the examples: every batch, as without."""
    batches = []
    for ex in examples:
        order = torch.randperm(len(ex.index), generator=generator)
        batches += [(ex, order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    if budget is None:
        return shuffled
    taken, total = [], 0
    for batch in shuffled:
        if total >= budget:
            break
        taken.append(batch)
        total += len(batch[1])
    return taken


def subset(examples: list[CutoffExamples], limit: int | None, seed: int = 0) -> list[CutoffExamples]:
    """About `limit` of the examples, the same share of every cutoff, drawn once (`seed`); all when they are
    fewer. Early stopping reads validation AUROC every epoch: a fixed subset keeps that cost bounded at scale
    (calibration and the reported figures still read every example)."""
    total = sum(len(e.deal_ids) for e in examples)
    if limit is None or total <= limit:
        return examples
    generator = torch.Generator().manual_seed(seed)
    out = []
    for ex in examples:
        keep = max(1, round(len(ex.deal_ids) * limit / total))
        rows = torch.randperm(len(ex.deal_ids), generator=generator)[:keep].sort().values
        # `replace` keeps the graph and its samplers, built once for every epoch.
        out.append(replace(ex, index=ex.index[rows], labels=ex.labels[rows], deal_ids=[ex.deal_ids[i] for i in rows],
                           weights=None if ex.weights is None else ex.weights[rows]))
    return out


def batch_logits(model: HeteroSAGE, examples: CutoffExamples, rows: Tensor) -> Tensor:
    """Logits of `examples.index[rows]` from their sampled computation graphs (training: grads kept)."""
    sampler = sampler_of(examples, model.config.fanout, model.config.layers)
    sample = sampler.sample(model.config.target, examples.index[rows])
    return model(sample.x_dict, sample.edge_index_dict)[sample.seeds]
