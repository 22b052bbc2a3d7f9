"""The graph store contract, its backends, and snapshot exports (pandas, PyG, networkx)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from graph.snapshot import Snapshot, pyg_edge_type
from graph.store import (
    DealgraphError,
    DealPage,
    GraphStore,
    InvalidInput,
    Neighbour,
    ScoreRecord,
    StoreError,
)
from ontology import Schema, load_schema

__all__ = [
    "DealgraphError", "DealPage", "GraphStore", "InvalidInput", "Neighbour", "ScoreRecord",
    "Snapshot", "StoreError", "open_store", "pyg_edge_type", "sqlite_url",
]


def sqlite_url(path: Path) -> str:
    """The store URL of a SQLite file: `sqlite:////abs/path/graph.db`."""
    return f"sqlite:///{Path(path).resolve()}"


def open_store(url: str, schema: Schema | None = None) -> GraphStore:
    """Open the store a URL names: `sqlite:///relative.db`, `sqlite:////absolute.db`.

    Raises:
        InvalidInput: the URL names no backend this build has.
    """
    schema = schema or load_schema()
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from graph.sqlite import SQLiteStore

        path = url[len("sqlite:///") :]
        if not path:
            raise InvalidInput(f"store URL {url!r} names no file; use sqlite:///path/graph.db")
        return SQLiteStore(Path(path), schema)
    raise InvalidInput(f"unsupported store URL {url!r}: this build knows sqlite:///PATH")
