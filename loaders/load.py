"""Load a CRM export into the store through a mapping, quarantining what does not fit.

Three phases, so bad input is found before anything is written:
1. parse every file of the mapping: rows -> validated node and edge records
   (a row that fails goes to quarantine with its file, line and reason);
2. resolve references: a record whose reference names no node (in the store
   or in this load) is quarantined, repeated until nothing changes, since one
   rejected account makes its deals dangling too;
3. write in batches, one transaction each, by key, so loading the same export
   twice leaves the same graph.

Every file's rows reconcile: read = loaded + quarantined + merged duplicates.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

from graph.store import GraphStore, InvalidInput
from loaders.mapping import Mapping, SourceSpec, ValueSpec
from loaders.quarantine import Quarantine
from loaders.records import RecordError, validate_properties
from ontology import Schema

BATCH_SIZE = 5000


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


@dataclass
class _Row:
    """A parsed row waiting for its references to be resolved."""

    file: FileSummary
    line: int
    raw: dict[str, str]
    nodes: list[tuple[str, dict[str, Any]]]  # (label, record incl. key)
    edges: list[tuple[str, dict[str, Any]]]  # (relation, record incl. src/dst)
    refs: list[tuple[str, str, str]]  # (column, label, id) that must exist


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV export with the line each starts on; BOM and CRLF are handled by the reader.

    Raises:
        InvalidInput: the file is not UTF-8 or not parseable CSV.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            line = reader.line_num + 1
            for values in reader:
                if len(values) != len(header):
                    yield line, {"__error__": f"row has {len(values)} fields, header has {len(header)}", "__raw__": values}  # type: ignore[dict-item]
                elif any(values):
                    yield line, dict(zip(header, values))
                line = reader.line_num + 1
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path.name} is not UTF-8 text ({e.reason} at byte {e.start}); re-export as UTF-8") from e
    except csv.Error as e:
        raise InvalidInput(f"{path.name}: not readable as CSV: {e}") from e


def header_of(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def value_of(spec: ValueSpec, row: dict[str, str]) -> Any:
    """Evaluate a mapping value on a row (before type coercion)."""
    if spec.value is not None:
        return spec.value
    if spec.template is not None:
        return " ".join(spec.template.format(**row).split())
    raw = row.get(spec.column, "")  # type: ignore[arg-type]
    if spec.map is None or raw == "":
        return raw
    if raw in spec.map:
        return spec.map[raw]
    if spec.default is not None:
        return spec.default
    raise RecordError(f"{spec.column}: {raw!r} is not one of the mapped values {sorted(spec.map)}")


def check_files(mapping: Mapping, source_dir: Path) -> list[str]:
    """Problems that stop a load before it starts: missing files or columns."""
    problems = []
    for src in mapping.sources:
        path = source_dir / src.file
        if not path.exists():
            problems.append(f"{src.file}: missing from {source_dir}")
            continue
        try:
            missing = src.columns() - set(header_of(path))
        except UnicodeDecodeError:
            problems.append(f"{src.file}: not UTF-8 text")
            continue
        if missing:
            problems.append(f"{src.file}: missing columns {', '.join(sorted(missing))}")
    return problems


class Loader:
    """Loads one export directory through one mapping into a store."""

    def __init__(self, store: GraphStore, mapping: Mapping, quarantine_dir: Path) -> None:
        self.store = store
        self.schema: Schema = store.schema
        self.mapping = mapping
        self.quarantine_dir = Path(quarantine_dir)

    def load(self, source_dir: Path) -> LoadSummary:
        started = datetime.now(UTC)
        source_dir = Path(source_dir)
        problems = check_files(self.mapping, source_dir)
        if problems:
            raise InvalidInput("cannot load: " + "; ".join(problems))
        load_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        quarantine = Quarantine(self.quarantine_dir / f"{load_id}.jsonl")
        summary = LoadSummary(load_id, str(source_dir), self.mapping.name, str(quarantine.path))

        rows: list[_Row] = []
        for src in self.mapping.sources:
            fs = FileSummary(src.file, src.node or src.relation or "")
            summary.files.append(fs)
            rows.extend(self._parse_file(src, source_dir / src.file, fs, quarantine))
        kept = self._resolve(rows, quarantine)
        self._write(kept, summary)
        quarantine.close()
        summary.seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
        return summary

    # ---- phase 1
    def _parse_file(self, src: SourceSpec, path: Path, fs: FileSummary, quarantine: Quarantine) -> list[_Row]:
        by_key: dict[Any, _Row] = {}
        for line, raw in read_rows(path):
            fs.read += 1
            try:
                if "__error__" in raw:
                    raise RecordError(raw["__error__"])
                row = self._parse_row(src, raw, fs, line)
            except RecordError as e:
                quarantine.add(src.file, line, str(e), raw)
                fs.quarantined += 1
                continue
            key = row.nodes[0][1]["id"] if row.nodes else _edge_key(self.schema, row.edges[0])
            if key in by_key:
                fs.merged += 1  # the later row of a duplicate key wins, as an upsert would
            by_key[key] = row
        return list(by_key.values())

    def _parse_row(self, src: SourceSpec, raw: dict[str, str], fs: FileSummary, line: int) -> _Row:
        row = _Row(fs, line, raw, [], [], [])
        if src.node:
            node_id = _required_id(src.key, raw, "key")  # type: ignore[arg-type]
            row.nodes.append((src.node, self._props(src.node, src.properties, raw, node=True) | {"id": node_id}))
            for rel in src.relations:
                target = value_of(rel.target, raw)
                if target:
                    row.edges.append((rel.relation, {"src": node_id, "dst": target}))
                    row.refs.append((rel.target.column or rel.relation, self.schema.relations[rel.relation].target, target))
                elif self.schema.relations[rel.relation].required:
                    raise RecordError(f"{rel.target.column}: required ({rel.relation}) but empty")
            for ref in src.references:
                if raw.get(ref.column):
                    row.refs.append((ref.column, ref.node, raw[ref.column]))
            for also in src.also:
                if also.when and raw.get(also.when.column, "").strip().lower() != also.when.equals.lower():
                    continue
                also_id = _required_id(also.key, raw, "key")
                row.nodes.append((also.node, self._props(also.node, also.properties, raw, node=True) | {"id": also_id}))
                row.edges.append((also.relation_from_parent, {"src": node_id, "dst": also_id}))
        else:
            rel = self.schema.relations[src.relation]  # type: ignore[index]
            s = _required_id(src.source, raw, "source")  # type: ignore[arg-type]
            d = _required_id(src.target, raw, "target")  # type: ignore[arg-type]
            key = _required_id(src.key, raw, "key") if src.key else ""
            row.edges.append((rel.name, self._props(rel.name, src.properties, raw, node=False) | {"src": s, "dst": d, "key": key}))
            row.refs += [(src.source.column or "source", rel.source, s), (src.target.column or "target", rel.target, d)]  # type: ignore[union-attr]
        return row

    def _props(self, name: str, specs: dict[str, ValueSpec], raw: dict[str, str], node: bool) -> dict[str, Any]:
        typed = self.schema.nodes[name] if node else self.schema.relations[name]
        values = {prop: value_of(spec, raw) for prop, spec in specs.items()}
        return validate_properties(typed, values)

    # ---- phase 2
    def _resolve(self, rows: list[_Row], quarantine: Quarantine) -> list[_Row]:
        known = {label: self.store.node_ids(label) for label in self.schema.nodes}
        for row in rows:
            for label, rec in row.nodes:
                known[label].add(rec["id"])
        alive = rows
        while True:
            dangling = [(r, miss) for r in alive if (miss := _missing(r, known))]
            if not dangling:
                return alive
            for row, (column, label, ref) in dangling:
                quarantine.add(row.file.file, row.line, f"{column}: {ref!r} names no {label} (missing or quarantined)", row.raw)
                row.file.quarantined += 1
                for node_label, rec in row.nodes:
                    known[node_label].discard(rec["id"])
            dropped = {id(r) for r, _ in dangling}
            alive = [r for r in alive if id(r) not in dropped]

    # ---- phase 3
    def _write(self, rows: list[_Row], summary: LoadSummary) -> None:
        nodes: dict[str, list[dict]] = {}
        edges: dict[str, list[dict]] = {}
        for row in rows:
            row.file.loaded += 1
            for label, rec in row.nodes:
                nodes.setdefault(label, []).append(rec)
            for rel, rec in row.edges:
                edges.setdefault(rel, []).append(rec)
        for label, recs in nodes.items():
            for i in range(0, len(recs), BATCH_SIZE):
                summary.nodes_written[label] = summary.nodes_written.get(label, 0) + self.store.upsert_nodes(label, recs[i : i + BATCH_SIZE])
        for rel, recs in edges.items():
            for i in range(0, len(recs), BATCH_SIZE):
                summary.edges_written[rel] = summary.edges_written.get(rel, 0) + self.store.upsert_edges(rel, recs[i : i + BATCH_SIZE])


def _required_id(spec: ValueSpec, raw: dict[str, str], what: str) -> str:
    value = str(value_of(spec, raw)).strip()
    if not value:
        raise RecordError(f"{spec.column or spec.template}: {what} is empty")
    return value


def _edge_key(schema: Schema, edge: tuple[str, dict[str, Any]]) -> tuple:
    rel, rec = edge
    return (rec["src"],) if schema.relations[rel].functional else (rec["src"], rec["dst"], rec.get("key", ""))


def _missing(row: _Row, known: dict[str, set[str]]) -> tuple[str, str, str] | None:
    for column, label, ref in row.refs:
        if ref not in known[label]:
            return column, label, ref
    return None


def load_export(store: GraphStore, source_dir: Path, mapping: Mapping, quarantine_dir: Path) -> LoadSummary:
    """Load `source_dir` through `mapping` into `store`; see the module docstring."""
    return Loader(store, mapping, quarantine_dir).load(source_dir)
