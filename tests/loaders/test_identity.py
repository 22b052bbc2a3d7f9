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
from loaders import load_export, load_mapping
from loaders.identity import DEFAULT_RULES, Decision, IdentityRules, load_identity_rules, resolve
from loaders.normalise import company_name, email, website
from loaders.sample import generate_sample


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


@pytest.mark.parametrize("url", ["acme.com", "www.acme.com", "https://www.acme.com/", "HTTP://Acme.com//", "acme.com?ref=x"])
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
    path.write_text("entities:\n  Account:\n    rules:\n      - {name: name_2_edits, field: name, normalise: company_name,"
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
    merges = store.merges("Account")
    assert {m.merged_id for m in merges} == duplicates
    for m in merges:  # no false merge: each duplicate joined the company it copies
        assert website(by_id[m.kept_id]["Website"]) == website(by_id[m.merged_id]["Website"])
        assert m.kept_id not in duplicates and m.rule == "same_website" and m.score == 1.0
    assert store.merges("Contact") == []  # the generator plants no duplicate contacts
    assert load.merges == {"Account.same_website": planted}
    files = {f.file: f for f in load.files}
    assert files["Account.csv"].merged == planted and load.reconciles


def test_references_to_duplicates_are_redirected(sample_load):
    root, sample, store, load = sample_load
    duplicates = {m.merged_id for m in store.merges("Account")}
    assert not duplicates & store.node_ids("Account")
    nodes, edges = store.read_tables()
    assert not {e["dst"] for e in edges["FOR_ACCOUNT"]} & duplicates
    assert not {e["dst"] for e in edges["WORKS_AT"]} & duplicates
    redirected = sum(len(m.redirects) for m in store.merges("Account"))
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
    assert again.merges == {"Account.same_website": len(store.merges("Account", "active"))}
    assert main(["merges", "undo", str(first["merge_id"]), "--store", url]) == 1  # already undone
