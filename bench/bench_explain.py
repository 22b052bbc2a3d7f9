"""Benchmark: are the explanation paths faithful, and do they find the planted causes?

    python bench/bench_explain.py                                   # builds a default-size sample in a temp dir
    python bench/bench_explain.py --store sqlite:///dealgraph.db --home .dealgraph --truth .dealgraph/sample/truth.csv

Over every open deal it reports:
- fidelity+ of the top-3 paths (probability change when their edges are removed) against random evidence
  paths of the same lengths from the same neighbourhood, and fidelity- (change when only the top paths remain);
- planted-cause recovery: among deals whose truth says one cause dominates (`main_cause` with |effect| >= 0.5),
  the share whose top paths pass through that cause (the key contact; the deal's account; its parent account;
  its owner);
- the cost of explaining, per deal;
- with `--compare N`, the same fidelity figures and cost for PyG's GNNExplainer (100 epochs) on the first N
  open deals, beside integrated gradients on the same deals: the method comparison behind the choice.
Figures, not assertions: run it on a quiet machine and compare the columns of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.explanation import Explanation, PathStep  # noqa: E402  (after the path insert)


def _prepare(root: Path, accounts: int) -> tuple[str, Path, Path]:
    from gnn.train import train
    from graph import open_store, sqlite_url
    from loaders import load_export, load_mapping
    from loaders.sample import generate_sample

    generate_sample(root / "sample", accounts=accounts, seed=7)
    url = sqlite_url(root / "graph.db")
    with open_store(url) as store:
        load_export(store, root / "sample", load_mapping("salesforce", store.schema), root / "q")
        train(store, root, truth=root / "sample" / "truth.csv")
    return url, root, root / "sample" / "truth.csv"


def _through(paths: list[tuple[PathStep, ...]], node_ids: set[str]) -> bool:
    return any(step.id in node_ids for steps in paths for step in steps[1:])


def _fidelity_table(title: str, explanations: list[Explanation]) -> None:
    """Median and quartiles of fidelity+ (top-3 and random paths) and fidelity-."""
    plus = [e.fidelity for e in explanations if e.fidelity is not None]
    rand = [e.random_fidelity for e in explanations if e.random_fidelity is not None]
    minus = [e.fidelity_minus for e in explanations if e.fidelity_minus is not None]
    q = lambda xs: statistics.quantiles(xs, n=4) if len(xs) > 1 else [float("nan")] * 3  # noqa: E731
    print(f"\n{title}\n{'':24} {'median':>8} {'q1':>8} {'q3':>8}")
    for name, xs in (("fidelity+ top-3 paths", plus), ("fidelity+ random paths", rand), ("fidelity- top-3 paths", minus)):
        lo, mid, hi = q(xs)
        print(f"{name:24} {mid:>8.4f} {lo:>8.4f} {hi:>8.4f}")
    if rand and statistics.median(rand) > 0:
        print(f"median ratio top / random: {statistics.median(plus) / statistics.median(rand):.1f}x")


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
    parser.add_argument("--compare", type=int, default=0, metavar="N",
                        help="also explain the first N open deals with GNNExplainer and compare")
    args = parser.parse_args()

    from gnn.explain import PathExplainer
    from gnn.score import load_model, open_examples
    from graph import open_store

    with tempfile.TemporaryDirectory() as tmp:
        url, home, truth_path = (args.store, args.home, args.truth) if args.store else _prepare(Path(tmp), args.accounts)
        with open_store(url) as store:
            loaded = load_model(home)
            snap = store.snapshot()
            opened = open_examples(snap, loaded.spec)  # what `dealgraph score` explains
            data, ids, positions = opened.data, opened.deal_ids, opened.index.tolist()
            explainer = PathExplainer(loaded.model, data, snap, hops=loaded.model.config.layers)
            started = time.perf_counter()
            explanations = explainer.explain_many(positions, top=3)
            seconds = time.perf_counter() - started
            if args.compare:
                from torch_geometric.explain.algorithm import GNNExplainer

                subset = positions[: args.compare]
                other = PathExplainer(loaded.model, data, snap, hops=loaded.model.config.layers,
                                      algorithm=GNNExplainer(epochs=100))
                started = time.perf_counter()
                compared = other.explain_many(subset, top=3)
                compared_seconds = time.perf_counter() - started
            accounts = snap.edges["FOR_ACCOUNT"].set_index("src")["dst"].to_dict()
            parents = snap.edges["SUBSIDIARY_OF"].set_index("src")["dst"].to_dict()
            owners = snap.edges["OWNED_BY"].set_index("src")["dst"].to_dict()
        truth = pd.read_csv(truth_path, dtype=str).set_index("OpportunityId")

    print(f"open deals explained: {len(explanations)} in {seconds:.1f} s ({1000 * seconds / max(len(ids), 1):.0f} ms per deal)")
    _fidelity_table("integrated gradients, all open deals", explanations)
    if args.compare:
        n = len(compared)
        print(f"\nmethod comparison on the first {n} open deals (same deals, same path search, same fidelity):")
        _fidelity_table(f"integrated gradients ({1000 * seconds / max(len(ids), 1):.0f} ms/deal)", explanations[:n])
        _fidelity_table(f"GNNExplainer ({1000 * compared_seconds / max(n, 1):.0f} ms/deal)", compared)

    links = {"account": accounts, "parent": parents, "owner": owners}
    _recovery_table("integrated gradients, all open deals", ids, explanations, truth, links)
    if args.compare:
        _recovery_table(f"integrated gradients, first {n}", ids[:n], explanations[:n], truth, links)
        _recovery_table(f"GNNExplainer, first {n}", ids[:n], compared, truth, links)


if __name__ == "__main__":
    main()
