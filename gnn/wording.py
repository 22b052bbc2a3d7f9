"""Path sentences a rep reads, and the rule-based check that their words agree with their sign.

`sentence` words a path with the evidence it stands for, compared with typical ("3 of 4 earlier deals won —
above the 45% typical"), and returns the side those words take. `contradiction` judges the rendered text alone,
so it also judges explanations stored by earlier versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gnn.deal_facts import activity_sentence
from gnn.node_facts import Facts
from gnn.paths import EdgeType, Step
from graph.explanation import Detail, ExplainedPath, Explanation, PathStep, Phrase, Segment
from ontology.names import Label


def relation(edge_type: EdgeType | None) -> tuple[str, str, str | None]:
    """(relation, direction along the path, role) of the message edge that a path step follows."""
    if edge_type is None:
        raise ValueError("a path's first step (the deal itself) follows no edge")
    name = edge_type[1]
    forward = not name.startswith("rev_")
    base = name.removeprefix("rev_")
    relation, _, value = base.partition(":")
    # A message u -> v followed backwards from v: the path goes against the message.
    return relation, ("in" if forward else "out"), (value or None)


def sentence(steps: list[Step], facts: Facts, hops: int) -> tuple[Phrase, int]:
    """One plain sentence for a path, naming nodes by reference, and the polarity of the evidence it states:
    +1 for evidence that should raise a score compared with typical (a won deal, a record above typical),
    -1 for the opposite, 0 where the words take no side. A node's record is stated only where the model can
    see it: its neighbours' messages reach the deal only when the node is less than `hops` steps away."""
    first, last = steps[1], steps[-1]
    if first.label == Label.ACTIVITY and (worded := activity_sentence(steps, facts)) is not None:
        return worded
    rel1, dir1, role = relation(first.edge_type)
    role_text = f" ({role.replace('_', ' ')} on this deal)" if role and role != "unknown" else " (on this deal)"
    one = facts.ref(first.label, first.pos)
    sees_record = len(steps) - 1 < hops
    if len(steps) == 2:
        record, polarity = facts.judged_history(one, ": ") if sees_record else (Detail("", one), 0)
        if first.label == Label.CONTACT:
            return Phrase.of(one, role_text, record), polarity
        if first.label == Label.ACCOUNT:
            return Phrase.of("The account ", one, record), polarity
        if first.label == Label.PRODUCT:
            return Phrase.of("The product ", one, record), polarity
        if first.label == Label.REP:
            return Phrase.of("The owner ", one, record), polarity
        return Phrase.of(f"{first.label} ", one, " is linked to this deal"), 0
    two = facts.ref(last.label, last.pos)
    rel2, dir2, role2 = relation(last.edge_type)
    if last.label == Label.DEAL:
        result = facts.result.get(two.id, "open")
        outcome = Detail(f", which was {result}", two)
        polarity = {"won": 1, "lost": -1}.get(result, 0)
        account = facts.deal_account_ref(two.id)
        at: tuple[Segment, ...] = (" at ", account) if account else ()
        if first.label == Label.CONTACT:
            role2 = role2 or facts.roles.get((two.id, one.id))
            part = f"{role2.replace('_', ' ')} on" if isinstance(role2, str) and role2 != "unknown" else "on"
            return Phrase.of(one, role_text, f" was {part} ", two, *at, outcome), polarity
        if first.label == Label.ACCOUNT:
            return Phrase.of("An earlier deal at ", one, ", ", two, outcome), polarity
        if first.label == Label.PRODUCT:
            return Phrase.of(two, *at, ", also for ", one, outcome), polarity
        if first.label == Label.REP:
            return Phrase.of("The owner ", one, " also had ", two, *at, outcome), polarity
    record, polarity = facts.judged_history(two, ", whose record: ") if sees_record else (Detail("", two), 0)
    if first.label == Label.ACCOUNT and last.label == Label.ACCOUNT:
        kin = "a subsidiary of" if dir2 == "out" else "the parent of"
        return Phrase.of(one, f" is {kin} ", two, record), polarity
    if first.label == Label.CONTACT and last.label == Label.ACCOUNT:
        return Phrase.of(one, role_text, " works or worked at ", two, record), polarity
    if first.label == Label.ACCOUNT and last.label == Label.CONTACT:
        return Phrase.of(two, " works or worked at ", one, record), polarity
    parts: list[Segment] = []
    for s in steps:
        parts += [" → " if parts else "", f"{s.label} ", facts.ref(s.label, s.pos)]
    return Phrase.of(*parts), 0


#: Wording that takes a side, and the direction it takes. A path worded one way and weighted the other is a
#: contradiction a rep would see at once ("... which was won" shown as lowering the score). The deal's own facts
#: (`gnn.deal_reasons`) use the same words: more pushes, days overdue or quiet days are bad news; more activity is
#: "busier", good news.
_FOR = (re.compile(r"which was won\b"), re.compile(r"\babove the \d+% typical"),
        re.compile(r"\b(shorter|fewer) than the \d+ typical"), re.compile(r"\bbusier than the \d+ typical"))
_AGAINST = (re.compile(r"which was lost\b"), re.compile(r"\bbelow the \d+% typical"),
            re.compile(r"\b(longer|more) than the \d+ typical"), re.compile(r"\bquieter than the \d+ typical"))
_UNANCHORED = re.compile(r"\b(\d+) won and (\d+) lost\b")  # how records were worded before "typical"


def contradiction(path: ExplainedPath) -> str | None:
    """Why a path's words contradict its sign, or None: a rule on the rendered text, independent of how the
    sentence was built, so it also judges explanations stored by earlier versions."""
    text = path.text
    pro = any(p.search(text) for p in _FOR)
    con = any(p.search(text) for p in _AGAINST)
    match = _UNANCHORED.search(text)
    if match and not (pro or con):
        won, lost = int(match[1]), int(match[2])
        pro, con = won > lost, lost > won
    if pro and path.direction == "lowers":
        return "good evidence worded, lowers the score"
    if con and path.direction == "raises":
        return "bad evidence worded, raises the score"
    return None


def contradictions(explanations: Iterable[Explanation | None]) -> list[tuple[str, str]]:
    """Every contradicting path sentence among the explanations, as (reason, sentence)."""
    return [(why, path.text) for e in explanations if e is not None for path in e.paths
            if (why := contradiction(path)) is not None]


def path_step(step: Step, facts: Facts) -> PathStep:
    name, direction = (None, None)
    if step.edge_type is not None:
        name, direction, _ = relation(step.edge_type)
    return PathStep(step.label, facts.ref(step.label, step.pos), name, direction)

