"""What a rep sees happen on a deal: stage changes, close-date pushes, amount changes, e-mails, calls, meetings.

Two kinds of signal (see ``docs/sample-data.md``):

* **Readouts of the deal's propensity.** Each deal's stage path, close-date slips and activity stream are drawn
  from its true logit plus independent noise (one noise draw per family), never from its realised outcome: late
  stages, few pushes and rising activity go with wins, but far from certainly, and they reveal the latents no
  other table shows.
* **A planted two-hop, non-additive effect.** Every contact has a responsiveness ``r_c ~ N(0,1)``. It changes
  the win probability only on deals where that contact is the **Economic Buyer** (``RESPONSE_WEIGHT × r_c``,
  averaged over the deal's economic buyers; 0 on deals without one), and it shows only in how often the contact
  answers e-mails, on any of their deals. So it takes role × a property of the neighbour learned from the
  neighbour's own activity: Deal -(economic buyer)- Contact - Activity.

All draws come from a generator of their own (``default_rng([seed, 18])``), so the rest of the sample is drawn
exactly as before this module existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _vocab as V
from ._format import DAY

RESPONSE_WEIGHT = 1.2
REPLY_SLOPE = 1.3  # how strongly responsiveness shows in the reply rate (per unit of r_c, on the logit)
ECONOMIC_BUYER = [r[0] for r in V.ROLES].index("Economic Buyer")
HOUR = 3600
N_OPEN = len(V.OPEN_STAGES)
WON_STAGE, LOST_STAGE = N_OPEN, N_OPEN + 1  # stage indices, as in World.opp_stage
KINDS = ("email", "call", "meeting", "task")


def responsiveness(seed: int, n_contacts: int) -> tuple[np.random.Generator, np.ndarray]:
    """The timeline's own generator, and each contact's responsiveness (its first draws)."""
    rng = np.random.default_rng([seed, 18])
    return rng, rng.standard_normal(n_contacts)


def response_effect(response: np.ndarray, ocr_opp: np.ndarray, ocr_contact: np.ndarray, ocr_role: np.ndarray,
                    n_opp: int) -> np.ndarray:
    """Per deal: ``RESPONSE_WEIGHT ×`` the mean responsiveness of its economic buyers (0 without one)."""
    buyer = ocr_role == ECONOMIC_BUYER
    total = np.bincount(ocr_opp[buyer], weights=response[ocr_contact[buyer]], minlength=n_opp)
    count = np.bincount(ocr_opp[buyer], minlength=n_opp)
    return RESPONSE_WEIGHT * np.where(count > 0, total / np.maximum(count, 1), 0.0)


@dataclass
class Timeline:
    """OpportunityHistory rows and activity rows (Task and Event), as arrays in time order."""

    # OpportunityHistory: the deal's stage, amount and close date from `ch_time` on.
    ch_opp: np.ndarray
    ch_time: np.ndarray
    ch_stage: np.ndarray
    ch_amount_cents: np.ndarray
    ch_close_day: np.ndarray
    # Activities: kind index into KINDS, the contact role row it was with (-1: none), inbound or not.
    act_opp: np.ndarray
    act_time: np.ndarray
    act_kind: np.ndarray
    act_ocr: np.ndarray
    act_inbound: np.ndarray
    act_open_task: np.ndarray
    act_booked: np.ndarray  # meetings: when the event was put in the calendar (its CreatedDate)


def build_timeline(rng: np.random.Generator, response: np.ndarray, centred_logit: np.ndarray,
                   opp_created: np.ndarray, opp_close: np.ndarray, opp_closed: np.ndarray, opp_won: np.ndarray,
                   amount_cents: np.ndarray, ocr_opp: np.ndarray, ocr_contact: np.ndarray,
                   ocr_created: np.ndarray, as_of_s: int) -> tuple[Timeline, np.ndarray, np.ndarray]:
    """Every deal's history and activity up to ``as_of_s``, and the stage and close day its history ends on.

    ``centred_logit`` is the true logit less the base rate: the propensity the readouts are noisy copies of.
    What the history ends on is what the Opportunity row shows: an open deal's stage and expected close day (in
    the past once pushes stopped at 8), a closed deal's Closed stage and the day it closed.
    """
    n_opp = opp_created.size
    duration = np.maximum(opp_close - opp_created, DAY)
    m_stage = centred_logit + 0.7 * rng.standard_normal(n_opp)
    m_push = centred_logit + rng.standard_normal(n_opp)
    m_act = centred_logit + 0.8 * rng.standard_normal(n_opp)
    top = np.clip(np.round(2.6 + 1.1 * m_stage + 0.5 * rng.standard_normal(n_opp)), 0, N_OPEN - 1).astype(int)
    regress = (top >= 1) & (rng.random(n_opp) < 0.35 / (1 + np.exp(m_stage)))
    optimism = np.exp(-0.35 + 0.25 * m_push + 0.25 * rng.standard_normal(n_opp))  # expected / true duration
    amount_move = rng.random(n_opp) < 0.3
    first_amount = np.where(amount_move, np.exp(0.08 - 0.1 * m_push + 0.15 * rng.standard_normal(n_opp)), 1.0)
    rows_of: list[list[int]] = [[] for _ in range(n_opp)]
    for row, opp in enumerate(ocr_opp.tolist()):
        rows_of[opp].append(row)

    ch: list[tuple[int, int, int, int, int]] = []  # opp, time, stage, amount cents, close day
    acts: list[tuple[int, int, int, int, bool, bool, int]] = []
    now_stage, now_close_day = np.full(n_opp, -1), np.full(n_opp, -1, dtype=np.int64)
    for o in range(n_opp):
        created, dur, end = int(opp_created[o]), int(duration[o]), int(opp_close[o])
        limit = min(end, as_of_s)
        # Stage path: stages 1..top reached at growing shares of the deal's life, maybe one step back late on.
        shares = np.sort(np.clip(np.arange(1, top[o] + 1) / (top[o] + 1) * np.exp(0.15 * rng.standard_normal(top[o])),
                                 0.02, 0.95))
        events: list[tuple[int, str, int]] = [(created + int(s * dur), "stage", k + 1) for k, s in enumerate(shares)]
        if regress[o]:
            last = shares[-1]
            events.append((created + int((last + (0.97 - last) * rng.uniform(0.3, 0.9)) * dur), "stage", top[o] - 1))
        # Close date: first expected optimistically, pushed by 2-6 weeks each time it passes with the deal open.
        expected = created + int(optimism[o] * dur)
        pushes = 0
        while expected < limit and pushes < 8:
            events.append((max(created + 1, expected - int(rng.uniform(0, 4) * DAY)), "close", expected + int(
                rng.uniform(14, 45) * DAY)))
            expected = events[-1][2]
            pushes += 1
        first = amount_cents[o] * first_amount[o]
        if amount_move[o]:
            corrected = created + int(rng.uniform(0.1, 0.9) * dur)  # to the line items' total, the exported Amount
            if corrected < limit:
                events.append((corrected, "amount", int(amount_cents[o])))
            else:  # an open deal not corrected by the export shows that total from the start, as it exports it
                first = amount_cents[o]
        if opp_closed[o]:
            events.append((end, "stage", WON_STAGE if opp_won[o] else LOST_STAGE))
        stage, amount = 0, int(round(first))
        close_day = (created + int(optimism[o] * dur)) // DAY
        ch.append((o, created, stage, amount, close_day))
        for t, what, value in sorted(events):
            if t >= as_of_s or (what != "stage" and t >= end):
                continue
            if what == "stage":
                stage = value
                if stage in (WON_STAGE, LOST_STAGE):
                    close_day = t // DAY  # closing a deal sets its close date to the day it closed
            elif what == "close":
                close_day = value // DAY
            else:
                amount = value
            ch.append((o, t, stage, amount, close_day))
        now_stage[o], now_close_day[o] = stage, close_day
        _activities(rng, o, created, dur, limit, m_act[o], response, rows_of[o], ocr_contact, ocr_created, acts)

    ch_arr = np.array(ch, dtype=np.int64).reshape(-1, 5)
    order = np.lexsort((ch_arr[:, 0], ch_arr[:, 1]))
    ch_arr = ch_arr[order]
    act_arr = np.array(acts, dtype=np.int64).reshape(-1, 7)
    act_arr = act_arr[np.lexsort((act_arr[:, 0], act_arr[:, 1]))]
    timeline = Timeline(
        ch_opp=ch_arr[:, 0], ch_time=ch_arr[:, 1], ch_stage=ch_arr[:, 2], ch_amount_cents=ch_arr[:, 3],
        ch_close_day=ch_arr[:, 4],
        act_opp=act_arr[:, 0], act_time=act_arr[:, 1], act_kind=act_arr[:, 2], act_ocr=act_arr[:, 3],
        act_inbound=act_arr[:, 4].astype(bool), act_open_task=act_arr[:, 5].astype(bool), act_booked=act_arr[:, 6],
    )
    return timeline, now_stage, now_close_day


def _activities(rng: np.random.Generator, o: int, created: int, dur: int, limit: int, momentum: float,
                response: np.ndarray, rows: list[int], ocr_contact: np.ndarray, ocr_created: np.ndarray,
                out: list[tuple[int, int, int, int, bool, bool, int]]) -> None:
    """One deal's e-mails, calls, meetings and tasks: more, and later in its life, the likelier it is won."""
    weeks = dur / (7 * DAY)
    n = min(int(rng.poisson(0.45 * np.exp(0.5 * momentum) * weeks)), 30)
    # A share u of the life raised to a power: above 1 the activity bunches early and the deal goes quiet.
    shares = rng.random(n) ** np.exp(-0.35 * momentum)
    p_meeting = 0.08 + 0.14 / (1 + np.exp(-momentum))
    for share in np.sort(shares).tolist():
        t = created + int(share * dur)
        if t >= limit:
            continue
        u = rng.random()
        kind = 0 if u < 0.5 else 1 if u < 0.7 else 2 if u < 0.7 + p_meeting else 3
        present = [r for r in rows if ocr_created[r] <= t]
        row = present[int(rng.integers(len(present)))] if present else -1
        inbound_call = kind == 1 and rng.random() < 0.12
        booked = t - int(rng.uniform(1, 10) * DAY) if kind == 2 else t
        out.append((o, t, kind, row, inbound_call, kind == 3 and rng.random() < 0.3, booked))
        if kind == 0 and row >= 0:
            reply = 1 / (1 + np.exp(0.4 - REPLY_SLOPE * response[ocr_contact[row]] - 0.3 * momentum))
            t_reply = t + int(rng.uniform(1, 72) * HOUR)
            if rng.random() < reply and t_reply < limit:
                out.append((o, t_reply, 0, row, True, False, t_reply))
