"""Whole GraphQL answers kept until something they read is written.

The CRM widget sends the same account query on every page view of the
account; executing it costs milliseconds of resolver work, answering it again
from memory a few microseconds. An answer is kept per principal (one caller's
answer is never another's) and per request (method, document, operation,
variables). Before each request the cache asks the store what was written
since its last look (`GraphStore.changes_since`: microseconds on SQLite, which
tracks every commit); a store that cannot say (Neo4j) gets no cache.

An answer is served only while nothing it read has been written: no write
to the graph (any node, edge, load, merge: visibility and every field hang off
the graph), no score written for a deal whose score it read (or for any deal,
when it read a page ordered by score: `api.graphql.store_reads.ScoreReads`),
and the same model serving.

Only answers without errors are kept (errors carry request ids; timeouts are
transient), and only queries: the router sends mutations past the cache
(`api.router.is_mutation`), and what they write moves the store's graph mark.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from api.graphql.store_reads import ScoreReads
from graph.store import ChangeMark, GraphStore


@dataclass(frozen=True)
class _Answer:
    text: str  # the answer's `data` as JSON: a third of the memory of the objects, and never shared mutably
    operation: str | None  # the operation's name, for metrics and logs
    mark: ChangeMark  # the store's writes before the answer was read
    model: str | None
    deals: frozenset[str]
    every_score: bool


class ResponseCache:
    """At most `max_entries` answers, least recently used dropped first.

    Args:
        store: the store the answers are read from.
        max_entries: how many to keep (0: none).
        has_mutations: whether the schema can write; the router keeps mutations away from the cache
            (`api.router.is_mutation`), so queries are still kept.
    """

    def __init__(self, store: GraphStore, max_entries: int, has_mutations: bool = False) -> None:
        self._store = store
        self._max = max_entries
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self._mark: ChangeMark | None = None
        self._scored: dict[str, int] = {}  # deal id -> the store's score position when its new score was seen
        self._last_scored = 0
        self.enabled = max_entries > 0 and store.tracks_changes

    def __len__(self) -> int:
        return len(self._answers)

    def look(self) -> ChangeMark:
        """Take in what was written since the last look (dropping what it outdates); the store's mark now."""
        changes = self._store.changes_since(self._mark)
        assert changes is not None  # `enabled` is False for stores that cannot say
        if changes.graph_changed:
            self._answers.clear()
            self._scored.clear()
        elif changes.scored:
            for deal_id in changes.scored:
                self._scored[deal_id] = changes.mark.scores
            self._last_scored = changes.mark.scores
        self._mark = changes.mark
        return changes.mark

    def get(self, key: Hashable, model: str | None) -> tuple[dict[str, Any], str | None] | None:
        """The answer's data and operation name, when it is kept and still what the store would give (call
        `look` first)."""
        answer = self._answers.get(key)
        if answer is None:
            return None
        if not self._current(answer, model):
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return json.loads(answer.text), answer.operation

    def put(self, key: Hashable, data: dict[str, Any], operation: str | None, mark: ChangeMark, model: str | None,
            reads: ScoreReads) -> None:
        """Keep `data`, read after the store stood at `mark` (taken by `look` before the request ran)."""
        answer = _Answer(json.dumps(data, separators=(",", ":")), operation, mark, model, frozenset(reads.deals),
                         reads.every)
        if not self._current(answer, model):
            return  # written to while it ran: already out of date
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._max:
            self._answers.popitem(last=False)

    def _current(self, answer: _Answer, model: str | None) -> bool:
        if answer.model != model or self._mark is None or answer.mark.graph != self._mark.graph:
            return False
        if answer.every_score:
            return self._last_scored <= answer.mark.scores
        return all(self._scored.get(d, 0) <= answer.mark.scores for d in answer.deals)


def request_key(principal: Hashable, method: str, query: str | None, operation: str | None,
                variables: dict[str, Any] | None, extensions: dict[str, Any] | None) -> Hashable | None:
    """What identifies an answer: who asks and exactly what (None: not cacheable, e.g. with extensions)."""
    if query is None or extensions or not isinstance(operation, (str, type(None))):
        return None  # an object as operationName would make the key unhashable (api.request_guard refuses it first)
    try:
        args = json.dumps(variables, sort_keys=True, separators=(",", ":")) if variables else ""
    except (TypeError, ValueError):
        return None
    return principal, method, query, operation, args
