"""Stage entry (`graph.dated_values`): the widget's per-deal path and the model's per-snapshot path, each against
what it replaced (the widget's hand-written loop, the features' pandas groupby), in CPU ms, median of 7 runs.

Run: `DEALGRAPH_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stage_entry.py`
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from graph.dated_values import stage_entries, stage_entry_positions

#: One deal's stage history as the widget reads it: (changed at, stage or None for an amount-only change).
ONE_DEAL = [(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=i), s)
            for i, s in enumerate(["A", "A", "B", None, "B", "C"])]
CHANGES, DEALS = 200_000, 40_000


def cpu_ms(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(7):
        start = time.process_time()
        for _ in range(repeat):
            run()
        times.append((time.process_time() - start) / repeat * 1000)
    return statistics.median(times)


def widget_loop() -> datetime:
    """The widget's loop before `stage_entry_positions`."""
    staged = sorted(((w, str(s)) for w, s in ONE_DEAL if s is not None), key=lambda ws: ws[0])
    entered, current = staged[-1]
    for when, stage in reversed(staged):
        if stage != current:
            break
        entered = when
    return entered


def widget_now() -> datetime:
    entries = stage_entry_positions(["d"] * len(ONE_DEAL), [s for _, s in ONE_DEAL])
    return ONE_DEAL[entries[-1]][0]


def main() -> None:
    assert widget_loop() == widget_now()
    print(f"widget, one deal of {len(ONE_DEAL)} changes: before {cpu_ms(widget_loop, 2000):.4f} ms, "
          f"now {cpu_ms(widget_now, 2000):.4f} ms")
    rng = np.random.default_rng(0)
    changes = pd.DataFrame({
        "node": np.sort(rng.integers(0, DEALS, CHANGES)).astype(str),
        "changed_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(CHANGES), "s"),
        "stage": rng.choice(np.array(["A", "B", "C", "D", None], dtype=object), CHANGES),
    })

    def features_groupby() -> pd.DataFrame:
        staged = changes.dropna(subset=["stage"])
        return staged[staged["stage"].ne(staged.groupby("node")["stage"].shift())]

    assert features_groupby().equals(stage_entries(changes))
    print(f"features, {CHANGES} changes of {DEALS} deals: before {cpu_ms(features_groupby, 3):.1f} ms, "
          f"now {cpu_ms(lambda: stage_entries(changes), 3):.1f} ms")


if __name__ == "__main__":
    main()
