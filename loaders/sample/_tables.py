"""Turn a generated :class:`World` into export tables of strings, one file at a time.

Rows of every object are emitted in creation order and ids are handed out in that order, as Salesforce does, so
Id order and CreatedDate order agree (up to planted dirt). Tables are built one by one and written before the
next is built, which keeps peak memory at roughly one table of Python strings instead of the whole export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ontology.names import Label

from . import _vocab as V
from ._activity_tables import events, opportunity_history, tasks
from ._format import fmt_bool, fmt_date, fmt_datetime, fmt_int, fmt_money, sf_ids
from ._world import World

Columns = dict[str, list[str]]


@dataclass
class Layout:
    """Row order (``*_perm``: row -> entity) and id counters (``*_pos``: entity -> counter) per object."""

    acc_perm: np.ndarray
    acc_pos: np.ndarray
    con_perm: np.ndarray
    con_pos: np.ndarray
    rep_perm: np.ndarray
    rep_pos: np.ndarray
    prod_perm: np.ndarray
    prod_pos: np.ndarray
    opp_perm: np.ndarray
    opp_pos: np.ndarray
    sp_perm: np.ndarray
    sp_pos: np.ndarray
    ocr_perm: np.ndarray
    oli_perm: np.ndarray


@dataclass
class Refs:
    """Id counters each reference column points at; dirt overrides some (duplicate or deleted records)."""

    opp_account: np.ndarray
    con_account: np.ndarray
    sp_account: np.ndarray
    ocr_contact: np.ndarray
    oli_product: np.ndarray


@dataclass
class Blanks:
    """Optional fields left empty, per entity, as they are in real exports."""

    industry: np.ndarray
    employees: np.ndarray
    revenue: np.ndarray
    website: np.ndarray
    email: np.ndarray
    title: np.ndarray


@dataclass
class Duplicates:
    """Accounts exported a second time under a new Id (planted dirt); index k gets counter n_accounts + k."""

    source: np.ndarray
    name: list[str]
    created: np.ndarray
    no_firmographics: np.ndarray


def _creation_order(created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order (entities sorted by creation) and its inverse (entity -> row)."""
    perm = np.argsort(created, kind="stable")
    pos = np.empty_like(perm)
    pos[perm] = np.arange(perm.size)
    return perm, pos


def make_layout(world: World) -> Layout:
    """Order every object by creation time; the rank doubles as the id counter.

    Args:
        world: The generated world.

    Returns:
        The :class:`Layout`.
    """
    w = world
    acc_perm, acc_pos = _creation_order(w.acc_created)
    con_perm, con_pos = _creation_order(w.con_created)
    rep_perm, rep_pos = _creation_order(w.rep_created)
    prod_perm, prod_pos = _creation_order(w.prod_created)
    opp_perm, opp_pos = _creation_order(w.opp_created)
    sp_perm, sp_pos = _creation_order(w.sp_created)
    return Layout(
        acc_perm=acc_perm, acc_pos=acc_pos, con_perm=con_perm, con_pos=con_pos, rep_perm=rep_perm, rep_pos=rep_pos,
        prod_perm=prod_perm, prod_pos=prod_pos, opp_perm=opp_perm, opp_pos=opp_pos, sp_perm=sp_perm, sp_pos=sp_pos,
        ocr_perm=np.argsort(w.ocr_created, kind="stable"), oli_perm=np.argsort(w.oli_created, kind="stable"),
    )


def _pick(labels: tuple[str, ...], index: np.ndarray) -> np.ndarray:
    """Map picklist indices to labels; index -1 means blank."""
    return np.array(("",) + tuple(labels), dtype=object)[np.asarray(index) + 1]


def _blank(values: np.ndarray, mask: np.ndarray) -> list[str]:
    return np.where(mask, "", values).tolist()


def _ids(prefix: str, counters: np.ndarray) -> np.ndarray:
    return sf_ids(V.KEY_PREFIX[prefix], counters)


def _users(w: World, lay: Layout) -> Columns:
    p = lay.rep_perm
    # Names made unique in the mail address the way admins do it (the second John Smith gets john.smith2@).
    seen: dict[str, int] = {}
    names, emails = [], []
    for f, last in zip(w.rep_first[p].tolist(), w.rep_last[p].tolist(), strict=True):
        first_name, last_name = V.FIRST_NAMES[f], V.LAST_NAMES[last]
        local = f"{V.slug(first_name).replace('-', '')}.{V.slug(last_name).replace('-', '')}"
        seen[local] = seen.get(local, 0) + 1
        names.append(f"{first_name} {last_name}")
        emails.append(f"{local}{seen[local] if seen[local] > 1 else ''}@{V.SELLER_DOMAIN}")
    return {
        "Id": _ids("User", np.arange(p.size)).tolist(), "Name": names, "Email": emails,
        "Title": _pick(V.REP_TITLES, w.rep_title[p]).tolist(), "Department": _pick(V.TEAMS, w.rep_team[p]).tolist(),
        "IsActive": fmt_bool(w.rep_active[p]).tolist(), "CreatedDate": fmt_datetime(w.rep_created[p]).tolist(),
    }


def _products(w: World, lay: Layout) -> Columns:
    p = lay.prod_perm.tolist()
    return {
        "Id": _ids("Product2", np.arange(len(p))).tolist(),
        "Name": [V.PRODUCTS[i][0] for i in p],
        "ProductCode": [V.PRODUCTS[i][1] for i in p],
        "Family": [V.FAMILIES[V.PRODUCTS[i][2]] for i in p],
        "IsActive": fmt_bool(np.array([V.PRODUCTS[i][4] for i in p])).tolist(),
        "CreatedDate": fmt_datetime(w.prod_created[p]).tolist(),
    }


def _accounts(w: World, lay: Layout, blanks: Blanks, dups: Duplicates) -> Columns:
    p = lay.acc_perm
    parent = w.acc_parent[p]
    cols: Columns = {
        "Id": _ids(Label.ACCOUNT, np.arange(p.size)).tolist(),
        "Name": [f"{w.acc_core[i]} {w.acc_suffix[i]}".rstrip() for i in p.tolist()],
        "ParentId": np.where(parent >= 0, _ids(Label.ACCOUNT, lay.acc_pos[np.maximum(parent, 0)]), "").tolist(),
        "Industry": _blank(_pick(V.INDUSTRIES, w.acc_industry[p]), blanks.industry[p]),
        "Type": _pick(V.ACCOUNT_TYPES, w.acc_type[p]).tolist(),
        "BillingCountry": _pick(tuple(c[0] for c in V.COUNTRIES), w.acc_country[p]).tolist(),
        "NumberOfEmployees": _blank(fmt_int(w.acc_employees[p]), blanks.employees[p]),
        "AnnualRevenue": _blank(np.array(fmt_money(w.acc_revenue[p] * 100), dtype=object), blanks.revenue[p]),
        "Website": _blank(np.array(w.acc_website, dtype=object)[p], blanks.website[p]),
        "OwnerId": _ids("User", lay.rep_pos[w.acc_owner[p]]).tolist(),
        "CreatedDate": fmt_datetime(w.acc_created[p]).tolist(),
    }
    # Duplicates copy their source row; new Ids are the highest ones, so the copies come last in Id order.
    n = p.size
    dup_ids = _ids(Label.ACCOUNT, n + np.arange(dups.source.size)).tolist()
    dup_created = fmt_datetime(dups.created).tolist()
    for k, a in enumerate(dups.source.tolist()):
        row = int(lay.acc_pos[a])
        for col in cols.values():
            col.append(col[row])
        cols["Id"][-1], cols["Name"][-1], cols["CreatedDate"][-1] = dup_ids[k], dups.name[k], dup_created[k]
        if dups.no_firmographics[k]:
            cols["NumberOfEmployees"][-1] = cols["AnnualRevenue"][-1] = ""
    return cols


def _contacts(w: World, lay: Layout, blanks: Blanks, refs: Refs) -> Columns:
    p = lay.con_perm
    return {
        "Id": _ids(Label.CONTACT, np.arange(p.size)).tolist(),
        "AccountId": _ids(Label.ACCOUNT, refs.con_account[p]).tolist(),
        "FirstName": _pick(V.FIRST_NAMES, w.con_first[p]).tolist(),
        "LastName": _pick(V.LAST_NAMES, w.con_last[p]).tolist(),
        "Email": _blank(np.array(w.con_email, dtype=object)[p], blanks.email[p]),
        "Title": _blank(_pick(tuple(t[0] for t in V.TITLES), w.con_title[p]), blanks.title[p]),
        "CreatedDate": fmt_datetime(w.con_created[p]).tolist(),
    }


def _relations(w: World, lay: Layout, refs: Refs) -> Columns:
    p = lay.sp_perm
    end = w.sp_end_day[p]
    current = end < 0
    return {
        "Id": _ids("AccountContactRelation", np.arange(p.size)).tolist(),
        "AccountId": _ids(Label.ACCOUNT, refs.sp_account[p]).tolist(),
        "ContactId": _ids(Label.CONTACT, lay.con_pos[w.sp_contact[p]]).tolist(),
        "Roles": np.array(w.sp_roles, dtype=object)[p].tolist(),
        "StartDate": fmt_date(w.sp_start_day[p]).tolist(),
        "EndDate": np.where(current, "", fmt_date(np.maximum(end, 0))).tolist(),
        "IsActive": fmt_bool(current).tolist(),
        # The current employer is the direct relation; Salesforce keeps the old one as indirect when AccountId moves.
        "IsDirect": fmt_bool(current).tolist(),
        "CreatedDate": fmt_datetime(w.sp_created[p]).tolist(),
    }


_STAGES = V.OPEN_STAGES + (V.WON_STAGE, V.LOST_STAGE)


def _opportunities(w: World, lay: Layout, refs: Refs) -> Columns:
    p = lay.opp_perm
    stage = w.opp_stage[p]
    return {
        "Id": _ids("Opportunity", np.arange(p.size)).tolist(),
        "Name": np.array(w.opp_name, dtype=object)[p].tolist(),
        "AccountId": _ids(Label.ACCOUNT, refs.opp_account[p]).tolist(),
        "OwnerId": _ids("User", lay.rep_pos[w.opp_owner[p]]).tolist(),
        "StageName": _pick(tuple(s[0] for s in _STAGES), stage).tolist(),
        "Amount": fmt_money(w.opp_amount_cents[p]),
        "Probability": _pick(tuple(str(s[1]) for s in _STAGES), stage).tolist(),
        "CloseDate": fmt_date(w.opp_close_day[p]).tolist(),
        "IsClosed": fmt_bool(w.opp_closed[p]).tolist(),
        "IsWon": fmt_bool(w.opp_won[p]).tolist(),
        "Type": np.where(
            w.opp_new_customer[p], V.OPP_TYPE_NEW, _pick(V.OPP_TYPES_EXISTING, w.opp_type_existing[p])
        ).tolist(),
        "LeadSource": _pick(V.LEAD_SOURCES, w.opp_lead[p]).tolist(),
        "ForecastCategoryName": _pick(tuple(s[2] for s in _STAGES), stage).tolist(),
        "Loss_Reason__c": _pick(V.LOSS_REASONS, w.opp_loss[p]).tolist(),
        "CreatedDate": fmt_datetime(w.opp_created[p]).tolist(),
    }


def _contact_roles(w: World, lay: Layout, refs: Refs) -> Columns:
    p = lay.ocr_perm
    return {
        "Id": _ids("OpportunityContactRole", np.arange(p.size)).tolist(),
        "OpportunityId": _ids("Opportunity", lay.opp_pos[w.ocr_opp[p]]).tolist(),
        "ContactId": _ids(Label.CONTACT, refs.ocr_contact[p]).tolist(),
        "Role": _pick(tuple(r[0] for r in V.ROLES), w.ocr_role[p]).tolist(),
        "IsPrimary": fmt_bool(w.ocr_primary[p]).tolist(),
        "CreatedDate": fmt_datetime(w.ocr_created[p]).tolist(),
    }


def _line_items(w: World, lay: Layout, refs: Refs) -> Columns:
    p = lay.oli_perm
    qty, unit = w.oli_qty[p], w.oli_unit_cents[p]
    return {
        "Id": _ids("OpportunityLineItem", np.arange(p.size)).tolist(),
        "OpportunityId": _ids("Opportunity", lay.opp_pos[w.oli_opp[p]]).tolist(),
        "Product2Id": _ids("Product2", refs.oli_product[p]).tolist(),
        "Quantity": fmt_money(qty * 100),
        "UnitPrice": fmt_money(unit),
        "TotalPrice": fmt_money(qty * unit),
        "CreatedDate": fmt_datetime(w.oli_created[p]).tolist(),
    }


def _truth(w: World, lay: Layout) -> Columns:
    # One row per generated opportunity, in Opportunity.csv order; dirt never reaches it.
    p = lay.opp_perm
    eff = {k: v[p] for k, v in w.effects.items()}
    logit = w.logit[p]
    causes = np.stack([np.abs(eff[k]) for k in V.EFFECT_NAMES], axis=1).argmax(axis=1)
    key = w.key_contact[p]
    cols: Columns = {
        "OpportunityId": _ids("Opportunity", np.arange(p.size)).tolist(),
        "win_probability": [f"{x:.6f}" for x in (1.0 / (1.0 + np.exp(-logit))).tolist()],
        "logit": [f"{x:.6f}" for x in logit.tolist()],
    }
    for k in ("contact", "account", "parent", "affinity", "rep", "amount", "response"):
        cols[f"{k}_effect"] = [f"{x:.6f}" for x in eff[k].tolist()]
    cols["key_contact_id"] = np.where(key >= 0, _ids(Label.CONTACT, lay.con_pos[np.maximum(key, 0)]), "").tolist()
    cols["main_cause"] = [V.EFFECT_NAMES[i] for i in causes.tolist()]
    return cols


def build_table(
    name: str, world: World, layout: Layout, refs: Refs, blanks: Blanks, dups: Duplicates
) -> Columns:
    """Format one export file (before row-level dirt).

    Args:
        name: File name, a key of ``HEADERS``.
        world: The generated world.
        layout: Row order and id counters from :func:`make_layout`.
        refs: Reference counters, with duplicate/deleted-record overrides already applied.
        blanks: Which optional fields are empty.
        dups: Duplicate account rows to append to ``Account.csv``.

    Returns:
        Column name -> list of cell strings.
    """
    builders = {
        "Account.csv": lambda: _accounts(world, layout, blanks, dups),
        "Contact.csv": lambda: _contacts(world, layout, blanks, refs),
        "AccountContactRelation.csv": lambda: _relations(world, layout, refs),
        "User.csv": lambda: _users(world, layout),
        "Product2.csv": lambda: _products(world, layout),
        "Opportunity.csv": lambda: _opportunities(world, layout, refs),
        "OpportunityContactRole.csv": lambda: _contact_roles(world, layout, refs),
        "OpportunityLineItem.csv": lambda: _line_items(world, layout, refs),
        "OpportunityHistory.csv": lambda: opportunity_history(world, layout),
        "Task.csv": lambda: tasks(world, layout, refs),
        "Event.csv": lambda: events(world, layout, refs),
        "truth.csv": lambda: _truth(world, layout),
    }
    return builders[name]()
