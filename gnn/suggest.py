"""Suggested next steps, derived from a deal's explanation paths — labelled as suggestions.

Every suggestion names the path it comes from (`path`: its index in the
explanation), so a reviewer can see why it was made, and every node it names
is a reference (`gnn.explanation.Phrase`), so a reader who may not see that
node never gets the suggestion:

- a contact path that raises the score, for a person who won more earlier deals than they lost -> keep them involved;
- a contact path that lowers it -> involve a colleague at the account with a better record, if there is one,
  else check that contact's role;
- an account, parent, product or owner path that lowers it -> a risk to watch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from graph.explanation import ExplainedPath, NodeRef, Phrase, Suggestion

if TYPE_CHECKING:
    from gnn.explain import Facts

MAX_SUGGESTIONS = 3


def _record(facts: "Facts", node: NodeRef) -> tuple[int, int]:
    return facts.record.get((node.label, node.id), (0, 0))


def _best_colleague(facts: "Facts", deal_id: str) -> tuple[NodeRef, int, int] | None:
    """The contact now at the deal's account, not on the deal, with the best won/lost record."""
    account = facts.deal_account.get(deal_id)
    on_deal = facts.deal_contacts.get(deal_id, set())
    best: tuple[NodeRef, int, int] | None = None
    for contact in facts.employees.get(account, ()):
        if contact in on_deal:
            continue
        ref = facts.ref_by_id("Contact", contact)
        won, lost = _record(facts, ref)
        if won > lost and (best is None or (won - lost) > (best[1] - best[2])):
            best = (ref, won, lost)
    return best


def suggest(deal_id: str, paths: Sequence[ExplainedPath], facts: "Facts") -> tuple[Suggestion, ...]:
    """Suggestions for one deal from its explanation paths."""
    out: list[Suggestion] = []
    for i, path in enumerate(paths):
        first = path.steps[1].node
        if first is None:
            continue
        raises = path.direction == "raises"
        if first.label == "Contact" and raises:
            # Attributions are relative to an empty graph, so a person with a poor record can still "raise" the
            # score; advising to keep them involved is only sound when their record says so too.
            won, lost = _record(facts, first)
            if won > lost:
                out.append(Suggestion("keep", i, Phrase.of(
                    "Keep ", first, f" ({won} won, {lost} lost earlier deals) closely involved.")))
        elif first.label == "Contact":
            colleague = _best_colleague(facts, deal_id)
            if colleague:
                contact, won, lost = colleague
                out.append(Suggestion("involve", i, Phrase.of(
                    "Consider involving ", contact, f", at the account, with {won} won and {lost} lost earlier deals."),
                    contact=contact))
            else:
                out.append(Suggestion("check", i, Phrase.of("Check ", first, "'s part: their history lowers the score.")))
        elif not raises:
            out.append(Suggestion("risk", i, Phrase.of("Watch: ", *path.phrase.parts, ".")))
    seen: set[str] = set()
    unique = []
    for s in out:
        if s.text not in seen:
            seen.add(s.text)
            unique.append(s)
    return tuple(unique[:MAX_SUGGESTIONS])
