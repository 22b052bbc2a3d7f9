"""Audit events in PROV terms, for the RDF export (`dealgraph export --audit`).

Each event is a `prov:Activity` (`id:Audit/<seq>`) that started at its time,
was associated with its actor (a `prov:Agent`, `id:Agent/<subject>`), and used
the deal it is about and the model run whose score it concerned (the same IRIs
the export gives the deal and the score's `dg:ModelRun`). The action and the
free text go in `rdfs:label` and `rdfs:comment`; an override's probability is
kept as `prov:value` of a `prov:Entity` the activity generated.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import quote

from rdflib import PROV, RDF, RDFS, XSD, Graph, Literal, URIRef

from gnn.owners.audit import AuditEvent
from graph.rdf import ID, model_run_iri, node_iri
from graph.timefmt import to_utc
from ontology.names import Label

DEAL = Label.DEAL


def event_iri(event: AuditEvent) -> URIRef:
    return ID[f"Audit/{event.seq}"]


def agent_iri(subject: str) -> URIRef:
    return ID[f"Agent/{quote(subject, safe='')}"]


def add_audit(g: Graph, events: Iterable[AuditEvent]) -> int:
    """Add the events as PROV activities; returns how many."""
    n = 0
    for e in events:
        activity, agent = event_iri(e), agent_iri(e.actor.subject)
        g.add((activity, RDF.type, PROV.Activity))
        g.add((activity, RDFS.label, Literal(e.action)))
        if e.text:
            g.add((activity, RDFS.comment, Literal(e.text)))
        if e.at is not None:
            g.add((activity, PROV.startedAtTime, Literal(to_utc(e.at), datatype=XSD.dateTime)))
        g.add((agent, RDF.type, PROV.Agent))
        g.add((agent, RDFS.label, Literal(f"{e.actor.subject} ({e.actor.role})")))
        g.add((activity, PROV.wasAssociatedWith, agent))
        if e.deal_id:
            g.add((activity, PROV.used, node_iri(DEAL, e.deal_id)))
        if e.model_version:
            g.add((activity, PROV.used, model_run_iri(e.model_version)))
        if e.override_probability is not None:
            override = ID[f"Audit/{e.seq}/override"]
            g.add((override, RDF.type, PROV.Entity))
            g.add((override, PROV.value, Literal(Decimal(repr(e.override_probability)), datatype=XSD.decimal)))
            g.add((override, PROV.wasGeneratedBy, activity))
        n += 1
    return n
