"""The frozen `Schema`: the ontology and its shapes, read once with rdflib.

Every other package asks the schema for node types, relations, property
datatypes, keys and time semantics instead of repeating names, so changing
`crm.ttl` or `shapes.ttl` changes the stores, the loader checks, the model
features and the RDF export together.

Example:
    >>> from ontology import load_schema
    >>> schema = load_schema()
    >>> schema.relations["INVOLVES"].source
    'Deal'
    >>> schema.nodes["Deal"].prop("amount").datatype
    'decimal'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

HERE = Path(__file__).parent
ONTOLOGY_PATH = HERE / "crm.ttl"
SHAPES_PATH = HERE / "shapes.ttl"

DG = Namespace("https://dealgraph.dev/ns/crm#")
SCHEMA_ORG = Namespace("https://schema.org/")
SH = Namespace("http://www.w3.org/ns/shacl#")
XSD_NS = "http://www.w3.org/2001/XMLSchema#"

#: The xsd datatypes the stores and the loader know how to hold.
DATATYPES = ("string", "integer", "decimal", "boolean", "date", "dateTime")


def snake_case(local_name: str) -> str:
    """`annualRevenue` -> `annual_revenue`: Python and column names."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", local_name).lower()


@dataclass(frozen=True)
class Property:
    """A datatype property of a node type or of a relation."""

    name: str
    iri: str
    datatype: str
    required: bool = False
    categorical: bool = False
    # Only the latest value is exported: never a feature as of an earlier time.
    current_value_only: bool = False
    # The node type holding this property's dated values (`dg:historyClass`), where the ontology keeps them:
    # as of t the value is the last one recorded before t (`graph.dated_values`), so it is time-correct.
    history: str | None = None
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class _Typed:
    properties: tuple[Property, ...]

    def prop(self, name: str) -> Property:
        """The property called `name`; KeyError if there is none."""
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(f"{self!r} has no property {name!r}")

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


@dataclass(frozen=True)
class NodeType(_Typed):
    """A class of the ontology that the graph stores hold as nodes."""

    name: str = ""
    iri: str = ""
    key: str = "id"
    display: str = "name"
    time: str = "created_at"

    def __repr__(self) -> str:
        return f"NodeType({self.name})"


@dataclass(frozen=True)
class Relation(_Typed):
    """A relation between two node types; its properties live on the edge."""

    name: str = ""
    iri: str = ""
    source: str = ""
    target: str = ""
    # At most one edge of this relation per source node (owl:FunctionalProperty).
    functional: bool = False
    # Every source node has one (SHACL minCount 1 on the source's shape).
    required: bool = False
    valid_from: str | None = None
    valid_to: str | None = None
    # RDF qualified-relation form: source --qualified_by--> [ ... ] --qualified_target--> target
    qualified_by: str | None = None
    qualified_target: str | None = None
    qualification_class: str | None = None

    def __repr__(self) -> str:
        return f"Relation({self.name}: {self.source}->{self.target})"


@dataclass(frozen=True)
class Schema:
    """The ontology as one immutable object. Build it with `load_schema()`."""

    namespace: str
    nodes: Mapping[str, NodeType]
    relations: Mapping[str, Relation]
    version: str
    fingerprint: str

    def relations_from(self, node_type: str) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations.values() if r.source == node_type)

    def relations_touching(self, node_type: str) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations.values() if node_type in (r.source, r.target))

    def iri(self, local_name: str) -> str:
        return self.namespace + local_name

    def history_of(self, node_type: str) -> tuple[str, str] | None:
        """(history node type, relation from it to `node_type`) where `node_type` has dated properties."""
        for p in self.nodes[node_type].properties:
            if p.history:
                for r in self.relations_from(p.history):
                    if r.target == node_type:
                        return p.history, r.name
        return None

    def dated_properties(self, node_type: str) -> tuple[Property, ...]:
        """The properties of `node_type` whose values are kept with their times."""
        return tuple(p for p in self.nodes[node_type].properties if p.history)


def _local(iri: Node | str) -> str:
    return str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _flag(g: Graph, subject: Node, predicate: URIRef) -> bool:
    value = g.value(subject, predicate)
    return bool(isinstance(value, Literal) and value.toPython() is True)


def _required_value(g: Graph, subject: Node, predicate: URIRef) -> Node:
    value = g.value(subject, predicate)
    if value is None:
        raise ValueError(f"{subject}: the ontology gives no {_local(predicate)}")
    return value


def _shape_constraints(shapes: Graph) -> dict[tuple[str, str], dict]:
    """(class local name, path local name) -> the SHACL facets the loader uses."""
    out: dict[tuple[str, str], dict] = {}
    for shape in shapes.subjects(RDF.type, SH.NodeShape):
        target = shapes.value(shape, SH.targetClass)
        if target is None:
            continue
        for prop in shapes.objects(shape, SH.property):
            path = shapes.value(prop, SH.path)
            if not isinstance(path, URIRef):
                continue
            facets: dict = {}
            min_count = shapes.value(prop, SH.minCount)
            facets["required"] = min_count is not None and int(str(min_count)) >= 1
            in_list = shapes.value(prop, SH["in"])
            if in_list is not None:
                facets["allowed"] = tuple(str(v) for v in Collection(shapes, in_list))
            minimum = shapes.value(prop, SH.minInclusive)
            if minimum is not None:
                facets["minimum"] = float(str(minimum))
            maximum = shapes.value(prop, SH.maxInclusive)
            if maximum is not None:
                facets["maximum"] = float(str(maximum))
            out[(_local(target), _local(path))] = facets
    return out


def _histories(g: Graph) -> dict[str, str]:
    """Class IRI -> the graph name of the class keeping its dated values (linked to it by a relation)."""
    out: dict[str, str] = {}
    for history in set(g.objects(None, DG.historyClass)):
        for rel in g.subjects(RDFS.domain, history):
            target = g.value(rel, RDFS.range)
            if (rel, RDF.type, OWL.ObjectProperty) in g and target is not None:
                out[str(target)] = str(g.value(history, DG.graphName))
    return out


def _properties_of(g: Graph, cls: Node, shape_facets: dict, skip: set[str]) -> tuple[Property, ...]:
    histories = _histories(g)
    # On the history class itself each value is a dated one, not "the current value only".
    history_classes = {str(h) for h in g.objects(None, DG.historyClass)}
    props = []
    for iri in sorted(g.subjects(SCHEMA_ORG.domainIncludes, cls), key=str):
        if (iri, RDF.type, OWL.DatatypeProperty) not in g or _local(iri) in skip:
            continue
        rng = g.value(iri, RDFS.range)
        datatype = _local(rng) if rng is not None else "string"
        if datatype not in DATATYPES:
            raise ValueError(f"{iri}: unsupported range {rng}")
        facets = shape_facets.get((_local(cls), _local(iri)), {})
        props.append(
            Property(
                name=snake_case(_local(iri)),
                iri=str(iri),
                datatype=datatype,
                required=facets.get("required", False),
                categorical=_flag(g, iri, DG.categorical),
                current_value_only=_flag(g, iri, DG.currentValueOnly) and str(cls) not in history_classes,
                history=histories.get(str(cls)) if (iri, DG.historyClass, None) in g else None,
                allowed=facets.get("allowed"),
                minimum=facets.get("minimum"),
                maximum=facets.get("maximum"),
            )
        )
    return tuple(props)


def _read_schema(ontology_text: str, shapes_text: str) -> Schema:
    g = Graph().parse(data=ontology_text, format="turtle")
    shapes = Graph().parse(data=shapes_text, format="turtle")
    facets = _shape_constraints(shapes)

    nodes: dict[str, NodeType] = {}
    for cls in sorted(g.subjects(RDF.type, OWL.Class), key=str):
        graph_name = g.value(cls, DG.graphName)
        if graph_name is None:
            continue  # qualification and lineage classes are not node types
        key_list = g.value(cls, OWL.hasKey)
        key = _local(next(iter(Collection(g, key_list)))) if key_list is not None else "id"
        nodes[str(graph_name)] = NodeType(
            name=str(graph_name),
            iri=str(cls),
            key=snake_case(key),
            display=snake_case(_local(_required_value(g, cls, DG.displayProperty))),
            time=snake_case(_local(_required_value(g, cls, DG.timeProperty))),
            properties=_properties_of(g, cls, facets, skip={key}),
        )
    by_iri = {n.iri: n.name for n in nodes.values()}

    relations: dict[str, Relation] = {}
    for iri in sorted(g.subjects(RDF.type, OWL.ObjectProperty), key=str):
        graph_name = g.value(iri, DG.graphName)
        if graph_name is None:
            continue
        source = by_iri[str(g.value(iri, RDFS.domain))]
        qualified_by = g.value(iri, DG.qualifiedBy)
        qual_class = g.value(qualified_by, RDFS.range) if qualified_by is not None else None
        props = _properties_of(g, qual_class, facets, skip=set()) if qual_class is not None else ()
        valid_from, valid_to = g.value(iri, DG.validFrom), g.value(iri, DG.validTo)
        relations[str(graph_name)] = Relation(
            name=str(graph_name),
            iri=str(iri),
            source=source,
            target=by_iri[str(g.value(iri, RDFS.range))],
            functional=(iri, RDF.type, OWL.FunctionalProperty) in g,
            required=facets.get((_local(nodes[source].iri), _local(iri)), {}).get("required", False),
            valid_from=snake_case(_local(valid_from)) if valid_from is not None else None,
            valid_to=snake_case(_local(valid_to)) if valid_to is not None else None,
            qualified_by=str(qualified_by) if qualified_by is not None else None,
            qualified_target=str(g.value(iri, DG.qualifiedTarget)) if qualified_by is not None else None,
            qualification_class=str(qual_class) if qual_class is not None else None,
            properties=props,
        )

    ontology_iri = next(g.subjects(RDF.type, OWL.Ontology))
    version = g.value(ontology_iri, OWL.versionInfo)
    digest = hashlib.sha256((ontology_text + "\n" + shapes_text).encode()).hexdigest()[:16]
    return Schema(
        namespace=str(DG),
        nodes=MappingProxyType(nodes),
        relations=MappingProxyType(relations),
        version=str(version) if isinstance(version, Literal) else "0",
        fingerprint=digest,
    )


@cache
def load_schema(ontology_path: Path = ONTOLOGY_PATH, shapes_path: Path = SHAPES_PATH) -> Schema:
    """Read the ontology and its shapes into one frozen `Schema` (cached)."""
    return _read_schema(ontology_path.read_text("utf-8"), shapes_path.read_text("utf-8"))


def shapes_graph(shapes_path: Path = SHAPES_PATH) -> Graph:
    """The SHACL shapes as an rdflib graph, for pySHACL."""
    return Graph().parse(shapes_path, format="turtle")


def ontology_graph(ontology_path: Path = ONTOLOGY_PATH) -> Graph:
    """The OWL ontology as an rdflib graph."""
    return Graph().parse(ontology_path, format="turtle")
