"""The RevOps deal review: a self-contained HTML page, checked in a real headless browser at 1400 px.

Screenshots land in var/screenshots/, or in the folder `DEALGRAPH_SCREENSHOTS` names
(`docs/screenshots` refreshes the documentation's).
"""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from api.review import PreviousReview, build_review, gather, page_state, previous_review
from gnn.registry import ModelRegistry
from graph import open_store, sqlite_url
from tests.api.book_data import RITA, build_book
from tests.helpers.browser import playwright_browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / os.environ.get("DEALGRAPH_SCREENSHOTS", "var/screenshots")
RAW_RELATION = re.compile(r"\b[A-Z]+_[A-Z]+\b")


def visible(html: str) -> str:
    """The page's text as a reader gets it: no tags, styles, scripts or attributes."""
    html = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def review_html(trained) -> str:
    return build_review(trained.store, ModelRegistry(trained.home).current())


def test_the_table_lists_every_scored_open_deal_and_each_has_a_drill_down(trained, review_html):
    card = ModelRegistry(trained.home).current()
    scores = trained.store.latest_scores(d["id"] for d in trained.store.open_deals_page(1000).deals)
    rows = re.findall(r'<tr data-deal="[^"]*"', review_html)
    assert len(rows) == review_html.count('<article class="deal"') == len(scores) > 0
    assert card.version in review_html
    assert "Deal review: every rep's book" in unescape(review_html)
    assert not re.search(r"""(src|href)=["']?https?://""", review_html)  # self-contained: nothing from outside
    text = visible(review_html)
    assert not RAW_RELATION.search(text)  # relation words a person uses, never FOR_ACCOUNT
    some = next(s for s in scores.values() if s.explanation and s.explanation.paths)
    path = some.explanation.paths[0]
    assert path.text in text
    chain = re.search(rf'<article class="deal" id="deal-{re.escape(some.deal_id)}".*?</article>', review_html, re.S)
    names = [unescape(n) for n in re.findall(r'<span class="name">([^<]*)</span>', chain.group(0))]
    assert [s.name for s in path.steps if s.name] == names[:len([s for s in path.steps if s.name])]  # full names
    # A fact of the deal itself is a reason with one step: one "this deal" box, no arrow.
    own = next((d, p) for d, s in scores.items() if s.explanation for p in s.explanation.paths if len(p.steps) == 1)
    article = re.search(rf'<article class="deal" id="deal-{re.escape(own[0])}".*?</article>', review_html, re.S)
    box = re.search(r'<ol class="chain own" aria-label="([^"]*)">(.*?)</ol>', article.group(0), re.S)
    assert box and unescape(box.group(1)) == own[1].text and own[1].text in text
    assert '<span class="label">this deal</span>' in box.group(2) and 'class="link"' not in box.group(2)


def test_totals_per_rep_and_per_month_add_up_to_the_table(trained):
    review = gather(trained.store, None)
    amount = sum(r.amount or 0 for r in review.rows)
    weighted = sum((r.amount or 0) * r.probability for r in review.rows)
    for totals in (review.by_rep, review.by_month):
        assert sum(t.deals for t in totals) == len(review.rows)
        assert sum(t.amount for t in totals) == pytest.approx(amount)
        assert sum(t.weighted for t in totals) == pytest.approx(weighted)
    assert {t.key for t in review.by_month} == {r.month for r in review.rows}


def test_what_moved_since_the_last_review_names_the_reasons_that_changed(trained):
    first = gather(trained.store, None)
    state = page_state(first)
    assert previous_review(build_review(trained.store, None)).deals.keys() == state["deals"].keys()  # round trip
    row = next(r for r in first.rows if len(r.path_texts) >= 2)
    then = dict(state["deals"])
    then[row.deal_id] = {"p": max(0.0, row.probability - 0.3), "paths": [row.path_texts[0], "An old reason"]}
    html = build_review(trained.store, None, previous=PreviousReview("2026-01-01 09:00 UTC", then))
    moved = re.search(r'<section class="moved">(.*?)</section>', html, re.S).group(1)
    assert "since the last review (2026-01-01 09:00 UTC)" in moved
    top = re.search(r"<li>(.*?)</li>\s*(<li>|</ol>)", moved, re.S).group(1)  # moved most: listed first
    assert row.deal in unescape(top)
    assert f"New reason: {row.path_texts[1]}" in unescape(moved)
    assert "No longer a reason: An old reason" in moved


def test_the_review_sorts_and_filters_offline_at_1400px(review_html, tmp_path):
    file = tmp_path / "review.html"
    file.write_text(review_html, "utf-8")
    with playwright_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"file://{file}")
        assert requests == [f"file://{file}"]  # nothing else fetched
        assert page.locator("h1").inner_text().startswith("Deal review: every rep's book")
        table = page.locator("#deals")
        assert table.bounding_box()["y"] < 300  # the table first
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400

        def column(key: str) -> list[str]:
            return table.locator("tbody tr").evaluate_all(f"rs => rs.map(r => r.dataset.{key})")

        probability = table.locator("th[data-key=probability] button")
        probability.click()
        ascending = [float(x) for x in column("probability")]
        assert ascending == sorted(ascending)
        probability.click()
        descending = [float(x) for x in column("probability")]
        assert descending == sorted(ascending, reverse=True)
        page.locator("th[data-key=account] button").click()
        accounts = column("account")
        runs = [a for i, a in enumerate(accounts) if i == 0 or a != accounts[i - 1]]
        assert len(runs) == len(set(accounts))  # each account's deals together
        assert page.locator("th[data-key=account]").get_attribute("aria-sort") == "ascending"

        reps = column("rep")
        rep = max(set(reps), key=reps.count)
        page.locator("#f-rep").select_option(rep)
        shown = table.locator("tbody tr:not(.hidden)")
        assert shown.count() == reps.count(rep) > 0
        assert set(shown.evaluate_all("rs => rs.map(r => r.dataset.rep)")) == {rep}
        assert page.locator("#count").inner_text() == f"{reps.count(rep)} of {len(reps)} deals"
        weighted = sum(float(w or 0) for w in shown.evaluate_all("rs => rs.map(r => r.dataset.weighted)"))
        assert page.locator("#t-weighted").inner_text().replace(",", "") == f"{weighted:.0f}"
        page.reload()  # as RevOps first sees it: every deal, largest weighted amount first
        assert page.locator("h2", has_text="Per rep").bounding_box()["y"] < 900  # the totals on the first screen
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "review-1400.png"))  # what RevOps sees first
        drill = page.locator("article.deal").first
        drill.scroll_into_view_if_needed()
        box = drill.bounding_box()
        assert box["x"] + box["width"] <= 1400  # path graphs wrap inside the page
        drill.screenshot(path=str(SCREENSHOTS / "review-deal-1400.png"))  # one drill-down, its paths drawn
        page.close()


@pytest.mark.parametrize("flag, value, says", [("--rep", "UNKNOWN", "no rep 'UNKNOWN'"),
                                               ("--account", "001-nope", "no account '001-nope'"),
                                               ("--rep", "", "no rep ''")])
def test_review_of_an_unknown_rep_or_account_exits_1_and_writes_nothing(tmp_path, monkeypatch, capsys, flag, value,
                                                                         says):
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    build_book(store)
    store.close()
    monkeypatch.setenv("DEALGRAPH_STORE", sqlite_url(tmp_path / "graph.db"))
    monkeypatch.setenv("DEALGRAPH_HOME", str(tmp_path / "home"))
    out = tmp_path / "review.html"
    assert main(["review", "--out", str(out), flag, value]) == EXIT_BAD_INPUT
    assert says in capsys.readouterr().err and not out.exists()
    assert main(["review", "--out", str(out), "--rep", RITA]) == EXIT_OK and out.exists()  # a known rep still works
    html = unescape(out.read_text("utf-8"))
    assert "Deal review: Rita Rep's book" in html  # the page says whose book it shows
    assert "since each deal's previous scoring" in html
    assert main(["review", "--out", str(out), "--rep", RITA]) == EXIT_OK  # the second run reads the first's state
    assert "since the last review (" in out.read_text("utf-8")
