"""The forecast's adjustment: calibration by amount band and a period-level common shock (issue 20)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn.owners.adjust import Adjustment, carry_recent, draws, fit
from gnn.owners.backtest import RECENT_DAYS, Period, fit_known, recent_closed
from gnn.owners.forecast import interval_of, won_draws

SHOCK_SD = 0.6


def world(rng: np.random.Generator, periods: int, deals: int = 150) -> list[tuple[np.ndarray, ...]]:
    """Periods of deals whose model probability over-rates large deals (true logit 0.8 lower above 100k) and
    whose outcomes share one shock per period (N(0, SHOCK_SD) on the logit)."""
    out: list[tuple[np.ndarray, ...]] = []
    for _ in range(periods):
        p = rng.uniform(0.1, 0.7, deals)
        amounts = rng.lognormal(11, 1.0, deals)
        logit = np.log(p / (1 - p)) - 0.8 * (amounts > 100_000) + rng.normal(0, SHOCK_SD)
        won = (rng.random(deals) < 1 / (1 + np.exp(-logit))).astype(float)
        out.append((p, amounts, won))
    return out


def test_fit_finds_the_large_deal_bias_and_the_shock_beyond_bernoulli_noise() -> None:
    past = world(np.random.default_rng(1), 24)
    adj = fit(np.concatenate([w[0] for w in past]), np.concatenate([w[1] for w in past]),
              np.concatenate([w[2] for w in past]), np.concatenate([np.full(len(w[0]), i) for i, w in enumerate(past)]))
    assert adj.periods == 24 and len(adj.shifts) == 3
    assert adj.shifts[2] < adj.shifts[0] - 0.3  # the top band (large deals) is pulled down
    assert 0.3 < adj.shock_sd < 1.0  # near the true 0.6, not the 0 of independent deals


def test_the_adjusted_interval_covers_about_its_nominal_share_the_independent_one_does_not() -> None:
    rng = np.random.default_rng(2)
    past, future = world(rng, 24), world(rng, 40)
    adj = fit(np.concatenate([w[0] for w in past]), np.concatenate([w[1] for w in past]),
              np.concatenate([w[2] for w in past]), np.concatenate([np.full(len(w[0]), i) for i, w in enumerate(past)]))
    covered = {"independent": 0, "adjusted": 0}
    for p, amounts, won in future:
        actual = float(amounts @ won)
        plain = interval_of(won_draws(p, 0, 2000), p, amounts, 0.9)
        outcomes, mean_p = draws(adj, p, amounts, 0, 2000)
        mixed = interval_of(outcomes, mean_p, amounts, 0.9)
        covered["independent"] += plain.low <= actual <= plain.high
        covered["adjusted"] += mixed.low <= actual <= mixed.high
    assert covered["adjusted"] / 40 >= 0.75, covered
    assert covered["independent"] < covered["adjusted"], covered


def test_no_adjustment_without_enough_past_deals() -> None:
    assert fit(np.array([0.5] * 5), np.ones(5), np.ones(5), np.zeros(5)) == Adjustment(deals=5)


def test_the_shock_is_carried_over_from_recent_deals_and_widened_by_its_own_uncertainty() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 0.7, 400)
    amounts = rng.lognormal(11, 1.0, 400)
    won = (rng.random(400) < 1 / (1 + np.exp(-(np.log(p / (1 - p)) - 0.7)))).astype(float)  # 0.7 worse than rated
    base = Adjustment(shock_sd=0.1, periods=12, deals=2000)
    carried = carry_recent(base, p, amounts, won)
    assert -1.2 < carried.shock_mean < -0.3, carried
    assert carried.shock_sd > base.shock_sd  # the estimate's own spread is added
    few = carry_recent(base, p[:10], amounts[:10], won[:10])
    assert few == base  # too few recent deals: nothing carried over


def drifting_periods(rng: np.random.Generator, months: int, drift_from: int) -> list[Period]:
    """Monthly periods of 200 deals, rated right until month `drift_from`, then 0.25 more over-rated (logit)
    every month; each deal closes 1-40 days after its period starts."""
    out = []
    for i in range(months):
        cutoff = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=30 * i)
        p = rng.uniform(0.1, 0.7, 200)
        amounts = rng.lognormal(11, 0.5, 200)
        logit = np.log(p / (1 - p)) - 0.25 * max(0, i - drift_from + 1)
        won = (rng.random(200) < 1 / (1 + np.exp(-logit))).astype(float)
        closed = pd.DatetimeIndex(cutoff + pd.to_timedelta(rng.uniform(1, 40, 200), unit="D"))
        out.append(Period(cutoff, [f"{i}-{j}" for j in range(200)], p, amounts, won, closed))
    return out


def test_a_drift_across_later_periods_is_followed_by_the_carried_shock_not_by_the_per_period_one() -> None:
    periods = drifting_periods(np.random.default_rng(4), 14, drift_from=8)
    ratio: dict[str, list[float]] = {"per-period": [], "carried": []}
    for i in range(9, 14):
        pr = periods[i]
        actual = float(pr.amounts @ pr.won)
        for name, days in (("per-period", None), ("carried", RECENT_DAYS)):
            _, mean_p = draws(fit_known(periods[:i], pr.cutoff, days), pr.p, pr.amounts, 0, 500)
            ratio[name].append(actual / float(pr.amounts @ mean_p))
    # The per-period fit keeps over-forecasting as the drift grows; the carried shock stays near the actual.
    assert np.mean(ratio["per-period"]) < 0.9, ratio
    assert abs(np.mean(ratio["carried"]) - 1) < abs(np.mean(ratio["per-period"]) - 1) - 0.05, ratio


def test_recent_deals_count_once_as_their_latest_period_scored_them() -> None:
    at = pd.Timestamp("2026-03-01", tz="UTC")
    closed = pd.DatetimeIndex([at - pd.Timedelta(days=5), at - pd.Timedelta(days=90), at + pd.Timedelta(days=1)])
    amounts, won = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 1.0])
    older = Period(at - pd.Timedelta(days=60), ["a", "b", "c"], np.array([0.2, 0.2, 0.2]), amounts, won, closed)
    newer = Period(at - pd.Timedelta(days=30), ["a", "b", "c"], np.array([0.6, 0.6, 0.6]), amounts, won, closed)
    p, a, w = recent_closed([older, newer], at)
    # Only "a" closed in the 30 days before the last close before `at`; "c" closed after it (not known then).
    assert list(p) == [0.6] and list(a) == [1.0] and list(w) == [1.0]


def test_by_its_track_the_recent_shift_is_carried_as_far_as_carrying_it_predicted_the_past() -> None:
    # Where nothing drifts the recent deals' shift is noise and little of it is carried; after a drift of a few
    # months carrying it has predicted the past periods and most of it is (weights of the last period).
    steady = [fit_known(ps[:13], ps[13].cutoff, RECENT_DAYS, by_track=True).carry_weight
              for ps in (drifting_periods(np.random.default_rng(s), 14, drift_from=99) for s in range(5))]
    drifting = [fit_known(ps[:13], ps[13].cutoff, RECENT_DAYS, by_track=True).carry_weight
                for ps in (drifting_periods(np.random.default_rng(s), 14, drift_from=8) for s in range(5))]
    assert all(w is not None for w in steady + drifting)
    assert np.median(steady) < 0.3 < 0.7 < np.median(drifting), (steady, drifting)
    few = fit_known(drifting_periods(np.random.default_rng(0), 3, 99)[:2], pd.Timestamp("2026-03-02", tz="UTC"),
                    by_track=True)
    assert few.carry_weight in (None, 1.0)  # too short a track record: carried in full
    assert fit_known(drifting_periods(np.random.default_rng(0), 14, 99)[:13],
                     pd.Timestamp("2026-12-31", tz="UTC")).carry_weight == 1.0  # what the forecast uses: in full
