"""The declarative mapping language: source files and columns -> ontology terms.

A mapping is YAML (reference: `docs/mappings.md`; examples in `loaders/mappings/`).
Each source is a file that yields either nodes (`node:` with `key`,
`properties`, `relations` to other nodes, `references` that must resolve, and
`also:` for extra nodes one row produces) or edges (`relation:` with `source`,
`target` and the relation's `properties`). A value is a column (optionally
translated by `map`, parsed by `format`, taken only `when` a condition holds),
a `template` or a constant `value`; a reference names its node by id or, with
`by`, by one of its properties. A source may `require` a condition of every
row (the others are quarantined) and `unpivot` prefixed columns into one row
each (HubSpot's stage dates on the deal row).
Adding another CRM is a new YAML file, not code.
"""

from __future__ import annotations

import codecs
import re
import zoneinfo
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graph.store import InvalidInput
from loaders.mapping_yaml import read_yaml
from loaders.paths import file_name_problem
from ontology import Schema

MAPPINGS_DIR = Path(__file__).parent / "mappings"
#: A template's placeholders: `{Any column name}`; everything between the braces is the column's name.
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
#: `ids:` forms: a Salesforce id of 15 or 18 characters, a GUID with or without braces, in any case.
IdForm = Literal["salesforce", "guid"]
#: `format` values that are not strptime patterns: seconds or milliseconds since 1970-01-01 UTC; Excel's day number.
EPOCH_FORMATS = ("epoch_s", "epoch_ms", "excel_days")


class NumberFormat(BaseModel):
    """How a number is written when it is not plain: `$1,234.50` or `1.234,50 €`."""

    model_config = ConfigDict(extra="forbid")
    thousands: str = ""  # grouping separator, dropped: "," "." " " or "'"
    decimal: str = Field(".", min_length=1)  # decimal separator, read as "."
    symbols: str = ""  # characters dropped wherever they are: currency signs, "%"

    @model_validator(mode="after")
    def _distinct(self) -> NumberFormat:
        if self.thousands and self.thousands == self.decimal:
            raise ValueError("thousands and decimal separators must differ")
        return self


class ValueSpec(BaseModel):
    """How one value is made from a row: a column (optionally translated), a template or a constant."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    column: str | None = None
    template: str | None = None
    value: Any = None
    map: dict[str, Any] | None = None
    # Used for values the map does not list; without it (or keep_unmapped) such a value is an error.
    default: Any = None
    keep_unmapped: bool = False
    # strptime pattern(s) tried in order, or epoch_s / epoch_ms / excel_days; the result is a date-time.
    format: str | list[str] | None = None
    # IANA zone of date-times written without an offset (default UTC).
    timezone: str | None = None
    number: NumberFormat | None = None
    # The column may be missing from the file (exports of chosen columns); its values are then empty.
    optional: bool = False
    # For a required date of a node: an empty cell takes the earliest date this export records about the node
    # (the nodes its own row makes, the edges from it) instead of rejecting the row (`loaders.stand_in`).
    if_empty: Literal["earliest_fact"] | None = None
    # The value is taken only on rows where this holds, and is empty elsewhere: one column read as several
    # properties by another column (Salesforce OpportunityFieldHistory: NewValue is the stage when Field is
    # StageName, the amount when it is Amount).
    when: WhenSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        given = [x for x in (self.column, self.template, self.value) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, template, value")
        if self.default is not None and self.keep_unmapped:
            raise ValueError("give default or keep_unmapped, not both")
        if self.timezone is not None:
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown timezone {self.timezone!r} (use an IANA name such as Europe/Berlin)"
                ) from None
        return self

    @field_validator("map", mode="before")
    @classmethod
    def _text_keys(cls, v: Any) -> Any:
        # YAML reads unquoted true/1 as bool/int; cells are text, so keys are too.
        if not isinstance(v, dict):
            return v
        return {("true" if k is True else "false" if k is False else str(k)): x for k, x in v.items()}

    @cached_property
    def folded_map(self) -> dict[str, Any]:
        """The map with keys trimmed and case-folded: a cell that matches no key exactly is looked up here."""
        return {k.strip().casefold(): v for k, v in (self.map or {}).items()}

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format,) if isinstance(self.format, str) else tuple(self.format or ())

    def columns(self) -> set[str]:
        """Every column this value reads (its `when` included)."""
        condition = self.when.columns() if self.when else set()
        if self.column:
            return {self.column} | condition
        if self.template:
            return set(TEMPLATE_FIELD.findall(self.template)) | condition
        return condition

    def required_columns(self) -> set[str]:
        return set() if self.optional else self.columns()


class RefSpec(ValueSpec):
    """A value that names another node: by its id, or with `by` by one of its properties (name, website, email)."""

    by: str | None = None
    # text: case and spacing ignored; domain: URLs and e-mail addresses reduced to their host without www.;
    # name: identity resolution's company-name form, spaces ignored too ("GTXPro" = "GTX Pro", "Acme Inc" = "ACME").
    match: Literal["text", "domain", "name"] = "text"
    # Several references in one cell ("123;456"), one edge each.
    split: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _no_earliest_fact(self) -> RefSpec:
        if self.if_empty:  # a reference stands in with a placeholder node, given on its relation entry
            raise ValueError("if_empty: earliest_fact is for a date property; "
                             "an empty reference takes `if_empty: {id, name}` on its relation")
        return self


class WhenSpec(ValueSpec):
    """A condition on a row's value (after `map`); text is compared trimmed and case-insensitively."""

    equals: str | None = None
    in_: list[str] | None = Field(None, alias="in")
    not_empty: bool = False
    # A prefix: Salesforce's polymorphic references (Task.WhatId) say the record's kind by their first three
    # characters (006 an opportunity, 001 an account).
    starts_with: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_test(self) -> WhenSpec:
        tests = (self.equals is not None, self.in_ is not None, self.not_empty, self.starts_with is not None)
        if sum(tests) != 1:
            raise ValueError("a when gives exactly one of equals, in, not_empty, starts_with")
        if self.when is not None:
            raise ValueError("a when has no when of its own")
        return self

    def describe(self) -> str:
        """What the condition asks, for a quarantine reason: `one of 'StageName', 'Amount'`."""
        if self.in_ is not None:
            return "one of " + ", ".join(repr(x) for x in self.in_)
        if self.equals is not None:
            return repr(self.equals)
        return f"starting with {self.starts_with!r}" if self.starts_with is not None else "not empty"


ValueSpec.model_rebuild()  # `when` names WhenSpec, defined after it
RefSpec.model_rebuild()


def _known_encoding(v: str | None) -> str | None:
    if v is not None:
        try:
            codecs.lookup(v)
            "a".encode(v)  # a codec that is no text encoding (rot13, zlib, base64) fails here, not at open
        except LookupError:
            raise ValueError(f"unknown encoding {v!r} (a text encoding, e.g. utf-8, cp1252, latin-1, utf-16)") from None
    return v


def _one_character(v: str | None) -> str | None:
    if v is not None and len(v) != 1:
        raise ValueError(f"a delimiter is one character, not {v!r}")
    return v


def _inside_export(v: str) -> str:
    problem = file_name_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _value_spec(v: Any) -> Any:
    return {"column": v} if isinstance(v, str) else v


def _value_specs(v: dict | None) -> dict:
    return {k: _value_spec(x) for k, x in (v or {}).items()}


class Placeholder(BaseModel):
    """The node an empty reference links to instead of rejecting the row: a real node, made once per load."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class RelationSpec(BaseModel):
    """An edge from the row's node to the node its `target` names (one per value when `split`)."""

    model_config = ConfigDict(extra="forbid")
    relation: str
    target: RefSpec
    when: WhenSpec | None = None
    properties: dict[str, ValueSpec] = Field(default_factory=dict)
    # A fallback: the edge is made only when this (optional) file is absent from the export.
    only_without: str | None = None
    # An empty target links to this node instead (a deal without an account is still scored); a target that
    # names no node is still dangling.
    if_empty: Placeholder | None = None

    _target = field_validator("target", mode="before")(_value_spec)
    _props = field_validator("properties", mode="before")(_value_specs)


class ReferenceSpec(RefSpec):
    """A value that must name an existing node of type `node`, though it makes no edge."""

    node: str


class AlsoNodeSpec(BaseModel):
    """A further node the same row produces, e.g. an Outcome for a closed deal."""

    model_config = ConfigDict(extra="forbid")
    node: str
    key: ValueSpec
    when: WhenSpec | None = None
    relation_from_parent: str
    properties: dict[str, ValueSpec] = Field(default_factory=dict)

    _key = field_validator("key", mode="before")(_value_spec)
    _props = field_validator("properties", mode="before")(_value_specs)


class UnpivotSpec(BaseModel):
    """Columns named `<prefix><name>` read as one row each (HubSpot's `hs_date_entered_<stage id>`).

    Each row of the file gives one row per such column with a value: the row's own columns plus two more,
    `name_as` (the part of the column's name after the prefix) and `value_as` (its cell), which the source's
    values read like any column. A file without such columns gives no rows (and the load says so).
    """

    model_config = ConfigDict(extra="forbid")
    prefix: str = Field(min_length=1)
    name_as: str = Field(min_length=1)
    value_as: str = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> UnpivotSpec:
        if self.name_as == self.value_as:
            raise ValueError("name_as and value_as name two different columns")
        if self.name_as.startswith(self.prefix) or self.value_as.startswith(self.prefix):
            raise ValueError(f"name_as and value_as must not start with the prefix {self.prefix!r}")
        return self

    def made(self) -> set[str]:
        """The columns the unpivot adds to each row (not in the file's header)."""
        return {self.name_as, self.value_as}


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    node: str | None = None
    key: ValueSpec | None = None
    relation: str | None = None
    source: RefSpec | None = None
    target: RefSpec | None = None
    properties: dict[str, ValueSpec] = Field(default_factory=dict)
    relations: list[RelationSpec] = Field(default_factory=list)
    references: list[ReferenceSpec] = Field(default_factory=list)
    also: list[AlsoNodeSpec] = Field(default_factory=list)
    # CSV dialect of this file; unset means the mapping's.
    encoding: str | None = None
    delimiter: str | None = None
    # Columns deliberately not loaded: no "not in the mapping" warning for them; `prefix*` names every column
    # starting with prefix (HubSpot writes one `hs_date_exited_<stage id>` per stage of the portal).
    ignore_columns: list[str] = Field(default_factory=list)
    # The file may be absent from an export (it only enriches the graph); `if_absent` says what is lost then.
    optional: bool = False
    if_absent: str = ""
    # A row must meet this, or it goes to quarantine (an OpportunityFieldHistory row of a field not mapped).
    require: WhenSpec | None = None
    # One row per column named with a prefix (stage dates on HubSpot's deal row); a node source only.
    unpivot: UnpivotSpec | None = None
    # How record ids are written (unset means the mapping's): each spelling of an id in a key or reference by
    # id is read as one (`loaders.normalise.ID_FORMS`).
    ids: IdForm | None = None

    _file = field_validator("file")(_inside_export)
    _vals = field_validator("key", "source", "target", mode="before")(_value_spec)
    _props = field_validator("properties", mode="before")(_value_specs)
    _encoding = field_validator("encoding")(_known_encoding)
    _delimiter = field_validator("delimiter")(_one_character)

    @model_validator(mode="after")
    def _node_or_edge(self) -> SourceSpec:
        if bool(self.node) == bool(self.relation):
            raise ValueError(f"{self.file}: give exactly one of node or relation")
        if self.node and self.key is None:
            raise ValueError(f"{self.file}: a node source needs a key")
        if self.relation and (self.source is None or self.target is None):
            raise ValueError(f"{self.file}: an edge source needs source and target")
        if any(ref is not None and ref.split for ref in (self.source, self.target)):
            raise ValueError(f"{self.file}: an edge source's source and target name one node each (no split)")
        # For an edge source, `key` (optional) names the record, so parallel edges stay apart.
        if self.unpivot is not None and not self.node:
            raise ValueError(f"{self.file}: unpivot makes nodes: give it on a node source")
        return self

    def unpivoted(self, column: str) -> bool:
        """A column the unpivot reads (one row per such column)."""
        return self.unpivot is not None and column.startswith(self.unpivot.prefix)

    def node_source(self) -> tuple[str, ValueSpec]:
        """(node type, key) of a node source: `_node_or_edge` made sure both are set."""
        if not self.node or self.key is None:
            raise ValueError(f"{self.file} is an edge source, not a node source")
        return self.node, self.key

    def edge_source(self) -> tuple[str, RefSpec, RefSpec]:
        """(relation, source, target) of an edge source: `_node_or_edge` made sure all three are set."""
        if not self.relation or self.source is None or self.target is None:
            raise ValueError(f"{self.file} is a node source, not an edge source")
        return self.relation, self.source, self.target

    def value_specs(self) -> Iterator[ValueSpec]:
        """Every value this source evaluates, conditions included."""
        yield from (s for s in (self.key, self.source, self.target) if s is not None)
        yield from self.properties.values()
        for rel in self.relations:
            yield rel.target
            yield from rel.properties.values()
            yield from [rel.when] if rel.when else []
        yield from self.references
        yield from [self.require] if self.require else []
        for also in self.also:
            yield also.key
            yield from also.properties.values()
            yield from [also.when] if also.when else []

    def columns(self) -> set[str]:
        """Every column of the file this source reads (not those its unpivot makes)."""
        made = self.unpivot.made() if self.unpivot else set()
        return set().union(*(s.columns() for s in self.value_specs())) - made

    def id_columns(self) -> set[str]:
        """The columns that name records by id: keys, and references without `by`."""
        refs = [self.source, self.target, *(r.target for r in self.relations), *self.references]
        ids = [self.key, *(a.key for a in self.also), *(r for r in refs if r is not None and r.by is None)]
        return set().union(*(spec.columns() for spec in ids if spec is not None))

    def required_columns(self) -> set[str]:
        """The columns the file must have (all but those marked optional)."""
        made = self.unpivot.made() if self.unpivot else set()
        return set().union(*(s.required_columns() for s in self.value_specs())) - made


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    # Defaults for every source's CSV dialect.
    encoding: str = "utf-8"
    delimiter: str = ","
    # Columns of every file deliberately not loaded (e.g. a CRM's checksum columns).
    ignore_columns: list[str] = Field(default_factory=list)
    # How every source writes record ids, unless it says otherwise (`SourceSpec.ids`).
    ids: IdForm | None = None
    sources: list[SourceSpec]

    _encoding = field_validator("encoding")(_known_encoding)
    _delimiter = field_validator("delimiter")(_one_character)

    @model_validator(mode="after")
    def _source_defaults(self) -> Mapping:
        for src in self.sources:
            src.encoding = src.encoding or self.encoding
            src.delimiter = src.delimiter or self.delimiter
            src.ids = src.ids or self.ids
            src.ignore_columns = [*self.ignore_columns, *src.ignore_columns]
        return self

    def check_against(self, schema: Schema) -> list[str]:
        """Problems with ontology terms the mapping names (empty when it fits the schema)."""
        problems = []
        for src in self.sources:
            problems += _check_if_empty(schema, src)
            if src.node:
                problems += _check_props(schema, src.file, src.node, src.properties, node=True)
                for rel in src.relations:
                    r = schema.relations.get(rel.relation)
                    if r is None or r.source != src.node:
                        problems.append(f"{src.file}: {rel.relation} is not a relation from {src.node}")
                        continue
                    problems += _check_props(schema, src.file, rel.relation, rel.properties, node=False)
                    problems += _check_ref(schema, src.file, rel.target, r.target)
                for ref in src.references:
                    problems += _check_ref(schema, src.file, ref, ref.node)
                for also in src.also:
                    problems += _check_props(schema, src.file, also.node, also.properties, node=True)
                    r = schema.relations.get(also.relation_from_parent)
                    if r is None or (r.source, r.target) != (src.node, also.node):
                        problems.append(
                            f"{src.file}: {also.relation_from_parent} does not link {src.node} to {also.node}"
                        )
            else:
                relation, source, target = src.edge_source()
                problems += _check_props(schema, src.file, relation, src.properties, node=False)
                r = schema.relations.get(relation)
                if r is not None:
                    problems += _check_ref(schema, src.file, source, r.source)
                    problems += _check_ref(schema, src.file, target, r.target)
        return problems


def _check_props(schema: Schema, file: str, name: str, props: dict, node: bool) -> list[str]:
    typed = (schema.nodes if node else schema.relations).get(name)
    if typed is None:
        return [f"{file}: unknown {'node type' if node else 'relation'} {name}"]
    unknown = set(props) - set(typed.property_names)
    return [f"{file}: {name} has no property {p}" for p in sorted(unknown)]


def _check_if_empty(schema: Schema, src: SourceSpec) -> list[str]:
    """`if_empty: earliest_fact` fills a date of a node source's own node from the dates linked to it (the loader
    looks nowhere else): not a property of an edge, an `also` node or a relation, and only a date."""
    typed = schema.nodes.get(src.node or "")
    kinds = {p.name: p.datatype for p in typed.properties} if typed else {}
    own = src.properties if src.node else {}
    problems = [f"{src.file}: {name}: if_empty: earliest_fact is for a date or date-time property"
                for name, spec in own.items() if spec.if_empty and kinds.get(name) not in ("date", "dateTime")]
    elsewhere = [*(src.properties.values() if src.relation else ()),
                 *(v for r in src.relations for v in r.properties.values()),
                 *(v for a in src.also for v in a.properties.values())]
    if any(spec.if_empty for spec in elsewhere):
        problems.append(f"{src.file}: if_empty: earliest_fact is only for a property of the source's own node")
    return problems


def _check_ref(schema: Schema, file: str, ref: RefSpec, node: str) -> list[str]:
    typed = schema.nodes.get(node)
    if typed is None:
        return [f"{file}: unknown node type {node}"]
    if ref.by is not None and ref.by not in typed.property_names:
        return [f"{file}: {ref.column or ref.template}: {node} has no property {ref.by} to look it up by"]
    return []


def mapping_path(name_or_path: str) -> Path:
    """A shipped mapping's file (`salesforce`, `hubspot`, `generic`) or the given YAML path.

    Raises:
        InvalidInput: neither a shipped name nor an existing file.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = MAPPINGS_DIR / f"{name_or_path}.yaml"
    if not path.suffix and shipped.exists():
        return shipped
    names = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
    raise InvalidInput(f"no mapping {name_or_path!r} (shipped: {names}; or give the path of a .yaml file)")


def parse_mapping(path: Path) -> Mapping:
    """The mapping in a YAML file, checked for shape but not against the ontology.

    Raises:
        InvalidInput: not valid YAML, not UTF-8, too large, deep or expansive (`loaders.mapping_yaml`), or
            not a mapping (the message names each wrong field).
    """
    try:
        data = read_yaml(path)
        if isinstance(data, dict):
            # Top-level `x-...` keys hold shared pieces for YAML anchors, as in docker-compose files.
            data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return Mapping.model_validate(data)
    except yaml.YAMLError as e:
        raise InvalidInput(f"mapping {path}: not valid YAML: {e}") from e
    except ValidationError as e:
        fields = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'top level'}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"mapping {path}: {fields}") from e


def load_mapping(name_or_path: str, schema: Schema) -> Mapping:
    """A shipped mapping by name (`salesforce`) or a YAML file by path, checked against the schema.

    Raises:
        InvalidInput: the file is missing, not valid YAML, or names terms the ontology lacks.
    """
    path = mapping_path(name_or_path)
    mapping = parse_mapping(path)
    problems = mapping.check_against(schema)
    if problems:
        raise InvalidInput(f"mapping {path} does not fit the ontology: " + "; ".join(problems))
    return mapping
