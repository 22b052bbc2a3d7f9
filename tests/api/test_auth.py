"""Authentication: API keys (hashed at rest, revocable, expiring) and JWTs (HS256, RS256), or 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from api.app import create_app
from api.auth import KeyStore, Role, mint_token
from api.auth.keys import split_key
from api.settings import Settings
from graph import GraphStore
from tests.api.book_data import BOB, RITA, book_home
from tests.api.queries import Endpoint, create_key, gql, post
from tests.helpers.server import serve

SECRET = "test-only-hs256-secret-0123456789abcdef-0123456789"
VIEWER = "{ viewer { role repId } }"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, GraphStore]]:
    yield from book_home(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="module")
def server(home: tuple[Path, GraphStore], rsa_keys: tuple[bytes, str]) -> Iterator[str]:
    root, store = home
    settings = Settings(jwt_secret=SECRET, jwt_public_key=rsa_keys[1], jwt_issuer="idp.test", jwt_audience="dealgraph")
    with serve(create_app(store, root, settings=settings)) as base_url:
        yield base_url


def refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="dealgraph"')
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert reason in body["errors"][0]["message"], body


def token(**claims: object) -> str:
    now = datetime.now(UTC)
    base = {"sub": "someone", "role": "revops", "iss": "idp.test", "aud": "dealgraph",
            "exp": now + timedelta(minutes=5)}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def test_no_or_malformed_credentials_are_401(server: str) -> None:
    refused(post(server, VIEWER), "authentication required")
    refused(post(server, VIEWER, headers={"Authorization": "Basic dXNlcjpwYXNz"}), "must read `Bearer")
    refused(post(server, VIEWER, headers={"Authorization": "Bearer"}), "must read `Bearer")
    refused(post(server, VIEWER, token="dgk_0123456789ab_not-a-key"), "API key not recognised")
    refused(post(server, VIEWER, token="garbage.not.jwt"), "malformed bearer token")
    # Queries over GET need a credential as well; the GraphiQL page itself does not (it runs nothing).
    assert httpx.get(f"{server}/graphql", params={"query": VIEWER}).status_code == 401
    assert httpx.get(f"{server}/graphql", headers={"Accept": "text/html"}).status_code == 200


def test_api_key_roles_and_the_rep_it_is_bound_to(server: str, home: tuple[Path, GraphStore]) -> None:
    root, _ = home
    assert gql(Endpoint(server, create_key(root, Role.ADMIN)), VIEWER)["data"]["viewer"] == {"role": "admin",
                                                                                             "repId": None}
    assert gql(Endpoint(server, create_key(root, Role.REVOPS)), VIEWER)["data"]["viewer"]["role"] == "revops"
    rep = gql(Endpoint(server, create_key(root, Role.REP, RITA)), VIEWER)["data"]["viewer"]
    assert rep == {"role": "rep", "repId": RITA}


def test_a_right_key_id_with_a_wrong_secret_is_refused(server: str, home: tuple[Path, GraphStore]) -> None:
    key = create_key(home[0], Role.ADMIN)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    refused(post(server, VIEWER, token=forged), "API key not recognised")
    assert gql(Endpoint(server, key), VIEWER)["data"]["viewer"]["role"] == "admin"


def test_keys_are_stored_hashed(home: tuple[Path, GraphStore]) -> None:
    key = create_key(home[0], Role.ADMIN)
    _, secret = split_key(key)
    raw = (home[0] / "api-keys.db").read_bytes()
    assert secret.encode() not in raw and key.encode() not in raw
    assert (home[0] / "api-keys.db").stat().st_mode & 0o077 == 0  # not readable by others


def _eventually_refused(server: str, key: str, reason: str) -> None:
    """The server re-reads the key file at most every half second: wait for it, within a bound."""
    deadline = time.monotonic() + 10
    while post(server, VIEWER, token=key).status_code == 200:
        assert time.monotonic() < deadline, "the server kept accepting the key"
        time.sleep(0.1)
    refused(post(server, VIEWER, token=key), reason)


def test_a_revoked_key_stops_working_on_a_running_server(server: str, home: tuple[Path, GraphStore]) -> None:
    keys = KeyStore(home[0] / "api-keys.db")
    record, key = keys.create(Role.ADMIN, name="to revoke")
    assert gql(Endpoint(server, key), VIEWER)["data"]["viewer"]["role"] == "admin"  # verified and cached
    keys.revoke(record.id)
    _eventually_refused(server, key, "revoked or expired")
    assert {r.id: r.state() for r in keys.list()}[record.id] == "revoked"


def test_an_expired_key_stops_working(server: str, home: tuple[Path, GraphStore]) -> None:
    keys = KeyStore(home[0] / "api-keys.db")
    record, key = keys.create(Role.ADMIN, expires_at=datetime.now(UTC) + timedelta(days=1))
    assert gql(Endpoint(server, key), VIEWER)["data"]["viewer"]["role"] == "admin"
    # Time passes: move the expiry into the past in the file, as the clock would.
    with sqlite3.connect(home[0] / "api-keys.db") as conn:
        conn.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?",
                     ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(), record.id))
    _eventually_refused(server, key, "revoked or expired")


def test_hs256_tokens_with_expiry_issuer_and_audience(server: str) -> None:
    assert gql(Endpoint(server, token()), VIEWER)["data"]["viewer"] == {"role": "revops", "repId": None}
    rep = gql(Endpoint(server, token(role="rep", rep_id=BOB)), VIEWER)["data"]["viewer"]
    assert rep == {"role": "rep", "repId": BOB}
    refused(post(server, VIEWER, token=token(exp=datetime.now(UTC) - timedelta(minutes=5))), "expired")
    refused(post(server, VIEWER, token=token(iss="evil.test")), "rejected")
    refused(post(server, VIEWER, token=token(aud="someone-else")), "rejected")
    refused(post(server, VIEWER, token=token(role="superuser")), "no valid role")
    refused(post(server, VIEWER, token=token(role="rep")), "needs a `rep_id`")
    no_exp = jwt.encode({"sub": "x", "role": "admin", "iss": "idp.test", "aud": "dealgraph"}, SECRET, algorithm="HS256")
    refused(post(server, VIEWER, token=no_exp), "rejected")
    wrong_key = jwt.encode({"sub": "x", "role": "admin", "exp": datetime.now(UTC) + timedelta(minutes=5)},
                           "another-secret-another-secret-another-secret", algorithm="HS256")
    refused(post(server, VIEWER, token=wrong_key), "rejected")


def test_rs256_tokens_and_no_algorithm_confusion(server: str, rsa_keys: tuple[bytes, str]) -> None:
    private, public = rsa_keys
    claims = {"sub": "idp-user", "role": "admin", "iss": "idp.test", "aud": "dealgraph",
              "exp": datetime.now(UTC) + timedelta(minutes=5)}
    signed = jwt.encode(claims, private, algorithm="RS256")
    assert gql(Endpoint(server, signed), VIEWER)["data"]["viewer"]["role"] == "admin"
    # The public key used as an HMAC secret (the classic confusion attack), and `alg: none`, are refused.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({**claims, "exp": int(claims["exp"].timestamp())}).encode())
    signature = b64(hmac.new(public.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    refused(post(server, VIEWER, token=f"{header}.{payload}.{signature}"), "rejected")
    unsigned = f"{b64(json.dumps({'alg': 'none'}).encode())}.{payload}."
    refused(post(server, VIEWER, token=unsigned), "not accepted")


def test_mint_token_makes_what_the_server_accepts(server: str) -> None:
    minted = mint_token(SECRET, subject="cli", role=Role.REP, rep_id=RITA, issuer="idp.test", audience="dealgraph")
    assert gql(Endpoint(server, minted), VIEWER)["data"]["viewer"] == {"role": "rep", "repId": RITA}


def test_jwts_are_refused_when_no_jwt_key_is_configured(home: tuple[Path, GraphStore]) -> None:
    root, store = home
    with serve(create_app(store, root, settings=Settings())) as base_url:
        refused(post(base_url, VIEWER, token=token()), "accepts no JWTs")


def test_auth_off_is_development_only(home: tuple[Path, GraphStore], caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValidationError, match="DEALGRAPH_AUTH=off"):
        Settings(auth="off")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(jwt_secret="changethis")
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(jwt_secret="short-but-not-a-placeholder")
    root, store = home
    with caplog.at_level("WARNING"):
        app = create_app(store, root, settings=Settings(auth="off", env="development"))
    assert "AUTHENTICATION IS OFF" in caplog.text
    with serve(app) as base_url:
        body = httpx.post(f"{base_url}/graphql", json={"query": VIEWER}).json()
    assert body == {"data": {"viewer": {"role": "admin", "repId": None}}}


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALGRAPH_JWT_SECRET", "changethis")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.setenv("DEALGRAPH_ENV", "development")
    assert Settings().jwt_secret is not None  # allowed, loudly, on a laptop
