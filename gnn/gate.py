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


# --- Promotion: may a newly trained model replace the serving one? -------------------------------------------------
# One rule for `dealgraph train` (`gnn.train`) and `dealgraph retrain` (`gnn.owners.retrain`), so the two never
# disagree about the same candidate and say why in the same words.

DEFAULT_SHARE = 0.95  # of the serving model's AUROC and 1 - ECE (Dynamics 365 publishes a retrain at >= 95%)


def finite(x: float | None) -> float | None:
    """A metric as the promotion rule reads it: None where it could not be measured (NaN)."""
    return None if x is None or math.isnan(x) else float(x)


@dataclass(frozen=True)
class ModelFigures:
    """One model as the promotion rule weighs it: its serving-gate state and its figures on the examples both
    models are judged on (the candidate's test period, each model scoring it with its own features)."""

    version: str
    state: str  # SKILL / NO_SKILL (`judge`)
    auroc: float | None
    ece: float | None
    n: int
    brier: float | None = None  # reported beside, not weighed


@dataclass(frozen=True)
class Promotion:
    """Whether the candidate may serve, and why, in words with the figures."""

    serve: bool
    reason: str

    def line(self) -> str:
        """How both commands print the decision."""
        return ("PROMOTED: " if self.serve else "KEPT: ") + self.reason


def may_serve(candidate: ModelFigures, serving: ModelFigures | None, share: float = DEFAULT_SHARE) -> Promotion:
    """The promotion rule.

    - No model serves: the candidate serves (in the no-skill state if it failed the gate).
    - A candidate that failed the serving gate never replaces one that passed; where neither passed, the newer
      serves (both serve the base win rate, the newer one's is fresher).
    - A candidate that passed replaces one that did not.
    - Both passed: the candidate must reach `share` of the serving model's AUROC and of its calibration read as
      1 - ECE (higher is better, so a share applies to it as to AUROC), on the same examples. Figures that cannot
      be compared (one outcome only) keep the serving model: promote by hand if you must.
    """
    if serving is None:
        return Promotion(True, "first model: it serves" + (
            "" if candidate.state == SKILL else " in the no-skill state (the base win rate)"))
    old = serving.version
    if candidate.state != SKILL:
        if serving.state == SKILL:
            return Promotion(False, f"{old} keeps serving: the candidate failed the serving gate "
                                    "(its scores would be the base win rate)")
        return Promotion(True, f"served in the no-skill state: {old} has no skill either (the newer base rate)")
    if serving.state != SKILL:
        return Promotion(True, f"the candidate passed the serving gate, {old} did not")
    c_auroc, s_auroc, c_ece, s_ece = candidate.auroc, serving.auroc, candidate.ece, serving.ece
    if c_auroc is None or s_auroc is None or c_ece is None or s_ece is None:
        return Promotion(False, f"{old} keeps serving: the models cannot be compared on these {candidate.n} "
                                "examples (one outcome only); promote by hand if you must")
    need_auroc, need_cal = share * s_auroc, share * (1 - s_ece)
    figures = (f"AUROC {c_auroc:.4f} vs {share:.0%} x {s_auroc:.4f} = {need_auroc:.4f}; calibration 1-ECE "
               f"{1 - c_ece:.4f} vs {share:.0%} x {1 - s_ece:.4f} = {need_cal:.4f}, on {candidate.n} examples")
    short = [name for name, ok in (("AUROC", c_auroc >= need_auroc), ("calibration", 1 - c_ece >= need_cal)) if not ok]
    if short:
        return Promotion(False, f"{old} keeps serving: the candidate's {' and '.join(short)} fell short ({figures})")
    return Promotion(True, f"the candidate reached {share:.0%} of {old}'s quality ({figures})")
