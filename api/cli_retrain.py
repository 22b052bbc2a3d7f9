"""`dealgraph retrain` (the guarded retraining, for cron) and `dealgraph pending` (held score changes).

`retrain` exits 0 whether the candidate was promoted or kept (both are
decisions, printed with their figures and audited); 1 when training itself
was refused (too little history, a leak), with the reason.
`pending accept|reject` acts as `--role revops` (or admin) by `--by`: a rep
cannot decide (exit 1, nothing written).
"""

from __future__ import annotations

import argparse
import getpass

from api.settings import Settings
from gnn.owners.audit import Actor
from gnn.owners.review import ReviewPolicy


def review_policy(settings: Settings) -> ReviewPolicy:
    return ReviewPolicy(min_amount=settings.review_min_amount, drop_points=settings.review_drop_points,
                        new_model=settings.review_new_model, min_move=settings.review_min_move_points)


def cli_actor(role: str, by: str) -> Actor:
    """Who acts from the command line; `decide` refuses a rep."""
    return Actor(subject=f"cli:{by}", role=role)


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from api.cli import EXIT_OK, _store, out
    from gnn.gate import Promotion
    from gnn.owners.retrain import retrain
    from gnn.train import TrainConfig

    share = args.share if args.share is not None else settings.retrain_min_share
    with _store(settings) as store:
        d = retrain(store, settings.home, Path(args.delta) if args.delta else None, args.mapping, share,
                    review_policy(settings), TrainConfig(cutoff_days=args.cutoff_every),
                    cli_actor("admin", args.by))
    lines = [f"candidate {d.candidate} vs serving {d.serving or 'none'} (share {d.share:.0%})"]
    if d.load:
        lines.append("delta load: " + ", ".join(f"{k} {v}" for k, v in d.load.items()))
    for name, f in d.figures.items():
        if f is not None:
            lines.append(f"  {name:<9} {f.version:<28} {f.state:<8} AUROC {f.auroc} ECE {f.ece} Brier {f.brier} "
                         f"n {f.n}")
    s = d.shadow
    if s.get("compared"):
        lines.append(f"shadow scores of {s['open']} open deals: mean {s['candidate_mean']} "
                     f"(served {s['served_mean']}), mean change {s['mean_abs_change']}, "
                     f"{s['moved_10_points_or_more']} moved 10+ points")
    lines.append(Promotion(d.promoted, d.reason).line())
    if d.promoted:
        lines.append(f"rescored: {d.served} served, {d.held} held for review (`dealgraph pending list`)")
    lines.append(f"audit event #{d.seq}")
    out(args, d.to_json(), "\n".join(lines))
    return EXIT_OK


def cmd_pending(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out
    from gnn.owners.review import decide, pending

    with _store(settings) as store:
        if args.action == "list":
            held = pending(store)
            rows = [f"#{p.seq} deal {p.deal_id}: served {p.served_probability:.0%} ({p.served_version}), proposed "
                    f"{p.proposed.probability:.0%} ({p.proposed.model_version}): {'; '.join(p.reasons)}" for p in held]
            data = {"pending": [{"id": p.seq, "deal_id": p.deal_id, "served_probability": p.served_probability,
                                 "proposed_probability": p.proposed.probability, "reasons": p.reasons,
                                 "proposed_model_version": p.proposed.model_version} for p in held]}
            out(args, data, "\n".join(rows) or "no score change is pending review")
            return EXIT_OK
        event = decide(store, cli_actor(args.role, args.by), args.id, args.action == "accept", args.note or "")
    out(args, event.to_json(), f"#{event.seq} deal {event.deal_id}: {event.text}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
             as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser("retrain", parents=[common, as_json],
                       help="load a delta, train, and promote only if the guard passes (for cron); audited")
    p.add_argument("--delta", help="folder of a delta export to load first")
    p.add_argument("--mapping", default="salesforce", help="the delta's mapping (default salesforce)")
    p.add_argument("--share", type=float, help="promote at this share of the serving model's AUROC and 1 - ECE "
                                               "(default: DEALGRAPH_RETRAIN_MIN_SHARE, else 0.95)")
    p.add_argument("--cutoff-every", type=int, default=30, metavar="DAYS", help="as for `dealgraph train`")
    p.add_argument("--by", default=getpass.getuser(), help="who runs it (default: the OS user)")
    p.set_defaults(fn=cmd_retrain)
    p = sub.add_parser("pending", help="score changes held for review: list, accept or reject (revops/admin)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common, as_json], help="changes waiting for a person")
    for name in ("accept", "reject"):
        a = actions.add_parser(name, parents=[common, as_json], help=f"{name} a held change (its #id), audited")
        a.add_argument("id", type=int)
        a.add_argument("--note", help="why (kept in the audit log)")
        a.add_argument("--role", choices=("rep", "revops", "admin"), default="revops", help="act as this role")
        a.add_argument("--by", default=getpass.getuser(), help="who decides (default: the OS user)")
    p.set_defaults(fn=cmd_pending)
