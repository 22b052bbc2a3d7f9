"""The `dealgraph` command line.

Every command takes `--store URL` (default `DEALGRAPH_STORE`, else
`sqlite:///dealgraph.db` in the working directory) and `--home DIR` (default
`DEALGRAPH_HOME`, else `.dealgraph`). `--json` prints one JSON object on
stdout. Exit codes: 0 ok, 1 bad input (nothing written), 2 failure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.settings import Settings
from graph import DealgraphError, GraphStore, InvalidInput, open_store
from graph.ledger import Ledger
from ontology.names import Label

EXIT_OK, EXIT_BAD_INPUT, EXIT_FAILURE = 0, 1, 2
COMMAND_MODULES: list[str] = [
    "api.cli_models", "api.cli_graph", "api.cli_keys", "api.cli_review", "api.cli_mapping", "api.cli_lineage",
    "api.cli_owners", "api.cli_retrain",
]
EXAMPLE_QUERY = """{
  deals(first: 3) {
    edges { node { name amount account { name }
      score { probability band modelVersion }
      explanation(top: 3) { paths { direction weight text } } } }
  }
}"""

log = logging.getLogger(__name__)


#: What a terminal acts on or what reorders text, never printed as it is: control characters (an escape sequence,
#: a newline inside a value), format marks (a bidi override) and lone surrogates.
_UNSAFE = frozenset(("Cc", "Cf", "Cs"))


def safe_text(text: str, keep: str = "") -> str:
    """`text` for a terminal: the characters of `_UNSAFE` but those in `keep` shown as Python escapes (`\\x1b`),
    never acted on. CLI output carries what others wrote (a rep's feedback, a deal's name from a CRM export): it
    must not drive the reader's terminal, nor, printed with `keep=""`, forge another line of a log."""
    if text.isprintable():
        return text  # nearly always
    return "".join(c if c in keep or unicodedata.category(c) not in _UNSAFE
                   else c.encode("unicode_escape").decode("ascii") for c in text)


def out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    """One JSON object with --json, else the human text (its own lines and tabs kept, `safe_text`)."""
    print(json.dumps(data, default=str) if getattr(args, "json", False) else safe_text(text, keep="\n\t"))


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    from loaders.sample import generate_sample

    summary = generate_sample(Path(args.out), accounts=args.accounts, seed=args.seed)
    data = {"out": str(summary.out_dir), "rows": summary.rows, "total_rows": summary.total_rows, "dirt": summary.dirt}
    counts = ", ".join(f"{k} {v}" for k, v in summary.rows.items())
    out(args, data, f"wrote {summary.total_rows} rows to {summary.out_dir}: {counts}")
    return EXIT_OK


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli_lineage import load_options, load_report
    from gnn.readiness import readiness
    from loaders import load_export, load_mapping
    from loaders.absent import load_note_lines
    from loaders.read import column_warnings
    from loaders.stand_in import stand_in_lines

    with _store(settings) as store:
        mapping = load_mapping(args.mapping, store.schema)
        for warning in column_warnings(mapping, Path(args.source)):
            print(f"warning: {warning}", file=sys.stderr)
        summary = load_export(store, Path(args.source), mapping, settings.home / "quarantine", **load_options(args))
        ready = readiness(store)
    lines = [f"{'file':<30} {'read':>8} {'loaded':>8} {'quarant.':>8} {'merged':>8}"]
    shared = {f.file for f in summary.files if sum(g.file == f.file for g in summary.files) > 1}
    for f in summary.files:  # a file several sources read (a deal row unpivoted into stage changes): each named
        name = f"{f.file} → {f.target}" if f.file in shared else f.file
        lines.append(f"{name:<30} {f.read:>8} {f.loaded:>8} {f.quarantined:>8} {f.merged:>8}")
    t = summary.totals()
    lines.append(f"{'total':<30} {t['read']:>8} {t['loaded']:>8} {t['quarantined']:>8} {t['merged']:>8}")
    lines.append(f"reconciles (read = loaded + quarantined + merged): {summary.reconciles}")
    if t["quarantined"]:
        lines.append(f"rejected rows, with line and reason: {summary.quarantine_file}")
    lines += load_note_lines(summary.absent)
    lines += [f"matched by name under another spelling: {s}" for s in summary.spellings]
    lines += [f"loaded with a stand-in: {s}" for s in stand_in_lines(summary.stand_ins)]
    lines += load_report(summary)
    lines += [f"for training: {note}" for note in ready]
    out(args, {**summary.to_json(), "readiness": ready}, "\n".join(lines))
    return EXIT_OK if summary.reconciles else EXIT_FAILURE


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from gnn.leakage import LeakageError
    from gnn.threads import size_thread_pools
    from gnn.train import DEFAULT_FANOUT, TrainConfig, train

    size_thread_pools()
    fanout = getattr(args, "fanout", None)
    fanout = None if getattr(args, "full_batch", False) else DEFAULT_FANOUT if fanout is None else fanout
    config = TrainConfig(cutoff_days=args.cutoff_every, horizon_days=args.horizon, fanout=fanout,
                         compare_families=True, promote_share=settings.retrain_min_share)
    with _store(settings) as store:
        try:
            result = train(store, settings.home, truth=Path(args.truth) if args.truth else None, config=config,
                           provenance=_leak_provenance(store, args.mapping))
        except DealgraphError as e:
            # A refusal is an answer too: with --json it is one object on stdout, like any other.
            if args.json:
                leaks = e.leaks if isinstance(e, LeakageError) else []
                where = e.provenance if isinstance(e, LeakageError) else {}
                print(json.dumps({"refused": True, "reason": str(e), "leaks": [
                    {"input": leak.input, "kind": leak.kind, "source": leak.source, "evidence": leak.evidence,
                     "mapping": where.get(leak.source)} for leak in leaks]}))
            raise
    _audit_training(settings, result)
    width = max(12, *(len(name) for name in result.report["test"]))
    rows = [f"{'model':<{width}} {'AUROC':>7} {'AUPRC':>7} {'Brier':>7} {'ECE':>7} {'n':>6}"]
    for name, m in result.report["test"].items():
        rows.append(f"{name:<{width}} {m['auroc']:>7.4f} {m['auprc']:>7.4f} {m['brier']:>7.4f} {m['ece']:>7.4f} "
                    f"{m['n']:>6}")
    cov = result.report["coverage"]
    text = "\n".join([
        f"model {result.card.version} ({result.card.kind}), test period from {result.report['split']['t2'][:10]}",
        f"examples: {result.report['examples']}; closed deals with an example: {cov['with_examples']} of "
        f"{cov['closed_deals']}",
        *rows, *result.notes, f"saved to {result.path} (report.json, reliability.png)",
    ])
    out(args, {"version": result.card.version, "path": str(result.path), **result.report}, text)
    return EXIT_OK


def _audit_training(settings: Settings, result: Any) -> None:
    """`dealgraph train` promotes by the promotion rule (`gnn.gate.may_serve`): the audit log says whether and why."""
    import getpass

    from gnn.owners.audit import Actor, AuditEvent, record_events

    kind = result.card.kind
    event = AuditEvent(action="train", actor=Actor(subject=f"cli:{getpass.getuser()}", role="admin"),
                       model_version=result.card.version,
                       text=result.notes[-1],  # PROMOTED / KEPT and why, as `retrain` words it
                       detail={"promoted": result.promoted, "kind": kind, "test": result.report["test"].get(kind),
                               "gate": result.report["gate"]["state"], "notes": result.notes})
    with _store(settings) as store:
        record_events(store, [event])


def _leak_provenance(store: GraphStore, mapping: str | None) -> dict[str, str]:
    """Ontology term -> "mapping: file column C", from `--mapping` or the last load's mapping; {} if unknown."""
    from loaders import load_mapping

    newest_first = sorted(Ledger(store).loads(), key=lambda r: r.started, reverse=True)
    name = mapping or next((r.mapping for r in newest_first), None)
    if name is None:
        return {}
    try:
        spec = load_mapping(name, store.schema)
    except (DealgraphError, OSError) as e:  # a custom mapping named only by its `name:`: say terms instead
        log.info("leak report without mapping columns: %s", e)
        return {}
    found: dict[str, str] = {}

    def note(term: str, file: str, value: Any) -> None:
        column = getattr(value, "column", None) or getattr(value, "template", None)
        if column:
            found.setdefault(term, f"mapping {spec.name}: {file} column {column}")

    for source in spec.sources:
        if source.node:
            for prop, value in source.properties.items():
                note(f"{source.node}.{prop}", source.file, value)
            for rel in source.relations:
                note(rel.relation, source.file, rel.target)
            for also in source.also:
                note(also.relation_from_parent, source.file, also.key)
                for prop, value in also.properties.items():
                    note(f"{also.node}.{prop}", source.file, value)
        if source.relation:
            note(source.relation, source.file, source.target)
            for prop, value in source.properties.items():
                note(f"{source.relation}.{prop}", source.file, value)
    return found


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli_retrain import review_policy
    from gnn.owners.retrain import rescore
    from gnn.threads import size_thread_pools

    size_thread_pools()
    with _store(settings) as store:
        # Through the review gate: high-risk changes are held for a person (`dealgraph pending`).
        records, held = rescore(
            store,
            settings.home,
            review_policy(settings),
            top=args.top,
            changed_only=getattr(args, "changed_only", False),
            progress=not args.json,
        )
    version = records[0].model_version if records else None
    bands: dict[str, int] = {}
    for r in records:
        bands[r.band] = bands.get(r.band, 0) + 1
    if held:
        print(f"{held} high-risk score change(s) held for review: `dealgraph pending list`", file=sys.stderr)
    if not records and not held and getattr(args, "changed_only", False):
        out(
            args,
            {"scored": 0, "model_version": None, "bands": {}},
            "nothing rescored: no open deal's computation graph changed since its latest score",
        )
        return EXIT_OK
    if not records and not held:  # a history of closed deals only: say so rather than "scored 0 with model None"
        out(
            args,
            {"scored": 0, "model_version": None, "bands": {}},
            "no open deals to score: every deal in the store is closed; load an export with open deals, then score",
        )
        return EXIT_OK
    out(
        args,
        {"scored": len(records), "held": held, "model_version": version, "bands": bands},
        f"scored {len(records)} open deals with model {version}: {bands}",
    )
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        score = store.latest_scores([args.deal_id]).get(args.deal_id)
        deal = store.get_node(Label.DEAL, args.deal_id)
    if deal is None:
        raise InvalidInput(f"no deal {args.deal_id!r} in the store")
    if score is None or not score.explanation:
        raise InvalidInput(f"deal {args.deal_id!r} has no score yet (closed, or `dealgraph score` not run)")
    shown = score.explanation.top(args.top)
    meta = score.metadata or {}
    quality = meta.get("quality") or {}
    if meta.get("state") == "no_skill":
        head = f"base win rate {score.probability:.0%} (NO SKILL: not a judgement of this deal)"
    else:
        head = f"win probability {score.probability:.0%} ({score.band})"
    lines = [f"{deal['name']}: {head}, model {score.model_version}"]
    if quality.get("auroc") is not None:
        lines.append(
            f"  model quality on its test period: AUROC {quality['auroc']:.2f} ({quality.get('auroc_band')}), "
            f"ECE {quality.get('ece')}, n {quality.get('n')}"
        )
    if shown.note:
        lines.append(f"  {shown.note}")
    for i, p in enumerate(shown.paths, 1):
        lines.append(f"  {i}. [{p.direction} {p.weight:+.3f}] {p.text}")
        lines.append("     " + " -> ".join(f"{s.label}:{s.name}" for s in p.steps))
    data = {
        "deal_id": args.deal_id,
        "probability": score.probability,
        "band": score.band,
        "state": meta.get("state"),
        "base_rate": meta.get("base_rate"),
        "quality": quality or None,
        "model_version": score.model_version,
        "paths": shown.to_json()["paths"],
        "fidelity": shown.fidelity,
    }
    out(args, data, "\n".join(lines))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli_keys import serve_banner, widget_banner
    from api.server import run

    host, port = args.host or settings.host, args.port or settings.port
    open_store(settings.store, **settings.store_credentials()).close()  # a bad store URL fails here, before the banner
    print(
        f"GraphQL API and GraphiQL: http://{host}:{port}/graphql\n{serve_banner(settings)}\n"
        f"{widget_banner(settings)}\n"
        f"Example query to paste into GraphiQL:\n{EXAMPLE_QUERY}",
        flush=True,
    )
    run(settings, host, port)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Sample -> load -> train -> score -> serve, on the embedded store."""
    sample_dir = settings.home / "sample"
    steps: list[tuple[str, Callable[[argparse.Namespace, Settings], int], argparse.Namespace]] = [
        ("sample", cmd_sample, argparse.Namespace(out=sample_dir, accounts=args.accounts, seed=args.seed, json=False)),
        ("load", cmd_load, argparse.Namespace(source=sample_dir, mapping="salesforce", json=False)),
        (
            "train",
            cmd_train,
            argparse.Namespace(
                truth=sample_dir / "truth.csv", json=False, cutoff_every=30, horizon=None, mapping="salesforce"
            ),
        ),
        ("score", cmd_score, argparse.Namespace(top=3, json=False)),
    ]
    for name, fn, step_args in steps:
        print(f"== {name}", flush=True)
        code = fn(step_args, settings)
        if code != EXIT_OK:
            return code
    from api.cli_keys import demo_key

    print(f"== api key\n{demo_key(settings)}", flush=True)
    if args.no_serve:
        return EXIT_OK
    print("== serve", flush=True)
    return cmd_serve(argparse.Namespace(host=args.host, port=args.port), settings)


def _store(settings: Settings) -> GraphStore:
    return open_store(settings.store, **settings.store_credentials())


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="graph store URL (default: $DEALGRAPH_STORE or sqlite:///dealgraph.db)")
    common.add_argument(
        "--home", help="folder for models and quarantine files (default: $DEALGRAPH_HOME or .dealgraph)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    parser = argparse.ArgumentParser(prog="dealgraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sample", parents=[common, as_json], help="write a synthetic Salesforce-style export")
    p.add_argument("--out", required=True)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(fn=cmd_sample)
    p = sub.add_parser("load", parents=[common, as_json], help="load an export through a mapping")
    p.add_argument("source", help="folder with the export's CSV files")
    p.add_argument(
        "--mapping",
        default="salesforce",
        help="shipped mapping (salesforce, hubspot, generic) or path to a YAML mapping; see docs/mappings.md",
    )
    p.add_argument(
        "--mode",
        choices=("delta", "full"),
        default="delta",
        help="delta (default): add and update records; full: the export is complete, so what it lacks is "
        "retired to tombstones (see docs/loading.md)",
    )
    p.add_argument("--identity", metavar="YAML", help="identity-resolution rules (default: the built-in ones)")
    p.add_argument("--no-identity", action="store_true", help="merge no duplicate records")
    p.add_argument(
        "--export-date",
        help="the day the export was taken (YYYY-MM-DD; default today): ends job "
        "history rows a full export no longer holds",
    )
    p.add_argument("--max-retire", type=float, help="largest share of a type a full load may retire (default 0.5)")
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("train", parents=[common, as_json], help="train the graph model beside its baselines")
    p.add_argument("--truth", help="the sample's truth.csv, to report the oracle AUROC")
    p.add_argument(
        "--cutoff-every",
        type=int,
        default=30,
        metavar="DAYS",
        help="days between the buckets' cutoffs (every deal also gets one at its creation; default 30)",
    )
    p.add_argument(
        "--horizon",
        type=int,
        default=None,
        metavar="DAYS",
        help="label: won within DAYS of the cutoff, right-censored (default: the eventual outcome)",
    )
    p.add_argument(
        "--mapping",
        help="the mapping the export was loaded with, to name its columns in a leak "
        "refusal (default: the last load's mapping)",
    )
    p.add_argument(
        "--fanout",
        type=int,
        metavar="N",
        help="neighbours each node hears from per relation, the most "
        "recent first (default 32); training and scoring sample",
    )
    p.add_argument(
        "--full-batch",
        action="store_true",
        help="train on every cutoff's whole graph instead (slower on busy products; to compare with the sampled model)",
    )
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("score", parents=[common, as_json], help="score and explain every open deal")
    p.add_argument("--top", type=int, default=3, help="paths stored per deal")
    p.add_argument(
        "--changed-only",
        action="store_true",
        help="rescore only deals whose computation graph changed since their latest score (after a delta load)",
    )
    p.set_defaults(fn=cmd_score)
    p = sub.add_parser("explain", parents=[common, as_json], help="print a deal's score and explanation paths")
    p.add_argument("deal_id")
    p.add_argument("--top", type=int, default=3)
    p.set_defaults(fn=cmd_explain)
    for name, fn, text in (
        ("serve", cmd_serve, "serve the GraphQL API"),
        ("demo", cmd_demo, "sample, load, train, score and serve"),
    ):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        if name == "demo":
            p.add_argument("--accounts", type=int, default=2000)
            p.add_argument("--seed", type=int, default=7)
            p.add_argument("--no-serve", action="store_true", help="stop after scoring")
        p.set_defaults(fn=fn)
    # Command groups that live in their own modules: each has register(sub, common, as_json).
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, common, as_json)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    overrides = {k: v for k, v in (("store", args.store), ("home", args.home)) if v}
    try:
        settings = Settings(**overrides)
        return args.fn(args, settings)
    except InvalidInput as e:
        print(f"dealgraph {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DealgraphError as e:
        print(f"dealgraph {args.command}: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, OSError) as e:
        print(f"dealgraph {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
