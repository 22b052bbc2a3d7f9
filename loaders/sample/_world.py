"""The generative model behind the sample: entities, time line and planted win-probability effects.

Everything is held as numpy arrays indexed by entity position (account ``a``, contact ``c``, opportunity ``o`` ...);
Salesforce ids and string formatting only happen later, in ``_tables``. All randomness comes from one
``numpy.random.default_rng(seed)`` consumed in a fixed order, which is what makes the output reproducible.
See ``docs/sample-data.md`` for the model in prose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _history, _timeline
from . import _vocab as V
from ._format import DAY

HISTORY_DAYS = 730
TARGET_WIN_RATE = _history.TARGET_WIN_RATE
# Record effects: logit per unit of the deal's role-weighted mean contact record and of its account's record
# (see `_history`). They are what a relational model can learn from the graph; the latents below are not.
CONTACT_RECORD_WEIGHT = 5.0
ACCOUNT_RECORD_WEIGHT = 2.5
# Effect scales (standard deviations on the logit scale).
ACTIVITY_SIGMA = 1.0
CONTACT_STD = 0.3  # weight of the contacts' latent z (role-weighted mean of N(0,1) draws)
ACCOUNT_STD = 0.2
PARENT_STD = 0.2
AFFINITY_STD = 0.5
REP_STD = 0.3
AMOUNT_SLOPE = -0.3  # per unit of log(Amount); big deals are harder
AMOUNT_REF = 50_000.0  # USD; amount_effect is zero here
# Parent latent weight and own-noise weight for child accounts; 0.6**2 + 0.8**2 = 1 keeps unit variance.
PARENT_SHARE, OWN_SHARE = 0.6, 0.8

_ROLE_WEIGHT = np.array([r[1] for r in V.ROLES])
_ROLE_CUM = np.cumsum(np.array([[r[2 + k] for r in V.ROLES] for k in range(3)]), axis=1)


@dataclass
class World:
    """All generated entities as arrays; see module docstring. Times are epoch seconds, days are epoch days."""

    rng: np.random.Generator  # the generator, left where generation stopped so dirt continues the same stream
    as_of_s: int
    start_s: int
    # Sales reps (User).
    rep_first: np.ndarray
    rep_last: np.ndarray
    rep_team: np.ndarray
    rep_title: np.ndarray
    rep_active: np.ndarray
    rep_created: np.ndarray
    rep_latent: np.ndarray
    # Products.
    prod_created: np.ndarray
    # Accounts.
    acc_core: list[str]
    acc_suffix: list[str]
    acc_domain: list[str]
    acc_website: list[str]
    acc_industry: np.ndarray
    acc_country: np.ndarray
    acc_type: np.ndarray
    acc_employees: np.ndarray
    acc_revenue: np.ndarray
    acc_parent: np.ndarray
    acc_owner: np.ndarray
    acc_created: np.ndarray
    acc_latent: np.ndarray
    # Contacts.
    con_first: np.ndarray
    con_last: np.ndarray
    con_title: np.ndarray
    con_email: list[str]
    con_current: np.ndarray
    con_created: np.ndarray
    con_z: np.ndarray
    # Employment spells, one per AccountContactRelation row.
    sp_contact: np.ndarray
    sp_account: np.ndarray
    sp_start_day: np.ndarray
    sp_end_day: np.ndarray  # -1 while the spell is ongoing
    sp_created: np.ndarray
    sp_roles: list[str]
    # Opportunities.
    opp_account: np.ndarray
    opp_owner: np.ndarray
    opp_created: np.ndarray
    opp_close: np.ndarray  # when the deal truly closes (after the export for open deals): drives the outcomes
    opp_close_day: np.ndarray  # the exported CloseDate, where the deal's history ends (see `_timeline`)
    opp_closed: np.ndarray
    opp_won: np.ndarray
    opp_stage: np.ndarray  # 0..5 open stage, 6 won, 7 lost
    opp_amount_cents: np.ndarray
    opp_new_customer: np.ndarray
    opp_type_existing: np.ndarray
    opp_lead: np.ndarray  # -1 for blank
    opp_loss: np.ndarray  # -1 for blank
    opp_name: list[str]
    # Truth.
    effects: dict[str, np.ndarray]
    logit: np.ndarray
    key_contact: np.ndarray  # -1 for none
    # OpportunityContactRole.
    ocr_opp: np.ndarray
    ocr_contact: np.ndarray
    ocr_role: np.ndarray
    ocr_primary: np.ndarray
    ocr_created: np.ndarray
    # OpportunityLineItem.
    oli_opp: np.ndarray
    oli_product: np.ndarray
    oli_qty: np.ndarray
    oli_unit_cents: np.ndarray
    oli_created: np.ndarray
    # Stage history and activities (`_timeline`), and each contact's responsiveness behind the replies.
    con_response: np.ndarray
    timeline: _timeline.Timeline

    @property
    def n_accounts(self) -> int:
        """Number of (real, non-duplicate) accounts."""
        return len(self.acc_core)


def _group_starts(sorted_groups: np.ndarray) -> np.ndarray:
    """Positions where a new group begins in an array sorted by group."""
    if sorted_groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])


def _office_time(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """Timestamp inside office hours (08:00-18:00 UTC) on each given epoch day."""
    return days.astype(np.int64) * DAY + rng.integers(8 * 3600, 18 * 3600, size=days.shape[0])


def _weighted(rng: np.random.Generator, weights: tuple[float, ...], size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(p.size, size=size, p=p / p.sum())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _intercept_for(rest: np.ndarray) -> float:
    """The base logit that makes the mean of sigmoid(base + rest) the target win rate (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _sigmoid(mid + rest).mean() < TARGET_WIN_RATE else (lo, mid)
    return (lo + hi) / 2


def _account_names(
    rng: np.random.Generator, industry: np.ndarray, country: np.ndarray
) -> tuple[list[str], list[str], list[str]]:
    """Draw unique company name cores with a legal suffix and web domain per account.

    Domains must be unique: the duplicate-account dirt is recognisable only through a shared website, so two
    genuinely different accounts must never share one.
    """
    n: int = industry.shape[0]
    heads = rng.integers(len(V.NAME_HEADS), size=n)
    tails = rng.integers(len(V.NAME_TAILS), size=n)
    words = rng.integers(7, size=n)
    style = rng.random(n)
    lasts = rng.integers(len(V.LAST_NAMES), size=(n, 2))
    suffix_pick = rng.integers(1 << 20, size=n)
    seen: set[str] = set()
    cores, suffixes, domains = [], [], []
    for i in range(n):
        ind, (_, _, sfx, tld, _) = int(industry[i]), V.COUNTRIES[int(country[i])]
        head, tail, word = int(heads[i]), int(tails[i]), int(words[i])
        last1, last2 = int(lasts[i, 0]), int(lasts[i, 1])
        for attempt in range(64):
            if attempt:
                # Collision: redraw; still deterministic because the draw sequence depends only on the seed.
                head, tail, word, last1, last2 = (int(x) for x in rng.integers(
                    (len(V.NAME_HEADS), len(V.NAME_TAILS), 7, len(V.LAST_NAMES), len(V.LAST_NAMES))))
            stem = V.NAME_HEADS[head] + V.NAME_TAILS[tail]
            if ind == V.GOVERNMENT:
                core = f"City of {stem}" if word == 0 else f"{stem} {V.INDUSTRY_WORDS[ind][word]}"
            elif style[i] < 0.03:
                core = f"{V.LAST_NAMES[last1]}, {V.LAST_NAMES[last2]} & Partners"
            elif style[i] < 0.25:
                core = stem
            else:
                core = f"{stem} {V.INDUSTRY_WORDS[ind][word]}"
            if attempt == 63:
                core = f"{core} {i}"
            domain = f"{V.slug(core)}.{tld}"
            if domain not in seen:
                break
        seen.add(domain)
        cores.append(core)
        suffixes.append("" if ind == V.GOVERNMENT else sfx[suffix_pick[i] % len(sfx)])
        domains.append(domain)
    return cores, suffixes, domains


def _parents(rng: np.random.Generator, employees: np.ndarray) -> np.ndarray:
    """Pick a parent for ~15% of accounts: mostly one level, a few two-level chains, never a cycle."""
    n = employees.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    n_top = max(1, round(0.04 * n))
    size_w = np.sqrt(employees.astype(float))
    top = rng.choice(n, size=n_top, replace=False, p=size_w / size_w.sum())
    rest = np.setdiff1d(np.arange(n), top)
    children = rng.permutation(rest)[: round(0.15 * n)]
    n_mid = round(0.08 * children.size)
    n_grand = round(0.06 * children.size) if n_mid else 0
    mids, grands, firsts = children[:n_mid], children[n_mid:n_mid + n_grand], children[n_mid + n_grand:]
    parent[mids] = top[rng.integers(n_top, size=mids.size)]
    parent[firsts] = top[rng.integers(n_top, size=firsts.size)]
    if n_grand:
        parent[grands] = mids[rng.integers(n_mid, size=grands.size)]
    return parent


def _account_latents(rng: np.random.Generator, parent: np.ndarray) -> np.ndarray:
    """Unit-variance account latents; a child's latent is 0.6 * parent latent + 0.8 * own noise."""
    own = rng.standard_normal(len(parent))
    latent = own.copy()
    # Roots first, then level 1 (whose parents are roots), then level 2 (whose parents are level 1).
    level1 = (parent >= 0) & (parent[np.maximum(parent, 0)] < 0)
    latent[level1] = PARENT_SHARE * own[parent[level1]] + OWN_SHARE * own[level1]
    level2 = (parent >= 0) & ~level1
    latent[level2] = PARENT_SHARE * latent[parent[level2]] + OWN_SHARE * own[level2]
    return latent


def build_world(n_accounts: int, seed: int, as_of_s: int) -> World:
    """Generate the full synthetic world (no dirt, no formatting).

    Args:
        n_accounts: Number of real accounts (duplicates are added later as dirt).
        seed: Seed for ``numpy.random.default_rng``.
        as_of_s: Export time in epoch seconds (UTC).

    Returns:
        The generated :class:`World`.
    """
    rng = np.random.default_rng(seed)
    start_s = as_of_s - HISTORY_DAYS * DAY
    start_day, as_of_day = start_s // DAY, as_of_s // DAY
    n = n_accounts

    # --- Sales reps -----------------------------------------------------------------------------------------
    n_reps = max(5, round(n / 40))
    n_teams = min(len(V.TEAMS), n_reps)
    rep_team = np.arange(n_reps) % n_teams
    rep_active = rng.random(n_reps) >= 0.1
    rep_active[:n_teams] = True  # every staffed team keeps at least one active rep to own its accounts
    rep_first = rng.integers(len(V.FIRST_NAMES), size=n_reps)
    rep_last = rng.integers(len(V.LAST_NAMES), size=n_reps)
    rep_title = _weighted(rng, V.REP_TITLE_WEIGHTS, n_reps)
    rep_created = start_s - rng.integers(60 * DAY, 1500 * DAY, size=n_reps)
    rep_latent = rng.standard_normal(n_reps)

    # --- Products -------------------------------------------------------------------------------------------
    n_prod = len(V.PRODUCTS)
    prod_family = np.array([p[2] for p in V.PRODUCTS])
    prod_price_cents = np.array([p[3] * 100 for p in V.PRODUCTS], dtype=np.int64)
    prod_active = np.array([p[4] for p in V.PRODUCTS])
    fam_first = np.searchsorted(prod_family, np.arange(len(V.FAMILIES)))
    fam_count = np.bincount(prod_family, minlength=len(V.FAMILIES))
    prod_created = start_s - rng.integers(400 * DAY, 1500 * DAY, size=n_prod)
    affinity_matrix = rng.standard_normal((len(V.INDUSTRIES), len(V.FAMILIES)))

    # --- Accounts -------------------------------------------------------------------------------------------
    industry = _weighted(rng, V.INDUSTRY_WEIGHTS, n)
    country = _weighted(rng, tuple(c[1] for c in V.COUNTRIES), n)
    acc_type = _weighted(rng, V.ACCOUNT_TYPE_WEIGHTS, n)
    employees = np.clip(np.round(rng.lognormal(np.log(180), 1.6, size=n)), 1, 400_000).astype(np.int64)
    rev_per_emp = np.asarray(V.REVENUE_PER_EMPLOYEE, dtype=float)[industry] * rng.lognormal(0.0, 0.5, size=n)
    revenue = np.maximum(np.round(employees * rev_per_emp, -3), 1000).astype(np.int64)
    cores, suffixes, domains = _account_names(rng, industry, country)
    web_style = rng.random(n)
    website = [
        ("https://www." if s < 0.2 else "www." if s < 0.9 else "") + d
        for s, d in zip(web_style.tolist(), domains, strict=True)
    ]
    parent = _parents(rng, employees)
    acc_latent = _account_latents(rng, parent)

    # Owner: an active rep of the account's sales team (falls back to team 0 .. n_teams-1 when unstaffed).
    region = np.array([c[4] for c in V.COUNTRIES])[country]
    coin = rng.random(n) < 0.5
    team = np.full(n, V.TEAMS.index("EMEA"))
    na = region == "NA"
    team[na] = np.select(
        [employees[na] >= 1000, employees[na] >= 100],
        [np.where(coin[na], 0, 1), V.TEAMS.index("Mid-Market")],
        V.TEAMS.index("SMB"),
    )
    team[region == "APAC"] = V.TEAMS.index("APAC")
    team[region == "LATAM"] = V.TEAMS.index("LATAM")
    team[industry == V.GOVERNMENT] = V.TEAMS.index("Public Sector")
    team = np.where(team < n_teams, team, np.arange(n) % n_teams)
    acc_owner = np.empty(n, dtype=np.int64)
    for t in range(n_teams):
        pool = np.flatnonzero(rep_active & (rep_team == t))
        members = np.flatnonzero(team == t)
        acc_owner[members] = pool[rng.integers(pool.size, size=members.size)]

    # --- Contacts and employment ----------------------------------------------------------------------------
    size_factor = employees.astype(float) ** 0.2
    size_factor /= size_factor.mean()
    n_con_acc = 1 + rng.poisson(4.0 * size_factor)
    n_con = int(n_con_acc.sum())
    home = np.repeat(np.arange(n), n_con_acc)
    anchor = np.zeros(n_con, dtype=bool)
    anchor[np.r_[0, np.cumsum(n_con_acc)[:-1]]] = True  # first contact per account never leaves: deals need one
    con_z = rng.standard_normal(n_con)
    # How often a person is put on deals: a few people at each account are on most of them, as in real buying
    # groups, which is what gives a contact a track record worth reading.
    con_activity = rng.lognormal(0.0, ACTIVITY_SIGMA, size=n_con)
    con_first = rng.integers(len(V.FIRST_NAMES), size=n_con)
    con_last = rng.integers(len(V.LAST_NAMES), size=n_con)
    con_title = _weighted(rng, tuple(t[2] for t in V.TITLES), n_con)
    title_class = np.array([t[1] for t in V.TITLES])[con_title]
    new_hire = ~anchor & (rng.random(n_con) < 0.12)
    emp_start = np.where(
        new_hire, start_day + rng.integers(0, HISTORY_DAYS - 30, size=n_con),
        start_day - rng.integers(30, 3650, size=n_con),
    )
    # Movers: ~22% of non-anchor contacts (≈17.5% of all) change employer once, on a day well inside history.
    move_lo = np.maximum(emp_start + 60, start_day + 30)
    move_hi = as_of_day - 20
    mover = ~anchor & (rng.random(n_con) < 0.22) & (move_lo < move_hi)
    move_day = np.where(mover, move_lo + (rng.random(n_con) * (move_hi - move_lo)).astype(np.int64), -1)
    draw = rng.integers(n - 1, size=n_con)
    new_acc = np.where(mover, draw + (draw >= home), -1)
    con_current = np.where(mover, new_acc, home)
    pre_window = emp_start < start_day
    con_created = np.where(
        pre_window,
        np.maximum(emp_start * DAY, start_s - rng.integers(0, 720 * DAY, size=n_con)),
        emp_start * DAY + rng.integers(0, 20 * DAY, size=n_con),
    )
    con_created = _office_time(rng, con_created // DAY)

    movers = np.flatnonzero(mover)
    sp_contact = np.r_[np.arange(n_con), movers]
    sp_account = np.r_[home, new_acc[movers]]
    sp_start_day = np.r_[emp_start, move_day[movers]]
    sp_end_day = np.r_[np.where(mover, move_day - 1, -1), np.full(movers.size, -1)]
    move_created = move_day[movers] * DAY + rng.integers(6 * 3600, 8 * 3600, size=movers.size)

    # --- Opportunities --------------------------------------------------------------------------------------
    opp_factor = employees.astype(float) ** 0.25
    opp_factor /= opp_factor.mean()
    n_opp_acc = rng.poisson(4.2 * opp_factor)
    n_opp = int(n_opp_acc.sum())
    opp_account = np.repeat(np.arange(n), n_opp_acc)
    growth = 0.6  # deal flow grows linearly by 60% over the two years, as a growing business's does
    u = rng.random(n_opp)
    frac = (np.sqrt(1.0 + (2 * growth + growth**2) * u) - 1.0) / growth
    opp_created = _office_time(rng, (start_s + (frac * HISTORY_DAYS * DAY).astype(np.int64)) // DAY)
    opp_created = np.clip(opp_created, start_s, as_of_s - 60)

    # Line items: 1-3 per deal; family by global mix, product uniform within family.
    n_li = rng.integers(1, 4, size=n_opp)
    oli_opp = np.repeat(np.arange(n_opp), n_li)
    n_oli = oli_opp.size
    oli_family = _weighted(rng, V.FAMILY_WEIGHTS, n_oli)
    oli_product = fam_first[oli_family] + (rng.random(n_oli) * fam_count[oli_family]).astype(np.int64)
    retired = ~prod_active[oli_product] & (opp_created[oli_opp] >= start_s + 365 * DAY)
    oli_product[retired] = fam_first[oli_family[retired]]  # the first product of each family is active
    emp_o = employees[opp_account][oli_opp].astype(float)
    services = oli_family == V.FAMILIES.index("Services")
    licence_qty = np.exp(np.log1p(np.sqrt(emp_o) / 3.0) + 0.6 * rng.standard_normal(n_oli))
    service_qty = np.exp(np.log(5.0 + np.sqrt(emp_o) / 4.0) + 0.5 * rng.standard_normal(n_oli))
    oli_qty = np.clip(np.round(np.where(services, service_qty, licence_qty)), 1, 5000).astype(np.int64)
    discount = np.array([0, 5, 10, 15, 20, 25])[_weighted(rng, (0.3, 0.2, 0.2, 0.15, 0.1, 0.05), n_oli)]
    oli_unit_cents = np.round(prod_price_cents[oli_product] * (100 - discount) / 100).astype(np.int64)
    li_start = np.r_[0, np.cumsum(n_li)[:-1]]
    amount_cents = np.add.reduceat(oli_qty * oli_unit_cents, li_start)

    # Duration: log-normal, median 45 days at the reference amount, longer for bigger deals.
    log_amount = np.log(amount_cents / 100.0)
    duration_days = np.exp(
        np.log(45.0) + 0.15 * (log_amount - np.log(AMOUNT_REF)) + 0.85 * rng.standard_normal(n_opp)
    ).clip(3, 720)
    opp_close = opp_created + (duration_days * DAY).astype(np.int64)
    opp_closed = opp_close <= as_of_s

    # Owner: usually the account owner; open deals are never left with a rep who has gone inactive.
    opp_owner = np.where(rng.random(n_opp) < 0.15, rng.integers(n_reps, size=n_opp), acc_owner[opp_account])
    orphan = ~opp_closed & ~rep_active[opp_owner]
    opp_owner[orphan] = acc_owner[opp_account[orphan]]

    # --- Contact roles: only contacts employed at the deal's account on its creation day -------------------
    opp_day = opp_created // DAY
    order = np.argsort(sp_account, kind="stable")
    sp_count = np.bincount(sp_account, minlength=n)
    sp_first = np.r_[0, np.cumsum(sp_count)[:-1]]
    pair_n = sp_count[opp_account]
    pair_opp = np.repeat(np.arange(n_opp), pair_n)
    pair_pos = np.arange(pair_opp.size) - np.repeat(np.cumsum(pair_n) - pair_n, pair_n)
    pair_sp = order[sp_first[opp_account[pair_opp]] + pair_pos]
    d = opp_day[pair_opp]
    employed = (sp_start_day[pair_sp] <= d) & ((sp_end_day[pair_sp] < 0) | (d <= sp_end_day[pair_sp]))
    pair_opp, pair_sp = pair_opp[employed], pair_sp[employed]
    # Weighted sampling without replacement (exponential race): more active people come first more often.
    race = rng.exponential(size=pair_opp.size) / con_activity[sp_contact[pair_sp]]
    shuffle = np.lexsort((race, pair_opp))
    pair_opp, pair_sp = pair_opp[shuffle], pair_sp[shuffle]
    starts = _group_starts(pair_opp)
    rank = np.arange(pair_opp.size) - np.repeat(starts, np.diff(np.r_[starts, pair_opp.size]))
    want = rng.integers(1, 5, size=n_opp)
    keep = rank < want[pair_opp]
    ocr_opp, ocr_contact, ocr_rank = pair_opp[keep], sp_contact[pair_sp[keep]], rank[keep]
    n_ocr = ocr_opp.size
    cls = title_class[ocr_contact]
    ocr_role = (rng.random(n_ocr)[:, None] > _ROLE_CUM[cls]).sum(axis=1).clip(0, len(V.ROLES) - 1)
    weight = _ROLE_WEIGHT[ocr_role]
    end = np.minimum(opp_close, as_of_s)
    span = (end - opp_created)[ocr_opp]
    ocr_created = opp_created[ocr_opp] + np.where(
        ocr_rank == 0, np.minimum(rng.integers(60, 7200, size=n_ocr), span),
        (rng.random(n_ocr) * 0.6 * span).astype(np.int64),
    )
    by_weight = np.lexsort((-weight, ocr_opp))
    ocr_primary = np.zeros(n_ocr, dtype=bool)
    first_by_weight = by_weight[_group_starts(ocr_opp[by_weight])]
    has_primary = rng.random(n_opp) < 0.75
    ocr_primary[first_by_weight[has_primary[ocr_opp[first_by_weight]]]] = True

    li_span = (end - opp_created)[oli_opp]
    oli_created = opp_created[oli_opp] + (rng.random(n_oli) * 0.25 * li_span).astype(np.int64)

    # --- Planted effects -----------------------------------------------------------------------------------
    # Static parts first (known when the deal is created and not fed by outcomes), then the record effects,
    # which need the deals played forward in time (`_history`).
    w_sum = np.bincount(ocr_opp, weights=weight, minlength=n_opp)
    account_latent = ACCOUNT_STD * acc_latent[opp_account]
    opp_parent = parent[opp_account]
    parent_effect = np.where(opp_parent >= 0, PARENT_STD * acc_latent[np.maximum(opp_parent, 0)], 0.0)
    raw_aff = np.add.reduceat(affinity_matrix[industry[opp_account][oli_opp], oli_family], li_start) / n_li
    affinity_effect = raw_aff * (AFFINITY_STD / raw_aff.std())
    rep_effect = REP_STD * rep_latent[opp_owner]
    amount_effect = AMOUNT_SLOPE * (log_amount - np.log(AMOUNT_REF))
    latent_rows = CONTACT_STD * weight * con_z[ocr_contact] / w_sum[ocr_opp]
    # Responsiveness: drawn from the timeline's own generator, so every draw above and below is as before.
    timeline_rng, con_response = _timeline.responsiveness(seed, n_con)
    response_effect = _timeline.response_effect(con_response, ocr_opp, ocr_contact, ocr_role, n_opp)
    static = account_latent + parent_effect + affinity_effect + rep_effect + amount_effect + response_effect
    static = static + np.bincount(ocr_opp, weights=latent_rows, minlength=n_opp)
    draws = rng.random(n_opp)

    def play(base: float) -> _history.Played:
        return _history.play_forward(
            base + static, CONTACT_RECORD_WEIGHT, ACCOUNT_RECORD_WEIGHT, draws, opp_created, opp_close, opp_closed,
            opp_account, ocr_opp, ocr_contact, ocr_created, weight)

    def record_terms(played: _history.Played) -> tuple[np.ndarray, np.ndarray]:
        """Each contact role's share of the contact record effect, and each deal's record effects in all."""
        rows = CONTACT_RECORD_WEIGHT * weight * played.role_record / w_sum[ocr_opp]
        return rows, np.bincount(ocr_opp, weights=rows, minlength=n_opp) + ACCOUNT_RECORD_WEIGHT * played.account_record

    # The base rate: first for the static part alone, then once more with the records of that first run, so
    # the mean win probability lands near the target without replaying the history many times.
    base = _intercept_for(static + record_terms(play(_intercept_for(static)))[1])
    played = play(base)
    record_rows, _ = record_terms(played)
    contribution = record_rows + latent_rows
    contact_effect = np.bincount(ocr_opp, weights=contribution, minlength=n_opp)
    account_effect = account_latent + ACCOUNT_RECORD_WEIGHT * played.account_record
    by_contrib = np.lexsort((-np.abs(contribution), ocr_opp))
    key_rows = by_contrib[_group_starts(ocr_opp[by_contrib])]
    key_contact = np.full(n_opp, -1, dtype=np.int64)
    key_contact[ocr_opp[key_rows]] = ocr_contact[key_rows]
    effects = {
        "contact": contact_effect, "account": account_effect, "parent": parent_effect,
        "affinity": affinity_effect, "rep": rep_effect, "amount": amount_effect, "response": response_effect,
    }
    rest = sum(effects.values())
    logit = base + rest
    opp_won = played.won

    # --- Remaining opportunity fields -----------------------------------------------------------------------
    elapsed = (as_of_s - opp_created) / np.maximum(opp_close - opp_created, 1)
    open_stage = np.minimum((elapsed * len(V.OPEN_STAGES)).astype(np.int64), len(V.OPEN_STAGES) - 1)
    opp_stage = np.where(opp_closed, np.where(opp_won, 6, 7), open_stage)
    timeline, now_stage, now_close_day = _timeline.build_timeline(
        timeline_rng, con_response, logit - base, opp_created, opp_close, opp_closed, opp_won, amount_cents,
        ocr_opp, ocr_contact, ocr_created, as_of_s)
    opp_stage = np.where(opp_closed, opp_stage, now_stage)  # an open deal stands where its history left it
    # Closed: the day it closed, the one the records count (`_history`); open: the expected close last set.
    opp_close_day = np.where(opp_closed, opp_close // DAY, now_close_day)
    by_time = np.lexsort((opp_created, opp_account))
    opp_new_customer = np.zeros(n_opp, dtype=bool)
    opp_new_customer[by_time[_group_starts(opp_account[by_time])]] = True
    opp_type_existing = _weighted(rng, V.OPP_TYPES_EXISTING_WEIGHTS, n_opp)
    opp_lead = np.where(rng.random(n_opp) < 0.08, -1, rng.integers(len(V.LEAD_SOURCES), size=n_opp))
    lost = opp_closed & ~opp_won
    opp_loss = np.where(lost & (rng.random(n_opp) >= 0.04), _weighted(rng, V.LOSS_REASON_WEIGHTS, n_opp), -1)
    kinds = rng.integers(len(V.OPP_NAME_KINDS), size=n_opp)
    first_family = oli_family[li_start]
    opp_name = [
        f"{cores[a]} - {V.FAMILIES[f]} {V.OPP_NAME_KINDS[k]}"
        for a, f, k in zip(opp_account.tolist(), first_family.tolist(), kinds.tolist(), strict=True)
    ]

    # --- Creation dates that respect dependencies -----------------------------------------------------------
    # A contact's CRM record exists before the first deal it is named on.
    np.minimum.at(con_created, ocr_contact, ocr_created - rng.integers(3600, 10 * DAY, size=n_ocr))
    sp_created = np.r_[con_created, move_created]
    acc_created = np.where(
        rng.random(n) < 0.75, start_s - rng.integers(0, 3 * 365 * DAY, size=n),
        start_s + rng.integers(0, 600 * DAY, size=n),
    )
    np.minimum.at(acc_created, home, con_created - rng.integers(3600, 30 * DAY, size=n_con))
    np.minimum.at(acc_created, opp_account, opp_created - rng.integers(3600, 30 * DAY, size=n_opp))
    np.minimum.at(acc_created, new_acc[movers], move_created - rng.integers(3600, 30 * DAY, size=movers.size))

    # Roles on the employment relation: mostly blank, otherwise one or two values of the multi-select picklist.
    n_sp = sp_contact.size
    role_pick = rng.integers(len(V.ACR_ROLES), size=(n_sp, 2))
    role_n = np.where(rng.random(n_sp) < 0.7, 0, rng.integers(1, 3, size=n_sp))
    sp_roles = [
        "" if k == 0
        else V.ACR_ROLES[r0] if k == 1 or r0 == r1
        else ";".join(sorted((V.ACR_ROLES[r0], V.ACR_ROLES[r1])))
        for k, r0, r1 in zip(role_n.tolist(), role_pick[:, 0].tolist(), role_pick[:, 1].tolist(), strict=True)
    ]

    first_fold = [V.ascii_fold(x).lower().replace(" ", "").replace("'", "") for x in V.FIRST_NAMES]
    last_fold = [V.ascii_fold(x).lower().replace(" ", "").replace("'", "") for x in V.LAST_NAMES]
    con_email = [
        f"{first_fold[f]}.{last_fold[ln]}@{domains[a]}"
        for f, ln, a in zip(con_first.tolist(), con_last.tolist(), con_current.tolist(), strict=True)
    ]

    return World(
        rng=rng, as_of_s=as_of_s, start_s=start_s,
        rep_first=rep_first, rep_last=rep_last, rep_team=rep_team, rep_title=rep_title, rep_active=rep_active,
        rep_created=rep_created, rep_latent=rep_latent,
        prod_created=prod_created,
        acc_core=cores, acc_suffix=suffixes, acc_domain=domains, acc_website=website, acc_industry=industry,
        acc_country=country, acc_type=acc_type, acc_employees=employees, acc_revenue=revenue, acc_parent=parent,
        acc_owner=acc_owner, acc_created=acc_created, acc_latent=acc_latent,
        con_first=con_first, con_last=con_last, con_title=con_title, con_email=con_email, con_current=con_current,
        con_created=con_created, con_z=con_z,
        sp_contact=sp_contact, sp_account=sp_account, sp_start_day=sp_start_day, sp_end_day=sp_end_day,
        sp_created=sp_created, sp_roles=sp_roles,
        opp_account=opp_account, opp_owner=opp_owner, opp_created=opp_created, opp_close=opp_close,
        opp_close_day=opp_close_day, opp_closed=opp_closed, opp_won=opp_won, opp_stage=opp_stage,
        opp_amount_cents=amount_cents,
        opp_new_customer=opp_new_customer, opp_type_existing=opp_type_existing, opp_lead=opp_lead,
        opp_loss=opp_loss, opp_name=opp_name,
        effects=effects, logit=logit, key_contact=key_contact,
        ocr_opp=ocr_opp, ocr_contact=ocr_contact, ocr_role=ocr_role, ocr_primary=ocr_primary,
        ocr_created=ocr_created,
        oli_opp=oli_opp, oli_product=oli_product, oli_qty=oli_qty, oli_unit_cents=oli_unit_cents,
        oli_created=oli_created, con_response=con_response, timeline=timeline,
    )
