"""Snapshots of a small hand-built store (on every backend): the time rule, and the PyG and networkx exports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from graph import GraphStore
from graph.snapshot import Snapshot
from tests.graph.backends import BACKENDS, open_test_store

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# Node creation times (the node type's time property); None: undated.
NODES: dict[str, dict[str, datetime | None]] = {
    "Account": {"acme": day(0), "globex": day(0), "initech": day(20)},
    "Contact": {"jo": day(1), "al": day(5), "zoe": None},
    "Rep": {"rita": day(0)},
    "Product": {"core": day(0), "addon": day(12)},
    "Deal": {"d1": day(10), "d2": day(15), "d3": day(25)},
    "Outcome": {"o1": day(30)},
}
# Edges as (src, dst, properties).
EDGES: dict[str, list[tuple[str, str, dict]]] = {
    "SUBSIDIARY_OF": [("acme", "globex", {})],
    "WORKS_AT": [
        ("jo", "acme", {"since": date(2025, 1, 3), "until": date(2025, 1, 18), "title": "CFO"}),
        ("jo", "globex", {"since": date(2025, 1, 18), "title": "CEO"}),
        ("al", "acme", {}),
        ("zoe", "initech", {"since": date(2024, 6, 1)}),
    ],
    "FOR_ACCOUNT": [("d1", "acme", {}), ("d2", "acme", {}), ("d3", "initech", {})],
    "INVOLVES": [
        ("d1", "jo", {"role": "champion", "is_primary": True, "created_at": day(11)}),
        ("d1", "al", {"role": "user", "is_primary": False, "created_at": day(16)}),
        ("d2", "zoe", {"role": "other"}),
    ],
    "FOR_PRODUCT": [
        ("d1", "core", {"quantity": 2, "amount": 200.0, "created_at": day(10)}),
        ("d2", "addon", {"quantity": 1, "amount": 50.0, "created_at": day(15)}),
    ],
    "OWNED_BY": [("d1", "rita", {}), ("d2", "rita", {}), ("d3", "rita", {})],
    "HAS_OUTCOME": [("d1", "o1", {})],
}
# Moments to compare: before everything, exactly on creation times and job dates, between, after.
MOMENTS = [day(-1), day(0), day(1), day(2), day(5), day(10), day(10.5), day(11), day(12), day(16),
           day(17), day(17.5), day(18), day(20), day(25), day(30), day(31), day(400)]


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    s = open_test_store(request.param, tmp_path_factory.mktemp("snap"))
    for label, nodes in NODES.items():
        time = s.schema.nodes[label].time
        rows = []
        for node_id, created in nodes.items():
            row = {"id": node_id, time: created}
            row["result" if label == "Outcome" else "name"] = "won" if label == "Outcome" else node_id.title()
            rows.append(row)
        s.upsert_nodes(label, rows)
    for rel, edges in EDGES.items():
        s.upsert_edges(rel, [{"src": a, "dst": b, **props} for a, b, props in edges])
    yield s
    s.close()


def visible_ids(label: str, t: datetime) -> set[str]:
    return {i for i, created in NODES[label].items() if created is None or created < t}


def store_edges(store: GraphStore, rel: str, t: datetime, direction: str) -> set[tuple[str, str]]:
    r = store.schema.relations[rel]
    label, ids = (r.source, NODES[r.source]) if direction == "out" else (r.target, NODES[r.target])
    found = store.neighbours(label, list(ids), rel, direction, as_of=t)
    if direction == "out":
        return {(near, n.node["id"]) for near, ns in found.items() for n in ns}
    return {(n.node["id"], near) for near, ns in found.items() for n in ns}


def snapshot_edges(snap, rel: str) -> set[tuple[str, str]]:
    return set(zip(snap.edges[rel]["src"], snap.edges[rel]["dst"], strict=True))


@pytest.mark.parametrize("t", MOMENTS, ids=lambda t: t.strftime("%m-%dT%H"))
def test_as_of_nodes_follow_time_rule(store, t):
    snap = store.snapshot().as_of(t)
    for label in NODES:
        assert set(snap.nodes[label]["id"]) == visible_ids(label, t), label


@pytest.mark.parametrize("t", MOMENTS, ids=lambda t: t.strftime("%m-%dT%H"))
def test_as_of_matches_store_neighbours(store, t):
    snap = store.snapshot().as_of(t)
    for rel in EDGES:
        expected = snapshot_edges(snap, rel)
        assert store_edges(store, rel, t, "out") == expected, (rel, "out")
        assert store_edges(store, rel, t, "in") == expected, (rel, "in")


def test_as_of_job_history(store):
    def jobs(t: datetime) -> set[str]:
        works = store.snapshot().as_of(t).edges["WORKS_AT"]
        return set(works[works["src"] == "jo"]["dst"])

    assert jobs(day(2)) == set()  # jo exists, the job starts on day 2 (Jan 3)
    assert jobs(day(2.5)) == {"acme"}
    assert jobs(day(16.9)) == {"acme"}
    assert jobs(day(17)) == set()  # Jan 18 midnight: acme has ended, globex has not started yet
    assert jobs(day(17.1)) == {"globex"}
    assert jobs(day(100)) == {"globex"}


def test_snapshot_as_of_equals_as_of_of_snapshot(store):
    t = day(16)
    a, b = store.snapshot(as_of=t), store.snapshot().as_of(t)
    for label in NODES:
        assert list(a.nodes[label]["id"]) == list(b.nodes[label]["id"])
    for rel in EDGES:
        assert snapshot_edges(a, rel) == snapshot_edges(b, rel)
    assert a.as_of_time == t


def test_outcome_invisible_before_close(store):
    closed = NODES["Outcome"]["o1"]
    for t, visible in [(closed - timedelta(seconds=1), False), (closed, False), (closed + timedelta(seconds=1), True)]:
        snap = store.snapshot().as_of(t)
        assert ("o1" in set(snap.nodes["Outcome"]["id"])) is visible
        assert (("d1", "o1") in snapshot_edges(snap, "HAS_OUTCOME")) is visible


def test_full_snapshot_has_everything(store):
    snap = store.snapshot()
    for label, nodes in NODES.items():
        assert set(snap.nodes[label]["id"]) == set(nodes)
    for rel, edges in EDGES.items():
        assert snapshot_edges(snap, rel) == {(a, b) for a, b, _ in edges}


def test_to_pyg_structure(store):
    snap = store.snapshot().as_of(day(16))
    data = snap.to_pyg()
    assert set(data.edge_types) == {
        ("Contact", "WORKS_AT", "Account"),
        ("Account", "SUBSIDIARY_OF", "Account"),
        ("Deal", "FOR_ACCOUNT", "Account"),
        ("Deal", "INVOLVES", "Contact"),
        ("Deal", "FOR_PRODUCT", "Product"),
        ("Deal", "OWNED_BY", "Rep"),
        ("Deal", "HAS_OUTCOME", "Outcome"),
        ("DealChange", "CHANGE_OF", "Deal"),
        ("Activity", "REGARDS", "Deal"),
        ("Activity", "WITH_CONTACT", "Contact"),
        ("Activity", "AT_ACCOUNT", "Account"),
        ("Activity", "PERFORMED_BY", "Rep"),
    }
    for label in NODES:
        assert data[label].num_nodes == len(visible_ids(label, day(16)))
        assert list(data[label].node_id) == list(snap.node_index(label))
    for (src_label, rel, dst_label) in data.edge_types:
        index = data[src_label, rel, dst_label].edge_index
        pairs = {(data[src_label].node_id[s], data[dst_label].node_id[d]) for s, d in index.t().tolist()}
        assert pairs == snapshot_edges(snap, rel), rel
    # On day 16: d1, d2 exist; the d1-al contact role is created on day 16 itself (not before it).
    assert data["Deal", "INVOLVES", "Contact"].edge_index.shape[1] == 2
    assert data["Deal", "FOR_ACCOUNT", "Account"].edge_index.shape[1] == 2
    assert data["Deal", "HAS_OUTCOME", "Outcome"].edge_index.shape[1] == 0
    assert data.validate()


def test_to_networkx(store):
    g = store.snapshot().to_networkx()
    assert set(g.nodes) == {(label, i) for label, nodes in NODES.items() for i in nodes}
    assert g.nodes["Account", "acme"]["name"] == "Acme"
    assert g.nodes["Account", "acme"]["label"] == "Account"
    assert g.nodes["Outcome", "o1"]["result"] == "won"
    assert "created_at" not in g.nodes["Contact", "zoe"]  # unknown facts are left out
    assert "employees" not in g.nodes["Account", "acme"]
    ends = {rel: (r.source, r.target) for rel, r in store.schema.relations.items()}
    expected = {((ends[rel][0], a), (ends[rel][1], b), rel) for rel, edges in EDGES.items() for a, b, _ in edges}
    assert set(g.edges(keys=True)) == expected
    role = g.get_edge_data(("Deal", "d1"), ("Contact", "jo"), key="INVOLVES")
    assert role["relation"] == "INVOLVES"
    assert role["role"] == "champion"
    assert bool(role["is_primary"]) is True
    job = g.get_edge_data(("Contact", "al"), ("Account", "acme"), key="WORKS_AT")
    assert "since" not in job and "until" not in job


def test_to_networkx_as_of(store):
    g = store.snapshot().as_of(day(12)).to_networkx()
    assert ("Deal", "d2") not in g
    assert g.has_edge(("Deal", "d1"), ("Contact", "jo"), key="INVOLVES")
    assert not g.has_edge(("Deal", "d1"), ("Contact", "al"), key="INVOLVES")
    assert g.graph["as_of"] == day(12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_read_equals_the_rows_read(backend, tmp_path):
    """A backend's own whole-store read (SQLite: tuples in index order) gives the frames the generic read of
    `read_rows` does, an edge whose end is missing left out of both, and the edges' cached end positions are
    their ends' rows."""
    fresh = open_test_store(backend, tmp_path)
    try:
        fresh.upsert_nodes("Deal", [{"id": "d2", "name": "B", "created_at": day(2)}, {"id": "d1", "name": None}])
        fresh.upsert_nodes("Contact", [{"id": "c1", "name": "C"}])
        fresh.upsert_edges("INVOLVES", [
            {"src": "d2", "dst": "c1", "role": "champion", "is_primary": True, "created_at": day(3)},
            {"src": "d1", "dst": "c1", "role": None, "is_primary": False},
            {"src": "d1", "dst": "gone", "role": "user"},  # no such contact: not drawn
        ])
        own, generic = fresh.snapshot(), GraphStore.snapshot(fresh)
        assert set(own.nodes) == set(generic.nodes) and set(own.edges) == set(generic.edges)
        for label, frame in generic.nodes.items():
            pd.testing.assert_frame_equal(own.nodes[label], frame)
        for name, frame in generic.edges.items():
            pd.testing.assert_frame_equal(own.edges[name], frame)
        assert list(own.edges["INVOLVES"]["dst"]) == ["c1", "c1"]
        rebuilt = Snapshot(own.schema, own.nodes, own.edges)  # nothing cached: positions found afresh
        for name in own.edges:
            assert (own.edge_index(name) == rebuilt.edge_index(name)).all()
    finally:
        fresh.close()
