"""JWT bearer tokens from an identity provider (or `dealgraph keys token`): HS256 and RS256, with expiry.

Claims read: `sub` (who), `role` (`rep`, `revops`, `admin`), `rep_id` (the Rep
a rep token acts for), optional `scope: "team"`, and `exp`, which is required
and at most `max_lifetime_s` after `iat` (or after now, without `iat`).
`iss` and `aud` are checked when the settings name them. The algorithm comes
from the key the server holds, never from the token alone: a token whose
header names an algorithm the server has no key for is refused.

Example:
    >>> verifier = TokenVerifier(hs256_secret="…32+ random bytes…")
    >>> token = mint_token("…32+ random bytes…", subject="rita", role=Role.REP, rep_id="005A", ttl_s=3600)
    >>> verifier.verify(token).rep_id
    '005A'
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from api.auth.principal import Principal, Role
from graph.errors import DealgraphError

#: Clock skew tolerated between the token issuer and this server.
LEEWAY_S = 30
#: The longest a token may live unless the settings say otherwise (DEALGRAPH_JWT_MAX_LIFETIME_S).
DEFAULT_MAX_LIFETIME_S = 86400


class TokenError(DealgraphError):
    """A bearer token that cannot be accepted; the message says why (it goes back to the caller)."""


def _pem(value: str) -> str:
    """PEM text given inline or as a path to a file."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"DEALGRAPH_JWT_PUBLIC_KEY is neither PEM text nor a readable file: {value!r}")
    return path.read_text()


class TokenVerifier:
    """Checks bearer JWTs against the keys the settings configure (either or both)."""

    def __init__(
        self,
        *,
        hs256_secret: str | None = None,
        rs256_public_key: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
    ) -> None:
        self._keys: dict[str, Any] = {}
        self.max_lifetime_s = max_lifetime_s
        if hs256_secret:
            self._keys["HS256"] = hs256_secret
        if rs256_public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self._keys["RS256"] = load_pem_public_key(_pem(rs256_public_key).encode())
        self.issuer, self.audience = issuer, audience

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def verify(self, token: str) -> Principal:
        """The principal a valid token names.

        Raises:
            TokenError: malformed, wrong signature, expired, not yet valid, wrong issuer or audience,
                or claims that name no valid role.
        """
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as e:
            raise TokenError(f"malformed bearer token: {e}") from None
        if not isinstance(alg, str) or (key := self._keys.get(alg)) is None:
            accepted = ", ".join(sorted(self._keys)) or "none configured"
            raise TokenError(f"token algorithm {alg!r} is not accepted here (accepted: {accepted})")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("bearer token expired") from None
        except jwt.InvalidTokenError as e:
            raise TokenError(f"bearer token rejected: {e}") from None
        except (OverflowError, ValueError, TypeError):  # e.g. `"exp": 1e400`, which PyJWT's int() cannot hold
            raise TokenError("bearer token rejected: its `exp`, `nbf` or `iat` is not a usable time") from None
        self._check_lifetime(claims)
        if not all(_is_text(claims.get(name)) for name in ("sub", "rep_id")):
            # A lone surrogate ("\ud800") survives JSON but no store, log or audit line can hold it.
            raise TokenError("bearer token rejected: its `sub` or `rep_id` is not valid Unicode text")
        try:
            role = Role(claims.get("role") or "")  # no claim: no role, like any unknown value
        except ValueError:
            raise TokenError(f"bearer token has no valid role claim (got {claims.get('role')!r})") from None
        rep_id = claims.get("rep_id")
        if role is Role.REP and not (isinstance(rep_id, str) and rep_id):
            raise TokenError("a rep token needs a `rep_id` claim")
        return Principal(role, subject=f"jwt:{claims['sub']}", method="jwt",
                         rep_id=rep_id if role is Role.REP else None,
                         team_scope=role is Role.REP and claims.get("scope") == "team")


    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse a token that lives longer than `max_lifetime_s` (from `iat`, or from now without one)."""
        try:  # PyJWT has checked both are numbers (or numeric strings)
            exp = float(claims["exp"])
            iat = float(claims["iat"]) if claims.get("iat") is not None else None
        except (TypeError, ValueError, OverflowError):
            raise TokenError("bearer token rejected: its `exp` or `iat` is not a number") from None
        since, lifetime = ("iat", exp - iat) if iat is not None else ("now", exp - time.time() - LEEWAY_S)
        if lifetime > self.max_lifetime_s:
            raise TokenError(f"bearer token lives too long: exp - {since} is {lifetime:.0f} s, over the "
                             f"{self.max_lifetime_s} s this server accepts (DEALGRAPH_JWT_MAX_LIFETIME_S); "
                             "ask the identity provider for a shorter-lived token")


def _is_text(value: Any) -> bool:
    """False for a string that UTF-8 cannot encode (a lone surrogate); other values are checked elsewhere."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def mint_token(
    secret: str,
    *,
    subject: str,
    role: Role,
    rep_id: str | None = None,
    team_scope: bool = False,
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token this server accepts (for scripts, tests and the benchmark)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": subject, "role": role.value, "iat": now, "exp": now + timedelta(seconds=ttl_s)}
    if rep_id:
        claims["rep_id"] = rep_id
    if team_scope:
        claims["scope"] = "team"
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
