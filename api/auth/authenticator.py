"""One request's `Authorization: Bearer …` header to a `Principal`, or an `AuthError` (HTTP 401).

A bearer value that starts with `dgk_` is an API key, anything else a JWT.
Checking a key's scrypt hash costs ~40 ms, so a key that verified once is
remembered in memory by its SHA-256 (never the key itself); its record is
still looked up on every request, so revocation and expiry apply within a
second.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict

from api.auth.keys import PREFIX, KeyStore
from api.auth.principal import Principal, Role
from api.auth.tokens import TokenError, TokenVerifier

log = logging.getLogger(__name__)

#: Verified keys remembered per process (each entry is a digest and an id).
VERIFIED_CACHE_SIZE = 4096
ANONYMOUS_DEV = Principal(Role.ADMIN, subject="anonymous", method="anonymous")


class AuthError(Exception):
    """The request is not authenticated; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    """Turns bearer credentials into principals.

    Args:
        keys: the API key file.
        tokens: the JWT verifier (may have no keys configured: then JWTs are refused).
        required: False only with DEALGRAPH_AUTH=off in development: every request is an anonymous admin.
    """

    def __init__(self, keys: KeyStore, tokens: TokenVerifier, *, required: bool = True) -> None:
        self.keys, self.tokens, self.required = keys, tokens, required
        self._verified: OrderedDict[bytes, str] = OrderedDict()

    async def authenticate(self, authorization: str | None) -> Principal:
        if not self.required:
            return ANONYMOUS_DEV
        if not authorization:
            raise AuthError("authentication required: send `Authorization: Bearer <API key or JWT>`")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("the Authorization header must read `Bearer <API key or JWT>`")
        if credential.startswith(PREFIX):
            return await self._api_key(credential)
        if not self.tokens.enabled:
            raise AuthError("not an API key (they start with `dgk_`), and this server accepts no JWTs")
        try:
            return self.tokens.verify(credential)
        except TokenError as e:
            raise AuthError(str(e)) from None

    async def _api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).digest()
        key_id = self._verified.get(digest)
        if key_id is not None:
            record = self.keys.lookup(key_id)
            if record is not None and record.state() == "active":
                return record.principal()
            self._verified.pop(digest, None)
            raise AuthError("API key revoked or expired")
        record = await asyncio.to_thread(self.keys.verify, key)
        if record is None:
            raise AuthError("API key not recognised, revoked or expired")
        self._verified[digest] = record.id
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return record.principal()
