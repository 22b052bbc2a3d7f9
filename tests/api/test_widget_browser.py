"""The CRM widget as a rep sees it: Playwright driving Debian's chromium against the real server.

The server serves a copy of the `trained` store (sample loaded, trained and scored), in
which one account's deals were scored twice so the trend shows. Screenshots at a side
panel's 360 px and at 800 px land in var/screenshots/ for a person to look at, or in the
folder `DEALGRAPH_SCREENSHOTS` names (`docs/screenshots` refreshes the documentation's).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.app import create_app
from api.auth import KeyStore, Role
from api.settings import Settings
from api.widget import DEAL_QUERY, QUERY
from gnn.owners.audit import read_events
from graph import GraphStore, open_store, sqlite_url
from tests.api.queries import gql
from tests.helpers.browser import playwright_browser
from tests.helpers.server import serve

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / os.environ.get("DEALGRAPH_SCREENSHOTS", "var/screenshots")
#: Days past its close date the deal page's deal is set to.
OVERDUE = 21
#: A phone-sized side panel: what is inside it needs no scrolling.
FOLD = 640
#: Relation names as the graph spells them (FOR_ACCOUNT): a rep must never read one.
RAW_RELATION = re.compile(r"\b[A-Z]+_[A-Z]+\b")
#: How much lower the earlier of the two scores was, in probability.
EARLIER_BY = 0.05
READY = "#widget[data-state=ready]"


@dataclass
class Site:
    """The served widget, the account it is checked on, and what the API tells that account's rep."""

    base_url: str
    account: str
    rep_key: str
    foreign_account: str  # an account of other reps' deals only: must look missing to this rep
    answer: dict[str, Any]  # the widget query's data for `account` with `rep_key`
    deal: dict[str, Any]  # the deal query's data for a deal with reasons and a next step its owner may see
    deal_key: str  # that deal's owner's key
    store: GraphStore
    home: Path
    keys_file: Path

    def url(self, account: str | None = None, token: str | None = None) -> str:
        return f"{self.base_url}/widget/account/{account or self.account}" + (f"#token={token}" if token else "")

    def deal_url(self, query: str = "") -> str:
        return f"{self.base_url}/widget/deal/{self.deal['id']}{query}#token={self.deal_key}"



def js_round(x: float) -> int:
    """JavaScript's Math.round (halves up), which the widget uses; Python's round() takes halves to even."""
    return math.floor(x + 0.5)

def copy_store(source: Path, target: Path) -> GraphStore:
    """A private copy of the session's store: this module writes scores the other tests must not see."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return open_store(sqlite_url(target))


def busiest_book(store: GraphStore) -> tuple[str, str, list[str]]:
    """(account, rep, their scored open deals there) for the account and rep with the most explained open deals."""
    deals = [d["id"] for d in store.open_deals_page(1000).deals]
    scores = store.latest_scores(deals)
    accounts = {k: v[0].node["id"] for k, v in store.neighbours("Deal", deals, "FOR_ACCOUNT").items()}
    owners = {k: v[0].node["id"] for k, v in store.neighbours("Deal", deals, "OWNED_BY").items()}
    explained = [d for d in deals if d in scores and scores[d].explanation and scores[d].explanation.paths]
    (account, rep), _ = Counter((accounts[d], owners[d]) for d in explained).most_common(1)[0]
    return account, rep, [d for d in scores if accounts.get(d) == account and owners.get(d) == rep]


def rich_deal(store: GraphStore, base_url: str, keys: KeyStore) -> tuple[str, str]:
    """(deal, its owner's key) for an open deal with the most to show its own rep: two reasons or more and a next step.

    Next steps naming someone the rep may not see are withheld from them, so the API decides, deal by deal.
    """
    deals = [d["id"] for d in store.open_deals_page(1000).deals]
    owners = {k: v[0].node["id"] for k, v in store.neighbours("Deal", deals, "OWNED_BY").items()}
    scores = [s for s in store.latest_scores(deals).values() if s.explanation is not None and s.deal_id in owners]
    scores.sort(key=lambda s: (len(s.explanation.paths) < 2, not s.explanation.suggestions, s.deal_id))
    tokens: dict[str, str] = {}
    for score in scores[:40]:
        rep = owners[score.deal_id]
        tokens.setdefault(rep, keys.create(Role.REP, rep_id=rep, name="widget test")[1])
        seen = gql(base_url, DEAL_QUERY, {"id": score.deal_id}, token=tokens[rep])["data"]["deal"]["explanation"]
        if len(seen["paths"]) >= 2 and seen["suggestions"]:
            return score.deal_id, tokens[rep]
    return scores[0].deal_id, tokens[owners[scores[0].deal_id]]


@pytest.fixture(scope="module")
def site(trained, tmp_path_factory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("widget")
    store = copy_store(trained.home / "graph.db", root / "graph.db")
    try:
        account, rep, deals = busiest_book(store)
        # Score the rep's deals there once more: the earlier score becomes `previousProbability`.
        latest = store.latest_scores(deals)
        store.write_scores([dataclasses.replace(s, probability=max(0.0, s.probability - EARLIER_BY),
                                                scored_at=s.scored_at - timedelta(days=7)) for s in latest.values()])
        store.write_scores(list(latest.values()))
        # The CRM pages below are other ports of 127.0.0.1: listed, as a deployment lists its CRM's origins.
        settings = Settings(keys_file=root / "api-keys.db", widget_frame_ancestors=["http://127.0.0.1:*"])
        keys = KeyStore(root / "api-keys.db")
        rep_key = keys.create(Role.REP, rep_id=rep, name="widget test")[1]
        with serve(create_app(store, trained.home, settings=settings)) as base_url:
            answer = gql(base_url, QUERY, {"id": account}, token=rep_key)["data"]
            others = [d["id"] for d in store.open_deals_page(1000).deals]
            candidates = {v[0].node["id"] for v in store.neighbours("Deal", others, "FOR_ACCOUNT").values()} - {account}
            # The API decides what the rep may see; the first account it hides from them is the foreign one.
            foreign = next(a for a in sorted(candidates)
                           if gql(base_url, QUERY, {"id": a}, token=rep_key)["data"]["account"] is None)
            best, deal_key = rich_deal(store, base_url, keys)
            # The page must flag an overdue close date: where the deal's is not past the day its score is as of,
            # it is moved three weeks before it (its stored reasons then speak of the old date, as they would
            # until the next rescoring).
            as_of = gql(base_url, DEAL_QUERY, {"id": best}, token=deal_key)["data"]["deal"]["score"]["asOf"]
            node = dict(store.get_node("Deal", best) or {})
            if not node.get("close_date") or date.fromisoformat(str(node["close_date"])[:10]) >= reference_day(as_of):
                overdue = reference_day(as_of) - timedelta(days=OVERDUE)
                store.upsert_nodes("Deal", [{**node, "close_date": overdue.isoformat()}])
            deal = gql(base_url, DEAL_QUERY, {"id": best}, token=deal_key)["data"]["deal"]
            yield Site(base_url, account, rep_key, foreign, answer, deal, deal_key, store, trained.home,
                       settings.keys_path())
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_browser() as browser:
        yield browser


def open_widget(browser, url: str, width: int, state: str = "ready", height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector(f"#widget[data-state={state}]", timeout=10_000)
    return page


def report_load_time(page, label: str, capsys) -> None:
    """Prints (not asserts) when the page drew the account, from navigation start."""
    timing = page.evaluate("""() => ({
        rendered: Number(document.getElementById('widget').dataset.renderedMs),
        domContentLoaded: Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd),
    })""")
    with capsys.disabled():
        print(f"\n[widget {label}] account drawn {timing['rendered']} ms after navigation start "
              f"(DOMContentLoaded {timing['domContentLoaded']} ms)")


def shoot(page, name: str, full_page: bool = False) -> Path:
    """A PNG of what the reader sees first (the viewport), or of the whole page."""
    page.mouse.move(0, 0)  # no hover underline where the last click was
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def overflowing(page, width: int) -> list[str]:
    """Elements whose right edge passes `width` (what would scroll sideways or be cut), by tag and class."""
    return page.evaluate("""(width) => [...document.querySelectorAll('#widget *')]
        .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
        .map((e) => e.tagName + '.' + e.className)""", width)


def visible_text(page) -> str:
    return page.locator("#widget").inner_text()


def check_reason_graph(page, reason, path: dict[str, Any]) -> None:
    """Open a reason: its path is drawn with every name in full and arrows worded as a person would."""
    reason.locator("summary").click()
    assert reason.evaluate("d => d.open")
    chain = reason.locator(".chain")
    assert chain.is_visible()
    names = chain.locator(".node .name").all_inner_texts()
    assert names == [step["name"] or "not visible to you" for step in path["steps"]]  # never cut, no "…"
    links = chain.locator(".link").all_inner_texts()
    assert len(links) == len(path["steps"]) - 1 and all(link.strip() for link in links)
    assert not any(RAW_RELATION.search(link) for link in links), links


def test_a_rep_sees_deals_scores_trends_and_reasons(site, browser, capsys):
    page = open_widget(browser, site.url(token=site.rep_key), 800)
    report_load_time(page, "800 px", capsys)
    assert page.evaluate("location.hash") == ""  # the token left the address bar at once
    account = site.answer["account"]
    assert page.locator("h1").inner_text() == account["name"]
    deals = account["openDeals"]
    assert page.locator("article.deal").count() == len(deals) > 0
    for deal in deals:
        card = page.locator(f'article[data-deal-id="{deal["id"]}"]')
        text = card.inner_text()
        assert deal["name"] in text
        assert card.locator(".pct").inner_text().startswith(f'{js_round(100 * deal["score"]["probability"])}%')
        assert deal["score"]["band"] in card.locator(".band").inner_text().lower()
        assert "pts since last score" in text or "no change since last score" in text
        explanation = deal["explanation"] or {"paths": [], "suggestions": []}
        for path in explanation["paths"][:2]:  # the first two at once, the rest under "more"
            assert path["text"] in text
        everything = card.text_content()
        for item in explanation["paths"] + explanation["suggestions"]:
            assert item["text"] in everything
        if explanation["suggestions"]:
            assert explanation["suggestions"][0]["text"] in card.locator(".next-step").inner_text()
    assert site.answer["model"]["version"] in page.locator("footer").inner_text()
    contacts = page.locator(".contacts").inner_text()
    roles = {c["role"].replace("_", " ") for d in deals for c in d["contacts"] if c["role"]}  # economic_buyer
    assert roles and all(role in contacts for role in roles)

    # Click a reason open: its path has a box per step; the keyboard opens the next one.
    explained = next(d for d in deals if d["explanation"] and len(d["explanation"]["paths"]) > 1)
    card = page.locator(f'article[data-deal-id="{explained["id"]}"]')
    first = card.locator("details.path").first
    assert not first.evaluate("d => d.open")
    check_reason_graph(page, first, explained["explanation"]["paths"][0])
    second = card.locator("details.path").nth(1)
    second.locator("summary").focus()
    page.keyboard.press("Enter")
    assert second.evaluate("d => d.open")
    assert overflowing(page, 800) == []
    shoot(page, "widget-account-800.png")
    page.close()


#: What the verdict says of a score against the usual win rate, by its first words: the side it must be on.
VERDICT_SIDES = {"A high": 1, "A better": 1, "About the usual": 0, "A lower": -1, "A low": -1}


def test_every_verdict_is_on_the_side_of_the_usual_rate_its_number_is(site, browser):
    """"An average chance" beside 20% of a usual 31% was words the number contradicts: each card's verdict names
    the side of the usual win rate its own percentage is on, and "about the usual" only within a tenth of it."""
    page = open_widget(browser, site.url(token=site.rep_key), 800)
    seen = set()
    for card in page.locator("article.deal").all():
        verdict = card.locator(".verdict").inner_text()
        usual = re.search(r"the usual win rate is (\d+)%", verdict)
        assert usual, verdict
        shown, base = int(card.locator(".pct").inner_text().split("%")[0]), int(usual.group(1))
        side = next(v for k, v in VERDICT_SIDES.items() if verdict.startswith(k))
        seen.add(side)
        slack = 1  # both percentages are rounded to whole points
        if side == 0:
            assert abs(shown - base) <= 0.1 * base + slack, verdict
        else:
            assert (shown - base) * side > -slack, f"{shown}% reads {verdict!r}"
    assert seen, "no scored deal on the account"
    page.close()


def test_a_fact_of_the_deal_itself_is_a_reason_drawn_as_one_this_deal_chip(site, browser):
    """The deal's own facts (stage, close date, activity) are reasons too: one step, the deal itself, drawn as a
    single "this deal" box with no arrows — never a broken path graph."""
    page = open_widget(browser, site.url(token=site.rep_key), 800)
    facts = [(d, i, p) for d in site.answer["account"]["openDeals"] if d["explanation"]
             for i, p in enumerate(d["explanation"]["paths"]) if len(p["steps"]) == 1]
    assert facts  # the stored explanations of `dealgraph score` carry them
    deal, index, path = facts[0]
    card = page.locator(f'article[data-deal-id="{deal["id"]}"]')
    if index >= 2:  # the first two reasons are shown at once, the rest under "more"
        card.locator("details.more > summary").click()
    reason = card.locator(f'details.path[data-path="{index}"]')
    assert path["text"] in reason.locator("summary").inner_text()
    assert ("Raises" if path["direction"] == "raises" else "Lowers") in reason.locator("summary").inner_text()
    check_reason_graph(page, reason, path)
    chain = reason.locator(".chain")
    assert chain.locator(".node").count() == 1 and chain.locator(".link").count() == 0
    assert chain.locator(".node .label").inner_text() == "this deal"
    assert reason.locator("figcaption").inner_text().startswith("A fact of this deal as of its scoring")
    assert overflowing(page, 800) == []
    page.close()


def test_the_account_widget_fits_a_360px_side_panel(site, browser, capsys):
    page = open_widget(browser, site.url(token=site.rep_key), 360, height=FOLD)
    report_load_time(page, "360 px", capsys)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing scrolls sideways
    first_score = page.locator("article.deal .pct").first.bounding_box()
    assert first_score["y"] + first_score["height"] <= FOLD  # deals before people: a score above the fold
    page.locator("details.path").first.locator("summary").click()
    assert overflowing(page, 360) == []
    page.close()


def reference_day(as_of: str | None) -> date:
    """The day the widget counts a deal's days to: the day its score is as of (the data's newest fact), else today."""
    return date.fromisoformat(as_of[:10]) if as_of else date.today()


def days_ago(iso: str, as_of: str | None) -> str:
    """What the widget says of an activity's time: days to the data's time where that is not today, rounded as
    the model's reasons round them (`gnn.deal_facts`), else calendar days to today."""
    moved = as_of is not None and reference_day(as_of) != date.today()
    if moved:
        gap = datetime.fromisoformat(as_of) - datetime.fromisoformat(iso)
        days = math.floor(gap.total_seconds() / 86400 + 0.5)
    else:
        days = (date.today() - date.fromisoformat(iso[:10])).days
    if days <= 0:
        return "that day" if moved else "today"
    return ("the day before" if moved else "yesterday") if days == 1 else f"{days} days ago"


def article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def test_at_360px_a_deals_score_and_first_reason_are_above_the_fold(site, browser):
    deal = site.deal
    paths, steps = deal["explanation"]["paths"], deal["explanation"]["suggestions"]
    assert len(paths) >= 2
    page = open_widget(browser, site.deal_url("?currency=EUR"), 360, height=FOLD)
    pct = page.locator(".pct")
    assert pct.inner_text().startswith(f'{js_round(100 * deal["score"]["probability"])}%')
    box = pct.bounding_box()
    assert box["y"] + box["height"] <= FOLD
    assert page.locator(".verdict").inner_text().startswith(("A high", "About the usual", "A lower", "A better",
                                                            "A low"))  # in plain words
    reasons = page.locator("ol.paths").first.locator(".sentence")
    assert reasons.count() == 2
    assert reasons.first.inner_text().startswith(paths[0]["text"])
    assert reasons.nth(1).inner_text().startswith(paths[1]["text"])
    assert reasons.first.bounding_box()["y"] < FOLD
    text = visible_text(page)
    assert "compared with a typical deal" in text.lower()
    assert deal["stage"].replace("_", " ") in page.locator(".facts .stage").inner_text()
    as_of = deal["score"]["asOf"]
    assert as_of is not None, "a score keeps the time it is as of"
    overdue = (reference_day(as_of) - date.fromisoformat(deal["closeDate"])).days
    assert overdue > 1
    assert page.locator(".facts .flag").inner_text() == f"overdue by {overdue} days"
    # Facts count to the day the data is as of, as the reasons' days do; where that is not today it is said.
    stale = (date.today() - reference_day(as_of)).days
    if stale:
        assert page.locator(".facts .as-of").inner_text().endswith(f"{stale} day{'' if stale == 1 else 's'} ago")
    else:
        assert page.locator(".facts .as-of").count() == 0
    assert page.locator("article.deal .flag").count() == 1
    assert "€" in page.locator(".facts .amount").inner_text()
    # Days in stage and the last activity, from the deal's stage history and activities, in the same facts line.
    last = deal["lastActivity"]
    assert last is not None, "the sample's richest deal has no activity"
    line = page.locator(".facts .last-activity")
    assert line.is_visible() and line.bounding_box()["y"] < FOLD
    assert line.inner_text() == (f"Last activity {days_ago(last['occurredAt'], as_of)}, "
                                 f"{article(last['kind'])} {last['kind']}")
    if deal["stageEnteredAt"] is not None:
        in_stage = (reference_day(as_of) - date.fromisoformat(deal["stageEnteredAt"][:10])).days
        assert f"for {in_stage} days" in page.locator(".facts .stage").inner_text() or in_stage <= 1
    assert steps, "no open deal of the sample has a next step its own rep may see"
    assert page.locator(".next-step li").count() == 1 and steps[0]["text"] in text
    more = len(paths) - 2 + max(0, len(steps) - 1)
    assert page.locator("details.more").count() == (1 if more else 0)
    assert "fidelity" not in text.lower() and not RAW_RELATION.search(text)
    sure = page.locator("details.sure")
    sure.locator("summary").click()
    assert "Hiding the links behind these reasons from the model moves this score" in sure.inner_text()
    if more:
        page.locator("details.more > summary").click()
    for i, path in enumerate(paths):  # every reason's path, the ones under "more" too
        check_reason_graph(page, page.locator(f'details.path[data-path="{i}"]'), path)
    assert not RAW_RELATION.search(visible_text(page))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert overflowing(page, 360) == []
    page.close()
    page = open_widget(browser, site.deal_url("?currency=EUR"), 360, height=FOLD)
    shoot(page, "widget-deal-360.png")  # what the rep sees first, nothing opened
    page.close()


@pytest.mark.parametrize("code", ["XYZ", "XXX"])
def test_a_code_that_is_no_currency_leaves_the_amount_a_plain_number(site, browser, code):
    """Three capitals pass the page's check, but XYZ is no ISO 4217 currency and XXX means "no currency": neither may
    be drawn as one ("XYZ 32,100"); the amount reads as it does without `?currency`."""
    page = open_widget(browser, site.deal_url(f"?currency={code}"), 800)
    amount = page.locator(".facts .amount").inner_text()
    assert code not in amount and amount.startswith("Amount "), amount
    page.close()


def test_at_800px_the_deal_reads_in_one_screen(site, browser):
    page = open_widget(browser, site.deal_url(), 800, height=FOLD)
    shown = [page.locator(".pct"), page.locator("ol.paths").first.locator(".sentence").nth(1)]
    if site.deal["explanation"]["suggestions"]:
        shown.append(page.locator(".next-step"))
    for locator in shown:
        box = locator.bounding_box()
        assert box["y"] + box["height"] <= FOLD
    assert overflowing(page, 800) == []
    shoot(page, "widget-deal-800.png")
    page.close()


def test_a_rep_flags_a_reason_as_off_with_their_reason_and_a_probability(site, browser):
    deal_id = site.deal["id"]
    before = len(read_events(site.store, deal_id, "feedback"))
    page = open_widget(browser, site.deal_url(), 360)
    calls: list[str] = []
    page.on("request", lambda request: calls.append(request.url) if "/graphql" in request.url else None)
    page.locator("details.feedback > summary").click()
    form = page.locator("form.feedback-form")
    form.locator("button").click()  # no reason given: refused in the page, nothing sent
    assert "Say why" in form.locator(".fb-status").inner_text() and calls == []
    form.locator("select").select_option("1")
    form.locator("textarea").fill("The champion left the company last week.")
    form.locator("input").fill("30")
    form.locator("button").click()
    page.wait_for_selector(".fb-status.sent", timeout=10_000)
    events = read_events(site.store, deal_id, "feedback")[before:]
    assert len(events) == 1 and len(calls) == 1
    event = events[0]
    assert (event.target, event.path, event.text) == ("reason", 1, "The champion left the company last week.")
    assert event.override_probability == pytest.approx(0.30)
    form.locator("select").select_option("score")
    form.locator("textarea").fill("Too high: no budget this year.")
    with page.expect_response(lambda response: "/graphql" in response.url):
        form.locator("button").click()  # the status loses "sent" at once and gets it back once recorded
    page.wait_for_selector(".fb-status.sent", timeout=10_000)
    event = read_events(site.store, deal_id, "feedback")[-1]
    assert (event.target, event.path, event.override_probability) == ("score", None, None)
    page.close()


def test_another_reps_account_looks_missing(site, browser):
    page = open_widget(browser, site.url(site.foreign_account, site.rep_key), 360, state="missing")
    assert "No account to show" in page.inner_text("#widget")
    assert page.locator("article.deal").count() == 0
    page.close()


def test_without_a_token_the_widget_asks_for_one_and_calls_nothing(site, browser):
    page = browser.new_page(viewport={"width": 360, "height": 700})
    calls = []
    page.on("request", lambda request: calls.append(request.url) if "/graphql" in request.url else None)
    page.goto(site.url())
    page.wait_for_selector("#widget[data-state=signin]")
    assert "Sign-in needed" in page.inner_text("#widget") and calls == []
    page.close()


def test_a_refused_token_says_so(site, browser):
    page = open_widget(browser, site.url(token="dgk_not-a-real-key"), 360, state="unauthorized")
    assert "credentials were not accepted" in page.inner_text("#widget")
    page.close()


def crm_page(widget_url: str, token: str) -> FastAPI:
    """A CRM's page on another origin: frames the widget and answers its `dealgraph:ready` with the token."""
    origin = "/".join(widget_url.split("/")[:3])
    page = f"""<!doctype html><title>CRM</title>
<script>
  addEventListener("message", (event) => {{
    const panel = document.getElementById("panel");
    if (event.source === panel.contentWindow && event.data && event.data.type === "dealgraph:ready") {{
      panel.contentWindow.postMessage({{type: "dealgraph:token", token: {json.dumps(token)}}}, "{origin}");
    }}
  }});
</script>
<iframe id="panel" title="dealgraph" src="{widget_url}" width="360" height="700"></iframe>"""
    app = FastAPI()
    app.get("/account")(lambda: HTMLResponse(page))
    return app


def test_a_crm_frame_hands_over_the_token_by_postmessage(site, browser):
    # Another port of 127.0.0.1 is another origin; chromium keeps public pages from framing loopback ones.
    with serve(crm_page(site.url(), site.rep_key), ready_path=None) as crm_url:
        page = browser.new_page()
        page.goto(f"{crm_url}/account")
        frame = page.frame_locator("#panel")
        frame.locator(READY).wait_for(timeout=10_000)
        names = frame.locator("article.deal h3").all_inner_texts()
        page.close()
    assert names == [d["name"] for d in site.answer["account"]["openDeals"]]


def test_a_crm_not_in_frame_ancestors_cannot_frame_it(site, browser):
    settings = Settings(keys_file=site.keys_file, widget_frame_ancestors=["https://acme.lightning.force.com"])
    with serve(create_app(site.store, site.home, settings=settings)) as strict_url, \
            serve(crm_page(f"{strict_url}/widget/account/{site.account}", site.rep_key), ready_path=None) as crm_url:
        page = browser.new_page()
        page.goto(f"{crm_url}/account", wait_until="load")
        framed = page.frames[1]
        assert framed.url.startswith("chrome-error://")  # refused by the browser, nothing rendered
        page.close()
