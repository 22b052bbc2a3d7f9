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
(their result is not known), as they are from the model's test metrics.

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

from gnn.owners.forecast import DRAWS, LEVEL, SEED, interval_of, won_draws
from gnn.registry import ModelRegistry, RegistryError
from graph.store import GraphStore, InvalidInput


@dataclass(frozen=True)
class BacktestRow:
    period_start: str
    deals: int
    pipeline: float
    expected: float
    low: float
    high: float
    actual: float

    @property
    def covered(self) -> bool:
        return self.low <= self.actual <= self.high

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "covered": self.covered}


@dataclass(frozen=True)
class Backtest:
    model_version: str
    rows: list[BacktestRow]
    level: float
    mape: float | None  # None: nothing was won in any period
    coverage: float | None  # None: no periods

    def to_json(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "level": self.level, "mape": self.mape,
                "coverage": self.coverage, "periods": [r.to_json() for r in self.rows]}


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


def backtest(store: GraphStore, home: Path, every_days: int | None = None, level: float = LEVEL,
             draws: int = DRAWS, seed: int = SEED) -> Backtest:
    """Forecast each held-out period of the serving model as of its start, beside what was won.

    Args:
        every_days: days between period starts (default: the model's own cutoff spacing).

    Raises:
        InvalidInput: no model serves yet.
    """
    # torch and the model code load here, not on import: the API imports this module and must start light.
    from gnn.dataset import build_examples, temporal_split
    from gnn.score import load_model, predict_examples

    registry = ModelRegistry(home)
    version = registry.current_version()
    if version is None:
        raise InvalidInput(f"no model serves yet under {home}: run `dealgraph train` first")
    loaded = load_model(home, version)
    split_of_model = training_split(registry, version)
    t2 = pd.Timestamp(split_of_model["t2"])
    full = store.snapshot()
    split = temporal_split(full, every_days or int(split_of_model.get("cutoff_days", 30)))
    amounts = pd.to_numeric(full.nodes["Deal"].set_index("id")["amount"], errors="coerce").fillna(0.0).clip(lower=0.0)
    rows = []
    for ex in build_examples(full, loaded.spec, split, only="test")["test"]:
        if ex.cutoff < t2:  # the model's own training or validation period
            continue
        p = predict_examples(loaded, [ex])
        a = amounts.reindex(ex.deal_ids).fillna(0.0).to_numpy(float)
        won = ex.labels.numpy().astype(bool)
        ivl = interval_of(won_draws(p, seed, draws), p, a, level)
        rows.append(BacktestRow(ex.cutoff.date().isoformat(), len(ex.deal_ids), float(a.sum()), ivl.expected,
                                ivl.low, ivl.high, float(a[won].sum())))
    mape, coverage = accuracy(rows)
    return Backtest(version, rows, level, mape, coverage)
