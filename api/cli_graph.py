"""`dealgraph export` (the graph as RDF) and `dealgraph copy` (a graph from one store to another).

    dealgraph export --format turtle --out graph.ttl
    dealgraph export --format jsonld > graph.jsonld
    dealgraph copy --from sqlite:///dealgraph.db --to neo4j://localhost:7687

`copy` upserts every node, edge and score of the source into the target and
then compares the two stores' counts: it exits 2 when they differ.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from api.settings import Settings
from graph import GraphStore, InvalidInput, ScoreRecord, open_store, redact_url, store_identity
from graph.timefmt import parse_iso, to_utc
from ontology.names import Label

FORMATS = {"turtle": "turtle", "jsonld": "json-ld"}
COPY_BATCH = 5000
#: The node type scores belong to.
SCORED = Label.DEAL


# ---- export


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, out
    from gnn.owners.audit import read_events
    from gnn.owners.prov import add_audit
    from graph.rdf import JSONLD_CONTEXT, to_rdf

    if args.json and not args.out:
        raise InvalidInput("--json prints a summary of the file written: give --out FILE too")
    as_of = _time(args.as_of) if args.as_of else None
    with open_store(settings.store, **settings.store_credentials()) as store:
        snapshot = store.snapshot(as_of)
        scores: list[ScoreRecord] = []
        if not args.no_scores:
            found = store.latest_scores(snapshot.nodes[SCORED][store.schema.nodes[SCORED].key])
            scores = [s for s in found.values() if as_of is None or to_utc(s.scored_at) < as_of]
        events = read_events(store) if args.audit else []
    graph = to_rdf(snapshot, scores)
    add_audit(graph, [e for e in events if as_of is None or (e.at is not None and e.at < as_of)])
    fmt = FORMATS[args.format]
    if fmt == "json-ld":
        text = graph.serialize(format=fmt, context=JSONLD_CONTEXT, indent=2)
    else:
        text = graph.serialize(format=fmt)
    if not args.out:
        sys.stdout.write(text)
        return EXIT_OK
    path = Path(args.out)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
    n_scores = len(scores)
    data = {"out": str(path), "format": args.format, "triples": len(graph), "scores": n_scores,
            "as_of": as_of.isoformat() if as_of else None}
    out(args, data, f"wrote {len(graph)} triples ({n_scores} scores) as {args.format} to {path}")
    return EXIT_OK


def _time(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError as e:
        raise InvalidInput(f"--as-of {text!r} is not an ISO 8601 time (e.g. 2025-06-01T00:00:00Z)") from e


# ---- copy


@dataclass
class CopyReport:
    """What `copy_graph` wrote and how the two stores' counts compare afterwards."""

    written: dict[str, int] = field(default_factory=dict)
    scores_written: int = 0
    history: bool = False
    source_counts: dict[str, int] = field(default_factory=dict)
    target_counts: dict[str, int] = field(default_factory=dict)

    @property
    def differences(self) -> dict[str, tuple[int, int]]:
        keys = [*self.source_counts, *(k for k in self.target_counts if k not in self.source_counts)]
        return {k: (self.source_counts.get(k, 0), self.target_counts.get(k, 0))
                for k in keys if self.source_counts.get(k, 0) != self.target_counts.get(k, 0)}

    @property
    def ok(self) -> bool:
        return not self.differences


def _score_counts(store: GraphStore) -> dict[str, int]:
    return {"scores": len(store.read_scores()), "score_history": len(store.read_scores(history=True))}


def _batches(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _score_identity(score: ScoreRecord) -> tuple:
    return score.deal_id, to_utc(score.scored_at), score.model_version, score.probability


def copy_graph(source: GraphStore, target: GraphStore, batch: int = COPY_BATCH, progress: bool = False) -> CopyReport:
    """Upsert every node, edge and score of `source` into `target`, then count both.

    Scores: every score of the source's history the target does not hold yet
    is replayed in order, so the target's latest scores, their
    `previous_probability` and its history match.
    """
    report = CopyReport()
    nodes, edges = source.read_tables()
    total = sum(len(v) for v in nodes.values()) + sum(len(v) for v in edges.values())
    with tqdm(total=total, desc="copying", unit="row", disable=not progress, file=sys.stderr) as bar:
        for label in source.schema.nodes:  # nodes first: edges need both ends
            for chunk in _batches(nodes.get(label, []), batch):
                report.written[label] = report.written.get(label, 0) + target.upsert_nodes(label, chunk)
                bar.update(len(chunk))
        for relation in source.schema.relations:
            for chunk in _batches(edges.get(relation, []), batch):
                report.written[relation] = report.written.get(relation, 0) + target.upsert_edges(relation, chunk)
                bar.update(len(chunk))
    report.history = True
    held = {_score_identity(s) for s in target.read_scores(history=True)}  # copying again adds nothing
    missing = [s for s in source.read_scores(history=True) if _score_identity(s) not in held]
    for chunk in _batches(missing, batch):
        report.scores_written += target.write_scores(chunk)
    report.source_counts = {**source.counts(), **_score_counts(source)}
    report.target_counts = {**target.counts(), **_score_counts(target)}
    return report


def cmd_copy(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_FAILURE, EXIT_OK, out

    source_url = args.source or settings.store
    if store_identity(source_url) == store_identity(args.target):
        raise InvalidInput(f"--from and --to name the same store ({redact_url(args.target)})")
    if args.batch < 1:
        raise InvalidInput("--batch must be at least 1")
    credentials = settings.store_credentials()
    with open_store(source_url, **credentials) as source, open_store(args.target, **credentials) as target:
        report = copy_graph(source, target, batch=args.batch, progress=not args.json)
    lines = [f"{'':<16} {'from':>10} {'to':>10}"]
    for key, n in report.source_counts.items():
        mark = "" if report.target_counts.get(key) == n else "   <- differs"
        lines.append(f"{key:<16} {n:>10} {report.target_counts.get(key, 0):>10}{mark}")
    for key in report.target_counts.keys() - report.source_counts.keys():
        lines.append(f"{key:<16} {0:>10} {report.target_counts[key]:>10}   <- differs")
    lines.append("scores: every score in order (history kept)" if report.history
                 else "scores: each deal's latest (the source cannot list its history)")
    lines.append("counts match" if report.ok else
                 "counts DIFFER: the target held other data, or some rows could not be written (see above)")
    data = {
        "from": redact_url(source_url), "to": redact_url(args.target), "written": report.written,
        "scores_written": report.scores_written, "history_copied": report.history,
        "counts": {k: [n, report.target_counts.get(k, 0)] for k, n in report.source_counts.items()},
        "differences": {k: list(v) for k, v in report.differences.items()}, "ok": report.ok,
    }
    out(args, data, "\n".join(lines))
    return EXIT_OK if report.ok else EXIT_FAILURE


def register(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("export", parents=[common, as_json], help="write the loaded graph and its scores as RDF")
    p.add_argument("--format", choices=tuple(FORMATS), default="turtle", help="turtle (default) or jsonld")
    p.add_argument("--out", help="file to write (default: stdout)")
    p.add_argument("--as-of", help="only what was known before this ISO 8601 time")
    p.add_argument("--no-scores", action="store_true", help="leave the scores and their lineage out")
    p.add_argument("--audit", action="store_true", help="add the audit log as PROV activities (docs/owners.md)")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("copy", parents=[common, as_json], help="copy a loaded graph and its scores to another store")
    p.add_argument("--from", dest="source", metavar="URL", help="store to read (default: --store / $DEALGRAPH_STORE)")
    p.add_argument("--to", dest="target", metavar="URL", required=True, help="store to write, e.g. neo4j://localhost:7687")
    p.add_argument("--batch", type=int, default=COPY_BATCH, help="rows per write transaction")
    p.set_defaults(fn=cmd_copy)
