"""Reasons a rep can agree with: attributions against a typical deal, words that never contradict their sign."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from gnn.attribution import EdgeIntegratedGradients, Reference, make_explainer, masked_logits
from gnn.explain import (
    IncomingIndex,
    PathExplainer,
    Step,
    computation_subgraph,
    contradiction,
    contradictions,
    prune_to_messages,
    reasons,
    sentence,
)
from gnn.features import encode, latest_event_time
from gnn.score import load_model, open_deal_ids
from graph import GraphStore, open_store, sqlite_url
from graph.explanation import ExplainedPath, NodeRef, PathStep, Phrase
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from ontology import load_schema
from ontology.names import Label

DEAL = NodeRef("Deal", "006-d", "Globex renewal")
SMALL_ACCOUNTS = 150  # as the session's sample (tests/conftest.py)


def path(text: str, weight: float) -> ExplainedPath:
    return ExplainedPath(weight, Phrase.of(text), (PathStep("Deal", DEAL),))


@pytest.mark.parametrize("text, weight", [
    ("Ana (champion on this deal) was champion on Initech, which was won", -0.2),
    ("The owner Bo also had Initech at Initech Corp, which was lost", 0.1),
    ("The account Volia: 3 of 4 earlier deals won — above the 58% typical for Finance accounts", -0.3),
    ("The product Gateway: 28 of 86 earlier deals won — below the 34% typical", 0.2),
    ("The account Volia Capital has 3 won and 1 lost earlier deals", -0.4),  # as worded before "typical"
    ("The last meeting or call, Demo (a call 24 days ago): no meeting or call for 24 days — longer than the 9 typical",
     0.2),
    ("Ana Ruiz replied to 5 of 6 emails in the last 90 days — above the 40% typical", -0.2),
    # The deal's own facts (`gnn.deal_reasons`).
    ("Close date pushed 3 times — more than the 1 typical", 0.2),
    ("In Negotiation/Review for 41 days — longer than the 12 typical", 0.2),
    ("No activity for 24 days — longer than the 9 typical", 0.3),
    ("Close date 12 days overdue — more than the 3 typical", 0.1),
    ("Close date never pushed — fewer than the 1 typical", -0.1),
    ("14 activities in the last 60 days — busier than the 6 typical", -0.2),
    ("2 activities in the last 60 days — quieter than the 6 typical", 0.2),
])
def test_the_check_counts_words_that_contradict_their_sign(text: str, weight: float) -> None:
    assert contradiction(path(text, weight)) is not None
    assert contradiction(path(text, -weight)) is None  # the same words with the other sign agree
    assert len(contradictions([None, _explanation(path(text, weight))])) == 1


def test_the_check_leaves_neutral_words_alone() -> None:
    for weight in (0.3, -0.3):
        about = "The owner Julia: 133 of 382 earlier deals won — about the 34% typical"
        assert contradiction(path(about, weight)) is None
        assert contradiction(path("The account Quinent: no closed deals yet", weight)) is None
        assert contradiction(path("no meeting or call for 9 days — about the 9 typical", weight)) is None


def _explanation(*paths: ExplainedPath):
    from graph.explanation import Explanation

    return Explanation(method="test", paths=paths)


def test_a_path_whose_words_take_the_other_side_is_withheld() -> None:
    first = [Step("Deal", 0), Step("Account", 1)]
    second = [Step("Deal", 0), Step("Product", 2)]
    third = [Step("Deal", 0), Step("Rep", 3)]
    words = {
        1: (Phrase.of("above typical"), 1),  # strongest, but "above typical" cannot lower the score
        2: (Phrase.of("below typical"), -1),  # nor can "below" raise it
        3: (Phrase.of("about typical"), 0),  # neutral words go with either sign
        4: (Phrase.of("no record"), 0),
    }
    weighted = [(-0.5, first), (0.3, second), (-0.2, third), (0.0, [Step("Deal", 0), Step("Contact", 4)])]
    worded: list[int] = []

    def word(steps: list[Step]) -> tuple[Phrase, int]:
        worded.append(steps[1].pos)
        return words[steps[1].pos]

    shown, withheld = reasons(weighted, word, top=3)
    assert [steps for _, steps, _ in shown] == [third]  # the path of no weight is no reason either
    assert withheld == 2
    assert sorted(worded) == [1, 2, 3]  # each path worded once, the one of no weight never


@pytest.fixture(scope="module")
def second_seed(tmp_path_factory) -> GraphStore:
    """Another small sample (another seed), loaded, trained and scored like the session's: the check must hold
    for a model and data it was not tuned on."""
    from gnn.score import score_open_deals
    from gnn.train import train

    root = tmp_path_factory.mktemp("second_seed")
    generate_sample(root / "sample", accounts=SMALL_ACCOUNTS, seed=12)
    store = open_store(sqlite_url(root / "graph.db"), load_schema())
    load_export(store, root / "sample", load_mapping("salesforce", store.schema), root / "quarantine")
    train(store, root, truth=root / "sample" / "truth.csv")
    score_open_deals(store, root)
    yield store
    store.close()


@pytest.mark.parametrize("sample", ["trained", "second_seed"])
def test_no_explained_open_deal_contradicts_its_sign(sample: str, request: pytest.FixtureRequest) -> None:
    """The rule-based check over every explained open deal of two samples, as stored by `dealgraph score`."""
    store = request.getfixturevalue(sample)
    store = store.store if sample == "trained" else store
    scores = store.latest_scores(open_deal_ids(store.snapshot()))
    explanations = [s.explanation for s in scores.values()]
    paths = [p for e in explanations if e is not None for p in e.paths]
    assert len(paths) >= len(scores)  # most deals are explained: the check is not vacuous
    assert contradictions(explanations) == []
    own = [(deal, p) for deal, s in scores.items() if s.explanation is not None for p in s.explanation.paths
           if len(p.steps) == 1]
    assert own  # the deal's own facts are among the reasons, so the check covers their words too
    for deal, p in own:  # one step: the deal itself, which a rep who sees the deal sees
        assert p.steps[0].label == Label.DEAL and p.steps[0].id == deal and "typical" in p.reference.text()
    for p in paths:
        assert p.reference is not None and "typical" in p.reference.text()
        if "earlier deals won" in p.text:  # a stated record is compared with typical
            assert "typical" in p.text, p.text
        if len(p.steps) > 1 and p.steps[1].label == Label.ACTIVITY:  # the deal's own activities have their words
            assert "is linked to this deal" not in p.text and " → " not in p.text, p.text


@pytest.mark.parametrize("against", ["typical deal", "empty graph"])
def test_attributions_sum_to_the_change_from_the_reference(trained, against: str) -> None:
    """Completeness of integrated gradients: edge attributions add up to the logit's change from the reference
    (every neighbour replaced by the average of its type, or no neighbours at all) to the deal as it is — a
    property of the model, not of a template."""
    loaded = load_model(trained.home)
    snap = trained.store.snapshot()
    data = encode(loaded.spec, snap, latest_event_time(snap))
    reference = Reference.mean_of(data.x_dict) if against == "typical deal" else None
    explainer = PathExplainer(loaded.model, data, snap, hops=loaded.model.config.layers)
    index = IncomingIndex(data)
    positions = pd.Index(data["Deal"].node_id).get_indexer(open_deal_ids(snap)[:10])
    checked = 0
    for deal_pos in positions.tolist():
        node_map, distance = computation_subgraph(index, deal_pos, explainer.hops)
        sub = prune_to_messages(explainer.tensors.subgraph(node_map), distance, explainer.hops)
        local = torch.tensor([int((node_map["Deal"] == deal_pos).nonzero()[0, 0])])
        everything = {e: torch.arange(ei.shape[1]) for e, ei in sub.edge_index_dict.items()}
        full = float(masked_logits(loaded.model, sub.x_dict, sub.edge_index_dict, local, {}, reference)[0])
        typical = float(masked_logits(loaded.model, sub.x_dict, sub.edge_index_dict, local, everything, reference)[0])
        # With every edge kept, the reference graph scores the deal exactly as the model does.
        with torch.no_grad():
            assert full == pytest.approx(float(loaded.model(sub.x_dict, sub.edge_index_dict)[local][0]), abs=1e-4)
        if abs(full - typical) < 0.05:
            continue
        algorithm = EdgeIntegratedGradients(steps=64, reference=reference)
        masks = make_explainer(loaded.model, algorithm)(sub.x_dict, sub.edge_index_dict, index=local)
        total = sum(float(masks[e].edge_mask.sum()) for e in sub.edge_types)
        assert total == pytest.approx(full - typical, rel=0.05, abs=0.02)
        checked += 1
    assert checked > 0


def test_the_stored_form_keeps_references_and_effects_and_reads_older_ones() -> None:
    from graph.explanation import Explanation, Suggestion

    ana = NodeRef("Contact", "003-a", "Ana")
    typical = Phrase.of("a typical deal")
    now = Explanation(
        method="edge-integrated-gradients",
        paths=(ExplainedPath(0.2, Phrase.of(ana, ": 3 of 4 earlier deals won — above the 40% typical"),
                             (PathStep("Deal", DEAL), PathStep("Contact", ana, "INVOLVES", "out")), typical),),
        suggestions=(Suggestion("economic_buyer", None, Phrase.of("Add ", ana, "."), ana, 0.031,
                                Phrase.of("this deal as it stands")),),
        fidelity=0.1, fidelity_each=0.05, random_fidelity_each=0.01, extra={"reference": "a typical deal"})
    data = now.to_json()
    assert data["paths"][0]["reference"] == "a typical deal" and data["suggestions"][0]["effect"] == 0.031
    assert Explanation.from_json(data) == now
    # Stored before references: no reference, no effect, an int path; still read.
    older = {"method": "edge-integrated-gradients", "paths": [{k: v for k, v in data["paths"][0].items()
                                                             if not k.startswith("reference")}],
             "suggestions": [{"kind": "keep", "path": 0, "text": "Keep Ana.",
                              "phrase": ["Keep ", {"ref": ana.to_json()}]}]}
    read = Explanation.from_json(older)
    assert read.paths[0].reference is None and read.suggestions[0].path == 0 and read.suggestions[0].effect is None


def test_activity_facts_are_known_at_the_scoring_time_worded_with_their_sign_and_redacted(trained) -> None:
    """The last meeting or call of an open deal, as a path through its Activity node: compared with the typical open
    deal, worded so the check reads the same side as the sentence's polarity, hidden with the activity, and unknown
    to a snapshot as of a time before it happened."""
    from gnn.deal_facts import DealTimeline

    loaded = load_model(trained.home)
    snap = trained.store.snapshot()
    now = latest_event_time(snap)
    explainer = PathExplainer(loaded.model, encode(loaded.spec, snap, now), snap, hops=loaded.model.config.layers,
                              now=now)
    facts, timeline = explainer.facts, explainer.facts.timeline
    open_ids = open_deal_ids(snap)
    deal = next(d for d in open_ids if d in timeline.last_touch)
    last = timeline.last_touch[deal]
    steps = [Step(Label.DEAL, facts.positions[Label.DEAL][deal]),
             Step(Label.ACTIVITY, facts.positions[Label.ACTIVITY][last.activity])]
    phrase, polarity = sentence(steps, facts, explainer.hops)
    text = phrase.text()
    assert f"no meeting or call for {last.days:.0f} days" in text and "typical" in text, text
    for sign in (1.0, -1.0):
        assert (contradiction(ExplainedPath(sign * 0.1, phrase, ())) is None) == (polarity * sign >= 0), text
    activity = facts.ref(Label.ACTIVITY, steps[1].pos)
    hidden = phrase.visible_to(lambda ref: ref.label != Label.ACTIVITY).text()
    assert activity.name not in hidden and "days" not in hidden and "an activity you cannot see" in hidden
    # Replies are counted from e-mails sent, and their words take the side of their polarity too.
    for (deal_id, contact), (replied, sent) in list(timeline.replies.items())[:20]:
        assert 0 <= replied <= sent
        words, side = timeline.reply_words(deal_id, contact) or ("", 0)
        assert (contradiction(ExplainedPath(-0.1 if side > 0 else 0.1, Phrase.of(words), ())) is None) == (side == 0)
    # As of a second before that meeting or call, it is unknown: no sentence can state it.
    occurred = snap.nodes[Label.ACTIVITY].set_index("id").loc[last.activity, "occurred_at"]
    earlier = DealTimeline(snap, occurred - pd.Timedelta(seconds=1), set(open_ids))
    assert last.activity not in earlier.described
    assert deal not in earlier.last_touch or earlier.last_touch[deal].activity != last.activity


def test_a_reason_is_weighed_by_its_measured_effect_on_the_score(trained) -> None:
    """Occlusion in one batched pass gives, for every candidate path of every deal of the batch, the logit's
    change when that path alone is put back to the reference — the same as scoring each edit on its own."""
    from collections import defaultdict

    from gnn.paths import candidates, edge_positions, evidence_paths, is_evidence
    from gnn.score import open_examples
    from gnn.subgraph import batch

    loaded = load_model(trained.home)
    snap = trained.store.snapshot()
    opened = open_examples(snap, loaded.spec)
    explainer = PathExplainer(loaded.model, opened.data, snap, hops=loaded.model.config.layers)
    pieces, x, ei = batch([(pos, *explainer._computation_graph(pos)) for pos in opened.index.tolist()[:4]])
    locals_ = torch.tensor([p.local for p in pieces])
    found = []
    for piece in pieces:
        zero = {e: torch.zeros(piece.sub[e].edge_index.shape[1]) for e in piece.sub.edge_types}
        paths = evidence_paths(piece.sub, piece.node_map, piece.deal_pos, zero, explainer.hops)
        found.append(candidates([(float(len(p)), p) for _, p in paths if is_evidence(p[-1], explainer.facts)], k=5))
    measured = explainer._occlusion(pieces, found, x, ei, locals_)
    full = masked_logits(loaded.model, x, ei, locals_, {}, explainer.reference)
    checked = 0
    for i, (piece, paths) in enumerate(zip(pieces, measured, strict=True)):
        for effect, steps in paths:
            drop: dict = defaultdict(list)
            edge_positions(piece, [(effect, steps)], drop)
            alone = masked_logits(loaded.model, x, ei, locals_, {e: torch.tensor(v) for e, v in drop.items()},
                                  explainer.reference)
            assert effect == pytest.approx(float(full[i] - alone[i]), abs=1e-4)
            checked += 1
    assert checked > 0


def test_a_record_within_chance_of_typical_is_hedged_but_keeps_its_side(trained) -> None:
    """"1 of 1 earlier deals won" is weak evidence of winning more than typical, so the words hedge it ("within
    chance"); but a reader still takes it as good news, so it may not be shown lowering the score — and "0 of 5
    won" may not be shown raising it (what a rep read as a contradiction when such records took no side)."""
    from gnn.node_facts import Facts

    snap = trained.store.snapshot()
    loaded = load_model(trained.home)
    facts = Facts(snap, encode(loaded.spec, snap, latest_event_time(snap)))
    contact = NodeRef(Label.CONTACT, "003-test", "Test Contact")
    facts.record[(Label.CONTACT, contact.id)] = (1, 0)
    detail, polarity = facts.judged_history(contact, ": ")
    assert polarity == 1 and "above the" in detail.text and detail.text.endswith("within chance")
    assert contradiction(path(detail.text, 0.3)) is None and contradiction(path(detail.text, -0.3)) is not None
    facts.record[(Label.CONTACT, contact.id)] = (0, 2)
    detail, polarity = facts.judged_history(contact, ": ")
    assert polarity == -1 and "below the" in detail.text and "within chance" in detail.text
    assert contradiction(path(detail.text, 0.3)) is not None
    facts.record[(Label.CONTACT, contact.id)] = (60, 0)
    detail, polarity = facts.judged_history(contact, ": ")
    assert polarity == 1 and "above the" in detail.text
    assert contradiction(path(detail.text, -0.3)) is not None


def _timeline_row(values: dict[str, float]) -> tuple[list[str], torch.Tensor]:
    from gnn.timeline import ACTIVITY, HISTORY, column_names

    names = ["bias", *column_names([HISTORY, ACTIVITY], ["Proposal", "Negotiation/Review"])]
    row = torch.zeros(len(names))
    for name, value in values.items():
        row[names.index(f"timeline:{name}")] = value
    return names, row


def test_a_deal_facts_words_take_the_side_the_check_reads() -> None:
    """Each fact's sentence states the deal's value beside the typical one, and the side its words take is the
    side the rule-based check reads: agreeing with a weight of that sign, contradicting the other."""
    import math

    from gnn.deal_reasons import DealRow, fact_groups, fact_sentence

    log = math.log1p
    names, deal = _timeline_row({"has_history": 1, "stage=Negotiation/Review": 1, "days_in_stage": log(41),
                                 "close_pushes": log(3), "days_overdue": log(12), "has_activity": 1,
                                 "days_since_activity": log(24), "email_60d": log(1), "call_60d": log(1)})
    _, typical = _timeline_row({"has_history": 1, "stage=Proposal": 0.5, "days_in_stage": log(12),
                                "close_pushes": log(1), "days_overdue": log(3), "has_activity": 1,
                                "days_since_activity": log(9), "email_60d": log(4), "meeting_60d": log(2)})
    row = DealRow(names, deal, typical)
    said = {g.name: fact_sentence(g.name, row) for g in fact_groups(names)}
    assert said["time_in_stage"] == ("In Negotiation/Review for 41 days — longer than the 12 typical", -1)
    assert said["close_pushes"] == ("Close date pushed 3 times — more than the 1 typical", -1)
    assert said["overdue"] == ("Close date 12 days overdue — more than the 3 typical", -1)
    assert said["recency"] == ("No activity for 24 days — longer than the 9 typical", -1)
    assert said["volume"] == ("2 activities in the last 60 days — quieter than the 6 typical", -1)
    assert said["stage"] == ("At stage Negotiation/Review", 0) and said["amount"] == ("Amount never changed", 0)
    busy = DealRow(names, typical, deal)  # the other way round: good news
    assert fact_sentence("volume", busy) == ("6 activities in the last 60 days — busier than the 2 typical", 1)
    assert fact_sentence("close_pushes", busy) == ("Close date pushed 1 time — fewer than the 3 typical", 1)
    for text, side in [*said.values(), fact_sentence("volume", busy), fact_sentence("close_pushes", busy)]:
        for sign in (1.0, -1.0):
            assert (contradiction(path(text, sign * 0.2)) is None) == (side * sign >= 0), text


def test_a_deal_fact_the_deals_record_contradicts_is_not_stated() -> None:
    """The model reads the close date and stage from their history; where the record a rep sees holds another
    (a change exported without a history row), "12 days overdue" beside a close date still ahead is no reason
    the rep can check, so it is withheld — and one that agrees with the record is kept."""
    import math

    from gnn.deal_reasons import DealRow, disagrees_with_record

    names, deal = _timeline_row({"has_history": 1, "stage=Negotiation/Review": 1, "days_in_stage": math.log1p(41),
                                 "days_overdue": math.log1p(12)})
    row = DealRow(names, deal, deal)
    now = pd.Timestamp("2026-10-31T12:00Z")
    agreeing = {"stage": "Negotiation/Review", "close_date": "2026-10-19"}
    assert not any(disagrees_with_record(g, row, agreeing, now) for g in ("stage", "time_in_stage", "overdue"))
    assert disagrees_with_record("overdue", row, {**agreeing, "close_date": "2026-12-28"}, now)
    assert disagrees_with_record("stage", row, {**agreeing, "stage": "Proposal"}, now)
    assert disagrees_with_record("time_in_stage", row, {**agreeing, "stage": "Proposal"}, now)
    assert not disagrees_with_record("close_pushes", row, {"close_date": "2026-12-28"}, now)  # history's own fact
    assert not disagrees_with_record("overdue", row, {}, now)  # no record to check against


def test_a_deal_fact_is_stated_as_of_the_scoring_time(trained) -> None:
    """A close-date push recorded after the scoring time is not in the sentence; one before it is."""
    from gnn.deal_reasons import DealRow, fact_sentence
    from graph.dated_values import changes_of

    loaded = load_model(trained.home)
    snap = trained.store.snapshot()
    names = loaded.spec.column_names(Label.DEAL)
    changes = changes_of(snap.schema, snap.nodes, snap.edges, Label.DEAL).dropna(subset=["close_date"])
    pushes = changes[changes["close_date"] > changes.groupby("node")["close_date"].shift()]
    push = pushes.iloc[len(pushes) // 2]
    deal, at = push["node"], push["changed_at"]
    earlier = int(((pushes["node"] == deal) & (pushes["changed_at"] < at)).sum())

    def stated(t: pd.Timestamp) -> str:
        known = snap.as_of(t)
        data = encode(loaded.spec, known, t)
        pos = known.nodes[Label.DEAL].index[known.nodes[Label.DEAL]["id"] == deal][0]
        typical = Reference.mean_of(data.x_dict).x[Label.DEAL]
        worded = fact_sentence("close_pushes", DealRow(names, data[Label.DEAL].x[pos], typical))
        assert worded is not None
        return worded[0]

    def times(n: int) -> str:
        return "never pushed" if not n else f"pushed {n} time{'' if n == 1 else 's'}"

    second = pd.Timedelta(seconds=1)
    assert stated(at - second).startswith(f"Close date {times(earlier)} —")
    assert stated(at + second).startswith(f"Close date {times(earlier + 1)} —")


def test_a_deal_fact_reason_round_trips_and_is_hidden_with_the_deal() -> None:
    from gnn.deal_reasons import FACT_TYPICAL
    from graph.explanation import Detail, Explanation

    fact = ExplainedPath(-0.31, Phrase.of(Detail("Close date pushed 3 times — more than the 1 typical", DEAL)),
                         (PathStep("Deal", DEAL),), FACT_TYPICAL)
    stored = Explanation(method="edge-integrated-gradients+occlusion", paths=(fact,), extra={"withheld_facts": 1})
    assert Explanation.from_json(stored.to_json()) == stored
    assert stored.visible_to(lambda ref: True) == stored  # the rep sees their own deal's facts
    hidden = stored.visible_to(lambda ref: ref.id != DEAL.id)
    assert "pushed" not in hidden.paths[0].text and hidden.paths[0].steps[0].node is None
