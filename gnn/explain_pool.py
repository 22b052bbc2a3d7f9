"""Explaining many deals over the free cores: forked worker processes, one numeric thread each.

Explaining is most of a first scoring's time (about 57 ms of CPU a deal; some 5,300 open deals at a million
rows), and each batch of deals is explained from the same read-only model, graph and facts. torch's intra-op
threads barely help it (small tensors, much Python per deal), so the cores are used by processes instead: the
parent builds the explainer once and forks the workers, which share it copy-on-write (nothing of a multi-GiB
graph is pickled), and each explains whole chunks with one numeric thread.

The chunks are the serial loop's, in the same order: every deal is explained in the same batch as serially — the
same arithmetic, so the same explanation (tested) — and the results come back in order. How many workers: the
numeric threads this process was given (`gnn.threads.size_thread_pools`, from `thread_count()` or
`DEALGRAPH_THREADS`), within the usable cores, so a scoring run beside the API server takes no more cores than
it did with threads; one (no fork) for a few deals, or where processes cannot fork. The pool itself is
`gnn.forked.fork_map`, which training's steps use too.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING

from tqdm import tqdm

from gnn.forked import fork_map, workers_allowed
from graph.explanation import Explanation

if TYPE_CHECKING:
    from gnn.explain import PathExplainer

#: Deals per task: what the serial loop explained per `explain_many` call (two batches of 8).
CHUNK = 16
#: Below this many deals one process explains them all: a fork and its pool cost more than a second core saves.
MIN_PARALLEL = 64


def worker_count(deals: int) -> int:
    """Processes to explain `deals` with: this process's numeric threads, within the usable cores; one for few."""
    return 1 if deals < MIN_PARALLEL else workers_allowed()


def explain_all(explainer: PathExplainer, positions: list[int], top: int = 3, workers: int | None = None,
                progress: bool = False) -> list[Explanation]:
    """The explanations of the deals at `positions` (in the explainer's graph), in order, `CHUNK` deals per
    `explain_many` call, over `workers` processes (default `worker_count`); the same as one process gives."""
    chunks = [positions[i : i + CHUNK] for i in range(0, len(positions), CHUNK)]
    workers = worker_count(len(positions)) if workers is None else workers
    # The workers inherit the explainer through the fork (a multi-GiB graph is never pickled), one thread each.
    shown = partial(tqdm, total=len(chunks), desc="explaining", unit="batch", disable=not progress, file=sys.stderr)
    made = fork_map(partial(_explain, explainer, top=top), chunks, workers, shown=shown)
    return [e for chunk in made for e in chunk]


def _explain(explainer: PathExplainer, chunk: list[int], top: int) -> list[Explanation]:
    return explainer.explain_many(chunk, top=top)
