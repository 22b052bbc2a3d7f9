"""A per-key limit on events: a token bucket per key, in memory, bounded.

Two limits use it: failed credentials per client address (`Authenticator`) and feedback events per principal
(`api.owners_desk`: each one is an audit record and empties every user's cached answers).

Checking an API key costs a scrypt (~40 ms of CPU, by design), so a caller who
knows a key id can make the server burn a core by sending wrong secrets. Each
client address may fail `burst` times in a row, then earns one more attempt
every `60 / per_minute` seconds; meanwhile `Authenticator` answers 429 with
`Retry-After` without checking anything. Credentials this process has already
verified still pass (no scrypt runs for them), so a busy address that sends
one wrong key does not lock out its own good ones.

Addresses are kept least recently failed first, at most `max_clients`: an
attacker with more addresses than that pushes the oldest out, which frees
them early rather than letting the table grow. Each worker process keeps its
own buckets, so with N workers an address gets up to N times the burst.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

#: Client addresses whose failures are remembered per process.
MAX_CLIENTS = 10_000


class Throttle:
    """Token buckets of events (failed credentials, feedback) by key (a client address, a principal).

    Example:
        >>> throttle = Throttle(burst=2, per_minute=6)
        >>> throttle.spend("10.0.0.1"); throttle.spend("10.0.0.1")
        >>> round(throttle.retry_after("10.0.0.1"))  # seconds until one more attempt is allowed
        10
    """

    def __init__(self, burst: int, per_minute: float, max_clients: int = MAX_CLIENTS) -> None:
        self.burst, self.rate, self.max_clients = burst, per_minute / 60.0, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may have one more event; None when it may now."""
        if client not in self._buckets:
            return None
        tokens = self._tokens(client, time.monotonic())
        return None if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def spend(self, client: str) -> None:
        """Count one event (a failed credential, a feedback) of `client`."""
        now = time.monotonic()
        with self._lock:
            self._buckets[client] = (self._tokens(client, now) - 1.0, now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
