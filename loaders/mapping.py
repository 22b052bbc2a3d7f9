"""The declarative mapping language: source files and columns -> ontology terms.

A mapping is YAML (see `loaders/mappings/salesforce.yaml`). Each source is a
file that yields either nodes (`node:` with `key`, `properties`, `relations`
to other nodes, `references` that must resolve, and `also:` for extra nodes
one row produces) or edges (`relation:` with `source`, `target` and the
relation's `properties`). Adding another CRM is a new YAML file, not code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graph.store import InvalidInput
from ontology import Schema

MAPPINGS_DIR = Path(__file__).parent / "mappings"


class ValueSpec(BaseModel):
    """How one value is made from a row: a column (optionally translated), a template or a constant."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    template: str | None = None
    value: Any = None
    map: dict[str, Any] | None = None
    # Used for values the map does not list; without it such a value is an error.
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> "ValueSpec":
        given = [x for x in (self.column, self.template, self.value) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, template, value")
        return self

    def columns(self) -> set[str]:
        if self.column:
            return {self.column}
        if self.template:
            import string

            return {f for _, f, _, _ in string.Formatter().parse(self.template) if f}
        return set()


def _value_spec(v: Any) -> Any:
    return {"column": v} if isinstance(v, str) else v


class RelationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relation: str
    target: ValueSpec

    _target = field_validator("target", mode="before")(_value_spec)


class ReferenceSpec(BaseModel):
    """A column that must name an existing node, though it makes no edge."""

    model_config = ConfigDict(extra="forbid")
    column: str
    node: str


class WhenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    equals: str


class AlsoNodeSpec(BaseModel):
    """A further node the same row produces, e.g. an Outcome for a closed deal."""

    model_config = ConfigDict(extra="forbid")
    node: str
    key: ValueSpec
    when: WhenSpec | None = None
    relation_from_parent: str
    properties: dict[str, ValueSpec] = Field(default_factory=dict)

    _key = field_validator("key", mode="before")(_value_spec)

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: dict) -> dict:
        return {k: _value_spec(x) for k, x in (v or {}).items()}


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    node: str | None = None
    key: ValueSpec | None = None
    relation: str | None = None
    source: ValueSpec | None = None
    target: ValueSpec | None = None
    properties: dict[str, ValueSpec] = Field(default_factory=dict)
    relations: list[RelationSpec] = Field(default_factory=list)
    references: list[ReferenceSpec] = Field(default_factory=list)
    also: list[AlsoNodeSpec] = Field(default_factory=list)

    _vals = field_validator("key", "source", "target", mode="before")(_value_spec)

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: dict) -> dict:
        return {k: _value_spec(x) for k, x in (v or {}).items()}

    @model_validator(mode="after")
    def _node_or_edge(self) -> "SourceSpec":
        if bool(self.node) == bool(self.relation):
            raise ValueError(f"{self.file}: give exactly one of node or relation")
        if self.node and self.key is None:
            raise ValueError(f"{self.file}: a node source needs a key")
        if self.relation and (self.source is None or self.target is None):
            raise ValueError(f"{self.file}: an edge source needs source and target")
        # For an edge source, `key` (optional) names the record, so parallel edges stay apart.
        return self

    def columns(self) -> set[str]:
        """Every column this source reads."""
        specs = [self.key, self.source, self.target, *self.properties.values()]
        specs += [r.target for r in self.relations]
        cols = set().union(*(s.columns() for s in specs if s is not None))
        cols |= {r.column for r in self.references}
        for also in self.also:
            cols |= also.key.columns() | set().union(*(s.columns() for s in also.properties.values()))
            if also.when:
                cols.add(also.when.column)
        return cols


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    sources: list[SourceSpec]

    def check_against(self, schema: Schema) -> list[str]:
        """Problems with ontology terms the mapping names (empty when it fits the schema)."""
        problems = []
        for src in self.sources:
            if src.node:
                problems += _check_props(schema, src.file, src.node, src.properties, node=True)
                for rel in src.relations:
                    r = schema.relations.get(rel.relation)
                    if r is None or r.source != src.node:
                        problems.append(f"{src.file}: {rel.relation} is not a relation from {src.node}")
                for ref in src.references:
                    if ref.node not in schema.nodes:
                        problems.append(f"{src.file}: unknown node type {ref.node}")
                for also in src.also:
                    problems += _check_props(schema, src.file, also.node, also.properties, node=True)
                    r = schema.relations.get(also.relation_from_parent)
                    if r is None or (r.source, r.target) != (src.node, also.node):
                        problems.append(f"{src.file}: {also.relation_from_parent} does not link {src.node} to {also.node}")
            else:
                problems += _check_props(schema, src.file, src.relation, src.properties, node=False)
        return problems


def _check_props(schema: Schema, file: str, name: str, props: dict, node: bool) -> list[str]:
    typed = (schema.nodes if node else schema.relations).get(name)
    if typed is None:
        return [f"{file}: unknown {'node type' if node else 'relation'} {name}"]
    unknown = set(props) - set(typed.property_names)
    return [f"{file}: {name} has no property {p}" for p in sorted(unknown)]


def load_mapping(name_or_path: str, schema: Schema) -> Mapping:
    """A shipped mapping by name (`salesforce`) or a YAML file by path, checked against the schema.

    Raises:
        InvalidInput: the file is missing, not valid YAML, or names terms the ontology lacks.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = MAPPINGS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        shipped = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
        raise InvalidInput(f"no mapping {name_or_path!r} (shipped: {shipped}; or give a .yaml path)")
    try:
        mapping = Mapping.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (yaml.YAMLError, ValidationError) as e:
        raise InvalidInput(f"mapping {path}: {e}") from e
    problems = mapping.check_against(schema)
    if problems:
        raise InvalidInput(f"mapping {path} does not fit the ontology: " + "; ".join(problems))
    return mapping
