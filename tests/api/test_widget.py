"""The CRM widget's route, headers, query and colours, without a browser (tests/api/test_widget_browser.py has one)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from api.widget import ASSETS, ASSETS_DIR, DEAL_QUERY, QUERY
from gnn import path_style
from graph import open_store, sqlite_url
from tests.api.graph_data import SUB
from tests.api.queries import gql
from tests.helpers.colours import AA_TEXT, contrast
from tests.helpers.server import serve, serve_command

#: (text, background) variable pairs of widget.css that appear together on the page.
TEXT_ON = [
    ("ink", "page"), ("ink", "card"), ("muted", "page"), ("muted", "card"), ("muted", "hint-bg"),
    ("focus", "card"), ("raises", "card"), ("lowers", "card"), ("high-ink", "high-bg"),
    ("medium-ink", "medium-bg"), ("low-ink", "low-bg"), ("role-ink", "role-bg"), ("hint-ink", "hint-bg"),
]
REPO = Path(__file__).resolve().parents[2]
#: WCAG AA for graphics (the probability bar against its track).
AA_GRAPHICS = 3.0


def page_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="widget-config">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


def test_widget_page_is_a_shell_with_strict_headers(api_url):
    response = httpx.get(f"{api_url}/widget/account/{SUB}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe" not in csp and csp.endswith("frame-ancestors 'none'")  # the documented default: no framing
    assert response.headers["x-frame-options"] == "DENY"  # the same for browsers without frame-ancestors
    assert response.headers["x-content-type-options"] == "nosniff"
    config = page_config(response.text)
    assert (config["kind"], config["id"], config["endpoint"], config["query"]) == ("account", SUB, "/graphql", QUERY)
    assert config["relations"] == path_style.RELATION_WORDS and config["currency"] is None
    assert not re.search(r"""(src|href)=["']?https?://""", response.text)  # nothing from outside
    for name in ASSETS:
        kind = "text/css" if name.endswith(".css") else "javascript"
        asset = httpx.get(f"{api_url}/widget-assets/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", asset.text), name  # only the SVG namespace


def test_an_account_id_cannot_break_out_of_the_page(api_url):
    evil = '<!--<script>alert("x")'  # no "/": a %2F is decoded before routing and would not reach the page
    response = httpx.get(f"{api_url}/widget/account/{quote(evil, safe='')}")
    assert response.status_code == 200
    assert "<script>alert" not in response.text and "<!--" not in response.text
    assert page_config(response.text)["id"] == evil


@pytest.mark.parametrize("currency, shown", [("EUR", "EUR"), ("eur", None), ("E<R", None)])
def test_the_deal_page_takes_the_crms_currency_when_it_is_an_iso_code(api_url, currency, shown):
    response = httpx.get(f"{api_url}/widget/deal/D-1", params={"currency": currency})
    assert response.status_code == 200 and response.headers["x-frame-options"] == "DENY"
    config = page_config(response.text)
    assert (config["kind"], config["id"], config["query"], config["currency"]) == ("deal", "D-1", DEAL_QUERY, shown)


def test_the_deal_query_runs_within_the_default_limits(api_url):
    deals = gql(api_url, QUERY, {"id": SUB})["data"]["account"]["openDeals"]
    explained = next(d for d in deals if d["explanation"])
    body = gql(api_url, DEAL_QUERY, {"id": explained["id"]})
    assert "errors" not in body, body["errors"]
    assert body["data"]["deal"]["explanation"]["paths"] == explained["explanation"]["paths"]
    assert body["data"]["deal"]["account"]["name"]


def test_the_widget_query_runs_within_the_default_limits(api_url):
    body = gql(api_url, QUERY, {"id": SUB})
    assert "errors" not in body, body["errors"]
    deals = body["data"]["account"]["openDeals"]
    explained = [d for d in deals if d["explanation"]]
    assert explained and explained[0]["explanation"]["paths"] and explained[0]["explanation"]["suggestions"]
    assert {"fidelity", "fidelityMinus", "randomFidelity"} <= set(explained[0]["explanation"])


def test_frame_ancestors_come_from_the_settings(crm_store, crm_home):
    settings = Settings(widget_frame_ancestors=["https://acme.lightning.force.com", "https://*.hubspot.com"])
    with serve(create_app(crm_store, crm_home, settings=settings)) as base_url:
        response = httpx.get(f"{base_url}/widget/account/{SUB}")
    csp = response.headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://acme.lightning.force.com https://*.hubspot.com")
    assert "x-frame-options" not in response.headers  # DENY would override the listed origins in old browsers


def test_frame_ancestors_default_to_none_until_origins_are_listed(monkeypatch):
    monkeypatch.delenv("DEALGRAPH_WIDGET_FRAME_ANCESTORS", raising=False)
    assert Settings().widget_frame_ancestors == ["'none'"]
    monkeypatch.setenv("DEALGRAPH_WIDGET_FRAME_ANCESTORS", '["https://acme.lightning.force.com"]')
    assert Settings().widget_frame_ancestors == ["https://acme.lightning.force.com"]


@pytest.mark.parametrize("sources", [["https://a.example; script-src *"], [], ["'none'", "https://a.example"]])
def test_frame_ancestors_that_are_not_csp_sources_are_refused(sources):
    with pytest.raises(ValueError, match="frame-ancestors"):
        Settings(widget_frame_ancestors=sources)


def css_variables(path: Path) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", path.read_text("utf-8")))


def test_colours_meet_wcag_aa():
    colours = css_variables(ASSETS_DIR / "widget.css")
    low = {(fg, bg): round(contrast(colours[fg], colours[bg]), 2) for fg, bg in TEXT_ON
           if contrast(colours[fg], colours[bg]) < AA_TEXT}
    assert not low, low
    assert contrast(colours["bar"], colours["track"]) >= AA_GRAPHICS
    # The path graphs: names and labels on every node fill, and the sign colours on white.
    for fill in [*path_style.NODE_FILLS.values(), path_style.DEFAULT_FILL]:
        assert contrast(path_style.INK, fill) >= AA_TEXT and contrast(path_style.MUTED, fill) >= AA_TEXT, fill
    for colour in [*path_style.DIRECTION_COLOURS.values(), path_style.NEUTRAL]:
        assert contrast(colour, "#ffffff") >= AA_TEXT, colour


def test_serve_says_the_widget_may_not_be_framed_until_origins_are_listed(tmp_path):
    open_store(sqlite_url(tmp_path / "graph.db")).close()
    env = {k: v for k, v in os.environ.items() if k != "DEALGRAPH_WIDGET_FRAME_ANCESTORS"}
    env.update(PYTHONPATH=str(REPO), DEALGRAPH_STORE=sqlite_url(tmp_path / "graph.db"),
               DEALGRAPH_HOME=str(tmp_path / "home"), DEALGRAPH_WORKERS="1")
    with serve_command(tmp_path, env) as (base, process):
        response = httpx.get(f"{base}/widget/account/{SUB}")
    banner = process.stdout.read()
    assert "CRM widget (/widget/account/ID): no page may frame it yet" in banner, banner
    assert "DEALGRAPH_WIDGET_FRAME_ANCESTORS=" in banner
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"].endswith("frame-ancestors 'none'")
