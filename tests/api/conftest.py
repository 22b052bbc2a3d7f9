"""Fixtures for the API tests: the shared CRM graph in a real SQLite store, served by real uvicorn.

Other test packages reuse the server helper from its own module (conftest
files are not meant to be imported): `from tests.helpers.server import serve`,
then `with serve(create_app(store, home)) as base_url: ...`. `gql(base_url,
query, variables)` in `tests.api.queries` posts a GraphQL query; the URL
fixtures here are `Endpoint`s that carry an admin API key, so `gql` sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from graph import GraphStore, open_store, sqlite_url
from tests.api.book_data import BookServer, build_book
from tests.api.graph_data import Crm, build_crm
from tests.api.queries import Endpoint, as_admin
from tests.helpers.server import serve


@pytest.fixture(scope="session")
def crm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dealgraph-home")


@pytest.fixture(scope="session")
def crm_store(crm_home: Path) -> Iterator[GraphStore]:
    store = open_store(sqlite_url(crm_home / "graph.db"))
    yield store
    store.close()


@pytest.fixture(scope="session")
def crm(crm_store: GraphStore) -> Crm:
    return build_crm(crm_store)


@pytest.fixture(scope="session")
def api_url(crm_store: GraphStore, crm_home: Path, crm: Crm) -> Iterator[Endpoint]:
    """Base URL of the app over the shared graph, with an admin key (read-only tests; no model is registered)."""
    with serve(create_app(crm_store, crm_home)) as base_url:
        yield as_admin(base_url, crm_home)


@pytest.fixture(scope="session")
def book_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BookServer]:
    """The app over three reps' books of business (`tests.api.book_data`); make keys with `.as_(role, rep)`."""
    home = tmp_path_factory.mktemp("book-home")
    store = open_store(sqlite_url(home / "graph.db"))
    try:
        book = build_book(store)
        with serve(create_app(store, home)) as base_url:
            yield BookServer(base_url, home, book)
    finally:
        store.close()
