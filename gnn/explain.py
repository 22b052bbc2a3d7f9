"""Relationship-path explanations of a deal's score, measured on the model's own score against a typical deal.

For a batch of deals: cut each one's computation graph (`gnn.subgraph`: its sampled graph for a sampled model,
else the nodes within the model's depth) and lay them side by side, so each step below is one forward pass for
the whole batch:

1. attribute the logit to every edge against a typical deal (`gnn.attribution`: each neighbour replaced by the
   average node of its kind) and weigh every evidence path from the deal with it (`gnn.paths`);
2. measure the strongest candidates by occlusion — the logit with the path's edges put back to their reference
   (`rank="occlusion"`, the default; PaGE-Link's path-level question answered directly). A path's weight and
   sign are that measured effect, so "raises" means the model's score is higher with the path than with a
   typical neighbour in its place. (`rank="attribution"` keeps the attribution weights, as before.)
3. word the paths (`gnn.wording`) with the evidence they stand for, compared with typical, and show the
   strongest whose words agree with their sign, one per first step; a strong path whose words would
   contradict its sign is not shown — the model may have good reasons (the account's size, its other links),
   but a sentence that says "won" beside "lowers" is one a rep cannot use;
4. measure fidelity (the same occlusion, for the chosen paths together, alone, and for random paths) and, in
   the same forward pass, the deal's own facts (`gnn.deal_reasons`: its stage, close date, amount and activity
   put back to the typical open deal's, one group at a time); each material fact whose words agree with its sign
   joins the reasons as a one-step path (the deal itself), ranked with the paths by |weight|. Fidelity stays
   that of the graph paths;
5. score the suggested edits (`gnn.suggest`) on edited graphs.

`contradictions` (`gnn.wording`) is the independent, rule-based check on the words.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.explain.algorithm import ExplainerAlgorithm

from gnn.attribution import EMPTY, TYPICAL, EdgeIntegratedGradients, Reference, make_explainer, occluded_logits
from gnn.deal_reasons import (
    FACT_TYPICAL,
    MATERIAL,
    DealRow,
    FactGroup,
    disagrees_with_record,
    fact_groups,
    fact_sentence,
    typical_open_deal,
)
from gnn.model import HeteroSAGE
from gnn.node_facts import NEAR_TYPICAL, Facts
from gnn.paths import Step, candidates, edge_positions, evidence_paths, is_evidence, random_like, reasons
from gnn.sampling import NeighbourSampler
from gnn.subgraph import IncomingIndex, Piece, batch, computation_subgraph, prune_to_messages
from gnn.suggest import Edit, Proposal, proposals, suggest
from gnn.wording import contradiction, contradictions, path_step, sentence
from graph.explanation import Detail, ExplainedPath, Explanation, Phrase
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

EdgeType = tuple[str, str, str]

#: Re-exported: what callers and tests import from here.
__all__ = [
    "NEAR_TYPICAL", "Facts", "IncomingIndex", "PathExplainer", "Step", "computation_subgraph", "contradiction",
    "contradictions", "prune_to_messages", "reasons", "sentence",
]

#: How reasons are ranked: by their measured effect on the model's score, or by attribution alone.
RANKS = ("occlusion", "attribution")


class PathExplainer:
    """Explains deals of one encoded snapshot with one model, many deals per forward pass.

    Example:
        >>> explainer = PathExplainer(model, data, snapshot, hops=2)
        >>> explainer.explain_many([deal_pos], top=3)[0].paths[0].text
        'Dana Wu (champion on this deal): 6 of 7 earlier deals won — above the 45% typical'
    """

    METHOD = "edge-integrated-gradients"

    def __init__(self, model: HeteroSAGE, data: HeteroData, snapshot: Snapshot, hops: int,
                 algorithm: ExplainerAlgorithm | None = None, reference: Reference | None | str = "typical",
                 platt: tuple[float, float] | None = None, now: pd.Timestamp | None = None,
                 sampler: NeighbourSampler | None = None, rank: str = "occlusion",
                 own_columns: list[int] | None = None, deal_columns: list[str] | None = None) -> None:
        """`algorithm`: the edge attribution (default: integrated gradients; bench_explain compares GNNExplainer).
        `reference`: what attributions and fidelity are relative to — "typical" (the average node of each type
        in `data`), a `Reference`, or None for the empty graph (how explanations were made before).
        `platt`: the model's calibration, so suggestions state changes of the probability a rep is shown.
        `now`: the scoring time; deal facts in sentences are those known before it (default: the newest fact).
        `sampler`: the scoring run's sampler of `data` (built here when not given).
        `rank`: "occlusion" (paths weighed by their measured effect) or "attribution" (by attribution alone).
        `own_columns`: columns of the deal's own features (its stage and activity) whose fidelity is measured
        beside the paths' (stored as `fidelity_own`, alone, and `fidelity_own_and_top`, with the top paths).
        `deal_columns`: the names of the deal's feature columns (`FeatureSpec.column_names`); with them (and a
        reference) the deal's own facts are measured and shown as reasons (`gnn.deal_reasons`)."""
        if rank not in RANKS:
            raise ValueError(f"rank: one of {RANKS}, not {rank!r}")
        self.rank = rank
        self.own_columns = own_columns
        self.model = model.eval()
        self.hops = hops
        self.facts = Facts(snapshot, data, now=now)
        self.incoming = IncomingIndex(data)
        if isinstance(reference, str) and reference != "typical":
            raise ValueError(f"reference: 'typical', a Reference or None, not {reference!r}")
        # A sampled model (`ModelConfig.fanout`) is explained on the graph it scores from: each deal's sampled
        # computation graph, whose size the fanout bounds however many deals share its product.
        fanout = getattr(getattr(model, "config", None), "fanout", None)
        if fanout is None:
            self.sampler = None
        else:
            self.sampler = sampler if sampler is not None else NeighbourSampler(data, fanout, hops)
        self.reference = Reference.mean_of(data.x_dict) if isinstance(reference, str) else reference
        self.deal_columns = deal_columns or []
        # Against the empty graph (kept for comparison, `bench_explain --compare`) reasons stay paths, as then.
        self.fact_groups: list[FactGroup] = fact_groups(self.deal_columns) if self.reference is not None else []
        self.typical_open = typical_open_deal(data[Label.DEAL].x, self.deal_columns)
        # The deals' stage and close date as their records hold them now: a fact sentence must agree with them.
        deals = snapshot.nodes.get(Label.DEAL, pd.DataFrame())
        fields = [c for c in ("stage", "close_date") if c in deals]
        # Zipped lists, not `to_dict("index")`: the same dicts, a fraction of the time at 1M rows.
        self.records: dict[str, dict] = (
            {deal: dict(zip(fields, values, strict=True))
             for deal, *values in zip(deals["id"].tolist(), *(deals[f].tolist() for f in fields), strict=True)}
            if fields and "id" in deals else {})
        words = TYPICAL if self.reference is not None else EMPTY
        # Another algorithm's masks (GNNExplainer's) are learned importances, relative to nothing stated.
        self.reference_words = Phrase.of(words if algorithm is None else f"none: {type(algorithm).__name__} masks")
        self.platt = platt or (1.0, 0.0)
        # Only tensors can be cut into subgraphs; the ids stay in `facts`, by full-graph position.
        self.tensors = HeteroData({t: {"x": data[t].x} for t in data.node_types})
        for edge_type in data.edge_types:
            self.tensors[edge_type].edge_index = data[edge_type].edge_index
        method = self.METHOD if algorithm is None else type(algorithm).__name__
        # The weights shown are measured by occlusion; the attribution only chose the candidates.
        self.method = f"{method}+occlusion" if rank == "occlusion" else method
        self.explainer = make_explainer(model, algorithm or EdgeIntegratedGradients(reference=self.reference))

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities, as the deal's score is shown."""
        return torch.sigmoid(self.platt[0] * logits + self.platt[1])

    def explain(self, deal_pos: int, top: int = 3) -> Explanation:
        return self.explain_many([deal_pos], top)[0]

    def explain_many(self, deal_positions: list[int], top: int = 3, batch_size: int = 8) -> list[Explanation]:
        """Explain deals `batch_size` at a time: larger batches of interpolated graphs cost more than they
        save (allocation of big tensors dominates; 8 was fastest on the default sample, 135 ms a deal)."""
        out: list[Explanation] = []
        for i in range(0, len(deal_positions), batch_size):
            out += self._explain_batch(deal_positions[i : i + batch_size], top)
        return out

    def _explain_batch(self, deal_positions: list[int], top: int) -> list[Explanation]:
        subs = [(pos, *self._computation_graph(pos)) for pos in deal_positions]
        pieces, x, ei = batch(subs)
        locals_ = torch.tensor([p.local for p in pieces])
        # Edge types with no edge in this batch are left out: the model skips them anyway, and some
        # algorithms (PyG's GNNExplainer) cannot initialise a mask for an empty type.
        present = {e: v for e, v in ei.items() if v.shape[1]}
        explained = self.explainer(x, present, index=locals_)
        masks = {e: explained[e].edge_mask if e in present else torch.zeros(0) for e in ei}
        evidence_all = []
        for piece in pieces:
            piece_masks = {
                e: masks[e][piece.edge_start[e] : piece.edge_start[e] + piece.sub[e].edge_index.shape[1]]
                for e in piece.sub.edge_types
            }
            evidence_all.append([
                (w, p) for w, p in evidence_paths(piece.sub, piece.node_map, piece.deal_pos, piece_masks, self.hops)
                if is_evidence(p[-1], self.facts)
            ])
        ranked_all = evidence_all
        if self.rank == "occlusion":
            ranked_all = self._occlusion(pieces, [candidates(e) for e in evidence_all], x, ei, locals_)
        chosen_all, randoms, withheld = [], [], []
        for piece, evidence, ranked in zip(pieces, evidence_all, ranked_all, strict=True):
            chosen, held = reasons(ranked, lambda p: sentence(p, self.facts, self.hops), top)
            chosen_all.append(chosen)
            withheld.append(held)
            randoms.append(random_like(evidence, chosen, np.random.default_rng(piece.deal_pos)))
        full, fidelity, fact_effects = self._fidelity(pieces, chosen_all, randoms, x, ei, locals_)
        deal_facts = [self._fact_reasons(piece.deal_pos, x[Label.DEAL][piece.local], fact_effects[:, i], top)
                      for i, piece in enumerate(pieces)]
        paths_all = [
            tuple(sorted(
                [ExplainedPath(round(float(w), 4), phrase, tuple(path_step(s, self.facts) for s in steps),
                               self.reference_words) for w, steps, phrase in chosen] + own,
                key=lambda p: -abs(p.weight)))  # the deal's facts ranked with the paths; stable for ties
            for chosen, (own, _) in zip(chosen_all, deal_facts, strict=True)
        ]
        found = [proposals(self.facts.node_id(Label.DEAL, piece.deal_pos), paths, self.facts)
                 for piece, paths in zip(pieces, paths_all, strict=True)]
        effects = self._effects(pieces, found, full)
        out = []
        for paths, fid, deal_found, deal_effects, held, (_, held_facts) in zip(
                paths_all, fidelity, found, effects, withheld, deal_facts, strict=True):
            out.append(Explanation(
                method=self.method, paths=paths, suggestions=suggest(deal_found, deal_effects),
                fidelity=fid["plus"], fidelity_minus=fid["minus"], random_fidelity=fid["random"],
                fidelity_each=fid["each"], random_fidelity_each=fid["random_each"],
                # Strong paths not shown because their words would contradict their sign (see the docstring).
                extra={"reference": self.reference_words.text(), "withheld": held,
                       **({"withheld_facts": held_facts} if self.fact_groups else {}),
                       **{f"fidelity_{k}": fid[k] for k in ("own", "own_and_top") if k in fid}},
            ))
        return out

    def _fact_reasons(self, deal_pos: int, row: torch.Tensor, effects: torch.Tensor,
                      top: int) -> tuple[list[ExplainedPath], int]:
        """The deal's own facts shown as reasons — the `top` strongest material ones whose words agree with their
        measured effect, each a one-step path (the deal itself) — and how many material ones were withheld
        because their words take the other side or state a stage or close date the deal's record contradicts
        (`disagrees_with_record`). Their sentences are details of the deal: hidden with it."""
        if not self.fact_groups or self.reference is None:
            return [], 0
        values = DealRow(self.deal_columns, row, self.typical_open)
        deal = path_step(Step(Label.DEAL, deal_pos), self.facts)
        shown, withheld = [], 0
        for group, effect in zip(self.fact_groups, effects.tolist(), strict=True):
            worded = fact_sentence(group.name, values) if abs(effect) >= MATERIAL else None
            if worded is None or deal.node is None:
                continue
            text, side = worded
            record = self.records.get(deal.node.id, {})
            if side * effect < 0 or disagrees_with_record(group.name, values, record, self.facts.timeline.now):
                withheld += 1
                continue
            shown.append(ExplainedPath(round(effect, 4), Phrase.of(Detail(text, deal.node)), (deal,), FACT_TYPICAL))
        return sorted(shown, key=lambda p: -abs(p.weight))[:top], withheld

    def _computation_graph(self, deal_pos: int,
                           joining: int | None = None) -> tuple[dict[str, torch.Tensor], HeteroData]:
        """The graph the model scores the deal from, as (node positions per type, subgraph): its sampled one for a
        sampled model, else every node within the model's depth. `joining`: a contact treated as on the deal."""
        if self.sampler is None:
            node_map, distance = computation_subgraph(self.incoming, deal_pos, self.hops)
            return node_map, prune_to_messages(self.tensors.subgraph(node_map), distance, self.hops)
        extra = {Label.CONTACT: torch.tensor([joining])} if joining is not None else None
        sample = self.sampler.sample(Label.DEAL, torch.tensor([deal_pos]), joining=extra)
        sub = HeteroData({t: {"x": x} for t, x in sample.x_dict.items()})
        for edge_type, index in sample.edge_index_dict.items():
            sub[edge_type].edge_index = index
        return sample.nodes, sub

    def _effects(self, pieces: list[Piece], found: list[list[Proposal]], now: torch.Tensor) -> list[dict[int, float]]:
        """The model's expected change in each deal's probability for each proposed edit, all in one forward pass.

        Each edit is scored on the deal's computation graph joined with the added contact's own neighbourhood
        (so their record reaches the deal as it would), plus the two edges of the contact's role on the deal.
        The deal's own columns (its records at opening) are left as they are: the edit changes its graph only.
        """
        graphs, keys = [], []
        for i, (piece, deal_found) in enumerate(zip(pieces, found, strict=True)):
            for j, proposal in enumerate(deal_found):
                if proposal.edit is None:
                    continue
                edited = self._with_contact(piece.deal_pos, proposal.edit)
                if edited is not None:
                    graphs.append(edited)
                    keys.append((i, j))
        out: list[dict[int, float]] = [{} for _ in pieces]
        if not graphs:
            return out
        placed, x, ei = batch(graphs)
        with torch.no_grad():
            after = self.probability(self.model(x, ei)[torch.tensor([p.local for p in placed])])
        for (i, j), p in zip(keys, after.tolist(), strict=True):
            out[i][j] = p - float(now[i])
        return out

    def _with_contact(self, deal_pos: int, edit: Edit) -> tuple[int, dict, HeteroData] | None:
        """The deal's computation graph with `edit.contact` on the deal in `edit.role`, for `_batch`."""
        contact = self.facts.positions[Label.CONTACT].get(edit.contact)
        known = (Label.CONTACT, f"rev_INVOLVES:{edit.role}", Label.DEAL) in self.tensors.edge_types
        role = edit.role if known else "unknown"
        back = (Label.CONTACT, f"rev_INVOLVES:{role}", Label.DEAL)
        if contact is None or back not in self.tensors.edge_types:
            return None
        if self.sampler is not None:
            node_map, sub = self._computation_graph(deal_pos, joining=contact)
        else:
            node_map, sub = self._whole_with_contact(deal_pos, contact)
        d_local = int((node_map[Label.DEAL] == deal_pos).nonzero()[0, 0])
        c_local = int((node_map[Label.CONTACT] == contact).nonzero()[0, 0])
        fanout = self.sampler.fanout if self.sampler is not None else None
        for edge_type, pair in (
            ((Label.DEAL, Rel.INVOLVES, Label.CONTACT), [d_local, c_local]),
            (back, [c_local, d_local]),
        ):
            index = sub[edge_type].edge_index if edge_type in sub.edge_types else torch.zeros(2, 0, dtype=torch.long)
            into = (index[1] == pair[1]).nonzero().flatten()
            if fanout is not None and len(into) >= fanout:
                # The new edge is the newest: the sampler would take it and leave the receiver's oldest sender.
                index = index[:, torch.arange(index.shape[1]) != into[-1]]
            sub[edge_type].edge_index = torch.cat([index, torch.tensor([pair]).t()], dim=1)
        return deal_pos, node_map, sub

    def _whole_with_contact(self, deal_pos: int, contact: int) -> tuple[dict[str, torch.Tensor], HeteroData]:
        """The deal's whole computation graph joined with the contact's, the contact one step from the deal."""
        deal_map, deal_dist = computation_subgraph(self.incoming, deal_pos, self.hops)
        contact_map, contact_dist = computation_subgraph(self.incoming, contact, self.hops - 1, Label.CONTACT)
        node_map, distance = {}, {}
        for t in deal_map:
            dist = dict(zip(deal_map[t].tolist(), deal_dist[t].tolist(), strict=True))
            for u, d in zip(
                contact_map.get(t, torch.zeros(0, dtype=torch.long)).tolist(),
                contact_dist.get(t, torch.zeros(0, dtype=torch.long)).tolist(),
                strict=True,
            ):
                dist[u] = min(dist.get(u, self.hops), d + 1)  # the contact is one step from the deal now
            node_map[t] = torch.tensor(sorted(dist), dtype=torch.long)
            distance[t] = torch.tensor([dist[u] for u in node_map[t].tolist()], dtype=torch.long)
        return node_map, prune_to_messages(self.tensors.subgraph(node_map), distance, self.hops)

    def _occlusion(self, pieces: list[Piece], found: list[list[tuple[float, list[Step]]]], x: dict, ei: dict,
                   locals_: torch.Tensor) -> list[list[tuple[float, list[Step]]]]:
        """Each candidate path with its measured effect on its deal's logit (PaGE-Link's question, answered by
        occlusion rather than a learned mask): the logit minus the logit with the path's edges put back to their
        reference — the same counterfactual as fidelity. Positive: the path raises the score. One forward pass
        for the batch: copy 0 is the graph as it is, copy j takes away the j-th candidate of every deal."""
        width = max((len(c) for c in found), default=0)
        drops: list[dict] = [{}]
        for j in range(width):
            drop: defaultdict[EdgeType, list[int]] = defaultdict(list)
            for piece, paths in zip(pieces, found, strict=True):
                if j < len(paths):
                    edge_positions(piece, [paths[j]], drop)
            drops.append(_as_tensors(drop))
        logits = occluded_logits(self.model, x, ei, locals_, drops, self.reference)
        effect = (logits[:1] - logits[1:]).t().tolist()  # [deal][candidate]
        return [[(effect[i][j], steps) for j, (_, steps) in enumerate(paths)] for i, paths in enumerate(found)]

    def _fidelity(
        self, pieces: list[Piece], chosen_all: list, randoms: list, x: dict, ei: dict, locals_: torch.Tensor
    ) -> tuple[torch.Tensor, list[dict], torch.Tensor]:
        """Each deal's probability, the faithfulness of each explanation, and the effect of each of the deal's own
        fact groups (`self.fact_groups`; [group, deal], on the logit like the paths' weights), in one forward pass.

        Taking a path away means putting the reference in its place (a typical neighbour, or no edge against
        the empty graph): the same counterfactual its weight is measured against.
        plus:   |probability change| when the top paths' edges are taken away (high: the paths matter);
        minus:  |probability change| when only the top paths' edges are kept (low: they suffice);
        random: `plus` for random evidence paths of the same lengths from the same neighbourhood;
        each, random_each: the mean |change| when each of those paths alone is taken away. Taking paths away
                together lets a raising and a lowering one cancel; a rep reads each reason on its own.
        """
        top: defaultdict[EdgeType, list[int]] = defaultdict(list)
        rand: defaultdict[EdgeType, list[int]] = defaultdict(list)
        others: defaultdict[EdgeType, list[int]] = defaultdict(list)
        for piece, chosen, random_paths in zip(pieces, chosen_all, randoms, strict=True):
            kept = edge_positions(piece, chosen, top)
            edge_positions(piece, random_paths, rand)
            for e in piece.sub.edge_types:
                n = piece.sub[e].edge_index.shape[1]
                others[e] += [piece.edge_start[e] + k for k in range(n) if (e, k) not in kept]
        drops = [{}, top, others, rand]
        # Each path alone: the k-th path of every deal in one copy (the deals' graphs are disjoint).
        widths = {}
        for name, paths_all in (("top", chosen_all), ("random", randoms)):
            widths[name] = max((len(c) for c in paths_all), default=0)
            for k in range(widths[name]):
                drop: dict = defaultdict(list)
                for piece, paths in zip(pieces, paths_all, strict=True):
                    if k < len(paths):
                        edge_positions(piece, [paths[k]], drop)
                drops.append(drop)
        # The deal's own columns (stage, activity) against a typical deal's: alone, and with the top paths.
        own: list[tuple[list[int], torch.Tensor, torch.Tensor | None]] = []
        if self.own_columns:
            own.append(([len(drops), len(drops) + 1], torch.tensor(self.own_columns, dtype=torch.long), None))
            drops += [{}, top]
        # Each fact group put back to typical: one more copy of the batch each, in the same pass.
        first_fact = len(drops)
        for group in self.fact_groups:
            columns = torch.tensor(group.columns, dtype=torch.long)
            own.append(([len(drops)], columns, self.typical_open[columns]))
            drops.append({})
        logits = occluded_logits(self.model, x, ei, locals_, [_as_tensors(d) for d in drops], self.reference, own)
        probs = self.probability(logits)
        facts = logits[:1] - logits[first_fact:]
        full, without_top, only_top, without_random = probs[:4]
        each = {
            "top": (full - probs[4 : 4 + widths["top"]]).abs().t(),
            "random": (full - probs[4 + widths["top"] : 4 + widths["top"] + widths["random"]]).abs().t(),
        }
        own_alone, own_and_top = (probs[first_fact - 2], probs[first_fact - 1]) if self.own_columns else (None, None)

        def mean_each(name: str, i: int, n: int) -> float | None:
            return round(float(each[name][i, :n].mean()), 4) if n else None

        out = []
        for i, chosen in enumerate(chosen_all):
            if not chosen:
                out.append(dict.fromkeys(("plus", "minus", "random", "each", "random_each")))
                continue
            out.append(
                {
                    "plus": round(abs(float(full[i] - without_top[i])), 4),
                    "minus": round(abs(float(full[i] - only_top[i])), 4),
                    "random": round(abs(float(full[i] - without_random[i])), 4) if randoms[i] else None,
                    "each": mean_each("top", i, len(chosen)),
                    "random_each": mean_each("random", i, len(randoms[i])),
                }
            )
            if own_alone is not None and own_and_top is not None:
                out[-1]["own"] = round(abs(float(full[i] - own_alone[i])), 4)
                out[-1]["own_and_top"] = round(abs(float(full[i] - own_and_top[i])), 4)
        return full, out, facts


def _as_tensors(drop: dict) -> dict[EdgeType, torch.Tensor]:
    return {e: torch.tensor(v, dtype=torch.long) for e, v in drop.items()}
