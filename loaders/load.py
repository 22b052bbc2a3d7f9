"""Load a CRM export into the store through a mapping, quarantining what does not fit.

Three phases, so bad input is found before anything is written:
1. parse every file of the mapping: rows -> validated node and edge records
   (a row that fails goes to quarantine with its file, line and reason);
2. resolve references: a record whose reference names no node (in the store
   or in this load) is quarantined, repeated until nothing changes, since one
   rejected account makes its deals dangling too; a row that would close a
   cycle of a hierarchy (an account its own ancestor) is quarantined too
   (`loaders.hierarchy`);
3. write in batches, one transaction each, by key, so loading the same export
   twice leaves the same graph.

Between 1 and 2, identity resolution (`loaders.merging`) merges duplicate
records (an account exported twice) and redirects references to the kept
one; a merged row keeps its relations, which move to the kept record, and
once references are resolved the jobs of a merged person are ordered by
the records' times (`settle_carried`). Rows of one file that give the same
key all go through 1 and 2; of those still standing, the last one wins
(`Loader._keep_latest`), so a later row that is rejected never takes a
valid earlier one with it. Writing is
crash-safe: the load is recorded as running before it writes, every batch
carries the load id (and each record its source file and line) and commits
with the load's progress, and a full export then retires what it no longer
holds (`loaders.incremental`). A load killed at any point leaves whole
batches only; running it again converges to the graph an uninterrupted
load gives.

Parsed rows keep no text of their own: the rows phase 2 rejects are read
again by line for the quarantine (`loaders.read.rows_at`), so memory holds
the records and little else. Every file's rows reconcile:
read = loaded + quarantined + merged (duplicates, and merged rows whose
relations were written).
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from graph.ledger import Ledger
from graph.lineage import LoadRecord
from graph.store import GraphStore, InvalidInput, StoreError
from loaders.absent import fit_to_export
from loaders.hierarchy import cycle_closers
from loaders.identity import DEFAULT_RULES, IdentityRules
from loaders.incremental import (
    MAX_RETIRE_SHARE,
    MODES,
    ChangePlan,
    SeenKeys,
    apply_changes,
    plan_retired_edges,
    plan_retired_nodes,
)
from loaders.lookup import translate
from loaders.mapping import Mapping, SourceSpec
from loaders.merging import merge_duplicates, settle_carried
from loaders.parse import ParsedRow, RowParser
from loaders.quarantine import Quarantine
from loaders.read import ERROR, check_files, rows_at, source_rows
from loaders.records import RecordError
from loaders.stand_in import StandIn, count_stand_ins, fill_earliest_dates, placeholder_nodes
from ontology import Schema

log = logging.getLogger(__name__)
BATCH_SIZE = 50000


@dataclass
class FileSummary:
    file: str
    target: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    merged: int = 0

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.merged


@dataclass
class LoadSummary:
    load_id: str
    source: str
    mapping: str
    quarantine_file: str
    files: list[FileSummary] = field(default_factory=list)
    nodes_written: dict[str, int] = field(default_factory=dict)
    edges_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    mode: str = "delta"
    merges: dict[str, int] = field(default_factory=dict)  # rows merged into another record, by label.rule
    # Relations the merged rows carried over to the record they merged into (a contact's second job), by relation.
    merge_carried: dict[str, int] = field(default_factory=dict)
    merge_candidates_blocked: dict[str, int] = field(default_factory=dict)
    merge_candidates_ambiguous: dict[str, int] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)  # records a full export no longer holds
    ended: dict[str, int] = field(default_factory=dict)  # time-bounded edges closed instead
    deletions_skipped: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # what the export left out and what that costs
    # Names matched under another spelling (`match: name`): "Product 'GTXPro' -> 'GTX Pro' (id)".
    spellings: list[str] = field(default_factory=list)
    # Loaded rows whose empty account or created date a stand-in replaced (`loaders.stand_in`), per file.
    stand_ins: list[StandIn] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        keys = ("read", "loaded", "quarantined", "merged")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    @property
    def reconciles(self) -> bool:
        return all(f.reconciles for f in self.files)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["totals"] = self.totals()
        out["reconciles"] = self.reconciles
        return out


class Loader:
    """Loads one export directory through one mapping into a store."""

    def __init__(
        self,
        store: GraphStore,
        mapping: Mapping,
        quarantine_dir: Path,
        *,
        identity: IdentityRules | None = DEFAULT_RULES,
        mode: str = "delta",
        export_date: date | None = None,
        max_retire_share: float = MAX_RETIRE_SHARE,
    ) -> None:
        if mode not in MODES:
            raise InvalidInput(f"load mode {mode!r}: use one of {', '.join(MODES)}")
        self.store = store
        self.schema: Schema = store.schema
        self.declared = mapping  # as written; `self.mapping` is it fitted to the export being loaded
        self.mapping = mapping
        self.quarantine_dir = Path(quarantine_dir)
        self.identity = identity
        self.mode = mode
        self.export_date = export_date
        self.max_retire_share = max_retire_share
        self._seen = SeenKeys()
        self._plan = ChangePlan()

    def load(self, source_dir: Path) -> LoadSummary:
        started = datetime.now(UTC)
        source_dir = Path(source_dir)
        self.mapping, absent = fit_to_export(self.declared, source_dir, self.schema)
        problems = check_files(self.mapping, source_dir)
        if problems:
            raise InvalidInput("cannot load: " + "; ".join(problems))
        load_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        quarantine = Quarantine(self.quarantine_dir / f"{load_id}.jsonl")
        summary = LoadSummary(load_id, str(source_dir), self.mapping.name, str(quarantine.path), mode=self.mode,
                              absent=absent)
        Ledger(self.store).begin_load(LoadRecord(load_id, str(source_dir), self.mapping.name, started, mode=self.mode))
        collecting = gc.isenabled()
        # Millions of long-lived row objects make every full collection walk them all (a quarter of the CPU time
        # at 275k rows, measured); a load makes no cycles worth collecting before it ends.
        gc.disable()
        try:
            self._run(source_dir, summary, quarantine)
        except BaseException as e:  # a SIGKILL never gets here: that load stays `running`
            try:
                Ledger(self.store).finish_load(load_id, "failed", error=f"{type(e).__name__}: {e}")
            except StoreError:  # the store itself failed: the original error is the one to report
                log.exception("could not mark load %s failed", load_id)
            raise
        finally:
            quarantine.close()
            if collecting:
                gc.enable()
        summary.seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
        Ledger(self.store).finish_load(load_id, "finished", summary.to_json())
        return summary

    def _run(self, source_dir: Path, summary: LoadSummary, quarantine: Quarantine) -> None:
        rows: list[ParsedRow] = []
        for src in self.mapping.sources:
            fs = FileSummary(src.file, src.node or src.relation or "")
            summary.files.append(fs)
            rows.extend(self._parse_file(src, source_dir, fs, quarantine))
        if self.mode == "full":  # only a full load asks what the export lacks; a row rejected below is in it too
            self._seen.note_parsed(rows)
            for label, recs in placeholder_nodes(rows).items():  # a placeholder in use is never retired
                self._seen.nodes.setdefault(label, set()).update(rec["id"] for rec in recs)
        rejected: list[tuple[ParsedRow, str]] = []
        undated = fill_earliest_dates(rows, self.schema)  # needs every file parsed: the facts are in several
        if undated:
            for row, reason in undated:
                _reject(row, reason, rejected)
            dropped = {id(r) for r, _ in undated}
            rows = [r for r in rows if id(r) not in dropped]
        identity = merge_duplicates(rows, self.store, self.identity, summary.load_id, self.mode == "delta")
        summary.merges, summary.merge_candidates_blocked = identity.by_rule, identity.blocked
        summary.merge_candidates_ambiguous = identity.ambiguous
        self._plan = plan_retired_nodes(self.store, self.mapping, self._seen, self.mode, self.max_retire_share)
        carried = identity.origin.keys() | identity.origin_dst.keys()
        resolved = self._resolve(self._translate(identity.rows, rejected, summary), rejected)
        kept = self._keep_latest(self._acyclic(resolved, rejected, carried))
        settle_carried(identity, kept, self.store)  # on the rows that stand: a rejected row moves nobody
        self._quarantine_rejected(rejected, source_dir, quarantine)
        plan = plan_retired_edges(self.store, self.mapping, self._seen, kept, self._plan, self.mode,
                                  self.max_retire_share)
        summary.deletions_skipped = plan.skipped
        if identity.merges:
            Ledger(self.store).record_merges(identity.merges)  # before the rows that rely on them
        self._write(kept, summary, identity.carriers)
        changed = apply_changes(self.store, plan, summary.load_id, self.export_date or datetime.now(UTC).date())
        summary.ended, summary.retired = changed["ended"], changed["retired"]

    # ---- phase 1
    def _parse_file(self, src: SourceSpec, source_dir: Path, fs: FileSummary,
                    quarantine: Quarantine) -> list[ParsedRow]:
        parse = RowParser(self.schema, src).parse
        key_of = self._key_function(src)
        note_rejected = self._seen.note_rejected if self.mode == "full" else None
        rows: list[ParsedRow] = []
        first: dict[Any, ParsedRow] = {}  # key -> the first row giving it: duplicates are per file
        for line, raw in source_rows(src, source_dir):
            fs.read += 1
            try:
                if ERROR in raw:
                    raise RecordError(raw[ERROR])
                row = parse(raw, fs, line)
            except RecordError as e:
                quarantine.add(src.file, line, str(e), raw)
                fs.quarantined += 1
                if note_rejected is not None:
                    note_rejected(src, raw)  # present in the export, so never retired
                continue
            earlier = first.setdefault(key_of(row), row)
            if earlier is not row:  # which of them wins is decided once references are resolved
                if earlier.same_key is None:
                    earlier.same_key = [earlier]
                earlier.same_key.append(row)
                row.same_key = earlier.same_key
            rows.append(row)
        return rows

    def _key_function(self, src: SourceSpec) -> Callable[[ParsedRow], Any]:
        """What makes two rows of `src` the same record: the node's key, or the edge (its key, else its two ends)."""
        if src.node:
            return lambda row: row.nodes[0][1]["id"]
        if self.schema.relations[src.edge_source()[0]].functional:
            return lambda row: row.edges[0][1]["src"]
        return lambda row: (row.edges[0][1]["src"], row.edges[0][1]["dst"], row.edges[0][1]["key"])

    # ---- phase 2
    def _translate(
        self, rows: list[ParsedRow], rejected: list[tuple[ParsedRow, str]], summary: LoadSummary
    ) -> list[ParsedRow]:
        """References by natural key (a company named by domain) -> node ids, so resolution sees ids only."""
        spellings: dict[tuple[str, str, str], str] = {}
        failed = translate(rows, self.store, spellings)
        summary.spellings = [f"{label} {value!r} -> {own!r} ({node_id})"
                             for (label, value, node_id), own in sorted(spellings.items())]
        if not failed:
            return rows
        for row, reason in failed:
            _reject(row, reason, rejected)
        dropped = {id(r) for r, _ in failed}
        return [r for r in rows if id(r) not in dropped]

    def _resolve(self, rows: list[ParsedRow], rejected: list[tuple[ParsedRow, str]]) -> list[ParsedRow]:
        retiring = self._plan.retire_nodes  # a full export that lacks a node makes references to it dangle
        known = {label: self.store.node_ids(label) - set(retiring.get(label, ())) for label in self.schema.nodes}
        for row in rows:
            for label, rec in row.nodes:
                known[label].add(rec["id"])
        dead = {id(r) for r, _ in rejected}
        dangling = [(r, miss) for r in rows if (miss := _missing(r, known))]
        # Only a row naming a node that went can dangle in a later round: they are looked up by the node, not
        # found by checking every row again (a 1M-row load ran four full rounds). Rejected in row order per round.
        dependents: dict[tuple[str, str], list[int]] | None = None
        dropped: set[int] = set()
        while dangling:
            for row, (column, label, ref) in dangling:
                _reject(row, f"{column}: {ref!r} names no {label} (missing or quarantined)", rejected)
                dead.add(id(row))
                dropped.add(id(row))
            gone = [(label, rec["id"]) for row, _ in dangling for label, rec in row.nodes
                    if not _made_by_another(row, label, rec["id"], dead)]
            if not gone:  # the rows rejected made no node: nothing else can dangle now
                break
            for label, node_id in gone:
                known[label].discard(node_id)
            if dependents is None:
                dependents = {}
                for i, row in enumerate(rows):
                    for _, label, ref in row.refs:
                        dependents.setdefault((label, ref), []).append(i)
            suspects = sorted({i for node in gone for i in dependents.get(node, ())})
            dangling = [(r, miss) for i in suspects if id(r := rows[i]) not in dead and (miss := _missing(r, known))]
        return [r for r in rows if id(r) not in dropped] if dropped else rows

    def _acyclic(self, rows: list[ParsedRow], rejected: list[tuple[ParsedRow, str]],
                 carried: Collection[int]) -> list[ParsedRow]:
        """Reject the rows that close a cycle of a hierarchy (`loaders.hierarchy`), then resolve again: a rejected
        account's deals dangle now. Repeated, since a duplicate that stands in for a rejected row may cycle too."""
        while closers := cycle_closers(rows, self.store, full=self.mode == "full", carried=carried):
            for row, reason in closers:
                _reject(row, reason, rejected)
            dead = {id(r) for r, _ in closers}
            rows = self._resolve([r for r in rows if id(r) not in dead], rejected)
        return rows

    def _keep_latest(self, rows: list[ParsedRow]) -> list[ParsedRow]:
        """The rule for a key several rows of one file give: the last of them that passed validation and
        resolution wins, the others standing count as merged (docs/loading.md, "Duplicate keys")."""
        standing = {id(r) for r in rows if r.same_key is not None}
        if not standing:
            return rows
        winner: dict[int, ParsedRow] = {}  # per group of rows sharing a key: computed once, not once per row
        for row in rows:
            group = row.same_key
            if group is not None and id(group) not in winner:
                winner[id(group)] = next(r for r in reversed(group) if id(r) in standing)
        kept = []
        for row in rows:
            if row.same_key is not None and winner[id(row.same_key)] is not row:
                row.file.merged += 1
                continue
            kept.append(row)
        return kept

    def _quarantine_rejected(
        self, rejected: list[tuple[ParsedRow, str]], source_dir: Path, quarantine: Quarantine
    ) -> None:
        """Quarantine the rows phase 2 rejected, in the order it did, with their text read again by line."""
        lines: dict[str, set[int]] = {}
        for row, _ in rejected:
            lines.setdefault(row.file.file, set()).add(row.line)
        sources = {src.file: src for src in self.mapping.sources}
        text = {(name, line): raw for name, wanted in lines.items()
                for line, raw in rows_at(sources[name], source_dir, wanted)}
        for row, reason in rejected:
            quarantine.add(row.file.file, row.line, reason, text[(row.file.file, row.line)])

    # ---- phase 3
    def _write(self, rows: list[ParsedRow], summary: LoadSummary, carriers: set[int]) -> None:
        # Placeholders first: written like any node, but no row of their own, so no file counts them.
        nodes: dict[str, list[dict]] = placeholder_nodes(rows)
        edges: dict[str, list[dict]] = {}
        summary.stand_ins = count_stand_ins(rows)
        for row in rows:  # records carry their lineage (source file and line) from the parser
            if id(row) in carriers:  # a merged row: its node is the kept one, its relations are written
                row.file.merged += 1
                for rel, _ in row.edges:
                    summary.merge_carried[rel] = summary.merge_carried.get(rel, 0) + 1
            else:
                row.file.loaded += 1
            for label, rec in row.nodes:
                nodes.setdefault(label, []).append(rec)
            for rel, rec in row.edges:
                edges.setdefault(rel, []).append(rec)
        load_id = summary.load_id
        for label, recs in nodes.items():
            for i in range(0, len(recs), BATCH_SIZE):
                written = self.store.upsert_nodes(label, recs[i : i + BATCH_SIZE], load_id=load_id)
                summary.nodes_written[label] = summary.nodes_written.get(label, 0) + written
        with self.store.bulk_writes(edges):  # SQLite indexes an empty edge table once, after its rows are in
            for rel, recs in edges.items():
                for i in range(0, len(recs), BATCH_SIZE):
                    written = self.store.upsert_edges(rel, recs[i : i + BATCH_SIZE], load_id=load_id)
                    summary.edges_written[rel] = summary.edges_written.get(rel, 0) + written


def _reject(row: ParsedRow, reason: str, rejected: list[tuple[ParsedRow, str]]) -> None:
    rejected.append((row, reason))
    row.file.quarantined += 1


def _made_by_another(row: ParsedRow, label: str, node_id: str, dead: set[int]) -> bool:
    """Whether a row of the same key still standing gives the node too (then it must stay known)."""
    return any(id(other) not in dead and any(lb == label and rec["id"] == node_id for lb, rec in other.nodes)
               for other in row.same_key or () if other is not row)


def _missing(row: ParsedRow, known: dict[str, set[str]]) -> tuple[str, str, str] | None:
    for column, label, ref in row.refs:
        if ref not in known[label]:
            return column, label, ref
    return None


def load_export(
    store: GraphStore, source_dir: Path, mapping: Mapping, quarantine_dir: Path, **options: Any
) -> LoadSummary:
    """Load `source_dir` through `mapping` into `store`; see the module docstring and `Loader` for `options`."""
    return Loader(store, mapping, quarantine_dir, **options).load(source_dir)
