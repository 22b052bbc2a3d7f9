"""Executed GraphQL requests go before answers from the response cache.

One worker serves every request on one event loop. An answer from the cache
costs ~0.4 ms; executing a query ~4 ms of CPU, but spread over ~30 turns of
the loop (DataLoader batches, gathered fields), and at every turn the loop
serves the other connections first. Under load (16 busy connections, scores
being rewritten so some answers must be executed again) that stretched 4 ms
of work to 80–400 ms of waiting, and those few executions were the whole p99.

So while any query is executing, a request that could be answered from the
cache waits for the executions to finish, at most `MAX_WAIT_S` (a query that
runs long must not hold every cached answer up to its timeout;
`DEALGRAPH_CACHE_WAIT_MS` sets it, 0 switches the waiting off). The waiting
costs a cached answer a few milliseconds; see docs/api.md, "Response cache",
for the measurements.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

#: The longest a cached answer waits for executions in flight.
MAX_WAIT_S = 0.05


class ExecutionsFirst:
    """Counts executions in flight (`executing`); `wait` holds a cached answer while there are any."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self._max_wait_s = max_wait_s
        self._running = 0
        self._idle: asyncio.Future[None] | None = None  # done when the last execution in flight ends

    @property
    def busy(self) -> bool:
        return self._running > 0

    @asynccontextmanager
    async def executing(self) -> AsyncIterator[None]:
        if self._running == 0:
            self._idle = asyncio.get_running_loop().create_future()
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            if self._running == 0 and self._idle is not None and not self._idle.done():
                self._idle.set_result(None)

    async def wait(self) -> bool:
        """Wait until no execution is in flight, or `max_wait_s`; whether it waited at all."""
        idle = self._idle
        if not self._running or idle is None or self._max_wait_s <= 0:
            return False
        # shielded: a waiter that times out must not cancel the future the others wait on
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(idle), self._max_wait_s)
        return True
