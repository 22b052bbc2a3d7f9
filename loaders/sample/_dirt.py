"""Planted data-quality problems, the kind a real CRM export has, in small deterministic doses.

Dirt comes in two steps. :func:`plan_dirt` decides, on entity indices, everything that crosses files (duplicate
accounts and the contacts/deals moved onto them, dangling references) plus which optional fields are blank.
:func:`dirty_rows` then edits one formatted file at a time (bad dates, negative amounts, non-numeric head counts,
repeated rows), so the export can be written file by file.

Every kind is counted so tests and loaders can check they find exactly what was planted. Counts are numbers of
distinct records; the repeated-rows step runs last on its file and copies rows verbatim, dirt included. Dirt never
touches ``truth.csv``: the truth describes what really happened, not what the export says.
"""

from __future__ import annotations

import numpy as np

from ._format import DAY
from ._tables import Blanks, Columns, Duplicates, Layout, Refs
from ._world import World

# Counters for records deleted from the org before the export: valid-looking ids that match no row.
_DELETED_OFFSET = 10_000
_IMPOSSIBLE_MONTH_DAY = ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31")
_LONG_SUFFIX = {
    "Inc": "Incorporated", "Corp": "Corporation", "LLC": "L.L.C.", "Ltd": "Limited", "plc": "Public Limited Company",
    "GmbH": "G.m.b.H.", "AG": "Aktiengesellschaft", "S.A.": "SA", "SAS": "S.A.S.", "B.V.": "BV", "AB": "Aktiebolag",
}
# Row-level dirt shares (of the file's rows).
SHARE = {
    "duplicate_accounts": 0.005,
    "dangling": 0.003,
    "bad_close_date": 0.003,
    "bad_created_date": 0.002,
    "negative_amount": 0.002,
    "non_numeric_employees": 0.003,
    "repeated_rows": 0.005,
}


def _count(share: float, population: int) -> int:
    """At least one planted case whenever the population allows it, so small samples still exercise the dirt."""
    return min(population, max(1, round(share * population)))


def name_variant(rng: np.random.Generator, core: str, suffix: str) -> str:
    """A differently typed name for the same company ("Acme Corp" -> "ACME CORP." / "Acme Corporation").

    Args:
        rng: Random generator.
        core: Company name without legal suffix.
        suffix: Legal suffix ("Inc", "GmbH", ...) or empty.

    Returns:
        A variant that differs from ``f"{core} {suffix}"``.
    """
    original = f"{core} {suffix}".rstrip()
    form = int(rng.integers(6))
    if form == 0:
        variant = original.upper() + ("" if original.endswith(".") else ".")
    elif form == 1:
        variant = f"{core} {_LONG_SUFFIX.get(suffix, 'Group')}"
    elif form == 2:
        variant = core if suffix else f"The {core}"
    elif form == 3:
        variant = f"{core}, {suffix}" if suffix else f"{core} (HQ)"
    elif form == 4:
        variant = "  ".join(original.split(" ")) + " "  # double spaces and a trailing blank from a careless paste
    else:
        variant = original.lower()
    return variant if variant != original else original + " Inc."


def _groups(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Entity indices sorted by key and the start offset of each key's run (length n_groups + 1)."""
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n_groups + 1))


def plan_dirt(world: World, layout: Layout) -> tuple[Refs, Blanks, Duplicates, dict[str, int]]:
    """Decide blanks, duplicate accounts and dangling references on entity indices.

    Args:
        world: The generated world; its ``rng`` continues to be consumed.
        layout: Row order and id counters.

    Returns:
        Reference counters (with overrides), blank masks, duplicate accounts, and counts of planted dirt.
    """
    w, rng, lay = world, world.rng, layout
    n, n_con = w.n_accounts, w.con_z.size
    blanks = Blanks(
        industry=rng.random(n) < 0.01, employees=rng.random(n) < 0.02, revenue=rng.random(n) < 0.04,
        website=rng.random(n) < 0.03, email=rng.random(n_con) < 0.02, title=rng.random(n_con) < 0.05,
    )
    refs = Refs(
        opp_account=lay.acc_pos[w.opp_account].copy(), con_account=lay.acc_pos[w.con_current].copy(),
        sp_account=lay.acc_pos[w.sp_account].copy(), ocr_contact=lay.con_pos[w.ocr_contact].copy(),
        oli_product=lay.prod_pos[w.oli_product].copy(),
    )
    counts: dict[str, int] = {}

    # Duplicate accounts: only ones with a website (the shared website is how a loader can tell) and enough
    # contacts and deals that some can hang off the copy.
    opp_order, opp_start = _groups(w.opp_account, n)
    con_order, con_start = _groups(w.con_current, n)
    candidates = np.flatnonzero(~blanks.website & (np.diff(opp_start) >= 2) & (np.diff(con_start) >= 2))
    n_dup = _count(SHARE["duplicate_accounts"], candidates.size) if candidates.size else 0
    source = rng.choice(candidates, size=n_dup, replace=False)
    # A contact's current employment is its last spell: the home spell, or the appended mover spell.
    current_spell = np.arange(n_con)
    movers = np.flatnonzero(w.sp_end_day[:n_con] >= 0)
    current_spell[movers] = n_con + np.arange(movers.size)
    names, created = [], np.zeros(n_dup, dtype=np.int64)
    moved_opps = moved_contacts = 0
    for k, a in enumerate(source.tolist()):
        counter = n + k
        deals = opp_order[opp_start[a]:opp_start[a + 1]]
        anchor = int(deals[rng.integers(deals.size)])
        # The copy is created shortly before one of the account's deals, which is then logged against the copy.
        created[k] = max(int(w.opp_created[anchor]) - int(rng.integers(3600, 5 * DAY)), int(w.acc_created[a]) + 60)
        move = ((w.opp_created[deals] >= created[k]) & (rng.random(deals.size) < 0.5)) | (deals == anchor)
        refs.opp_account[deals[move]] = counter
        moved_opps += int(move.sum())
        people = con_order[con_start[a]:con_start[a + 1]]
        people = people[rng.random(people.size) < 0.35]
        refs.con_account[people] = counter
        refs.sp_account[current_spell[people]] = counter  # the direct relation always follows Contact.AccountId
        moved_contacts += people.size
        names.append(name_variant(rng, w.acc_core[a], w.acc_suffix[a]))
    dups = Duplicates(source=source, name=names, created=created, no_firmographics=rng.random(n_dup) < 0.5)
    counts["duplicate_accounts"] = n_dup
    counts["contacts_on_duplicate_accounts"] = moved_contacts
    counts["opportunities_on_duplicate_accounts"] = moved_opps

    # Dangling references. Deals already on a duplicate are left alone so the counts stay exact and disjoint.
    free = np.flatnonzero(refs.opp_account < n)
    pick = rng.choice(free, size=_count(SHARE["dangling"], free.size), replace=False)
    refs.opp_account[pick] = n + n_dup + _DELETED_OFFSET + np.arange(pick.size)
    counts["dangling_opportunity_account"] = pick.size
    pick = rng.choice(refs.ocr_contact.size, size=_count(SHARE["dangling"], refs.ocr_contact.size), replace=False)
    refs.ocr_contact[pick] = n_con + _DELETED_OFFSET + np.arange(pick.size)
    counts["dangling_contact_role_contact"] = pick.size
    pick = rng.choice(refs.oli_product.size, size=_count(SHARE["dangling"], refs.oli_product.size), replace=False)
    refs.oli_product[pick] = lay.prod_pos.size + _DELETED_OFFSET + np.arange(pick.size)
    counts["dangling_line_item_product"] = pick.size
    return refs, blanks, dups, counts


def _bad_date(rng: np.random.Generator, value: str) -> str:
    """Corrupt an ISO date or datetime the ways hand edits and spreadsheets do."""
    has_time = "T" in value
    y, m, d = value[:4], value[5:7], value[8:10]
    form = int(rng.integers(3))
    if form == 0:
        md = _IMPOSSIBLE_MONTH_DAY[int(rng.integers(len(_IMPOSSIBLE_MONTH_DAY)))]
        return f"{y}-{md}{value[10:] if has_time else ''}"
    if form == 1:
        return f"{d}/{m}/{y}{' ' + value[11:16] if has_time else ''}"
    return "not a date"


def _corrupt_dates(rng: np.random.Generator, column: list[str], share: float) -> int:
    rows = rng.choice(len(column), size=_count(share, len(column)), replace=False)
    for r in rows.tolist():
        column[r] = _bad_date(rng, column[r])
    return rows.size


def _non_numeric_employees(rng: np.random.Generator, column: list[str], n_real: int) -> int:
    filled = np.flatnonzero(np.array([bool(v) for v in column[:n_real]]))
    rows = rng.choice(filled, size=_count(SHARE["non_numeric_employees"], filled.size), replace=False)
    for r in rows.tolist():
        value = int(column[r])
        form = int(rng.integers(5))
        if form == 0 and value >= 1000:
            column[r] = f"{value:,}"
        elif form <= 1:
            column[r] = f"approx. {value}"
        elif form == 2:
            column[r] = f"{value}+"
        else:
            column[r] = ("n/a", "unknown")[form - 3]
    return rows.size


def _repeat_block(rng: np.random.Generator, cols: Columns) -> int:
    """Repeat a contiguous block of rows right after itself, like two overlapping export pages."""
    n_rows = len(cols["Id"])
    m = _count(SHARE["repeated_rows"], n_rows)
    start = int(rng.integers(0, n_rows - m + 1))
    for h, col in cols.items():
        cols[h] = col[:start + m] + col[start:start + m] + col[start + m:]
    return m


def dirty_rows(name: str, cols: Columns, world: World, counts: dict[str, int]) -> None:
    """Plant the row-level dirt of one file in place and record its counts.

    Args:
        name: File name.
        cols: The file's formatted columns; modified in place.
        world: The generated world (for its ``rng`` and the number of real accounts).
        counts: Dirt counts to extend.
    """
    rng = world.rng
    if name == "Account.csv":
        counts["non_numeric_employees"] = _non_numeric_employees(rng, cols["NumberOfEmployees"], world.n_accounts)
    elif name == "Contact.csv":
        counts["bad_contact_created_date"] = _corrupt_dates(rng, cols["CreatedDate"], SHARE["bad_created_date"])
        counts["duplicate_contact_rows"] = _repeat_block(rng, cols)
    elif name == "Opportunity.csv":
        counts["bad_opportunity_close_date"] = _corrupt_dates(rng, cols["CloseDate"], SHARE["bad_close_date"])
        counts["bad_opportunity_created_date"] = _corrupt_dates(rng, cols["CreatedDate"], SHARE["bad_created_date"])
        amounts = cols["Amount"]
        rows = rng.choice(len(amounts), size=_count(SHARE["negative_amount"], len(amounts)), replace=False)
        for r in rows.tolist():
            amounts[r] = "-" + amounts[r]
        counts["negative_amount"] = rows.size
        counts["duplicate_opportunity_rows"] = _repeat_block(rng, cols)
