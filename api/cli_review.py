"""`dealgraph review`: the RevOps deal review as one self-contained HTML file (`api/review.py`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.settings import Settings


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from api.cli import EXIT_OK, _store, out
    from api.review import build_review, previous_review
    from gnn.registry import ModelRegistry

    path = Path(args.out)
    # "Since the last review": the state the page being replaced carries (or the one --since names).
    since = Path(args.since) if args.since else path
    previous = previous_review(since.read_text("utf-8", errors="replace")) if since.is_file() else None
    with _store(settings) as store:
        html = build_review(store, ModelRegistry(settings.home).current(), rep=args.rep, account=args.account,
                            previous=previous)
        if args.forecast:  # the owners' forecast and its backtest as one more section (docs/owners.md)
            from gnn.owners.backtest import backtest
            from gnn.owners.forecast import forecast
            from gnn.owners.forecast_text import forecast_html

            section = forecast_html(forecast(store, rep_ids=[args.rep] if args.rep else None),
                                    backtest(store, settings.home))
            html = html.replace("</body>", section + "</body>", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, "utf-8")
    deals = html.count('<article class="deal"')
    out(args, {"out": str(path), "deals": deals}, f"wrote the review of {deals} open deals to {path}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
             as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser("review", parents=[common, as_json], help="write the deal review HTML report")
    p.add_argument("--out", default="deal-review.html", help="file to write (default deal-review.html)")
    p.add_argument("--rep", help="only deals owned by this rep id")
    p.add_argument("--account", help="only deals of this account id")
    p.add_argument("--since", help="the last review's HTML file, for what moved since (default: the --out file "
                                   "this run replaces, when there is one)")
    p.add_argument("--forecast", action="store_true",
                   help="add the forecast by quarter and month, with its backtest (docs/owners.md)")
    p.set_defaults(fn=cmd_review)
