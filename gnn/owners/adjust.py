"""What the forecast learns from past closed deals: calibration by amount band and a period-level common shock.

Two causes made the plain Poisson-binomial forecast miss (docs/owners.md#backtest):

- The model is calibrated in counts, not in amounts: it over-rates large deals. So each amount band
  (terciles of past amounts) gets a logit shift, the maximum-likelihood offset of its past deals'
  outcomes against the model's probabilities, shrunk towards 0 by `SHRINK` pseudo-deals.
- Deals of one period win and lose together (the quarter was good or bad for everyone), so a sum of
  independent draws is far too sure of itself. Each past period gets the logit shift `d` that makes
  its expected won amount equal its actual one; the spread of those shifts, less what Bernoulli noise
  alone would give (`Var(A) / (dE/dd)^2` per period, the delta method), is the variance of a common
  shock. A forecast draws one shock per Monte Carlo draw, shared by every deal of the draw, and the
  deals' outcomes given it: a mixture of Poisson-binomials, not one.

A drift across several later periods together (the model growing stale) is not in either: each period's
own shift sits near the others. So the shock's mean is then carried over from the most recently closed
deals (`carry_recent`), its spread widened by that estimate's uncertainty; or (compared in the bench)
only as far as carrying it has predicted the past periods, its spread what that prediction missed by.

All are fitted only on deals whose outcome was known when the forecast is made (the caller picks them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

SHRINK = 20.0
CLIP = 4.0  # logit shifts beyond this are a sign of too little data, not of a real effect
MIN_DEALS = 30
MIN_TRACK = 3  # past periods needed to judge how well carrying the recent shift over has predicted
EPS = 1e-4


@dataclass(frozen=True)
class Adjustment:
    """Logit shifts per amount band (`edges` split the bands) and the common shock N(mean, sd) on the logit."""

    edges: tuple[float, ...] = ()
    shifts: tuple[float, ...] = (0.0,)
    shock_mean: float = 0.0
    shock_sd: float = 0.0
    periods: int = 0
    deals: int = 0
    carry_weight: float | None = None  # how much of the recent deals' shift the mean carries (None: not carried)

    def logits(self, p: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        band = np.searchsorted(np.asarray(self.edges, float), amounts, "right")
        return _logit(p) + np.asarray(self.shifts, float)[band]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _solve(f: Any, target: float) -> float:
    """The shift d in [-CLIP, CLIP] with f(d) = target, f increasing (bisection; clipped at the ends)."""
    lo, hi = -CLIP, CLIP
    if f(lo) >= target:
        return lo
    if f(hi) <= target:
        return hi
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2


def fit(p: np.ndarray, amounts: np.ndarray, won: np.ndarray, period: np.ndarray) -> Adjustment:
    """Fit on past deals: model probability, amount, outcome (1/0) and the period each belongs to."""
    p, amounts, won = np.asarray(p, float), np.asarray(amounts, float), np.asarray(won, float)
    if len(p) < MIN_DEALS:
        return Adjustment(deals=len(p))
    edges = tuple(float(e) for e in np.unique(np.quantile(amounts, [1 / 3, 2 / 3])))
    band = np.searchsorted(np.asarray(edges), amounts, "right")
    base = _logit(p)
    shifts = []
    for b in range(len(edges) + 1):
        m = band == b
        n = int(m.sum())
        if n == 0:
            shifts.append(0.0)
            continue
        mle = _solve(lambda d, m=m: float(_sigmoid(base[m] + d).sum()), float(won[m].sum()))
        shifts.append(round(mle * n / (n + SHRINK), 4))
    adjusted = base + np.asarray(shifts)[band]
    deltas, noise = [], []
    for g in np.unique(period):
        m = period == g
        a, logits = amounts[m], adjusted[m]
        if a.sum() <= 0:
            continue
        d = _solve(lambda x, a=a, logits=logits: float(a @ _sigmoid(logits + x)), float(a @ won[m]))
        q = _sigmoid(logits + d)
        slope = float(a @ (q * (1 - q)))
        deltas.append(d)
        noise.append(float((a * a) @ (q * (1 - q))) / slope ** 2 if slope > 0 else 0.0)
    if len(deltas) < 2:
        return Adjustment(edges, tuple(shifts), 0.0, 0.0, len(deltas), len(p))
    mean = float(np.mean(deltas))
    sd = float(np.sqrt(max(float(np.var(deltas, ddof=1)) - float(np.mean(noise)), 0.0)))
    return Adjustment(edges, tuple(shifts), round(mean, 4), round(sd, 4), len(deltas), len(p))


def draws(adjustment: Adjustment, p: np.ndarray, amounts: np.ndarray, seed: int,
          n_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """`n_draws` x n joint outcomes under the adjustment (one common shock per draw), and each deal's mean
    win probability over the shocks (for the expected amount)."""
    rng = np.random.default_rng(seed)
    logits = adjustment.logits(p, amounts)
    shock = rng.normal(adjustment.shock_mean, adjustment.shock_sd, size=(n_draws, 1))
    q = _sigmoid(logits[None, :] + shock)
    won = (rng.random(q.shape) < q).astype(np.float32)
    return won, q.mean(axis=0)


def shift_of(adjustment: Adjustment, p: np.ndarray, amounts: np.ndarray,
             won: np.ndarray) -> tuple[float, float] | None:
    """The logit shift that makes these deals' expected won amount (under the adjustment) equal their actual one,
    and its delta-method variance; None for fewer than `MIN_DEALS` deals or no amount."""
    p, amounts, won = np.asarray(p, float), np.asarray(amounts, float), np.asarray(won, float)
    if len(p) < MIN_DEALS or amounts.sum() <= 0:
        return None
    logits = adjustment.logits(p, amounts)
    d = _solve(lambda x: float(amounts @ _sigmoid(logits + x)), float(amounts @ won))
    q = _sigmoid(logits + d)
    slope = float(amounts @ (q * (1 - q)))
    return d, (float((amounts * amounts) @ (q * (1 - q))) / slope ** 2 if slope > 0 else CLIP ** 2)


@dataclass(frozen=True)
class CarryCheck:
    """One past period: the shift carried over to it from the deals closed just before it, and the shift its own
    deals turned out to have, each with its (Bernoulli) variance."""

    carried: float
    carried_var: float
    actual: float
    actual_var: float


def carry_recent(adjustment: Adjustment, p: np.ndarray, amounts: np.ndarray, won: np.ndarray,
                 track: Sequence[CarryCheck] = ()) -> Adjustment:
    """The adjustment with its shock carried over from the most recently closed deals (`p`, `amounts`, `won`).

    A drift that moves several later periods together (the model growing stale) leaves each past period's
    own shift near the others, so the per-period spread and mean miss it; the recent deals' shift sees it. But
    where nothing drifts, that shift is mostly noise, and carrying it in full moves the forecast off and
    widens it for nothing. So, given a `track` of `MIN_TRACK` or more past periods (how carrying did on each),
    the shock's mean is the long-run mean moved towards the recent shift by the weight `w` that best
    predicted the past periods' shifts (least squares through the long-run mean, corrected for the carried
    shifts' own noise, w in [0, 1]), and its
    variance is what that prediction missed by in the past beyond Bernoulli noise (`_missed`), plus the
    recent estimate's own variance times w^2. That reacts to a drift only once it has lasted a few periods
    (docs/owners.md#backtest), so the forecast carries in full: no track (or a shorter one) carries the recent
    shift in full and adds its variance to the per-period one. Fewer than `MIN_DEALS` recent deals leave the
    adjustment as it is.
    """
    recent = shift_of(adjustment, p, amounts, won)
    if recent is None:
        return adjustment
    shift, var = recent
    if len(track) < MIN_TRACK:
        return replace(adjustment, shock_mean=round(shift, 4),
                       shock_sd=round(float(np.hypot(adjustment.shock_sd, np.sqrt(var))), 4), carry_weight=1.0)
    long_run = adjustment.shock_mean
    x = np.array([t.carried - long_run for t in track])
    y = np.array([t.actual - long_run for t in track])
    # The carried shifts are noisy estimates themselves: least squares on them would pull w towards 0 by their
    # noise (errors in variables), so their known Bernoulli variance comes off the denominator.
    signal = float(x @ x) - sum(t.carried_var for t in track)
    w = float(np.clip(x @ y / signal, 0.0, 1.0)) if signal > 0 else 0.0
    sd = float(np.sqrt(_missed(track, x, y, w) + w * w * var))
    return replace(adjustment, shock_mean=round(long_run + w * (shift - long_run), 4), shock_sd=round(sd, 4),
                   carry_weight=round(w, 4))


def _missed(track: Sequence[CarryCheck], x: np.ndarray, y: np.ndarray, w: float) -> float:
    """The variance of a period's true shift around the carried prediction: the past residuals' mean square
    (one degree of freedom spent on `w`), less the Bernoulli noise of the past shifts and of their carried
    estimates (which a forecast adds on its own: its draws, and `w^2` times the recent estimate's variance)."""
    k = len(track)
    mean_square = float(np.mean((y - w * x) ** 2)) * k / (k - 1)
    noise = float(np.mean([t.actual_var + w * w * t.carried_var for t in track]))
    return max(mean_square - noise, 0.0)
