"""The store backends the contract tests run on: SQLite always, Neo4j when a server is named.

    docker compose up -d neo4j
    DEALGRAPH_TEST_NEO4J_URI=neo4j://localhost:7687 DEALGRAPH_TEST_NEO4J_USER=neo4j \\
    DEALGRAPH_TEST_NEO4J_PASSWORD=<DEALGRAPH_NEO4J_PASSWORD from .env> \\
        .venv/bin/python -m pytest tests/graph tests/test_end_to_end.py

The Neo4j tests wipe the database before each test. They refuse (fail, not
skip) to wipe one holding data they did not write: point them at a throwaway
server (e.g. `docker compose -p dealgraph-test up -d neo4j`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graph import GraphStore, open_store, sqlite_url

URI_VAR = "DEALGRAPH_TEST_NEO4J_URI"
USER_VAR = "DEALGRAPH_TEST_NEO4J_USER"
PASSWORD_VAR = "DEALGRAPH_TEST_NEO4J_PASSWORD"
HOW_TO_RUN = (
    f"Neo4j backend not configured: run `docker compose up -d neo4j`, then set {URI_VAR}=neo4j://localhost:7687 "
    f"{USER_VAR}=neo4j {PASSWORD_VAR}=<DEALGRAPH_NEO4J_PASSWORD from .env> (see docs/neo4j.md)"
)
#: Marks a database these tests may wipe.
MARKER = "DealgraphTestDatabase"

needs_neo4j = pytest.mark.skipif(not os.environ.get(URI_VAR), reason=HOW_TO_RUN)
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("neo4j", id="neo4j", marks=needs_neo4j)]


def neo4j_settings() -> tuple[str, str | None, str | None]:
    return os.environ[URI_VAR], os.environ.get(USER_VAR), os.environ.get(PASSWORD_VAR)


def wipe_neo4j() -> None:
    """Delete everything in the test database, refusing if it holds data the tests did not write."""
    from neo4j import GraphDatabase

    from graph.neo4j import parse_url

    url, user, password = neo4j_settings()
    uri, database, url_user, url_password = parse_url(url)
    user, password = url_user or user, url_password if url_password is not None else password
    with GraphDatabase.driver(uri, auth=(user, password or "") if user else None) as driver:
        def count(query: str) -> int:
            records, _, _ = driver.execute_query(query, database_=database)
            return records[0]["n"]

        marked, n = count(f"MATCH (m:{MARKER}) RETURN count(m) AS n"), count("MATCH (n) RETURN count(n) AS n")
        if n and not marked:
            pytest.fail(f"refusing to wipe the Neo4j database at {url}: it holds {n} nodes these tests did not write "
                        f"(no :{MARKER} node). Point {URI_VAR} at a throwaway server.")
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=database)
        driver.execute_query(f"CREATE (:{MARKER})", database_=database)


def neo4j_store_url() -> str:
    return neo4j_settings()[0]


def open_test_store(backend: str, tmp_path: Path) -> GraphStore:
    """A fresh, empty store of `backend`."""
    if backend == "sqlite":
        return open_store(sqlite_url(tmp_path / "graph.db"))
    wipe_neo4j()
    url, user, password = neo4j_settings()
    return open_store(url, user=user, password=password)
