"""`dealgraph models list|promote|rollback`: the model registry from the command line."""

from __future__ import annotations

import argparse

from api.settings import Settings
from gnn.registry import ModelRegistry


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, out

    registry = ModelRegistry(settings.home)
    before = registry.current_version()
    restored = None
    if args.action == "promote":
        registry.promote(args.version)
        audit_model_change(settings, args.action, before, registry.current_version())
    elif args.action == "rollback":
        restored = roll_back_scores(settings)
    current = registry.current_version()
    cards = registry.versions()
    rows = [f"{'':2}{'version':<26} {'kind':<10} {'trained at':<20} {'AUROC':>7} {'ECE':>7} state"]
    for card in cards:
        m = card.metrics.get(card.kind, {})
        mark = "* " if card.version == current else "  "
        rows.append(f"{mark}{card.version:<26} {card.kind:<10} {card.trained_at:%Y-%m-%d %H:%M:%S} "
                    f"{m.get('auroc', float('nan')):>7.4f} {m.get('ece', float('nan')):>7.4f} {card.state}")
    rows.append("* serves scores now" if current else "no model serves yet: run `dealgraph train`")
    if current and registry.card(current).state == "no_skill":
        rows.append("the serving model failed the serving gate: its scores are the base win rate, marked no_skill")
    if restored is not None:
        rows.append(f"rolled back to {restored['after']}: {restored['restored']} scores and explanations restored, "
                    f"{restored['scored_now']} deals it never scored scored now, {restored['withdrawn_reviews']} "
                    "pending review(s) withdrawn")
    data = {"current": current, "served": registry.served(), "versions": [c.to_json() for c in cards],
            "rollback": restored}
    out(args, data, "\n".join(rows))
    return EXIT_OK


def audit_model_change(settings: Settings, action: str, before: str | None, after: str | None) -> None:
    """Promotions and rollbacks go to the audit log (docs/owners.md) beside feedback and alerts."""
    import getpass

    from api.cli import _store
    from gnn.owners.audit import Actor, AuditEvent, record_events

    event = AuditEvent(action=action, actor=Actor(subject=f"cli:{getpass.getuser()}", role="admin"),
                       model_version=after, text=f"{action}: {before or 'none'} -> {after or 'none'}",
                       detail={"before": before, "after": after})
    with _store(settings) as store:
        record_events(store, [event])


def roll_back_scores(settings: Settings) -> dict:
    """Serve the previous model again with the scores and explanations it served (`owners.retrain.roll_back`)."""
    import getpass

    from api.cli import _store
    from gnn.owners.audit import Actor
    from gnn.owners.retrain import roll_back

    with _store(settings) as store:
        return roll_back(store, settings.home, Actor(subject=f"cli:{getpass.getuser()}", role="admin"))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
             as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", help="list, promote or roll back trained models")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common, as_json], help="every registered model; * marks the one serving")
    promote = actions.add_parser("promote", parents=[common, as_json], help="serve a registered version")
    promote.add_argument("version")
    actions.add_parser("rollback", parents=[common, as_json], help="serve the previously served version again")
    p.set_defaults(fn=cmd_models)
