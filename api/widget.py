"""The CRM widget: one account's people, open deals, scores and reasons, for a rep inside their CRM.

`GET /widget/account/{id}` answers a small page meant for an iframe or side
panel of Salesforce, HubSpot or Dynamics (docs/widget.md). The page itself
holds no data and no credential: its script (`api/static/widget/`, served
under `/widget-assets/`) sends the one `AccountWidget` query below to
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
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.settings import FRAME_NONE, Settings
from gnn.path_style import palette

ASSETS_DIR = Path(__file__).parent / "static" / "widget"
#: The route name (and URL prefix) of the widget's script and stylesheet.
ASSETS_ROUTE = "widget-assets"
#: Explanation paths shown per deal.
TOP_PATHS = 3
ASSETS = ("widget.css", "widget.js")
#: In the asset links, so a browser's cached copy from an older release is never used with a newer page.
ASSETS_VERSION = hashlib.sha256(b"".join((ASSETS_DIR / name).read_bytes() for name in ASSETS)).hexdigest()[:12]

#: Everything the widget shows, in one request (within the default depth, token and alias limits).
QUERY = """\
query AccountWidget($id: ID!, $top: Int = 3) {
  account(id: $id) {
    id name industry country
    parent { id name }
    contacts { id name title }
    openDeals {
      id name amount stage closeDate
      owner { name }
      contacts { role isPrimary contact { id name title } }
      score { probability band previousProbability modelVersion scoredAt state baseRate
              quality { auroc aurocBand ece n } }
      explanation(top: $top) {
        fidelity fidelityMinus randomFidelity
        paths { weight direction text steps { label id name relation direction } }
        suggestions { kind text path contactId }
      }
    }
  }
  model { version }
}
"""

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>dealgraph · account</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{stylesheet}">
    <script src="{script}" defer></script>
  </head>
  <body>
    <main id="widget" data-state="loading" aria-busy="true">
      <p class="status">Loading the account…</p>
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


def widget_page(request: Request, account_id: str, graphql_path: str) -> str:
    """The page shell for one account: asset links and the script's configuration, no data."""
    config = {
        "endpoint": request.scope.get("root_path", "") + graphql_path,
        "accountId": account_id,
        "query": QUERY,
        "top": TOP_PATHS,
        "palette": palette(),
    }
    # JSON inside <script>: "<" escaped so an account id cannot close the element early.
    text = json.dumps(config).replace("<", "\\u003c")
    css, js = (html.escape(f"{request.url_for(ASSETS_ROUTE, path=name).path}?v={ASSETS_VERSION}") for name in ASSETS)
    return PAGE.format(stylesheet=css, script=js, config=text)


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
    async def account_widget(request: Request, account_id: Annotated[str, PathParam(max_length=200)]) -> HTMLResponse:
        return HTMLResponse(widget_page(request, account_id, graphql_path), headers=headers)

    app.include_router(router)
    app.mount(f"/{ASSETS_ROUTE}", StaticFiles(directory=ASSETS_DIR), name=ASSETS_ROUTE)
