"""Tests for the synthetic Salesforce export (loaders.sample).

Every check reads the files the generator wrote and compares them with the generator's own summary or with
invariants of the model; nothing compares against stored outputs.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from loaders.sample import DEFAULT_AS_OF, HEADERS, SampleSummary, generate_sample

ACCOUNTS = 300
SEED = 11
SF_FILES = [name for name in HEADERS if name != "truth.csv"]
TIMELINE_FILES = ("OpportunityHistory.csv", "Task.csv", "Event.csv")
CORE_FILES = [name for name in SF_FILES if name not in TIMELINE_FILES]
PREFIX = {
    "Account.csv": "001", "Contact.csv": "003", "User.csv": "005", "Opportunity.csv": "006", "Product2.csv": "01t",
    "OpportunityContactRole.csv": "00K", "OpportunityLineItem.csv": "00k", "AccountContactRelation.csv": "07k",
    "OpportunityHistory.csv": "008", "Task.csv": "00T", "Event.csv": "00U",
}
OPEN_STAGES = {
    "Prospecting": ("10", "Pipeline"), "Qualification": ("10", "Pipeline"), "Needs Analysis": ("20", "Pipeline"),
    "Value Proposition": ("50", "Pipeline"), "Proposal/Price Quote": ("75", "Pipeline"),
    "Negotiation/Review": ("90", "Pipeline"),
}
ROLES = {
    "Champion", "Decision Maker", "Economic Buyer", "Influencer", "Business User", "Technical Buyer",
    "Executive Sponsor", "Evaluator", "Other",
}
EFFECTS = ("contact", "account", "parent", "affinity", "rep", "response")


# --- helpers ---------------------------------------------------------------------------------------------------


def read(directory: Path, name: str) -> list[dict[str, str]]:
    encoding = "utf-8-sig" if name in ("Account.csv", "Opportunity.csv") else "utf-8"
    with open(directory / name, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def parse_dt(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 and value[4] == "-" else None
    except ValueError:
        return None


def checksum_ok(sf_id: str) -> bool:
    """Salesforce's 15->18 character checksum, implemented independently of the generator."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(sf_id[chunk * 5:chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += alphabet[bits]
    return len(sf_id) == 18 and sf_id[15:] == suffix


def by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """First row per Id (exact duplicate rows are planted; they are identical anyway)."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        out.setdefault(row["Id"], row)
    return out


class Export:
    """The parsed files of one generated sample."""

    def __init__(self, directory: Path, summary: SampleSummary) -> None:
        self.dir, self.summary = directory, summary
        self.raw = {name: read(directory, name) for name in HEADERS}
        self.accounts = by_id(self.raw["Account.csv"])
        self.contacts = by_id(self.raw["Contact.csv"])
        self.users = by_id(self.raw["User.csv"])
        self.products = by_id(self.raw["Product2.csv"])
        self.opps = by_id(self.raw["Opportunity.csv"])
        self.acr = self.raw["AccountContactRelation.csv"]
        self.ocr = self.raw["OpportunityContactRole.csv"]
        self.oli = self.raw["OpportunityLineItem.csv"]
        self.truth = {row["OpportunityId"]: row for row in self.raw["truth.csv"]}

    def canonical(self, account_id: str) -> str:
        """Real-world company of an account: duplicates share the Website, which is unique otherwise."""
        return self.accounts[account_id]["Website"] or account_id


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    directory = tmp_path_factory.mktemp("sample")
    return Export(directory, generate_sample(directory, accounts=ACCOUNTS, seed=SEED))


# --- determinism and file format -------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    first = generate_sample(tmp_path / "a", accounts=60, seed=3)
    second = generate_sample(tmp_path / "b", accounts=60, seed=3)
    generate_sample(tmp_path / "c", accounts=60, seed=4)
    for name in HEADERS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.rows == second.rows and first.dirt == second.dirt
    for name in HEADERS:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_headers_bom_crlf_and_row_counts(export: Export) -> None:
    for name, header in HEADERS.items():
        data = (export.dir / name).read_bytes()
        has_bom = data.startswith(b"\xef\xbb\xbf")
        assert has_bom == (name in ("Account.csv", "Opportunity.csv")), name
        body = data[3:] if has_bom else data
        first_line = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
        if name == "truth.csv":
            assert first_line == ",".join(header)
            assert b"\r" not in data
        else:
            assert first_line == ",".join(f'"{h}"' for h in header)
            assert data.count(b"\n") == data.count(b"\r\n") > 1
            assert b"\n" not in data.replace(b"\r\n", b"")
        assert data.endswith(b"\n")
        assert len(export.raw[name]) == export.summary.rows[name], name
    assert export.summary.total_rows == sum(export.summary.rows.values())


def test_every_salesforce_value_is_quoted(export: Export) -> None:
    with open(export.dir / "Contact.csv", encoding="utf-8", newline="") as fh:
        for line in fh.read().split("\r\n")[:-1]:
            assert line.startswith('"') and line.endswith('"')


def test_ids_have_prefix_length_and_checksum(export: Export) -> None:
    for name, prefix in PREFIX.items():
        for row in export.raw[name]:
            assert row["Id"].startswith(prefix) and checksum_ok(row["Id"]), (name, row["Id"])
    # Unique apart from the planted exact duplicate rows.
    for name in SF_FILES:
        ids = [row["Id"] for row in export.raw[name]]
        extra = len(ids) - len(set(ids))
        expected = {"Contact.csv": "duplicate_contact_rows", "Opportunity.csv": "duplicate_opportunity_rows"}
        assert extra == export.summary.dirt.get(expected.get(name, ""), 0), name


def test_non_ascii_names_survive(export: Export) -> None:
    names = " ".join(row["FirstName"] + row["LastName"] for row in export.contacts.values())
    assert any(ord(ch) > 127 for ch in names)


# --- referential sanity ----------------------------------------------------------------------------------------


def test_references_resolve_except_planted_dangling_ids(export: Export) -> None:
    e, dirt = export, export.summary.dirt
    for acc in e.accounts.values():
        assert acc["OwnerId"] in e.users
        assert acc["ParentId"] == "" or acc["ParentId"] in e.accounts
    for con in e.contacts.values():
        assert con["AccountId"] in e.accounts
    for rel in e.acr:
        assert rel["AccountId"] in e.accounts and rel["ContactId"] in e.contacts
    for opp in e.opps.values():
        assert opp["OwnerId"] in e.users
    assert sum(o["AccountId"] not in e.accounts for o in e.opps.values()) == dirt["dangling_opportunity_account"]
    for row in e.ocr:
        assert row["OpportunityId"] in e.opps
    assert sum(r["ContactId"] not in e.contacts for r in e.ocr) == dirt["dangling_contact_role_contact"]
    for row in e.oli:
        assert row["OpportunityId"] in e.opps
    assert sum(r["Product2Id"] not in e.products for r in e.oli) == dirt["dangling_line_item_product"]
    assert set(e.truth) == set(e.opps)
    for row in e.truth.values():
        assert row["key_contact_id"] == "" or row["key_contact_id"] in e.contacts


def test_parents_are_accounts_without_cycles(export: Export) -> None:
    real = [a for a in export.accounts.values()]
    with_parent = [a for a in real if a["ParentId"]]
    assert 0.10 <= len(with_parent) / len(real) <= 0.20
    for acc in with_parent:
        seen, current = {acc["Id"]}, acc["ParentId"]
        while current:
            assert current not in seen
            seen.add(current)
            current = export.accounts[current]["ParentId"]
        assert len(seen) <= 3  # at most two levels above


def test_deal_contacts_were_employed_at_the_account_on_creation_day(export: Export) -> None:
    e = export
    spells: dict[str, list[tuple[str, date, date | None]]] = defaultdict(list)
    for rel in e.acr:
        end = parse_date(rel["EndDate"]) if rel["EndDate"] else None
        spells[rel["ContactId"]].append((e.canonical(rel["AccountId"]), parse_date(rel["StartDate"]), end))
    checked = 0
    for row in e.ocr:
        opp = e.opps[row["OpportunityId"]]
        created = parse_dt(opp["CreatedDate"])
        if row["ContactId"] not in e.contacts or opp["AccountId"] not in e.accounts or created is None:
            continue  # planted dangling ids / bad dates
        day, where = created.date(), e.canonical(opp["AccountId"])
        assert any(
            acc == where and start <= day and (end is None or day <= end)
            for acc, start, end in spells[row["ContactId"]]
        ), (row["Id"], row["ContactId"], opp["Id"])
        checked += 1
    assert checked > 0.95 * len(e.ocr)


def test_employment_history_shape(export: Export) -> None:
    e = export
    rows_per_contact: dict[str, list[dict[str, str]]] = defaultdict(list)
    for rel in e.acr:
        rows_per_contact[rel["ContactId"]].append(rel)
    assert set(rows_per_contact) == set(e.contacts)
    movers = 0
    for contact_id, rels in rows_per_contact.items():
        active = [r for r in rels if r["IsActive"] == "true"]
        assert len(active) == 1 and active[0]["IsDirect"] == "true" and active[0]["EndDate"] == ""
        assert active[0]["AccountId"] == e.contacts[contact_id]["AccountId"]
        assert len(rels) in (1, 2)
        if len(rels) == 2:
            movers += 1
            old = next(r for r in rels if r["IsActive"] == "false")
            assert old["IsDirect"] == "false"
            assert e.canonical(old["AccountId"]) != e.canonical(active[0]["AccountId"])
            assert parse_date(old["EndDate"]) < parse_date(active[0]["StartDate"])
    assert 0.12 <= movers / len(e.contacts) <= 0.25


def test_a_mover_has_deals_at_two_accounts(export: Export) -> None:
    e = export
    where: dict[str, set[str]] = defaultdict(set)
    for row in e.ocr:
        opp = e.opps[row["OpportunityId"]]
        if row["ContactId"] in e.contacts and opp["AccountId"] in e.accounts:
            where[row["ContactId"]].add(e.canonical(opp["AccountId"]))
    assert sum(len(accounts) >= 2 for accounts in where.values()) >= 1


# --- deal mechanics --------------------------------------------------------------------------------------------


def test_deal_structure_amounts_and_stages(export: Export) -> None:
    e = export
    as_of = DEFAULT_AS_OF
    roles_per_opp = Counter(r["OpportunityId"] for r in e.ocr)
    primaries = Counter(r["OpportunityId"] for r in e.ocr if r["IsPrimary"] == "true")
    items: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in e.oli:
        items[row["OpportunityId"]].append(row)
        qty, unit, total = (float(row[k]) for k in ("Quantity", "UnitPrice", "TotalPrice"))
        assert total == pytest.approx(qty * unit, abs=0.005)
    assert all(r["Role"] in ROLES for r in e.ocr)
    open_count = 0
    for opp_id, opp in e.opps.items():
        assert 1 <= roles_per_opp[opp_id] <= 4 and primaries[opp_id] <= 1
        assert 1 <= len(items[opp_id]) <= 3
        total = sum(float(r["TotalPrice"]) for r in items[opp_id])
        assert abs(float(opp["Amount"])) == pytest.approx(total, abs=0.01)
        stage = opp["StageName"]
        if opp["IsClosed"] == "false":
            open_count += 1
            assert stage in OPEN_STAGES and (opp["Probability"], opp["ForecastCategoryName"]) == OPEN_STAGES[stage]
            assert opp["IsWon"] == "false" and opp["Loss_Reason__c"] == ""
            # The expected close the rep last set: after creation; before the export once the rep stopped pushing it.
            close, created = parse_date(opp["CloseDate"]), parse_dt(opp["CreatedDate"])
            assert close is None or created is None or close >= created.date()
        else:
            won = opp["IsWon"] == "true"
            assert stage == ("Closed Won" if won else "Closed Lost")
            assert (opp["Probability"], opp["ForecastCategoryName"]) == (("100", "Closed") if won else ("0", "Omitted"))
            assert won is False or opp["Loss_Reason__c"] == ""
            close = parse_date(opp["CloseDate"])
            assert close is None or close <= as_of.date()
    assert 0.06 <= open_count / len(e.opps) <= 0.15


def test_timestamps_fall_in_history_and_children_follow_their_deal(export: Export) -> None:
    e = export
    as_of, start = DEFAULT_AS_OF, DEFAULT_AS_OF - timedelta(days=730)
    created = {k: parse_dt(o["CreatedDate"]) for k, o in e.opps.items()}
    for ts in created.values():
        assert ts is None or start <= ts < as_of
    for rows in (e.ocr, e.oli):
        for row in rows:
            opp = e.opps[row["OpportunityId"]]
            opp_created, ts = created[row["OpportunityId"]], parse_dt(row["CreatedDate"])
            close = parse_date(opp["CloseDate"])
            if opp_created is None or close is None:
                continue
            assert opp_created <= ts <= as_of
            # Closed: the day it closed. Open: an expected close, which work on an overdue deal may pass.
            assert opp["IsClosed"] == "false" or ts.date() <= close
    for acc in e.accounts.values():
        assert parse_dt(acc["CreatedDate"]) < as_of


def test_planted_bad_values_match_counts(export: Export) -> None:
    e, dirt = export, export.summary.dirt
    assert sum(parse_date(o["CloseDate"]) is None for o in e.opps.values()) == dirt["bad_opportunity_close_date"]
    assert sum(parse_dt(o["CreatedDate"]) is None for o in e.opps.values()) == dirt["bad_opportunity_created_date"]
    assert sum(parse_dt(c["CreatedDate"]) is None for c in e.contacts.values()) == dirt["bad_contact_created_date"]
    assert sum(o["Amount"].startswith("-") for o in e.opps.values()) == dirt["negative_amount"]
    odd = sum(a["NumberOfEmployees"] != "" and not a["NumberOfEmployees"].isdigit() for a in e.accounts.values())
    assert odd == dirt["non_numeric_employees"]
    assert all(v >= 1 for v in dirt.values() if v is not None)


def test_duplicate_accounts_share_website_with_variant_name(export: Export) -> None:
    e, dirt = export, export.summary.dirt
    by_site: dict[str, list[dict[str, str]]] = defaultdict(list)
    for acc in e.raw["Account.csv"]:
        if acc["Website"]:
            by_site[acc["Website"]].append(acc)
    groups = [g for g in by_site.values() if len(g) > 1]
    assert len(groups) == dirt["duplicate_accounts"]
    copies = set()
    for group in groups:
        assert len(group) == 2 and group[0]["Name"] != group[1]["Name"]
        first_word = "".join(ch for ch in group[0]["Name"].split()[0].lower() if ch.isalnum())
        assert first_word in group[1]["Name"].lower()
        copies.add(group[1]["Id"])  # the copy got the newer Id, so it is listed later
    assert sum(c["AccountId"] in copies for c in e.contacts.values()) == dirt["contacts_on_duplicate_accounts"]
    assert sum(o["AccountId"] in copies for o in e.opps.values()) == dirt["opportunities_on_duplicate_accounts"]
    assert dirt["opportunities_on_duplicate_accounts"] >= dirt["duplicate_accounts"]


def test_exact_duplicate_rows_are_verbatim(export: Export) -> None:
    for name in ("Contact.csv", "Opportunity.csv"):
        seen: dict[str, dict[str, str]] = {}
        for row in export.raw[name]:
            assert seen.setdefault(row["Id"], row) == row


def test_sizes_scale_with_accounts(export: Export) -> None:
    rows, n = export.summary.rows, ACCOUNTS
    assert len(export.users) == max(5, round(n / 40))
    assert 4 <= len(export.contacts) / n <= 6
    assert 3.5 <= len(export.opps) / n <= 5
    salesforce_rows = sum(rows[name] for name in CORE_FILES)
    # 30-35 Salesforce rows per account; >= 33.4 is what makes accounts=30000 reach a million rows.
    assert 33.4 <= salesforce_rows / n <= 37
    # The timeline: a history row at creation and per change, a few activities per deal.
    assert 3 <= rows["OpportunityHistory.csv"] / len(export.opps) <= 9
    assert 2 <= (rows["Task.csv"] + rows["Event.csv"]) / len(export.opps) <= 10


# --- truth and planted signal ----------------------------------------------------------------------------------


def test_truth_is_a_consistent_logistic_model(export: Export) -> None:
    e = export
    intercepts = []
    for row in e.truth.values():
        p, logit = float(row["win_probability"]), float(row["logit"])
        assert 0 < p < 1 and p == pytest.approx(1 / (1 + math.exp(-logit)), abs=2e-6)
        effects = {k: float(row[f"{k}_effect"]) for k in (*EFFECTS, "amount")}
        intercepts.append(logit - sum(effects.values()))
        assert row["main_cause"] == max(EFFECTS, key=lambda k: abs(effects[k]))
    assert max(intercepts) - min(intercepts) < 1e-4  # one shared base term


def test_truth_key_contact_is_on_the_deal(export: Export) -> None:
    e = export
    contacts_on = defaultdict(set)
    for row in e.ocr:
        contacts_on[row["OpportunityId"]].add(row["ContactId"])
    dangled = {r["OpportunityId"] for r in e.ocr if r["ContactId"] not in e.contacts}
    for opp_id, row in e.truth.items():
        if opp_id not in dangled:
            assert row["key_contact_id"] in contacts_on[opp_id]


def test_effect_scales_and_parent_effect_only_for_children(export: Export) -> None:
    e = export
    cols = {k: np.array([float(r[f"{k}_effect"]) for r in e.truth.values()]) for k in EFFECTS}
    assert 0.85 <= cols["contact"].std() <= 1.15
    assert 0.3 <= cols["account"].std() <= 0.7
    assert 0.35 <= cols["affinity"].std() <= 0.65
    for opp_id, row in e.truth.items():
        account = e.accounts.get(e.opps[opp_id]["AccountId"])
        if account is not None and not account["ParentId"]:
            assert float(row["parent_effect"]) == 0.0
    child = [float(r["parent_effect"]) for k, r in e.truth.items()
             if e.opps[k]["AccountId"] in e.accounts and e.accounts[e.opps[k]["AccountId"]]["ParentId"]]
    assert np.std(child) > 0.2


def test_outcomes_are_draws_from_the_true_probability(export: Export) -> None:
    e = export
    closed = [k for k, o in e.opps.items() if o["IsClosed"] == "true"]
    won = np.array([e.opps[k]["IsWon"] == "true" for k in closed])
    prob = np.array([float(e.truth[k]["win_probability"]) for k in closed])
    assert 0.25 <= won.mean() <= 0.45
    assert abs(won.mean() - prob.mean()) < 0.05
    # Oracle AUC: probability that a random won deal scores above a random lost one.
    ranks = prob.argsort().argsort() + 1
    auc = (ranks[won].sum() - won.sum() * (won.sum() + 1) / 2) / (won.sum() * (~won).sum())
    assert auc > 0.7


ROLE_WEIGHT = {  # docs/sample-data.md
    "Champion": 2.0, "Decision Maker": 1.5, "Economic Buyer": 1.5, "Executive Sponsor": 1.2, "Technical Buyer": 1.0,
    "Influencer": 1.0, "Evaluator": 0.8, "Business User": 0.5, "Other": 0.5,
}


def records_from_export(e: Export) -> tuple[dict[str, float], dict[str, float]]:
    """Per deal: its contacts' role-weighted mean record and its account's record when it was created,
    recomputed from the export files alone, following the documented definition."""
    midnight = {k: datetime.combine(parse_date(o["CloseDate"]), datetime.min.time(), UTC)
                for k, o in e.opps.items() if o["IsClosed"] == "true" and parse_date(o["CloseDate"])}
    created = {k: parse_dt(o["CreatedDate"]) for k, o in e.opps.items()}
    delta = {k: (1.0 if e.opps[k]["IsWon"] == "true" else 0.0) - 0.35 for k in midnight}
    roles = [(r["OpportunityId"], r["ContactId"], ROLE_WEIGHT[r["Role"]], parse_dt(r["CreatedDate"]))
             for r in {r["Id"]: r for r in e.ocr}.values()]
    deals_of: dict[str, list[tuple[str, datetime]]] = defaultdict(list)  # contact -> (deal, joined)
    people_on: dict[str, list[tuple[str, float]]] = defaultdict(list)  # deal -> (contact, role weight)
    for opp, contact, weight, joined in roles:
        deals_of[contact].append((opp, joined))
        people_on[opp].append((contact, weight))

    def record(deals: list[tuple[str, datetime]], t: datetime) -> float:
        score = sum(delta[d] for d, _ in deals if d in midnight and midnight[d] < t)
        return score / (sum(1 for _, joined in deals if joined < t) + 1)

    contact, account = {}, {}
    by_account = defaultdict(list)
    for k, o in e.opps.items():
        by_account[o["AccountId"]].append((k, created[k]))
    for k, o in e.opps.items():
        if created[k] is None:
            continue
        mine = people_on[k]
        if mine:
            contact[k] = sum(w * record(deals_of[c], created[k]) for c, w in mine) / sum(w for _, w in mine)
        account[k] = record([(d, t) for d, t in by_account[o["AccountId"]] if t is not None], created[k])
    return contact, account


def test_contact_and_account_records_drive_the_truth_as_documented(export: Export) -> None:
    e = export
    contact, account = records_from_export(e)
    deals = [k for k in contact if k in e.truth]
    c_record = np.array([contact[k] for k in deals])
    c_effect = np.array([float(e.truth[k]["contact_effect"]) for k in deals])
    a_record = np.array([account[k] for k in deals])
    a_effect = np.array([float(e.truth[k]["account_effect"]) for k in deals])
    # Contact and account effects are the records plus small latents (and dirt blurs a few rows), so the
    # records recomputed from the export explain most of them; a shuffled control explains none.
    assert np.corrcoef(c_record, c_effect)[0, 1] > 0.8
    assert np.corrcoef(a_record, a_effect)[0, 1] > 0.7
    shuffled = np.random.default_rng(0).permutation(c_record)
    assert abs(np.corrcoef(shuffled, c_effect)[0, 1]) < 0.2
    # And the records matter: deals whose contacts had won before are won more often.
    closed = [k for k in deals if e.opps[k]["IsClosed"] == "true"]
    won = np.array([e.opps[k]["IsWon"] == "true" for k in closed])
    good = np.array([contact[k] > 0 for k in closed])
    bad = np.array([contact[k] < 0 for k in closed])
    assert won[good].mean() > won[bad].mean() + 0.2


# --- arguments -------------------------------------------------------------------------------------------------


def test_as_of_moves_the_history(tmp_path: Path) -> None:
    as_of = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    generate_sample(tmp_path, accounts=40, seed=5, as_of=as_of)
    opps = by_id(read(tmp_path, "Opportunity.csv"))
    stamps = [parse_dt(o["CreatedDate"]) for o in opps.values()]
    stamps = [s for s in stamps if s is not None]
    assert min(stamps) >= as_of - timedelta(days=730) and max(stamps) < as_of


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_sample(tmp_path, accounts=5)
    with pytest.raises(ValueError):
        generate_sample(tmp_path, accounts=50, as_of=datetime(2026, 1, 1))


# --- stage history and activity (`_timeline`) ------------------------------------------------------------------


def test_history_ends_where_the_opportunity_stands(export: Export) -> None:
    # Salesforce writes a history row whenever the stage, amount or close date changes, each holding the values
    # from then on, so the last row carries the opportunity's current StageName, Amount and CloseDate: open, the
    # expected close the rep last set (overdue once they stopped pushing it); closed, the day it closed.
    as_of = DEFAULT_AS_OF
    last: dict[str, tuple[datetime, dict[str, str]]] = {}
    for row in export.raw["OpportunityHistory.csv"]:
        when = parse_dt(row["CreatedDate"])
        assert when is not None and when < as_of  # nothing recorded after the export
        opp = export.opps.get(row["OpportunityId"])
        if opp is None:
            continue  # an opportunity dirt removed
        created = parse_dt(opp["CreatedDate"])
        assert created is None or when >= created  # (None: a date dirt broke)
        if row["OpportunityId"] not in last or when >= last[row["OpportunityId"]][0]:
            last[row["OpportunityId"]] = (when, row)  # ties: the later row in the file (Id order)
    assert len(last) == len(export.opps)
    compared = Counter[str]()
    for opp_id, (_, row) in last.items():
        opp = export.opps[opp_id]
        assert row["StageName"] == opp["StageName"]  # open: its last stage; closed: Closed Won / Lost
        if not opp["Amount"].startswith("-"):  # planted negative amounts are dirt, left for quarantine
            assert row["Amount"] == opp["Amount"], opp_id
            compared["Amount"] += 1
        if parse_date(opp["CloseDate"]) is not None:  # likewise planted bad close dates
            assert row["CloseDate"] == opp["CloseDate"], (opp_id, opp["IsClosed"])
            compared["CloseDate"] += 1
    dirt = export.summary.dirt
    assert compared["Amount"] == len(export.opps) - dirt["negative_amount"]
    assert compared["CloseDate"] == len(export.opps) - dirt["bad_opportunity_close_date"]


def test_economic_buyers_replies_carry_the_response_effect(export: Export) -> None:
    # The planted two-hop effect: zero on deals without an economic buyer, and where there is one it goes with
    # how often that person answers e-mails (on any of their deals).
    buyers = defaultdict(set)
    for row in export.ocr:
        if row["Role"] == "Economic Buyer":
            buyers[row["OpportunityId"]].add(row["ContactId"])
    effect = {o: float(r["response_effect"]) for o, r in export.truth.items()}
    assert all(v == 0.0 for o, v in effect.items() if o not in buyers)
    sent, answered = defaultdict(int), defaultdict(int)
    for row in export.raw["Task.csv"]:
        if row["TaskSubtype"] == "Email" and row["WhoId"]:
            (answered if row["CallType"] == "Inbound" else sent)[row["WhoId"]] += 1
    pairs = [(effect[o], answered[c] / sent[c]) for o, cs in buyers.items() if o in effect and len(cs) == 1
             for c in cs if sent[c] >= 3]
    assert len(pairs) > 30
    assert np.corrcoef(np.array(pairs).T)[0, 1] > 0.3
