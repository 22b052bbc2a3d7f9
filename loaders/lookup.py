"""References by natural key: a deal naming its company by domain or name, a line naming its contact by e-mail.

After every file is parsed, `translate` turns each `Lookup` into the id of the
one node whose property matches: nodes parsed in this load first, then nodes
already in the store. A value that matches no node, or several, makes its row
fail with a reason saying which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from graph.store import GraphStore
from loaders.normalise import company_name, text, website
from loaders.parse import Lookup

Index = tuple[str, str, str]  # (node type, property, match)


class _HasLookups(Protocol):
    @property  # read only here: their records are changed in place, the tuples are not replaced
    def nodes(self) -> Sequence[tuple[str, dict[str, Any]]]: ...
    @property
    def edges(self) -> Sequence[tuple[str, dict[str, Any]]]: ...
    refs: tuple[tuple[str, str, str], ...]
    lookups: tuple[Lookup, ...]


Row = TypeVar("Row", bound=_HasLookups)


def normalize(value: Any, match: str) -> str:
    """The form two names are compared in, the same as identity resolution's (`loaders.normalise`): case,
    accents and spacing ignored; for `domain`, only the host, without scheme, `www.`, path or port; for `name`,
    the company-name form identity resolution merges on, with the spaces dropped too ("GTXPro" = "GTX Pro")."""
    if match == "name":
        return company_name(str(value)).replace(" ", "")
    if match == "domain":
        return website(str(value).strip().rsplit("@", 1)[-1]).split("/", 1)[0].split(":", 1)[0]
    return text(value)


class NaturalKeys:
    """Node ids by a property's normalised value, for the (node type, property, match) triples a mapping looks up by."""

    def __init__(
        self, nodes: Iterable[tuple[str, dict[str, Any]]], wanted: set[Index], store: GraphStore | None = None
    ) -> None:
        self._index: dict[Index, dict[str, set[str]]] = {w: {} for w in wanted}
        self.values: dict[Index, dict[str, Any]] = {w: {} for w in wanted}  # id -> the value it was indexed by
        self._loaded: dict[str, set[str]] = {}
        self._store = store
        self._from_store: set[Index] = set()
        # A node several rows give (a duplicate key) is found by its latest record's values only, as an upsert keeps it.
        latest = {(label, rec["id"]): rec for label, rec in nodes}
        for (label, node_id), rec in latest.items():
            self._loaded.setdefault(label, set()).add(node_id)
            for index in wanted:
                if index[0] == label:
                    self._add(index, rec)

    def _add(self, index: Index, rec: dict[str, Any]) -> None:
        value = rec.get(index[1])
        if value not in (None, ""):
            self.values[index][rec["id"]] = value
            self._index[index].setdefault(normalize(value, index[2]), set()).add(rec["id"])

    def ids(self, lookup: Lookup) -> set[str]:
        """Ids of the nodes `lookup` may mean (this load's version of a node replaces the store's)."""
        index = (lookup.label, lookup.by, lookup.match)
        if self._store is not None and index not in self._from_store:
            self._from_store.add(index)
            # Read lazily: only node types some lookup names, once each.
            fresh = self._store.node_ids(index[0]) - self._loaded.get(index[0], set())
            for rec in self._store.get_nodes(index[0], fresh).values():
                self._add(index, rec)
        return self._index[index].get(normalize(lookup.value, lookup.match), set())


def translate(rows: Sequence[Row], store: GraphStore | None = None,
              spellings: dict[tuple[str, str, str], str] | None = None) -> list[tuple[Row, str]]:
    """Replace each row's lookups by node ids (as edge ends and references); the rows that fail, with the reason.

    `spellings`, when given, collects each value that matched a node under another spelling (by `match: name`):
    (node type, value as written, node id) -> the node's own value, so a load can say which names it joined.
    """
    wanted = {(lk.label, lk.by, lk.match) for row in rows for lk in row.lookups}
    if not wanted:
        return []
    keys = NaturalKeys((n for row in rows for n in row.nodes), wanted, store)
    failed = []
    for row in rows:
        for lk in row.lookups:
            ids = keys.ids(lk)
            if len(ids) != 1:
                failed.append((row, _reason(lk, ids)))
                break
            (node_id,) = ids
            if spellings is not None and lk.match == "name":
                own = keys.values[(lk.label, lk.by, lk.match)].get(node_id)
                if text(own) != text(lk.value):
                    spellings[(lk.label, lk.value, node_id)] = str(own)
            if lk.edge is not None:
                row.edges[lk.edge][1][lk.end] = node_id
            row.refs = (*row.refs, (lk.column, lk.label, node_id))
        else:
            row.lookups = ()
    return failed


def _reason(lk: Lookup, ids: set[str]) -> str:
    if not ids:
        return f"{lk.column}: {lk.value!r} names no {lk.label} by {lk.by}"
    shown = ", ".join(sorted(ids)[:5])
    return f"{lk.column}: {lk.value!r} is ambiguous: {len(ids)} {lk.label} nodes have that {lk.by} ({shown})"
