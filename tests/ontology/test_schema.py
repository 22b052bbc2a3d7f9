"""The frozen Schema read from crm.ttl and shapes.ttl."""

from __future__ import annotations

import dataclasses

import pytest
from rdflib import RDFS, Namespace, URIRef

from ontology import DG, load_schema, ontology_graph
from ontology.schema import ONTOLOGY_PATH, SHAPES_PATH, _read_schema

SCHEMA_ORG = Namespace("https://schema.org/")
PROV = Namespace("http://www.w3.org/ns/prov#")

NODE_TYPES = {"Account", "Contact", "Rep", "Product", "Deal", "Outcome", "Activity", "DealChange"}
RELATIONS = {
    "WORKS_AT": ("Contact", "Account"),
    "SUBSIDIARY_OF": ("Account", "Account"),
    "FOR_ACCOUNT": ("Deal", "Account"),
    "INVOLVES": ("Deal", "Contact"),
    "FOR_PRODUCT": ("Deal", "Product"),
    "OWNED_BY": ("Deal", "Rep"),
    "HAS_OUTCOME": ("Deal", "Outcome"),
    "CHANGE_OF": ("DealChange", "Deal"),
    "REGARDS": ("Activity", "Deal"),
    "WITH_CONTACT": ("Activity", "Contact"),
    "AT_ACCOUNT": ("Activity", "Account"),
    "PERFORMED_BY": ("Activity", "Rep"),
}
ROLES = {"champion", "decision_maker", "economic_buyer", "influencer", "user", "other"}


@pytest.fixture(scope="module")
def schema():
    return load_schema()


def test_node_types(schema):
    assert set(schema.nodes) == NODE_TYPES


def test_relations_and_ends(schema):
    assert {name: (r.source, r.target) for name, r in schema.relations.items()} == RELATIONS


@pytest.mark.parametrize("label", sorted(NODE_TYPES))
def test_key_is_id(schema, label):
    node = schema.nodes[label]
    assert node.key == "id"
    assert "id" not in node.property_names  # the key is not repeated as a property


@pytest.mark.parametrize(
    ("label", "prop", "datatype"),
    [
        ("Deal", "amount", "decimal"),
        ("Deal", "created_at", "dateTime"),
        ("Deal", "close_date", "date"),
        ("Account", "employees", "integer"),
        ("Account", "annual_revenue", "decimal"),
        ("Outcome", "closed_at", "dateTime"),
        ("Product", "active", "boolean"),
        ("Contact", "email", "string"),
    ],
)
def test_datatypes_from_ttl(schema, label, prop, datatype):
    assert schema.nodes[label].prop(prop).datatype == datatype


def test_required_from_shapes(schema):
    deal = schema.nodes["Deal"]
    assert deal.prop("created_at").required
    assert deal.prop("name").required
    assert not deal.prop("amount").required
    assert schema.nodes["Outcome"].prop("closed_at").required
    assert schema.relations["FOR_ACCOUNT"].required  # sh:minCount 1 on the deal's forAccount
    assert not schema.relations["OWNED_BY"].required


def test_allowed_values_and_minimum_from_shapes(schema):
    result = schema.nodes["Outcome"].prop("result")
    assert result.required
    assert set(result.allowed) == {"won", "lost"}
    assert schema.nodes["Deal"].prop("amount").minimum == 0
    assert schema.nodes["Deal"].prop("name").allowed is None


def test_current_value_only_marks_stage_and_close_date(schema):
    deal = schema.nodes["Deal"]
    flagged = {p.name for p in deal.properties if p.current_value_only}
    assert {"stage", "close_date"} <= flagged
    assert not deal.prop("amount").current_value_only
    assert not deal.prop("created_at").current_value_only


def test_history_class_keeps_dated_deal_values(schema):
    # Stage, amount and close date have dated values in DealChange nodes, linked to their deal by CHANGE_OF.
    assert {p.name for p in schema.dated_properties("Deal")} == {"stage", "amount", "close_date"}
    assert schema.history_of("Deal") == ("DealChange", "CHANGE_OF")
    assert schema.history_of("Outcome") is None  # an outcome's amount is booked once
    change = schema.nodes["DealChange"]
    assert change.time == "changed_at" and change.prop("changed_at").required
    assert not change.prop("stage").current_value_only  # each change is a dated value, not "today's"


def test_activity_kinds_from_shapes(schema):
    activity = schema.nodes["Activity"]
    assert activity.time == "occurred_at" and activity.prop("occurred_at").required
    assert set(activity.prop("kind").allowed) == {"email", "call", "meeting", "task", "other"}
    assert set(activity.prop("direction").allowed) == {"inbound", "outbound"}


def test_functional_relations(schema):
    functional = {name for name, r in schema.relations.items() if r.functional}
    assert functional == {"SUBSIDIARY_OF", "FOR_ACCOUNT", "OWNED_BY", "HAS_OUTCOME", "CHANGE_OF", "REGARDS",
                          "AT_ACCOUNT", "PERFORMED_BY"}


def test_involves_carries_role(schema):
    rel = schema.relations["INVOLVES"]
    assert {"role", "is_primary", "created_at"} <= set(rel.property_names)
    assert set(rel.prop("role").allowed) == ROLES
    assert rel.prop("role").required
    assert rel.prop("is_primary").datatype == "boolean"
    assert rel.prop("created_at").datatype == "dateTime"
    assert rel.valid_from == "created_at"
    assert rel.qualification_class == str(DG.ContactRole)
    assert rel.qualified_by == str(DG.hasContactRole)
    assert rel.qualified_target == str(DG.contact)


def test_works_at_time_bounds(schema):
    rel = schema.relations["WORKS_AT"]
    assert (rel.valid_from, rel.valid_to) == ("since", "until")
    assert rel.prop("since").datatype == "date"
    assert rel.prop("until").datatype == "date"
    assert rel.qualification_class == str(DG.Employment)


def test_plain_relations_have_no_properties(schema):
    for name in ("FOR_ACCOUNT", "OWNED_BY", "HAS_OUTCOME", "SUBSIDIARY_OF"):
        rel = schema.relations[name]
        assert rel.properties == ()
        assert rel.qualified_by is None


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (DG.Account, SCHEMA_ORG.Organization),
        (DG.Contact, SCHEMA_ORG.Person),
        (DG.Deal, PROV.Activity),
        (DG.Outcome, PROV.Entity),
    ],
)
def test_classes_align_with_schema_org_and_prov(cls, parent):
    g = ontology_graph()
    assert (cls, RDFS.subClassOf, parent) in g


def test_node_iris_are_the_ontology_classes(schema):
    for label, node in schema.nodes.items():
        assert URIRef(node.iri) == DG[label]


def test_fingerprint_follows_ontology_text():
    ttl = ONTOLOGY_PATH.read_text("utf-8")
    shapes = SHAPES_PATH.read_text("utf-8")
    base = _read_schema(ttl, shapes)
    assert _read_schema(ttl, shapes).fingerprint == base.fingerprint

    changed_ttl = ttl.replace('owl:versionInfo "1.1.0"', 'owl:versionInfo "1.1.1"')
    assert changed_ttl != ttl
    changed = _read_schema(changed_ttl, shapes)
    assert changed.version == "1.1.1"
    assert changed.fingerprint != base.fingerprint

    changed_shapes = _read_schema(ttl, shapes + "\n# a comment\n")
    assert changed_shapes.fingerprint != base.fingerprint


def test_new_ttl_property_reaches_schema():
    ttl = ONTOLOGY_PATH.read_text("utf-8") + (
        "\ndg:discount a owl:DatatypeProperty ; rdfs:range xsd:decimal ;"
        " schema:domainIncludes dg:Deal .\n"
    )
    schema = _read_schema(ttl, SHAPES_PATH.read_text("utf-8"))
    assert schema.nodes["Deal"].prop("discount").datatype == "decimal"
    with pytest.raises(KeyError):
        load_schema().nodes["Deal"].prop("discount")


def test_load_schema_is_cached_and_frozen():
    schema = load_schema()
    assert load_schema() is schema
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.version = "2"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.nodes["Deal"].key = "name"  # type: ignore[misc]
    with pytest.raises(TypeError):
        schema.nodes["Lead"] = schema.nodes["Deal"]  # type: ignore[index]
