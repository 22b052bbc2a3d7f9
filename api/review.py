"""The deal review for a pipeline meeting: one self-contained HTML file of the open pipeline, for RevOps.

First a sortable, filterable table of the open deals (account, deal, owner, stage, close
date, amount, probability, change since the previous scoring, weighted amount); then the
totals and weighted pipeline per rep and per close month; then the deals whose score moved
most since the last review, with the reasons (paths) that changed; then one drill-down per
deal: its score, its stored reasons drawn as paths and its next steps, exactly as stored at
scoring time, so the review sees what the rep saw. `api/review_html.py` draws it.

"Since the last review": every page carries its own state (each deal's probability and
reason texts, `STATE_ID`), and `dealgraph review` reads it back from the page it replaces
(or `--since FILE`), so no store table is needed to know what the last meeting saw.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from gnn.registry import ModelCard
from graph.store import GraphStore, InvalidInput, ScoreRecord
from ontology.names import Label, Rel

PAGE = 500
#: Deals listed under "moved most since the last review".
MOVED = 10
#: A smaller move (in probability) is not worth a line in the meeting.
MIN_MOVE = 0.005
#: The id of the page's own state, read back by the next review.
STATE_ID = "review-state"
STATE = re.compile(rf'<script type="application/json" id="{STATE_ID}">(.*?)</script>', re.S)


@dataclass(frozen=True)
class Row:
    """One open, scored deal as the review shows it."""

    deal_id: str
    deal: str
    account_id: str | None
    account: str | None
    owner_id: str | None
    owner: str | None
    stage: str | None
    close_date: str | None  # ISO date
    amount: float | None
    score: ScoreRecord

    @property
    def probability(self) -> float:
        return self.score.probability

    @property
    def change(self) -> float | None:
        """Change since the previous scoring (None: scored once)."""
        previous = self.score.previous_probability
        return None if previous is None else self.probability - previous

    @property
    def weighted(self) -> float | None:
        return None if self.amount is None else self.amount * self.probability

    @property
    def month(self) -> str:
        return self.close_date[:7] if self.close_date else "no close date"

    @property
    def path_texts(self) -> list[str]:
        return [p.text for p in self.score.explanation.paths] if self.score.explanation else []


@dataclass(frozen=True)
class Total:
    """Deals, amount and weighted amount (amount x probability) of one rep or close month."""

    key: str
    deals: int = 0
    amount: float = 0.0
    weighted: float = 0.0


@dataclass(frozen=True)
class Move:
    """A deal's move since the last review (or, before any, since its previous scoring)."""

    row: Row
    before: float
    since: str  # "the last review" or "the previous scoring"
    new_paths: list[str] = field(default_factory=list)
    gone_paths: list[str] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return self.row.probability - self.before


@dataclass(frozen=True)
class PreviousReview:
    """What the last review showed: when, and each deal's probability and reason texts."""

    generated: str
    deals: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Review:
    """Everything the page shows, before it is drawn."""

    rows: list[Row]
    whose: str  # "Rita Rep's book", "every rep's book", "the deals at Acme"
    model: ModelCard | None
    generated: str
    by_rep: list[Total]
    by_month: list[Total]
    moved: list[Move]
    previous: PreviousReview | None


def previous_review(html: str) -> PreviousReview | None:
    """The state a review page carries, or None when the page is not one (or predates the state)."""
    match = STATE.search(html)
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
        return PreviousReview(str(data["generated"]), dict(data["deals"]))
    except (ValueError, KeyError, TypeError):
        return None


def page_state(review: Review) -> dict[str, Any]:
    """What the next review needs from this one."""
    return {"generated": review.generated,
            "deals": {r.deal_id: {"p": round(r.probability, 4), "paths": r.path_texts} for r in review.rows}}


def _open_deals(store: GraphStore) -> list[Mapping[str, Any]]:
    deals: list[Mapping[str, Any]] = []
    after = None
    while True:
        page = store.open_deals_page(PAGE, after=after)
        deals += page.deals
        if not page.has_next:
            return deals
        after = (page.deals[-1]["_rank"], page.deals[-1]["id"])


def _iso_date(value: Any) -> str | None:
    return None if value in (None, "") else str(value)[:10]


def _amount(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _totals(rows: Iterable[Row], key: str) -> list[Total]:
    out: dict[str, Total] = {}
    for r in rows:
        k = getattr(r, key) or "unassigned"
        t = out.get(k, Total(k))
        out[k] = Total(k, t.deals + 1, t.amount + (r.amount or 0.0), t.weighted + (r.weighted or 0.0))
    return list(out.values())


def _moves(rows: list[Row], previous: PreviousReview | None) -> list[Move]:
    moves = []
    for r in rows:
        then = previous.deals.get(r.deal_id) if previous else None
        if then is not None:
            before_paths = list(then.get("paths", []))
            moves.append(Move(r, float(then["p"]), "the last review",
                              [t for t in r.path_texts if t not in before_paths],
                              [t for t in before_paths if t not in r.path_texts]))
        elif r.score.previous_probability is not None:
            moves.append(Move(r, r.score.previous_probability, "the previous scoring"))
    moves = [m for m in moves if abs(m.delta) >= MIN_MOVE]
    return sorted(moves, key=lambda m: (-abs(m.delta), m.row.deal_id))[:MOVED]


def gather(store: GraphStore, card: ModelCard | None, rep: str | None = None, account: str | None = None,
           previous: PreviousReview | None = None) -> Review:
    """The review's content: every open, scored deal (of `rep`, at `account`), totals and moves.

    Raises:
        InvalidInput: `rep` or `account` names no node in the store (a typo would make an empty page).
    """
    found: dict[str, dict[str, Any]] = {}
    for label, wanted in ((Label.REP, rep), (Label.ACCOUNT, account)):
        if wanted is not None:
            node = store.get_node(label, wanted)
            if node is None:
                raise InvalidInput(f"no {label.lower()} {wanted!r} in the store: nothing written (ids are the "
                                   "CRM's, e.g. from `dealgraph explain` or the review page's filters)")
            found[label] = dict(node)
    deals = _open_deals(store)
    ids = [d["id"] for d in deals]
    scores = store.latest_scores(ids)
    accounts = {k: v[0].node for k, v in store.neighbours(Label.DEAL, ids, Rel.FOR_ACCOUNT).items()}
    owners = {k: v[0].node for k, v in store.neighbours(Label.DEAL, ids, Rel.OWNED_BY).items()}
    rows = []
    for d in deals:
        a, o = accounts.get(d["id"]), owners.get(d["id"])
        if d["id"] not in scores or (rep is not None and (o or {}).get("id") != rep) \
                or (account is not None and (a or {}).get("id") != account):
            continue
        rows.append(Row(d["id"], d.get("name") or d["id"], a["id"] if a else None, a.get("name") if a else None,
                        o["id"] if o else None, o.get("name") if o else None, d.get("stage"),
                        _iso_date(d.get("close_date")), _amount(d.get("amount")), scores[d["id"]]))
    rows.sort(key=lambda r: (-(r.weighted or 0.0), r.deal_id))
    if Label.REP in found:
        whose = f"{found[Label.REP].get('name') or rep}'s book"
    else:
        whose = f"every rep's book ({len({r.owner_id for r in rows})} reps)"
    if Label.ACCOUNT in found:
        whose += f", deals at {found[Label.ACCOUNT].get('name') or account}"
    return Review(rows, whose, card, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                  sorted(_totals(rows, "owner"), key=lambda t: -t.weighted), sorted(_totals(rows, "month"),
                                                                                  key=lambda t: t.key),
                  _moves(rows, previous), previous)


def build_review(store: GraphStore, card: ModelCard | None, rep: str | None = None, account: str | None = None,
                 previous: PreviousReview | None = None, today: date | None = None) -> str:
    """The review page as one HTML string (no external resources); see `gather` for what it raises."""
    from api.review_html import render

    return render(gather(store, card, rep, account, previous), today or date.today())
