"""One request's `Authorization: Bearer …` header to a `Principal`, or an `AuthError` (HTTP 401).

A bearer value that starts with `dgk_` is an API key, anything else a JWT.
Checking a key's scrypt hash costs ~40 ms, so a key that verified once is
remembered in memory by its SHA-256 (never the key itself); its record is
still looked up on every request, so revocation and expiry apply within a
second.

That cost is also what an unauthenticated caller could make the server pay
again and again, so: a key that failed is remembered too (by its SHA-256, at
most `negative_cache_size`): a key id's hash never changes, and an unknown,
revoked or expired key never becomes good, so a repeat costs no scrypt; every failed credential counts against the
caller's address (`api.auth.throttle`), which gets `TooManyFailures` (HTTP 429)
once over its limit; and one scrypt runs at a time per process, so however
many arrive, new keys take at most one core.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import OrderedDict

from api.auth.keys import PREFIX, KeyStore
from api.auth.principal import Principal, Role
from api.auth.throttle import Throttle
from api.auth.tokens import TokenError, TokenVerifier
from graph.errors import DealgraphError

log = logging.getLogger(__name__)

#: Verified keys remembered per process (each entry is a digest and an id).
VERIFIED_CACHE_SIZE = 4096
#: Wrong API keys remembered per process by default (each entry is a digest).
FAILED_CACHE_SIZE = 4096
#: scrypt checks running at once per process: more would only take more cores from the requests being served.
SCRYPT_CONCURRENCY = 1
ANONYMOUS_DEV = Principal(Role.ADMIN, subject="anonymous", method="anonymous")


class AuthError(DealgraphError):
    """The request is not authenticated; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyFailures(AuthError):
    """The caller's address sent too many failed credentials; it may try again in `retry_after_s` (HTTP 429)."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many failed credentials from this address: try again in {self.retry_after_s} s")


class Authenticator:
    """Turns bearer credentials into principals.

    Args:
        keys: the API key file.
        tokens: the JWT verifier (may have no keys configured: then JWTs are refused).
        required: False only with DEALGRAPH_AUTH=off in development: every request is an anonymous admin.
        throttle: failed credentials per client address (default: 30 in a row, then 30 a minute).
        negative_cache_size: wrong API keys remembered (0: none).
    """

    def __init__(self, keys: KeyStore, tokens: TokenVerifier, *, required: bool = True,
                 throttle: Throttle | None = None, negative_cache_size: int = FAILED_CACHE_SIZE) -> None:
        self.keys, self.tokens, self.required = keys, tokens, required
        self.throttle = throttle or Throttle(burst=30, per_minute=30)
        self._verified: OrderedDict[bytes, str] = OrderedDict()
        self._failed: OrderedDict[bytes, None] = OrderedDict()
        self._failed_max = negative_cache_size
        self._scrypt = asyncio.Semaphore(SCRYPT_CONCURRENCY)

    async def authenticate(self, authorization: str | None, client: str | None = None) -> Principal:
        """The principal of a request's Authorization header, sent from address `client`.

        Raises:
            AuthError: no, malformed, unknown, wrong, revoked or expired credential (HTTP 401).
            TooManyFailures: `client` failed too often lately (HTTP 429); nothing was checked.
        """
        if not self.required:
            return ANONYMOUS_DEV
        client = client or "-"
        try:
            return await self._authenticate(authorization, client)
        except TooManyFailures:
            raise
        except AuthError:
            self.throttle.spend(client)
            raise

    async def _authenticate(self, authorization: str | None, client: str) -> Principal:
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        is_key = scheme.lower() == "bearer" and credential.startswith(PREFIX)
        digest = hashlib.sha256(credential.encode()).digest() if is_key else b""
        if is_key and digest in self._verified:  # known good: no scrypt to protect, so no throttle either
            return self._known_key(digest)
        wait = self.throttle.retry_after(client)
        if wait is not None:
            raise TooManyFailures(wait)
        if not authorization:
            raise AuthError("authentication required: send `Authorization: Bearer <API key or JWT>`")
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("the Authorization header must read `Bearer <API key or JWT>`")
        if is_key:
            return await self._api_key(credential, digest)
        if not self.tokens.enabled:
            raise AuthError("not an API key (they start with `dgk_`), and this server accepts no JWTs")
        try:
            return self.tokens.verify(credential)
        except TokenError as e:
            raise AuthError(str(e)) from None

    def _known_key(self, digest: bytes) -> Principal:
        record = self.keys.lookup(self._verified[digest])
        if record is not None and record.state() == "active":
            return record.principal()
        self._verified.pop(digest, None)
        raise AuthError("API key revoked or expired")

    async def _api_key(self, key: str, digest: bytes) -> Principal:
        if digest in self._failed:
            self._failed.move_to_end(digest)
            raise AuthError("API key not recognised, revoked or expired")
        async with self._scrypt:
            record = await asyncio.to_thread(self.keys.verify, key)
        if record is None:
            self._remember_failure(digest)
            raise AuthError("API key not recognised, revoked or expired")
        self._verified[digest] = record.id
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return record.principal()

    def _remember_failure(self, digest: bytes) -> None:
        if self._failed_max <= 0:
            return
        self._failed[digest] = None
        if len(self._failed) > self._failed_max:
            self._failed.popitem(last=False)
