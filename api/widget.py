"""The CRM widget: one deal, or one account's people and open deals, with scores and reasons, for a rep in their CRM.

`GET /widget/deal/{id}` and `GET /widget/account/{id}` answer a small page meant for
an iframe or side panel of Salesforce, HubSpot or Dynamics (docs/widget.md). The page
itself holds no data and no credential: its scripts (`api/static/widget/`, served
under `/widget-assets/`) send the one `DealWidget` or `AccountWidget` query below to
`/graphql` with the token the host CRM hands it (`#token=…` in the URL
fragment, which browsers never send to a server, or a `postMessage` from the
parent frame), so the rep sees exactly what their own key may see.

Headers: a strict Content-Security-Policy (scripts, styles and requests from
this origin only, so the page works offline and a stray CDN reference fails
loudly) whose `frame-ancestors` comes from `DEALGRAPH_WIDGET_FRAME_ANCESTORS`: by default
`'none'` (and `X-Frame-Options: DENY`), so no page may frame it until the CRM's origins are listed.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.settings import FRAME_NONE, Settings
from gnn.path_style import RELATION_WORDS, palette

ASSETS_DIR = Path(__file__).parent / "static" / "widget"
#: The route name (and URL prefix) of the widget's script and stylesheet.
ASSETS_ROUTE = "widget-assets"
#: Explanation paths fetched per deal: two shown at once, the rest under "more".
TOP_PATHS = 6
#: In load order: the helpers, the deal card and its feedback form, then the page's own script.
ASSETS = ("widget.css", "dom.js", "deal-card.js", "feedback.js", "widget.js")
#: An ISO 4217 code, as a CRM names its currency (`?currency=EUR`).
CURRENCY = re.compile(r"^[A-Z]{3}$")
#: In the asset links, so a browser's cached copy from an older release is never used with a newer page.
ASSETS_VERSION = hashlib.sha256(b"".join((ASSETS_DIR / name).read_bytes() for name in ASSETS)).hexdigest()[:12]

#: What the widget shows of a deal, shared by both queries.
DEAL_FIELDS = """
      id name amount stage closeDate stageEnteredAt
      lastActivity { kind occurredAt }
      account { id name }
      owner { name }
      score { probability band previousProbability modelVersion scoredAt asOf state baseRate
              quality { auroc aurocBand ece n } }
      explanation(top: $top) {
        fidelity fidelityMinus randomFidelity
        paths { weight direction text reference steps { label id name relation direction } }
        suggestions { kind text path contactId effect reference }
      }"""

#: Everything the account page shows, in one request (within the default depth, token and alias limits).
QUERY = """\
query AccountWidget($id: ID!, $top: Int = 6) {
  account(id: $id) {
    id name industry country
    parent { id name }
    contacts { id name title }
    openDeals {""" + DEAL_FIELDS + """
      contacts { role isPrimary contact { id name title } }
    }
  }
  model { version }
}
"""

#: Everything the deal page shows, in one request.
DEAL_QUERY = """\
query DealWidget($id: ID!, $top: Int = 6) {
  deal(id: $id) {""" + DEAL_FIELDS + """
  }
  model { version }
}
"""

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>dealgraph · {kind}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{stylesheet}">
{scripts}
  </head>
  <body>
    <main id="widget" data-state="loading" aria-busy="true">
      <p class="status">Loading…</p>
      <noscript><p class="status">This widget needs JavaScript.</p></noscript>
    </main>
    <script type="application/json" id="widget-config">{config}</script>
  </body>
</html>
"""


def content_security_policy(frame_ancestors: list[str]) -> str:
    """Only this origin's files and API; framed only by `frame_ancestors` (validated CSP sources)."""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {' '.join(frame_ancestors)}")


def widget_page(request: Request, kind: str, node_id: str, graphql_path: str, currency: str | None = None) -> str:
    """The page shell for one deal or account (`kind`): asset links and the scripts' configuration, no data."""
    config = {
        "endpoint": request.scope.get("root_path", "") + graphql_path,
        "kind": kind,
        "id": node_id,
        "query": DEAL_QUERY if kind == "deal" else QUERY,
        "top": TOP_PATHS,
        "palette": palette(),
        "relations": RELATION_WORDS,
        # Amounts carry no currency in the graph: the host CRM says which one its amounts are in.
        "currency": currency if currency and CURRENCY.match(currency) else None,
    }
    # JSON inside <script>: "<" escaped so an id cannot close the element early.
    text = json.dumps(config).replace("<", "\\u003c")
    css, *js = (html.escape(f"{request.url_for(ASSETS_ROUTE, path=name).path}?v={ASSETS_VERSION}") for name in ASSETS)
    scripts = "\n".join(f'    <script src="{src}" defer></script>' for src in js)
    return PAGE.format(stylesheet=css, scripts=scripts, config=text, kind=kind)


def mount_widget(app: FastAPI, settings: Settings, graphql_path: str) -> None:
    """Add the widget's page route and its static assets to `app`."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings.widget_frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # The shell is tiny and holds no data; revalidating keeps a new release's asset links current.
        "Cache-Control": "no-cache",
    }
    if settings.widget_frame_ancestors == [FRAME_NONE]:
        headers["X-Frame-Options"] = "DENY"  # the same refusal for browsers that predate CSP frame-ancestors
    router = APIRouter()

    @router.get("/widget/account/{account_id}", include_in_schema=False, response_class=HTMLResponse)
    async def account_widget(request: Request, account_id: Annotated[str, PathParam(max_length=200)],
                             currency: Annotated[str | None, Query(max_length=3)] = None) -> HTMLResponse:
        return HTMLResponse(widget_page(request, "account", account_id, graphql_path, currency), headers=headers)

    @router.get("/widget/deal/{deal_id}", include_in_schema=False, response_class=HTMLResponse)
    async def deal_widget(request: Request, deal_id: Annotated[str, PathParam(max_length=200)],
                          currency: Annotated[str | None, Query(max_length=3)] = None) -> HTMLResponse:
        return HTMLResponse(widget_page(request, "deal", deal_id, graphql_path, currency), headers=headers)

    app.include_router(router)
    app.mount(f"/{ASSETS_ROUTE}", StaticFiles(directory=ASSETS_DIR), name=ASSETS_ROUTE)
