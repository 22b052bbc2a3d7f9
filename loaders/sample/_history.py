"""Relationship memory: win chances that depend on what happened before, played forward in time.

A deal's record effects are read from the track record of the people and the company on it, as the CRM
showed it when the deal was created: the contacts' earlier deals (at any employer) and the account's earlier
deals. Outcomes feed later deals, so the deals are played forward through their events in time order.

For a contact or an account ``x`` and a time ``t``::

    record(x, t) = (won - TARGET_WIN_RATE * (won + lost)) / (deals + 1)

``won`` and ``lost`` count x's deals whose close date (the exported day, 00:00 UTC) is before ``t``; ``deals``
counts x's deals that x joined before ``t`` (a contact joins when its contact role is created, an account when
the deal is). The ``+ 1`` is the deal being created. So the record is the mean, over x's deals in the graph
at ``t``, of ``won - 0.35 * (won or lost)``: exactly what one mean-aggregating hop over outcome flags sees.
Centring on the target win rate keeps a typical record near zero, so the base rate barely moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._format import DAY

TARGET_WIN_RATE = 0.35
_EVALUATE, _JOIN_CONTACT, _CLOSE = 0, 1, 2  # order of events at the same instant: "before t" is strict


@dataclass
class Played:
    """Result of playing the deals forward."""

    won: np.ndarray  # per deal; False for deals still open
    account_record: np.ndarray  # per deal: its account's record when it was created
    role_record: np.ndarray  # per contact role row: that contact's record when the deal was created


def _events(opp_created: np.ndarray, close_s: np.ndarray, closed: np.ndarray,
            ocr_created: np.ndarray) -> list[tuple[int, int]]:
    """(kind, index) in time order: deal creations, contact-role creations, closes."""
    closing = np.flatnonzero(closed)
    times = np.r_[opp_created, ocr_created, close_s[closing]]
    kinds = np.r_[np.full(opp_created.size, _EVALUATE), np.full(ocr_created.size, _JOIN_CONTACT),
                  np.full(closing.size, _CLOSE)]
    index = np.r_[np.arange(opp_created.size), np.arange(ocr_created.size), closing]
    order = np.lexsort((index, kinds, times))
    return list(zip(kinds[order].tolist(), index[order].tolist(), strict=True))


def play_forward(
    static_logit: np.ndarray, contact_weight: float, account_weight: float, draws: np.ndarray,
    opp_created: np.ndarray, opp_close: np.ndarray, opp_closed: np.ndarray, opp_account: np.ndarray,
    ocr_opp: np.ndarray, ocr_contact: np.ndarray, ocr_created: np.ndarray, role_weight: np.ndarray,
) -> Played:
    """Walk every deal's events in time order, drawing each closed deal's outcome from its probability.

    ``static_logit`` is everything that does not depend on history (base included); the logit of deal ``o`` is
    ``static_logit[o] + contact_weight * (role-weighted mean contact record) + account_weight * account record``.
    ``draws`` are uniform numbers, one per deal: won = draw < probability.
    """
    n_opp = static_logit.size
    close_s = (opp_close // DAY) * DAY  # the export keeps the close day only; the graph sees 00:00 of it
    rows_of: list[list[int]] = [[] for _ in range(n_opp)]
    for row, opp in enumerate(ocr_opp.tolist()):
        rows_of[opp].append(row)
    contact_of, weight_of, account_of = ocr_contact.tolist(), role_weight.tolist(), opp_account.tolist()
    n_contacts = int(ocr_contact.max()) + 1 if ocr_contact.size else 0
    n_accounts = int(opp_account.max()) + 1 if opp_account.size else 0
    # Per contact and per account: [won - rate * closed, deals joined].
    c_score, c_deals = [0.0] * n_contacts, [0] * n_contacts
    a_score, a_deals = [0.0] * n_accounts, [0] * n_accounts
    won = [False] * n_opp
    account_record, role_record = [0.0] * n_opp, [0.0] * ocr_opp.size
    static, draw, closed = static_logit.tolist(), draws.tolist(), opp_closed.tolist()
    for kind, i in _events(opp_created, close_s, opp_closed, ocr_created):
        if kind == _EVALUATE:
            a = account_of[i]
            account_record[i] = a_score[a] / (a_deals[a] + 1)
            a_deals[a] += 1
            total = weighted = 0.0
            for row in rows_of[i]:
                c = contact_of[row]
                role_record[row] = c_score[c] / (c_deals[c] + 1)
                weighted += weight_of[row] * role_record[row]
                total += weight_of[row]
            logit = static[i] + contact_weight * weighted / total + account_weight * account_record[i]
            won[i] = closed[i] and draw[i] < 1.0 / (1.0 + math.exp(-logit))
        elif kind == _JOIN_CONTACT:
            c_deals[contact_of[i]] += 1
        else:
            delta = (1.0 if won[i] else 0.0) - TARGET_WIN_RATE
            a_score[account_of[i]] += delta
            for row in rows_of[i]:
                c_score[contact_of[row]] += delta
    return Played(np.array(won), np.array(account_record), np.array(role_record))
