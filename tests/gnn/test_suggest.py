"""Suggestions follow the paths, and never advise what the facts contradict."""

from __future__ import annotations

from types import SimpleNamespace

from gnn.suggest import suggest
from graph.explanation import ExplainedPath, NodeRef, PathStep, Phrase

DEAL, ACCOUNT = "006-d", "001-a"
NAMES = {"003-ana": "Ana", "003-bo": "Bo", "003-cy": "Cy"}


def facts(records: dict[str, tuple[int, int]], employees: list[str], on_deal: set[str]) -> SimpleNamespace:
    """The parts of `gnn.explain.Facts` that suggestions read."""
    return SimpleNamespace(
        record={("Contact", c): r for c, r in records.items()}, deal_account={DEAL: ACCOUNT},
        deal_contacts={DEAL: on_deal}, employees={ACCOUNT: employees},
        ref_by_id=lambda label, node_id: NodeRef(label, node_id, NAMES[node_id]),
    )


def path(contact: str, weight: float) -> ExplainedPath:
    person = NodeRef("Contact", contact, NAMES[contact])
    return ExplainedPath(weight, Phrase.of(person, " path"),
                         (PathStep("Deal", NodeRef("Deal", DEAL, "the deal")), PathStep("Contact", person)))


def test_keep_only_a_contact_whose_record_supports_it() -> None:
    known = facts({"003-ana": (3, 1), "003-bo": (0, 3)}, ["003-ana", "003-bo"], {"003-ana", "003-bo"})
    out = suggest(DEAL, [path("003-ana", 0.2), path("003-bo", 0.1)], known)
    assert [(s.kind, s.path, s.text) for s in out] == [
        ("keep", 0, "Keep Ana (3 won, 1 lost earlier deals) closely involved.")]


def test_a_lowering_contact_suggests_the_best_colleague_not_on_the_deal() -> None:
    known = facts({"003-bo": (0, 3), "003-cy": (4, 1)}, ["003-bo", "003-cy"], {"003-bo"})
    out = suggest(DEAL, [path("003-bo", -0.2)], known)
    assert [(s.kind, s.path, s.contact.id if s.contact else None) for s in out] == [("involve", 0, "003-cy")]
    # The colleague is named by reference, so a reader who may not see them never gets the suggestion.
    assert {r.id for r in out[0].refs()} == {"003-cy"}
    alone = suggest(DEAL, [path("003-bo", -0.2)], facts({"003-bo": (0, 3)}, ["003-bo"], {"003-bo"}))
    assert [s.kind for s in alone] == ["check"]
