"""What an export leaves out, and what that costs the graph.

Real exports carry whatever an admin picked: a file that only enriches the
graph (`optional: true` on a source) may be missing, and so may an optional
column. `fit_to_export` drops the absent optional files from a mapping,
switches on the fallbacks written for them (`only_without:` on a relation,
e.g. employment from `Contact.AccountId` when `AccountContactRelation.csv` is
missing), and says in one sentence per gap what the graph loses, so the load
summary and `dealgraph mapping check` can tell the user. Both run on the
fitted mapping, so a gap is decided in one place.
"""

from __future__ import annotations

from pathlib import Path

from graph.store import InvalidInput
from loaders.mapping import Mapping, SourceSpec, ValueSpec
from loaders.read import source_header
from ontology import Schema
from ontology.names import Label, Rel

#: What the graph loses without a property, where it is more than "unknown". Keyed by (node type, property).
PROPERTY_COSTS: dict[tuple[str, str], str] = {
    (Label.ACCOUNT, "website"): "duplicate accounts are not matched by website (names still are)",
    (Label.ACCOUNT, "country"): "duplicate accounts are matched by name without regard to country",
    (Label.ACCOUNT, "account_type"): "no account type feature",
    (Label.ACCOUNT, "industry"): "no industry feature",
    (Label.DEAL, "amount"): "no deal amount feature",
    (Label.DEAL, "stage"): "no stage shown on open deals",
    (Label.OUTCOME, "reason"): "no loss reasons on lost deals",
    (Label.OUTCOME, "amount"): "no won amounts",
    (Label.REP, "team"): "no team feature for reps",
    (Label.REP, "created_at"): "reps are taken as present from the start",
    (Label.CONTACT, "email"): "duplicate contacts are not matched by e-mail",
}
#: What the graph loses without a relation an optional column makes.
RELATION_COSTS: dict[str, str] = {
    Rel.SUBSIDIARY_OF: "no account hierarchy: parents' histories are not seen",
    Rel.WORKS_AT: "contacts are not linked to accounts",
    Rel.INVOLVES: "deals' contacts and roles are not seen",
}


def fit_to_export(mapping: Mapping, source_dir: Path, schema: Schema) -> tuple[Mapping, list[str]]:
    """`mapping` as it applies to the files in `source_dir`, and one note per gap saying what it costs.

    A missing optional file is dropped (its rows are simply not there); a relation with `only_without: F`
    is kept only when F is absent. When the dropped file was the only one making a node type (no
    contacts file), links to that type are not followed either: a deal is not lost for naming contacts
    the export left out. Missing required files and columns are left for `check_files` to report.
    """
    fitted = mapping.model_copy(deep=True)
    present = {src.file for src in mapping.sources if (source_dir / src.file).is_file()}
    notes: list[str] = []
    kept = [src for src in fitted.sources if src.file in present or not src.optional]
    dropped = [src for src in fitted.sources if src.file not in present and src.optional]
    notes += [f"{src.file} absent: {src.if_absent or 'its records are not loaded'}" for src in dropped]
    unpivoted = [src for src in kept if src.unpivot is not None and src.file in present
                 and not _has_prefix(src, source_dir)]
    kept = [src for src in kept if all(src is not u for u in unpivoted)]
    dropped += unpivoted
    notes += [f"{src.file}: no {src.unpivot.prefix}* columns: {src.if_absent or 'their records are not loaded'}"
              for src in unpivoted if src.unpivot is not None]
    made = {label for src in kept for label in (src.node, *(a.node for a in src.also)) if label}
    missing = {src.node for src in dropped if src.node} - made
    sources: list[SourceSpec] = []
    for src in kept:
        if src.relation and {schema.relations[src.relation].source, schema.relations[src.relation].target} & missing:
            notes.append(f"{src.file} not loaded: it links to {_types(schema, src, missing)}, whose file is absent")
            continue
        unfollowed = [rel for rel in src.relations if schema.relations[rel.relation].target in missing]
        unfollowed_refs = [ref for ref in src.references if ref.node in missing]
        if unfollowed or unfollowed_refs:
            columns = sorted({_names(r.target) for r in unfollowed} | {_names(r) for r in unfollowed_refs})
            notes.append(f"{src.file}: {', '.join(columns)} not followed: the file of what they name is absent")
        src.relations = [rel for rel in src.relations if all(rel is not u for u in unfollowed)
                         and (rel.only_without is None or rel.only_without not in present)]
        src.references = [ref for ref in src.references if all(ref is not u for u in unfollowed_refs)]
        sources.append(src)
        if src.file in present:
            notes += _absent_columns(src, source_dir)
    fitted.sources = sources
    return fitted, notes


def _types(schema: Schema, src: SourceSpec, missing: set[str]) -> str:
    rel = schema.relations[src.edge_source()[0]]
    return " and ".join(sorted({rel.source, rel.target} & missing))


def _has_prefix(src: SourceSpec, source_dir: Path) -> bool:
    """Whether the file has a column the source's unpivot reads (unreadable: left for check_files to report)."""
    try:
        header = source_header(src, source_dir)
    except (OSError, UnicodeError, InvalidInput):
        return True
    return any(src.unpivoted(column) for column in header)


def _absent_columns(src: SourceSpec, source_dir: Path) -> list[str]:
    """A note per optional property or relation whose columns the file lacks altogether."""
    try:
        header = set(source_header(src, source_dir))
    except (OSError, UnicodeError, InvalidInput):
        return []  # check_files reports the file itself

    def gone(spec: ValueSpec) -> bool:
        return spec.optional and bool(spec.columns()) and not (spec.columns() & header)

    lost: list[tuple[str, str]] = []  # (columns, cost)
    for label, props in [(src.node, src.properties), *((a.node, a.properties) for a in src.also)]:
        for prop, spec in props.items():
            if label and gone(spec):
                lost.append((_names(spec), PROPERTY_COSTS.get((label, prop), f"{label}.{prop} is unknown")))
    for rel in src.relations:
        if gone(rel.target):
            lost.append((_names(rel.target), RELATION_COSTS.get(rel.relation, f"no {rel.relation} edges")))
    return [f"{src.file}: no {columns}: {cost}" for columns, cost in dict.fromkeys(lost)]


def _names(spec: ValueSpec) -> str:
    return ", ".join(sorted(spec.columns()))


def load_note_lines(notes: list[str]) -> list[str]:
    """How the CLI shows the gaps (load summary and mapping check alike)."""
    return [f"absent: {note}" for note in notes]
