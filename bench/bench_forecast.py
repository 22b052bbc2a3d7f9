"""Forecast accuracy over past periods: MAPE and interval coverage, independent deals vs the adjusted forecast.

    python bench/bench_forecast.py --store sqlite:///dealgraph.db --home .dealgraph [--every 30] [--seeds 3]

For each period of the serving model's validation and held-out periods (monthly by default), the
pipeline open at its start is forecast as of then and put beside what of it was won
(`gnn.owners.backtest`): once with the model's probabilities as independent draws (the plain
Poisson-binomial), once recalibrated by amount band with a common shock, both fitted only on deals
closed before the period (`gnn.owners.adjust`). Prints the table of the adjusted backtest, then
MAPE and coverage of both over all periods and over the held-out ones, the median over `--seeds`
Monte Carlo seeds (the figures move a little with the seed; not with the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnn.owners.backtest import backtest  # noqa: E402
from gnn.owners.forecast_text import backtest_table  # noqa: E402
from graph import open_store  # noqa: E402


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="sqlite:///dealgraph.db")
    ap.add_argument("--home", default=".dealgraph")
    ap.add_argument("--every", type=int, default=30, help="days between period starts (default 30: monthly)")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    with open_store(args.store) as store:
        runs = {adjust: [backtest(store, Path(args.home), args.every, args.level, seed=seed, adjust=adjust)
                         for seed in range(args.seeds)] for adjust in (False, True)}
    print("\n".join(backtest_table(runs[True][0])))
    print()
    print(f"{'forecast':<26} {'periods':>7} {'MAPE':>7} {'coverage':>9} {'held-out':>8} {'MAPE':>7} {'coverage':>9}")
    for adjust, name in ((False, "independent (before)"), (True, "band + common shock")):
        bs = runs[adjust]
        held = [b.held_out() for b in bs]
        n_held = sum(r.held_out for r in bs[0].rows)

        def med(xs: list[float | None]) -> float | None:
            vals = [x for x in xs if x is not None]
            return statistics.median(vals) if vals else None

        print(f"{name:<26} {len(bs[0].rows):>7} {_pct(med([b.mape for b in bs])):>7} "
              f"{_pct(med([b.coverage for b in bs])):>9} {n_held:>8} {_pct(med([h[0] for h in held])):>7} "
              f"{_pct(med([h[1] for h in held])):>9}")
    print(f"nominal coverage {args.level:.0%}; median over {args.seeds} Monte Carlo seeds")


if __name__ == "__main__":
    main()
