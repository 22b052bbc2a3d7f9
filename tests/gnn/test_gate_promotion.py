"""The one promotion rule `dealgraph train` and `dealgraph retrain` share (`gnn.gate.may_serve`)."""

from __future__ import annotations

from gnn.gate import NO_SKILL, SKILL, ModelFigures, Promotion, may_serve


def figures(state: str = SKILL, auroc: float | None = 0.8, ece: float | None = 0.05,
            version: str = "v") -> ModelFigures:
    return ModelFigures(version, state, auroc, ece, n=400)


def test_the_first_model_serves_even_without_skill_and_says_so() -> None:
    assert may_serve(figures(), None) == Promotion(True, "first model: it serves")
    verdict = may_serve(figures(NO_SKILL), None)
    assert verdict.serve and "no-skill state" in verdict.reason


def test_the_serving_gate_comes_first() -> None:
    kept = may_serve(figures(NO_SKILL, auroc=0.99, ece=0.0), figures(version="old"))
    assert not kept.serve and "old keeps serving" in kept.reason and "failed the serving gate" in kept.reason
    assert may_serve(figures(auroc=0.6), figures(NO_SKILL, version="old")).serve  # skill beats no skill
    newer = may_serve(figures(NO_SKILL), figures(NO_SKILL, version="old"))
    assert newer.serve and "no skill either" in newer.reason


def test_both_skilled_the_candidate_needs_the_share_of_auroc_and_of_calibration() -> None:
    serving = figures(auroc=0.80, ece=0.04, version="old")
    just = may_serve(figures(auroc=0.95 * 0.80, ece=1 - 0.95 * 0.96), serving, share=0.95)
    assert just.serve and "0.7600" in just.reason and "0.9120" in just.reason
    low_auroc = may_serve(figures(auroc=0.75, ece=0.04), serving, share=0.95)
    assert not low_auroc.serve and "AUROC fell short" in low_auroc.reason
    low_cal = may_serve(figures(auroc=0.80, ece=0.2), serving, share=0.95)
    assert not low_cal.serve and "calibration fell short" in low_cal.reason
    both = may_serve(figures(auroc=0.5, ece=0.5), serving, share=0.95)
    assert "AUROC and calibration fell short" in both.reason
    assert may_serve(figures(auroc=0.75, ece=0.04), serving, share=0.9).serve  # the share is the caller's


def test_figures_that_cannot_be_compared_keep_the_serving_model() -> None:
    kept = may_serve(figures(auroc=None), figures(version="old"))
    assert not kept.serve and "cannot be compared" in kept.reason


def test_both_commands_print_the_decision_the_same_way() -> None:
    assert Promotion(True, "why").line() == "PROMOTED: why"
    assert Promotion(False, "why").line() == "KEPT: why"
