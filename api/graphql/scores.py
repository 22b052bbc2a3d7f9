"""Score, explanation and model-card types: what the model says about a deal.

They are plain values built from a `ScoreRecord` or a `ModelCard`; no
resolver here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry

from api.graphql.errors import UserInputError
from api.graphql.owners import ScoreReview
from gnn.registry import ModelCard
from graph.explanation import Explanation as StoredExplanation
from graph.store import ScoreRecord
from graph.timefmt import to_utc


@strawberry.type(description="How good the model behind a score is, on its held-out test period.")
class ModelQuality:
    auroc: float | None = strawberry.field(description="Test AUROC: 0.5 ranks nothing, 1.0 ranks perfectly.")
    auroc_band: str = strawberry.field(description="weak (< 0.6), fair, good (>= 0.7), strong (>= 0.8) or unknown.")
    ece: float | None = strawberry.field(description="Expected calibration error on the test period.")
    n: int | None = strawberry.field(description="Test examples the figures come from.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ModelQuality | None:
        if not data:
            return None
        n = data.get("n")
        return cls(auroc=_optional_float(data.get("auroc")), auroc_band=str(data.get("auroc_band", "unknown")),
                   ece=_optional_float(data.get("ece")), n=int(n) if n is not None else None)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_of(value: Any) -> datetime | None:
    """A score's `as_of` as stored (ISO text); None for scores from before it was kept or where it is unreadable."""
    try:
        return to_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return None


@strawberry.type(description="A deal's latest win probability and the model that produced it.")
class Score:
    probability: float
    band: str = strawberry.field(description="high, medium or low relative to the base rate, or no_skill.")
    model_version: str
    scored_at: datetime
    as_of: datetime | None = strawberry.field(default=None, description=(
        "The time the score and its reasons are as of: the newest fact in the data it was computed from. Days "
        "in a reason (\"no activity for 16 days\") count to it, not to today."))
    previous_probability: float | None = strawberry.field(description="The score before this one, for trends.")
    model_kind: str | None = strawberry.field(description="e.g. graphsage, or the baseline's kind.")
    state: str | None = strawberry.field(description=(
        "skill: the model passed the serving gate; no_skill: it did not (or had too little history), and the "
        "probability is the base win rate, not a judgement of this deal. Null for scores from before the gate."))
    base_rate: float | None = strawberry.field(description="The base win rate the band is relative to.")
    quality: ModelQuality | None = strawberry.field(description="The model's test AUROC and calibration.")
    deal_id: strawberry.Private[str]

    @strawberry.field(description=(
        "A newer score held for review (high risk: a large deal, a sharp drop, a new model's first score): this "
        "score stays the one served until RevOps accept it; null when nothing is held."))
    async def review(self, info: strawberry.Info) -> ScoreReview | None:
        held = await info.context.owners.pending_review(self.deal_id)
        return ScoreReview.of(held) if held is not None else None

    @classmethod
    def from_record(cls, record: ScoreRecord) -> Score:
        meta = record.metadata or {}
        return cls(
            deal_id=record.deal_id,
            probability=record.probability,
            band=record.band,
            model_version=record.model_version,
            scored_at=to_utc(record.scored_at),
            as_of=_as_of(meta.get("as_of")),
            previous_probability=record.previous_probability,
            model_kind=meta.get("model_kind"),
            state=meta.get("state"),
            base_rate=_optional_float(meta.get("base_rate")),
            quality=ModelQuality.from_dict(meta.get("quality")),
        )


@strawberry.type(description="One node on a relationship path; the first step is the deal itself.")
class PathStep:
    label: str = strawberry.field(description="The node's class: Deal, Account, Contact, Product or Rep.")
    id: strawberry.ID | None = strawberry.field(description="Null when the node is outside what you may see.")
    name: str | None = strawberry.field(description="Null when the node is outside what you may see.")
    relation: str | None = strawberry.field(description="The relation walked to reach this step (null on the first).")
    direction: str | None = strawberry.field(description="out or in: the direction that relation was walked.")


@strawberry.type(description="A relationship path that moved the score, with its signed weight.")
class Path:
    weight: float = strawberry.field(
        description="What the model credits to the path's evidence, in logit units, relative to `reference`.")
    direction: str = strawberry.field(description="raises or lowers (compared with `reference`).")
    text: str = strawberry.field(description="The path as one plain sentence, compared with typical where it "
                                             "states a record.")
    reference: str | None = strawberry.field(
        description="What the weight is relative to, e.g. a typical deal (null in explanations stored before).")
    steps: list[PathStep] = strawberry.field(description="The nodes from the deal to the evidence.")


@strawberry.type(description="A suggested next step, derived from a fact of the deal or one of its paths.")
class Suggestion:
    kind: str = strawberry.field(description="involve, economic_buyer, ask_rep or re_engage (keep, check or risk in "
                                             "explanations stored before).")
    text: str = strawberry.field(description="The step in plain words, with the model's expected change where "
                                             "it was computed.")
    path: int | None = strawberry.field(
        description="Index of the path (in `paths`, top first) it comes from; null when it comes from a deal fact.")
    contact_id: strawberry.ID | None = strawberry.field(
        description="The contact to involve, for `involve` and `economic_buyer`.")
    effect: float | None = strawberry.field(
        description="The model's expected change in win probability if it is done (0..1), relative to "
                    "`reference`; null where it cannot be computed (asking a colleague is no graph edit).")
    reference: str | None = strawberry.field(description="What `effect` is relative to: this deal as it stands.")


@strawberry.type(description="Why the model scored a deal as it did.")
class Explanation:
    method: str = strawberry.field(description=(
        "How edges were attributed and reasons weighed, e.g. edge-integrated-gradients+occlusion (candidates by "
        "integrated gradients, weights measured by occlusion)."))
    fidelity: float | None = strawberry.field(
        description="Fidelity+: how much the probability moves when the top paths' edges are removed (0..1).")
    fidelity_minus: float | None = strawberry.field(
        description="Fidelity-: how much it moves when only the top paths' edges are kept (lower is better).")
    random_fidelity: float | None = strawberry.field(
        description="Fidelity+ of random paths of the same lengths from the same neighbourhood: the baseline.")
    paths: list[Path] = strawberry.field(description="Strongest first (by absolute weight).")
    suggestions: list[Suggestion] = strawberry.field(
        description="Suggestions (not facts) for the rep, each naming the path it comes from.")

    @classmethod
    def of(cls, explanation: StoredExplanation, top: int) -> Explanation:
        """The explanation (already as its reader may see it) with its first `top` paths."""
        if top < 0:
            raise UserInputError(f"`top` must be 0 or more (got {top})")
        shown = explanation.top(top)
        paths = [
            Path(weight=p.weight, direction=p.direction, text=p.text,
                 reference=p.reference.text() if p.reference is not None else None,
                 steps=[PathStep(label=s.label, id=strawberry.ID(s.id) if s.id is not None else None, name=s.name,
                                 relation=s.relation, direction=s.direction) for s in p.steps])
            for p in shown.paths
        ]
        suggestions = [
            Suggestion(kind=x.kind, text=x.text, path=x.path,
                       contact_id=strawberry.ID(x.contact.id) if x.contact is not None else None,
                       effect=x.effect, reference=x.reference.text() if x.reference is not None else None)
            for x in shown.suggestions
        ]
        return cls(method=shown.method, fidelity=shown.fidelity, fidelity_minus=shown.fidelity_minus,
                   random_fidelity=shown.random_fidelity, paths=paths, suggestions=suggestions)


@strawberry.type(description="One model's held-out metrics (the served model and its baselines).")
class ModelMetric:
    model: str
    auroc: float | None
    auprc: float | None
    brier: float | None
    ece: float | None = None


@strawberry.type(description="The model that serves scores now.")
class ModelInfo:
    version: str
    kind: str
    trained_at: datetime
    schema_fingerprint: str
    snapshot_id: str
    metrics: list[ModelMetric]
    state: str = strawberry.field(default="skill", description=(
        "skill: passed the serving gate (beats the prior and the flat baseline, calibrated); no_skill: did not, "
        "and its scores are the base rate."))

    @classmethod
    def from_card(cls, card: ModelCard) -> ModelInfo:
        return cls(
            version=card.version,
            kind=card.kind,
            trained_at=to_utc(card.trained_at),
            schema_fingerprint=card.schema_fingerprint,
            snapshot_id=card.snapshot_id,
            state=card.state,
            metrics=[
                ModelMetric(model=name, auroc=m.get("auroc"), auprc=m.get("auprc"), brier=m.get("brier"),
                            ece=m.get("ece"))
                for name, m in card.metrics.items()
            ],
        )
