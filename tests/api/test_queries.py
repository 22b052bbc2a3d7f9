"""The account, deal and explanation queries over HTTP against the shared graph."""

from __future__ import annotations

from tests.api.graph_data import Crm
from tests.api.queries import ACCOUNT_QUERY, gql


def test_account_returns_current_contacts_and_open_deals_by_score(api_url: str, crm: Crm) -> None:
    body = gql(api_url, ACCOUNT_QUERY, {"id": crm.sub, "top": 2})
    assert "errors" not in body
    account = body["data"]["account"]
    assert account["name"] == "Globex Europe"
    assert account["parent"] == {"id": crm.parent, "name": "Globex Holdings"}
    # Cleo's employment ended: she is not a current contact.
    assert {c["id"]: c["title"] for c in account["contacts"]} == {
        "003-ana": "VP Operations",
        "003-ben": "Procurement Lead",  # from the WORKS_AT edge: the contact row has no title
    }
    assert {c["name"] for c in account["contacts"]} == {"Ana Silva", "Ben Okafor"}
    deals = account["openDeals"]
    # Highest score first, ties by id, unscored last; the closed deal is not listed.
    assert [d["id"] for d in deals] == crm.sub_open_by_score
    assert deals[-1]["score"] is None and deals[-1]["explanation"] is None
    top = deals[0]
    assert top["score"]["probability"] == 0.91
    assert top["score"]["previousProbability"] == 0.55
    assert top["score"]["band"] == "high" and top["score"]["modelKind"] == "graphsage"
    assert top["score"]["scoredAt"].startswith("2025-03-04T10:15:00")
    assert top["createdAt"].startswith("2025-01-10T09:00:00") and top["closeDate"] == "2025-06-30"
    assert top["owner"] == {"id": "005-rep", "name": "Rita Rep", "team": "EMEA"}
    assert top["contacts"] == [
        {"role": "champion", "isPrimary": True, "contact": {"id": "003-ana", "name": "Ana Silva"}}
    ]
    assert {p["product"]["id"] for p in top["products"]} == {"01t-core", "01t-addon"}
    assert top["outcome"] is None


def test_explanation_is_limited_by_top_and_keeps_stored_order(api_url: str, crm: Crm) -> None:
    query = """query($id: ID!) { deal(id: $id) {
        two: explanation(top: 2) { paths { weight } }
        dflt: explanation { method fidelity paths { weight direction steps { label id relation direction } } }
        none: explanation(top: 0) { paths { weight } }
        all: explanation(top: 50) { paths { weight } } } }"""
    deal = gql(api_url, query, {"id": crm.explained_deal})["data"]["deal"]
    assert len(deal["two"]["paths"]) == 2
    assert len(deal["dflt"]["paths"]) == 3  # the default top
    assert deal["none"]["paths"] == []
    assert len(deal["all"]["paths"]) == 5  # every stored path, no more
    weights = [p["weight"] for p in deal["all"]["paths"]]
    assert weights == sorted(weights, key=abs, reverse=True)
    assert deal["dflt"]["method"] == "path-attribution" and deal["dflt"]["fidelity"] == 0.82
    first = deal["dflt"]["paths"][0]
    assert first["direction"] == "raises"
    assert first["steps"][0] == {"label": "Deal", "id": crm.explained_deal, "relation": None, "direction": None}
    assert first["steps"][1]["relation"] == "INVOLVES"


def test_explanation_serves_fidelity_baselines_and_suggestions_of_the_paths_shown(api_url: str, crm: Crm) -> None:
    query = """query($id: ID!) { deal(id: $id) {
        top: explanation { fidelity fidelityMinus randomFidelity suggestions { kind text path contactId } }
        all: explanation(top: 50) { suggestions { kind path contactId } } } }"""
    deal = gql(api_url, query, {"id": crm.explained_deal})["data"]["deal"]
    assert (deal["top"]["fidelity"], deal["top"]["fidelityMinus"], deal["top"]["randomFidelity"]) == (0.82, 0.05, 0.2)
    # A suggestion is shown only with the path it names: the last of five paths is outside the default top 3.
    assert deal["top"]["suggestions"] == [
        {"kind": "keep", "text": "Keep Ana Silva closely involved.", "path": 0, "contactId": None}]
    assert deal["all"]["suggestions"][1] == {"kind": "involve", "path": 4, "contactId": "003-bob"}


def test_negative_top_is_a_clear_error(api_url: str, crm: Crm) -> None:
    query = "query($id: ID!) { deal(id: $id) { explanation(top: -1) { method } } }"
    body = gql(api_url, query, {"id": crm.explained_deal})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "`top` must be 0 or more" in body["errors"][0]["message"]


def test_closed_deal_has_outcome_and_is_reachable_by_id(api_url: str, crm: Crm) -> None:
    body = gql(api_url, 'query($id: ID!) { deal(id: $id) { id account { id name parent { id } } '
                        'outcome { result closedAt amount reason } } }', {"id": crm.closed_deal})
    deal = body["data"]["deal"]
    assert deal["account"] == {"id": crm.sub, "name": "Globex Europe", "parent": {"id": crm.parent}}
    assert deal["outcome"]["result"] == "won" and deal["outcome"]["amount"] == 5200.0
    assert deal["outcome"]["closedAt"].startswith("2025-02-01T12:00:00")


def test_unknown_ids_are_null_not_errors(api_url: str) -> None:
    body = gql(api_url, '{ deal(id: "no-such-deal") { id } account(id: "no-such-account") { id } }')
    assert body == {"data": {"deal": None, "account": None}}


def test_parent_lists_its_subsidiaries(api_url: str, crm: Crm) -> None:
    body = gql(api_url, 'query($id: ID!) { account(id: $id) { parent { id } subsidiaries { id name } '
                        'contacts { id } } }', {"id": crm.parent})
    account = body["data"]["account"]
    assert account == {"parent": None, "subsidiaries": [{"id": crm.sub, "name": "Globex Europe"}],
                       "contacts": [{"id": "003-dan"}]}
