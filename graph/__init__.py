"""The graph store contract, its backends, and snapshot exports (pandas, PyG, networkx)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from graph.errors import DealgraphError, InvalidInput, StoreError
from graph.snapshot import Snapshot, pyg_edge_type
from graph.store import DealPage, GraphStore, Neighbour, ScoreRecord
from ontology import Schema, load_schema

__all__ = [
    "DealgraphError", "DealPage", "GraphStore", "InvalidInput", "Neighbour", "ScoreRecord",
    "Snapshot", "StoreError", "open_store", "pyg_edge_type", "redact_url", "sqlite_url", "store_identity",
]


def sqlite_url(path: Path) -> str:
    """The store URL of a SQLite file: `sqlite:////abs/path/graph.db`."""
    return f"sqlite:///{Path(path).resolve()}"


def open_store(
    url: str, schema: Schema | None = None, *, user: str | None = None, password: str | None = None
) -> GraphStore:
    """Open the store a URL names.

    - `sqlite:///relative.db`, `sqlite:////absolute.db`: the embedded store;
    - `neo4j://HOST[:PORT][/DATABASE]` (also `neo4j+s`, `neo4j+ssc`, `bolt`, `bolt+s`, `bolt+ssc`):
      Neo4j, logging in as `user` / `password` (callers pass them: this package reads
      no settings; `user:password@` in the URL wins, e.g. to copy between two servers).

    Raises:
        InvalidInput: the URL names no backend this build has.
        StoreError: the store is there but cannot be opened (no server, refused login).
    """
    schema = schema or load_schema()
    backend, parts = _named(url)
    if backend == "sqlite":
        from graph.sqlite import SQLiteStore

        if not parts.path:
            raise InvalidInput(f"store URL {url!r} names no file; use sqlite:///path/graph.db")
        return SQLiteStore(Path(parts.path), schema)
    from graph.neo4j import Neo4jStore, redact

    if backend == "neo4j":
        return Neo4jStore.connect(url, schema, user=user, password=password)
    raise InvalidInput(
        f"unsupported store URL {redact(url)!r}: this build knows sqlite:///PATH and neo4j://HOST[:PORT][/DATABASE] "
        "(or neo4j+s://, bolt://, bolt+s://)"
    )


def redact_url(url: str) -> str:
    """A store URL without its password, for messages."""
    from graph.neo4j import redact

    return redact(url)


def store_identity(url: str) -> tuple:
    """What makes two store URLs name the same store (e.g. so copying one onto itself is refused)."""
    backend, parts = _named(url)
    if backend == "sqlite":
        return ("sqlite", str(Path(parts.path).resolve()))
    if backend == "neo4j":
        return ("neo4j", parts.hostname, parts.port or 7687, parts.path.strip("/") or None)
    return (url,)


def _named(url: str) -> tuple[Literal["sqlite", "neo4j"] | None, SplitResult]:
    """The backend a store URL names (None: none this build has) and its parts; a SQLite URL's `path` is the
    file's, as written after `sqlite:///` (relative, or absolute with a fourth slash)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return "sqlite", parts._replace(path=url[len("sqlite:///") :])
    from graph.neo4j import SCHEMES

    return ("neo4j" if parts.scheme in SCHEMES else None), parts
