"""`Snapshot.timeline()`: the graph at many cutoffs cut from positions computed once, frame for frame the same as
`Snapshot.as_of` (which training used per cutoff)."""

from __future__ import annotations

import pandas as pd

from gnn.dataset import temporal_split


def test_every_cutoff_of_the_timeline_equals_as_of(trained) -> None:
    full = trained.store.snapshot()
    timeline = full.timeline()
    split = temporal_split(full)
    starts = full.nodes["Deal"]["created_at"]
    times = [*split.cutoffs, starts.min(), starts.min() - pd.Timedelta(days=1), split.end + pd.Timedelta(days=1)]
    for t in times:
        expected, got = full.as_of(t.to_pydatetime()), timeline.as_of(t.to_pydatetime())
        assert got.as_of_time == expected.as_of_time
        for label in expected.nodes:
            pd.testing.assert_frame_equal(got.nodes[label], expected.nodes[label])
        for name in expected.edges:
            pd.testing.assert_frame_equal(got.edges[name], expected.edges[name])
    # The cuts are not all the same graph: the test would pass vacuously otherwise.
    assert len({len(timeline.as_of(t.to_pydatetime()).edges["INVOLVES"]) for t in times}) > 2
