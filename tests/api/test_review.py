"""The RevOps deal review: a self-contained HTML report, checked in a real headless browser."""

from __future__ import annotations

import re

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from api.review import build_review
from gnn.registry import ModelRegistry
from graph import open_store, sqlite_url
from tests.api.book_data import RITA, build_book
from tests.helpers.browser import run_browser


def test_review_shows_each_open_deal_with_its_stored_explanation(trained, tmp_path):
    card = ModelRegistry(trained.home).current()
    html = build_review(trained.store, card)
    scores = trained.store.latest_scores(d["id"] for d in trained.store.open_deals_page(1000).deals)
    assert html.count('<article class="deal"') == len(scores) > 0
    assert card.version in html
    some = next(s for s in scores.values() if s.explanation.paths)
    assert some.explanation.paths[0].text.split(" (")[0] in html
    assert not re.search(r"""(src|href)=["']?https?://""", html)  # self-contained: nothing from outside


def test_review_filters_by_rep_in_the_browser(trained, tmp_path):
    html = build_review(trained.store, ModelRegistry(trained.home).current())
    reps = re.findall(r'data-rep="([^"]+)"', html)
    rep = max(set(reps), key=reps.count)
    page = tmp_path / "review.html"
    page.write_text(html, "utf-8")
    dom = run_browser(f"file://{page}#rep={rep}", "--dump-dom").stdout
    visible = re.findall(r'<article class="deal" data-rep="([^"]+)"', dom)
    hidden = re.findall(r'<article class="deal hidden" data-rep="([^"]+)"', dom)
    assert visible and set(visible) == {rep}
    assert len(visible) + len(hidden) == len(reps) and len(visible) == reps.count(rep)
    assert f"{len(visible)} deals" in dom
    shot = tmp_path / "review.png"
    run_browser(f"file://{page}", f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.stat().st_size > 10_000


def test_review_prefilters_by_account(trained):
    html = build_review(trained.store, ModelRegistry(trained.home).current())
    account = re.findall(r'data-account="([^"]+)"', html)[0]
    only = build_review(trained.store, None, account=account)
    assert set(re.findall(r'data-account="([^"]+)"', only)) == {account}


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
