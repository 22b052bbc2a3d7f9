"""Coverage of the forecast's interval on synthetic worlds, where the truth is known (docs/owners.md#backtest).

    python bench/bench_forecast_synthetic.py

Monthly periods of 300 deals whose model probabilities are right but for a common shock on the logit: none,
an independent one per period (sd 0.3), or a drift of 0.15 a month from the seventh month on. Each deal closes
1-60 days after its period starts. For months 7-14 of 20 worlds (160 forecasts) each way of fitting the shock
(`gnn.owners.backtest.fit_known`, only on deals closed before the month) is checked: the share of months whose
won amount fell inside the 90% interval, and the interval's median width as a share of the expected amount.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnn.owners.adjust import draws  # noqa: E402
from gnn.owners.backtest import RECENT_DAYS, Period, fit_known  # noqa: E402
from gnn.owners.forecast import interval_of  # noqa: E402

WORLDS = {"no shock": (0.0, 0.0), "independent shock sd 0.3": (0.3, 0.0), "drift 0.15 a month": (0.1, 0.15)}
FITS = {"per-period shock": (None, False), f"carried from {RECENT_DAYS} days (served)": (RECENT_DAYS, False),
        "carried by its track": (RECENT_DAYS, True)}


def world(rng: np.random.Generator, months: int, shock_sd: float, drift: float, deals: int = 300) -> list[Period]:
    out = []
    for i in range(months):
        cutoff = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=30 * i)
        p = rng.uniform(0.1, 0.7, deals)
        amounts = rng.lognormal(11, 0.8, deals)
        logit = np.log(p / (1 - p)) + rng.normal(0, shock_sd) - drift * max(0, i - 6)
        won = (rng.random(deals) < 1 / (1 + np.exp(-logit))).astype(float)
        closed = pd.DatetimeIndex(cutoff + pd.to_timedelta(rng.uniform(1, 60, deals), unit="D"))
        out.append(Period(cutoff, [f"{i}-{j}" for j in range(deals)], p, amounts, won, closed))
    return out


def main() -> None:
    print(f"{'world':<26} {'shock fitted':<28} {'coverage':>8} {'width':>6}")
    for name, (sd, drift) in WORLDS.items():
        covered: dict[str, list[bool]] = {f: [] for f in FITS}
        width: dict[str, list[float]] = {f: [] for f in FITS}
        for rep in range(20):
            periods = world(np.random.default_rng(rep), 14, sd, drift)
            for i in range(6, 14):
                pr, actual = periods[i], float(periods[i].amounts @ periods[i].won)
                for fit_name, (days, by_track) in FITS.items():
                    won, mean_p = draws(fit_known(periods[:i], pr.cutoff, days, by_track), pr.p, pr.amounts, rep, 2000)
                    ivl = interval_of(won, mean_p, pr.amounts, 0.9)
                    covered[fit_name].append(ivl.low <= actual <= ivl.high)
                    width[fit_name].append((ivl.high - ivl.low) / ivl.expected)
        for fit_name in FITS:
            print(f"{name:<26} {fit_name:<28} {np.mean(covered[fit_name]):>8.0%} {np.median(width[fit_name]):>6.0%}")
    print("nominal coverage 90%; 160 forecasts per row")


if __name__ == "__main__":
    main()
