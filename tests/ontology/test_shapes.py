"""shapes.ttl under pySHACL: a hand-built valid graph conforms; each broken rule is reported on its path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pyshacl import validate
from rdflib import RDF, BNode, Graph, Literal, Namespace

from ontology import shapes_graph

DG = Namespace("https://dealgraph.dev/ns/crm#")
SH = Namespace("http://www.w3.org/ns/shacl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # open namespace: rdflib's closed XSD warns under pytest
ID = Namespace("https://example.test/id/")

PARENT, ACME, OTHER = ID.parent, ID.acme, ID.other
JO, AL = ID.jo, ID.al
REP, PRODUCT, DEAL, OUTCOME = ID.rep, ID.product, ID.deal, ID.outcome
ROLE_JO, ROLE_AL = BNode("role-jo"), BNode("role-al")
JOB = BNode("job-jo")
LINE = BNode("line-1")


def dt(*args: int) -> Literal:
    return Literal(datetime(*args, tzinfo=UTC), datatype=XSD.dateTime)


def dec(text: str) -> Literal:
    return Literal(Decimal(text), datatype=XSD.decimal)


def account(g: Graph, iri, key: str, name: str) -> None:
    g.add((iri, RDF.type, DG.Account))
    g.add((iri, DG.id, Literal(key)))
    g.add((iri, DG.name, Literal(name)))


def valid_graph() -> Graph:
    g = Graph()
    account(g, PARENT, "001P", "Globex")
    account(g, ACME, "001A", "Acme")
    account(g, OTHER, "001O", "Initech")
    g.add((ACME, DG.employees, Literal(120, datatype=XSD.integer)))
    g.add((ACME, DG.subsidiaryOf, PARENT))

    for iri, key, name, email in [(JO, "003J", "Jo", "jo@acme.com"), (AL, "003L", "Al", "al@acme.com")]:
        g.add((iri, RDF.type, DG.Contact))
        g.add((iri, DG.id, Literal(key)))
        g.add((iri, DG.name, Literal(name)))
        g.add((iri, DG.email, Literal(email)))
    g.add((JO, DG.worksAt, ACME))
    g.add((JO, DG.hasEmployment, JOB))
    g.add((JOB, RDF.type, DG.Employment))
    g.add((JOB, DG.employer, ACME))
    g.add((JOB, DG.since, Literal(date(2024, 1, 1), datatype=XSD.date)))
    g.add((JOB, DG.until, Literal(date(2024, 12, 31), datatype=XSD.date)))

    g.add((REP, RDF.type, DG.Rep))
    g.add((REP, DG.id, Literal("005R")))
    g.add((REP, DG.name, Literal("Rita")))
    g.add((PRODUCT, RDF.type, DG.Product))
    g.add((PRODUCT, DG.id, Literal("01tP")))
    g.add((PRODUCT, DG.name, Literal("Core")))

    g.add((DEAL, RDF.type, DG.Deal))
    g.add((DEAL, DG.id, Literal("006D")))
    g.add((DEAL, DG.name, Literal("Acme renewal")))
    g.add((DEAL, DG.createdAt, dt(2025, 1, 10, 9)))
    g.add((DEAL, DG.amount, dec("1000.00")))
    g.add((DEAL, DG.forAccount, ACME))
    g.add((DEAL, DG.ownedBy, REP))
    g.add((DEAL, DG.hasOutcome, OUTCOME))
    for role, contact, name, primary in [(ROLE_JO, JO, "champion", True), (ROLE_AL, AL, "user", False)]:
        g.add((DEAL, DG.involves, contact))
        g.add((DEAL, DG.hasContactRole, role))
        g.add((role, RDF.type, DG.ContactRole))
        g.add((role, DG.contact, contact))
        g.add((role, DG.role, Literal(name)))
        g.add((role, DG.isPrimary, Literal(primary)))
    g.add((DEAL, DG.forProduct, PRODUCT))
    g.add((DEAL, DG.hasLineItem, LINE))
    g.add((LINE, RDF.type, DG.LineItem))
    g.add((LINE, DG.product, PRODUCT))
    g.add((LINE, DG.quantity, dec("2")))
    g.add((LINE, DG.amount, dec("500.00")))

    g.add((OUTCOME, RDF.type, DG.Outcome))
    g.add((OUTCOME, DG.id, Literal("006D-outcome")))
    g.add((OUTCOME, DG.result, Literal("won")))
    g.add((OUTCOME, DG.closedAt, dt(2025, 3, 1, 12)))
    g.add((OUTCOME, DG.amount, dec("1000.00")))
    return g


def violated_paths(data: Graph) -> tuple[bool, set]:
    conforms, results, _ = validate(data, shacl_graph=shapes_graph())
    paths = {p for r in results.subjects(RDF.type, SH.ValidationResult) for p in results.objects(r, SH.resultPath)}
    return conforms, paths


def test_valid_graph_conforms():
    conforms, paths = violated_paths(valid_graph())
    assert conforms, paths
    assert paths == set()


def _set(subject, predicate, value) -> Callable[[Graph], None]:
    return lambda g: g.set((subject, predicate, value))


def _remove(subject, predicate) -> Callable[[Graph], None]:
    return lambda g: g.remove((subject, predicate, None))


def _add(subject, predicate, value) -> Callable[[Graph], None]:
    return lambda g: g.add((subject, predicate, value))


BREAKS = {
    "deal_without_account": (_remove(DEAL, DG.forAccount), DG.forAccount),
    "deal_with_two_accounts": (_add(DEAL, DG.forAccount, OTHER), DG.forAccount),
    "negative_deal_amount": (_set(DEAL, DG.amount, dec("-5")), DG.amount),
    "two_primary_contacts": (_set(ROLE_AL, DG.isPrimary, Literal(True)), DG.hasContactRole),
    "outcome_result_maybe": (_set(OUTCOME, DG.result, Literal("maybe")), DG.result),
    "outcome_without_closed_at": (_remove(OUTCOME, DG.closedAt), DG.closedAt),
    "job_ends_before_start": (_set(JOB, DG.since, Literal(date(2025, 2, 1), datatype=XSD.date)), DG.since),
    "line_item_without_product": (_remove(LINE, DG.product), DG.product),
    "contact_role_boss": (_set(ROLE_JO, DG.role, Literal("boss")), DG.role),
    "account_two_parents": (_add(ACME, DG.subsidiaryOf, OTHER), DG.subsidiaryOf),
    "contact_bad_email": (_set(JO, DG.email, Literal("not-an-email")), DG.email),
    "deal_without_created_at": (_remove(DEAL, DG.createdAt), DG.createdAt),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_broken_rule_is_reported(case):
    breaker, path = BREAKS[case]
    g = valid_graph()
    breaker(g)
    assert set(g) != set(valid_graph()), "the break changed nothing"
    conforms, paths = violated_paths(g)
    assert not conforms
    assert paths == {path}
