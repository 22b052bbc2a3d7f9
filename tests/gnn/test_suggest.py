"""Next steps a rep can act on: derived from deal facts, scored by the model on an edited graph, never a reason
restated, and never shown to a reader who may not see whom they name."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from gnn.deal_facts import LastActivity
from gnn.explain import PathExplainer
from gnn.features import encode, latest_event_time
from gnn.fit import calibrate
from gnn.sampling import NeighbourSampler
from gnn.score import load_model, open_deal_ids
from gnn.suggest import Edit, Proposal, proposals, suggest
from graph.explanation import Detail, Explanation, NodeRef, Phrase

DEAL, ACCOUNT, OWNER, OTHER_REP, PRODUCT = "006-d", "001-a", "005-own", "005-julia", "01t-p"
NAMES = {"003-ana": "Ana", "003-bo": "Bo", "003-cy": "Cy", ACCOUNT: "Acme", OWNER: "Olga", OTHER_REP: "Julia",
         PRODUCT: "Gateway", "005-max": "Max"}


def facts(records: dict[str, tuple[int, int]], employees: list[str], on_deal: dict[str, str],
          roles: dict[tuple[str, str], str] | None = None, quiet: tuple[int, int] | None = None) -> SimpleNamespace:
    """The parts of `gnn.explain.Facts` that suggestions read; `on_deal`: contact -> role on the deal."""
    def ref(label: str, node_id: str) -> NodeRef:
        return NodeRef(label, node_id, NAMES.get(node_id, node_id))

    roles = {**{(DEAL, c): r for c, r in on_deal.items()}, **(roles or {})}
    contact_roles: dict[str, Counter] = {}
    for (_, contact), role in roles.items():
        contact_roles.setdefault(contact, Counter())[role] += 1
    return SimpleNamespace(
        roles=roles, contact_roles=contact_roles, record={("Contact", c): r for c, r in records.items()},
        typical=0.4, deal_account={DEAL: ACCOUNT},
        deal_contacts={DEAL: set(on_deal)}, employees={ACCOUNT: employees}, ref_by_id=ref,
        deal_account_ref=lambda deal_id: ref("Account", ACCOUNT), segment={ACCOUNT: "Finance"}, segment_label="Account",
        record_words=lambda node: Detail(" (record)", node), deal_owner={DEAL: OWNER}, deal_products={DEAL: [PRODUCT]},
        wins_by={(PRODUCT, "Finance"): Counter({OWNER: 9, OTHER_REP: 3, "005-max": 1})},
        timeline=SimpleNamespace(quiet_for=lambda deal_id: quiet if deal_id == DEAL else None,
                                 last={DEAL: LastActivity("00T-call", "call", 31.0)}),
    )


def test_involve_a_colleague_with_a_record_above_typical_who_is_not_on_the_deal() -> None:
    known = facts({"003-ana": (3, 1), "003-bo": (0, 3), "003-cy": (5, 1)}, ["003-ana", "003-bo", "003-cy"],
                  {"003-ana": "economic_buyer"}, roles={("006-old", "003-cy"): "champion"})
    found = [p for p in proposals(DEAL, [], known) if p.kind == "involve"]
    # Ana is on the deal already; Bo's record is below typical; Cy joins in the role she usually holds.
    assert [(p.contact.id, p.edit) for p in found] == [("003-cy", Edit("003-cy", "champion"))]
    assert found[0].words.text() == "Involve Cy (record) from Acme in this deal"


def test_the_missing_economic_buyer_is_proposed_only_when_missing() -> None:
    staff = ["003-ana", "003-bo"]
    missing = facts({"003-bo": (1, 1)}, staff, {"003-ana": "champion"}, roles={("006-old", "003-bo"): "economic_buyer"})
    found = [p for p in proposals(DEAL, [], missing) if p.kind == "economic_buyer"]
    assert [p.edit for p in found] == [Edit("003-bo", "economic_buyer")]  # who signed off before comes first
    present = facts({}, staff, {"003-ana": "economic_buyer"})
    assert not [p for p in proposals(DEAL, [], present) if p.kind == "economic_buyer"]
    nobody = facts({}, ["003-ana"], {"003-ana": "champion"})
    (alone,) = [p for p in proposals(DEAL, [], nobody) if p.kind == "economic_buyer"]
    assert alone.edit is None
    assert alone.words.text() == "No one on this deal is its economic buyer: find who signs off at Acme"


def test_ask_the_other_rep_who_won_this_product_in_this_industry() -> None:
    (ask,) = [p for p in proposals(DEAL, [], facts({}, [], {})) if p.kind == "ask_rep"]
    # The owner won more, but asking yourself is no step; Julia won 3 of Gateway at Finance accounts.
    assert ask.words.text() == "Ask Julia, who won 3 deals for Gateway at Finance accounts"
    assert ask.edit is None and ask.contact is None
    # Redaction: a reader who may not see Julia never gets the step.
    shown = Explanation("test", suggestions=suggest([ask], {}))
    assert shown.suggestions and not shown.visible_to(lambda ref: ref.id != OTHER_REP).suggestions


def test_ranked_by_the_models_expected_change_which_the_text_states() -> None:
    ana, bo = NodeRef("Contact", "003-ana", "Ana"), NodeRef("Contact", "003-bo", "Bo")
    found = [
        Proposal("ask_rep", None, Phrase.of("Ask Julia")),
        Proposal("involve", 0, Phrase.of("Involve ", ana), ana, Edit("003-ana", "user")),
        Proposal("economic_buyer", None, Phrase.of("Add ", bo), bo, Edit("003-bo", "economic_buyer")),
        Proposal("involve", None, Phrase.of("Involve ", bo), bo, Edit("003-bo", "user")),
        Proposal("economic_buyer", None, Phrase.of("Add ", ana), ana, Edit("003-ana", "economic_buyer")),
    ]
    out = suggest(found, {1: 0.031, 2: 0.072, 3: 0.05, 4: -0.04})
    # Bo as economic buyer (+7) beats Bo involved (+5, same person, dropped) and Ana (+3); Ana as economic buyer
    # would lower the score: not suggested. Asking Julia has no figure: it comes last.
    assert [s.text for s in out] == [
        "Add Bo — the model expects +7 pts.", "Involve Ana — the model expects +3 pts.", "Ask Julia."]
    assert [s.effect for s in out] == [0.072, 0.031, None]
    assert out[0].reference is not None and out[2].reference is None
    assert suggest(found[1:2], {1: 0.004}) == ()  # under a point: noise, not a next step


def test_stored_suggestions_are_actions_not_reasons(trained) -> None:
    scores = trained.store.latest_scores(open_deal_ids(trained.store.snapshot()))
    suggestions = [(e, s) for e in (r.explanation for r in scores.values()) if e for s in e.suggestions]
    assert suggestions
    for explanation, s in suggestions:
        assert s.kind in {"involve", "economic_buyer", "ask_rep", "re_engage"}
        if s.kind == "re_engage":  # a deal fact as of the scoring time, compared with typical, without a figure
            assert re.match(r"Re-engage: no activity for \d+ days — longer than the \d+ typical", s.text), s.text
            assert s.effect is None
        assert not s.text.startswith("Watch") and s.text not in {p.text for p in explanation.paths}
        if s.effect is not None:
            assert s.effect >= 0.01 and f"+{100 * s.effect:.0f} pts" in s.text


def test_the_expected_change_is_the_models_score_of_the_edited_graph(trained) -> None:
    """An edit scored on the deal's neighbourhood (as `dealgraph score` does) equals the model's calibrated
    score of the whole graph with the contact added (cut as the model cuts it), minus the deal's score now."""
    loaded = load_model(trained.home)
    snap = trained.store.snapshot()
    data = encode(loaded.spec, snap, latest_event_time(snap))
    explainer = PathExplainer(loaded.model, data, snap, hops=loaded.model.config.layers, platt=loaded.platt)
    deals = open_deal_ids(snap)
    positions = pd.Index(data["Deal"].node_id).get_indexer(deals[:24]).tolist()
    edited = [(pos, e, s) for pos, e in zip(positions, explainer.explain_many(positions), strict=True)
              for s in e.suggestions if s.effect is not None]
    assert edited, "no suggestion with a figure in the sample"

    def graph_probability(deal_pos: int, extra: dict | None = None) -> float:
        """The deal's score from the whole graph, edited, cut as the model cuts it (`ModelConfig.fanout`; the
        added edges are the newest)."""
        graph = data.clone()
        for edge_type, pair in (extra or {}).items():
            graph[edge_type].edge_index = torch.cat([graph[edge_type].edge_index, torch.tensor([pair]).t()], dim=1)
            if "time" in graph[edge_type]:
                graph[edge_type].time = torch.cat([graph[edge_type].time, torch.tensor([2**62])])
        sample = NeighbourSampler(graph, loaded.model.config.fanout, loaded.model.config.layers).sample(
            "Deal", torch.tensor([deal_pos]))
        with torch.no_grad():
            logit = loaded.model(sample.x_dict, sample.edge_index_dict)[sample.seeds].numpy()
        return float(calibrate(logit, loaded.platt)[0])

    for deal_pos, _, s in edited[:3]:
        contact = explainer.facts.positions["Contact"][s.contact.id]
        role = "economic_buyer" if s.kind == "economic_buyer" else None
        if role is None:
            from gnn.suggest import _usual_role

            role = _usual_role(explainer.facts, s.contact.id)
        after = graph_probability(deal_pos, {("Deal", "INVOLVES", "Contact"): [deal_pos, contact],
                                             ("Contact", f"rev_INVOLVES:{role}", "Deal"): [contact, deal_pos]})
        assert after - graph_probability(deal_pos) == pytest.approx(s.effect, abs=2e-3)


def test_a_deal_quiet_for_longer_than_typical_gets_a_re_engage_step_that_names_its_last_activity() -> None:
    quiet = facts({}, [], {"003-ana": "economic_buyer"}, quiet=(31, 9))
    found = [p for p in proposals(DEAL, [], quiet) if p.kind == "re_engage"]
    assert [p.words.text() for p in found] == [
        "Re-engage: no activity for 31 days — longer than the 9 typical; the last was 00T-call, a call"]
    assert found[0].edit is None  # no graph edit the model scores: shown without a figure
    busy = facts({}, [], {"003-ana": "economic_buyer"}, quiet=None)
    assert not [p for p in proposals(DEAL, [], busy) if p.kind == "re_engage"]
    # Ranked after a step with a figure; a reader who may not see the activity does not get it.
    scored = Proposal("involve", None, Phrase.of("Involve ", NodeRef("Contact", "003-cy", "Cy")),
                      NodeRef("Contact", "003-cy", "Cy"), Edit("003-cy", "champion"))
    shown = suggest([found[0], scored], {1: 0.05})
    assert [s.kind for s in shown] == ["involve", "re_engage"] and shown[1].effect is None
    hidden = Explanation(method="test", suggestions=shown).visible_to(lambda ref: ref.label != "Activity")
    assert [s.kind for s in hidden.suggestions] == ["involve"]
