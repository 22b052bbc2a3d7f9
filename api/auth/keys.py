"""API keys: random, shown once, stored as salted scrypt hashes in a small SQLite file under HOME.

A key reads `dgk_<id>_<secret>`: the id is public (it names the key in
`dealgraph keys list` and `revoke`), the secret is 256 random bits that only
the holder has. The file keeps the id, role, bound Rep, expiry, revocation and
`scrypt(secret, salt)`; never the secret.

Example:
    >>> keys = KeyStore(home / "api-keys.db")
    >>> record, secret = keys.create(Role.REP, rep_id="0055g00002evP1w", name="Rita's widget")
    >>> keys.verify(secret).id == record.id
    True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.auth.principal import Principal, Role
from graph.store import InvalidInput, StoreError

PREFIX = "dgk_"
ID_HEX = 12
# scrypt cost: ~40 ms and 16 MiB per hash here; verified keys are cached in memory (see Authenticator).
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
#: How often a server looks at the key file for revocations and new keys.
RELOAD_EVERY_S = 0.5

DDL = """CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, rep_id TEXT, team_scope INTEGER NOT NULL,
    salt BLOB NOT NULL, hash BLOB NOT NULL, scrypt_n INTEGER NOT NULL, scrypt_r INTEGER NOT NULL,
    scrypt_p INTEGER NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT)"""


@dataclass(frozen=True)
class KeyRecord:
    """What the key file says about one key (no secret)."""

    id: str
    name: str
    role: Role
    rep_id: str | None
    team_scope: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    salt: bytes
    hash: bytes
    cost: tuple[int, int, int]

    def state(self, now: datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(self.role, subject=f"key:{self.id}", method="api-key", rep_id=self.rep_id,
                         team_scope=self.team_scope)

    def public(self) -> dict[str, Any]:
        """The fields `keys list --json` prints."""
        return {
            "id": self.id, "name": self.name, "role": self.role.value, "rep_id": self.rep_id,
            "team_scope": self.team_scope, "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None, "state": self.state(),
        }


def split_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of a string shaped like an API key, else None."""
    if not key.startswith(PREFIX) or len(key) < len(PREFIX) + ID_HEX + 2 or key[len(PREFIX) + ID_HEX] != "_":
        return None
    key_id, secret = key[len(PREFIX) : len(PREFIX) + ID_HEX], key[len(PREFIX) + ID_HEX + 1 :]
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


def _hash(secret: str, salt: bytes, cost: tuple[int, int, int]) -> bytes:
    n, r, p = cost
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_LEN, maxmem=128 * 1024 * 1024)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class KeyStore:
    """The API key file. Writers are the CLI; servers read it and notice changes within a second."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rows: dict[str, KeyRecord] = {}
        self._seen: tuple[int, int, bytes] | None = None
        self._checked = 0.0

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
            conn.execute(DDL)
            os.chmod(self.path, 0o600)  # hashes only, but nobody else needs to read them
            return conn
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the API key file {self.path}: {e}") from e

    def create(
        self,
        role: Role,
        *,
        rep_id: str | None = None,
        name: str = "",
        team_scope: bool = False,
        expires_at: datetime | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key; returns its record and the key itself, which is never stored and cannot be shown again.

        Raises:
            InvalidInput: a rep key without a Rep id, a Rep id on another role, or an expiry in the past.
        """
        if role is Role.REP and not rep_id:
            raise InvalidInput("a rep key needs --rep REP_ID: the Rep whose deals it may read")
        if role is not Role.REP and (rep_id or team_scope):
            raise InvalidInput(f"--rep and --team apply to rep keys only; a {role.value} key sees every deal")
        now = datetime.now(UTC).replace(microsecond=0)
        if expires_at is not None and expires_at <= now:
            raise InvalidInput(f"expiry {expires_at.isoformat()} is not in the future")
        key_id, secret = secrets.token_hex(ID_HEX // 2), secrets.token_urlsafe(32)
        salt, cost = os.urandom(16), (SCRYPT_N, SCRYPT_R, SCRYPT_P)
        record = KeyRecord(key_id, name or f"{role.value} key", role, rep_id, team_scope, now, expires_at, None, salt,
                           _hash(secret, salt, cost), cost)
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    (record.id, record.name, role.value, rep_id, int(team_scope), salt, record.hash, *cost,
                     now.isoformat(), expires_at.isoformat() if expires_at else None),
                )
        except sqlite3.Error as e:
            raise StoreError(f"writing the API key file {self.path}: {e}") from e
        finally:
            conn.close()
        return record, f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key for good (servers stop accepting it within a second).

        Raises:
            InvalidInput: no key has this id.
        """
        conn = self._connect()
        try:
            with conn:
                changed = conn.execute(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                    (datetime.now(UTC).replace(microsecond=0).isoformat(), key_id),
                ).rowcount
        except sqlite3.Error as e:
            raise StoreError(f"writing the API key file {self.path}: {e}") from e
        finally:
            conn.close()
        if not changed:
            raise InvalidInput(f"no API key with id {key_id!r} (see `dealgraph keys list`)")
        return self._read()[key_id]

    def list(self) -> list[KeyRecord]:
        """Every key ever created, oldest first (revoked and expired ones included)."""
        return list(self._read().values())

    def _read(self) -> dict[str, KeyRecord]:
        if not self.path.exists():
            return {}
        conn = self._connect()
        try:
            rows = conn.execute("SELECT * FROM api_keys ORDER BY rowid").fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"reading the API key file {self.path}: {e}") from e
        finally:
            conn.close()
        return {
            r[0]: KeyRecord(r[0], r[1], Role(r[2]), r[3], bool(r[4]), datetime.fromisoformat(r[10]), _time(r[11]),
                            _time(r[12]), r[5], r[6], (r[7], r[8], r[9]))
            for r in rows
        }

    def _version(self) -> tuple[int, int, bytes] | None:
        """What changes whenever the file is written: mtime, size and SQLite's own change counter."""
        try:
            with self.path.open("rb") as fh:
                header = fh.read(28)
                st = os.fstat(fh.fileno())
        except FileNotFoundError:
            return None
        # Bytes 24..27 of the header count committed transactions (rollback-journal mode, which this file uses).
        return st.st_mtime_ns, st.st_size, header[24:28]

    def lookup(self, key_id: str, max_age_s: float = RELOAD_EVERY_S) -> KeyRecord | None:
        """The record of `key_id` as the file said at most `max_age_s` ago."""
        now = time.monotonic()
        if now - self._checked >= max_age_s:
            with self._lock:
                if now - self._checked >= max_age_s:
                    seen = self._version()
                    if seen != self._seen:
                        self._rows = self._read() if seen else {}
                        self._seen = seen
                    self._checked = now
        return self._rows.get(key_id)

    def verify(self, key: str) -> KeyRecord | None:
        """The record of an active key whose secret matches, else None (unknown, wrong, revoked or expired)."""
        parts = split_key(key)
        # A key made a moment ago may be newer than the last look at the file: look again before refusing it.
        record = (self.lookup(parts[0]) or self.lookup(parts[0], max_age_s=0)) if parts else None
        if parts is None or record is None or record.state() != "active":
            return None
        return record if hmac.compare_digest(_hash(parts[1], record.salt, record.cost), record.hash) else None
