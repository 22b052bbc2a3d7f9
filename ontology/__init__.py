"""The CRM ontology (OWL + SHACL) and the frozen `Schema` read from it."""

from ontology.schema import (
    DG,
    NodeType,
    Property,
    Relation,
    Schema,
    load_schema,
    ontology_graph,
    shapes_graph,
)

__all__ = ["DG", "Property", "NodeType", "Relation", "Schema", "load_schema", "ontology_graph", "shapes_graph"]
