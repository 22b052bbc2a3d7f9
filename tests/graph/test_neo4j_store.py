"""What only Neo4jStore promises, in two parts.

Offline (always): store URLs, value conversion, and the store's use of the
driver, checked against a recording fake driver - managed write transactions
for writes, read transactions for reads, batching, atomic refusal of
dangling edges, values only as parameters. The fake executes no Cypher: what
the queries do is checked by the contract suite on a real server.

Live (with `DEALGRAPH_TEST_NEO4J_URI`, see `backends.py`): how times are
stored, the constraints created on open, dangling edges, the score history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import neo4j.time
import pytest
from neo4j.exceptions import ServiceUnavailable

from graph import InvalidInput, ScoreRecord, StoreError, cypher, cypher_records
from graph.explanation import Explanation
from graph.neo4j import DanglingEdges, Neo4jStore, from_db, parse_url, redact, to_db
from graph.store import ChangeSet
from ontology import load_schema
from tests.graph.backends import needs_neo4j, open_test_store

SCHEMA = load_schema()
T = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

# ---- URLs


@pytest.mark.parametrize(("url", "expected"), [
    ("neo4j://localhost:7687", ("neo4j://localhost:7687", None, None, None)),
    ("bolt://db.internal", ("bolt://db.internal", None, None, None)),
    ("neo4j+s://x.databases.neo4j.io/crm", ("neo4j+s://x.databases.neo4j.io", "crm", None, None)),
    ("neo4j://neo4j:p%40ss%3Aword@h:7687/neo4j?policy=eu", ("neo4j://h:7687?policy=eu", "neo4j", "neo4j", "p@ss:word")),
])
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["neo4j://", "neo4j:///db", "neo4j://h/a/b", "http://h:7474"])
def test_parse_url_refuses(url):
    with pytest.raises(InvalidInput):
        parse_url(url)


def test_redact_hides_the_password_only():
    assert redact("neo4j://neo4j:secret@h:7687/db") == "neo4j://neo4j:***@h:7687/db"
    assert redact("neo4j://h:7687") == "neo4j://h:7687"


# ---- values


def test_to_db_follows_the_schema_datatypes():
    plus_two = timezone(timedelta(hours=2))
    assert to_db("dateTime", datetime(2025, 3, 4, 12, 15, 30, 999, tzinfo=plus_two)) == datetime(
        2025, 3, 4, 10, 15, 30, tzinfo=UTC)
    assert to_db("dateTime", datetime(2025, 3, 4, 0, 30)) == datetime(2025, 3, 4, 0, 30, tzinfo=UTC)  # naive is UTC
    # as SQLite reads back
    assert to_db("dateTime", "2025-03-04T10:15:30Z") == datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)
    assert to_db("date", "2024-02-29") == date(2024, 2, 29)
    assert to_db("date", datetime(2024, 2, 29, 23, 0, tzinfo=timezone(timedelta(hours=-2)))) == date(2024, 3, 1)
    assert to_db("boolean", 1) is True  # SQLite hands booleans back as 0/1
    assert to_db("integer", 12.0) == 12
    assert to_db("decimal", 3) == 3.0
    assert to_db("string", "x") == "x"
    assert to_db("string", None) is None


@pytest.mark.parametrize(("datatype", "value"), [
    ("string", {"not": "bindable"}), ("integer", 1.5), ("boolean", "yes"), ("dateTime", "not a time"), ("decimal", [1]),
])
def test_to_db_refuses_values_neo4j_cannot_hold(datatype, value):
    with pytest.raises(StoreError, match=f"xsd:{datatype}"):
        to_db(datatype, value)


def test_from_db_gives_the_contract_text():
    assert from_db(neo4j.time.DateTime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)) == "2025-03-04T10:15:30Z"
    assert from_db(neo4j.time.Date(2024, 2, 29)) == "2024-02-29"
    assert from_db(True) is True
    assert from_db(None) is None


# ---- the store against a recording fake driver


class FakeResult:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def consume(self) -> None:
        pass

    def single(self, strict: bool = False) -> dict:
        return self.rows[0]

    def data(self) -> list[dict]:
        return self.rows

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)


class FakeDriver:
    """Records every statement with its transaction kind; `respond` makes up result rows."""

    def __init__(self, respond: Callable[[str, dict], list[dict]] | None = None, fail: Exception | None = None) -> None:
        self.log: list[tuple[str, str, dict]] = []
        self.transactions: list[str] = []
        self.sessions: list[dict] = []
        self.respond = respond or self.default
        self.fail = fail
        self.execute_query_bookmark_manager = object()

    @staticmethod
    def default(query: str, params: dict) -> list[dict]:
        if "AS written" in query:
            return [{"written": len(params["rows"])}]
        if "count(" in query:
            return [{"n": 0, "total": 0}]
        return []

    def execute_query(self, query: str, parameters: dict | None = None, **kwargs: Any) -> None:
        self.log.append(("auto", query, parameters or {}))

    def session(self, **config: Any) -> FakeDriver._Session:
        self.sessions.append(config)
        return FakeDriver._Session(self)

    def close(self) -> None:
        pass

    class _Session:
        def __init__(self, driver: FakeDriver) -> None:
            self.driver = driver

        def __enter__(self) -> FakeDriver._Session:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def _tx(self, kind: str, work: Callable) -> Any:
            if self.driver.fail is not None:
                raise self.driver.fail
            self.driver.transactions.append(kind)
            return work(FakeDriver._Tx(self.driver, kind))

        def execute_write(self, work: Callable) -> Any:
            return self._tx("write", work)

        def execute_read(self, work: Callable) -> Any:
            return self._tx("read", work)

    class _Tx:
        def __init__(self, driver: FakeDriver, kind: str) -> None:
            self.driver, self.kind = driver, kind

        def run(self, query: str, parameters: dict | None = None, **kwargs: Any) -> FakeResult:
            params = {**(parameters or {}), **kwargs}
            self.driver.log.append((self.kind, query, params))
            return FakeResult(self.driver.respond(query, params))


def fake_store(driver: FakeDriver, batch_size: int = 2) -> Neo4jStore:
    store = Neo4jStore(driver, SCHEMA, database="crm", batch_size=batch_size)
    store._records_schema()  # made on first use, in transactions of its own
    driver.log.clear()
    driver.transactions.clear()
    return store


def test_open_creates_constraints_and_indexes_from_the_schema():
    driver = FakeDriver()
    Neo4jStore(driver, SCHEMA)
    assert [q for kind, q, _ in driver.log] == [*cypher.schema_statements(SCHEMA), cypher.AWAIT_INDEXES]
    assert {kind for kind, _, _ in driver.log} == {"auto"}


def test_upsert_nodes_is_one_write_transaction_of_batches():
    driver = FakeDriver()
    store = fake_store(driver, batch_size=2)
    rows = [{"id": f"a{i}", "name": f"A{i}", "created_at": T} for i in range(5)] + [{"id": "a0", "name": "last wins"}]
    assert store.upsert_nodes("Account", rows) == 6
    assert driver.transactions == ["write"]
    statements = [(q, p) for _, q, p in driver.log]
    # 5 distinct ids, 2 per batch
    assert [q for q, _ in statements] == [cypher.merge_nodes(SCHEMA.nodes["Account"])] * 3
    sent = [row for _, p in statements for row in p["rows"]]
    assert [r["key"] for r in sent] == ["a1", "a2", "a3", "a4", "a0"]
    last = sent[-1]["props"]
    assert last["name"] == "last wins" and last["created_at"] is None  # every property sent: null removes it
    assert set(last) == set(SCHEMA.nodes["Account"].property_names)
    assert sent[0]["props"]["created_at"] == T
    assert all(s["database"] == "crm" and s["bookmark_manager"] is driver.execute_query_bookmark_manager
               for s in driver.sessions)


def test_a_bad_value_fails_before_anything_is_sent():
    driver = FakeDriver()
    store = fake_store(driver)
    with pytest.raises(StoreError):
        store.upsert_nodes("Account", [{"id": "a1", "name": "ok"}, {"id": "a2", "name": {"not": "bindable"}}])
    assert driver.log == [] and driver.transactions == []


def test_ids_stay_parameters():
    hostile = "x'}) MATCH (n) DETACH DELETE n //"
    driver = FakeDriver()
    store = fake_store(driver)
    store.upsert_nodes("Account", [{"id": hostile, "name": hostile}])
    store.upsert_edges("SUBSIDIARY_OF", [{"src": hostile, "dst": hostile}])
    store.get_nodes("Account", [hostile])
    store.neighbours("Account", [hostile], "SUBSIDIARY_OF", as_of=T)
    store.open_deals_page(5, after=(0.5, hostile), account_id=hostile)
    store.latest_scores([hostile])
    assert driver.log
    for _, query, _ in driver.log:
        assert hostile not in query
        assert "DETACH" not in query
    assert any(hostile in repr(params) for _, _, params in driver.log)


def test_unknown_label_or_relation_sends_nothing():
    driver = FakeDriver()
    store = fake_store(driver)
    with pytest.raises(KeyError):
        store.upsert_nodes("Account`) DETACH DELETE n //", [{"id": "a"}])
    with pytest.raises(KeyError):
        store.neighbours("Deal", ["d1"], "NOT_A_RELATION")
    assert driver.log == []


def test_dangling_edges_roll_the_call_back():
    def respond(query: str, params: dict) -> list[dict]:
        if "AS written" in query:
            return [{"written": len(params["rows"]) - 1}]
        if "IS NULL OR d IS NULL" in query:
            return [{"src": "d9", "dst": "nowhere"}]
        return []

    driver = FakeDriver(respond)
    store = fake_store(driver)
    with pytest.raises(DanglingEdges, match=r"FOR_ACCOUNT: 1 edge\(s\) name a node that does not exist.*'nowhere'"):
        store.upsert_edges("FOR_ACCOUNT", [{"src": "d1", "dst": "a1"}, {"src": "d9", "dst": "nowhere"}])
    assert driver.transactions == ["write"]  # the missing-ends query ran inside the failing transaction
    assert [q for _, q, _ in driver.log] == [cypher.merge_edges(SCHEMA, SCHEMA.relations["FOR_ACCOUNT"]),
                                              cypher.missing_ends(SCHEMA, SCHEMA.relations["FOR_ACCOUNT"])]


def test_functional_edges_keep_the_last_row_per_source():
    driver = FakeDriver()
    store = fake_store(driver, batch_size=10)
    store.upsert_edges("FOR_ACCOUNT", [{"src": "d1", "dst": "a1"}, {"src": "d1", "dst": "a2"},
                                       {"src": "d2", "dst": "a1"}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c1", "role": "user"},
                                    {"src": "d1", "dst": "c1", "role": "champion"},
                                    {"src": "d1", "dst": "c1", "key": "2", "role": "user"}])
    (_, _, functional), (_, _, keyed) = driver.log
    assert [(r["src"], r["dst"]) for r in functional["rows"]] == [("d1", "a2"), ("d2", "a1")]
    assert [(r["key"], r["props"]["role"]) for r in keyed["rows"]] == [("", "champion"), ("2", "user")]


def test_reads_run_in_read_transactions_and_come_back_as_contract_rows():
    stored = {"id": "a1", "name": "Acme", "created_at": neo4j.time.DateTime(2025, 3, 4, 10, 15, 30, tzinfo=UTC),
              "extra": 1}

    def respond(query: str, params: dict) -> list[dict]:
        return [{"props": stored}] if "RETURN properties(n) AS props" in query else []

    driver = FakeDriver(respond)
    store = fake_store(driver)
    got = store.get_nodes("Account", ["a1", "a1"])
    assert got == {"a1": {"id": "a1", **{p: None for p in SCHEMA.nodes["Account"].property_names},
                          "name": "Acme", "created_at": "2025-03-04T10:15:30Z"}}
    assert driver.log[-1][2] == {"id": ["a1"]}
    assert driver.transactions == ["read"]


def test_neighbours_sends_as_of_at_stored_precision():
    driver = FakeDriver()
    store = fake_store(driver)
    store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=datetime(2024, 1, 1, 0, 0, 0, 500, tzinfo=UTC))
    [(kind, query, params)] = driver.log
    assert kind == "read" and query == cypher.neighbours(SCHEMA, SCHEMA.relations["WORKS_AT"], "out", True)
    assert params == {"ids": ["c1"], "as_of": datetime(2024, 1, 1, tzinfo=UTC)}
    with pytest.raises(ValueError):
        store.neighbours("Account", ["a1"], "FOR_ACCOUNT", "out")


def test_open_deals_page_parameters_and_rows():
    def respond(query: str, params: dict) -> list[dict]:
        if "count(d)" in query:
            return [{"total": 3}]
        return [{"props": {"id": "d3", "name": "x"}, "rank": 0.9}, {"props": {"id": "d1", "name": "y"}, "rank": 0.5}]

    driver = FakeDriver(respond)
    store = fake_store(driver)
    page = store.open_deals_page(first=1, after=(0.95, "d0"), account_id="a1")
    assert [d["id"] for d in page.deals] == ["d3"] and page.deals[0]["_rank"] == 0.9
    assert page.has_next and page.total == 3
    assert driver.transactions == ["read"]  # the total and the page in one transaction
    assert driver.log[-1][2] == {"account_id": "a1", "page_size": 2, "after_rank": 0.95, "after_id": "d0"}


def test_write_scores_splits_repeated_deals_into_ordered_rounds():
    driver = FakeDriver()
    store = fake_store(driver, batch_size=10)
    records = [ScoreRecord("d1", 0.2, "v1", T, "low"), ScoreRecord("d2", 0.4, "v1", T, "medium"),
               ScoreRecord("d1", 0.7, "v2", T + timedelta(seconds=1, microseconds=5), "high", Explanation("m"))]
    assert store.write_scores(records) == 3
    assert driver.transactions == ["write"]
    rounds = [[(r["deal_id"], r["props"]["probability"]) for r in p["rows"]] for _, _, p in driver.log]
    assert rounds == [[("d1", 0.2), ("d2", 0.4)], [("d1", 0.7)]]
    last = driver.log[-1][2]["rows"][0]
    assert last["props"]["scored_at"] == T + timedelta(seconds=1)
    assert json.loads(last["props"]["explanation"])["method"] == "m"
    assert last["history"]["seq"] > driver.log[0][2]["rows"][0]["history"]["seq"]


def test_driver_errors_become_store_errors():
    driver = FakeDriver()
    store = fake_store(driver)
    driver.fail = ServiceUnavailable("gone")
    with pytest.raises(StoreError, match="Neo4j reading Account: gone") as info:
        store.get_nodes("Account", ["a1"])
    assert isinstance(info.value.__cause__, ServiceUnavailable)


def test_a_load_batch_carries_lineage_and_its_progress_in_one_transaction():
    driver = FakeDriver()
    store = fake_store(driver, batch_size=10)
    rows = [{"id": "a1", "name": "A", "_source_file": "Account.csv", "_source_line": 2}]
    store.upsert_nodes("Account", rows, load_id="L1")
    assert driver.transactions == ["write"]
    (_, merge, params), (_, progress, counted) = driver.log
    assert merge == cypher.merge_nodes(SCHEMA.nodes["Account"]) and progress == cypher_records.append_records()
    lineage = {"_load_id": "L1", "_source_file": "Account.csv", "_source_line": 2}
    assert params["rows"][0]["props"].items() >= lineage.items()
    [counted] = counted["rows"]
    assert (counted["kind"], counted["key"], counted["body"]) == ("ledger.load", "L1", '{"event": "batch", "rows": 1}')
    driver.log.clear()
    store.upsert_nodes("Account", rows)  # outside a load: no bookkeeping sent
    [(_, _, params)] = driver.log
    assert "_load_id" not in params["rows"][0]["props"]


def test_a_change_set_is_one_write_transaction_with_its_records():
    def respond(query: str, params: dict) -> list[dict]:
        if "AS written" in query:
            return [{"written": len(params["rows"])}]
        if "AS seq" in query:
            return [{"seq": i + 1} for i in range(len(params["rows"]))]
        return []

    driver = FakeDriver(respond)
    store = fake_store(driver)
    driver.transactions.clear()
    records = store.apply(
        ChangeSet(
            delete_edges={"INVOLVES": [("d2", "c1", "k")]},
            delete_nodes={"Deal": ["d1"]},
            put_edges={
                "WORKS_AT": [{"src": "c1", "dst": "a1", "key": "r1", "until": date(2025, 6, 1), "_load_id": "L1"}]
            },
            records=[("ledger.tombstone", "L1", {"kind": "node"})],
        )
    )
    assert driver.transactions == ["write"] and [r.seq for r in records] == [1]
    queries = [q for kind, q, _ in driver.log if kind == "write"]
    assert queries == [
        cypher.delete_edges(SCHEMA, SCHEMA.relations["INVOLVES"]),
        cypher.delete_nodes(SCHEMA.nodes["Deal"]),
        cypher.merge_edges(SCHEMA, SCHEMA.relations["WORKS_AT"]),
        cypher_records.append_records(),
    ]
    put = [p for kind, q, p in driver.log if q == queries[2]][0]["rows"][0]["props"]
    assert put["_load_id"] == "L1" and put["_source_file"] is None and put["until"] == date(2025, 6, 1)
    assert all("d1" not in q and "c1" not in q for q in queries)


# ---- live: a real server


@pytest.fixture
def live(tmp_path) -> Iterator[Neo4jStore]:
    s = open_test_store("neo4j", tmp_path)
    yield s
    s.close()


def _raw(store: Neo4jStore, query: str, **params: Any) -> list[dict]:
    records, _, _ = store._driver.execute_query(query, params, database_=store.database)
    return [r.data() for r in records]


@needs_neo4j
def test_neo4j_stores_native_utc_datetimes_and_dates(live):
    from tests.graph.test_store_contract import DATETIMES_IN, DATETIMES_OUT

    live.upsert_nodes("Account", DATETIMES_IN)
    rows = _raw(live, "MATCH (a:Account) RETURN a.id AS id, a.created_at AS t")
    assert {r["id"]: r["t"] for r in rows} == {k: datetime.fromisoformat(v) for k, v in DATETIMES_OUT.items()}
    assert all(isinstance(r["t"], neo4j.time.DateTime) for r in rows)
    live.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}])
    live.upsert_edges("WORKS_AT", [{"src": "c1", "dst": "a1", "since": date(2024, 2, 29)}])
    [row] = _raw(live, "MATCH (:Contact)-[w:WORKS_AT]->() RETURN w.since AS since, w.until AS until")
    assert row["since"] == neo4j.time.Date(2024, 2, 29) and row["until"] is None


@needs_neo4j
def test_neo4j_has_the_schema_constraints(live):
    names = {r["name"] for r in _raw(live, "SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {f"dealgraph_{n.name.lower()}_{n.key}" for n in SCHEMA.nodes.values()} <= names
    with pytest.raises(StoreError):  # the uniqueness constraint, not only MERGE, keeps keys unique
        live._run(True, lambda tx: tx.run("CREATE (:Account {id: 'a1'}), (:Account {id: 'a1'})").consume(), "test")


@needs_neo4j
def test_neo4j_refuses_dangling_edges_and_writes_none(live):
    live.upsert_nodes("Deal", [{"id": "d1", "name": "D1"}, {"id": "d2", "name": "D2"}])
    live.upsert_nodes("Account", [{"id": "a1", "name": "A1"}])
    with pytest.raises(DanglingEdges, match="nowhere"):
        live.upsert_edges("FOR_ACCOUNT", [{"src": "d1", "dst": "a1"}, {"src": "d2", "dst": "nowhere"}])
    assert live.counts()["FOR_ACCOUNT"] == 0


@needs_neo4j
def test_neo4j_score_history_in_order(live):
    live.upsert_nodes("Deal", [{"id": "d1", "name": "D1"}])
    live.write_scores(
        [ScoreRecord("d1", 0.2, "v1", T, "low"), ScoreRecord("d1", 0.7, "v2", T + timedelta(days=1), "high")]
    )
    assert [(s.probability, s.model_version) for s in live.read_scores(history=True)] == [(0.2, "v1"), (0.7, "v2")]
    assert live.latest_scores(["d1"])["d1"].previous_probability == pytest.approx(0.2)
    assert [s.probability for s in live.read_scores(["nope"], history=True)] == []
