"""Draws the deal review (`api.review.Review`) as one self-contained HTML page.

The page's stylesheet and script (`api/static/review/`) are inlined, so the file works
offline, from disk, with nothing fetched. Every string from the graph is escaped.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path
from typing import Any

from api.review import Move, Review, Row, Total, page_state
from gnn.gate import auroc_band
from gnn.path_style import DEFAULT_FILL, DIRECTION_COLOURS, NEUTRAL, NODE_FILLS, relation_words
from gnn.registry import ModelCard
from ontology.names import Label

STATIC = Path(__file__).parent / "static" / "review"
#: (data key, heading, number?) of the table's columns, in order.
COLUMNS = [("account", Label.ACCOUNT, False), ("deal", Label.DEAL, False), ("owner", "Owner", False),
           ("stage", "Stage", False), ("close", "Close date", False), ("amount", "Amount", True),
           ("probability", "Probability", True), ("change", "Change", True), ("weighted", "Weighted", True)]


def _money(value: float | None) -> str:
    # Half away from zero, as the page's script (Intl.NumberFormat) rounds the totals it recomputes: with
    # Python's half-to-even a total ending in .5 read one less in the header than in the table's footer.
    if value is None:
        return ""
    return f"{Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP):,.0f}"


def _pts(delta: float | None) -> str:
    if delta is None:
        return '<span class="meta" title="scored once: no change to show">new</span>'
    points = round(100 * delta)
    if points == 0:
        return "±0 pts"
    return f'<span class="{"up" if points > 0 else "down"}">{"+" if points > 0 else "−"}{abs(points)} pts</span>'


def _attr(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def path_chain(path: dict[str, Any]) -> str:
    """A path as named boxes joined by arrows worded as a person would (never FOR_ACCOUNT); names wrap, never cut.
    A fact of the deal itself (its stage, close date, activity) is a one-step path: one "this deal" box."""
    colour = DIRECTION_COLOURS.get(path["direction"], NEUTRAL)
    own = len(path["steps"]) == 1
    parts = []
    for i, step in enumerate(path["steps"]):
        if i:
            words = relation_words(step.get("relation"), step.get("direction"))
            parts.append(f'<li class="link"><span class="arrow" aria-hidden="true">→</span> {escape(words)}</li>')
        fill = NODE_FILLS.get(step["label"], DEFAULT_FILL)
        parts.append(f'<li class="node" style="background:{fill};border-color:{colour}">'
                     f'<span class="label">{"this deal" if own else escape(step["label"])}</span>'
                     f'<span class="name">{escape(step.get("name") or step.get("id") or "?")}</span></li>')
    return f'<ol class="chain{" own" if own else ""}" aria-label="{_attr(path["text"])}">{"".join(parts)}</ol>'


def _row(r: Row, today: date) -> str:
    overdue = r.close_date is not None and r.close_date < today.isoformat()
    close = escape(r.close_date or "")
    if overdue:
        close = f'<span class="overdue" title="the close date has passed">{close} overdue</span>'
    data = {"deal": r.deal, "account": r.account or "", "owner": r.owner or "", "stage": r.stage or "",
            "close": r.close_date or "", "amount": r.amount, "probability": round(r.probability, 4),
            "change": None if r.change is None else round(r.change, 4), "weighted": r.weighted,
            "rep": r.owner_id or "", "month": r.month}
    attrs = " ".join(f'data-{k}="{_attr(v)}"' for k, v in data.items())
    return (f"<tr {attrs}><td>{escape(r.account or '')}</td>"
            f'<td><a href="#deal-{_attr(r.deal_id)}">{escape(r.deal)}</a></td><td>{escape(r.owner or "unassigned")}'
            f"</td><td>{escape(r.stage or '')}</td><td>{close}</td><td class='num'>{_money(r.amount)}</td>"
            f"<td class='num'>{round(100 * r.probability)}%</td><td class='num'>{_pts(r.change)}</td>"
            f"<td class='num'>{_money(r.weighted)}</td></tr>")


def _options(element_id: str, label: str, pairs: dict[str, str]) -> str:
    opts = "".join(f'<option value="{_attr(k)}">{escape(v)}</option>' for k, v in sorted(pairs.items(),
                                                                                        key=lambda kv: kv[1]))
    return f'<label>{label} <select id="{element_id}"><option value="">all</option>{opts}</select></label>'


def _table(review: Review, today: date) -> str:
    rows = review.rows
    heads = "".join(f'<th scope="col" data-key="{key}" data-type="{"number" if num else "text"}"'
                    f'{" class=num" if num else ""}><button type="button">{label}</button></th>'
                    for key, label, num in COLUMNS)
    filters = (_options("f-rep", "Owner", {r.owner_id: r.owner or r.owner_id for r in rows if r.owner_id})
               + _options("f-stage", "Stage", {r.stage: r.stage for r in rows if r.stage})
               + _options("f-month", "Close month", {r.month: r.month for r in rows})
               + '<label>Search <input id="f-text" type="search" placeholder="account, deal, owner"></label>'
               + '<span id="count" class="meta"></span>')
    return (f'<section aria-labelledby="t-title"><h2 id="t-title">Open deals</h2><div class="filters">{filters}</div>'
            f'<div class="table-box"><table id="deals"><thead><tr>{heads}</tr></thead>'
            f'<tbody>{"".join(_row(r, today) for r in rows)}</tbody>'
            '<tfoot><tr><td colspan="5" id="t-count"></td><td class="num" id="t-amount"></td><td></td><td></td>'
            '<td class="num" id="t-weighted"></td></tr></tfoot></table></div>'
            '<p class="meta">Click a heading to sort; weighted = amount × probability. Change: since the previous '
            'scoring.</p></section>')


def _totals_table(title: str, what: str, totals: list[Total]) -> str:
    body = "".join(f"<tr><td>{escape(t.key)}</td><td class='num'>{t.deals}</td><td class='num'>{_money(t.amount)}"
                   f"</td><td class='num'>{_money(t.weighted)}</td></tr>" for t in totals)
    all_ = Total("all", sum(t.deals for t in totals), sum(t.amount for t in totals), sum(t.weighted for t in totals))
    return (f'<div><h2>{title}</h2><table class="totals-table"><thead><tr><th>{what}</th><th class="num">Deals</th>'
            f'<th class="num">Pipeline</th><th class="num">Weighted pipeline</th></tr></thead><tbody>{body}</tbody>'
            f"<tfoot><tr><td>All</td><td class='num'>{all_.deals}</td><td class='num'>{_money(all_.amount)}</td>"
            f"<td class='num'>{_money(all_.weighted)}</td></tr></tfoot></table></div>")


def _moved(review: Review) -> str:
    since = (f"since the last review ({escape(review.previous.generated)})" if review.previous
             else "since each deal's previous scoring (no earlier review page was given)")
    if not review.moved:
        return f'<section class="moved"><h2>Moved most {since}</h2><p class="meta">No score moved.</p></section>'
    items = []
    for m in review.moved:
        items.append(f'<li><a href="#deal-{_attr(m.row.deal_id)}">{escape(m.row.deal)}</a> '
                     f'({escape(m.row.account or "")}, {escape(m.row.owner or "unassigned")}): '
                     f'{round(100 * m.before)}% → <b>{round(100 * m.row.probability)}%</b> {_pts(m.delta)}'
                     f"{_changes(m)}</li>")
    return f'<section class="moved"><h2>Moved most {since}</h2><ol>{"".join(items)}</ol></section>'


def _changes(m: Move) -> str:
    if m.since != "the last review":
        return ' <span class="meta">(reasons then were not kept: they show from the next review on)</span>'
    lines = [f'<li class="new">New reason: {escape(t)}</li>' for t in m.new_paths]
    lines += [f'<li class="gone">No longer a reason: {escape(t)}</li>' for t in m.gone_paths]
    return f'<ul class="changes">{"".join(lines)}</ul>' if lines else ' <span class="meta">(same reasons)</span>'


def _sure(explanation: dict[str, Any]) -> str:
    """Fidelity in words RevOps can repeat, with the figures beside them."""
    mine, random = explanation.get("fidelity"), explanation.get("random_fidelity")
    if mine is None:
        return "no measure of how much these reasons move the score"
    text = f"hiding the links behind these reasons moves the score {100 * mine:.1f} pts"
    if random is not None:
        text += f", hiding as many random links {100 * random:.1f} pts"
        if random > 0:
            text += f" ({mine / random:.1f}×)"
    return text


def _deal(r: Row) -> str:
    explanation = r.score.explanation.to_json() if r.score.explanation else {"paths": []}
    pct = round(100 * r.probability)
    meta = r.score.metadata or {}
    # No band where the model has no skill: the figure is the base rate, and the page says so.
    verdict = (f"win probability ({escape(r.score.band)})" if meta.get("state") != "no_skill" else
               "base win rate: <b>no skill</b>, the model did not beat the baseline on its test period, "
               "so this is not a judgement of this deal")
    shown = explanation.get("paths", [])
    # The reference is the same for every path of a deal: said once, above them.
    reference = next((p["reference"] for p in shown if p.get("reference")), "a typical deal")
    paths = (f'<p class="meta">Reasons, compared with {escape(reference)}:</p>' if shown else "") + "".join(
        f'<div class="path"><p class="{_attr(p["direction"])}">{escape(p["direction"])} ({p["weight"]:+.3f}): '
        f'{escape(p["text"])}</p>{path_chain(p)}</div>' for p in shown)
    if explanation.get("note"):
        paths += f'<p class="meta">{escape(explanation["note"])}</p>'
    steps = "".join(f"<li>{escape(s['text'])}</li>" for s in explanation.get("suggestions", []))
    if steps:
        steps = f'<div class="suggestions"><h4>Next steps</h4><ul>{steps}</ul></div>'
    return (f'<article class="deal" id="deal-{_attr(r.deal_id)}" data-rep="{_attr(r.owner_id)}" '
            f'data-account="{_attr(r.account_id)}"><h3>{escape(r.deal)}</h3>'
            f'<div class="meta">{escape(r.account or "?")} · owner {escape(r.owner or "unassigned")} · amount '
            f'{_money(r.amount) or "?"} · stage {escape(r.stage or "?")} · closes {escape(r.close_date or "?")}</div>'
            f'<p><span class="bar"><span style="width:{pct}%"></span></span> <b>{pct}%</b> {verdict} · model '
            f'{escape(r.score.model_version)} · scored {r.score.scored_at:%Y-%m-%d %H:%M} UTC · '
            f"{_sure(explanation)}</p>{paths}{steps}</article>")


def _model_text(card: ModelCard | None) -> str:
    if card is None:
        return "no model"
    m = card.metrics.get(card.kind) or {}
    if card.state == "no_skill":
        quality = "NO SKILL: it did not pass the serving gate, every score is the base win rate"
    elif m.get("auroc") is None:
        quality = "test quality unknown"
    else:
        quality = f"test AUROC {m['auroc']:.2f} ({auroc_band(m['auroc'])}), ECE {m.get('ece') or 0:.3f}"
    return (f"model {escape(card.version)} ({escape(card.kind)}), trained {card.trained_at:%Y-%m-%d %H:%M} UTC, "
            f"{_snapshot_text(card.snapshot_id)}, {quality}")


def _snapshot_text(snapshot_id: str) -> str:
    """"data as of <day>" with the full snapshot id on hover: the id is for tracing, the day is what people read."""
    day = snapshot_id[:8]
    if len(day) == 8 and day.isdigit():
        return f'<span title="snapshot {_attr(snapshot_id)}">data as of {day[:4]}-{day[4:6]}-{day[6:]}</span>'
    return f"snapshot {escape(snapshot_id)}"


def render(review: Review, today: date) -> str:
    rows = review.rows
    amount = sum(r.amount or 0.0 for r in rows)
    weighted = sum(r.weighted or 0.0 for r in rows)
    state = json.dumps(page_state(review)).replace("<", "\\u003c")
    css = (STATIC / "review.css").read_text("utf-8")
    script = (STATIC / "review.js").read_text("utf-8")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Deal review — {escape(review.whose)}</title><style>{css}</style></head><body>"
        f'<header><h1>Deal review: {escape(review.whose)}</h1>'
        f"<p>{len(rows)} open deals · pipeline {_money(amount)} · weighted {_money(weighted)} · "
        f"{_model_text(review.model)} · generated {review.generated} · reasons and next steps are the ones stored "
        "with each score</p></header><main>"
        f"{_table(review, today)}"
        f'<section class="totals">{_totals_table("Per rep", "Owner", review.by_rep)}'
        f'{_totals_table("Per close month", "Close month", review.by_month)}</section>'
        f"{_moved(review)}"
        f'<section class="drill"><h2>Each deal</h2>{"".join(_deal(r) for r in rows)}</section>'
        f"</main><script>{script}</script>"
        f'<script type="application/json" id="review-state">{state}</script>'
        "</body></html>"
    )
