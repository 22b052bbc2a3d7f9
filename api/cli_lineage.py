"""`dealgraph lineage`, `loads` and `merges`: where a fact came from and what the loader decided.

- `dealgraph lineage NODE_ID`: the node's source file, line and load, the
  same for each of its edges, and the merges it took part in;
- `dealgraph loads`: every load with its state (a `running` load that no
  process runs was interrupted; the next finished load of the same source
  marks it `interrupted`);
- `dealgraph merges list` / `dealgraph merges undo ID`: identity decisions,
  and putting a wrongly merged record back.

Also the load command's options and report lines about identity,
retirement and lineage (`load_options`, `load_report`).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from api.settings import Settings
from graph import InvalidInput
from graph.ledger import Ledger
from graph.lineage import LoadRecord, MergeRecord, NodeLineage, Provenance


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """`Loader` options from the load command's flags (absent flags keep the defaults)."""
    from loaders.identity import load_identity_rules

    options: dict[str, Any] = {"mode": getattr(args, "mode", None) or "delta"}
    if getattr(args, "no_identity", False):
        options["identity"] = None
    elif getattr(args, "identity", None):
        options["identity"] = load_identity_rules(Path(args.identity))
    if getattr(args, "export_date", None):
        try:
            options["export_date"] = date.fromisoformat(args.export_date)
        except ValueError as e:
            raise InvalidInput(f"--export-date {args.export_date!r} is not YYYY-MM-DD") from e
    if getattr(args, "max_retire", None) is not None:
        options["max_retire_share"] = args.max_retire
    return options


def load_report(summary: Any) -> list[str]:
    """The load summary's lines about identity, retirement and lineage."""
    lines = []
    if summary.merges:
        lines.append("merged duplicates: " + ", ".join(f"{rule} {n}" for rule, n in sorted(summary.merges.items()))
                     + " (`dealgraph merges list` shows each, `merges undo ID` reverts one)")
    if summary.merge_carried:
        lines.append("relations the merged records carried over: " + _counts(summary.merge_carried))
    if summary.merge_candidates_blocked:
        lines.append("merge candidates refused (a property disagreed): "
                     + ", ".join(f"{rule} {n}" for rule, n in sorted(summary.merge_candidates_blocked.items())))
    if summary.retired or summary.ended:
        lines.append("missing from this full export: retired " + _counts(summary.retired)
                     + "; job history ended " + _counts(summary.ended))
    lines += [f"deletions not applied: {reason}" for reason in summary.deletions_skipped]
    lines.append(f"load {summary.load_id} ({summary.mode}); `dealgraph lineage NODE_ID` shows where a record came from")
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"


def _where(p: Provenance) -> str:
    if p.load_id is None:
        return "written outside a load"
    line = f":{p.source_line}" if p.source_line is not None else ""
    return f"{p.source_file}{line} (load {p.load_id})"


def _lineage_json(found: list[NodeLineage], loads: dict[str, LoadRecord], merges: list[MergeRecord]) -> dict:
    def load_of(p: Provenance) -> dict | None:
        record = loads.get(p.load_id or "")
        return {"source": record.source, "mapping": record.mapping, "started": record.started,
                "state": record.state} if record else None

    return {
        "nodes": [{**asdict(n), "load": load_of(n.provenance),
                   "edges": [{**asdict(e), "load": load_of(e.provenance)} for e in n.edges]} for n in found],
        "merges": [_merge_json(m) for m in merges],
    }


def _merge_json(m: MergeRecord) -> dict:
    out = asdict(m)
    out["redirects"] = len(m.redirects)
    out.pop("merged_row")
    return out


def cmd_lineage(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out

    with _store(settings) as store:
        found = Ledger(store).lineage(args.node_id)
        merges = [m for m in Ledger(store).merges() if args.node_id in (m.kept_id, m.merged_id)]
        if not found and not merges:
            gone = [t for t in Ledger(store).tombstones() if t.kind == "node" and t.ident == (args.node_id,)]
            if not gone:
                raise InvalidInput(f"no node {args.node_id!r} in the store, merged or retired")
            last = gone[-1]
            out(args, {"nodes": [], "merges": [], "retired": asdict(last)},
                f"{last.name} {args.node_id} was retired by load {last.load_id}: {last.reason}")
            return EXIT_OK
        loads = {r.load_id: r for r in Ledger(store).loads()}
    lines = []
    for n in found:
        lines.append(f"{n.label} {n.node_id}: {_where(n.provenance)}")
        record = loads.get(n.provenance.load_id or "")
        if record:
            lines.append(f"  load {record.load_id}: {record.source} via {record.mapping}, {record.state}")
        for e in n.edges:
            other = e.dst if e.direction == "out" else e.src
            arrow = "->" if e.direction == "out" else "<-"
            lines.append(f"  {arrow} {e.relation} {other}{' [' + e.key + ']' if e.key else ''}: {_where(e.provenance)}")
    for m in merges:
        verb = f"absorbed {m.merged_id}" if m.kept_id == args.node_id else f"merged into {m.kept_id}"
        lines.append(f"merge {m.merge_id} ({m.state}): {verb} by {m.rule} (score {m.score:g}: {m.detail}), "
                     f"load {m.load_id}")
    out(args, _lineage_json(found, loads, merges), "\n".join(lines))
    return EXIT_OK


def cmd_loads(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out

    with _store(settings) as store:
        records = Ledger(store).loads()
    lines = [f"{'load':<26} {'state':<12} {'mode':<6} {'started':<20} {'batches':>7} {'rows':>9}  source"]
    for r in records:
        lines.append(f"{r.load_id:<26} {r.state:<12} {r.mode:<6} {r.started:%Y-%m-%d %H:%M:%S} "
                     f"{r.batches:>7} {r.rows_written:>9}  {r.source}")
    if any(r.state == "running" for r in records):
        lines.append("running: still loading, or killed "
                     "(a later finished load of the same source marks it interrupted)")
    out(args, {"loads": [asdict(r) for r in records]}, "\n".join(lines))
    return EXIT_OK


def cmd_merges(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out

    with _store(settings) as store:
        if args.action == "undo":
            m = Ledger(store).undo_merge(args.merge_id)
            out(args, _merge_json(m), f"undid merge {m.merge_id}: {m.label} {m.merged_id} is back, "
                f"{sum(r.end is not None for r in m.redirects)} edge(s) point at it again; "
                "later loads keep the two apart")
            return EXIT_OK
        records = Ledger(store).merges(args.label, args.state)
    lines = [f"{'id':>5} {'state':<7} {'label':<8} {'kept':<20} {'merged':<20} {'rule':<14} {'score':>6}  detail"]
    for m in records:
        lines.append(f"{m.merge_id:>5} {m.state:<7} {m.label:<8} {m.kept_id:<20} {m.merged_id:<20} {m.rule:<14} "
                     f"{m.score:>6.3f}  {m.detail}")
    out(args, {"merges": [_merge_json(m) for m in records]}, "\n".join(lines))
    return EXIT_OK


def register(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("lineage", parents=[common, as_json], help="where a node and its edges came from")
    p.add_argument("node_id")
    p.set_defaults(fn=cmd_lineage)
    p = sub.add_parser("loads", parents=[common, as_json], help="every load, with its state (interrupted ones too)")
    p.set_defaults(fn=cmd_loads)
    p = sub.add_parser("merges", help="identity-resolution decisions: list them, undo one")
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common, as_json], help="every merge with its rule and score")
    listing.add_argument("--label", help="only merges of this node type (Account, Contact)")
    listing.add_argument("--state", choices=("active", "undone"))
    undo = actions.add_parser("undo", parents=[common, as_json], help="restore a merged record and its edges")
    undo.add_argument("merge_id", type=int)
    p.set_defaults(fn=cmd_merges)
