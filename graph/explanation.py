"""The explanation of a score as one typed value, and the one rule for showing it to someone who may not see all.

Every sentence an explanation carries (a path's text, a suggestion's text, any
later field) is a `Phrase`: literal words and references to the nodes it
names (`NodeRef`), never a finished string. Whoever renders it for a reader
decides node by node, so a deal, account, contact or rep the reader may not
see is never named, and the facts about it (`Detail`: "which was won") are
left out — whatever the sentence's wording. `Explanation.visible_to` is that
decision for the whole explanation; nothing re-words text after the fact.

Stored as JSON (`to_json` / `from_json`); the JSON keeps each sentence's full
text beside its parts for readers of the raw store (RDF export, notebooks).
Explanations stored before sentences had parts carry no parts: they are read
back as the chain of their path's steps, and their suggestions are dropped,
until the deal is scored again.

Example:
    >>> ana = NodeRef("Contact", "003-a", "Ana Ruiz")
    >>> won = NodeRef("Deal", "006-x", "Globex renewal")
    >>> p = Phrase.of(ana, " was on ", won, Detail(", which was won", won))
    >>> p.text()
    'Ana Ruiz was on Globex renewal, which was won'
    >>> p.text(lambda ref: ref.label != "Deal")
    'Ana Ruiz was on a deal you cannot see'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

MaySee = Callable[["NodeRef"], bool]


def _everyone(_: NodeRef) -> bool:
    return True


@dataclass(frozen=True)
class NodeRef:
    """A node a sentence or path names: its class, id and display name."""

    label: str
    id: str
    name: str

    def hidden_text(self) -> str:
        noun = self.label.lower()
        return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun} you cannot see"

    def to_json(self) -> dict[str, str]:
        return {"label": self.label, "id": self.id, "name": self.name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeRef:
        return cls(str(data["label"]), str(data["id"]), str(data.get("name") or data["id"]))


@dataclass(frozen=True)
class Detail:
    """Words about one node ("which was won"): shown only to readers who may see that node."""

    text: str
    about: NodeRef


Segment = str | NodeRef | Detail


@dataclass(frozen=True)
class Phrase:
    """A sentence as words and node references; rendered per reader."""

    parts: tuple[Segment, ...]

    @classmethod
    def of(cls, *parts: Segment) -> Phrase:
        return cls(tuple(p for p in parts if p != ""))

    def refs(self) -> Iterator[NodeRef]:
        for part in self.parts:
            if isinstance(part, NodeRef):
                yield part
            elif isinstance(part, Detail):
                yield part.about

    def details(self) -> Iterator[Detail]:
        """The facts it states about nodes."""
        return (part for part in self.parts if isinstance(part, Detail))

    def text(self, may_see: MaySee = _everyone) -> str:
        """The sentence as `may_see` allows: hidden nodes become "a deal you cannot see", their details vanish."""
        words = []
        for part in self.parts:
            if isinstance(part, NodeRef):
                words.append(part.name if may_see(part) else part.hidden_text())
            elif isinstance(part, Detail):
                words.append(part.text if may_see(part.about) else "")
            else:
                words.append(part)
        return "".join(words)

    def visible_to(self, may_see: MaySee, may_know: MaySee | None = None) -> Phrase:
        """The same sentence with every hidden node replaced by plain words, and without the details the reader may
        not know (`may_know`, default `may_see`: a detail about a node the reader sees can still count nodes they
        do not, such as an account's record over every rep's deals)."""
        know = may_know or may_see
        if all(may_see(r) for r in self.refs()) and all(know(d.about) for d in self.details()):
            return self
        parts: list[Segment] = []
        for part in self.parts:
            if isinstance(part, NodeRef) and not may_see(part):
                parts.append(part.hidden_text())
            elif isinstance(part, Detail) and not (may_see(part.about) and know(part.about)):
                continue
            else:
                parts.append(part)
        return Phrase(tuple(parts))

    def to_json(self) -> list[Any]:
        out: list[Any] = []
        for part in self.parts:
            if isinstance(part, NodeRef):
                out.append({"ref": part.to_json()})
            elif isinstance(part, Detail):
                out.append({"detail": part.text, "about": part.about.to_json()})
            else:
                out.append(part)
        return out

    @classmethod
    def from_json(cls, data: Iterable[Any]) -> Phrase:
        parts: list[Segment] = []
        for part in data:
            if isinstance(part, str):
                parts.append(part)
            elif "ref" in part:
                parts.append(NodeRef.from_json(part["ref"]))
            else:
                parts.append(Detail(str(part["detail"]), NodeRef.from_json(part["about"])))
        return cls(tuple(parts))


@dataclass(frozen=True)
class PathStep:
    """One node on a path; the first step is the scored deal. `node` is None where the reader may not see it."""

    label: str
    node: NodeRef | None
    relation: str | None = None  # the relation walked to reach this step
    direction: str | None = None  # out or in: the direction it was walked

    @property
    def id(self) -> str | None:
        return self.node.id if self.node else None

    @property
    def name(self) -> str | None:
        return self.node.name if self.node else None

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "id": self.id, "name": self.name, "relation": self.relation,
                "direction": self.direction}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PathStep:
        node = NodeRef.from_json(data) if data.get("id") is not None else None
        return cls(str(data["label"]), node, data.get("relation"), data.get("direction"))


@dataclass(frozen=True)
class ExplainedPath:
    """A relationship path that moved the score, its signed weight and its sentence."""

    weight: float
    phrase: Phrase
    steps: tuple[PathStep, ...]
    # What the weight is relative to ("a typical deal: ..."); None in explanations stored before it was stated.
    reference: Phrase | None = None

    @property
    def direction(self) -> str:
        return "raises" if self.weight >= 0 else "lowers"

    @property
    def text(self) -> str:
        return self.phrase.text()

    def refs(self) -> Iterator[NodeRef]:
        yield from self.phrase.refs()
        yield from (s.node for s in self.steps if s.node is not None)
        if self.reference is not None:
            yield from self.reference.refs()

    def to_json(self) -> dict[str, Any]:
        return {"weight": self.weight, "direction": self.direction, "text": self.text,
                "phrase": self.phrase.to_json(), "steps": [s.to_json() for s in self.steps],
                **_reference_json(self.reference)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExplainedPath:
        steps = tuple(PathStep.from_json(s) for s in data.get("steps", []))
        phrase = Phrase.from_json(data["phrase"]) if "phrase" in data else _chain(steps)
        return cls(float(data["weight"]), phrase, steps, _reference_of(data))


def _reference_json(reference: Phrase | None) -> dict[str, Any]:
    return {} if reference is None else {"reference": reference.text(), "reference_phrase": reference.to_json()}


def _reference_of(data: Mapping[str, Any]) -> Phrase | None:
    return Phrase.from_json(data["reference_phrase"]) if data.get("reference_phrase") is not None else None


def _chain(steps: tuple[PathStep, ...]) -> Phrase:
    """A path told by its steps alone: how explanations stored without sentence parts are read."""
    parts: list[Segment] = ["This deal"]
    for step in steps[1:]:
        parts += [" → ", step.node if step.node is not None else f"a {step.label.lower()}"]
    return Phrase.of(*parts)


@dataclass(frozen=True)
class Suggestion:
    """A suggested next step (not a fact), derived from one of the explanation's paths."""

    kind: str  # involve, economic_buyer, ask_rep, re_engage (keep, check, risk in explanations stored before)
    path: int | None  # index of the path it comes from; None: it comes from a fact of the deal
    phrase: Phrase
    contact: NodeRef | None = None  # the contact to involve, for `involve` and `economic_buyer`
    effect: float | None = None  # the model's expected change in probability if it is done
    reference: Phrase | None = None  # what `effect` is relative to ("this deal as it stands")

    @property
    def text(self) -> str:
        return self.phrase.text()

    def refs(self) -> Iterator[NodeRef]:
        yield from self.phrase.refs()
        if self.contact is not None:
            yield self.contact
        if self.reference is not None:
            yield from self.reference.refs()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "path": self.path, "text": self.text,
                               "phrase": self.phrase.to_json(), **_reference_json(self.reference)}
        if self.contact is not None:
            out["contact"] = self.contact.to_json()
            out["contact_id"] = self.contact.id
        if self.effect is not None:
            out["effect"] = self.effect
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Suggestion | None:
        if "phrase" not in data:
            return None  # stored before sentences had parts: who it names cannot be checked
        contact = NodeRef.from_json(data["contact"]) if data.get("contact") else None
        path = None if data.get("path") is None else int(data["path"])
        return cls(str(data["kind"]), path, Phrase.from_json(data["phrase"]), contact,
                   _float(data.get("effect")), _reference_of(data))


@dataclass(frozen=True)
class Explanation:
    """Why the model scored a deal as it did: its top paths, suggestions and their faithfulness."""

    method: str
    paths: tuple[ExplainedPath, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    fidelity: float | None = None  # |probability change| without the top paths' edges
    fidelity_minus: float | None = None  # |change| with only their edges kept
    random_fidelity: float | None = None  # `fidelity` of random paths of the same lengths
    fidelity_each: float | None = None  # mean |probability change| when each top path alone is taken away
    random_fidelity_each: float | None = None  # `fidelity_each` of the random paths
    note: str | None = None  # why there are no paths, where there are none
    extra: Mapping[str, Any] = field(default_factory=dict)

    def refs(self) -> Iterator[NodeRef]:
        """Every node any of its strings or steps names."""
        for path in self.paths:
            yield from path.refs()
        for suggestion in self.suggestions:
            yield from suggestion.refs()

    def details(self) -> Iterator[Detail]:
        """Every fact any of its sentences states about a node."""
        phrases = [*((p.phrase, p.reference) for p in self.paths), *((s.phrase, s.reference) for s in self.suggestions)]
        for phrase, reference in phrases:
            yield from phrase.details()
            yield from reference.details() if reference is not None else ()

    def visible_to(self, may_see: MaySee, may_know: MaySee | None = None) -> Explanation:
        """What a reader who may see only some nodes gets: the one rule for every string it carries.

        Paths keep their weight and shape; hidden steps lose id and name, and sentences speak of
        "a deal you cannot see" without its facts. A suggestion naming a hidden node is dropped:
        a next step about something the reader cannot see is no step they can take. A fact about a node
        the reader sees is left out too where `may_know` (default `may_see`) says it is not theirs to know.
        """
        know = may_know or may_see
        if all(may_see(r) for r in self.refs()) and all(know(d.about) for d in self.details()):
            return self

        def seen(phrase: Phrase | None) -> Phrase | None:
            return phrase.visible_to(may_see, know) if phrase is not None else None

        paths = tuple(
            replace(p, phrase=p.phrase.visible_to(may_see, know), reference=seen(p.reference),
                    steps=tuple(s if s.node is None or may_see(s.node) else replace(s, node=None) for s in p.steps))
            for p in self.paths
        )
        suggestions = tuple(replace(s, phrase=s.phrase.visible_to(may_see, know), reference=seen(s.reference))
                            for s in self.suggestions if all(may_see(r) for r in s.refs()))
        return replace(self, paths=paths, suggestions=suggestions)

    def top(self, n: int) -> Explanation:
        """The first `n` paths (stored strongest first) and the suggestions that come from them."""
        return replace(self, paths=self.paths[:n],
                       suggestions=tuple(s for s in self.suggestions if s.path is None or s.path < n))

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "method": self.method, "paths": [p.to_json() for p in self.paths],
                "suggestions": [s.to_json() for s in self.suggestions], "fidelity": self.fidelity,
                "fidelity_minus": self.fidelity_minus, "random_fidelity": self.random_fidelity,
                **{k: v for k in ("fidelity_each", "random_fidelity_each") if (v := getattr(self, k)) is not None},
                **({"note": self.note} if self.note else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Explanation:
        known = {"method", "paths", "suggestions", "fidelity", "fidelity_minus", "random_fidelity", "note",
                 "fidelity_each", "random_fidelity_each"}
        suggestions = (Suggestion.from_json(s) for s in data.get("suggestions", []))
        return cls(
            method=str(data.get("method", "unknown")),
            paths=tuple(ExplainedPath.from_json(p) for p in data.get("paths", [])),
            suggestions=tuple(s for s in suggestions if s is not None),
            fidelity=_float(data.get("fidelity")), fidelity_minus=_float(data.get("fidelity_minus")),
            random_fidelity=_float(data.get("random_fidelity")), note=data.get("note"),
            fidelity_each=_float(data.get("fidelity_each")),
            random_fidelity_each=_float(data.get("random_fidelity_each")),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def dump_explanation(explanation: Explanation | None) -> str | None:
    """The stored form (JSON text) of an explanation, for every backend."""
    return None if explanation is None else json.dumps(explanation.to_json())


@lru_cache(maxsize=8192)
def load_explanation(text: str | None) -> Explanation | None:
    """An explanation from its stored text, parsed once per distinct text.

    An explanation is read on every API request that shows it and rewritten only by a scoring
    run, and parsing it was half the time of the widget's query. The value is frozen, so callers
    can share it.
    """
    return Explanation.from_json(json.loads(text)) if text else None
