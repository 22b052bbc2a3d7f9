"""Evaluation: ranking (AUROC, AUPRC), probability quality (Brier, ECE), reliability plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS = 10


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed win rate - mean probability| over equal-width probability bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / max(len(y), 1))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC, Brier and ECE of probabilities `p` for labels `y` (AUROC/AUPRC NaN with one class)."""
    one_class = len(np.unique(y)) < 2
    return {
        "auroc": float("nan") if one_class else round(float(roc_auc_score(y, p)), 4),
        "auprc": float("nan") if one_class else round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "ece": round(expected_calibration_error(y, p), 4),
        "n": int(len(y)),
    }


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, bins: int = ECE_BINS) -> Path:
    """Save a reliability diagram (observed win rate against predicted probability) as PNG."""
    # A bare Figure draws to a file without pyplot's global backend, so it works on servers and leaves
    # a notebook's own plotting alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, (y, p) in curves.items():
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        xs, ys = [], []
        for b in range(bins):
            mask = which == b
            if mask.sum() >= 5:  # fewer points say nothing about a bin
                xs.append(p[mask].mean())
                ys.append(y[mask].mean())
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {expected_calibration_error(y, p):.3f})")
    ax.set(xlabel="predicted win probability", ylabel="observed win rate", xlim=(0, 1), ylim=(0, 1),
           title="Reliability on the test period")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
