"""Cypher for the Neo4j store's record log (`graph.records`): small functions that return strings.

Records are `DealgraphRecord` nodes; their `seq` comes from one counter node
(`DealgraphRecordSeq`) advanced in the appending transaction, whose write lock
orders concurrent appends as SQLite's AUTOINCREMENT does. Every value is a
`$parameter`.
"""

from __future__ import annotations

from graph.cypher import quote

RECORD_LABEL, SEQ_LABEL = "DealgraphRecord", "DealgraphRecordSeq"
RECORD_LABELS = (RECORD_LABEL, SEQ_LABEL)
_REC, _SEQ = quote(RECORD_LABEL), quote(SEQ_LABEL)


def schema_statements() -> list[str]:
    """One counter node (unique name) and the reading index: idempotent."""
    return [
        f"CREATE CONSTRAINT dealgraph_record_seq_name IF NOT EXISTS FOR (c:{_SEQ}) REQUIRE c.`name` IS UNIQUE",
        f"CREATE INDEX dealgraph_record_kind_seq IF NOT EXISTS FOR (r:{_REC}) ON (r.`kind`, r.`seq`)",
    ]


def append_records() -> str:
    """Append `$rows` ({kind, key, at, body}); returns their seqs in order."""
    return (
        f"MERGE (c:{_SEQ} {{`name`: 'records'}})\n"
        "SET c.`n` = coalesce(c.`n`, 0) + size($rows)\n"
        "WITH c.`n` - size($rows) AS base\n"
        "UNWIND range(0, size($rows) - 1) AS i\n"
        "WITH base, i, $rows[i] AS row\n"
        f"CREATE (r:{_REC} {{`seq`: base + i + 1, `kind`: row.kind, `key`: row.key, `at`: row.at, `body`: row.body}})\n"
        "RETURN r.`seq` AS seq ORDER BY seq"
    )


def read_records() -> str:
    """Records of `$kind` (of `$key` unless null) with seq above `$after`, oldest first, at most `$limit`."""
    return (
        f"MATCH (r:{_REC}) WHERE r.`kind` = $kind AND ($key IS NULL OR r.`key` = $key) AND r.`seq` > $after\n"
        "RETURN r.`seq` AS seq, r.`kind` AS kind, r.`key` AS key, r.`at` AS at, r.`body` AS body\n"
        "ORDER BY seq LIMIT $limit"
    )
