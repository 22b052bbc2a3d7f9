"""Raise and deliver the owners' alerts with the configured thresholds and webhook (`owners.alerts`).

The text of a score-drop alert names the deal and, as its reason, the
strongest path that lowers it, taken from the explanation as the deal's
owner may see it (`Visibility.redact` through `api.owners_desk`): an alert
routed to the owner never carries a deal, account or contact they could not
open in the widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from api.auth import Principal, Role
from api.owners_desk import desk_for, run
from api.settings import Settings
from gnn.owners.alerts import ScoreDrop, alert_event, deliver, record_alerts, score_drops
from gnn.owners.audit import AuditEvent
from gnn.owners.monitor import Health, Thresholds, model_health
from graph.store import GraphStore


def thresholds_from(settings: Settings) -> Thresholds:
    return Thresholds(min_auroc=settings.monitor_min_auroc, max_ece=settings.monitor_max_ece,
                      max_psi=settings.monitor_max_psi, max_stale_hours=settings.monitor_max_stale_hours,
                      max_quarantine_rate=settings.monitor_max_quarantine_rate, min_closed=settings.monitor_min_closed)


@dataclass
class AlertRun:
    health: Health | None
    raised: list[AuditEvent] = field(default_factory=list)
    delivered: dict[int, bool] = field(default_factory=dict)  # alert seq -> accepted by the webhook


async def drop_text(store: GraphStore, drop: ScoreDrop) -> str:
    """What the alert says, vetted against what the deal's owner may see."""
    text = (f"{drop.deal_name or drop.deal_id} ({drop.amount:,.0f}) dropped from {drop.previous:.0%} to "
            f"{drop.probability:.0%} (model {drop.model_version})")
    if drop.owner_id is None:
        return text
    owner = Principal(Role.REP, subject="dealgraph:alerts", method="system", rep_id=drop.owner_id)
    explanation = await desk_for(store, owner).loaders.explanations.load(drop.deal_id)
    lowers = [p for p in explanation.paths if p.direction == "lowers"] if explanation else []
    return f"{text}; main reason now: {lowers[0].text}" if lowers else text


def check_alerts(store: GraphStore, home: Path, settings: Settings) -> AlertRun:
    """Monitor, raise the alerts not raised before, and deliver them when a webhook is configured."""
    from gnn.registry import ModelRegistry

    health = None
    events: list[AuditEvent] = []
    if ModelRegistry(home).current_version() is not None:
        health = model_health(store, home, thresholds_from(settings))
        events += [alert_event("threshold", f"threshold:{health.model_version}:{b['name']}", b["text"],
                               model_version=health.model_version, detail={"breach": b["name"]})
                   for b in health.breaches]
    for drop in score_drops(store, settings.alert_drop_min_amount, settings.alert_drop_points):
        events.append(alert_event(
            "score_drop", drop.key, run(drop_text(store, drop)), deal_id=drop.deal_id, model_version=drop.model_version,
            probability=drop.probability,
            detail={"previous": drop.previous, "amount": drop.amount, "owner_rep_id": drop.owner_id}))
    result = AlertRun(health, record_alerts(store, events))
    if settings.alert_webhook_url and settings.alert_webhook_secret:
        secret = settings.alert_webhook_secret.get_secret_value()
        for alert in result.raised:
            result.delivered[alert.seq] = deliver(store, alert, settings.alert_webhook_url, secret,
                                                  attempts=settings.alert_webhook_attempts,
                                                  backoff_s=settings.alert_webhook_backoff_s)
    return result
