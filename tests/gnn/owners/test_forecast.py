"""The forecast (Poisson-binomial over amounts) and its backtest (issue 20, step 2)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from api.app import create_app
from api.auth import Role
from api.cli import main
from gnn.owners.adjust import Adjustment
from gnn.owners.backtest import Backtest, BacktestRow, accuracy, backtest
from gnn.owners.forecast import Forecast, forecast, interval_of, won_draws
from gnn.owners.forecast_text import backtest_table, forecast_table
from graph import ScoreRecord, open_store, sqlite_url
from tests.api.book_data import BOB, DEALS, RITA, SCORED_AT, build_book
from tests.api.queries import Endpoint, create_key, gql
from tests.helpers.server import serve

FORECAST = """{ forecast { level unscored modelVersions
  rows { grain period repId repName team deals pipeline expected low high } } }"""


def exact_quantiles(p: list[float], amounts: list[float], qs: list[float]) -> list[float]:
    """Quantiles of the won amount by enumerating every outcome (small n only)."""
    outcomes = []
    for won in itertools.product([0, 1], repeat=len(p)):
        prob = float(np.prod([pi if w else 1 - pi for pi, w in zip(p, won, strict=True)]))
        outcomes.append((sum(a for a, w in zip(amounts, won, strict=True) if w), prob))
    outcomes.sort()
    values, cum = [v for v, _ in outcomes], np.cumsum([pr for _, pr in outcomes])
    return [values[int(np.searchsorted(cum, q))] for q in qs]


def test_the_interval_is_the_poisson_binomial_over_amounts_not_a_normal_guess() -> None:
    # One large, likely deal and two small unlikely ones: lumpy and skewed, where a normal interval goes below 0.
    p, a = np.array([0.9, 0.2, 0.1]), np.array([100_000.0, 5_000.0, 8_000.0])
    ivl = interval_of(won_draws(p, seed=1, draws=20_000), p, a, level=0.9)
    assert ivl.expected == pytest.approx(90_000 + 1_000 + 800)
    assert [ivl.low, ivl.high] == exact_quantiles(list(p), list(a), [0.05, 0.95])
    assert ivl.low == 0.0  # the big deal is lost 10% of the time: the low end is an outcome, not mean - 1.64 sd
    again = interval_of(won_draws(p, seed=1, draws=20_000), p, a, level=0.9)
    assert again == ivl  # a fixed seed: the same figures every time


def test_forecast_groups_by_month_quarter_rep_and_total(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        f = forecast(store)
    finally:
        store.close()
    scored_open = [d for d in DEALS if not d.closed and d.p is not None]
    total = next(r for r in f.rows if r.grain == "total" and r.rep_id is None and r.team is None)
    assert total.deals == len(scored_open) and f.unscored == 1  # 006-r4 has no score
    assert total.expected == pytest.approx(sum(d.p * 1000.0 for d in scored_open))
    assert total.low <= total.expected <= total.high
    april = {(r.rep_id, r.team): r for r in f.rows if (r.grain, r.period) == ("month", "2025-04")}
    assert april[None, None].deals == 3 and april[RITA, "EMEA"].deals == 1 and april[BOB, "EMEA"].deals == 1
    assert april[None, "EMEA"].deals == 2 and april[None, "APAC"].deals == 1  # Rita and Bob; Cleo
    assert april[None, None].expected == pytest.approx(sum(r.expected for (rep, _), r in april.items() if rep))
    q2 = next(r for r in f.rows if (r.grain, r.period, r.rep_id) == ("quarter", "2025-Q2", None))
    assert q2.deals == sum(1 for d in scored_open if d.close[5:7] in ("04", "05", "06"))


def test_a_rep_gets_the_forecast_of_her_own_deals_only(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        with serve(create_app(store, tmp_path)) as url:
            rita = gql(Endpoint(url, create_key(tmp_path, Role.REP, rep_id=RITA)), FORECAST)["data"]["forecast"]
            revops = Endpoint(url, create_key(tmp_path, Role.REVOPS))
            admin = gql(revops, FORECAST)["data"]["forecast"]
            store.write_scores([ScoreRecord("006-c1", 0.1, "v2", SCORED_AT, "low")])  # was 0.6; the cache kept it
            rescored = gql(revops, FORECAST)["data"]["forecast"]
    finally:
        store.close()
    assert {r["repId"] for r in rita["rows"]} == {None, RITA}
    assert "Bob" not in json.dumps(rita) and "Cleo" not in json.dumps(rita)
    total = next(r for r in rita["rows"] if r["grain"] == "total" and r["repId"] is None)
    assert total["expected"] == pytest.approx((0.91 + 0.55 + 0.20) * 1000)
    assert {r["repId"] for r in admin["rows"]} == {None, RITA, BOB, "005-cleo"}
    total = [next(r["expected"] for r in f["rows"] if r["grain"] == "total" and r["repId"] is None)
             for f in (admin, rescored)]
    assert total[0] - total[1] == pytest.approx(500.0) and rescored["modelVersions"] == ["v1", "v2"]


def test_accuracy_is_mape_over_periods_with_wins_and_the_share_covered() -> None:
    rows = [BacktestRow("a", 1, 10, 80, 50, 120, 100), BacktestRow("b", 1, 10, 30, 10, 40, 60),
            BacktestRow("c", 1, 10, 5, 0, 9, 0)]
    mape, coverage = accuracy(rows)
    assert mape == pytest.approx((0.2 + 0.5) / 2) and coverage == pytest.approx(2 / 3)


def test_backtest_on_the_models_validation_and_held_out_periods(trained, capsys: pytest.CaptureFixture[str]) -> None:
    b = backtest(trained.store, trained.home, every_days=14)
    report = json.loads((trained.home / "models" / b.model_version / "report.json").read_text())
    assert b.rows and all(r.period_start >= report["split"]["t1"][:10] for r in b.rows)
    held = [r.held_out for r in b.rows]
    assert any(held) and held == sorted(held)  # validation periods first, then the held-out ones
    assert all(r.period_start >= report["split"]["t2"][:10] for r in b.rows if r.held_out)
    for r in b.rows:
        assert 0 <= r.low <= r.expected <= r.high <= r.pipeline and 0 <= r.actual <= r.pipeline
        assert r.unresolved >= 0 and r.unresolved_amount >= 0
    assert b.rows[-1].unresolved > 0  # the last period's slower deals are still open at the end of the data
    assert (b.mape, b.coverage) == accuracy(b.rows)
    assert main(["forecast", "--backtest", "--every", "14", "--json", "--store", trained.store_url,
                 "--home", str(trained.home)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backtest"]["periods"] == [r.to_json() for r in b.rows]
    assert data["adjustment"]["periods"] > 0  # the live forecast says what it was adjusted by
    assert main(["forecast", "--backtest", "--every", "14", "--store", trained.store_url,
                 "--home", str(trained.home)]) == 0
    text = capsys.readouterr().out
    assert "recent trend" in text and "still open" in text
    assert f"{b.rows[-1].unresolved} ({b.rows[-1].unresolved_share:.0%})" in text
    assert any(r["grain"] == "quarter" for r in data["rows"])

    # The review page gets the same as a section.
    page = trained.home / "review.html"
    assert main(["review", "--forecast", "--out", str(page), "--store", trained.store_url,
                 "--home", str(trained.home)]) == 0
    html = page.read_text()
    assert html.count('<section class="forecast">') == 1 and f"Backtest (model {b.model_version})" in html
    assert html.index('<section class="forecast">') < html.index("</body>")


def test_the_tables_say_in_words_what_was_left_out_and_the_trend_carried_over() -> None:
    # A period with 40 deals still open worth 1/4 of its pipeline, forecast with odds x exp(-0.2) = x0.82.
    row = BacktestRow("2026-09-22", 100, 3_000_000, 1_500_000, 1_100_000, 1_900_000, 1_400_000, shock_sd=0.15,
                      shock_mean=-0.2, unresolved=40, unresolved_amount=1_000_000)
    b = Backtest("v1", [row], 0.9, *accuracy([row]))
    text = "\n".join(backtest_table(b))
    assert "still open" in text and "40 (25%)" in text and row.unresolved_share == pytest.approx(0.25)
    assert "x0.82 (0.64-1.05)" in text and "deals closed in the 30 days before" in text
    assert "x0.80: at 0.8 times its odds" in text  # what the factor means, for a reader who does not read logits
    plain = "\n".join(backtest_table(Backtest("v1", [BacktestRow("2026-09-22", 1, 1, 1, 1, 1, 1)], 0.9, None, None,
                                                adjusted=False, recent_days=None)))
    assert "x1.00" in plain and "trend =" not in plain

    f = Forecast([], 0.9, 5000, 20, 0, ["v1"], Adjustment(shock_mean=-0.2, shock_sd=0.15, periods=10, deals=900))
    head = forecast_table(f)[1]
    assert "recent trend" in head and "x0.82 (0.64-1.05) times the odds the model gave them" in head and "shock" in head
    assert "widens the interval" in head
    assert "independent" in forecast_table(Forecast([], 0.9, 5000, 20, 0, ["v1"]))[1]


TRENDS = "{ winTrends { period closed won winRate medianCycleDays wonAmount } }"


def test_win_rate_and_cycle_time_per_quarter_over_the_deals_the_caller_sees(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)  # opened 2025-01-10; Rita's 006-r5 and Bob's 006-b5 won, closed 50 and 40 days later
        store.upsert_nodes("Outcome", [{"id": "o-006-r5", "result": "won", "closed_at": "2025-03-01T09:00:00Z"},
                                       {"id": "o-006-b5", "result": "won", "closed_at": "2025-02-19T09:00:00Z"}])
        with serve(create_app(store, tmp_path)) as url:
            everyone = gql(Endpoint(url, create_key(tmp_path, Role.REVOPS)), TRENDS)["data"]["winTrends"]
            rita = gql(Endpoint(url, create_key(tmp_path, Role.REP, rep_id=RITA)), TRENDS)["data"]["winTrends"]
    finally:
        store.close()
    assert everyone == [{"period": "2025-Q1", "closed": 2, "won": 2, "winRate": 1.0, "medianCycleDays": 45.0,
                         "wonAmount": 2000.0}]
    assert rita == [{"period": "2025-Q1", "closed": 1, "won": 1, "winRate": 1.0, "medianCycleDays": 50.0,
                     "wonAmount": 1000.0}]
