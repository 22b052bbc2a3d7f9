"""Independent steps spread over forked processes when more than one thread is allowed (training's cutoffs,
wide penalties, grid configurations and reads; explaining's chunks of deals, `gnn.explain_pool`).

A cutoff's examples are pandas work on one core, and a grid configuration's fit is small layers that gain
little from a second thread; on two cores, two of them at once take about half the time of one after the
other. Each runs in a process forked from the caller, so it inherits the data (copy-on-write, nothing sent
but an index), and sends its result back pickled once. The results are those of the same calls made one
after another at the workers' thread count (`gnn.threads`): nothing here draws a random number.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

from gnn.threads import size_thread_pools, usable_cores

T = TypeVar("T")
R = TypeVar("R")

#: What the forked workers run (the function and its items): set just before the fork, so they inherit it.
_WORK: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def workers_allowed() -> int:
    """Processes independent steps may run in: this process's numeric threads (`gnn.threads.size_thread_pools`,
    from the free cores or `DEALGRAPH_THREADS`), within the usable cores; one where it may not fork."""
    return max(1, min(torch.get_num_threads(), usable_cores())) if may_fork() else 1


def may_fork() -> bool:
    """Whether this process may fork workers: where `fork` exists, and not from a daemonic process (a pool's
    worker itself), which may not start processes of its own."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def fork_map(fn: Callable[[T], R], items: Sequence[T], workers: int,
             shown: Callable[[Iterator[R]], Iterator[R]] | None = None) -> list[R]:
    """`[fn(item) for item in items]`, in order; with `workers` > 1, in that many forked processes sharing the
    caller's thread count (in this process where it may not fork). `shown` wraps the results as they come (a
    progress bar)."""
    workers = min(workers, len(items))
    through = shown or (lambda made: made)
    if workers < 2 or not may_fork():
        return list(through(map(fn, items)))
    global _WORK
    _WORK = (fn, items)
    threads = max(1, torch.get_num_threads() // workers)
    # The parent's objects out of the collector's reach, so a worker's collections do not write to (and so copy)
    # every page of the data it shares (the Python docs' advice for forking servers).
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers, size_thread_pools, (threads,)) as pool:
            return list(through(pickle.loads(blob) for blob in pool.imap(_run, range(len(items)))))
    finally:
        gc.unfreeze()
        _WORK = None


def _run(position: int) -> bytes:
    """In a worker: one item's result, pickled here in one piece (a cutoff's tensors travel as one blob)."""
    assert _WORK is not None, "set by fork_map before the fork"
    fn, items = _WORK
    return pickle.dumps(fn(items[position]), protocol=pickle.HIGHEST_PROTOCOL)
