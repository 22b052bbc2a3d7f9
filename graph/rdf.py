"""The graph as RDF under the ontology's IRIs, for SHACL validation and export.

Nodes become `<https://dealgraph.dev/id/{Label}/{id}>` typed with their class;
properties become typed literals; every relation becomes a direct triple, and
a relation with its own properties (a contact's role on a deal, a job's
dates, a line item) also gets a qualified node, as PROV does for qualified
associations — that is what lets SHACL say "at most one primary contact role".
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

import pandas as pd
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef

from graph.snapshot import Snapshot
from ontology import DG, Property

ID = Namespace("https://dealgraph.dev/id/")
XSD_TYPES = {"string": XSD.string, "integer": XSD.integer, "decimal": XSD.decimal, "boolean": XSD.boolean, "date": XSD.date, "dateTime": XSD.dateTime}


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


def to_rdf(snapshot: Snapshot) -> Graph:
    """The snapshot's nodes and edges as an rdflib graph (see the module docstring)."""
    schema = snapshot.schema
    g = Graph()
    g.bind("dg", DG)
    g.bind("id", ID)
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
                qualified = BNode()
                g.add((src, URIRef(rel.qualified_by), qualified))
                g.add((qualified, RDF.type, URIRef(rel.qualification_class)))
                g.add((qualified, URIRef(rel.qualified_target), dst))
                for prop in rel.properties:
                    lit = literal(prop, row.get(prop.name))
                    if lit is not None:
                        g.add((qualified, URIRef(prop.iri), lit))
    return g
