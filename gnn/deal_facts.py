"""What reasons and next steps say about a deal's activity, as of the time it is scored.

Read from the same snapshot the model saw, and only what happened before `now` (the scoring time), so a
sentence never states a fact the score could not use. Every fact is compared with the typical open deal at
that time (the median), and its words take a side only where it differs from typical:

- the last meeting or call: "no meeting or call for 24 days — longer than the 9 typical" (against);
- a contact's replies on the deal: "Ana Ruiz replied to 5 of 6 emails in the last 90 days — above the 40%
  typical" (for), against the share of all outbound e-mails answered;
- days with no activity at all, for the "re-engage" step (`gnn.suggest`).

Stage history (`DealChange`) is no node of the model's graph, so no path runs through it: its facts reach
the rep as the deal's own reasons (`gnn.deal_reasons`, from the model's timeline columns) and in the widget
(`stageEnteredAt`).

`activity_sentence` words a path through one of the deal's activities. Its polarity words ("longer than",
"shorter than", "above", "below" with "typical") are the ones `gnn.wording.contradiction` reads, so the
check and the sentences agree by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from graph.explanation import Detail, Phrase
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

if TYPE_CHECKING:
    from gnn.node_facts import Facts
    from gnn.paths import Step

#: Conversations with a person: what "no meeting or call for N days" counts.
TOUCHES = ("meeting", "call")
#: The window replies are counted over.
REPLY_WINDOW_DAYS = 90
#: Within this many days of typical, a recency is "about typical" and takes no side.
NEAR_DAYS = 1.0
#: A reply share within this of typical takes no side.
NEAR_SHARE = 0.02


@dataclass(frozen=True)
class LastActivity:
    activity: str  # its id
    kind: str
    days: float  # days before the scoring time


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 86400.0


def compared(value: float, typical: float, near: float, more: str, less: str) -> tuple[str, int]:
    """("longer than", -1)-style words and polarity for a value against typical, where more is worse."""
    if abs(value - typical) <= near:
        return "about", 0
    return (more, -1) if value > typical else (less, 1)


def _newest(acts: pd.DataFrame) -> dict[str, LastActivity]:
    """Each deal's most recent activity of these (ties: the smallest id)."""
    # Only each deal's most recent ones are sorted: sorting every activity by time and id was seconds at 1M rows.
    recent = acts[acts["days"] == acts.groupby("deal")["days"].transform("min")]
    newest = recent.sort_values(["days", "id"]).drop_duplicates("deal")
    return {deal: LastActivity(act, str(kind), float(days)) for deal, act, kind, days in zip(
        newest["deal"].tolist(), newest["id"].tolist(), newest["kind"].tolist(), newest["days"].tolist(), strict=True)}


class Described(Mapping[str, str]):
    """Activity id -> "a call 12 days ago", worded when asked: an explanation names a few of the graph's
    activities, and wording all of them up front was seconds of every scoring at 1M rows."""

    def __init__(self, acts: pd.DataFrame) -> None:
        last = acts.drop_duplicates("id", keep="last")  # an activity about two deals: one wording, as a dict kept
        kinds_days = zip(last["kind"].tolist(), last["days"].tolist(), strict=True)
        self._rows = dict(zip(last["id"].tolist(), kinds_days, strict=True))

    def __getitem__(self, activity: str) -> str:
        kind, days = self._rows[activity]
        return f"{_article(str(kind))} {kind} {days:.0f} days ago"

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class DealTimeline:
    """Each deal's activity facts as of `now`, and the typical open deal's."""

    def __init__(self, snapshot: Snapshot, now: pd.Timestamp, open_deals: set[str]) -> None:
        self.now = now
        self.last: dict[str, LastActivity] = {}
        self.last_touch: dict[str, LastActivity] = {}
        self.replies: dict[tuple[str, str], tuple[int, int]] = {}  # (deal, contact) -> (replies, emails sent)
        self.reply_share = 0.0
        acts = self._activities(snapshot, now)
        if not acts.empty:
            self.last = _newest(acts)
            self.last_touch = _newest(acts[acts["kind"].isin(TOUCHES)])
            self._count_replies(snapshot, acts)
        #: "a call 12 days ago": what a sentence says about one activity, known as of `now`.
        self.described = Described(acts)
        deals = snapshot.nodes[Label.DEAL]
        self.age = dict(zip(deals["id"].tolist(), _days(now - deals["created_at"]).clip(lower=0).fillna(0).tolist(),
                            strict=True))
        self.typical_quiet = self._median(open_deals, lambda d: self.days_quiet(d))
        self.typical_untouched = self._median(open_deals, lambda d: self.days_untouched(d))

    @staticmethod
    def _activities(snapshot: Snapshot, now: pd.Timestamp) -> pd.DataFrame:
        """Activities about deals, recorded before `now`, with their days before it."""
        if Label.ACTIVITY not in snapshot.nodes or snapshot.nodes[Label.ACTIVITY].empty:
            return pd.DataFrame(columns=["id", "deal", "kind", "direction", "days"])
        acts = snapshot.nodes[Label.ACTIVITY][["id", "kind", "direction", "occurred_at"]]
        acts = acts[acts["occurred_at"] < now]
        about = snapshot.edges[Rel.REGARDS][["src", "dst"]].rename(columns={"src": "id", "dst": "deal"})
        acts = about.merge(acts, on="id")
        return acts.assign(days=_days(now - acts["occurred_at"]))

    def _count_replies(self, snapshot: Snapshot, acts: pd.DataFrame) -> None:
        emails = acts[(acts["kind"] == "email") & (acts["days"] <= REPLY_WINDOW_DAYS)]
        people = snapshot.edges[Rel.WITH_CONTACT][["src", "dst"]].rename(columns={"src": "id", "dst": "contact"})
        emails = emails.merge(people, on="id")
        if emails.empty:
            return
        counts = emails.groupby(["deal", "contact", "direction"]).size().unstack(fill_value=0)
        sent = counts["outbound"] if "outbound" in counts else pd.Series(0, index=counts.index)
        got = counts["inbound"] if "inbound" in counts else pd.Series(0, index=counts.index)
        replied = np.minimum(got, sent)  # a reply answers an e-mail sent; more inbound than sent is not "7 of 5"
        self.replies = {key: (int(r), int(s)) for key, r, s in zip(counts.index, replied, sent, strict=True) if s}
        total = int(sent.sum())
        self.reply_share = float(replied.sum()) / total if total else 0.0

    @staticmethod
    def _median(deals: set[str], value: Callable[[str], float | None]) -> float:
        values = [v for d in deals if (v := value(d)) is not None]
        return float(np.median(values)) if values else 0.0

    def days_quiet(self, deal: str) -> float | None:
        """Days since the deal's last activity (its age where it has none)."""
        last = self.last.get(deal)
        return last.days if last is not None else self.age.get(deal)

    def days_untouched(self, deal: str) -> float | None:
        """Days since the deal's last meeting or call (its age where it had none)."""
        last = self.last_touch.get(deal)
        return last.days if last is not None else self.age.get(deal)

    def untouched_words(self, deal: str) -> tuple[str, int]:
        """ "no meeting or call for 24 days — longer than the 9 typical", and its polarity."""
        days = self.days_untouched(deal) or 0.0
        words, polarity = compared(round(days), round(self.typical_untouched), NEAR_DAYS, "longer than",
                                   "shorter than")
        return f"no meeting or call for {days:.0f} days — {words} the {self.typical_untouched:.0f} typical", polarity

    def reply_words(self, deal: str, contact: str) -> tuple[str, int] | None:
        """ "replied to 5 of 6 emails in the last 90 days — above the 40% typical", or None without e-mails sent."""
        replied, sent = self.replies.get((deal, contact), (0, 0))
        if not sent:
            return None
        share = replied / sent
        if abs(share - self.reply_share) < NEAR_SHARE:
            words, polarity = "about", 0
        else:
            words, polarity = ("above", 1) if share > self.reply_share else ("below", -1)
        return (f" replied to {replied} of {sent} emails in the last {REPLY_WINDOW_DAYS} days — {words} the "
                f"{self.reply_share:.0%} typical"), polarity

    def quiet_for(self, deal: str) -> tuple[int, int] | None:
        """(days with no activity, typical days) where the deal has been quiet for longer than typical."""
        days = self.days_quiet(deal)
        if days is None or round(days) <= round(self.typical_quiet) + NEAR_DAYS:
            return None
        return round(days), round(self.typical_quiet)


def activity_sentence(steps: list[Step], facts: Facts) -> tuple[Phrase, int] | None:
    """A path through one of the deal's activities, worded with what the rep knew of it when it was scored
    (`gnn.deal_facts`); None for shapes worded generically. What is said of the activity is a detail about it,
    so a reader who may not see the activity gets neither its subject nor its facts."""
    deal = facts.node_id(Label.DEAL, steps[0].pos)
    act = facts.ref(Label.ACTIVITY, steps[1].pos)
    timeline = facts.timeline
    when = Detail(f" ({timeline.described[act.id]})", act) if act.id in timeline.described else ""
    if len(steps) == 2:
        last = timeline.last_touch.get(deal)
        if last is not None and last.activity == act.id:
            words, polarity = timeline.untouched_words(deal)
            return Phrase.of("The last meeting or call, ", act, when, Detail(": " + words, act)), polarity
        return Phrase.of("An activity on this deal, ", act, when), 0
    if len(steps) != 3:
        return None
    other = facts.ref(steps[2].label, steps[2].pos)
    if other.label == Label.CONTACT:
        replied = timeline.reply_words(deal, other.id)
        if replied is not None:
            return Phrase.of(other, Detail(replied[0], act)), replied[1]
        return Phrase.of(other, " took part in ", act, when), 0
    if other.label == Label.REP:
        return Phrase.of(other, " logged ", act, when), 0
    if other.label == Label.ACCOUNT:
        return Phrase.of(act, when, " at ", other), 0
    return None
