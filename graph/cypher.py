"""Cypher for the Neo4j store, built from the `Schema`: small functions that return strings.

Every builder takes schema objects (`NodeType`, `Relation`), never a label
typed by a caller, so labels, relationship types and property names in the
text can only be the ontology's. They are quoted as identifiers all the same
(`quote`), and every value - ids, rows, times, cursors - is a `$parameter`.

Scores live outside the ontology's node types: `(:DealScore)` holds the latest
score of a deal (unique `deal_id`, so rescoring updates it in place and keeps
`previous_probability`), `(:DealScoreHistory)` one node per score ever written.

Times are native Neo4j temporal values: `xsd:dateTime` properties are
`DATETIME` in UTC, `xsd:date` ones `DATE`. The store contract's time rule
reads a date as midnight UTC, so a date is compared as
`datetime({date: d, timezone: '+00:00'})`.
"""

from __future__ import annotations

import re

from graph.deals import DealShape
from ontology import NodeType, Relation, Schema

SCORE_LABEL = "DealScore"
HISTORY_LABEL = "DealScoreHistory"
#: Labels the store writes besides the schema's node types (the ledger's books are records: `graph.cypher_records`).
STORE_LABELS = (SCORE_LABEL, HISTORY_LABEL, "DealgraphRecord", "DealgraphRecordSeq")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quote(name: str) -> str:
    """`Account` -> `` `Account` ``: a schema name as a Cypher identifier.

    Raises:
        ValueError: the name is not a plain identifier (it never is one from the ontology).
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain identifier; schema names must be")
    return f"`{name}`"


def _name(*parts: str) -> str:
    """A constraint or index name: `dealgraph_account_id`."""
    return quote("_".join(["dealgraph", *(p.lower() for p in parts)]))


def _time(alias: str, typed: NodeType | Relation, prop: str) -> str:
    """A time property as a DATETIME: dates are midnight UTC (the store contract's rule)."""
    column = f"{alias}.{quote(prop)}"
    if typed.prop(prop).datatype == "date":
        return f"datetime({{date: {column}, timezone: '+00:00'}})"
    return column


def _pattern(rel: Relation, direction: str, near: str = "m", edge: str = "e", far: str = "n") -> str:
    """`(m:Deal)-[e:FOR_ACCOUNT]->(n:Account)` seen from the near end of `direction`."""
    if direction == "out":
        return f"({near}:{quote(rel.source)})-[{edge}:{quote(rel.name)}]->({far}:{quote(rel.target)})"
    return f"({near}:{quote(rel.target)})<-[{edge}:{quote(rel.name)}]-({far}:{quote(rel.source)})"


# ---- schema


def schema_statements(schema: Schema) -> list[str]:
    """Constraints and indexes, idempotent (`IF NOT EXISTS`): run on every open.

    A uniqueness constraint per node type on its key (Community edition has
    uniqueness, not node-key, constraints), a range index on each node type's
    time property, and the score labels' key and ranking indexes.
    """
    out = []
    for node in schema.nodes.values():
        label = quote(node.name)
        out.append(f"CREATE CONSTRAINT {_name(node.name, node.key)} IF NOT EXISTS "
                   f"FOR (n:{label}) REQUIRE n.{quote(node.key)} IS UNIQUE")
        out.append(
            f"CREATE INDEX {_name(node.name, node.time)} IF NOT EXISTS FOR (n:{label}) ON (n.{quote(node.time)})"
        )
    out.append(f"CREATE CONSTRAINT {_name(SCORE_LABEL, 'deal_id')} IF NOT EXISTS "
               f"FOR (s:{quote(SCORE_LABEL)}) REQUIRE s.`deal_id` IS UNIQUE")
    out.append(
        f"CREATE INDEX {_name(SCORE_LABEL, 'probability')} IF NOT EXISTS "
        f"FOR (s:{quote(SCORE_LABEL)}) ON (s.`probability`)"
    )
    out.append(f"CREATE INDEX {_name(HISTORY_LABEL, 'deal_id')} IF NOT EXISTS "
               f"FOR (h:{quote(HISTORY_LABEL)}) ON (h.`deal_id`, h.`scored_at`)")
    return out


AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"


# ---- writes


def merge_nodes(node: NodeType) -> str:
    """Upsert `$rows` (`{key, props}`) by key; `props` holds every property, null removes one."""
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{quote(node.name)} {{{quote(node.key)}: row.key}})\n"
        "SET n += row.props\n"
        "RETURN count(n) AS written"
    )


def merge_edges(schema: Schema, rel: Relation) -> str:
    """Upsert `$rows` (`{src, dst, key, props}`) between existing nodes.

    A functional relation keeps one edge per source: an edge to another target
    is deleted (deleting the null of an unmatched OPTIONAL MATCH does nothing)
    before the new one is merged. Otherwise (src, dst, key) is the
    identity. Rows whose ends do not exist match nothing: `written` counts
    the rest, and the store refuses the batch when they differ.
    """
    src, dst = schema.nodes[rel.source], schema.nodes[rel.target]
    rtype = quote(rel.name)
    head = (
        "UNWIND $rows AS row\n"
        f"MATCH (s:{quote(src.name)} {{{quote(src.key)}: row.src}})\n"
        f"MATCH (d:{quote(dst.name)} {{{quote(dst.key)}: row.dst}})\n"
    )
    if rel.functional:
        body = (
            f"OPTIONAL MATCH (s)-[old:{rtype}]->(other) WHERE other <> d\n"
            "DELETE old\n"
            "WITH DISTINCT s, d, row\n"
            f"MERGE (s)-[r:{rtype}]->(d)\n"
        )
    else:
        body = f"MERGE (s)-[r:{rtype} {{`key`: row.key}}]->(d)\n"
    return head + body + "SET r += row.props\nRETURN count(r) AS written"


def missing_ends(schema: Schema, rel: Relation) -> str:
    """The first few `$rows` whose source or target node does not exist."""
    src, dst = schema.nodes[rel.source], schema.nodes[rel.target]
    return (
        "UNWIND $rows AS row\n"
        f"OPTIONAL MATCH (s:{quote(src.name)} {{{quote(src.key)}: row.src}})\n"
        f"OPTIONAL MATCH (d:{quote(dst.name)} {{{quote(dst.key)}: row.dst}})\n"
        "WITH row, s, d WHERE s IS NULL OR d IS NULL\n"
        "RETURN row.src AS src, row.dst AS dst LIMIT 5"
    )


def write_scores() -> str:
    """Make `$rows` the latest scores (keeping the one before as `previous_probability`) and append them to the history.

    A batch must name each deal at most once (the store splits batches so).
    """
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (s:{quote(SCORE_LABEL)} {{`deal_id`: row.deal_id}})\n"
        "SET s.`previous_probability` = s.`probability`\n"
        "SET s += row.props\n"
        f"CREATE (h:{quote(HISTORY_LABEL)})\n"
        "SET h = row.history\n"
        "RETURN count(h) AS written"
    )


# ---- reads


def node_ids(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)}) RETURN n.{quote(node.key)} AS id"


def count_nodes(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)}) RETURN count(n) AS n"


def count_edges(rel: Relation) -> str:
    return f"MATCH ()-[r:{quote(rel.name)}]->() RETURN count(r) AS n"


def neighbours(schema: Schema, rel: Relation, direction: str, as_of: bool) -> str:
    """Neighbours of the `$ids` over one relation; with `as_of`, only what was known before `$as_of`.

    The time rule: both ends' time properties empty or earlier than `$as_of`,
    the edge's `valid_from` empty or earlier, its `valid_to` empty or later.
    """
    this = schema.nodes[rel.source if direction == "out" else rel.target]
    other = schema.nodes[rel.target if direction == "out" else rel.source]
    conds = [f"m.{quote(this.key)} IN $ids"]
    if as_of:
        conds.append(f"(m.{quote(this.time)} IS NULL OR {_time('m', this, this.time)} < $as_of)")
        conds.append(f"(n.{quote(other.time)} IS NULL OR {_time('n', other, other.time)} < $as_of)")
        if rel.valid_from:
            conds.append(f"(e.{quote(rel.valid_from)} IS NULL OR {_time('e', rel, rel.valid_from)} < $as_of)")
        if rel.valid_to:
            conds.append(f"(e.{quote(rel.valid_to)} IS NULL OR {_time('e', rel, rel.valid_to)} > $as_of)")
    return (
        f"MATCH {_pattern(rel, direction)}\n"
        "WHERE " + "\n  AND ".join(conds) + "\n"
        f"RETURN m.{quote(this.key)} AS near, properties(e) AS edge, properties(n) AS node\n"
        f"ORDER BY near, n.{quote(other.key)}"
    )


def _open_deals_match(schema: Schema, by_account: bool) -> str:
    shape = DealShape.of(schema)  # open: no edge of the closing relation (`graph.deals`)
    match = f"MATCH (d:{quote(shape.deal.name)})"
    if by_account:
        account = schema.nodes[shape.account.target]
        match += f"-[:{quote(shape.account.name)}]->(:{quote(account.name)} {{{quote(account.key)}: $account_id}})"
    return match + f"\nWHERE NOT EXISTS {{ (d)-[:{quote(shape.outcome.name)}]->() }}\n"


def count_open_deals(schema: Schema, by_account: bool) -> str:
    return _open_deals_match(schema, by_account) + "RETURN count(d) AS total"


def open_deals_page(schema: Schema, by_account: bool) -> str:
    """One keyset page of open deals: by score (unscored rank -1.0) descending, then id.

    `$after_rank` / `$after_id` are the last row of the previous page (nulls for the first).
    """
    key = f"d.{quote(DealShape.of(schema).deal.key)}"
    return (
        _open_deals_match(schema, by_account)
        + f"OPTIONAL MATCH (s:{quote(SCORE_LABEL)} {{`deal_id`: {key}}})\n"
        + "WITH d, coalesce(s.`probability`, -1.0) AS rank\n"
        + f"WHERE $after_rank IS NULL OR rank < $after_rank OR (rank = $after_rank AND {key} > $after_id)\n"
        + "RETURN properties(d) AS props, rank\n"
        + f"ORDER BY rank DESC, {key} ASC\n"
        + "LIMIT $page_size"
    )


def read_scores(history: bool, all_deals: bool) -> str:
    """The latest scores (or with `history` every score, in the order written) of the deals `$ids` (or all)."""
    where = "" if all_deals else " WHERE s.`deal_id` IN $ids"
    order = "s.`seq`" if history else "s.`deal_id`"
    label = quote(HISTORY_LABEL if history else SCORE_LABEL)
    return f"MATCH (s:{label}){where} RETURN properties(s) AS props ORDER BY {order}"


def read_rows(schema: Schema, name: str, by: tuple[str, ...] = ()) -> str:
    """Rows of a node type or relation, in identity order; `by` names the columns filtered by `$<column>` lists
    (a node type's key, or an edge's `src` / `dst`)."""
    if name in schema.nodes:
        node = schema.nodes[name]
        where = f" WHERE n.{quote(node.key)} IN ${node.key}" if by else ""
        return f"MATCH (n:{quote(node.name)}){where} RETURN properties(n) AS props ORDER BY n.{quote(node.key)}"
    rel = schema.relations[name]
    ends = {"src": schema.nodes[rel.source], "dst": schema.nodes[rel.target]}
    conds = [f"{c[0]}.{quote(ends[c].key)} IN ${c}" for c in by]
    return (
        f"MATCH {_pattern(rel, 'out', 's', 'r', 'd')}"
        + (f" WHERE {' AND '.join(conds)}" if conds else "")
        + f" RETURN s.{quote(ends['src'].key)} AS src, d.{quote(ends['dst'].key)} AS dst, properties(r) AS props"
        " ORDER BY src, dst, r.`key`"
    )


def delete_edges(schema: Schema, rel: Relation) -> str:
    """Delete the `$rows` edges ({src, dst, key})."""
    s, d = schema.nodes[rel.source], schema.nodes[rel.target]
    return (
        f"UNWIND $rows AS row\nMATCH (s:{quote(s.name)} {{{quote(s.key)}: row.src}})-[r:{quote(rel.name)}]->"
        f"(d:{quote(d.name)} {{{quote(d.key)}: row.dst}})\nWHERE r.`key` = row.key\nDELETE r"
    )


def delete_nodes(node: NodeType) -> str:
    """Delete the nodes `$ids` (the ledger deletes their edges first, naming each)."""
    return f"UNWIND $ids AS id\nMATCH (n:{quote(node.name)} {{{quote(node.key)}: id}})\nDETACH DELETE n"
