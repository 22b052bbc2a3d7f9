"""The Neo4j store's record log (`graph.records`), a mixin of `Neo4jStore` (its `_run`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from graph import cypher_records as cypher
from graph.records import Record, check_names
from graph.timefmt import parse_iso, to_iso

#: `LIMIT` needs a number: "no limit" is this many.
UNLIMITED = 2**62


class Neo4jRecordLog:
    """`append_records` / `read_records` as `DealgraphRecord` nodes."""

    _records_ready = False
    _run: Callable[..., Any]  # Neo4jStore's
    _read: Callable[..., list[dict[str, Any]]]

    def _records_schema(self) -> None:
        # Created on first use rather than on open: a store that never logs anything gets no extra schema.
        if not self._records_ready:
            for statement in cypher.schema_statements():
                self._run(True, lambda tx, q=statement: tx.run(q).consume(), "creating the record log's index")
            self._records_ready = True

    def append_records(self, kind: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Record]:
        for key, _ in entries:
            check_names(kind, key)
        if not entries:
            return []
        self._records_schema()
        return self._run(True, lambda tx: self._append_in(tx, [(kind, k, b) for k, b in entries]),
                         f"appending {kind} records")

    @staticmethod
    def _append_in(tx: Any, entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Record]:
        """Append (kind, key, body) records inside the caller's transaction (the record schema made before)."""
        for kind, key, _ in entries:
            check_names(kind, key)
        if not entries:
            return []
        at = datetime.now(UTC).replace(microsecond=0)
        rows = [
            {"kind": kind, "key": key, "at": to_iso(at), "body": json.dumps(dict(body), sort_keys=True, default=str)}
            for kind, key, body in entries
        ]
        seqs = [r["seq"] for r in tx.run(cypher.append_records(), rows=rows)]
        pairs = zip(seqs, rows, strict=False)  # a driver may return fewer sequence numbers than rows
        return [Record(int(s), row["kind"], row["key"], at, json.loads(row["body"])) for s, row in pairs]

    def read_records(self, kind: str, key: str | None = None, after: int = 0, limit: int | None = None) -> list[Record]:
        self._records_schema()
        rows = self._read(
            cypher.read_records(),
            f"reading {kind} records",
            kind=kind,
            key=key,
            after=after,
            limit=UNLIMITED if limit is None else limit,
        )
        return [Record(int(r["seq"]), r["kind"], r["key"], parse_iso(r["at"]), json.loads(r["body"])) for r in rows]
