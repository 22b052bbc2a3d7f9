"""The CRM widget as a rep sees it: Playwright driving Debian's chromium against the real server.

The server serves a copy of the `trained` store (sample loaded, trained and scored), in
which one account's deals were scored twice so the trend shows. Screenshots at a side
panel's 360 px and at 1280 px land in var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.app import create_app
from api.auth import KeyStore, Role
from api.settings import Settings
from api.widget import QUERY
from graph import GraphStore, open_store, sqlite_url
from tests.api.queries import gql
from tests.helpers.browser import playwright_browser
from tests.helpers.server import serve

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
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
    store: GraphStore
    home: Path
    keys_file: Path

    def url(self, account: str | None = None, token: str | None = None) -> str:
        return f"{self.base_url}/widget/account/{account or self.account}" + (f"#token={token}" if token else "")



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
            yield Site(base_url, account, rep_key, foreign, answer, store, trained.home, settings.keys_path())
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_browser() as browser:
        yield browser


def open_widget(browser, url: str, width: int, state: str = "ready"):
    page = browser.new_page(viewport={"width": width, "height": 900})
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


def shoot(page, name: str) -> Path:
    page.mouse.move(0, 0)  # no hover underline where the last click was
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_rep_sees_deals_scores_trends_and_reasons(site, browser, capsys):
    page = open_widget(browser, site.url(token=site.rep_key), 1280)
    report_load_time(page, "1280 px", capsys)
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
        for path in explanation["paths"]:
            assert path["text"] in text
        for suggestion in explanation["suggestions"]:
            assert suggestion["text"] in text
    assert site.answer["model"]["version"] in page.locator("footer").inner_text()
    contacts = page.locator(".contacts").inner_text()
    roles = {c["role"].replace("_", " ") for d in deals for c in d["contacts"] if c["role"]}  # economic_buyer
    assert roles and all(role in contacts for role in roles)

    # Click a reason open: its graph has a node per step; the keyboard opens the next one.
    first = page.locator("details.path").first
    assert not first.evaluate("d => d.open")
    first.locator("summary").click()
    assert first.evaluate("d => d.open")
    graph = first.locator("svg.graph-wide")
    assert graph.is_visible() and not first.locator("svg.graph-narrow").is_visible()
    explained = next(d for d in deals if d["explanation"] and d["explanation"]["paths"])
    assert graph.locator("g.node").count() == len(explained["explanation"]["paths"][0]["steps"])
    second = page.locator("details.path").nth(1)
    second.locator("summary").focus()
    page.keyboard.press("Enter")
    assert second.evaluate("d => d.open")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shoot(page, "widget-1280.png")
    page.close()


def test_the_widget_fits_a_360px_side_panel(site, browser, capsys):
    page = open_widget(browser, site.url(token=site.rep_key), 360)
    report_load_time(page, "360 px", capsys)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing scrolls sideways
    first = page.locator("details.path").first
    first.locator("summary").click()
    assert first.locator("svg.graph-narrow").is_visible() and not first.locator("svg.graph-wide").is_visible()
    box = first.locator("svg.graph-narrow").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    shoot(page, "widget-360.png")
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
