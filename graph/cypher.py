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

from ontology import NodeType, Relation, Schema

SCORE_LABEL = "DealScore"
HISTORY_LABEL = "DealScoreHistory"
#: Load bookkeeping (`graph.lineage`, Cypher in `graph.cypher_books`).
LOAD_LABEL, MERGE_LABEL, TOMBSTONE_LABEL = "DealgraphLoad", "DealgraphMerge", "DealgraphTombstone"
#: Labels the store writes besides the schema's node types.
STORE_LABELS = (SCORE_LABEL, HISTORY_LABEL, LOAD_LABEL, MERGE_LABEL, TOMBSTONE_LABEL)
#: The relations `open_deals` needs: a deal is open while it has no outcome.
OUTCOME_RELATION, ACCOUNT_RELATION = "HAS_OUTCOME", "FOR_ACCOUNT"

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
    out.append(f"CREATE CONSTRAINT {_name(LOAD_LABEL, 'load_id')} IF NOT EXISTS "
               f"FOR (l:{quote(LOAD_LABEL)}) REQUIRE l.`load_id` IS UNIQUE")
    out.append(f"CREATE CONSTRAINT {_name(MERGE_LABEL, 'merge_id')} IF NOT EXISTS "
               f"FOR (m:{quote(MERGE_LABEL)}) REQUIRE m.`merge_id` IS UNIQUE")
    out.append(f"CREATE INDEX {_name(TOMBSTONE_LABEL, 'load_id')} IF NOT EXISTS "
               f"FOR (t:{quote(TOMBSTONE_LABEL)}) ON (t.`tombstone_load_id`)")
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


def get_nodes(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)}) WHERE n.{quote(node.key)} IN $ids RETURN properties(n) AS props"


def node_ids(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)}) RETURN n.{quote(node.key)} AS id"


def all_nodes(node: NodeType) -> str:
    """Every node of the type, in key order (so two reads of an unchanged graph are equal)."""
    return f"MATCH (n:{quote(node.name)}) RETURN properties(n) AS props ORDER BY n.{quote(node.key)}"


def all_edges(schema: Schema, rel: Relation) -> str:
    src, dst = schema.nodes[rel.source], schema.nodes[rel.target]
    return (
        f"MATCH {_pattern(rel, 'out', 's', 'r', 'd')} "
        f"RETURN s.{quote(src.key)} AS src, d.{quote(dst.key)} AS dst, properties(r) AS props "
        "ORDER BY src, dst, r.`key`"
    )


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
    deal = schema.nodes[schema.relations[OUTCOME_RELATION].source]
    match = f"MATCH (d:{quote(deal.name)})"
    if by_account:
        account_rel = schema.relations[ACCOUNT_RELATION]
        account = schema.nodes[account_rel.target]
        match += f"-[:{quote(account_rel.name)}]->(:{quote(account.name)} {{{quote(account.key)}: $account_id}})"
    return match + f"\nWHERE NOT EXISTS {{ (d)-[:{quote(OUTCOME_RELATION)}]->() }}\n"


def count_open_deals(schema: Schema, by_account: bool) -> str:
    return _open_deals_match(schema, by_account) + "RETURN count(d) AS total"


def open_deals_page(schema: Schema, by_account: bool) -> str:
    """One keyset page of open deals: by score (unscored rank -1.0) descending, then id.

    `$after_rank` / `$after_id` are the last row of the previous page (nulls for the first).
    """
    deal = schema.nodes[schema.relations[OUTCOME_RELATION].source]
    key = f"d.{quote(deal.key)}"
    return (
        _open_deals_match(schema, by_account)
        + f"OPTIONAL MATCH (s:{quote(SCORE_LABEL)} {{`deal_id`: {key}}})\n"
        + "WITH d, coalesce(s.`probability`, -1.0) AS rank\n"
        + f"WHERE $after_rank IS NULL OR rank < $after_rank OR (rank = $after_rank AND {key} > $after_id)\n"
        + "RETURN properties(d) AS props, rank\n"
        + f"ORDER BY rank DESC, {key} ASC\n"
        + "LIMIT $page_size"
    )


def latest_scores() -> str:
    return f"MATCH (s:{quote(SCORE_LABEL)}) WHERE s.`deal_id` IN $ids RETURN properties(s) AS props"


def score_history(all_deals: bool) -> str:
    where = "" if all_deals else " WHERE h.`deal_id` IN $ids"
    return (
        f"MATCH (h:{quote(HISTORY_LABEL)}){where} RETURN properties(h) AS props "
        "ORDER BY h.`scored_at`, h.`seq`"
    )
