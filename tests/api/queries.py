"""GraphQL documents shared by the API tests, `gql` to send them, and credentials to send them with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from api.auth import KeyStore, Role

#: The CRM widget's query, every field of the account and its open deals.
ACCOUNT_QUERY = """
query Widget($id: ID!, $top: Int) {
  account(id: $id) {
    id name industry country employees website
    parent { id name }
    subsidiaries { id }
    contacts { id name email title }
    openDeals {
      id name amount stage createdAt closeDate
      score { probability band modelVersion scoredAt previousProbability modelKind }
      explanation(top: $top) {
        method fidelity
        paths { weight direction text steps { label id name relation direction } }
      }
      owner { id name team }
      contacts { role isPrimary contact { id name } }
      products { quantity amount product { id name family } }
      outcome { result }
    }
  }
}
"""


class Endpoint(str):
    """A server's base URL and the bearer credential `gql` sends to it unless told otherwise."""

    token: str | None

    def __new__(cls, base_url: str, token: str | None = None) -> Endpoint:
        endpoint = super().__new__(cls, base_url)
        endpoint.token = token
        return endpoint


def create_key(home: Path, role: Role = Role.ADMIN, rep_id: str | None = None, team_scope: bool = False) -> str:
    """A new API key in `home`'s key file (where `create_app(store, home)` looks)."""
    return KeyStore(home / "api-keys.db").create(role, rep_id=rep_id, team_scope=team_scope, name="tests")[1]


def as_admin(base_url: str, home: Path) -> Endpoint:
    return Endpoint(base_url, create_key(home))


def post(base_url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a GraphQL query with `token` (default: the endpoint's own) as the bearer credential."""
    token = token or getattr(base_url, "token", None)
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}},
                      headers={**sent, **(headers or {})}, timeout=30)


def gql(
    base_url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> dict[str, Any]:
    """POST a GraphQL query; asserts HTTP 200 and returns the whole body (`data` and maybe `errors`)."""
    response = post(base_url, query, variables, token=token)
    assert response.status_code == 200, response.text
    return response.json()
