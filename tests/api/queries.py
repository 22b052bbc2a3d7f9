"""GraphQL documents shared by the API tests, and `gql` to send them."""

from __future__ import annotations

from typing import Any

import httpx

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


def gql(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a GraphQL query; returns the whole response body (`data` and maybe `errors`)."""
    response = httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()
