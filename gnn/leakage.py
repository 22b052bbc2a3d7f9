"""The leak guard: a feature that alone nearly decides the label is refused, not trained on.

Features are built from the graph as of each cutoff, so a property of the
deal's own future cannot enter by construction, except one whose history the
export does not keep: a source that overwrites a deal's stage at close would
hand the outcome to the model. The ontology marks such properties
(`dg:currentValueOnly`) and features skip them; this guard is the second line,
for a property marked wrongly or a new mapping: on the training examples, any
single deal column whose AUROC is beyond `LEAK_AUROC` is treated as a leak
until proven otherwise, and training stops naming it.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from gnn.dataset import CutoffExamples
from gnn.features import FeatureSpec
from graph.store import DealgraphError

LEAK_AUROC = 0.95


class LeakageError(DealgraphError):
    """A feature predicts the label too well to be honest."""


def suspicious_columns(spec: FeatureSpec, examples: list[CutoffExamples]) -> dict[str, float]:
    """Deal feature columns whose own AUROC on the examples is beyond the guard, with that AUROC."""
    x = np.concatenate([e.data["Deal"].x[e.index].numpy() for e in examples])
    y = np.concatenate([e.labels.numpy() for e in examples])
    if len(np.unique(y)) < 2:
        return {}
    found = {}
    for j, name in enumerate(spec.column_names("Deal")):
        if np.ptp(x[:, j]) == 0:
            continue  # constant: predicts nothing
        auroc = roc_auc_score(y, x[:, j])
        if max(auroc, 1 - auroc) > LEAK_AUROC:
            found[name] = round(float(max(auroc, 1 - auroc)), 4)
    return found


def refuse_leaks(spec: FeatureSpec, examples: list[CutoffExamples]) -> None:
    """Raise `LeakageError` naming every column that alone separates won from lost."""
    found = suspicious_columns(spec, examples)
    if found:
        listed = ", ".join(f"{k} (AUROC {v})" for k, v in sorted(found.items()))
        raise LeakageError(
            f"refusing to train: {listed} alone predicts the outcome; if the source overwrites it at close, "
            "mark the property dg:currentValueOnly in ontology/crm.ttl"
        )
