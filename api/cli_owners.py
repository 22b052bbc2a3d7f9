"""`dealgraph feedback` and `dealgraph audit`: the owners' loop's audit log from the command line.

`feedback` acts as the principal named by `--role` / `--rep` / `--by` and goes
through the same visibility rule as the API (`api.owners_desk`): a rep cannot
give feedback on a deal they cannot see. `audit` prints the log oldest first
(`--json`: one JSON object per line).
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:
    from gnn.owners.monitor import Health


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out
    from api.owners_desk import cli_principal, desk_for, run

    principal = cli_principal(args.role, args.by, args.rep)
    target = "reason" if args.path is not None else "score"
    with _store(settings) as store:
        desk = desk_for(store, principal)
        event = run(desk.give_feedback(args.deal_id, target, args.reason, args.override, args.path))
    about = f"path {event.path}" if event.path is not None else "the score"
    override = f", override {event.override_probability:.0%}" if event.override_probability is not None else ""
    out(args, event.to_json(), f"recorded feedback #{event.seq} on {about} of deal {event.deal_id} "
        f"(score {event.probability:.0%}, model {event.model_version}{override})")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, safe_text
    from api.owners_desk import cli_principal, desk_for

    with _store(settings) as store:
        # The CLI runs with the store's own credentials: it reads the log as admin.
        events = desk_for(store, cli_principal("admin", getpass.getuser(), None)).audit(
            deal_id=args.deal, action=args.action, after=args.after)
    for e in events:
        if args.json:
            print(json.dumps(e.to_json(), default=str))
        else:
            about = f" deal {e.deal_id}" if e.deal_id else ""
            p = f" p={e.probability:.2f}" if e.probability is not None else ""
            o = f" override={e.override_probability:.2f}" if e.override_probability is not None else ""
            who = f"{e.actor.subject} ({e.actor.role})"
            # One line per event whatever its text holds: a rep's newline must not forge another event's line.
            print(safe_text(f"#{e.seq} {e.at:%Y-%m-%d %H:%M:%S} {e.action} by {who}{about}{p}{o}: {e.text}"))
    return EXIT_OK


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from api.cli import EXIT_OK, _store, out
    from gnn.owners.backtest import backtest, current_adjustment
    from gnn.owners.forecast import forecast
    from gnn.owners.forecast_text import backtest_table, forecast_html, forecast_table
    from gnn.owners.trends import trends
    from gnn.registry import ModelRegistry

    with _store(settings) as store:
        # Recalibrated by amount band, with the common shock, as the backtest checks it (docs/owners.md).
        adjustment = current_adjustment(store, settings.home) if ModelRegistry(settings.home).current() else None
        f = forecast(store, level=args.level, adjustment=adjustment)
        kpis = trends(store) if args.trends else []
        b = backtest(store, settings.home, every_days=args.every, level=args.level) if args.backtest else None
    lines = forecast_table(f, reps=args.reps)
    if kpis:
        head = f"{'close qtr':<10} {'closed':>6} {'won':>5} {'win rate':>8} {'median days':>11} {'won amount':>14}"
        lines += ["", head,
                  *(f"{r.period:<10} {r.closed:>6} {r.won:>5} {r.win_rate:>8.1%} "
                    f"{'-' if r.median_cycle_days is None else r.median_cycle_days:>11} {r.won_amount:>14,.0f}"
                    for r in kpis)]
    if b is not None:
        lines += ["", *backtest_table(b)]
    if args.html:
        Path(args.html).write_text(f"<!doctype html><meta charset=utf-8><title>Forecast</title>{forecast_html(f, b)}",
                                   "utf-8")
        lines.append(f"wrote {args.html}")
    data = {"level": f.level, "draws": f.draws, "seed": f.seed, "unscored": f.unscored,
            "model_versions": f.model_versions, "rows": [r.to_json() for r in f.rows],
            "adjustment": f.adjustment.to_json() if f.adjustment else None,
            "backtest": b.to_json() if b else None, "trends": [r.to_json() for r in kpis]}
    out(args, data, "\n".join(lines))
    return EXIT_OK


def health_lines(h: Health) -> list[str]:
    r = h.realised
    lines = [f"model {h.model_version}, trained on data up to {h.data_end}"]
    if r.get("n"):
        band = r.get("auroc_band")
        lines.append(f"realised on {r['n']} deals closed since ({r['won']} won): AUROC {r.get('auroc')} "
                     f"(90% band {band}), Brier {r.get('brier')} (band {r.get('brier_band')}), ECE {r.get('ece')}")
    else:
        lines.append("realised: no deal scored by it has closed yet")
    drift = ", ".join(f"{k} {'n/a' if v is None else v}" for k, v in h.drift.items())
    lines.append(f"input drift (PSI vs training, {h.new_deals} new deals): {drift}")
    lines.append(f"score shift (PSI vs its held-out scores, {h.open_scored} open deals): {h.score_psi}")
    lines.append(f"last load {h.hours_since_load} h ago; quarantine rate of recent loads {h.quarantine_rate}")
    o = h.overrides
    if o.get("n"):
        lines.append(f"overrides on {o['n']} closed deals: Brier of the people {o['human_brier']}, of the model "
                     f"{o['model_brier']}; the person was closer on {o['human_closer']:.0%}")
    lines += [f"BREACH: {b['text']}" for b in h.breaches] or ["no threshold crossed"]
    return lines


def cmd_monitor(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out
    from api.owners_alerts import thresholds_from
    from gnn.owners.monitor import model_health

    with _store(settings) as store:
        h = model_health(store, settings.home, thresholds_from(settings))
    out(args, h.to_json(), "\n".join(health_lines(h)))
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_FAILURE, EXIT_OK, _store, out
    from api.owners_alerts import check_alerts

    with _store(settings) as store:
        result = check_alerts(store, settings.home, settings)
    lines = [f"#{a.seq} {a.detail.get('alert')}: {a.text}" + (
        "" if a.seq not in result.delivered else " [delivered]" if result.delivered[a.seq] else " [NOT delivered]")
        for a in result.raised] or ["no new alerts"]
    if result.raised and not settings.alert_webhook_url:
        lines.append("recorded in the audit log only: set DEALGRAPH_ALERT_WEBHOOK_URL to deliver them")
    data = {"raised": [a.to_json() for a in result.raised], "delivered": result.delivered}
    out(args, data, "\n".join(lines))
    return EXIT_FAILURE if not all(result.delivered.values()) else EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
             as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser("feedback", parents=[common, as_json],
                       help="flag a deal's score as off (or one of its reasons as wrong), audited")
    p.add_argument("deal_id")
    p.add_argument("--reason", required=True, help="why: required free text")
    p.add_argument("--path", type=int, help="the reason (path index, 0 = top) that is wrong; without it: the score")
    p.add_argument("--override", type=float, help="the win probability you would give (0..1); never a training label")
    p.add_argument("--role", choices=("rep", "revops", "admin"), default="revops", help="act as this role")
    p.add_argument("--rep", help="the Rep id a rep acts for (with --role rep)")
    p.add_argument("--by", default=getpass.getuser(), help="who is giving it (default: the OS user)")
    p.set_defaults(fn=cmd_feedback)
    p = sub.add_parser("audit", parents=[common, as_json], help="print the audit log (--json: JSON lines)")
    p.add_argument("--deal", help="only events about this deal")
    p.add_argument("--action", help="only feedback, alert or alert_delivery")
    p.add_argument("--after", type=int, default=0, help="only events after this seq")
    p.set_defaults(fn=cmd_audit)
    p = sub.add_parser("forecast", parents=[common, as_json],
                       help="expected won amount per close month / quarter / rep with intervals; --backtest checks it")
    p.add_argument("--reps", action="store_true", help="also print each rep's rows")
    p.add_argument("--level", type=float, default=0.9, help="interval coverage (default 0.9)")
    p.add_argument("--backtest", action="store_true",
                   help="forecast the serving model's held-out periods as of their start, beside what was won")
    p.add_argument("--every", type=int, help="days between backtest periods (default: the model's cutoff spacing)")
    p.add_argument("--trends", action="store_true", help="also print win rate and cycle time per close quarter")
    p.add_argument("--html", help="also write the forecast (and backtest) as an HTML section to this file")
    p.set_defaults(fn=cmd_forecast)
    p = sub.add_parser("monitor", parents=[common, as_json],
                       help="the serving model's health: realised performance, drift, score shift, freshness")
    p.set_defaults(fn=cmd_monitor)
    p = sub.add_parser("alerts", help="raise and deliver alerts to the owners")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("check", parents=[common, as_json],
                       help="monitor, record new alerts, deliver them to DEALGRAPH_ALERT_WEBHOOK_URL (for cron)")
    p.set_defaults(fn=cmd_alerts)
