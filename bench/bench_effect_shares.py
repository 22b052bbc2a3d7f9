"""Each planted effect's share of the oracle's lift on the sample (docs/sample-data.md, "Effects and their share").

Usage::

    python bench/bench_effect_shares.py [--accounts 2000] [--seed 7] [--last 0.2]

The oracle ranks closed deals by their true logit (``truth.csv``). An effect's share is how much of the
oracle's lift over chance (AUROC - 0.5) is lost when that effect is taken out of the logit:
``(AUROC(logit) - AUROC(logit - effect)) / (AUROC(logit) - 0.5)`` ("lost without"), and how much of it the
effect reaches alone, ``(AUROC(effect) - 0.5) / (AUROC(logit) - 0.5)`` ("alone"). Neither adds up to 1
(effects overlap, and ranking is not additive). ``--last`` limits to the latest share of closes (the test period).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loaders.sample import generate_sample  # noqa: E402

EFFECTS = ("contact", "account", "parent", "affinity", "rep", "amount", "response")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--last", type=float, default=0.2, help="share of the latest closes to score (1 = all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_sample(Path(tmp), accounts=args.accounts, seed=args.seed)
        with open(Path(tmp) / "truth.csv", encoding="utf-8") as fh:
            truth = {r["OpportunityId"]: r for r in csv.DictReader(fh)}
        with open(Path(tmp) / "Opportunity.csv", encoding="utf-8-sig") as fh:
            closed = {r["Id"]: (r["CloseDate"], r["IsWon"] == "true") for r in csv.DictReader(fh)
                      if r["IsClosed"] == "true"}
    ids = sorted((i for i in closed if i in truth), key=lambda i: closed[i][0])
    ids = ids[int(len(ids) * (1 - args.last)):]
    y = np.array([closed[i][1] for i in ids], float)
    logit = np.array([float(truth[i]["logit"]) for i in ids])
    oracle = roc_auc_score(y, logit)
    print(f"closed deals scored: {len(ids)} (latest {args.last:.0%}); oracle AUROC {oracle:.4f}")
    print(f"{'effect':10} {'std':>6} {'AUROC without':>14} {'lost without':>13} {'AUROC alone':>12} {'alone':>7}")
    for name in EFFECTS:
        effect = np.array([float(truth[i][f"{name}_effect"]) for i in ids])
        without = roc_auc_score(y, logit - effect)
        alone = roc_auc_score(y, effect) if effect.std() > 0 else 0.5
        lift = oracle - 0.5
        print(f"{name:10} {effect.std():6.3f} {without:14.4f} {(oracle - without) / lift:13.1%} {alone:12.4f}"
              f" {(alone - 0.5) / lift:7.1%}")


if __name__ == "__main__":
    main()
