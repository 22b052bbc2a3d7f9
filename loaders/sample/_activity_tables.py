"""Format the timeline (`_timeline`) as Salesforce writes it: OpportunityHistory, Task and Event rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ontology.names import Label

from . import _vocab as V
from ._format import DAY, fmt_date, fmt_datetime, fmt_int, fmt_money, sf_ids
from ._timeline import KINDS

if TYPE_CHECKING:
    from ._tables import Columns, Layout, Refs
    from ._world import World

_STAGES = V.OPEN_STAGES + (V.WON_STAGE, V.LOST_STAGE)
_SUBJECTS = {
    "email": ("Email: Follow-up", "Email: Proposal", "Email: Pricing question", "Email: Next steps"),
    "call": ("Call: Discovery", "Call: Check-in", "Call: Pricing"),
    "meeting": ("Demo", "Workshop", "Pricing review", "Executive briefing"),
    "task": ("Send contract draft", "Prepare quote", "Update mutual plan"),
}


def _ids(prefix: str, counters: np.ndarray) -> np.ndarray:
    return sf_ids(V.KEY_PREFIX[prefix], counters)


def _subjects(kind: str, count: int, salt: np.ndarray) -> np.ndarray:
    options = np.array(_SUBJECTS[kind], dtype=object)
    return options[salt % len(options)] if count else np.zeros(0, dtype=object)


def opportunity_history(w: World, lay: Layout) -> Columns:
    """One row per change and one at creation, each with the deal's stage, amount and close date from then on."""
    t = w.timeline
    n = t.ch_opp.size
    return {
        "Id": _ids("OpportunityHistory", np.arange(n)).tolist(),
        "OpportunityId": _ids("Opportunity", lay.opp_pos[t.ch_opp]).tolist(),
        "StageName": np.array([s[0] for s in _STAGES], dtype=object)[t.ch_stage].tolist(),
        "Amount": fmt_money(t.ch_amount_cents),
        "CloseDate": fmt_date(t.ch_close_day).tolist(),
        "Probability": np.array([str(s[1]) for s in _STAGES], dtype=object)[t.ch_stage].tolist(),
        "ForecastCategory": np.array([s[2] for s in _STAGES], dtype=object)[t.ch_stage].tolist(),
        "CreatedById": _ids("User", lay.rep_pos[w.opp_owner[t.ch_opp]]).tolist(),
        "CreatedDate": fmt_datetime(t.ch_time).tolist(),
    }


def _activity_columns(w: World, lay: Layout, refs: Refs, rows: np.ndarray, prefix: str) -> Columns:
    t = w.timeline
    opp, ocr = t.act_opp[rows], t.act_ocr[rows]
    who = np.where(ocr >= 0, _ids(Label.CONTACT, refs.ocr_contact[np.maximum(ocr, 0)]), "")
    return {
        "Id": _ids(prefix, np.arange(rows.size)).tolist(),
        "WhatId": _ids("Opportunity", lay.opp_pos[opp]).tolist(),
        "WhoId": who.tolist(),
        "AccountId": _ids(Label.ACCOUNT, refs.opp_account[opp]).tolist(),
        "OwnerId": _ids("User", lay.rep_pos[w.opp_owner[opp]]).tolist(),
    }


def tasks(w: World, lay: Layout, refs: Refs) -> Columns:
    """Logged e-mails and calls (CallType says which way they went) and to-dos."""
    t = w.timeline
    rows = np.flatnonzero(t.act_kind != KINDS.index("meeting"))
    cols = _activity_columns(w, lay, refs, rows, "Task")
    kind = np.array(KINDS, dtype=object)[t.act_kind[rows]]
    inbound = t.act_inbound[rows]
    subject = np.empty(rows.size, dtype=object)
    for k in ("email", "call", "task"):
        mask = kind == k
        subject[mask] = _subjects(k, int(mask.sum()), rows[mask])
    subject = np.where((kind == "email") & inbound, np.char.add("Email: RE: ", subject.astype(str)), subject)
    cols.update({
        "Subject": subject.tolist(),
        "ActivityDate": fmt_date(t.act_time[rows] // DAY).tolist(),
        "Status": np.where(t.act_open_task[rows], "Not Started", "Completed").tolist(),
        "Priority": np.where(kind == "task", "High", "Normal").tolist(),
        "TaskSubtype": np.select([kind == "email", kind == "call"], ["Email", "Call"], "Task").tolist(),
        "Type": np.select([kind == "email", kind == "call"], ["Email", "Call"], "Other").tolist(),
        "CallType": np.where(kind == "task", "", np.where(inbound, "Inbound", "Outbound")).tolist(),
        "CreatedDate": fmt_datetime(t.act_time[rows]).tolist(),
    })
    return cols


def events(w: World, lay: Layout, refs: Refs) -> Columns:
    """Meetings, booked a few days before they start."""
    t = w.timeline
    rows = np.flatnonzero(t.act_kind == KINDS.index("meeting"))
    rows = rows[np.argsort(t.act_booked[rows], kind="stable")]  # Ids in CreatedDate order
    cols = _activity_columns(w, lay, refs, rows, "Event")
    minutes = 30 * (1 + rows % 3)
    cols.update({
        "Subject": _subjects("meeting", rows.size, rows).tolist(),
        "StartDateTime": fmt_datetime(t.act_time[rows]).tolist(),
        "EndDateTime": fmt_datetime(t.act_time[rows] + 60 * minutes).tolist(),
        "DurationInMinutes": fmt_int(minutes).tolist(),
        "ShowAs": ["Busy"] * rows.size,
        "Type": ["Meeting"] * rows.size,
        "CreatedDate": fmt_datetime(t.act_booked[rows]).tolist(),
    })
    return cols
