"""The non-GraphQL routes: health, the root redirect, and the offline GraphiQL page."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from api.app import create_app
from api.graphiql import ASSETS_DIR
from graph import open_store, sqlite_url
from tests.api.queries import create_key
from tests.helpers.server import serve


class _AssetRefs(HTMLParser):
    """Collects the URLs of <script src> and <link href> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.refs.append(value)


def test_healthz_ok(api_url: str) -> None:
    response = httpx.get(f"{api_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_503_with_reason_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    db = tmp_path / "graph.db"
    store = open_store(sqlite_url(db))
    store.close()
    # Corrupt the file under the (real, closed) store: its next connection cannot read it.
    for extra in (tmp_path / "graph.db-wal", tmp_path / "graph.db-shm"):
        extra.unlink(missing_ok=True)
    db.write_bytes(b"this is not a SQLite database" * 100)
    try:
        with serve(create_app(store, tmp_path)) as base_url:
            response = httpx.get(f"{base_url}/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert "not a database" in body["reason"]
    finally:
        store.close()


def test_root_redirects_to_graphql(api_url: str) -> None:
    response = httpx.get(f"{api_url}/", follow_redirects=False)
    assert response.is_redirect
    assert response.headers["location"] == "/graphql"


def test_graphiql_page_uses_only_local_assets_and_they_all_load(api_url: str) -> None:
    page = httpx.get(f"{api_url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    parser = _AssetRefs()
    parser.feed(page.text)
    assert parser.refs, "the page references no assets"
    # No absolute or protocol-relative URL anywhere in the page, let alone in a tag.
    assert not re.search(r"(https?:)?//[a-z0-9]", page.text, re.IGNORECASE), page.text
    scripts = [r for r in parser.refs if r.endswith(".js")]
    assert any("graphiql.min.js" in s for s in scripts) and any("react-dom" in s for s in scripts)
    assert any(r.endswith("graphiql.min.css") for r in parser.refs)
    for ref in parser.refs:
        if ref.startswith("data:"):
            continue
        assert ref.startswith("/graphiql-assets/"), ref
        asset = httpx.get(f"{api_url}{ref}")
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0


def test_vendored_assets_match_versions_txt_and_fetch_nothing_remote() -> None:
    versions = (ASSETS_DIR / "VERSIONS.txt").read_text()
    listed = dict(re.findall(r"^([\w.-]+\.(?:js|css))\s+sha256=([0-9a-f]{64})", versions, re.MULTILINE))
    vendored = {p.name for p in ASSETS_DIR.iterdir() if p.suffix in {".js", ".css"} and p.name != "init.js"}
    assert set(listed) == vendored
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
    # The stylesheet embeds its fonts; a url() to a host would break offline.
    css_urls = re.findall(r"url\(([^)]*)\)", (ASSETS_DIR / "graphiql.min.css").read_text())
    assert css_urls and all(u.strip("'\"").startswith("data:") for u in css_urls)


def test_graphiql_can_be_turned_off(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        with serve(create_app(store, tmp_path, graphiql=False)) as base_url:
            page = httpx.get(f"{base_url}/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 404
            assert httpx.get(f"{base_url}/graphiql-assets/graphiql.min.js").status_code == 404
            # GraphQL itself still answers.
            headers = {"Authorization": f"Bearer {create_key(tmp_path)}"}
            body = httpx.post(f"{base_url}/graphql", json={"query": "{ model { version } }"}, headers=headers).json()
            assert body == {"data": {"model": None}}
    finally:
        store.close()
