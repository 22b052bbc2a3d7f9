"""The serving gate from the first model on: a model at chance is not served as "High" — its scores say
"no skill" and show the base rate, in GraphQL (the widget's own query), the widget in a headless browser, the
review and `explain`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from api.app import create_app
from api.cli import main
from api.review import build_review
from api.widget import QUERY as WIDGET_QUERY
from gnn.gate import NO_SKILL, SKILL, band, judge
from gnn.metrics import metrics
from gnn.registry import ModelRegistry
from gnn.score import score_open_deals
from gnn.train import _promotion_gate, train
from graph import sqlite_url
from tests.api.queries import as_admin, gql
from tests.gnn.funnel import loaded_funnel
from tests.gnn.test_trust import promotion_inputs
from tests.helpers.server import serve


def _test_metrics(y, p, flat):
    return {"prior": metrics(y, np.full(len(y), y.mean())), "flat_gbt": metrics(y, flat), "graphsage": metrics(y, p)}


def test_the_gate_passes_skill_and_refuses_chance_or_a_model_no_better_than_the_flat_table():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.9, 3000)
    y = (rng.uniform(size=3000) < truth).astype(float)
    noise = rng.uniform(0.05, 0.9, 3000)
    good = judge(_test_metrics(y, truth, noise), "graphsage", int(y.sum()))
    assert good.state == SKILL, good.summary()
    chance = judge(_test_metrics(y, noise, noise), "graphsage", int(y.sum()))
    assert chance.state == NO_SKILL and "auroc_vs_prior" in {c.name for c in chance.checks if not c.passed}
    beaten = judge(_test_metrics(y, truth, truth), "graphsage", int(y.sum()))  # the flat table is as good
    assert beaten.state == NO_SKILL and [c.name for c in beaten.checks if not c.passed] == ["auroc_vs_flat"]
    overconfident = judge(_test_metrics(y, np.where(truth > 0.5, 0.99, 0.01), noise), "graphsage", int(y.sum()))
    assert overconfident.state == NO_SKILL and "ece" in {c.name for c in overconfident.checks if not c.passed}
    lucky = judge(_test_metrics(y[:60], truth[:60] * 0 + noise[:60], noise[:60] * 0 + 0.5), "graphsage",
                  int(y[:60].sum()))
    assert lucky.state == NO_SKILL  # a small test period does not serve a lucky draw


def test_bands_are_relative_to_the_base_rate():
    assert band(0.68, 0.68) == "medium"  # the hardware CRM's base rate is not "high"
    assert band(0.9, 0.68) == "high" and band(0.4, 0.68) == "low"
    assert band(0.25, 0.1) == "high" and band(0.1, 0.1) == "medium" and band(0.03, 0.1) == "low"


@pytest.fixture(scope="module")
def chance(tmp_path_factory):
    """A lead funnel whose outcomes no input predicts, trained and scored like any export."""
    root = tmp_path_factory.mktemp("chance")
    store = loaded_funnel(root, leads=500, skill=False)
    result = train(store, root)
    records = score_open_deals(store, root)
    yield root, store, result, records
    store.close()


def test_a_model_at_chance_is_registered_but_its_scores_say_no_skill(chance):
    root, _, result, records = chance
    assert result.card.state == NO_SKILL and result.report["gate"]["state"] == NO_SKILL
    assert any("serving gate FAILED" in n for n in result.notes)
    assert records and {r.band for r in records} == {"no_skill"}
    prior = result.card.params["prior"]
    assert {r.probability for r in records} == {round(prior, 4)}
    assert all(r.metadata["state"] == NO_SKILL and not r.explanation.paths for r in records)
    assert all("base win rate" in r.explanation.note for r in records)


def test_no_skill_reaches_graphql_the_widget_query_the_review_and_explain(chance, capsys):
    root, store, _, records = chance
    with serve(create_app(store, root)) as base_url:
        base_url = as_admin(base_url, root)
        account = store.neighbours("Deal", [records[0].deal_id], "FOR_ACCOUNT")[records[0].deal_id][0].node["id"]
        answer = gql(base_url, WIDGET_QUERY, {"id": account})
        scores = [d["score"] for d in answer["data"]["account"]["openDeals"] if d["score"]]
        assert scores and all(s["state"] == NO_SKILL and s["band"] == "no_skill" for s in scores)
        assert all(s["baseRate"] == pytest.approx(s["probability"], abs=1e-3) for s in scores)
        assert all(s["quality"]["auroc"] is not None and s["quality"]["aurocBand"] for s in scores)
        model = gql(base_url, "{ model { state metrics { model auroc ece } } }")["data"]["model"]
        assert model["state"] == NO_SKILL
        _widget_shows_the_base_rate_with_its_caveat(base_url, account)
    html = build_review(store, ModelRegistry(root).current())
    assert "NO SKILL" in html and "no skill" in html and "(high)" not in html
    code = main(["explain", records[0].deal_id, "--store", store_url(root), "--home", str(root), "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert code == 0 and shown["state"] == NO_SKILL and shown["quality"]["auroc"] is not None


def store_url(root):
    return sqlite_url(root / "graph.db")


def test_the_sample_passes_the_gate_and_shows_its_quality(trained):
    card = ModelRegistry(trained.home).current()
    assert card.state == SKILL and card.params["gate"]["state"] == SKILL
    scores = trained.store.latest_scores([s for s in trained.store.snapshot().nodes["Deal"]["id"]])
    assert {s.metadata["state"] for s in scores.values()} == {SKILL}
    assert {s.band for s in scores.values()} <= {"high", "medium", "low"}
    assert all(s.metadata["quality"]["auroc"] == card.metrics["graphsage"]["auroc"] for s in scores.values())


def test_a_retrain_that_fails_the_gate_never_replaces_one_that_passed(trained):
    registry, full, split, y = promotion_inputs(trained)
    served, why = _promotion_gate(registry, full, split, y, new_auroc=0.99, skill=False, new_ece=0.0)
    assert served is False and why.startswith("KEPT: ") and "failed the serving gate" in why


def _widget_shows_the_base_rate_with_its_caveat(base_url, account):
    """The widget itself, in a real headless browser (skips without one): the caveat, no high/medium/low band."""
    from tests.helpers.browser import playwright_browser

    with playwright_browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base_url}/widget/account/{account}#token={base_url.token}")
        page.wait_for_selector("#widget[data-state=ready]", timeout=10_000)
        cards = page.locator("article.deal .score")
        assert cards.count() and page.locator("article.deal .score.no-skill").count() == cards.count()
        assert "base win rate" in page.locator("article.deal").first.inner_text()
        assert page.locator(".band-high, .band-medium, .band-low").count() == 0
        quality = page.locator("article.deal .quality").first
        assert "past deals" in quality.inner_text() and "AUROC" in quality.get_attribute("title")
