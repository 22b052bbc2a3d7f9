"""Benchmark: are the explanation paths faithful, and do they find the planted causes?

    python bench/bench_explain.py                                   # builds a default-size sample in a temp dir
    python bench/bench_explain.py --store sqlite:///dealgraph.db --home .dealgraph --truth .dealgraph/sample/truth.csv

Over every open deal, for each ranking of reasons (`--rank`, default both on the same deals: by measured
occlusion effect, the default of `PathExplainer`, and by attribution alone), it reports:
- fidelity+ of the top-3 paths (probability change when their edges are put back to the reference, a typical
  neighbour), together and each alone, against random evidence paths of the same lengths from the same
  neighbourhood, and fidelity- (change when only the top paths remain): p10 / p50 / p90, and the ratio on the
  median deal;
- contradictions: path sentences whose words contradict their sign, by the rule-based check
  (`gnn.explain.contradictions`), and the strong paths withheld because their words would have; how many
  reasons are the deal's own facts (`gnn.deal_reasons`; `--no-facts` leaves them out, for the cost), their
  weights, and the material facts withheld for their words;
- suggestions by kind, with the model's expected change in probability where it was computed;
- planted-cause recovery: among deals whose truth says one cause dominates (`main_cause` with |effect| >= 0.5),
  the share whose top paths pass through that cause (the key contact; the deal's account; its parent account;
  its owner);
- how much the deal's own stage and activity columns (`timeline:*`) move the score, alone and together with the
  top-3 paths (reasons including deal facts; not the issue's metric, which is paths alone);
- the cost of explaining, per deal (wall and CPU time: the machine is often shared);
- with `--compare N`, the same figures and cost for PyG's GNNExplainer (100 epochs) and for integrated
  gradients from the empty graph (how explanations were made before) on the first N open deals, beside
  integrated gradients against a typical deal on the same deals: the method comparison behind the choice.
Figures, not assertions: run it on a quiet machine and compare the columns of one run.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from ontology.names import Label, Rel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.explanation import Explanation, PathStep  # noqa: E402  (after the path insert)

#: The rankings of reasons compared (`PathExplainer(rank=...)`), in words.
RANKS = {"occlusion": "measured effect (occlusion of the top attributed paths)", "attribution": "attribution alone"}


def _prepare(root: Path, accounts: int, seed: int) -> tuple[str, Path, Path]:
    from gnn.train import train
    from graph import open_store, sqlite_url
    from loaders import load_export, load_mapping
    from loaders.sample import generate_sample

    generate_sample(root / "sample", accounts=accounts, seed=seed)
    url = sqlite_url(root / "graph.db")
    with open_store(url) as store:
        load_export(store, root / "sample", load_mapping("salesforce", store.schema), root / "q")
        train(store, root, truth=root / "sample" / "truth.csv")
    return url, root, root / "sample" / "truth.csv"


def _through(paths: list[tuple[PathStep, ...]], node_ids: set[str]) -> bool:
    return any(step.id in node_ids for steps in paths for step in steps[1:])


def _quantiles(xs: list[float]) -> tuple[float, float, float]:
    """p10, p50, p90 (NaN when there are too few values)."""
    if len(xs) < 2:
        return (float("nan"),) * 3
    deciles = statistics.quantiles(xs, n=10, method="inclusive")
    return deciles[0], statistics.median(xs), deciles[8]


def _fidelity_table(title: str, explanations: list[Explanation]) -> None:
    """p10 / p50 / p90 of fidelity+ (top-3 and random paths, taken away together and each alone) and fidelity-."""
    rows = (
        ("fidelity+ top-3 together", "fidelity"), ("fidelity+ random together", "random_fidelity"),
        ("fidelity+ top-3, each", "fidelity_each"), ("fidelity+ random, each", "random_fidelity_each"),
        ("fidelity- top-3", "fidelity_minus"),
    )
    values = {field: [getattr(e, field) for e in explanations if getattr(e, field) is not None] for _, field in rows}
    print(f"\n{title}\n{'':27} {'p10':>8} {'p50':>8} {'p90':>8}")
    for name, field in rows:
        lo, mid, hi = _quantiles(values[field])
        print(f"{name:27} {lo:>8.4f} {mid:>8.4f} {hi:>8.4f}")
    pairs = (("together", "fidelity", "random_fidelity"), ("each", "fidelity_each", "random_fidelity_each"))
    for label, top, rand in pairs:
        if values[rand] and statistics.median(values[rand]) > 0:
            ratio = statistics.median(values[top]) / statistics.median(values[rand])
            per_deal = [getattr(e, top) / getattr(e, rand) for e in explanations if getattr(e, rand)]
            lo, mid, hi = _quantiles(per_deal)
            print(f"top / random ({label}): {ratio:.1f}x on the median deal; per deal p10 {lo:.1f}x, p50 {mid:.1f}x, "
                  f"p90 {hi:.1f}x")


def _own_table(explanations: list[Explanation]) -> None:
    """How much the deal's own stage and activity columns move the score, beside the paths: alone, and taken away
    with the top-3 paths (reasons including deal facts), against the top-3 paths alone."""
    rows = (("deal's own columns alone", "fidelity_own"), ("top-3 paths + own columns", "fidelity_own_and_top"))
    for name, key in rows:
        values = [float(e.extra[key]) for e in explanations if e.extra.get(key) is not None and e.paths]
        if values:
            lo, mid, hi = _quantiles(values)
            print(f"{name:27} {lo:>8.4f} {mid:>8.4f} {hi:>8.4f}")


def _sentences_table(title: str, explanations: list[Explanation]) -> None:
    """Contradictions (rule-based, on the words), paths withheld for them, suggestions by kind."""
    from gnn.explain import contradictions

    found = contradictions(explanations)
    withheld = sum(int(e.extra.get("withheld", 0)) for e in explanations)
    withheld_facts = sum(int(e.extra.get("withheld_facts", 0)) for e in explanations)
    shown = sum(len(e.paths) for e in explanations)
    facts = [p for e in explanations for p in e.paths if len(p.steps) == 1]  # the deal's own facts
    kinds = Counter(s.kind for e in explanations for s in e.suggestions)
    effects = [s.effect for e in explanations for s in e.suggestions if s.effect is not None]
    print(f"\n{title}\npaths shown: {shown}; contradicting their sign (rule-based check): {len(found)}; "
          f"strong paths withheld because their words would have: {withheld}")
    if facts:
        first = sum(bool(e.paths) and len(e.paths[0].steps) == 1 for e in explanations)
        lo, mid, hi = _quantiles([abs(p.weight) for p in facts])
        print(f"of which the deal's own facts: {len(facts)} (|weight| p10 {lo:.3f}, p50 {mid:.3f}, p90 {hi:.3f}; "
              f"first reason on {first} deals); material facts withheld for their words: {withheld_facts}")
    for why, text in found[:5]:
        print(f"  {why}: {text}")
    print(f"suggestions: {dict(kinds)}; deals with one: "
          f"{sum(bool(e.suggestions) for e in explanations)} of {len(explanations)}")
    if effects:
        lo, mid, hi = _quantiles(effects)
        print(f"model's expected change where computed: p10 {100 * lo:+.1f}, p50 {100 * mid:+.1f}, "
              f"p90 {100 * hi:+.1f} pts")


def _recovery_table(title: str, ids: list[str], explanations: list[Explanation], truth: pd.DataFrame,
                    links: dict[str, dict]) -> None:
    """Planted-cause recovery: does a top path pass through the node that carries the dominant effect?"""
    hits: dict[str, list[bool]] = {}
    for deal_id, explanation in zip(ids, explanations, strict=True):
        if deal_id not in truth.index or not explanation.paths:
            continue
        row = truth.loc[deal_id]
        cause = row["main_cause"]
        if abs(float(row[f"{cause}_effect"])) < 0.5:
            continue
        account = links["account"].get(deal_id)
        target = {"contact": {row["key_contact_id"]}, "account": {account},
                  "parent": {links["parent"].get(account)}, "rep": {links["owner"].get(deal_id)}}.get(cause)
        if target:
            hits.setdefault(cause, []).append(_through([p.steps for p in explanation.paths], target))
    print(f"\n{title}\n{'planted cause':14} {'deals':>6} {'recovered by top-3 paths':>26}")
    for cause, xs in sorted(hits.items()):
        print(f"{cause:14} {len(xs):>6} {100 * sum(xs) / len(xs):>25.0f}%")
    every = [x for xs in hits.values() for x in xs]
    if every:
        print(f"{'all':14} {len(every):>6} {100 * sum(every) / len(every):>25.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7, help="sample seed (when the bench builds its own)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="explain only the first N open deals")
    parser.add_argument("--compare", type=int, default=0, metavar="N",
                        help="also explain the first N open deals with GNNExplainer and against the empty graph")
    parser.add_argument("--rank", nargs="+", choices=list(RANKS), default=list(RANKS),
                        help="how reasons are ranked; each is run on the same deals (the first is the main one)")
    parser.add_argument("--no-facts", action="store_true",
                        help="leave the deal's own facts out of the reasons (how reasons were made before: the "
                             "cost of measuring them is the difference)")
    args = parser.parse_args()

    from gnn.explain import PathExplainer
    from gnn.score import load_model, open_examples
    from graph import open_store

    with tempfile.TemporaryDirectory() as tmp:
        given = (args.store, args.home, args.truth)
        url, home, truth_path = given if args.store else _prepare(Path(tmp), args.accounts, args.seed)
        with open_store(url) as store:
            loaded = load_model(home)
            snap = store.snapshot()
            opened = open_examples(snap, loaded.spec)  # what `dealgraph score` explains
            data, ids, positions = opened.data, opened.deal_ids, opened.index.tolist()
            if args.limit:
                ids, positions = ids[: args.limit], positions[: args.limit]
            hops = loaded.model.config.layers
            # The deal's own stage and activity columns, measured beside the paths (not part of the metric).
            names = loaded.spec.column_names(Label.DEAL)
            own_columns = [i for i, name in enumerate(names) if name.startswith("timeline:")]
            runs = {}
            for rank in args.rank:
                explainer = PathExplainer(loaded.model, data, snap, hops=hops, platt=loaded.platt, rank=rank,
                                          own_columns=own_columns, deal_columns=None if args.no_facts else names)
                started, cpu = time.perf_counter(), time.process_time()
                done = explainer.explain_many(positions, top=3)
                runs[rank] = (done, time.perf_counter() - started, time.process_time() - cpu)
            explanations, seconds, _ = runs[args.rank[0]]
            if args.compare:
                from torch_geometric.explain.algorithm import GNNExplainer

                subset = positions[: args.compare]
                others = {}
                for name, kwargs in (("GNNExplainer", {"algorithm": GNNExplainer(epochs=100)}),
                                     ("integrated gradients from the empty graph", {"reference": None})):
                    # A copy: GNNExplainer leaves its masks registered as parameters on the model, and PyG then
                    # wraps any later mask in a new parameter, cutting it off from integrated gradients.
                    other = PathExplainer(copy.deepcopy(loaded.model), data, snap, hops=hops, platt=loaded.platt,
                                          **kwargs)
                    started = time.perf_counter()
                    others[name] = (other.explain_many(subset, top=3), time.perf_counter() - started)
            accounts = snap.edges[Rel.FOR_ACCOUNT].set_index("src")["dst"].to_dict()
            parents = snap.edges[Rel.SUBSIDIARY_OF].set_index("src")["dst"].to_dict()
            owners = snap.edges[Rel.OWNED_BY].set_index("src")["dst"].to_dict()
        truth = pd.read_csv(truth_path, dtype=str).set_index("OpportunityId")

    per_deal = 1000 * seconds / max(len(ids), 1)
    which = f"the first {len(ids)} open deals" if args.limit else "all open deals"
    for rank, (done, wall, cpu) in runs.items():
        print(f"\n== reasons ranked by {RANKS[rank]}: {len(done)} open deals explained in {wall:.1f} s "
              f"({1000 * wall / max(len(ids), 1):.0f} ms per deal wall, {1000 * cpu / max(len(ids), 1):.0f} ms CPU)")
        title = f"integrated gradients against a typical deal, ranked by {RANKS[rank]}, {which}"
        _fidelity_table(title, done)
        _own_table(done)
        _sentences_table(title, done)
    title = f"integrated gradients against a typical deal, ranked by {RANKS[args.rank[0]]}, {which}"
    if args.compare:
        n = len(positions[: args.compare])
        print(f"\nmethod comparison on the first {n} open deals (same deals, same path search, same fidelity):")
        _fidelity_table(f"against a typical deal ({per_deal:.0f} ms/deal)", explanations[:n])
        for name, (compared, compared_seconds) in others.items():
            _fidelity_table(f"{name} ({1000 * compared_seconds / max(n, 1):.0f} ms/deal)", compared)
            _sentences_table(name, compared)

    links = {"account": accounts, "parent": parents, "owner": owners}
    _recovery_table(title, ids, explanations, truth, links)
    for name, (compared, _) in (others.items() if args.compare else ()):
        _recovery_table(f"{name}, first {n}", ids[:n], compared, truth, links)


if __name__ == "__main__":
    main()
