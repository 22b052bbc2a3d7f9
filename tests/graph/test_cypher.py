"""The Neo4j store's Cypher, checked as strings: names from the Schema, values only as parameters."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from graph import cypher
from ontology import load_schema

SCHEMA = load_schema()
# Every builder with every variant it has.
ALL_QUERIES = {
    **{f"schema[{i}]": q for i, q in enumerate(cypher.schema_statements(SCHEMA))},
    **{f"merge_nodes[{n}]": cypher.merge_nodes(t) for n, t in SCHEMA.nodes.items()},
    **{f"node_ids[{n}]": cypher.node_ids(t) for n, t in SCHEMA.nodes.items()},
    **{f"count_nodes[{n}]": cypher.count_nodes(t) for n, t in SCHEMA.nodes.items()},
    **{f"merge_edges[{r}]": cypher.merge_edges(SCHEMA, t) for r, t in SCHEMA.relations.items()},
    **{f"missing_ends[{r}]": cypher.missing_ends(SCHEMA, t) for r, t in SCHEMA.relations.items()},
    **{f"count_edges[{r}]": cypher.count_edges(t) for r, t in SCHEMA.relations.items()},
    **{
        f"neighbours[{r},{d},{a}]": cypher.neighbours(SCHEMA, t, d, a)
        for r, t in SCHEMA.relations.items()
        for d in ("out", "in")
        for a in (False, True)
    },
    **{f"open_deals_page[{b}]": cypher.open_deals_page(SCHEMA, b) for b in (False, True)},
    **{f"count_open_deals[{b}]": cypher.count_open_deals(SCHEMA, b) for b in (False, True)},
    "write_scores": cypher.write_scores(),
    **{f"read_scores[{h},{a}]": cypher.read_scores(h, a) for h in (False, True) for a in (False, True)},
    **{
        f"read_rows[{n},{by}]": cypher.read_rows(SCHEMA, n, by)
        for n, t in SCHEMA.nodes.items()
        for by in ((), (t.key,))
    },
    **{
        f"read_rows[{r},{by}]": cypher.read_rows(SCHEMA, r, by)
        for r in SCHEMA.relations
        for by in ((), ("src",), ("dst",), ("src", "dst"))
    },
    **{f"delete_edges[{r}]": cypher.delete_edges(SCHEMA, t) for r, t in SCHEMA.relations.items()},
    **{f"delete_nodes[{n}]": cypher.delete_nodes(t) for n, t in SCHEMA.nodes.items()},
}
KNOWN_NAMES = {*SCHEMA.nodes, *SCHEMA.relations, *cypher.STORE_LABELS}


def labels_and_types(query: str) -> set[str]:
    """Every `:Name` in node and relationship patterns."""
    return set(re.findall(r"[(\[]\w*:`(\w+)`", query))


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_labels_and_types_come_from_the_schema(name):
    found = labels_and_types(ALL_QUERIES[name])
    assert found, name
    assert found <= KNOWN_NAMES, name


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_values_are_parameters_never_literals(name):
    query = ALL_QUERIES[name]
    # The only string literal any builder writes is the UTC offset dates are read at.
    assert set(re.findall(r"'[^']*'", query)) <= {"'+00:00'"}, query
    assert '"' not in query


def test_quote_accepts_only_plain_identifiers():
    assert cypher.quote("FOR_ACCOUNT") == "`FOR_ACCOUNT`"
    for bad in [
        "Acc`ount",
        "Account) DETACH DELETE n //",
        "",
        "1abc",
        "a-b",
        "a b",
        "x`}) MATCH (n) DETACH DELETE n //",
    ]:
        with pytest.raises(ValueError, match="plain identifier"):
            cypher.quote(bad)


def test_a_schema_name_that_is_not_an_identifier_is_refused():
    bad = replace(SCHEMA.nodes["Account"], name="Account`) DETACH DELETE n //")
    with pytest.raises(ValueError):
        cypher.merge_nodes(bad)


def test_schema_statements_cover_every_node_type():
    statements = cypher.schema_statements(SCHEMA)
    assert all(" IF NOT EXISTS " in s for s in statements)
    for node in SCHEMA.nodes.values():
        assert (
            f"CREATE CONSTRAINT `dealgraph_{node.name.lower()}_{node.key}` IF NOT EXISTS "
            f"FOR (n:`{node.name}`) REQUIRE n.`{node.key}` IS UNIQUE"
        ) in statements
        assert (
            f"CREATE INDEX `dealgraph_{node.name.lower()}_{node.time}` IF NOT EXISTS "
            f"FOR (n:`{node.name}`) ON (n.`{node.time}`)"
        ) in statements
    assert (
        "CREATE CONSTRAINT `dealgraph_dealscore_deal_id` IF NOT EXISTS "
        "FOR (s:`DealScore`) REQUIRE s.`deal_id` IS UNIQUE"
    ) in statements
    names = [re.search(r"(?:CONSTRAINT|INDEX) `(\w+)`", s).group(1) for s in statements]
    assert len(names) == len(set(names)), "constraint and index names must be unique"


def test_merge_nodes():
    assert cypher.merge_nodes(SCHEMA.nodes["Account"]) == (
        "UNWIND $rows AS row\nMERGE (n:`Account` {`id`: row.key})\nSET n += row.props\nRETURN count(n) AS written"
    )


def test_merge_edges_functional_replaces_the_edge_of_the_source():
    assert SCHEMA.relations["FOR_ACCOUNT"].functional
    assert cypher.merge_edges(SCHEMA, SCHEMA.relations["FOR_ACCOUNT"]) == (
        "UNWIND $rows AS row\n"
        "MATCH (s:`Deal` {`id`: row.src})\n"
        "MATCH (d:`Account` {`id`: row.dst})\n"
        "OPTIONAL MATCH (s)-[old:`FOR_ACCOUNT`]->(other) WHERE other <> d\n"
        "DELETE old\n"
        "WITH DISTINCT s, d, row\n"
        "MERGE (s)-[r:`FOR_ACCOUNT`]->(d)\n"
        "SET r += row.props\n"
        "RETURN count(r) AS written"
    )


def test_merge_edges_non_functional_is_keyed_by_src_dst_key():
    assert not SCHEMA.relations["INVOLVES"].functional
    assert cypher.merge_edges(SCHEMA, SCHEMA.relations["INVOLVES"]) == (
        "UNWIND $rows AS row\n"
        "MATCH (s:`Deal` {`id`: row.src})\n"
        "MATCH (d:`Contact` {`id`: row.dst})\n"
        "MERGE (s)-[r:`INVOLVES` {`key`: row.key}]->(d)\n"
        "SET r += row.props\n"
        "RETURN count(r) AS written"
    )


def test_neighbours_without_time_filter():
    assert cypher.neighbours(SCHEMA, SCHEMA.relations["FOR_ACCOUNT"], "out", as_of=False) == (
        "MATCH (m:`Deal`)-[e:`FOR_ACCOUNT`]->(n:`Account`)\n"
        "WHERE m.`id` IN $ids\n"
        "RETURN m.`id` AS near, properties(e) AS edge, properties(n) AS node\n"
        "ORDER BY near, n.`id`"
    )


def test_neighbours_as_of_reads_dates_as_midnight_utc():
    # WORKS_AT is valid from `since` to `until`, both xsd:date; seen from the account ("in").
    assert cypher.neighbours(SCHEMA, SCHEMA.relations["WORKS_AT"], "in", as_of=True) == (
        "MATCH (m:`Account`)<-[e:`WORKS_AT`]-(n:`Contact`)\n"
        "WHERE m.`id` IN $ids\n"
        "  AND (m.`created_at` IS NULL OR m.`created_at` < $as_of)\n"
        "  AND (n.`created_at` IS NULL OR n.`created_at` < $as_of)\n"
        "  AND (e.`since` IS NULL OR datetime({date: e.`since`, timezone: '+00:00'}) < $as_of)\n"
        "  AND (e.`until` IS NULL OR datetime({date: e.`until`, timezone: '+00:00'}) > $as_of)\n"
        "RETURN m.`id` AS near, properties(e) AS edge, properties(n) AS node\n"
        "ORDER BY near, n.`id`"
    )


def test_neighbours_as_of_compares_datetimes_directly():
    query = cypher.neighbours(SCHEMA, SCHEMA.relations["INVOLVES"], "out", as_of=True)
    assert "(e.`created_at` IS NULL OR e.`created_at` < $as_of)" in query
    assert "datetime(" not in query
    assert "valid" not in query


def test_open_deals_page_orders_by_score_then_id():
    assert cypher.open_deals_page(SCHEMA, by_account=True) == (
        "MATCH (d:`Deal`)-[:`FOR_ACCOUNT`]->(:`Account` {`id`: $account_id})\n"
        "WHERE NOT EXISTS { (d)-[:`HAS_OUTCOME`]->() }\n"
        "OPTIONAL MATCH (s:`DealScore` {`deal_id`: d.`id`})\n"
        "WITH d, coalesce(s.`probability`, -1.0) AS rank\n"
        "WHERE $after_rank IS NULL OR rank < $after_rank OR (rank = $after_rank AND d.`id` > $after_id)\n"
        "RETURN properties(d) AS props, rank\n"
        "ORDER BY rank DESC, d.`id` ASC\n"
        "LIMIT $page_size"
    )
    assert cypher.count_open_deals(SCHEMA, by_account=False) == (
        "MATCH (d:`Deal`)\nWHERE NOT EXISTS { (d)-[:`HAS_OUTCOME`]->() }\nRETURN count(d) AS total"
    )


def test_write_scores_keeps_the_previous_probability_and_appends_history():
    query = cypher.write_scores()
    assert query.index("SET s.`previous_probability` = s.`probability`") < query.index("SET s += row.props")
    assert "MERGE (s:`DealScore` {`deal_id`: row.deal_id})" in query
    assert "CREATE (h:`DealScoreHistory`)" in query


def test_store_labels_do_not_clash_with_the_schema():
    assert not set(cypher.STORE_LABELS) & set(SCHEMA.nodes)


def test_full_reads_are_in_a_stable_order():
    # `read_tables` twice on an unchanged graph gives equal lists (the idempotence test compares them).
    assert cypher.read_rows(SCHEMA, "Deal").endswith("ORDER BY n.`id`")
    assert cypher.read_rows(SCHEMA, "INVOLVES").endswith("ORDER BY src, dst, r.`key`")


def test_rows_are_looked_up_by_parameter_lists_only():
    assert cypher.read_rows(SCHEMA, "Deal", ("id",)) == (
        "MATCH (n:`Deal`) WHERE n.`id` IN $id RETURN properties(n) AS props ORDER BY n.`id`"
    )
    query = cypher.read_rows(SCHEMA, "WORKS_AT", ("src", "dst"))
    assert "WHERE s.`id` IN $src AND d.`id` IN $dst" in query and query.endswith("ORDER BY src, dst, r.`key`")
