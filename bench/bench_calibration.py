"""Calibration where it matters: the served open deals, judged against what the sample says they will do.

    python bench/bench_calibration.py --store sqlite:///dealgraph.db --home .dealgraph \
        --truth .dealgraph/sample/truth.csv

The test period's ECE (from the serving model's card) is measured on past
examples; this prints it beside the ECE of the scores stored on today's open
deals, with each deal's later outcome taken as the sample's true win
probability (`truth.csv`: no Bernoulli noise, so a small set of open deals still
says something). The two should agree; a gap means the examples the model is
tested on are not the population it scores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnn.metrics import ECE_BINS  # noqa: E402
from gnn.registry import ModelRegistry  # noqa: E402
from gnn.score import open_deal_ids  # noqa: E402
from graph import open_store  # noqa: E402


def ece_against_truth(p: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """`gnn.metrics.expected_calibration_error` with the true probability in place of the 0/1 outcome."""
    which = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    return float(sum(abs(truth[which == b].mean() - p[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / len(p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--home", required=True, type=Path)
    ap.add_argument("--truth", required=True, type=Path)
    ap.add_argument("--column", default="win_probability", help="the truth column an open deal is judged on "
                    "(the lead-funnel fixture's `win_probability_now` conditions on the lead still being open)")
    args = ap.parse_args()
    card = ModelRegistry(args.home).current()
    with open_store(args.store) as store:
        ids = open_deal_ids(store.snapshot())
        scores = store.latest_scores(ids)
    truth = pd.read_csv(args.truth, dtype={"OpportunityId": str}).set_index("OpportunityId")[args.column]
    known = [d for d in ids if d in scores and d in truth.index]
    p = np.array([scores[d].probability for d in known])
    t = truth.reindex(known).to_numpy(float)
    test_ece = card.metrics.get(card.kind, {}).get("ece") if card else None
    open_ece = ece_against_truth(p, t)
    print(f"model {card.version if card else '-'} ({card.kind if card else '-'}, state {card.state if card else '-'})")
    print(f"test period ECE          {test_ece}")
    print(f"open deals ECE vs truth  {open_ece:.4f}  "
          f"(n {len(known)}; mean score {p.mean():.4f}, mean truth {t.mean():.4f})")
    if test_ece is not None:
        print(f"difference               {abs(open_ece - test_ece):.4f}")


if __name__ == "__main__":
    main()
