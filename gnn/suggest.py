"""Next steps a rep can act on, each derived from a deal fact or one of its paths — labelled as suggestions.

Four kinds, each an edit of the deal's world a rep can make, never the
reason restated:

- `involve`: a contact at the deal's account, not on the deal, whose record is
  above typical -> involve them (in the role they usually hold);
- `economic_buyer`: no one on the deal holds that role -> add one, naming the
  colleague at the account best placed for it where there is one;
- `ask_rep`: another rep won deals for this deal's product at accounts of this
  industry -> ask them;
- `re_engage`: no activity on the deal for longer than on the typical open deal
  (`gnn.deal_facts`, as of the scoring time) -> re-engage, naming the last
  activity (a reference: hidden from whoever may not see it).

Where the edit is a change of the graph (`Edit`: a contact joins the deal in
a role), the model scores the edited graph (`gnn.explain`) and the suggestion
carries the expected change in probability (`effect`), states it, and is
ranked by it; one the model expects to lower the score is not made. Asking a
colleague or re-engaging is no graph edit the model can score (the deal's activity
features would need a new activity with a time and a person), so it has no figure and comes after those that
have one. Every node a suggestion names is a reference (`Phrase`), so a reader
who may not see it — another rep, a contact outside their book — never gets
the suggestion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.explanation import ExplainedPath, NodeRef, Phrase, Suggestion
from ontology.names import Label

if TYPE_CHECKING:
    from gnn.node_facts import Facts

MAX_SUGGESTIONS = 3
#: Colleagues tried per kind of edit: each is one more scoring of the deal's neighbourhood.
CANDIDATES = 2
#: Below one point the model sees no difference worth a rep's time (and "+0 pts" would read as noise).
MIN_EFFECT = 0.01
ECONOMIC_BUYER = "economic_buyer"
#: What a suggestion's figure is relative to.
AS_IT_STANDS = Phrase.of("this deal as it stands")


@dataclass(frozen=True)
class Edit:
    """A change to the deal's graph a rep can make: `contact` joins the deal in `role`."""

    contact: str
    role: str


@dataclass(frozen=True)
class Proposal:
    """A suggestion before the model has scored its edit: `words` is completed with the figure."""

    kind: str
    path: int | None  # the path it comes from; None: from a fact of the deal
    words: Phrase
    contact: NodeRef | None = None
    edit: Edit | None = None


def _usual_role(facts: Facts, contact: str) -> str:
    """The role a contact has held most often on earlier deals ("other" if none)."""
    roles = facts.contact_roles.get(contact)
    return roles.most_common(1)[0][0] if roles else "other"


def _colleagues(facts: Facts, deal_id: str) -> list[NodeRef]:
    """Contacts now at the deal's account and not on the deal, best record above typical first."""
    on_deal = facts.deal_contacts.get(deal_id, set())
    scored = []
    for contact in facts.employees.get(facts.deal_account.get(deal_id), ()):
        if contact in on_deal:
            continue
        won, lost = facts.record.get((Label.CONTACT, contact), (0, 0))
        scored.append((won - facts.typical * (won + lost), contact))
    return [facts.ref_by_id(Label.CONTACT, c) for margin, c in sorted(scored, key=lambda mc: (-mc[0], mc[1]))]


def _path_to(paths: Sequence[ExplainedPath], node: NodeRef) -> int | None:
    """The first shown path whose first step is `node`."""
    return next((i for i, p in enumerate(paths) if len(p.steps) > 1 and p.steps[1].node == node), None)


def proposals(deal_id: str, paths: Sequence[ExplainedPath], facts: Facts) -> list[Proposal]:
    """Every next step the facts support for one deal, before the model has scored them. Contacts come from the
    deal's facts (who works at its account, who is on it); asking a rep names the path of the product it is about,
    where one is shown."""
    out: list[Proposal] = []
    account = facts.deal_account_ref(deal_id)
    colleagues = _colleagues(facts, deal_id)
    for contact in colleagues[:CANDIDATES]:
        won, lost = facts.record.get((Label.CONTACT, contact.id), (0, 0))
        if account is not None and won + lost and won / (won + lost) > facts.typical:
            out.append(Proposal("involve", None, Phrase.of(
                "Involve ", contact, facts.record_words(contact), " from ", account, " in this deal"),
                contact, Edit(contact.id, _usual_role(facts, contact.id))))
    on_deal = facts.deal_contacts.get(deal_id, set())
    if account is not None and not any(facts.roles.get((deal_id, c)) == ECONOMIC_BUYER for c in on_deal):
        # Who signed off before is the likeliest economic buyer; then the best record.
        ranked = sorted(colleagues, key=lambda c: _usual_role(facts, c.id) != ECONOMIC_BUYER)
        for contact in ranked[:CANDIDATES]:
            out.append(Proposal("economic_buyer", None, Phrase.of(
                "No one on this deal is its economic buyer: add ", contact, " from ", account, " in that role"),
                contact, Edit(contact.id, ECONOMIC_BUYER)))
        if not ranked:
            out.append(Proposal("economic_buyer", None, Phrase.of(
                "No one on this deal is its economic buyer: find who signs off at ", account)))
    quiet = facts.timeline.quiet_for(deal_id)
    if quiet is not None:
        days, typical = quiet
        last = facts.timeline.last.get(deal_id)
        since = (Phrase.of("; the last was ", facts.ref_by_id(Label.ACTIVITY, last.activity), f", {_article(last.kind)}"
                           f" {last.kind}") if last is not None else Phrase.of())
        out.append(Proposal("re_engage", None, Phrase.of(
            f"Re-engage: no activity for {days} days — longer than the {typical} typical", *since.parts)))
    ask = _rep_to_ask(facts, deal_id)
    if ask is not None:
        rep, product, industry, wins = ask
        out.append(Proposal("ask_rep", _path_to(paths, product), Phrase.of(
            "Ask ", rep, f", who won {wins} deal{'s' if wins > 1 else ''} for ", product, f" at {industry} accounts"),
        ))
    return out


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _rep_to_ask(facts: Facts, deal_id: str) -> tuple[NodeRef, NodeRef, str, int] | None:
    """Another rep with the most won deals for one of this deal's products at accounts of its industry."""
    industry = facts.segment.get(facts.deal_account.get(deal_id))
    owner = facts.deal_owner.get(deal_id)
    best: tuple[int, str, str] | None = None
    for product in facts.deal_products.get(deal_id, ()):
        for rep, wins in facts.wins_by.get((product, industry), Counter()).items():
            if rep != owner and (best is None or (wins, rep) > (best[0], best[1])):
                best = (wins, rep, product)
    if best is None or industry is None:
        return None
    wins, rep, product = best
    return facts.ref_by_id(Label.REP, rep), facts.ref_by_id(Label.PRODUCT, product), industry, wins


def suggest(found: Sequence[Proposal], effects: Mapping[int, float]) -> tuple[Suggestion, ...]:
    """Suggestions from the proposals and the model's expected change in probability of each scored edit
    (`effects`, by proposal index): edits the model expects to lower the score, or to change it by less than
    one point, are dropped; the rest ranked by that change, those without a figure after them."""
    ranked: list[tuple[float, Suggestion]] = []
    for i, proposal in enumerate(found):
        effect = effects.get(i) if proposal.edit is not None else None
        if proposal.edit is not None and (effect is None or effect < MIN_EFFECT):
            continue
        effect = None if effect is None else round(effect, 4)  # the words say the figure that is stored
        figure = f" — the model expects +{100 * effect:.0f} pts" if effect is not None else ""
        suggestion = Suggestion(proposal.kind, proposal.path, Phrase.of(*proposal.words.parts, figure, "."),
                                proposal.contact, effect=effect,
                                reference=AS_IT_STANDS if effect is not None else None)
        ranked.append((-(effect if effect is not None else -1.0), suggestion))
    ranked.sort(key=lambda rs: rs[0])
    out: list[Suggestion] = []
    contacts: set[str] = set()
    for _, s in ranked:
        if s.contact is not None:
            if s.contact.id in contacts:
                continue  # one step per person: the one the model rates higher
            contacts.add(s.contact.id)
        out.append(s)
    return tuple(out[:MAX_SUGGESTIONS])
