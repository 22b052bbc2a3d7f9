"""`to_rdf` of a small hand-built store (on every backend), checked against shapes.ttl with pySHACL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from graph import GraphStore, ScoreRecord
from graph.rdf import to_rdf
from ontology import shapes_graph
from tests.graph.backends import BACKENDS, open_test_store

DG = Namespace("https://dealgraph.dev/ns/crm#")
SH = Namespace("http://www.w3.org/ns/shacl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
T = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)

NODES = {
    "Account": [{"id": "acme", "name": "Acme", "employees": 120, "annual_revenue": 2e6, "created_at": T},
                {"id": "globex", "name": "Globex", "created_at": T}],
    "Contact": [{"id": "jo", "name": "Jo Doe", "email": "jo@acme.com", "created_at": T},
                {"id": "al", "name": "Al Roe", "created_at": T}],
    "Rep": [{"id": "rita", "name": "Rita", "active": True}],
    "Product": [{"id": "core", "name": "Core", "active": False}],
    "Deal": [{"id": "d1", "name": "Acme renewal", "amount": 1000.5, "stage": "Closed Won",
              "close_date": date(2025, 3, 1), "created_at": T},
             {"id": "d 2/x", "name": "Odd id", "created_at": T}],
    "Outcome": [{"id": "o1", "result": "won", "amount": 1000.5, "closed_at": datetime(2025, 3, 1, tzinfo=UTC)}],
}
EDGES = {
    "SUBSIDIARY_OF": [{"src": "acme", "dst": "globex"}],
    "WORKS_AT": [{"src": "jo", "dst": "acme", "since": date(2024, 1, 1), "until": date(2024, 12, 31), "title": "CFO"}],
    "FOR_ACCOUNT": [{"src": "d1", "dst": "acme"}, {"src": "d 2/x", "dst": "globex"}],
    "INVOLVES": [{"src": "d1", "dst": "jo", "role": "champion", "is_primary": True, "created_at": T},
                 {"src": "d1", "dst": "al", "role": "user", "is_primary": False, "created_at": T}],
    "FOR_PRODUCT": [{"src": "d1", "dst": "core", "quantity": 2, "amount": 500.0, "unit_price": 250.0}],
    "OWNED_BY": [{"src": "d1", "dst": "rita"}],
    "HAS_OUTCOME": [{"src": "d1", "dst": "o1"}],
}


def build(store: GraphStore) -> GraphStore:
    for label, rows in NODES.items():
        store.upsert_nodes(label, rows)
    for rel, rows in EDGES.items():
        store.upsert_edges(rel, rows)
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    s = open_test_store(request.param, tmp_path)
    yield build(s)
    s.close()


def shacl(g: Graph) -> tuple[bool, set[tuple], str]:
    conforms, results, text = validate(g, shacl_graph=shapes_graph())
    found = {
        (results.value(r, SH.focusNode), results.value(r, SH.resultPath))
        for r in results.subjects(RDF.type, SH.ValidationResult)
    }
    return conforms, found, text


def subject(g: Graph, cls: URIRef, node_id: str) -> URIRef:
    [s] = [s for s in g.subjects(DG.id, Literal(node_id)) if (s, RDF.type, cls) in g]
    return s


def test_export_conforms(store):
    conforms, found, text = shacl(to_rdf(store.snapshot()))
    assert conforms, text
    assert found == set()


def test_nodes_typed_with_class(store):
    g = to_rdf(store.snapshot())
    for label, rows in NODES.items():
        typed = set(g.subjects(RDF.type, DG[label]))
        assert {str(g.value(s, DG.id)) for s in typed} == {r["id"] for r in rows}, label


def test_properties_are_typed_literals(store):
    g = to_rdf(store.snapshot())
    acme = subject(g, DG.Account, "acme")
    assert g.value(acme, DG.name) == Literal("Acme")
    assert g.value(acme, DG.employees).datatype == XSD.integer
    assert g.value(acme, DG.employees).toPython() == 120
    assert g.value(acme, DG.annualRevenue).datatype == XSD.decimal
    assert float(g.value(acme, DG.annualRevenue).toPython()) == 2e6
    assert g.value(acme, DG.website) is None  # unknown facts are not written
    d1 = subject(g, DG.Deal, "d1")
    assert g.value(d1, DG.createdAt).datatype == XSD.dateTime
    assert g.value(d1, DG.createdAt).toPython() == T
    assert g.value(d1, DG.closeDate) == Literal(date(2025, 3, 1), datatype=XSD.date)
    assert g.value(subject(g, DG.Product, "core"), DG.active) == Literal(False)


def test_relations_are_direct_triples(store):
    g = to_rdf(store.snapshot())
    d1, acme, globex = subject(g, DG.Deal, "d1"), subject(g, DG.Account, "acme"), subject(g, DG.Account, "globex")
    assert (d1, DG.forAccount, acme) in g
    assert (acme, DG.subsidiaryOf, globex) in g
    assert (d1, DG.hasOutcome, subject(g, DG.Outcome, "o1")) in g
    assert (d1, DG.involves, subject(g, DG.Contact, "jo")) in g
    assert (subject(g, DG.Deal, "d 2/x"), DG.forAccount, globex) in g


def test_contact_role_is_qualified_node(store):
    g = to_rdf(store.snapshot())
    d1, jo, al = subject(g, DG.Deal, "d1"), subject(g, DG.Contact, "jo"), subject(g, DG.Contact, "al")
    roles = list(g.objects(d1, DG.hasContactRole))
    assert len(roles) == 2
    assert all((r, RDF.type, DG.ContactRole) in g for r in roles)
    by_contact = {g.value(r, DG.contact): r for r in roles}
    assert set(by_contact) == {jo, al}
    assert g.value(by_contact[jo], DG.role) == Literal("champion")
    assert g.value(by_contact[jo], DG.isPrimary) == Literal(True)
    assert g.value(by_contact[al], DG.isPrimary) == Literal(False)
    assert g.value(by_contact[jo], DG.createdAt).toPython() == T


def test_employment_and_line_item_are_qualified(store):
    g = to_rdf(store.snapshot())
    [job] = g.objects(subject(g, DG.Contact, "jo"), DG.hasEmployment)
    assert (job, RDF.type, DG.Employment) in g
    assert g.value(job, DG.employer) == subject(g, DG.Account, "acme")
    assert g.value(job, DG.since) == Literal(date(2024, 1, 1), datatype=XSD.date)
    assert g.value(job, DG.until) == Literal(date(2024, 12, 31), datatype=XSD.date)
    assert g.value(job, DG.title) == Literal("CFO")
    [line] = g.objects(subject(g, DG.Deal, "d1"), DG.hasLineItem)
    assert (line, RDF.type, DG.LineItem) in g
    assert g.value(line, DG.product) == subject(g, DG.Product, "core")
    assert float(g.value(line, DG.amount).toPython()) == 500.0


def test_plain_relations_are_not_qualified(store):
    g = to_rdf(store.snapshot())
    d1 = subject(g, DG.Deal, "d1")
    qualified = {p for p in g.predicates(d1, None) if p in (DG.hasContactRole, DG.hasLineItem)}
    assert qualified == {DG.hasContactRole, DG.hasLineItem}
    assert len(set(g.subjects(RDF.type, DG.ContactRole))) == len(EDGES["INVOLVES"])
    assert len(set(g.subjects(RDF.type, DG.LineItem))) == len(EDGES["FOR_PRODUCT"])
    assert len(set(g.subjects(RDF.type, DG.Employment))) == len(EDGES["WORKS_AT"])


def test_export_as_of_leaves_out_later_nodes(store):
    store.upsert_nodes("Deal", [{"id": "d_late", "name": "Later", "created_at": datetime(2026, 1, 1, tzinfo=UTC)}])
    store.upsert_edges("FOR_ACCOUNT", [{"src": "d_late", "dst": "acme"}])
    g = to_rdf(store.snapshot(as_of=datetime(2025, 6, 1, tzinfo=UTC)))
    assert not list(g.subjects(DG.id, Literal("d_late")))
    assert list(g.subjects(DG.id, Literal("d1")))


def test_negative_amount_is_flagged(store):
    store.upsert_nodes("Deal", [{"id": "d_neg", "name": "Negative", "amount": -5.0, "created_at": T}])
    store.upsert_edges("FOR_ACCOUNT", [{"src": "d_neg", "dst": "acme"}])
    g = to_rdf(store.snapshot())
    conforms, found, text = shacl(g)
    assert not conforms
    assert found == {(subject(g, DG.Deal, "d_neg"), DG.amount)}
    assert "not negative" in text


def test_two_primary_contacts_are_flagged(store):
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "al", "role": "user", "is_primary": True, "created_at": T}])
    g = to_rdf(store.snapshot())
    conforms, found, _ = shacl(g)
    assert not conforms
    assert found == {(subject(g, DG.Deal, "d1"), DG.hasContactRole)}


def test_deal_without_account_is_flagged(store):
    store.upsert_nodes("Deal", [{"id": "d_lonely", "name": "No account", "created_at": T}])
    g = to_rdf(store.snapshot())
    conforms, found, _ = shacl(g)
    assert not conforms
    assert found == {(subject(g, DG.Deal, "d_lonely"), DG.forAccount)}


# ---- scores and their lineage

PROV = Namespace("http://www.w3.org/ns/prov#")
# shapes.ttl has no shape for scores yet; this one states what the export promises.
SCORE_SHAPE = """
@prefix dg: <https://dealgraph.dev/ns/crm#> . @prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix prov: <http://www.w3.org/ns/prov#> .
dg:ScoreLineageShape a sh:NodeShape ; sh:targetClass dg:Score ;
  sh:property [ sh:path dg:scoresDeal ; sh:minCount 1 ; sh:maxCount 1 ; sh:class dg:Deal ] ;
  sh:property [ sh:path dg:probability ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:decimal ;
                sh:minInclusive 0 ; sh:maxInclusive 1 ] ;
  sh:property [ sh:path prov:wasGeneratedBy ; sh:minCount 1 ; sh:maxCount 1 ; sh:class dg:ModelRun ] ;
  sh:property [ sh:path prov:generatedAtTime ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] .
dg:ModelRunShape a sh:NodeShape ; sh:targetClass dg:ModelRun ;
  sh:property [ sh:path dg:modelVersion ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string ] .
"""
SCORES = [ScoreRecord("d1", 0.73, "gs-v1", T, "high"), ScoreRecord("d 2/x", 0.2, "gs-v1", T, "low")]


def test_scores_export_with_prov_lineage(store):
    store.write_scores(SCORES)
    scores = store.latest_scores(["d1", "d 2/x"]).values()
    g = to_rdf(store.snapshot(), scores)
    conforms, _, text = shacl(g)
    assert conforms, text
    shapes = shapes_graph().parse(data=SCORE_SHAPE, format="turtle")
    conforms, _, text = validate(g, shacl_graph=shapes)
    assert conforms, text
    by_deal = {g.value(s, DG.scoresDeal): s for s in g.subjects(RDF.type, DG.Score)}
    assert set(by_deal) == {subject(g, DG.Deal, "d1"), subject(g, DG.Deal, "d 2/x")}
    d1 = by_deal[subject(g, DG.Deal, "d1")]
    assert float(g.value(d1, DG.probability).toPython()) == 0.73
    assert g.value(d1, DG.probability).datatype == XSD.decimal
    assert g.value(d1, PROV.generatedAtTime).toPython() == T
    [run] = set(g.subjects(RDF.type, DG.ModelRun))
    assert g.value(d1, PROV.wasGeneratedBy) == run
    assert g.value(run, DG.modelVersion) == Literal("gs-v1")


def test_a_score_without_its_lineage_is_flagged(store):
    g = to_rdf(store.snapshot(), SCORES[:1])
    score = next(g.subjects(RDF.type, DG.Score))
    g.remove((score, PROV.wasGeneratedBy, None))
    conforms, _, text = validate(g, shacl_graph=shapes_graph().parse(data=SCORE_SHAPE, format="turtle"))
    assert not conforms and "wasGeneratedBy" in text
