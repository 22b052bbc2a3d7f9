"""Suggestions follow the paths, and never advise what the facts contradict."""

from __future__ import annotations

from types import SimpleNamespace

from gnn.suggest import suggest

DEAL, ACCOUNT = "006-d", "001-a"


def facts(records: dict[str, tuple[int, int]], employees: list[str], on_deal: set[str]) -> SimpleNamespace:
    """The parts of `gnn.explain.Facts` that suggestions read."""
    return SimpleNamespace(
        record={("Contact", c): r for c, r in records.items()}, deal_account={DEAL: ACCOUNT},
        deal_contacts={DEAL: on_deal}, employees={ACCOUNT: employees},
        names={"Contact": {"003-ana": "Ana", "003-bo": "Bo", "003-cy": "Cy"}},
    )


def path(contact: str, name: str, direction: str) -> dict:
    return {"direction": direction, "text": f"{name} path", "steps": [
        {"label": "Deal", "id": DEAL, "name": "the deal"}, {"label": "Contact", "id": contact, "name": name}]}


def test_keep_only_a_contact_whose_record_supports_it() -> None:
    known = facts({"003-ana": (3, 1), "003-bo": (0, 3)}, ["003-ana", "003-bo"], {"003-ana", "003-bo"})
    out = suggest(DEAL, [path("003-ana", "Ana", "raises"), path("003-bo", "Bo", "raises")], known)
    assert out == [{"kind": "keep", "path": 0, "text": "Keep Ana (3 won, 1 lost earlier deals) closely involved."}]


def test_a_lowering_contact_suggests_the_best_colleague_not_on_the_deal() -> None:
    known = facts({"003-bo": (0, 3), "003-cy": (4, 1)}, ["003-bo", "003-cy"], {"003-bo"})
    out = suggest(DEAL, [path("003-bo", "Bo", "lowers")], known)
    assert [(s["kind"], s["path"], s.get("contact_id")) for s in out] == [("involve", 0, "003-cy")]
    alone = suggest(DEAL, [path("003-bo", "Bo", "lowers")], facts({"003-bo": (0, 3)}, ["003-bo"], {"003-bo"}))
    assert [s["kind"] for s in alone] == ["check"]
