"""The store's keyed, append-only record log: audit events, alerts and their deliveries.

Owners' bookkeeping (`gnn/owners/`) lives once above the store contract, as load
bookkeeping does: each backend only appends records and reads them back in
the order they were written. A record is never updated or deleted, so what
the log says was true when it was written stays readable as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Longest a record's kind or key may be (they are indexed; the body carries the rest).
MAX_NAME = 200


@dataclass(frozen=True)
class Record:
    """One appended record.

    Attributes:
        seq: its position in the store's log (1, 2, ...: increasing in the order of writing, across kinds).
        kind: what it is (e.g. `audit`), chosen by the writer.
        key: what it is about (e.g. a deal id; "" for nothing in particular), for reading one key's records.
        at: when the store appended it (UTC).
        body: its content, any JSON-serialisable mapping.
    """

    seq: int
    kind: str
    key: str
    at: datetime
    body: Mapping[str, Any]


def check_names(kind: str, key: str) -> None:
    """Refuse kinds and keys that would not index well (the store's `InvalidInput`)."""
    from graph.store import InvalidInput

    if not kind or len(kind) > MAX_NAME or len(key) > MAX_NAME:
        raise InvalidInput(f"a record needs a kind of 1-{MAX_NAME} characters and a key of at most {MAX_NAME}")
