"""Expected won amount of the open pipeline, per close month and quarter, per rep and in total, with intervals.

A period's won amount is a sum of independent Bernoulli draws, one per deal,
each worth the deal's amount: a Poisson-binomial distribution over amounts.
Its mean is exact (sum of p * amount); its interval comes from Monte Carlo
with a fixed seed (`DRAWS` joint draws of every open deal's outcome), so the
same store gives the same figures, and groups that share deals (a rep's month
and the month's total) are read from the same draws. No normal approximation:
with a few large deals the distribution is lumpy and skewed, and its quantiles
say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from gnn.owners.adjust import Adjustment
from gnn.owners.adjust import draws as adjusted_draws
from graph.store import GraphStore, InvalidInput
from ontology.names import Label, Rel

DRAWS = 5000
SEED = 20
LEVEL = 0.9
OWNER_RELATION = Rel.OWNED_BY


@dataclass(frozen=True)
class Interval:
    """Expected won amount and the central `level` interval of its distribution."""

    expected: float
    low: float
    high: float


def won_draws(p: np.ndarray, seed: int = SEED, draws: int = DRAWS) -> np.ndarray:
    """`draws` x n joint outcomes (1.0 won, 0.0 lost) of independent deals with win probabilities `p`."""
    rng = np.random.default_rng(seed)
    return (rng.random((draws, len(p))) < p).astype(np.float32)


def interval_of(won: np.ndarray, p: np.ndarray, amounts: np.ndarray, level: float = LEVEL) -> Interval:
    """The Poisson-binomial won amount of these deals: exact mean, Monte Carlo quantiles from `won` draws."""
    if len(p) == 0:
        return Interval(0.0, 0.0, 0.0)
    totals = won @ amounts.astype(np.float32)
    tail = (1 - level) / 2
    low, high = np.quantile(totals, [tail, 1 - tail])
    return Interval(float(p @ amounts), float(low), float(high))


@dataclass(frozen=True)
class ForecastRow:
    """One group: `grain` month, quarter or total; `period` like 2025-04, 2025-Q2 or `all`; neither `rep_id` nor
    `team`: every rep's deals."""

    grain: str
    period: str
    rep_id: str | None
    rep_name: str | None
    team: str | None  # a team's row has no rep_id; a rep's row names the rep's team
    deals: int
    pipeline: float
    expected: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Forecast:
    rows: list[ForecastRow]
    level: float
    draws: int
    seed: int
    unscored: int  # open deals left out: no score yet
    model_versions: list[str]
    adjustment: Adjustment | None = None  # what the draws were adjusted by (None: independent deals)


def _period(close: Any, grain: str) -> str:
    if close is None or (isinstance(close, float) and np.isnan(close)) or close is pd.NaT:
        return "no close date"
    day = pd.Timestamp(close)
    return f"{day.year}-{day.month:02d}" if grain == "month" else f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def open_pipeline(store: GraphStore, batch: int = 500) -> pd.DataFrame:
    """Open deals: id, amount, close_date, rep_id, rep_name, team, p, model_version (p NaN: not scored yet).

    Read through the store's open-deal pages and batched look-ups, not a whole snapshot: the API asks this.
    """
    deals: list[Mapping[str, Any]] = []
    after = None
    while True:
        page = store.open_deals_page(batch, after)
        deals += page.deals
        if not page.has_next or not page.deals:
            break
        last = page.deals[-1]
        after = (float(last.get("_rank", -1.0)), str(last["id"]))
    ids = [d["id"] for d in deals]
    owners = {
        d: links[0].node for d, links in store.neighbours(Label.DEAL, ids, OWNER_RELATION, "out").items() if links
    }
    scores = store.latest_scores(ids)
    frame = pd.DataFrame(
        {
            "id": ids,
            "amount": pd.to_numeric(pd.Series([d.get("amount") for d in deals], dtype=object), errors="coerce"),
            "close_date": [d.get("close_date") for d in deals],
            "rep_id": [owners[i]["id"] if i in owners else None for i in ids],
            "rep_name": [owners[i].get("name") if i in owners else None for i in ids],
            "team": [owners[i].get("team") if i in owners else None for i in ids],
            "p": [scores[i].probability if i in scores else np.nan for i in ids],
            "model_version": [scores[i].model_version if i in scores else None for i in ids],
        }
    )
    frame["amount"] = frame["amount"].fillna(0.0).clip(lower=0.0).astype(float)
    return frame


def forecast(
    store: GraphStore,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = SEED,
    rep_ids: Iterable[str] | None = None,
    adjustment: Adjustment | None = None,
) -> Forecast:
    """The forecast of the open pipeline (of these reps' deals when `rep_ids` is given).

    With an `adjustment` (`owners.backtest.current_adjustment`) the probabilities are recalibrated by amount
    band and every draw shares one common shock (`owners.adjust`); without, deals are independent.
    """
    if not 0 < level < 1:
        raise InvalidInput(f"the interval's level is a share between 0 and 1, e.g. 0.9 (got {level})")
    frame = open_pipeline(store)
    if rep_ids is not None:
        frame = frame[frame["rep_id"].isin(set(rep_ids))].reset_index(drop=True)
    scored = frame[frame["p"].notna()].reset_index(drop=True)
    p, amounts = scored["p"].to_numpy(float), scored["amount"].to_numpy(float)
    if adjustment is not None:
        won, p = adjusted_draws(adjustment, p, amounts, seed, draws)
    else:
        won = won_draws(p, seed, draws)
    rows: list[ForecastRow] = []

    def add(grain: str, period: str, mask: np.ndarray, rep: str | None = None, team: str | None = None) -> None:
        ivl = interval_of(won[:, mask], p[mask], amounts[mask], level)
        name = scored.loc[mask, "rep_name"].iloc[0] if rep is not None and mask.any() else None
        rows.append(
            ForecastRow(
                grain,
                period,
                rep,
                None if pd.isna(name) else name,
                team,
                int(mask.sum()),
                float(amounts[mask].sum()),
                ivl.expected,
                ivl.low,
                ivl.high,
            )
        )

    def add_groups(grain: str, period: str, mask: np.ndarray) -> None:
        """Everyone's deals in the period, each team's, each rep's."""
        add(grain, period, mask)
        for team in sorted(set(scored.loc[mask, "team"].dropna())):
            add(grain, period, mask & (scored["team"] == team).to_numpy(), team=team)
        for rep in sorted(set(scored.loc[mask, "rep_id"].dropna())):
            mine = mask & (scored["rep_id"] == rep).to_numpy()
            team = scored.loc[mine, "team"].iloc[0]
            add(grain, period, mine, rep=rep, team=None if pd.isna(team) else team)

    for grain in ("month", "quarter"):
        periods = scored["close_date"].map(lambda c, g=grain: _period(c, g)).to_numpy()
        for period in sorted(set(periods)):
            add_groups(grain, period, periods == period)
    add_groups("total", "all", np.ones(len(scored), bool))
    versions = sorted({v for v in scored["model_version"] if v})
    return Forecast(rows, level, draws, seed, int(frame["p"].isna().sum()), versions, adjustment)
