"""GraphiQL served from this app's own files, so it renders behind a firewall.

Strawberry's stock page loads React and GraphiQL from unpkg.com and shows a
blank page where that host is unreachable. `OfflineGraphQLRouter` serves a
small page instead whose scripts and stylesheet are the vendored builds in
`api/static/graphiql/` (versions and licences in `VERSIONS.txt` there),
mounted by `api.app.create_app` under `/graphiql-assets/`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
#: The route name (and URL prefix) of the mounted assets.
ASSETS_ROUTE = "graphiql-assets"

SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "init.js")
STYLESHEETS = ("graphiql.min.css",)

# Everything from this origin, nothing from anywhere else: the page must work offline,
# and a stray CDN reference should fail loudly in development rather than silently at a customer.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'self'"
)

DEFAULT_QUERY = """\
# dealgraph: open deals by win probability, with the paths that explain each score.
# First paste your API key into the Headers tab below (`dealgraph keys create`, or the one
# `dealgraph demo` printed). Ctrl-Enter runs the query. For one account, see docs/api.md or try:
#   { account(id: "ACCOUNT_ID") { name openDeals { name score { probability } } } }
query TopOpenDeals {
  deals(first: 5) {
    totalCount
    edges {
      node {
        id
        name
        account { id name }
        score { probability band modelVersion }
        explanation(top: 2) { paths { weight direction text } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Every query needs a credential: the Headers tab opens with the header to fill in (keys are never put in the page).
DEFAULT_HEADERS = '{\n  "Authorization": "Bearer PASTE-YOUR-API-KEY"\n}'

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>dealgraph · GraphiQL</title>
    <link rel="icon" href="data:,">
{stylesheets}
    <style>
      body {{ margin: 0; height: 100vh; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script type="application/json" id="graphiql-config">{config}</script>
{scripts}
  </body>
</html>
"""


def asset_path(request: Request, name: str) -> str:
    """The path (no scheme or host) of a vendored asset, honouring any mount prefix."""
    return request.url_for(ASSETS_ROUTE, path=name).path


def graphiql_page(request: Request) -> str:
    """The GraphiQL HTML for the GraphQL endpoint at `request`'s path."""
    config = json.dumps({"endpoint": request.url.path, "defaultQuery": DEFAULT_QUERY,
                         "defaultHeaders": DEFAULT_HEADERS})
    # JSON inside <script>: "<" escaped so no value can close the element early.
    config = config.replace("<", "\\u003c")
    links = "\n".join(
        f'    <link rel="stylesheet" href="{html.escape(asset_path(request, n))}">' for n in STYLESHEETS
    )
    scripts = "\n".join(f'    <script src="{html.escape(asset_path(request, n))}"></script>' for n in SCRIPTS)
    return PAGE.format(stylesheets=links, scripts=scripts, config=config)


ContextT = TypeVar("ContextT")
RootValueT = TypeVar("RootValueT")


class OfflineGraphQLRouter(GraphQLRouter[ContextT, RootValueT]):
    """Strawberry's FastAPI router with GraphiQL served from local assets."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page(request), headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
