"""Model health for the API: computed at most every `ttl_s` per process, served as GraphQL and Prometheus gauges.

Health reads a snapshot of the store (and, once per model version, its
held-out scores), so it is not computed per request: the app keeps the last
one for `ttl_s` seconds (`HealthCache`), in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from gnn.owners.monitor import Health, Thresholds, model_health
from graph.store import DealgraphError, GraphStore

log = logging.getLogger(__name__)


class HealthCache:
    """The serving model's `Health`, recomputed when older than `ttl_s` (None before any model is trained)."""

    def __init__(self, store: GraphStore, home: Path, thresholds: Thresholds, ttl_s: float = 300.0) -> None:
        self._store, self._home, self._thresholds, self._ttl = store, home, thresholds, ttl_s
        self.home = home  # the forecast reads the serving model's adjustment from it
        self._lock = threading.Lock()
        self._value: tuple[float, str | None, Health | None] | None = None
        self.registry = CollectorRegistry()
        self._gauges = {
            name: Gauge(f"dealgraph_model_{name}", text, labels, registry=self.registry)
            for name, text, labels in (
                ("realised_auroc", "AUROC on deals closed since the serving model's data ended", []),
                ("realised_brier", "Brier score on deals closed since the serving model's data ended", []),
                ("realised_ece", "ECE on deals closed since the serving model's data ended", []),
                ("realised_closed_deals", "Deals closed since the serving model's data ended, scored before", []),
                ("input_psi", "Population stability index of a feature family: new deals vs training", ["family"]),
                ("score_psi", "PSI of open deals' scores vs the model's held-out scores", []),
                ("hours_since_load", "Hours since the newest finished load", []),
                ("quarantine_rate", "Quarantined share of rows read by recent loads", []),
                ("threshold_breaches", "Thresholds crossed now", []),
            )
        }

    def get(self) -> Health | None:
        from gnn.registry import ModelRegistry

        version = ModelRegistry(self._home).current_version()
        with self._lock:
            kept = self._value
            if kept is not None and kept[1] == version and time.monotonic() - kept[0] < self._ttl:
                return kept[2]
            health = model_health(self._store, self._home, self._thresholds) if version else None
            self._value = (time.monotonic(), version, health)
            return health

    async def aget(self) -> Health | None:
        return await asyncio.to_thread(self.get)

    def render(self) -> bytes:
        """The gauges in Prometheus text format (empty before any model is trained)."""
        h = self.get()
        if h is None:
            return b""
        g, r = self._gauges, h.realised
        for name in ("auroc", "brier", "ece"):
            if r.get(name) is not None:
                g[f"realised_{name}"].set(r[name])
        g["realised_closed_deals"].set(r.get("n", 0))
        for family, value in h.drift.items():
            if value is not None:
                g["input_psi"].labels(family).set(value)
        for name, value in (("score_psi", h.score_psi), ("hours_since_load", h.hours_since_load),
                            ("quarantine_rate", h.quarantine_rate)):
            if value is not None:
                g[name].set(value)
        g["threshold_breaches"].set(len(h.breaches))
        return generate_latest(self.registry)


async def health_gauges(health: HealthCache) -> bytes:
    """The gauges for `/metrics`; a model whose health cannot be computed is logged, and its gauges left out
    (a scrape must still get the request metrics)."""
    try:
        return await asyncio.to_thread(health.render)
    except (DealgraphError, OSError, ValueError, KeyError) as e:
        log.warning("model health gauges left out: %s: %s", type(e).__name__, e)
        return b""
