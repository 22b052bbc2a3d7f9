"""Suggested next steps, derived from a deal's explanation paths — labelled as suggestions.

Every suggestion names the path it comes from (`path`: its index in the
explanation), so a reviewer can see why it was made:

- a contact path that raises the score, for a person who won more earlier deals than they lost -> keep them involved;
- a contact path that lowers it -> involve a colleague at the account with a better record, if there is one,
  else check that contact's role;
- an account, parent, product or owner path that lowers it -> a risk to watch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gnn.explain import Facts

MAX_SUGGESTIONS = 3


def _record(facts: "Facts", label: str, node_id: str) -> tuple[int, int]:
    return facts.record.get((label, node_id), (0, 0))


def _best_colleague(facts: "Facts", deal_id: str) -> tuple[str, int, int] | None:
    """The contact now at the deal's account, not on the deal, with the best won/lost record."""
    account = facts.deal_account.get(deal_id)
    on_deal = facts.deal_contacts.get(deal_id, set())
    best = None
    for contact in facts.employees.get(account, ()):
        if contact in on_deal:
            continue
        won, lost = _record(facts, "Contact", contact)
        if won > lost and (best is None or (won - lost) > (best[1] - best[2])):
            best = (contact, won, lost)
    return best


def suggest(deal_id: str, paths: list[dict], facts: "Facts") -> list[dict]:
    """Suggestions for one deal from its explanation paths (each: kind, text, path index)."""
    out: list[dict] = []
    for i, path in enumerate(paths):
        first = path["steps"][1]
        raises = path["direction"] == "raises"
        if first["label"] == "Contact" and raises:
            # Attributions are relative to an empty graph, so a person with a poor record can still "raise" the
            # score; advising to keep them involved is only sound when their record says so too.
            won, lost = _record(facts, "Contact", first["id"])
            if won > lost:
                out.append({"kind": "keep", "path": i,
                            "text": f"Keep {first['name']} ({won} won, {lost} lost earlier deals) closely involved."})
        elif first["label"] == "Contact":
            colleague = _best_colleague(facts, deal_id)
            if colleague:
                contact, won, lost = colleague
                name = facts.names["Contact"].get(contact, contact)
                out.append({"kind": "involve", "path": i, "contact_id": contact,
                            "text": f"Consider involving {name}, at the account, with {won} won and {lost} lost earlier deals."})
            else:
                out.append({"kind": "check", "path": i, "text": f"Check {first['name']}'s part: their history lowers the score."})
        elif not raises:
            out.append({"kind": "risk", "path": i, "text": f"Watch: {path['text']}."})
    seen, unique = set(), []
    for s in out:
        if s["text"] not in seen:
            seen.add(s["text"])
            unique.append(s)
    return unique[:MAX_SUGGESTIONS]
