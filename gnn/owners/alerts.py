"""Alerts to the owners: recorded as audit events, delivered to a webhook as signed JSON, retried, audited.

An alert is raised when a monitoring threshold is crossed (`owners.monitor`)
or when a high-value open deal's probability drops sharply between its last
two scorings. Each is appended to the audit log first (`action="alert"`), so
an alert exists even when its delivery fails; then it is POSTed to the
webhook with `X-Dealgraph-Signature: sha256=<hex HMAC-SHA256 of the body>`,
retried on network errors, 429 and 5xx with exponential backoff (at most
`attempts` tries), and every attempt is audited (`action="alert_delivery"`).
A 4xx other than 429 is the receiver refusing the alert: not retried.
The text of an alert about a deal is composed by the caller (`api.owners_alerts`),
which checks it against what the deal's owner may see.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gnn.owners.audit import Actor, AuditEvent, read_events, record_events
from gnn.owners.forecast import open_pipeline
from graph.store import GraphStore
from ontology.names import Label

SIGNATURE_HEADER = "X-Dealgraph-Signature"
SYSTEM = Actor(subject="dealgraph:alerts", role="system")
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class ScoreDrop:
    deal_id: str
    deal_name: str | None
    amount: float
    owner_id: str | None
    previous: float
    probability: float
    model_version: str
    scored_at: str

    @property
    def key(self) -> str:
        """One alert per drop: the deal and the scoring that dropped it."""
        return f"score_drop:{self.deal_id}@{self.scored_at}"


def score_drops(store: GraphStore, min_amount: float, min_drop: float) -> list[ScoreDrop]:
    """Open deals worth at least `min_amount` whose latest score is `min_drop` or more below the one before."""
    frame = open_pipeline(store)
    frame = frame[(frame["amount"] >= min_amount) & frame["p"].notna()]
    scores = store.latest_scores(frame["id"].tolist())
    out = []
    for row in frame.itertuples():
        s = scores[row.id]
        if s.previous_probability is not None and s.previous_probability - s.probability >= min_drop:
            node = store.get_node(Label.DEAL, row.id) or {}
            out.append(ScoreDrop(row.id, node.get("name"), float(row.amount), row.rep_id, float(s.previous_probability),
                                 float(s.probability), s.model_version, s.scored_at.isoformat()))
    return out


def already_alerted(store: GraphStore) -> set[str]:
    """Keys of the alerts recorded so far (an alert is raised once per key)."""
    return {str(e.detail.get("key")) for e in read_events(store, action="alert")}


def record_alerts(store: GraphStore, alerts: list[AuditEvent]) -> list[AuditEvent]:
    """Append the alerts not raised before (by `detail["key"]`); returns those appended."""
    seen = already_alerted(store)
    fresh = [a for a in alerts if str(a.detail.get("key")) not in seen]
    return record_events(store, fresh) if fresh else []


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(alert: AuditEvent) -> bytes:
    """The JSON the webhook receives: the alert's audit event, without the actor's internals."""
    data: dict[str, Any] = {"seq": alert.seq, "at": alert.at.isoformat() if alert.at else None, "kind": "alert",
                            "alert": alert.detail.get("alert"), "text": alert.text, "deal_id": alert.deal_id,
                            "model_version": alert.model_version, "probability": alert.probability,
                            "detail": {k: v for k, v in alert.detail.items() if k != "key"}}
    return json.dumps(data, sort_keys=True, default=str).encode()


def deliver(store: GraphStore, alert: AuditEvent, url: str, secret: str, attempts: int = 4, backoff_s: float = 1.0,
            timeout_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> bool:
    """POST one recorded alert to the webhook until it is accepted or `attempts` are spent; audits each try."""
    body = payload(alert)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret),
               "X-Dealgraph-Delivery": str(alert.seq)}
    for attempt in range(1, attempts + 1):
        retry = True
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
            ok, outcome = response.is_success, f"HTTP {response.status_code}"
            retry = response.status_code == 429 or response.status_code >= 500
        except httpx.HTTPError as e:
            ok, outcome = False, f"{type(e).__name__}: {e}"
        last = ok or not retry or attempt == attempts
        record_events(store, [AuditEvent(
            action="alert_delivery", actor=SYSTEM, deal_id=alert.deal_id,
            text=f"attempt {attempt} of {attempts}: {outcome}" + ("" if ok or not last else " (giving up)"),
            detail={"alert_seq": alert.seq, "attempt": attempt, "ok": ok, "outcome": outcome},
        )])
        if last:
            return ok
        sleep(min(backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
    return False


def alert_event(alert: str, key: str, text: str, deal_id: str | None = None, detail: Mapping[str, Any] | None = None,
                model_version: str | None = None, probability: float | None = None) -> AuditEvent:
    """An alert as an audit event (not yet recorded)."""
    return AuditEvent(action="alert", actor=SYSTEM, text=text, deal_id=deal_id, model_version=model_version,
                      probability=probability, detail={"alert": alert, "key": key, **(detail or {})})
