"""The forecast's adjustment: calibration by amount band and a period-level common shock (issue 20)."""

from __future__ import annotations

import numpy as np

from gnn.owners.adjust import Adjustment, draws, fit
from gnn.owners.forecast import interval_of, won_draws

SHOCK_SD = 0.6


def world(rng: np.random.Generator, periods: int, deals: int = 150) -> list[tuple[np.ndarray, ...]]:
    """Periods of deals whose model probability over-rates large deals (true logit 0.8 lower above 100k) and
    whose outcomes share one shock per period (N(0, SHOCK_SD) on the logit)."""
    out = []
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
