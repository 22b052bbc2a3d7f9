"""The forecast checked against what was won: past periods forecast as of their start.

Which probabilities a past forecast may use decides whether the check is
honest. Scores stored at the time would be best, but a store loaded from an
export has none for the past. So this uses the serving model's own held-out
period: at each cutoff after its training report's `t2` (the start of its test
period, on which it was neither fitted, tuned nor calibrated), the deals open
then are scored from the graph as it stood then (`gnn.dataset.examples_at`,
the same leak-safe examples training reports on), and the forecast of their
won amount (Poisson-binomial, `owners.forecast`) is compared with the amount
of those deals that was actually won. Deals still open today are left out
(their result is not known), as they are from the model's test metrics; each
row counts them (`unresolved`), since a period near the end of the data
compares only its quickest deals. Both sides are over the same resolved deals,
so this narrows the check rather than biasing it (on the default sample the
won / expected ratio falls with the close month for quick and slow deals
alike: docs/owners.md#backtest).

MAPE is the mean of |actual - expected| / actual over periods with something
won; coverage is the share of periods whose actual falls inside the interval,
to be read against the interval's nominal level.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnn.owners.adjust import Adjustment, CarryCheck, carry_recent, fit, shift_of
from gnn.owners.adjust import draws as adjusted_draws
from gnn.owners.forecast import DRAWS, LEVEL, SEED, interval_of
from gnn.registry import ModelRegistry, RegistryError
from graph.store import GraphStore, InvalidInput
from ontology.names import Label

RECENT_DAYS = 30  # the window of closed deals the shock is carried over from (median cycle ~45 days)


@dataclass(frozen=True)
class BacktestRow:
    period_start: str
    deals: int
    pipeline: float
    expected: float
    low: float
    high: float
    actual: float
    held_out: bool = True  # False: a validation period (the model was tuned and calibrated on its outcomes)
    shock_sd: float = 0.0  # the common shock's spread this forecast mixed over (0: independent deals)
    shock_mean: float = 0.0  # its mean on the logit (carried over from the most recently closed deals)
    unresolved: int = 0  # deals open at the period's start (or opened in it) still unresolved: left out
    unresolved_amount: float = 0.0

    @property
    def covered(self) -> bool:
        return self.low <= self.actual <= self.high

    @property
    def unresolved_share(self) -> float:
        """The share of the period's pipeline amount (resolved and not) still open, so left out."""
        return self.unresolved_amount / max(self.pipeline + self.unresolved_amount, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "covered": self.covered}


@dataclass(frozen=True)
class Backtest:
    model_version: str
    rows: list[BacktestRow]
    level: float
    mape: float | None  # None: nothing was won in any period
    coverage: float | None  # None: no periods
    adjusted: bool = True
    recent_days: int | None = RECENT_DAYS  # the shock was carried over from deals closed in these days (None: not)

    def held_out(self) -> tuple[float | None, float | None]:
        """(MAPE, coverage) over the held-out periods only."""
        return accuracy([r for r in self.rows if r.held_out])

    def to_json(self) -> dict[str, Any]:
        mape, coverage = self.held_out()
        return {"model_version": self.model_version, "level": self.level, "mape": self.mape,
                "coverage": self.coverage, "held_out_mape": mape, "held_out_coverage": coverage,
                "adjusted": self.adjusted, "recent_days": self.recent_days, "periods": [r.to_json() for r in self.rows]}


def training_split(registry: ModelRegistry, version: str) -> dict[str, Any]:
    """The temporal split a model was trained on (`t1`, `t2`, `end`, `cutoff_days`), from its training report.

    Raises:
        RegistryError: the version has no readable report with a split (registered by hand, or damaged).
    """
    try:
        split = json.loads((registry.path(version) / "report.json").read_text())["split"]
        pd.Timestamp(split["t2"]), pd.Timestamp(split["end"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryError(f"model {version} has no training report with its split (report.json): "
                            f"{type(e).__name__}: {e}") from e
    return split


def accuracy(rows: list[BacktestRow]) -> tuple[float | None, float | None]:
    """(MAPE, interval coverage) of backtest rows."""
    errors = [abs(r.actual - r.expected) / r.actual for r in rows if r.actual > 0]
    mape = float(np.mean(errors)) if errors else None
    coverage = float(np.mean([r.covered for r in rows])) if rows else None
    return mape, coverage


@dataclass(frozen=True)
class Period:
    """The deals open at one cutoff of the serving model's validation or held-out period, as it scored them."""

    cutoff: pd.Timestamp
    deal_ids: list[str]
    p: np.ndarray
    amounts: np.ndarray
    won: np.ndarray  # 1.0 / 0.0
    closed_at: pd.DatetimeIndex  # when each deal closed (UTC)
    unresolved: int = 0  # deals of the bucket whose outcome was not known by its split's deadline: left out
    unresolved_amount: float = 0.0


def past_periods(store: GraphStore, home: Path,
                 every_days: int | None = None) -> tuple[str, pd.Timestamp, list[Period]]:
    """(serving version, its `t2`, its periods from `t1` on, oldest first).

    Raises:
        InvalidInput: no model serves yet.
    """
    # torch and the model code load here, not on import: the API imports this module and must start light.
    from gnn.dataset import bucket, build_examples, temporal_split
    from gnn.outcomes import deal_outcomes
    from gnn.score import load_model, predict_examples

    registry = ModelRegistry(home)
    version = registry.current_version()
    if version is None:
        raise InvalidInput(f"no model serves yet under {home}: run `dealgraph train` first")
    loaded = load_model(home, version)
    split_of_model = training_split(registry, version)
    t1, t2 = pd.Timestamp(split_of_model["t1"]), pd.Timestamp(split_of_model["t2"])
    full = store.snapshot()
    split = temporal_split(full, every_days or int(split_of_model.get("cutoff_days", 30)))
    amounts = pd.to_numeric(full.nodes[Label.DEAL].set_index("id")["amount"], errors="coerce")
    amounts = amounts.fillna(0.0).clip(lower=0.0)
    closed_at = pd.to_datetime(deal_outcomes(full)["closed_at"], utc=True)
    timeline = full.timeline()  # built once for both parts
    built = [ex for part in ("val", "test")
             for ex in build_examples(full, loaded.spec, split, only=part, timeline=timeline)[part]]
    examples = sorted((ex for ex in built if ex.cutoff >= t1), key=lambda e: e.cutoff)
    deal_nodes = full.nodes[Label.DEAL].set_index("id")
    created = pd.to_datetime(deal_nodes[full.schema.nodes[Label.DEAL].time], utc=True)
    closed = closed_at.reindex(deal_nodes.index)

    def left_out(cutoff: pd.Timestamp, labelled: list[str]) -> tuple[int, float]:
        # The bucket as `gnn.dataset.labelled` draws it (open at the cutoff or opened before the next one),
        # less the deals it labelled: those whose outcome came after the deadline or not at all.
        standing, newborn = bucket(created, closed, split, cutoff)
        ids = deal_nodes.index[(standing | newborn).to_numpy()].difference(pd.Index(labelled))
        return len(ids), float(amounts.reindex(ids).fillna(0.0).sum())

    return (
        version,
        t2,
        [
            Period(
                ex.cutoff,
                list(ex.deal_ids),
                predict_examples(loaded, [ex]),
                amounts.reindex(ex.deal_ids).fillna(0.0).to_numpy(float),
                ex.labels.numpy().astype(float),
                pd.DatetimeIndex(closed_at.reindex(ex.deal_ids)),
                *left_out(ex.cutoff, list(ex.deal_ids)),
            )
            for ex in examples
        ],
    )


def recent_closed(periods: list[Period], at: pd.Timestamp,
                  days: int = RECENT_DAYS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, amount, won) of the deals that closed in the `days` before the last close before `at` (the data may
    end before `at`), each once, as its latest period scored it (a deal open over several cutoffs is in each)."""
    latest: dict[str, tuple[float, float, float]] = {}
    last = max((c for pr in periods for c in pr.closed_at if c < at), default=None)
    since = (last if last is not None else at) - pd.Timedelta(days=days)
    for pr in periods:
        recent = np.flatnonzero(np.asarray((pr.closed_at >= since) & (pr.closed_at < at), bool))
        for j in recent:
            latest[pr.deal_ids[j]] = (float(pr.p[j]), float(pr.amounts[j]), float(pr.won[j]))
    rows = np.array(list(latest.values()), float).reshape(-1, 3)
    return rows[:, 0], rows[:, 1], rows[:, 2]


def fit_known(periods: list[Period], at: pd.Timestamp, recent_days: int | None = RECENT_DAYS,
              by_track: bool = False) -> Adjustment:
    """The adjustment fitted on these periods' deals that had closed before `at` (what was known then), its
    shock carried over from those closed in the last `recent_days` (None: the per-period shock alone): in full,
    or with `by_track` as far as carrying it predicted the earlier periods (`carry_track`; an alternative the
    bench compares, not what the forecast uses: docs/owners.md#backtest)."""
    keep = [(i, pr, np.asarray(pr.closed_at < at, bool)) for i, pr in enumerate(periods)]
    if not keep:
        return Adjustment()
    adjustment = fit(
        np.concatenate([pr.p[k] for _, pr, k in keep]),
        np.concatenate([pr.amounts[k] for _, pr, k in keep]),
        np.concatenate([pr.won[k] for _, pr, k in keep]),
        np.concatenate([np.full(int(k.sum()), i) for i, _, k in keep]),
    )
    if recent_days is None or adjustment.periods == 0:
        return adjustment
    return carry_recent(adjustment, *recent_closed(periods, at, recent_days),
                        track=carry_track(periods, at, recent_days, adjustment) if by_track else ())


def carry_track(periods: list[Period], at: pd.Timestamp, days: int, adjustment: Adjustment) -> list[CarryCheck]:
    """How carrying the recent shift over would have done on each earlier period: the shift of the deals closed
    in the `days` before its start, beside the shift its own deals turned out to have (those closed before `at`:
    nothing later is used)."""
    track = []
    for j in range(1, len(periods)):
        pr = periods[j]
        known = np.asarray(pr.closed_at < at, bool)
        carried = shift_of(adjustment, *recent_closed(periods[:j], pr.cutoff, days))
        actual = shift_of(adjustment, pr.p[known], pr.amounts[known], pr.won[known])
        if carried is not None and actual is not None:
            track.append(CarryCheck(carried[0], carried[1], actual[0], actual[1]))
    return track


def _adjustment_path(home: Path, version: str) -> Path:
    # "-recent": fitted with the carried-over shock; one kept from before that is not read as if it were.
    return home / "owners" / f"forecast-adjustment-recent-{version}.json"


def cached_adjustment(home: Path) -> Adjustment | None:
    """The serving model's adjustment if `current_adjustment` computed it already (the API only reads it:
    computing takes seconds); None otherwise."""
    version = ModelRegistry(home).current_version()
    path = _adjustment_path(home, version) if version else None
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Adjustment(**{**data, "edges": tuple(data["edges"]), "shifts": tuple(data["shifts"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None  # a damaged file: the forecast falls back to independent deals rather than fail


def current_adjustment(store: GraphStore, home: Path) -> Adjustment:
    """The serving model's adjustment from every past period's closed deals: what the live forecast uses.

    Kept per model version under `HOME/owners/` (the periods take seconds to score on a large store).
    """
    kept = cached_adjustment(home)
    if kept is not None:
        return kept
    version, _, periods = past_periods(store, home)
    path = _adjustment_path(home, version)
    adjustment = fit_known(periods, pd.Timestamp.now(tz="UTC"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(adjustment.to_json()))
    return adjustment


def backtest(
    store: GraphStore,
    home: Path,
    every_days: int | None = None,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = SEED,
    adjust: bool = True,
    recent_days: int | None = RECENT_DAYS,
    periods: tuple[str, pd.Timestamp, list[Period]] | None = None,
    by_track: bool = False,
) -> Backtest:
    """Forecast each period of the serving model's validation and held-out periods as of its start, beside what
    was won.

    With `adjust` each period's forecast is recalibrated by amount band and mixes over a common shock
    (`owners.adjust`), both fitted on the deals of earlier periods that had closed by the period's start:
    nothing later is used.

    Args:
        every_days: days between period starts (default: the model's own cutoff spacing).
        recent_days: carry the shock over from deals closed this many days before each period (`fit_known`).
        periods: `past_periods` already scored (the bench compares several forecasts on the same ones).
        by_track: carry the shock over only as far as that predicted the earlier periods (`fit_known`).

    Raises:
        InvalidInput: no model serves yet.
    """
    version, t2, scored = periods or past_periods(store, home, every_days)
    rows = []
    for i, pr in enumerate(scored):
        adjustment = fit_known(scored[:i], pr.cutoff, recent_days, by_track) if adjust else Adjustment()
        outcomes, mean_p = adjusted_draws(adjustment, pr.p, pr.amounts, seed, draws)
        ivl = interval_of(outcomes, mean_p, pr.amounts, level)
        rows.append(
            BacktestRow(
                pr.cutoff.date().isoformat(),
                len(pr.deal_ids),
                float(pr.amounts.sum()),
                ivl.expected,
                ivl.low,
                ivl.high,
                float(pr.amounts @ pr.won),
                held_out=bool(pr.cutoff >= t2),
                shock_sd=adjustment.shock_sd,
                shock_mean=adjustment.shock_mean,
                unresolved=pr.unresolved,
                unresolved_amount=pr.unresolved_amount,
            )
        )
    mape, coverage = accuracy(rows)
    return Backtest(version, rows, level, mape, coverage, adjusted=adjust, recent_days=recent_days if adjust else None)
