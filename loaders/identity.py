"""Identity resolution: which records of one node type are the same real-world thing.

Rules are tried in order, strongest first (default: accounts by website, then
by exact normalised name, then by a name within a bounded edit distance;
contacts by email). Each rule only compares candidates that share a
blocking key, so nothing is O(n^2):

- an exact rule groups records by the normalised value;
- a fuzzy rule (`max_edits` > 0) indexes every value under its deletion
  neighbourhood (the value with up to `max_edits` characters deleted, as in
  SymSpell), so two values within that many edits always share a key, then
  verifies each candidate pair with rapidfuzz's Levenshtein distance.

Candidates are joined with union-find, unless the joined group would hold
two different non-empty values of a `must_agree` property (two websites,
two countries, two titles: evidence that they are different things), or a
pair a user separated (`cannot_link`, from undone merges). Such candidates
are counted as blocked. A fuzzy candidate that is close to more than one
other group is ambiguous and left alone. In each group the record created
first (then the smallest id) is kept; every other one becomes a `Decision`
naming the rule, score (1.0 for exact rules, the normalised Levenshtein
similarity for fuzzy ones) and the values that matched.

Rules are data (`IdentityRules`), read from YAML with `load_identity_rules`,
so a deployment can tune or switch them off without code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz.distance import Levenshtein

from graph.store import InvalidInput
from graph.timefmt import to_iso
from loaders.mapping_yaml import read_yaml
from loaders.normalise import NORMALISERS
from ontology.names import Label

#: Fuzzy rules stay cheap: the deletion neighbourhood grows as length ** max_edits.
MAX_EDITS_LIMIT = 2


class RuleSpec(BaseModel):
    """One way two records can be recognised as the same: a property compared in a normal form."""

    model_config = ConfigDict(extra="forbid")
    name: str
    field: str
    normalise: str = "text"
    max_edits: int = Field(0, ge=0, le=MAX_EDITS_LIMIT)
    min_length: int = Field(0, ge=0)  # fuzzy matches only between values at least this long
    # Further properties that must not disagree for this rule alone (on top of the entity's `must_agree`).
    must_agree: list[str] = Field(default_factory=list)
    # Compare only records with the same value of this property (a name means little across countries).
    block_by: str | None = None


class EntityRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleSpec]
    must_agree: list[str] = Field(default_factory=list)


class IdentityRules(BaseModel):
    """Rules per node type (ontology labels and property names, not CSV columns)."""

    model_config = ConfigDict(extra="forbid")
    entities: dict[str, EntityRules] = Field(default_factory=dict)

    def normaliser(self, label: str, prop: str) -> str:
        """The normal form a property is compared in: the one its rule uses, else plain text."""
        return next((r.normalise for r in self.entities[label].rules if r.field == prop), "text")


DEFAULT_RULES = IdentityRules(entities={
    Label.ACCOUNT: EntityRules(
        rules=[
            RuleSpec(name="same_website", field="website", normalise="website"),
            RuleSpec(name="same_name", field="name", normalise="company_name", block_by="country"),
            # Typos: one edit apart. Different companies have near names too ("Solex" / "Solux"), so the
            # firmographics a copy shares (or leaves blank) must not disagree either.
            RuleSpec(name="similar_name", field="name", normalise="company_name", max_edits=1, min_length=8,
                     must_agree=["industry", "employees", "annual_revenue"], block_by="country"),
        ],
        must_agree=["website", "country"],
    ),
    Label.CONTACT: EntityRules(
        rules=[RuleSpec(name="same_email", field="email", normalise="email")],
        # Two people of one name at one company can share a made-up address; different titles tell them apart.
        must_agree=["title"],
    ),
})


def load_identity_rules(path: Path) -> IdentityRules:
    """Rules from a YAML file shaped like `DEFAULT_RULES` (`entities: {Account: {rules: [...], must_agree: [...]}}`).

    Raises:
        InvalidInput: unreadable YAML (too large, deep or expansive too: `loaders.mapping_yaml`), unknown keys,
            or an unknown normal form.
    """
    try:
        rules = IdentityRules.model_validate(read_yaml(Path(path), "identity rules") or {})
    except (OSError, yaml.YAMLError, ValidationError) as e:
        raise InvalidInput(f"identity rules {path}: {e}") from e
    unknown = {r.normalise for e in rules.entities.values() for r in e.rules} - set(NORMALISERS)
    if unknown:
        raise InvalidInput(f"identity rules {path}: unknown normal form(s) {sorted(unknown)} "
                           f"(known: {sorted(NORMALISERS)})")
    return rules


@dataclass(frozen=True)
class Decision:
    """`merged_id` is the same thing as `kept_id`, by `rule` with `score`; `detail` says what matched."""

    kept_id: str
    merged_id: str
    rule: str
    score: float
    detail: str


@dataclass
class Resolution:
    decisions: list[Decision] = field(default_factory=list)
    blocked: dict[str, int] = field(default_factory=dict)  # candidates refused, by rule
    ambiguous: dict[str, int] = field(default_factory=dict)


class _Groups:
    """Union-find over record indices, tracking each group's values of the must-agree properties."""

    def __init__(self, agree: list[dict[str, str]]) -> None:
        self.parent = list(range(len(agree)))
        # A record's own values stay plain strings; a group's become sets when it first grows.
        self.values: list[dict[str, Any]] = agree

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def conflict(self, a: int, b: int, props: Iterable[str]) -> str | None:
        va, vb = self.values[a], self.values[b]
        for prop in props:
            x, y = _as_set(va.get(prop)), _as_set(vb.get(prop))
            if x and y and x != y:
                return prop
        return None

    def union(self, a: int, b: int) -> None:
        self.parent[b] = a
        merged = {p: _as_set(v) for p, v in self.values[a].items()}
        for prop, vals in self.values[b].items():
            merged.setdefault(prop, set()).update(_as_set(vals))
        self.values[a] = merged


def _as_set(value: Any) -> set[str]:
    if isinstance(value, set):
        return value
    return {value} if value else set()


def _deletions(value: str, edits: int) -> set[str]:
    """Every string `value` becomes with up to `edits` characters deleted."""
    out, frontier = {value}, {value}
    for _ in range(edits):
        frontier = {s[:i] + s[i + 1 :] for s in frontier for i in range(len(s))}
        out |= frontier
    return out


def _candidates(rule: RuleSpec, values: list[str], block: list[str]) -> Iterable[tuple[int, int, float]]:
    """Pairs (i, j, score) of records whose values match under `rule`, only within one block."""
    index: dict[str, list[int]] = {}
    if rule.max_edits == 0:
        for i, v in enumerate(values):
            if v:
                index.setdefault(f"{block[i]}\x00{v}", []).append(i)
        for members in index.values():
            for j in members[1:]:
                yield members[0], j, 1.0
        return
    pairs: set[tuple[int, int]] = set()
    for j, v in enumerate(values):
        if not v or len(v) < rule.min_length:
            continue
        prefix = block[j] + "\x00"
        for key in _deletions(v, rule.max_edits):
            bucket = index.get(prefix + key)
            if bucket is None:
                index[prefix + key] = [j]
                continue
            for i in bucket:  # records indexed before share this key
                pairs.add((i, j))
            bucket.append(j)
    for i, j in sorted(pairs):
        if Levenshtein.distance(values[i], values[j], score_cutoff=rule.max_edits) <= rule.max_edits:
            yield i, j, round(Levenshtein.normalized_similarity(values[i], values[j]), 4)


def resolve(
    label: str,
    records: Sequence[Mapping[str, Any]],
    rules: IdentityRules,
    must_link: Sequence[Decision] = (),
    cannot_link: Iterable[tuple[str, str]] = (),
    time_property: str = "created_at",
) -> Resolution:
    """Decide which of `records` (dicts with `id` and properties) are duplicates of each other.

    Args:
        label: The node type; without rules for it nothing is merged.
        records: Every record of the type that should be considered (sorted here by id).
        rules: The rules; `rules.entities[label]` applies.
        must_link: Earlier decisions that stay in force (they are applied first).
        cannot_link: Id pairs that must never end up in one group (undone merges).
        time_property: The creation time that picks the record to keep.

    Returns:
        The decisions, and counts of blocked and ambiguous candidates by rule.
    """
    result = Resolution()
    entity = rules.entities.get(label)
    if entity is None or not records:
        return result
    records = sorted(records, key=lambda r: r["id"])
    position = {r["id"]: i for i, r in enumerate(records)}
    props = list(dict.fromkeys([*entity.must_agree, *(p for rule in entity.rules for p in rule.must_agree)]))
    how = {p: NORMALISERS[rules.normaliser(label, p)] for p in props}
    agree = [{p: how[p](r.get(p)) for p in props} for r in records]
    groups = _Groups(agree)
    apart = {frozenset(pair) for pair in cannot_link}
    members: dict[int, set[str]] = {i: {r["id"]} for i, r in enumerate(records)}
    evidence: dict[str, Decision] = {}  # merged-in id -> the link that brought it in

    def join(i: int, j: int, rule: str, score: float, detail: str, agree_on: Sequence[str]) -> str:
        a, b = groups.find(i), groups.find(j)
        if a == b:
            return "same"
        if groups.conflict(a, b, agree_on) or any(frozenset((x, y)) in apart for x in members[a] for y in members[b]):
            return "blocked"
        groups.union(a, b)
        members[a] |= members.pop(b)
        ids = (records[i]["id"], records[j]["id"])
        evidence.setdefault(ids[1], Decision(ids[0], ids[1], rule, score, detail))
        evidence.setdefault(ids[0], Decision(ids[1], ids[0], rule, score, detail))
        return "joined"

    for d in must_link:  # earlier decisions hold unless a user undid them
        if d.kept_id in position and d.merged_id in position:
            join(position[d.kept_id], position[d.merged_id], d.rule, d.score, d.detail, ())

    normal_forms: dict[tuple[str, str], list[str]] = {}

    def normalised(how: str, prop: str) -> list[str]:
        if (how, prop) not in normal_forms:
            normal_forms[(how, prop)] = [NORMALISERS[how](r.get(prop)) for r in records]
        return normal_forms[(how, prop)]

    for rule in entity.rules:
        values = normalised(rule.normalise, rule.field)
        block = normalised("text", rule.block_by) if rule.block_by else [""] * len(records)
        pairs = list(_candidates(rule, values, block))
        if rule.max_edits:
            pairs = _unambiguous(pairs, groups, result, rule.name)
        for i, j, score in sorted(pairs):
            detail = f"{rule.field} {values[i]!r}" + (f" ~ {values[j]!r}" if values[i] != values[j] else "")
            if join(i, j, rule.name, score, detail, [*entity.must_agree, *rule.must_agree]) == "blocked":
                result.blocked[rule.name] = result.blocked.get(rule.name, 0) + 1

    for ids in members.values():
        if len(ids) < 2:
            continue
        kept = min(ids, key=lambda x: (time_key(records[position[x]].get(time_property)), x))
        for merged in sorted(ids - {kept}):
            link = evidence[merged]
            result.decisions.append(Decision(kept, merged, link.rule, link.score, link.detail))
    return result


def time_key(value: Any) -> tuple[bool, str]:
    """Creation times sort as UTC text whether they came from this load (datetimes) or the store (text)."""
    if value is None or value == "":
        return True, ""
    return False, to_iso(value) if hasattr(value, "isoformat") else str(value)


def _unambiguous(pairs: list[tuple[int, int, float]], groups: _Groups, result: Resolution,
                 rule: str) -> list[tuple[int, int, float]]:
    """Fuzzy pairs whose records are each close to one other group only."""
    partners: dict[int, set[int]] = defaultdict(set)
    for i, j, _ in pairs:
        partners[i].add(groups.find(j))
        partners[j].add(groups.find(i))
    keep = [(i, j, s) for i, j, s in pairs if len(partners[i]) == 1 and len(partners[j]) == 1]
    if len(keep) < len(pairs):
        result.ambiguous[rule] = result.ambiguous.get(rule, 0) + len(pairs) - len(keep)
    return keep
