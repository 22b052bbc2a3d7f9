"""Identity resolution: normal forms, the rules, blocking, and the sample's planted duplicate accounts."""

from __future__ import annotations

import csv
import json
import random
import string
from pathlib import Path

import pytest

import loaders.identity as identity
from api.cli import main
from graph import open_store, sqlite_url
from graph.ledger import Ledger
from loaders import load_export, load_mapping
from loaders.identity import DEFAULT_RULES, Decision, IdentityRules, load_identity_rules, resolve
from loaders.normalise import company_name, email, website
from loaders.sample import generate_sample
from tests.loaders.graph_dump import canonical


@pytest.mark.parametrize("variant", [
    "Acme Inc", "ACME INC.", "Acme Incorporated", "Acme, Inc", "acme inc", "  Acme   Inc ", "The Acme Inc",
    "Acme Ltd", "Acme Limited", "Acme GmbH", "Acme G.m.b.H.", "Acme S.A.", "Acme SA", "Acme K.K.", "Acme (HQ)",
    "Acme Sp. z o.o.", "Acme S.A. de C.V.", "Acme Pty Ltd", "Acme Public Limited Company", "Acme L.L.C.",
])
def test_company_names_lose_case_punctuation_and_legal_suffixes(variant):
    assert company_name(variant) == "acme"


def test_company_name_keeps_what_is_not_a_legal_form():
    assert company_name("Acme Group") == "acme group"  # may be the parent of "Acme"
    assert company_name("Grün Öl & Gas AG") == "grun ol and gas"
    assert company_name("Inc") == "inc"  # never the whole name
    assert company_name("") == company_name(None) == ""


@pytest.mark.parametrize("url", ["acme.com", "www.acme.com", "https://www.acme.com/", "HTTP://Acme.com//",
                                 "acme.com?ref=x"])
def test_websites_lose_scheme_www_and_trailing_slash(url):
    assert website(url) == "acme.com"


def test_emails_compare_case_insensitively():
    assert email(" Ann@Acme.COM ") == email("ann@acme.com") == "ann@acme.com"
    assert email("not an address") == ""


def account(i: str, name: str, web: str = "", country: str = "DE", created: str = "2024-01-01T00:00:00Z", **more):
    return {"id": i, "name": name, "website": web, "country": country, "created_at": created, **more}


def test_rules_in_order_with_reason_and_score():
    records = [
        account("a1", "Acme GmbH", "www.acme.de", created="2023-01-01T00:00:00Z"),
        account("a2", "ACME G.m.b.H.", "https://acme.de/", created="2024-01-01T00:00:00Z"),
        account("b1", "Vexora Systems AG", "", created="2022-01-01T00:00:00Z"),
        account("b2", "Vexora Systems", "vexora.de", created="2024-01-01T00:00:00Z"),
        account("c1", "Quintaro Logistics", "", employees=12),
        account("c2", "Quintaro Logistcs", "", employees=12),  # a typo
    ]
    result = resolve("Account", records, DEFAULT_RULES)
    got = {d.merged_id: d for d in result.decisions}
    assert got["a2"] == Decision("a1", "a2", "same_website", 1.0, "website 'acme.de'")
    assert (got["b2"].kept_id, got["b2"].rule) == ("b1", "same_name")  # the older record is kept
    assert (got["c2"].kept_id, got["c2"].rule) == ("c1", "similar_name") and 0.9 < got["c2"].score < 1
    assert "'quintaro logistics' ~ 'quintaro logistcs'" in got["c2"].detail


def test_disagreeing_properties_block_a_merge():
    records = [
        account("a1", "Acme", "acme.de"), account("a2", "Acme", "acme-shop.de"),  # two websites: two companies
        account("b1", "Briix Power", "", country="UK"), account("b2", "Briix Power", "", country="US"),
        account("c1", "Solex Software", "", employees=10), account("c2", "Solux Software", "", employees=900),
    ]
    result = resolve("Account", records, DEFAULT_RULES)
    assert result.decisions == []
    assert result.blocked == {"same_name": 1, "similar_name": 1}  # b1/b2 are never compared: another country


def test_a_fuzzy_candidate_close_to_two_groups_is_ambiguous():
    records = [account("a", "Telux Components"), account("b", "Delux Components"), account("c", "Telex Components")]
    result = resolve("Account", records, DEFAULT_RULES)
    assert result.decisions == [] and result.ambiguous


def test_undone_merges_stay_apart_and_earlier_ones_stay_in_force():
    records = [account("a1", "Acme", "acme.de"), account("a2", "Acme Inc", "acme.de"),
               account("x1", "Xylo", "xylo.de"), account("x2", "Zeta", "zeta.de")]
    result = resolve("Account", records, DEFAULT_RULES, cannot_link=[("a1", "a2")],
                     must_link=[Decision("x1", "x2", "same_website", 1.0, "by hand")])
    assert [(d.kept_id, d.merged_id, d.rule) for d in result.decisions] == [("x1", "x2", "same_website")]


def test_contacts_by_email_unless_their_titles_differ():
    contacts = [
        {"id": "c1", "email": "Ann@Acme.com", "title": "CFO", "created_at": "2024-01-01T00:00:00Z"},
        {"id": "c2", "email": "ann@acme.com", "title": "", "created_at": "2024-02-01T00:00:00Z"},
        {"id": "c3", "email": "bo@acme.com", "title": "CTO", "created_at": "2024-01-01T00:00:00Z"},
        {"id": "c4", "email": "BO@acme.com", "title": "Engineer", "created_at": "2024-01-01T00:00:00Z"},
    ]
    result = resolve("Contact", contacts, DEFAULT_RULES)
    assert [(d.kept_id, d.merged_id, d.rule) for d in result.decisions] == [("c1", "c2", "same_email")]
    assert result.blocked == {"same_email": 1}


def test_fuzzy_matching_compares_candidates_not_all_pairs(monkeypatch):
    rng = random.Random(5)
    names = {"".join(rng.choices(string.ascii_lowercase, k=12)) for _ in range(3000)}
    records = [account(f"a{i}", name) for i, name in enumerate(sorted(names))]
    calls = []
    real = identity.Levenshtein.distance
    monkeypatch.setattr(identity.Levenshtein, "distance", lambda a, b, **kw: calls.append(1) or real(a, b, **kw))
    resolve("Account", records, DEFAULT_RULES)
    assert len(calls) < len(records)  # all pairs would be 4.5 million


def test_rules_are_tunable_from_yaml(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("entities:\n  Account:\n    rules:\n"
                    "      - {name: name_2_edits, field: name, normalise: company_name,"
                    " max_edits: 2}\n", "utf-8")
    rules = load_identity_rules(path)
    result = resolve("Account", [account("a", "Quintaro"), account("b", "Quintrao")], rules)
    assert [d.rule for d in result.decisions] == ["name_2_edits"]
    assert resolve("Contact", [{"id": "c1", "email": "x@y"}, {"id": "c2", "email": "x@y"}], rules).decisions == []
    path.write_text("entities: {Account: {rules: [{name: n, field: name, normalise: soundex}]}}", "utf-8")
    with pytest.raises(Exception, match="soundex"):
        load_identity_rules(path)
    assert resolve("Account", [account("a", "A"), account("b", "A")], IdentityRules()).decisions == []


# ---- the sample's planted duplicates


@pytest.fixture(scope="module")
def sample_load(tmp_path_factory):
    """The default sample (accounts=2000, seed=7), loaded once."""
    root = tmp_path_factory.mktemp("identity")
    summary = generate_sample(root / "export", accounts=2000, seed=7)
    store = open_store(sqlite_url(root / "g.db"))
    load = load_export(store, root / "export", load_mapping("salesforce", store.schema), root / "q")
    yield root, summary, store, load
    store.close()


def accounts_csv(export: Path) -> list[dict[str, str]]:
    with (export / "Account.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_planted_duplicate_account_is_found_and_nothing_else(sample_load):
    root, sample, store, load = sample_load
    planted = sample.dirt["duplicate_accounts"]
    rows = accounts_csv(root / "export")
    by_id = {r["Id"]: r for r in rows}
    # The generator's knowledge: duplicates get the highest ids and are listed last; each shares its source's
    # website, which is unique per real company.
    duplicates = {r["Id"] for r in rows[-planted:]}
    merges = Ledger(store).merges("Account")
    assert {m.merged_id for m in merges} == duplicates
    for m in merges:  # no false merge: each duplicate joined the company it copies
        assert website(by_id[m.kept_id]["Website"]) == website(by_id[m.merged_id]["Website"])
        assert m.kept_id not in duplicates and m.rule == "same_website" and m.score == 1.0
    assert Ledger(store).merges("Contact") == []  # the generator plants no duplicate contacts
    assert load.merges == {"Account.same_website": planted}
    files = {f.file: f for f in load.files}
    assert files["Account.csv"].merged == planted and load.reconciles


def test_references_to_duplicates_are_redirected(sample_load):
    root, sample, store, load = sample_load
    duplicates = {m.merged_id for m in Ledger(store).merges("Account")}
    assert not duplicates & store.node_ids("Account")
    nodes, edges = store.read_tables()
    assert not {e["dst"] for e in edges["FOR_ACCOUNT"]} & duplicates
    assert not {e["dst"] for e in edges["WORKS_AT"]} & duplicates
    redirected = sum(len(m.redirects) for m in Ledger(store).merges("Account"))
    # Every deal and contact planted on a duplicate is now on its company (some have other dirt, hence >=).
    planted = sample.dirt["opportunities_on_duplicate_accounts"] + sample.dirt["contacts_on_duplicate_accounts"]
    assert redirected >= planted * 0.9


def test_merges_list_and_undo_through_the_cli(sample_load, capsys):
    root, _, store, _ = sample_load
    url = sqlite_url(root / "g.db")
    assert main(["merges", "list", "--json", "--store", url]) == 0
    first = json.loads(capsys.readouterr().out)["merges"][0]
    assert main(["merges", "undo", str(first["merge_id"]), "--store", url]) == 0
    assert "is back" in capsys.readouterr().out
    assert first["merged_id"] in store.node_ids("Account")
    again = load_export(store, root / "export", load_mapping("salesforce", store.schema), root / "q")
    assert first["merged_id"] in store.node_ids("Account")  # a later load keeps the pair apart
    assert again.merges == {"Account.same_website": len(Ledger(store).merges("Account", "active"))}
    assert main(["merges", "undo", str(first["merge_id"]), "--store", url]) == 1  # already undone


# ---- a merge keeps both records' facts: a contact who changed jobs (issue 23)

# A Salesforce org without "Contacts to Multiple Accounts" records a move as a second Contact with the same
# email at the new account; employment then comes from Contact.AccountId (no job history of its own).
MOVER_MAPPING = """
name: salesforce-contact-employment
sources:
  - file: Account.csv
    node: Account
    key: Id
    properties: {name: Name, country: BillingCountry, website: Website, created_at: CreatedDate}
  - file: Contact.csv
    node: Contact
    key: Id
    properties:
      name: {template: "{FirstName} {LastName}"}
      first_name: FirstName
      last_name: LastName
      email: Email
      title: Title
      created_at: CreatedDate
    relations:
      - {relation: WORKS_AT, target: AccountId, properties: {title: Title}}
  - file: Opportunity.csv
    node: Deal
    key: Id
    properties: {name: Name, stage: StageName, amount: Amount, close_date: CloseDate, created_at: CreatedDate}
    relations:
      - {relation: FOR_ACCOUNT, target: AccountId}
  - file: OpportunityContactRole.csv
    key: Id
    relation: INVOLVES
    source: OpportunityId
    target: ContactId
    properties:
      role: {column: Role, map: {Champion: champion}, default: other}
      created_at: CreatedDate
"""
MOVER_HEADERS = {
    "Account.csv": ["Id", "Name", "BillingCountry", "Website", "CreatedDate"],
    "Contact.csv": ["Id", "AccountId", "FirstName", "LastName", "Email", "Title", "CreatedDate"],
    "Opportunity.csv": ["Id", "Name", "AccountId", "StageName", "Amount", "CloseDate", "CreatedDate"],
    "OpportunityContactRole.csv": ["Id", "OpportunityId", "ContactId", "Role", "CreatedDate"],
}
MOVED = "2024-09-15"  # the day the second Contact record was created: Ann's move
MOVER_ROWS = {
    "Account.csv": [["001OLD", "Oldco", "DE", "oldco.de", "2022-01-01T00:00:00.000Z"],
                    ["001NEW", "Newco", "DE", "newco.de", "2022-01-01T00:00:00.000Z"]],
    "Contact.csv": [  # the later record first: file order decides nothing
        ["003B", "001NEW", "Ann", "Lee", "ANN.LEE@mail.com", "VP Sales", f"{MOVED}T08:00:00.000Z"],
        ["003A", "001OLD", "Ann", "Lee", "ann.lee@mail.com", "VP Sales", "2023-03-01T10:00:00.000Z"],
        ["003C", "001OLD", "Bob", "Ray", "bob@oldco.de", "CFO", "2023-03-01T10:00:00.000Z"],
    ],
    "Opportunity.csv": [
        ["006N", "Newco deal", "001NEW", "Prospecting", "1000", "2025-06-01", "2024-10-01T00:00:00.000Z"]],
    "OpportunityContactRole.csv": [["00KA", "006N", "003B", "Champion", "2024-10-02T00:00:00.000Z"]],
}


def write_mover_export(folder: Path, rows: dict[str, list[list[str]]] = MOVER_ROWS) -> Path:
    """A Salesforce-shaped export (Account, Contact, Opportunity, OpportunityContactRole) and its mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in MOVER_HEADERS.items():
        with (folder / name).open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh, lineterminator="\r\n")
            out.writerow(header)
            out.writerows(rows.get(name, []))
    (folder / "mapping.yaml").write_text(MOVER_MAPPING, "utf-8")
    return folder


def mover_only(*contacts: str) -> dict[str, list[list[str]]]:
    """The export with only these contacts (and the roles naming them)."""
    return {**MOVER_ROWS, "Contact.csv": [r for r in MOVER_ROWS["Contact.csv"] if r[0] in contacts],
            "OpportunityContactRole.csv": [r for r in MOVER_ROWS["OpportunityContactRole.csv"] if r[2] in contacts]}


def jobs(store, contact: str) -> set[tuple[str, str | None, str | None]]:
    """(account, since, until) of a contact's WORKS_AT edges."""
    rows = store.neighbours("Contact", [contact], "WORKS_AT").get(contact, [])
    return {(n.node["id"], *(str(n.edge[p]) if n.edge[p] is not None else None for p in ("since", "until")))
            for n in rows}


def load_movers(store, folder: Path, **options):
    return load_export(store, folder, load_mapping(str(folder / "mapping.yaml"), store.schema), folder.parent / "q",
                       **options)


def check_ann_moved(store) -> None:
    """One Ann, both employments ordered by her records' times, her deal role on the survivor."""
    from datetime import UTC, datetime

    assert store.node_ids("Contact") == {"003A", "003C"}
    assert jobs(store, "003A") == {("001OLD", None, MOVED), ("001NEW", MOVED, None)}
    assert jobs(store, "003C") == {("001OLD", None, None)}  # nobody else's job moves
    for day, employer in (("2024-06-01", "001OLD"), ("2024-12-01", "001NEW")):
        t = datetime.fromisoformat(day).replace(tzinfo=UTC)
        works = store.snapshot().as_of(t).edges["WORKS_AT"]
        assert set(works[works["src"] == "003A"]["dst"]) == {employer}
        assert {n.node["id"] for n in store.neighbours("Contact", ["003A"], "WORKS_AT", as_of=t)["003A"]} == {employer}
    assert [n.node["id"] for n in store.neighbours("Deal", ["006N"], "INVOLVES")["006N"]] == ["003A"]
    assert store.check_integrity() == []


def check_undone(store, folder: Path, tmp_path: Path) -> None:
    """Undo gives both records and their own relations back exactly: the graph of a load that merged nothing."""
    [merge] = Ledger(store).merges("Contact")
    Ledger(store).undo_merge(merge.merge_id)
    assert store.node_ids("Contact") == {"003A", "003B", "003C"}
    assert jobs(store, "003A") == {("001OLD", None, None)} and jobs(store, "003B") == {("001NEW", None, None)}
    assert [n.node["id"] for n in store.neighbours("Deal", ["006N"], "INVOLVES")["006N"]] == ["003B"]
    with open_store(sqlite_url(tmp_path / "unmerged.db")) as plain:
        load_movers(plain, folder, identity=None)
        assert canonical(store) == canonical(plain)
        for contact in ("003A", "003B"):  # lineage too: each job names its own record's row again
            assert where_from(store, contact) == where_from(plain, contact)


def where_from(store, node_id: str) -> list[tuple]:
    """The source file and line of a node and of each edge touching it (load ids differ between stores)."""
    [lineage] = Ledger(store).lineage(node_id)
    return [(lineage.provenance.source_file, lineage.provenance.source_line),
            *sorted((e.relation, e.src, e.dst, e.provenance.source_file, e.provenance.source_line)
                    for e in lineage.edges)]


def test_a_contact_who_changed_jobs_keeps_both_employments(tmp_path):
    folder = write_mover_export(tmp_path / "export")
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        summary = load_movers(store, folder)
        check_ann_moved(store)
        [merge] = Ledger(store).merges("Contact")
        assert (merge.kept_id, merge.merged_id, merge.rule) == ("003A", "003B", "same_email")
        assert summary.merges == {"Contact.same_email": 1}
        assert summary.merge_carried == {"WORKS_AT": 1}  # the move; the deal role is someone else's reference
        contacts = next(f for f in summary.files if f.file == "Contact.csv")
        assert (contacts.read, contacts.loaded, contacts.merged, contacts.quarantined) == (3, 2, 1, 0)
        assert summary.reconciles
        # The merged record's lineage comes back with it; its job's lineage is its own row's.
        assert merge.merged_row["_source_line"] == 2
        check_undone(store, folder, tmp_path)


def test_loading_the_merged_export_again_changes_nothing(tmp_path):
    folder = write_mover_export(tmp_path / "export")
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        load_movers(store, folder)
        first = store.read_tables()
        again = load_movers(store, folder)
        assert store.read_tables() == first and again.reconciles
        [merge] = Ledger(store).merges("Contact")
        # Recorded once: her new job re-pointed and its start filled in, her old job's end, her deal role.
        assert sorted((r.relation, r.dst, r.end or "", r.filled) for r in merge.redirects) == [
            ("INVOLVES", "003A", "dst", ()), ("WORKS_AT", "001NEW", "", ("since",)),
            ("WORKS_AT", "001NEW", "src", ()), ("WORKS_AT", "001OLD", "", ("until",))]
        check_undone(store, folder, tmp_path)


def test_a_delta_load_of_the_second_record_merges_the_same_way(tmp_path):
    first = write_mover_export(tmp_path / "one", mover_only("003A", "003C"))
    second = write_mover_export(tmp_path / "two", mover_only("003B"))
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        load_movers(store, first)
        assert jobs(store, "003A") == {("001OLD", None, None)}
        summary = load_movers(store, second, mode="delta")
        check_ann_moved(store)  # the stored job was ended when the new record's began
        assert summary.merge_carried == {"WORKS_AT": 1} and summary.reconciles
        [merge] = Ledger(store).merges("Contact")
        Ledger(store).undo_merge(merge.merge_id)
        assert jobs(store, "003A") == {("001OLD", None, None)} and jobs(store, "003B") == {("001NEW", None, None)}
        assert [n.node["id"] for n in store.neighbours("Deal", ["006N"], "INVOLVES")["006N"]] == ["003B"]


def test_a_merged_row_whose_relation_dangles_is_quarantined(tmp_path):
    rows = {**MOVER_ROWS, "Contact.csv": [["003B", "001GONE", *MOVER_ROWS["Contact.csv"][0][2:]],
                                          *MOVER_ROWS["Contact.csv"][1:]]}
    folder = write_mover_export(tmp_path / "export", rows)
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        summary = load_movers(store, folder)
        contacts = next(f for f in summary.files if f.file == "Contact.csv")
        assert (contacts.loaded, contacts.merged, contacts.quarantined) == (2, 0, 1) and summary.reconciles
        assert summary.merge_carried == {}
        assert jobs(store, "003A") == {("001OLD", None, None)}  # no move is made up from a bad row
        [bad] = [json.loads(line) for line in Path(summary.quarantine_file).read_text().splitlines()]
        assert bad["line"] == 2 and "001GONE" in bad["reason"]


def test_the_export_s_own_job_times_win(tmp_path):
    """Times the export gives are kept: an explicit start of the new job, and an old job that never ended."""
    mapping = MOVER_MAPPING.replace("properties: {title: Title}",
                                    "properties: {title: Title, since: Since, until: Until}")
    rows = {**MOVER_ROWS, "Contact.csv": [[*r, since, until] for r, since, until in zip(
        MOVER_ROWS["Contact.csv"], ["2024-10-01", "", ""], ["", "2030-01-01", ""], strict=True)]}
    headers = {**MOVER_HEADERS, "Contact.csv": [*MOVER_HEADERS["Contact.csv"], "Since", "Until"]}
    folder = tmp_path / "export"
    folder.mkdir()
    for name, header in headers.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([header, *rows[name]])
    (folder / "mapping.yaml").write_text(mapping, "utf-8")
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        load_movers(store, folder)
        assert jobs(store, "003A") == {("001OLD", None, "2030-01-01"), ("001NEW", "2024-10-01", None)}


PARENT_MAPPING = """
name: salesforce-accounts
sources:
  - file: Account.csv
    node: Account
    key: Id
    properties: {name: Name, country: BillingCountry, website: Website, created_at: CreatedDate}
    relations:
      - {relation: SUBSIDIARY_OF, target: ParentId}
"""


def test_a_merged_account_s_parent_is_carried_or_set_aside_and_undo_gives_it_back(tmp_path):
    """One parent per account: a duplicate's parent is carried when the kept account has none, kept with
    the merge when it has its own (or when the duplicate was the kept one's subsidiary), and comes back on undo."""
    folder = tmp_path / "export"
    folder.mkdir()
    rows = [["Id", "Name", "ParentId", "BillingCountry", "Website", "CreatedDate"],
            ["001P1", "Holdco", "", "DE", "holdco.com", "2019-01-01T00:00:00Z"],
            ["001P2", "Bigco", "", "DE", "bigco.com", "2019-01-01T00:00:00Z"],
            ["001A1", "Acme", "001P1", "DE", "acme.com", "2020-01-01T00:00:00Z"],
            ["001A2", "ACME Inc", "001P2", "DE", "www.acme.com", "2021-01-01T00:00:00Z"],  # a second parent
            ["001B1", "Beta", "", "DE", "beta.com", "2020-01-01T00:00:00Z"],
            ["001B2", "Beta AG", "001P1", "DE", "beta.com/", "2021-01-01T00:00:00Z"],  # the only parent
            ["001C1", "Gamma", "", "DE", "gamma.com", "2020-01-01T00:00:00Z"],
            ["001C2", "Gamma GmbH", "001C1", "DE", "gamma.com", "2021-01-01T00:00:00Z"]]  # its own duplicate's child
    with (folder / "Account.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    (folder / "mapping.yaml").write_text(PARENT_MAPPING, "utf-8")
    parents = lambda s: {(e["src"], e["dst"]) for e in s.read_tables()[1]["SUBSIDIARY_OF"]}  # noqa: E731
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        summary = load_movers(store, folder)
        assert store.node_ids("Account") == {"001P1", "001P2", "001A1", "001B1", "001C1"}
        assert parents(store) == {("001A1", "001P1"), ("001B1", "001P1")}
        assert summary.merge_carried == {"SUBSIDIARY_OF": 1} and summary.reconciles
        aside = {m.merged_id: [(a.relation, a.edge["src"], a.edge["dst"]) for a in m.set_aside]
                 for m in Ledger(store).merges("Account")}
        assert aside == {"001A2": [("SUBSIDIARY_OF", "001A2", "001P2")], "001B2": [],
                         "001C2": [("SUBSIDIARY_OF", "001C2", "001C1")]}
        for m in Ledger(store).merges("Account"):
            Ledger(store).undo_merge(m.merge_id)
        assert parents(store) == {("001A1", "001P1"), ("001A2", "001P2"), ("001B2", "001P1"), ("001C2", "001C1")}
        with open_store(sqlite_url(tmp_path / "unmerged.db")) as plain:
            load_movers(plain, folder, identity=None)
            assert canonical(store) == canonical(plain)
            assert where_from(store, "001A2") == where_from(plain, "001A2")
