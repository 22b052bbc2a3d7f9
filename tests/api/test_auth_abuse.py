"""Unauthenticated abuse of authentication (issue 15): wrong secrets for a known key id must not cost a scrypt each,
an address that keeps failing gets 429 with Retry-After, and JWTs may not live longer than the settings allow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest

from api.app import create_app
from api.auth import (
    Authenticator,
    AuthError,
    KeyRecord,
    KeyStore,
    Role,
    Throttle,
    TokenVerifier,
    TooManyFailures,
)
from api.settings import Settings
from graph import GraphStore
from tests.api.book_data import book_home
from tests.api.queries import create_key
from tests.helpers.server import serve

SECRET = "test-only-hs256-secret-0123456789abcdef-0123456789"
VIEWER = {"query": "{ viewer { role } }"}


class CountingKeys(KeyStore):
    """The real key file, counting the scrypt checks it is asked for."""

    checks = 0

    def verify(self, key: str) -> KeyRecord | None:
        self.checks += 1
        return super().verify(key)


def wrong_secret(key: str, n: int = 0) -> str:
    """The same key id with another secret of the same shape."""
    return key[: len("dgk_") + 13] + f"{n:043d}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, GraphStore]]:
    yield from book_home(tmp_path_factory.mktemp("abuse"))


def refuse(authenticator: Authenticator, credential: str, client: str = "10.0.0.1") -> AuthError:
    with pytest.raises(AuthError) as refused:
        asyncio.run(authenticator.authenticate(f"Bearer {credential}", client))
    return refused.value


@pytest.mark.parametrize("cache_size, checks", [(4096, 1), (0, 5)])
def test_a_wrong_secret_costs_one_scrypt_however_often_it_is_sent(home, cache_size: int, checks: int) -> None:
    root, _ = home
    keys = CountingKeys(root / "api-keys.db")
    good = create_key(root, Role.ADMIN)
    authenticator = Authenticator(keys, TokenVerifier(), throttle=Throttle(100, 100),
                                  negative_cache_size=cache_size)
    for _ in range(5):
        assert "not recognised" in refuse(authenticator, wrong_secret(good)).reason
    assert keys.checks == checks  # with the cache off, every repeat is a fresh scrypt: what the cache saves
    assert asyncio.run(authenticator.authenticate(f"Bearer {good}", "10.0.0.1")).role is Role.ADMIN


def test_the_negative_cache_is_bounded(home) -> None:
    root, _ = home
    keys = CountingKeys(root / "api-keys.db")
    good = create_key(root, Role.ADMIN)
    authenticator = Authenticator(keys, TokenVerifier(), throttle=Throttle(100, 100), negative_cache_size=2)
    for n in (1, 2, 3, 1):  # the first is pushed out by the third, so it costs a scrypt again
        refuse(authenticator, wrong_secret(good, n))
    assert keys.checks == 4


def test_an_address_over_its_failures_is_told_when_to_come_back_and_checks_nothing(home) -> None:
    root, _ = home
    keys = CountingKeys(root / "api-keys.db")
    good, fresh = create_key(root, Role.ADMIN), create_key(root, Role.REVOPS)
    authenticator = Authenticator(keys, TokenVerifier(), throttle=Throttle(burst=3, per_minute=6))
    asyncio.run(authenticator.authenticate(f"Bearer {good}", "10.0.0.2"))  # verified before the attack
    for n in range(3):
        assert not isinstance(refuse(authenticator, wrong_secret(good, n), "10.0.0.2"), TooManyFailures)
    checks = keys.checks
    limited = refuse(authenticator, wrong_secret(good, 99), "10.0.0.2")
    assert isinstance(limited, TooManyFailures) and 1 <= limited.retry_after_s <= 10, limited.reason
    assert "try again in" in limited.reason
    assert isinstance(refuse(authenticator, fresh, "10.0.0.2"), TooManyFailures)  # even a good, unverified key
    assert keys.checks == checks  # nothing was checked while limited
    assert asyncio.run(authenticator.authenticate(f"Bearer {good}", "10.0.0.2")).role is Role.ADMIN  # known good
    assert asyncio.run(authenticator.authenticate(f"Bearer {fresh}", "10.0.0.3")).role is Role.REVOPS  # others


def test_the_throttle_refills_and_forgets_the_oldest_address() -> None:
    throttle = Throttle(burst=1, per_minute=60_000, max_clients=2)  # a token a millisecond
    throttle.spend("a")
    assert throttle.retry_after("a") is not None
    time.sleep(0.01)  # not a timing assertion: any wait over 1 ms refills one attempt
    assert throttle.retry_after("a") is None
    slow = Throttle(burst=1, per_minute=1, max_clients=2)
    for client in ("a", "b", "c"):
        slow.spend(client)
    assert slow.retry_after("a") is None and slow.retry_after("c") is not None


@pytest.fixture(scope="module")
def strict_server(home) -> Iterator[tuple[str, str]]:
    root, store = home
    settings = Settings(keys_file=root / "strict-keys.db", auth_failures_burst=3, auth_failures_per_minute=1,
                        jwt_secret=SECRET, jwt_max_lifetime_s=3600)
    key = KeyStore(root / "strict-keys.db").create(Role.ADMIN)[1]
    with serve(create_app(store, root, settings=settings)) as base_url:
        yield base_url, key


def test_over_http_failures_end_in_429_with_retry_after(strict_server) -> None:
    base_url, key = strict_server
    attacker = {"X-Forwarded-For": "198.51.100.7"}  # uvicorn takes the client address from a proxy on 127.0.0.1
    for n in range(3):
        response = httpx.post(f"{base_url}/graphql", json=VIEWER,
                              headers={**attacker, "Authorization": f"Bearer {wrong_secret(key, n)}"})
        assert response.status_code == 401, response.text
    response = httpx.post(f"{base_url}/graphql", json=VIEWER, headers={**attacker, "Authorization": f"Bearer {key}"})
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED" and "too many failed credentials" in error["message"]
    other = httpx.post(f"{base_url}/graphql", json=VIEWER,
                       headers={"X-Forwarded-For": "198.51.100.8", "Authorization": f"Bearer {key}"})
    assert other.status_code == 200 and other.json()["data"]["viewer"]["role"] == "admin"
    metrics = httpx.get(f"{base_url}/metrics").text
    assert 'code="RATE_LIMITED"' in metrics


def jwt_with(**claims: object) -> str:
    """An HS256 token with these claims over a valid revops token's (a claim given as None is left out)."""
    now = int(datetime.now(UTC).timestamp())
    merged = {"sub": "idp-user", "role": "revops", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in merged.items() if v is not None}, SECRET, algorithm="HS256")


NOW = int(datetime.now(UTC).timestamp())
LIFETIMES = {
    "exp 10^30": (jwt_with(exp=10**30), "lives too long: exp - iat"),
    "two hours from iat": (jwt_with(exp=NOW + 7200), "over the 3600 s this server accepts"),
    "two hours without iat": (jwt_with(iat=None, exp=NOW + 7200), "exp - now"),
    "exp infinite": (jwt_with(exp=float("inf")), "bearer token rejected"),
    "iat a string": (jwt_with(iat="yesterday"), "bearer token rejected"),
}


@pytest.mark.parametrize("name", list(LIFETIMES))
def test_a_jwt_that_lives_too_long_is_refused(strict_server, name: str) -> None:
    base_url, _ = strict_server
    credential, says = LIFETIMES[name]
    headers = {"X-Forwarded-For": f"203.0.113.{len(name)}", "Authorization": f"Bearer {credential}"}
    response = httpx.post(f"{base_url}/graphql", json=VIEWER, headers=headers)
    assert response.status_code == 401, response.text
    assert says in response.json()["errors"][0]["message"], response.text


@pytest.mark.parametrize("claims", [{"sub": "\ud800"}, {"role": "rep", "rep_id": "005\udfff"}], ids=["sub", "rep_id"])
def test_a_jwt_naming_a_lone_surrogate_is_refused(strict_server, claims: dict) -> None:
    """JSON carries "\\ud800", but no store read, log line or audit event can hold it: a 401, not an internal error."""
    base_url, _ = strict_server
    headers = {"X-Forwarded-For": "203.0.113.99", "Authorization": f"Bearer {jwt_with(**claims)}"}
    response = httpx.post(f"{base_url}/graphql", json={"query": "{ viewer { role } deals { totalCount } }"},
                          headers=headers)
    assert response.status_code == 401, response.text
    assert "not valid Unicode text" in response.json()["errors"][0]["message"], response.text


def test_a_jwt_within_the_lifetime_is_accepted(strict_server) -> None:
    base_url, _ = strict_server
    for credential in (jwt_with(exp=NOW + 3600), jwt_with(iat=None, exp=int(time.time()) + 3000)):
        response = httpx.post(f"{base_url}/graphql", json=VIEWER, headers={"Authorization": f"Bearer {credential}"})
        assert response.status_code == 200 and response.json()["data"]["viewer"]["role"] == "revops", response.text


def test_the_default_jwt_lifetime_is_a_day() -> None:
    verifier = TokenVerifier(hs256_secret=SECRET)
    now = int(time.time())  # iat and exp from one clock reading: NOW was read when the module was imported
    assert verifier.verify(jwt_with(iat=now, exp=now + 86400)).role is Role.REVOPS
    with pytest.raises(Exception, match="over the 86400 s"):
        verifier.verify(jwt_with(iat=now, exp=now + 86400 + 60))
    assert Settings().jwt_max_lifetime_s == 86400


def test_a_verified_key_under_another_scheme_is_still_refused(home) -> None:
    root, _ = home
    good = create_key(root, Role.ADMIN)
    authenticator = Authenticator(KeyStore(root / "api-keys.db"), TokenVerifier())
    asyncio.run(authenticator.authenticate(f"Bearer {good}", "10.0.0.9"))
    with pytest.raises(AuthError, match="must read `Bearer"):
        asyncio.run(authenticator.authenticate(f"Basic {good}", "10.0.0.9"))
