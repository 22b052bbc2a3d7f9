"""`dealgraph mapping check`, `draft` and `list`: mappings written and checked before any load.

    dealgraph mapping draft exports/unknown --out unknown.yaml
    dealgraph mapping check hubspot --source exports/hubspot
    dealgraph mapping check my-crm.yaml --source exports/my-crm --rows 0 --json
    dealgraph mapping list

`check` exits 0 when the mapping fits the ontology and the export, 1 with the
problems listed (warnings alone do not fail it). It writes nothing; with
`--with-store` it only reads the store, so references may name nodes loaded before.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from api.settings import Settings


def cmd_mapping_check(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_BAD_INPUT, EXIT_OK, _store, out
    from loaders.check import check_mapping
    from ontology import load_schema

    if args.with_store:
        with _store(settings) as store:
            report = check_mapping(args.mapping, store.schema, Path(args.source), args.rows, store)
    else:
        report = check_mapping(args.mapping, load_schema(), Path(args.source), args.rows)
    from loaders.absent import load_note_lines

    lines = [f"problem: {p}" for p in report.problems] + [f"warning: {w}" for w in report.warnings]
    lines += load_note_lines(report.absent)
    checked = sum(report.rows_checked.values())
    verdict = "ok" if report.clean else f"{len(report.problems)} problem(s)"
    lines.append(f"{verdict}: mapping {report.mapping} on {report.source} ({checked} rows checked)")
    data = {"mapping": report.mapping, "source": report.source, "clean": report.clean, "problems": report.problems,
            "warnings": report.warnings, "absent": report.absent, "rows_checked": report.rows_checked}
    out(args, data, "\n".join(lines))
    return EXIT_OK if report.clean else EXIT_BAD_INPUT


def cmd_mapping_list(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, out
    from loaders.mapping import MAPPINGS_DIR, parse_mapping

    shipped = {p.stem: parse_mapping(p).description for p in sorted(MAPPINGS_DIR.glob("*.yaml"))}
    out(args, {"mappings": shipped, "folder": str(MAPPINGS_DIR)}, "\n".join(f"{k:<12} {v}" for k, v in shipped.items()))
    return EXIT_OK


def cmd_mapping_draft(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, out
    from loaders.draft import write_draft

    source = Path(args.source)
    target = Path(args.out) if args.out else None
    draft = write_draft(source, target)
    written = target or source.with_suffix(".mapping.yaml")
    lines = [f"wrote {written}: " + (f"the shipped `{draft.shipped}` mapping fits this export" if draft.shipped
             else f"{draft.guesses} guesses to review (# GUESS), {len(draft.undecided)} undecided (# UNDECIDED)")]
    lines += [f"undecided: {u}" for u in draft.undecided]
    lines.append(f"next: dealgraph mapping check {written} --source {source}")
    data = {"out": str(written), "shipped": draft.shipped, "guesses": draft.guesses, "undecided": draft.undecided}
    out(args, data, "\n".join(lines))
    return EXIT_OK


def register(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser
) -> None:
    group = sub.add_parser("mapping", help="check a mapping against an export, list shipped mappings")
    commands = group.add_subparsers(dest="mapping_command", required=True)
    p = commands.add_parser("check", parents=[common, as_json],
                            help="report what a load would stop on or quarantine; writes nothing")
    p.add_argument("mapping", help="shipped mapping name (salesforce, hubspot, generic) or path to a YAML mapping")
    p.add_argument("--source", required=True, help="folder with the export's CSV files")
    p.add_argument("--rows", type=int, default=1000,
                   help="rows per file whose values are checked (0: all; default 1000)")
    p.add_argument("--with-store", action="store_true",
                   help="also accept references to nodes already in the store (read only)")
    p.set_defaults(fn=cmd_mapping_check)
    p = commands.add_parser("draft", parents=[common, as_json],
                            help="write a commented first mapping for an unknown export, from its headers and values")
    p.add_argument("source", help="folder with the export's CSV files")
    p.add_argument("--out", help="where to write the YAML (default: SOURCE.mapping.yaml beside the folder)")
    p.set_defaults(fn=cmd_mapping_draft)
    p = commands.add_parser("list", parents=[common, as_json], help="list the shipped mappings")
    p.set_defaults(fn=cmd_mapping_list)
