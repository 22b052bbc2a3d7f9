"""The serving gate: a model's probabilities are served only once it has earned it on the test period.

From the first model on, the graph model must beat the class prior (by a
margin, and beyond the noise of a small test period) and the flat baseline
(gradient-boosted trees on the same features flattened) on the test period, do
no worse than the prior on Brier, and be calibrated within a stated ECE. A
model that fails is registered, but its scores carry the "no skill" state: the
probability served is the base win rate, with that caveat, never a band.

The ECE limit grows with the test period's noise: even the sample's oracle (the
true probabilities) shows ECE ~0.11 on 210 test examples with ten bins, so a
fixed 0.05 would refuse every small export for noise, not for miscalibration.

Bands, when served, are relative to the base rate (odds ratio), so on a
pipeline that wins 68% of its deals a 68% deal is "medium", not "high".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

AUROC_OVER_PRIOR = 0.05  # the prior ranks nothing (AUROC 0.5): the model must rank clearly better
AUROC_OVER_FLAT = 0.01  # the graph must add something a flat table of the same features does not
ECE_LIMIT = 0.05  # plus 1 / sqrt(n) for the test period's noise
Z_ONE_SIDED = 1.645  # the AUROC's lower bound must clear chance at 95% (`auroc_standard_error`)
SKILL, NO_SKILL = "skill", "no_skill"
NO_SKILL_BAND = "no_skill"
HIGH_ODDS, LOW_ODDS = 2.0, 0.5  # odds ratio to the base rate that makes a band "high" / "low"


def ece_limit(n: int) -> float:
    return round(ECE_LIMIT + 1.0 / math.sqrt(max(n, 1)), 4)


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    text: str


@dataclass(frozen=True)
class Gate:
    """The verdict on one trained model: its state and every check, in words."""

    state: str
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.state == SKILL

    def summary(self) -> str:
        failed = [c.text for c in self.checks if not c.passed]
        if not failed:
            return "serving gate passed: " + "; ".join(c.text for c in self.checks)
        return ("serving gate FAILED, scores will say 'no skill' and show the base win rate: " + "; ".join(failed))

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "checks": [asdict(c) for c in self.checks]}


def auroc_standard_error(auroc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): how far an AUROC on this few examples may be from the truth by chance."""
    a, n1, n0 = auroc, max(positives, 1), max(negatives, 1)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a), 0.0) / (n1 * n0))


def judge(test: dict[str, dict[str, float]], kind: str, positives: int | None = None) -> Gate:
    """The gate on the test period's metrics (`gnn.metrics.metrics` per model name) for the model `kind`.

    With `positives` (won test examples) the AUROC must also beat chance beyond its noise: its one-sided 95%
    lower bound above 0.5, so a small test period cannot serve a lucky draw."""
    if kind not in test:
        return Gate(NO_SKILL, [GateCheck("model", False, f"no {kind} model was fitted (too little history)")])
    m, prior = test[kind], test["prior"]
    auroc = m["auroc"]
    checks: list[GateCheck] = []
    if auroc is None or math.isnan(auroc):
        return Gate(NO_SKILL, [GateCheck("auroc", False, "the test period has one outcome only: skill unmeasurable")])
    need = 0.5 + AUROC_OVER_PRIOR
    checks.append(GateCheck("auroc_vs_prior", auroc >= need,
                            f"test AUROC {auroc:.4f} vs prior 0.5 + {AUROC_OVER_PRIOR} = {need:.4f}"))
    if positives is not None:
        low = auroc - Z_ONE_SIDED * auroc_standard_error(auroc, positives, int(m["n"]) - positives)
        checks.append(GateCheck("auroc_beyond_noise", low > 0.5,
                                f"AUROC lower bound {low:.4f} (95%, {positives} won of {int(m['n'])}) vs chance 0.5"))
    flat = test.get("flat_gbt", {}).get("auroc")
    if flat is not None and not math.isnan(flat):
        need = flat + AUROC_OVER_FLAT
        checks.append(GateCheck("auroc_vs_flat", auroc >= need,
                                f"test AUROC {auroc:.4f} vs flat baseline {flat:.4f} + {AUROC_OVER_FLAT} = {need:.4f}"))
    checks.append(GateCheck("brier_vs_prior", m["brier"] <= prior["brier"],
                            f"Brier {m['brier']:.4f} vs prior {prior['brier']:.4f}"))
    limit = ece_limit(int(m["n"]))
    checks.append(GateCheck("ece", m["ece"] <= limit,
                            f"ECE {m['ece']:.4f} vs limit {ECE_LIMIT} + 1/sqrt({int(m['n'])}) = {limit:.4f}"))
    return Gate(SKILL if all(c.passed for c in checks) else NO_SKILL, checks)


def auroc_band(auroc: float | None) -> str:
    """How well a model ranks, in a word, for people who do not read AUROC."""
    if auroc is None or math.isnan(auroc):
        return "unknown"
    return "strong" if auroc >= 0.8 else "good" if auroc >= 0.7 else "fair" if auroc >= 0.6 else "weak"


def band(probability: float, base_rate: float) -> str:
    """high / medium / low by the odds ratio to the base rate: relative to what a deal here usually does."""
    base = min(max(base_rate, 1e-6), 1 - 1e-6)
    p = min(max(probability, 1e-6), 1 - 1e-6)
    ratio = (p / (1 - p)) / (base / (1 - base))
    return "high" if ratio >= HIGH_ODDS else "low" if ratio <= LOW_ODDS else "medium"


def quality(test: dict[str, dict[str, float]], kind: str) -> dict[str, Any]:
    """What a score shows about its model: test AUROC (and its band), ECE, n."""
    m = test.get(kind) or test.get("prior") or {}
    auroc = m.get("auroc")
    return {"auroc": auroc, "auroc_band": auroc_band(auroc), "ece": m.get("ece"), "n": m.get("n")}
