"""`dealgraph keys create|list|revoke|token` through the real command line (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.auth import KeyStore
from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import open_store, sqlite_url
from tests.api.book_data import RITA, build_book

SECRET = "test-only-hs256-secret-0123456789abcdef-0123456789"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    build_book(store)
    store.close()
    monkeypatch.setenv("DEALGRAPH_STORE", sqlite_url(tmp_path / "graph.db"))
    monkeypatch.setenv("DEALGRAPH_HOME", str(tmp_path / "home"))
    return tmp_path


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_list_revoke(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "keys", "create", "--role", "rep", "--rep", RITA, "--name", "Rita's widget", "--json")
    assert code == EXIT_OK
    created = json.loads(out)
    assert created["role"] == "rep" and created["rep_id"] == RITA and created["state"] == "active"
    assert created["key"].startswith(f"dgk_{created['id']}_")
    assert KeyStore(workdir / "home" / "api-keys.db").verify(created["key"]).rep_id == RITA

    code, out, _ = run(capsys, "keys", "create", "--role", "admin")
    assert code == EXIT_OK
    assert "only time the key is shown" in out and '{"Authorization": "Bearer dgk_' in out

    code, out, _ = run(capsys, "keys", "list", "--json")
    listed = json.loads(out)["keys"]
    assert [k["role"] for k in listed] == ["rep", "admin"]
    assert all("key" not in k and "hash" not in k for k in listed)  # never the secret, never the hash

    code, out, _ = run(capsys, "keys", "revoke", created["id"])
    assert code == EXIT_OK and f"revoked rep key {created['id']}" in out
    _, out, _ = run(capsys, "keys", "list")
    assert "revoked" in out and "Rita's widget" in out
    assert KeyStore(workdir / "home" / "api-keys.db").verify(created["key"]) is None


def test_bad_input_exits_1_and_writes_nothing(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    cases = [
        (("keys", "create", "--role", "rep"), "needs --rep"),
        (("keys", "create", "--role", "rep", "--rep", "005-typo"), "no Rep '005-typo'"),
        (("keys", "create", "--role", "admin", "--rep", RITA), "rep keys only"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "0"), "must be more than 0"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "-1"), "more than 0 and at most 3650 (got -1)"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "-0.5"), "must be more than 0"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "nan"), "must be more than 0"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "inf"), "must be more than 0"),
        (("keys", "create", "--role", "admin", "--expires-in-days", "1e9"), "at most 3650"),
        (("keys", "create", "--role", "rep", "--rep", "005-typo", "--expires-in-days", "0"), "must be more than 0"),
        (("keys", "revoke", "0123456789ab"), "no API key with id"),
        (("keys", "token", "--role", "admin"), "DEALGRAPH_JWT_SECRET is not set"),
    ]
    for args, message in cases:
        code, _, err = run(capsys, *args)
        assert code == EXIT_BAD_INPUT and message in err, (args, err)
    assert KeyStore(workdir / "home" / "api-keys.db").list() == []


def test_token_ttl_must_be_within_the_servers_jwt_lifetime(workdir: Path, capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALGRAPH_JWT_SECRET", SECRET)
    monkeypatch.setenv("DEALGRAPH_JWT_MAX_LIFETIME_S", "600")
    for ttl in ("0", "-5", "601", str(10**12)):
        code, out, err = run(capsys, "keys", "token", "--role", "admin", "--ttl", ttl)
        assert code == EXIT_BAD_INPUT and "--ttl must be more than 0 and at most 600" in err and not out, (ttl, err)
    code, out, _ = run(capsys, "keys", "token", "--role", "admin", "--ttl", "600")
    assert code == EXIT_OK and out.count(".") == 2


def test_serve_banner_says_whether_the_widget_may_be_framed(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli_keys import widget_banner
    from api.settings import Settings

    monkeypatch.delenv("DEALGRAPH_WIDGET_FRAME_ANCESTORS", raising=False)
    assert "no page may frame it yet" in widget_banner(Settings())
    assert "DEALGRAPH_WIDGET_FRAME_ANCESTORS" in widget_banner(Settings())
    crm = Settings(widget_frame_ancestors=["https://acme.lightning.force.com"])
    assert widget_banner(crm).endswith("may be framed by https://acme.lightning.force.com")


def test_token_mints_a_jwt_for_the_configured_secret(workdir: Path, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from api.auth import TokenVerifier

    monkeypatch.setenv("DEALGRAPH_JWT_SECRET", SECRET)
    code, out, _ = run(capsys, "keys", "token", "--role", "rep", "--rep", RITA, "--team", "--ttl", "60", "--json")
    assert code == EXIT_OK
    principal = TokenVerifier(hs256_secret=SECRET).verify(json.loads(out)["token"])
    assert principal.rep_id == RITA and principal.team_scope and principal.role.value == "rep"


def test_demo_prints_a_fresh_admin_key_and_revokes_the_last_one(workdir: Path) -> None:
    from api.cli_keys import demo_key, serve_banner
    from api.settings import Settings

    settings = Settings()
    assert "No API keys yet" in serve_banner(settings)
    first, second = demo_key(settings), demo_key(settings)
    key_of = [line.strip() for text in (first, second) for line in text.splitlines() if line.strip().startswith("dgk_")]
    assert len(key_of) == 2 and key_of[0] != key_of[1]
    assert f'{{"Authorization": "Bearer {key_of[1]}"}}' in second
    keys = KeyStore(workdir / "home" / "api-keys.db")
    assert keys.verify(key_of[0]) is None and keys.verify(key_of[1]).role.value == "admin"
    assert "(1 active key:" in serve_banner(settings)
