"""Cypher for the Neo4j store's load bookkeeping (`graph.lineage`): small functions that return strings.

Same rules as `graph.cypher`: names only from the Schema or the store's own
labels, every value a `$parameter`. Loads, merges and tombstones are nodes of
the store's own labels; lineage lives on each node and relationship as the
`_load_id`, `_source_file`, `_source_line` properties. A tombstone node holds
the retired record's properties plus its own `tombstone_*` ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.cypher import LOAD_LABEL, MERGE_LABEL, TOMBSTONE_LABEL, quote
from graph.lineage import LOAD_ID, SOURCE_FILE, SOURCE_LINE
from ontology import NodeType, Relation, Schema

_LOAD, _MERGE, _TOMB = quote(LOAD_LABEL), quote(MERGE_LABEL), quote(TOMBSTONE_LABEL)


def _lineage(alias: str) -> str:
    return ", ".join(f"{alias}.{quote(c)} AS {quote(c)}" for c in (LOAD_ID, SOURCE_FILE, SOURCE_LINE))


def _ends(schema: Schema, rel: Relation) -> tuple[NodeType, NodeType]:
    return schema.nodes[rel.source], schema.nodes[rel.target]


def _edge_match(schema: Schema, rel: Relation, src: str = "row.src", dst: str = "row.dst", key: str = "row.key") -> str:
    s, d = _ends(schema, rel)
    return (f"MATCH (s:{quote(s.name)} {{{quote(s.key)}: {src}}})-[r:{quote(rel.name)} {{`key`: {key}}}]->"
            f"(d:{quote(d.name)} {{{quote(d.key)}: {dst}}})")


# ---- loads


def create_load() -> str:
    return f"CREATE (l:{_LOAD}) SET l = $props"


def finish_load() -> str:
    return f"MATCH (l:{_LOAD} {{`load_id`: $load_id}}) SET l += $props"


def interrupt_earlier() -> str:
    """Running loads of the same source and mapping that started before `$load_id` finished."""
    return (
        f"MATCH (l:{_LOAD} {{`load_id`: $load_id}})\n"
        f"MATCH (o:{_LOAD}) WHERE o.`state` = $running AND o.`load_id` <> l.`load_id` AND o.`started` <= l.`started`\n"
        "  AND o.`source` = l.`source` AND o.`mapping` = l.`mapping`\n"
        "SET o.`state` = $interrupted"
    )


def count_batch() -> str:
    """Advance a load's progress; runs in the batch's own transaction."""
    return (f"MATCH (l:{_LOAD} {{`load_id`: $load_id}}) "
            "SET l.`batches` = l.`batches` + 1, l.`rows_written` = l.`rows_written` + $rows")


def loads(one: bool) -> str:
    where = " WHERE l.`load_id` = $load_id" if one else ""
    return f"MATCH (l:{_LOAD}){where} RETURN properties(l) AS props ORDER BY l.`started` DESC, l.`seq` DESC"


# ---- lineage


def node_lineage(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)} {{{quote(node.key)}: $id}}) RETURN {_lineage('n')}"


def edge_lineage(schema: Schema, rel: Relation, direction: str) -> str:
    """The lineage of `rel` edges leaving (`out`) or reaching (`in`) the node `$id`."""
    s, d = _ends(schema, rel)
    near = "s" if direction == "out" else "d"
    near_key = quote(s.key if direction == "out" else d.key)
    return (
        f"MATCH (s:{quote(s.name)})-[r:{quote(rel.name)}]->(d:{quote(d.name)}) WHERE {near}.{near_key} = $id\n"
        f"RETURN s.{quote(s.key)} AS src, d.{quote(d.key)} AS dst, r.`key` AS key, {_lineage('r')}\n"
        "ORDER BY src, dst, key"
    )


def edge_keys(schema: Schema, rel: Relation) -> str:
    s, d = _ends(schema, rel)
    return (f"MATCH (s:{quote(s.name)})-[r:{quote(rel.name)}]->(d:{quote(d.name)}) "
            f"RETURN s.{quote(s.key)} AS src, d.{quote(d.key)} AS dst, r.`key` AS key")


# ---- incremental loads


def _valid_to(rel: Relation) -> str:
    if rel.valid_to is None:
        raise ValueError(f"{rel.name} has no end time (validTo) to close an edge at")
    return rel.valid_to


def end_edges(schema: Schema, rel: Relation) -> str:
    """Close the open `$rows` edges at `$at`, tagging them with the load and reason."""
    return (
        "UNWIND $rows AS row\n"
        + _edge_match(schema, rel) + "\n"
        + f"WHERE r.{quote(_valid_to(rel))} IS NULL\n"
        + f"SET r.{quote(_valid_to(rel))} = $at, r.{quote(LOAD_ID)} = $load_id, "
        + f"r.{quote(SOURCE_FILE)} = $reason, r.{quote(SOURCE_LINE)} = null\n"
        + "RETURN count(r) AS ended"
    )


def _bury(alias: str) -> str:
    return (
        f"CREATE (t:{_TOMB}) SET t += properties({alias}), t.`tombstone_kind` = $kind, t.`tombstone_of` = $name, "
        "t.`tombstone_load_id` = $load_id, t.`tombstone_reason` = $reason, t.`tombstone_at` = $at, "
        "t.`tombstone_seq` = $seq"
    )


def retire_edges_of(schema: Schema, rel: Relation, end: str) -> str:
    """Tombstone and delete every `rel` edge whose `end` (src or dst) is one of `$ids`."""
    s, d = _ends(schema, rel)
    near = s if end == "src" else d
    alias = "s" if end == "src" else "d"
    return (
        "UNWIND $ids AS id\n"
        f"MATCH (s:{quote(s.name)})-[r:{quote(rel.name)}]->(d:{quote(d.name)}) WHERE {alias}.{quote(near.key)} = id\n"
        + _bury("r") + f", t.`tombstone_ident` = [s.{quote(s.key)}, d.{quote(d.key)}, r.`key`]\n"
        + "DELETE r\nRETURN count(t) AS retired"
    )


def retire_edges(schema: Schema, rel: Relation) -> str:
    """Tombstone and delete the `$rows` edges (src, dst, key)."""
    return (
        "UNWIND $rows AS row\n" + _edge_match(schema, rel) + "\n"
        + _bury("r") + ", t.`tombstone_ident` = [row.src, row.dst, row.key]\n"
        + "DELETE r\nRETURN count(t) AS retired"
    )


def retire_nodes(node: NodeType) -> str:
    """Tombstone and delete the nodes `$ids` (their edges are retired first)."""
    return (
        f"UNWIND $ids AS id\nMATCH (n:{quote(node.name)} {{{quote(node.key)}: id}})\n"
        + _bury("n") + f", t.`tombstone_ident` = [n.{quote(node.key)}]\n"
        + "DETACH DELETE n\nRETURN count(t) AS retired"
    )


def tombstones(one: bool) -> str:
    where = " WHERE t.`tombstone_load_id` = $load_id" if one else ""
    return f"MATCH (t:{_TOMB}){where} RETURN properties(t) AS props ORDER BY t.`tombstone_seq`"


# ---- merges


def last_merge_id() -> str:
    return f"MATCH (m:{_MERGE}) RETURN coalesce(max(m.`merge_id`), 0) AS last"


def active_merge() -> str:
    return (f"MATCH (m:{_MERGE} {{`label`: $label, `merged_id`: $merged_id, `state`: $active}}) "
            "RETURN properties(m) AS props")


def create_merge() -> str:
    return f"CREATE (m:{_MERGE}) SET m = $props"


def update_merge() -> str:
    return f"MATCH (m:{_MERGE} {{`merge_id`: $merge_id}}) SET m += $props"


def merges(by_label: bool, by_state: bool) -> str:
    conds = [c for c, on in (("m.`label` = $label", by_label), ("m.`state` = $state", by_state)) if on]
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return f"MATCH (m:{_MERGE}){where} RETURN properties(m) AS props ORDER BY m.`merge_id`"


def get_node_props(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)} {{{quote(node.key)}: $id}}) RETURN properties(n) AS props"


def create_node(node: NodeType) -> str:
    return f"MERGE (n:{quote(node.name)} {{{quote(node.key)}: $id}}) SET n = $props"


def delete_node(node: NodeType) -> str:
    return f"MATCH (n:{quote(node.name)} {{{quote(node.key)}: $id}}) DETACH DELETE n"


def move_edges(schema: Schema, rel: Relation, end: str) -> str:
    """Re-point `rel` edges whose `end` is `$from` to `$to`, keeping their properties.

    The node at `$to` keeps an edge it already has where the relation is
    functional (one per source), and an edge between the two nodes
    themselves is dropped rather than turned into a loop. Returns each
    edge's far end, key and whether it was moved (or dropped).
    """
    s, d = _ends(schema, rel)
    near, other = (s, d) if end == "src" else (d, s)
    t = quote(rel.name)
    old, new = ("(x)-[r:{t}]->(o)", "(y)-[n:{t}]->(o)") if end == "src" else ("(o)-[r:{t}]->(x)", "(o)-[n:{t}]->(y)")
    drop = "o = y" + (f" OR EXISTS {{ (y)-[:{t}]->() }}" if rel.functional and end == "src" else "")
    return (
        f"MATCH (x:{quote(near.name)} {{{quote(near.key)}: $from}}), "
        f"(y:{quote(near.name)} {{{quote(near.key)}: $to}})\n"
        f"MATCH {old.format(t=t)} WHERE o:{quote(other.name)}\n"
        f"WITH y, r, o, ({drop}) AS dropped\n"
        f"FOREACH (_ IN CASE WHEN dropped THEN [] ELSE [1] END | CREATE {new.format(t=t)} SET n = properties(r))\n"
        f"WITH r, dropped, o.{quote(other.key)} AS far, r.`key` AS k\n"
        "DELETE r\n"
        "RETURN far, k, NOT dropped AS moved"
    )


def move_edge_back(schema: Schema, rel: Relation, end: str) -> str:
    """Point one redirected edge (`$src`, `$dst`, `$key`) back at the restored node `$merged`."""
    s, d = _ends(schema, rel)
    label, key = (s, quote(s.key)) if end == "src" else (d, quote(d.key))
    new = "(x)-[n:{t}]->(d)" if end == "src" else "(s)-[n:{t}]->(x)"
    return (
        f"MATCH (x:{quote(label.name)} {{{key}: $merged}})\n"
        + _edge_match(schema, rel, "$src", "$dst", "$key") + "\n"
        + f"CREATE {new.format(t=quote(rel.name))} SET n = properties(r)\n"
        + "DELETE r"
    )


def close_edge(schema: Schema, rel: Relation) -> str:
    """End the edge (`$src`, `$dst`, `$key`) at `$at` if it is still open (a job a merge ordered); lineage stays."""
    return (
        _edge_match(schema, rel, "$src", "$dst", "$key") + "\n"
        + f"WHERE r.{quote(_valid_to(rel))} IS NULL\n"
        + f"SET r.{quote(_valid_to(rel))} = $at\n"
        + "RETURN count(r) AS ended"
    )


def empty_edge_properties(schema: Schema, rel: Relation, props: Sequence[str]) -> str:
    """Empty `props` again on the edge (`$src`, `$dst`, `$key`): the times a merge filled in, on undo.

    Raises:
        ValueError: a name in `props` is not a property of `rel`.
    """
    unknown = [p for p in props if p not in rel.property_names]
    if unknown or not props:
        raise ValueError(f"{rel.name} has no properties {unknown or list(props)} to empty")
    return (_edge_match(schema, rel, "$src", "$dst", "$key") + "\n"
            + "SET " + ", ".join(f"r.{quote(p)} = null" for p in props))


def restore_edge(schema: Schema, rel: Relation) -> str:
    """Write back one relation of a merged record that was set aside (`$props`: key, properties, lineage)."""
    s, d = _ends(schema, rel)
    return (
        f"MATCH (s:{quote(s.name)} {{{quote(s.key)}: $src}}), (d:{quote(d.name)} {{{quote(d.key)}: $dst}})\n"
        f"MERGE (s)-[r:{quote(rel.name)} {{`key`: $key}}]->(d)\n"
        "SET r = $props"
    )


def all_queries(schema: Schema) -> dict[str, str]:
    """Every builder with every variant, by name (the Cypher tests check them all)."""
    out = {"create_load": create_load(), "finish_load": finish_load(), "interrupt_earlier": interrupt_earlier(),
           "count_batch": count_batch(), "loads[one]": loads(True), "loads[all]": loads(False),
           "tombstones[one]": tombstones(True), "tombstones[all]": tombstones(False),
           "last_merge_id": last_merge_id(), "active_merge": active_merge(), "create_merge": create_merge(),
           "update_merge": update_merge()}
    out |= {f"merges[{a},{b}]": merges(a, b) for a in (False, True) for b in (False, True)}
    for name, node in schema.nodes.items():
        out |= {f"node_lineage[{name}]": node_lineage(node), f"retire_nodes[{name}]": retire_nodes(node),
                f"get_node_props[{name}]": get_node_props(node), f"create_node[{name}]": create_node(node),
                f"delete_node[{name}]": delete_node(node)}
    for name, rel in schema.relations.items():
        out |= {f"edge_keys[{name}]": edge_keys(schema, rel), f"retire_edges[{name}]": retire_edges(schema, rel),
                f"restore_edge[{name}]": restore_edge(schema, rel)}
        if rel.valid_to:
            out[f"end_edges[{name}]"] = end_edges(schema, rel)
            out[f"close_edge[{name}]"] = close_edge(schema, rel)
        if rel.property_names:
            out[f"empty_edge_properties[{name}]"] = empty_edge_properties(schema, rel, rel.property_names)
        for d in ("out", "in"):
            out[f"edge_lineage[{name},{d}]"] = edge_lineage(schema, rel, d)
        for end in ("src", "dst"):
            out |= {f"retire_edges_of[{name},{end}]": retire_edges_of(schema, rel, end),
                    f"move_edges[{name},{end}]": move_edges(schema, rel, end),
                    f"move_edge_back[{name},{end}]": move_edge_back(schema, rel, end)}
    return out
