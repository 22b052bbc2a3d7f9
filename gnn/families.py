"""Which signal families a model read, and what the model is worth without the history and activity ones.

The stage path, close-date pushes and activity (`gnn.timeline`) come from optional export files
(`OpportunityHistory.csv`, `Task.csv`, `Event.csv`; `stage_history.csv`, `activities.csv`). The report says
which were absent, and, when they were present, scores the same test examples with a model trained at the
chosen configuration without them: what they add, beside the flat baseline and the oracle.
"""

from __future__ import annotations

import numpy as np

from gnn import timeline
from gnn.dataset import TemporalSplit, build_examples
from gnn.features import FeatureSpec
from gnn.fit import FitConfig, calibrate, concat, fit_platt, logits_of, tune
from graph.snapshot import Snapshot

FAMILIES = {
    timeline.HISTORY: "stage history (stage, days in stage, close-date pushes, amount changes)",
    timeline.ACTIVITY: "activities (e-mails, calls, meetings: recency, replies, contacts engaged)",
}
WITHOUT = "without_history_activity"


def family_report(spec: FeatureSpec) -> tuple[dict[str, bool], list[str]]:
    """Per family, whether the model read it; a note for each one the data lacked."""
    present = {family: family in spec.timeline for family in FAMILIES}
    notes = [f"absent: {what}: the export had none, so the model scores without them"
             for family, what in FAMILIES.items() if not present[family]]
    return present, notes


def without_families(full: Snapshot, split: TemporalSplit, config: FitConfig, wide: bool) -> np.ndarray:
    """Calibrated test probabilities of a model trained like the served one, but blind to both families."""
    spec = FeatureSpec.fit(full.schema, full.as_of(split.t1.to_pydatetime()), families=())
    examples = build_examples(full, spec, split)
    model, _, _, _ = tune(examples, (config,), spec if wide else None)
    labels = concat(examples["val"], lambda e: e.labels.numpy())
    platt = fit_platt(logits_of(model, examples["val"]), labels)
    return calibrate(logits_of(model, examples["test"]), platt)
