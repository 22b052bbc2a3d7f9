"""Forecast accuracy over past periods: MAPE and interval coverage, independent deals vs the adjusted forecasts.

    python bench/bench_forecast.py --store sqlite:///dealgraph.db --home .dealgraph [--every 30] [--seeds 3]

For each period of the serving model's validation and held-out periods (monthly by default), the
pipeline open at its start is forecast as of then and put beside what of it was won
(`gnn.owners.backtest`), three ways, all fitted only on deals closed before the period
(`gnn.owners.adjust`): the model's probabilities as independent draws (the plain Poisson-binomial);
recalibrated by amount band with a per-period common shock; and the same with the shock carried over
from the deals closed in the last 30 days (what `dealgraph forecast` uses); and that shock carried only as far
as carrying it predicted the earlier periods (`by_track`, the alternative weighed in docs/owners.md). The
periods are scored once
and shared. Prints the table of the carried-over backtest, the deals each held-out period leaves out as
unresolved, then MAPE and coverage of each forecast over all periods and over the held-out ones, the
median over `--seeds` Monte Carlo seeds (the figures move a little with the seed; not with the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnn.owners.backtest import RECENT_DAYS, Backtest, backtest, past_periods  # noqa: E402
from gnn.owners.forecast_text import backtest_table  # noqa: E402
from graph import open_store  # noqa: E402

FORECASTS = {  # name: (adjust, recent_days, by_track)
    "independent (before)": (False, None, False),
    "band + per-period shock": (True, None, False),
    f"+ shock from last {RECENT_DAYS} days": (True, RECENT_DAYS, False),
    "  ... carried by its track": (True, RECENT_DAYS, True),
}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _median(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="sqlite:///dealgraph.db")
    ap.add_argument("--home", default=".dealgraph")
    ap.add_argument("--every", type=int, default=30, help="days between period starts (default 30: monthly)")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    with open_store(args.store) as store:
        periods = past_periods(store, Path(args.home), args.every)
        runs: dict[str, list[Backtest]] = {
            name: [backtest(store, Path(args.home), args.every, args.level, seed=seed, adjust=adjust,
                            recent_days=days, periods=periods, by_track=track) for seed in range(args.seeds)]
            for name, (adjust, days, track) in FORECASTS.items()}
    last = f"+ shock from last {RECENT_DAYS} days"  # what `dealgraph forecast` uses
    print("\n".join(backtest_table(runs[last][0])))
    print()
    print(f"{'period start':<12} {'resolved':>8} {'unresolved':>10} {'unresolved amount':>17}  actual / expected "
          f"({last}), shock mean")
    for r in runs[last][0].rows:
        print(f"{r.period_start:<12} {r.deals:>8} {r.unresolved:>10} {r.unresolved_share:>17.0%}  "
              f"{r.actual / r.expected:.2f}, "
              f"{r.shock_mean:+.3f}{'' if r.held_out else '  (val)'}")
    print()
    print(f"{'forecast':<26} {'periods':>7} {'MAPE':>7} {'coverage':>9} {'held-out':>8} {'MAPE':>7} {'coverage':>9}")
    for name, bs in runs.items():
        held = [b.held_out() for b in bs]
        n_held = sum(r.held_out for r in bs[0].rows)
        print(f"{name:<26} {len(bs[0].rows):>7} {_pct(_median([b.mape for b in bs])):>7} "
              f"{_pct(_median([b.coverage for b in bs])):>9} {n_held:>8} {_pct(_median([h[0] for h in held])):>7} "
              f"{_pct(_median([h[1] for h in held])):>9}")
    print(f"nominal coverage {args.level:.0%}; median over {args.seeds} Monte Carlo seeds")


if __name__ == "__main__":
    main()
