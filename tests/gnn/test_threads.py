"""Thread pools sized to the cores that are free (`gnn.threads`): a container's CPU quota, the load already
running, and the DEALGRAPH_THREADS override."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gnn.threads import free_cores, size_thread_pools, thread_count, usable_cores

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000\n", AFFINITY),            # no quota: the CPUs this process may run on
    ("50000 100000\n", 1),                 # half a core: one thread
    (f"{AFFINITY * 400000} 100000\n", AFFINITY),  # a quota above the CPUs: the CPUs
    ("garbage", AFFINITY),
])
def test_usable_cores_follow_the_quota_and_the_affinity(tmp_path: Path, cpu_max: str, expected: int) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max)
    assert usable_cores(quota) == expected
    assert usable_cores(tmp_path / "absent") == AFFINITY


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (0.9, 2), (1.2, 1), (2.0, 1), (7.5, 1)])
def test_the_load_already_running_takes_cores_away(load: float, expected: int) -> None:
    """Two cores: a rescoring run beside a busy server gets one thread, never zero."""
    assert free_cores(usable=2, load=load) == expected


def test_the_override_wins_and_a_bad_one_is_refused() -> None:
    assert thread_count({"DEALGRAPH_THREADS": "3"}) == 3
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match="DEALGRAPH_THREADS"):
            thread_count({"DEALGRAPH_THREADS": bad})
    assert 1 <= thread_count({}) <= usable_cores()


def test_sizing_sets_torch_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert size_thread_pools(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
