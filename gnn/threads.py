"""How many threads the numeric libraries may use: the cores this process may run on that are not busy.

torch starts one intra-op thread per physical core and OpenMP threads spin while
they wait, so a scoring run beside the API server on two cores takes both and the
server's requests queue behind it (and with every worker's own pool, threads far
outnumber cores). So training and scoring size torch, numpy's BLAS and
scikit-learn's OpenMP pools once, at start, to the free cores:

    usable = CPUs in this process's affinity, capped by the container's CPU quota (cgroup v2 `cpu.max`)
    free   = usable - the load already running (1-minute load average), at least 1

`DEALGRAPH_THREADS` overrides it (a number), e.g. in a container whose quota the
kernel does not show. The API's default worker count uses `usable_cores` too.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

log = logging.getLogger(__name__)

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
ENV = "DEALGRAPH_THREADS"


def usable_cores(cpu_max: Path = CPU_MAX) -> int:
    """CPUs this process may run on, capped by a cgroup v2 CPU quota when one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity is the limit
    return max(1, cores)


def free_cores(usable: int | None = None, load: float | None = None) -> int:
    """Usable cores less the load already running on them, at least one."""
    usable = usable_cores() if usable is None else usable
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(usable, usable - math.floor(load)))


def thread_count(env: dict[str, str] | None = None) -> int:
    """`DEALGRAPH_THREADS` when set (a positive number), else `free_cores()`."""
    value = (os.environ if env is None else env).get(ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV} must be a whole number of threads, at least 1 (got {value!r})")
        return int(value)
    return free_cores()


def size_thread_pools(count: int | None = None) -> int:
    """Size torch's, BLAS's and OpenMP's pools to `count` (default `thread_count()`); returns it.

    Call once, before the heavy work starts (torch's inter-op pool is fixed at its first use)."""
    import torch
    from threadpoolctl import threadpool_limits

    count = thread_count() if count is None else count
    torch.set_num_threads(count)
    threadpool_limits(count)  # numpy's BLAS and scikit-learn's OpenMP, for the rest of the process
    log.info("numeric thread pools sized to %d", count)
    return count
