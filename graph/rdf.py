"""The graph as RDF under the ontology's IRIs, for SHACL validation and export.

Nodes become `<https://dealgraph.dev/id/{Label}/{id}>` typed with their class;
properties become typed literals; every relation becomes a direct triple, and
a relation with its own properties (a contact's role on a deal, a job's
dates, a line item) also gets a qualified node, as PROV does for qualified
associations — that is what lets SHACL say "at most one primary contact role".

Scores, when given, export with their lineage in PROV terms, as the ontology
declares them: a `dg:Score` `dg:scoresDeal` its deal, has a `dg:probability`,
`prov:wasGeneratedBy` the `dg:ModelRun` of its model version, and
`prov:generatedAtTime` when it was scored.

Example:
    >>> g = to_rdf(store.snapshot(), scores=store.latest_scores(store.node_ids("Deal")).values())
    >>> g.serialize(format="turtle")
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

import pandas as pd
from rdflib import PROV, RDF, XSD, BNode, Graph, Literal, Namespace, URIRef

from graph.snapshot import Snapshot
from graph.store import ScoreRecord
from graph.timefmt import to_iso, to_utc
from ontology import DG, Property
from ontology.names import Label

ID = Namespace("https://dealgraph.dev/id/")
#: The node type a `ScoreRecord.deal_id` names.
SCORED_LABEL = Label.DEAL
#: The JSON-LD context of exports: the prefixes Turtle exports bind.
JSONLD_CONTEXT = {"dg": str(DG), "id": str(ID), "prov": str(PROV), "xsd": str(XSD), "rdf": str(RDF)}
XSD_TYPES = {"string": XSD.string, "integer": XSD.integer, "decimal": XSD.decimal, "boolean": XSD.boolean,
             "date": XSD.date, "dateTime": XSD.dateTime}


def node_iri(label: str, node_id: str) -> URIRef:
    return ID[f"{label}/{quote(str(node_id), safe='')}"]


def literal(prop: Property, value) -> Literal | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if prop.datatype == "dateTime":
        value = pd.Timestamp(value).to_pydatetime()
    elif prop.datatype == "date":
        value = pd.Timestamp(value).date() if not isinstance(value, date) or isinstance(value, datetime) else value
    elif prop.datatype == "decimal":
        value = Decimal(repr(float(value)))  # a float literal is ill-typed as xsd:decimal
    elif prop.datatype == "integer":
        value = int(value)
    elif prop.datatype == "boolean":
        value = bool(value)
    if prop.datatype == "string":
        return Literal(str(value))  # a plain literal: RDF 1.1's xsd:string, and what sh:in lists hold
    return Literal(value, datatype=XSD_TYPES[prop.datatype])


def score_iri(score: ScoreRecord) -> URIRef:
    """One IRI per score written: deal, model version and time."""
    return ID[f"Score/{quote(score.deal_id, safe='')}/{quote(score.model_version, safe='')}/{to_iso(score.scored_at)}"]


def model_run_iri(model_version: str) -> URIRef:
    return ID[f"ModelRun/{quote(model_version, safe='')}"]


def add_scores(g: Graph, label: str, scores: Iterable[ScoreRecord]) -> int:
    """Add scores with their PROV lineage; `label` is the deal node type. Returns how many."""
    n = 0
    for score in scores:
        subject, run = score_iri(score), model_run_iri(score.model_version)
        g.add((run, RDF.type, DG.ModelRun))
        g.add((run, DG.modelVersion, Literal(score.model_version)))
        g.add((subject, RDF.type, DG.Score))
        g.add((subject, DG.scoresDeal, node_iri(label, score.deal_id)))
        g.add((subject, DG.probability, Literal(Decimal(repr(float(score.probability))), datatype=XSD.decimal)))
        g.add((subject, PROV.wasGeneratedBy, run))
        g.add((subject, PROV.generatedAtTime, Literal(to_utc(score.scored_at), datatype=XSD.dateTime)))
        n += 1
    return n


def to_rdf(snapshot: Snapshot, scores: Iterable[ScoreRecord] = ()) -> Graph:
    """The snapshot's nodes and edges (and `scores`, with lineage) as an rdflib graph (see the module docstring)."""
    schema = snapshot.schema
    g = Graph()
    g.bind("dg", DG)
    g.bind("id", ID)
    g.bind("prov", PROV)
    for label, frame in snapshot.nodes.items():
        node = schema.nodes[label]
        cls = URIRef(node.iri)
        for row in frame.to_dict("records"):
            subject = node_iri(label, row[node.key])
            g.add((subject, RDF.type, cls))
            g.add((subject, DG.id, Literal(str(row[node.key]))))
            for prop in node.properties:
                lit = literal(prop, row.get(prop.name))
                if lit is not None:
                    g.add((subject, URIRef(prop.iri), lit))
    for name, frame in snapshot.edges.items():
        rel = schema.relations[name]
        for row in frame.to_dict("records"):
            src, dst = node_iri(rel.source, row["src"]), node_iri(rel.target, row["dst"])
            g.add((src, URIRef(rel.iri), dst))
            if rel.qualified_by:
                if rel.qualification_class is None or rel.qualified_target is None:
                    raise ValueError(f"{rel.name}: qualified by {rel.qualified_by} without a class or a target")
                qualified = BNode()
                g.add((src, URIRef(rel.qualified_by), qualified))
                g.add((qualified, RDF.type, URIRef(rel.qualification_class)))
                g.add((qualified, URIRef(rel.qualified_target), dst))
                for prop in rel.properties:
                    lit = literal(prop, row.get(prop.name))
                    if lit is not None:
                        g.add((qualified, URIRef(prop.iri), lit))
    add_scores(g, SCORED_LABEL, scores)
    return g
