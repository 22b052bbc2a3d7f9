"""Feedback and overrides from reps and RevOps: "this reason is wrong", "this score is off".

Each is an audit event (`owners.audit`) with the score and path texts as they
stood, the free-text reason, and optionally the probability the person would
give instead. Overrides are kept only in the audit log, never in the graph:
training reads the graph (`store.snapshot()`), so they can never become labels.
Whether the actor may see the deal is the caller's to check (`api.owners_desk`).
"""

from __future__ import annotations

import math

from gnn.owners.audit import Actor, AuditEvent, read_events, record_events, score_state
from graph.store import GraphStore, InvalidInput
from ontology.names import Label

TARGETS = ("score", "reason")
MAX_TEXT = 2000


def check_feedback(target: str, text: str, override: float | None, path: int | None, n_paths: int) -> str:
    """The reason text, stripped; `InvalidInput` saying what was wrong otherwise."""
    if target not in TARGETS:
        raise InvalidInput(f"feedback is on the `score` or on a `reason` (a path), not {target!r}")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("say why in the reason: it is required (what is wrong with the score or the path)")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the reason has {len(text)} characters; at most {MAX_TEXT}")
    if override is not None and not (math.isfinite(override) and 0.0 <= override <= 1.0):
        raise InvalidInput(f"an override probability is between 0 and 1 (got {override})")
    if target == "reason":
        if path is None:
            raise InvalidInput("feedback on a reason names the path: `path` is its index in the explanation (0 = top)")
        if not 0 <= path < n_paths:
            raise InvalidInput(f"path {path} does not exist: this deal's explanation has {n_paths} path(s)")
    elif path is not None:
        raise InvalidInput("`path` is only for feedback on a reason; leave it out for feedback on the score")
    return text


def record_feedback(store: GraphStore, actor: Actor, deal_id: str, target: str, text: str,
                    override: float | None = None, path: int | None = None) -> AuditEvent:
    """Check and append one feedback event about a deal's current score.

    Raises:
        InvalidInput: no such deal, no score yet, or a bad target, text, override or path.
    """
    if store.get_node(Label.DEAL, deal_id) is None:
        raise InvalidInput(f"no deal {deal_id!r}")
    score = store.latest_scores([deal_id]).get(deal_id)
    if score is None:
        raise InvalidInput(f"deal {deal_id!r} has no score yet: there is nothing to give feedback on")
    state = score_state(score)
    text = check_feedback(target, text, override, path, len(state["paths"]))
    event = AuditEvent(action="feedback", actor=actor, text=text, deal_id=deal_id, target=target, path=path,
                       override_probability=override, **state)
    return record_events(store, [event])[0]


def override_scorecard(store: GraphStore) -> dict[str, float | int | None]:
    """Overrides whose deals have closed, scored against the outcome: was the person or the model closer?

    Each override is compared with the model's probability recorded beside it (the score when it was given);
    the latest override per deal counts. Brier of each (lower is better) and how often the person was closer.
    """
    from gnn.outcomes import deal_outcomes  # pandas work only when asked

    latest = {e.deal_id: e for e in read_events(store, action="feedback")
              if e.override_probability is not None and e.probability is not None and e.deal_id}
    results = deal_outcomes(store.snapshot())["result"]
    closed = [(e, 1.0 if results[d] == "won" else 0.0) for d, e in latest.items()
              if d in results.index and results[d] in ("won", "lost")]
    if not closed:
        return {"n": 0, "human_brier": None, "model_brier": None, "human_closer": None}
    # Both probabilities are set on every event kept in `latest`; the conditions repeat that for the type checker.
    human = [(e.override_probability - y) ** 2 for e, y in closed if e.override_probability is not None]
    model = [(e.probability - y) ** 2 for e, y in closed if e.probability is not None]
    return {"n": len(closed), "human_brier": round(sum(human) / len(closed), 4),
            "model_brier": round(sum(model) / len(closed), 4),
            "human_closer": round(sum(h < m for h, m in zip(human, model, strict=True)) / len(closed), 4)}
