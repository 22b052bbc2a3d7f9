"""Incremental loads: a second export with changes updates the graph in place, keeps history, retires what is gone.

`generate_sample` with a later `as_of` shifts the same world in time rather
than moving it along (every date moves, nothing new happens), so the second
export is the first one edited the way a CRM changes between two exports: a
new deal, a stage move, a deal that closed, a contact who moved (once as
Salesforce records it, once with the old job row missing), a deleted deal.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.cli import main
from graph import InvalidInput, open_store, sqlite_url
from graph.ledger import Ledger
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from tests.loaders.graph_dump import canonical

EXPORT_DATE = date(2026, 11, 15)
MOVE_DAY = date(2026, 11, 10)


class Export:
    """An export folder's CSV files as lists of dicts, written back as Data Loader writes them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, list[dict[str, str]]] = {}
        self.headers: dict[str, list[str]] = {}
        for path in folder.glob("*.csv"):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                self.files[path.name] = list(reader)
                self.headers[path.name] = list(reader.fieldnames or [])

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in self.files.items():
            with (folder / name).open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, self.headers[name], quoting=csv.QUOTE_ALL, lineterminator="\r\n")
                writer.writeheader()
                writer.writerows(rows)
        return folder

    def row(self, name: str, **match: str) -> dict[str, str]:
        return next(r for r in self.files[name] if all(r[k] == v for k, v in match.items()))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The first export, and the second one with known changes; the facts the tests check."""
    root = tmp_path_factory.mktemp("incremental")
    first = root / "export1"
    generate_sample(first, accounts=120, seed=4)
    e = Export(first)
    opps, acr = e.files["Opportunity.csv"], e.files["AccountContactRelation.csv"]
    open_deals = [o for o in opps if o["IsClosed"] == "false" and o["StageName"] != "Negotiation/Review"]
    moved, closed = open_deals[0], open_deals[1]
    facts = {"stage_moved": moved["Id"], "closed": closed["Id"]}
    moved.update(StageName="Negotiation/Review", Probability="90")
    closed.update(StageName="Closed Won", IsClosed="true", IsWon="true", Probability="100",
                  CloseDate=EXPORT_DATE.isoformat(), ForecastCategoryName="Closed")
    # A new deal on the first deal's account, with a contact role and a line item.
    template = opps[0]
    new_deal = {**template, "Id": "0065g00002zzNEW001", "Name": "New deal", "StageName": "Prospecting",
                "IsClosed": "false", "IsWon": "false", "CloseDate": "2027-01-31", "Loss_Reason__c": "",
                "CreatedDate": "2026-11-12T10:00:00.000Z"}
    opps.append(new_deal)
    role = e.files["OpportunityContactRole.csv"][0]
    e.files["OpportunityContactRole.csv"].append({**role, "Id": "00K5g00000zzNEW001", "OpportunityId": new_deal["Id"],
                                                  "CreatedDate": "2026-11-12T11:00:00.000Z"})
    item = e.files["OpportunityLineItem.csv"][0]
    e.files["OpportunityLineItem.csv"].append({**item, "Id": "00k5g00000zzNEW001", "OpportunityId": new_deal["Id"],
                                               "CreatedDate": "2026-11-12T11:00:00.000Z"})
    facts["new_deal"] = new_deal["Id"]
    # A deleted deal: Salesforce deletes its roles, line items, history and activities with it.
    gone = next(o for o in opps if o["Id"] not in facts.values() and o["IsClosed"] == "true")
    opps.remove(gone)
    timeline = {r["Id"] for r in e.files["OpportunityHistory.csv"] if r["OpportunityId"] == gone["Id"]}
    timeline |= {r["Id"] for name in ("Task.csv", "Event.csv") for r in e.files[name] if r["WhatId"] == gone["Id"]}
    for name in ("OpportunityContactRole.csv", "OpportunityLineItem.csv", "OpportunityHistory.csv"):
        e.files[name] = [r for r in e.files[name] if r["OpportunityId"] != gone["Id"]]
    for name in ("Task.csv", "Event.csv"):
        e.files[name] = [r for r in e.files[name] if r["WhatId"] != gone["Id"]]
    facts["deleted"] = gone["Id"]
    facts["deleted_timeline"] = timeline
    # Two movers, each with one job so far: one recorded as Salesforce does (old row ended, new row), one whose
    # old row is simply missing from the export.
    jobs: dict[str, list[dict]] = {}
    for r in acr:
        jobs.setdefault(r["ContactId"], []).append(r)
    singles = [rows[0] for rows in jobs.values() if len(rows) == 1]
    accounts = [a["Id"] for a in e.files["Account.csv"]]
    for n, (job, how) in enumerate(zip(singles[:2], ("ended", "dropped"), strict=True)):
        new_account = next(a for a in accounts if a != job["AccountId"])
        if how == "ended":
            job.update(EndDate=(MOVE_DAY.replace(day=MOVE_DAY.day - 1)).isoformat(), IsActive="false", IsDirect="false")
        else:
            acr.remove(job)
        acr.append({**job, "Id": f"07k5g00000zzNEW00{n}", "AccountId": new_account, "StartDate": MOVE_DAY.isoformat(),
                    "EndDate": "", "IsActive": "true", "IsDirect": "true", "CreatedDate": "2026-11-10T09:00:00.000Z"})
        e.row("Contact.csv", Id=job["ContactId"])["AccountId"] = new_account
        facts[f"mover_{how}"] = (job["ContactId"], job["AccountId"], new_account, job["Id"])
    second = e.save(root / "export2")
    return root, first, second, facts


@pytest.fixture(scope="module")
def loaded(exports):
    root, first, second, facts = exports
    store = open_store(sqlite_url(root / "g.db"))
    mapping = load_mapping("salesforce", store.schema)
    one = load_export(store, first, mapping, root / "q", mode="full", export_date=date(2026, 11, 1))
    before = canonical(store)
    two = load_export(store, second, mapping, root / "q", mode="full", export_date=EXPORT_DATE)
    yield store, one, two, before, facts, root
    store.close()


def employers(store, contact: str, when: datetime) -> set[str]:
    return {n.node["id"] for n in store.neighbours("Contact", [contact], "WORKS_AT", as_of=when).get(contact, [])}


def test_new_changed_and_closed_deals_are_updated_in_place(loaded):
    store, one, two, _, facts, _ = loaded
    assert store.get_node("Deal", facts["new_deal"])["name"] == "New deal"
    assert store.neighbours("Deal", [facts["new_deal"]], "INVOLVES")[facts["new_deal"]]
    assert store.get_node("Deal", facts["stage_moved"])["stage"] == "Negotiation/Review"
    [outcome] = store.neighbours("Deal", [facts["closed"]], "HAS_OUTCOME")[facts["closed"]]
    assert outcome.node["result"] == "won" and outcome.node["closed_at"].startswith(EXPORT_DATE.isoformat())
    assert [r.state for r in Ledger(store).loads()] == ["finished", "finished"] and two.reconciles


def test_a_move_ends_the_old_job_and_keeps_it(loaded):
    store, _, two, _, facts, _ = loaded
    before, after = datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    for how, until in (("ended", "2026-11-09"), ("dropped", EXPORT_DATE.isoformat())):
        contact, old, new, old_row = facts[f"mover_{how}"]
        jobs = {(n.node["id"], n.edge["until"]) for n in store.neighbours("Contact", [contact], "WORKS_AT")[contact]}
        assert jobs == {(old, until), (new, None)}, how  # history kept: two jobs, the old one closed
        assert employers(store, contact, before) == {old} and employers(store, contact, after) == {new}
    assert two.ended == {"WORKS_AT": 1}  # the dropped row was closed by the rule, the other by the export
    mover, key = facts["mover_dropped"][0], facts["mover_dropped"][3]
    [edge] = [e for n in Ledger(store).lineage(mover) for e in n.edges if e.key == key]
    assert edge.provenance.load_id == two.load_id and "missing from the export" in edge.provenance.source_file


def test_a_deleted_record_is_tombstoned_never_silently_removed(loaded, capsys):
    store, _, two, _, facts, root = loaded
    deal = facts["deleted"]
    assert store.get_node("Deal", deal) is None
    stones = Ledger(store).tombstones(two.load_id)
    # The deal, its outcome, and its history rows and activities, deleted with it.
    expected = {(deal,), (f"{deal}:outcome",), *((i,) for i in facts["deleted_timeline"])}
    assert {t.ident for t in stones if t.kind == "node"} == expected
    assert {t.name for t in stones if t.kind == "edge" and t.ident[0] == deal} >= {
        "FOR_ACCOUNT",
        "OWNED_BY",
        "INVOLVES",
    }
    assert two.retired["Deal"] == 1 and store.check_integrity() == []
    assert main(["lineage", deal, "--store", sqlite_url(root / "g.db")]) == 0
    assert f"retired by load {two.load_id}" in capsys.readouterr().out


def test_the_result_is_a_fresh_load_of_the_second_export_plus_the_kept_history(loaded, exports, tmp_path):
    store, *_ = loaded
    _, _, second, facts = exports
    with open_store(sqlite_url(tmp_path / "fresh.db")) as fresh:
        load_export(fresh, second, load_mapping("salesforce", fresh.schema), tmp_path / "q", mode="full")
        expected = canonical(fresh)
    got = canonical(store)
    contact, old, _, old_row = facts["mover_dropped"]
    extra = set(got["WORKS_AT"]) - set(expected["WORKS_AT"])
    assert [dict(e)["key"] for e in extra] == [repr(old_row)]  # the one job only history remembers
    assert {k: v for k, v in got.items() if k != "WORKS_AT"} == {k: v for k, v in expected.items() if k != "WORKS_AT"}


def test_loading_the_second_export_again_changes_nothing(loaded, exports):
    store, *_ = loaded
    root, _, second, _ = exports
    before = canonical(store)
    again = load_export(
        store, second, load_mapping("salesforce", store.schema), root / "q", mode="full", export_date=EXPORT_DATE
    )
    assert canonical(store) == before and again.retired == {} and again.ended == {}


def test_delta_mode_retires_nothing(exports, tmp_path):
    _, first, second, facts = exports
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        mapping = load_mapping("salesforce", store.schema)
        load_export(store, first, mapping, tmp_path / "q")
        summary = load_export(store, second, mapping, tmp_path / "q")
        assert summary.mode == "delta" and summary.retired == {} and Ledger(store).tombstones() == []
        assert store.get_node("Deal", facts["deleted"]) is not None


def test_a_full_export_missing_most_records_is_refused_before_writing(exports, tmp_path):
    _, first, _, _ = exports
    e = Export(first)
    e.files["Account.csv"] = e.files["Account.csv"][:10]
    partial = e.save(tmp_path / "partial")
    with open_store(sqlite_url(tmp_path / "g.db")) as store:
        mapping = load_mapping("salesforce", store.schema)
        load_export(store, first, mapping, tmp_path / "q", mode="full")
        before = canonical(store)
        with pytest.raises(InvalidInput, match="more likely incomplete"):
            load_export(store, partial, mapping, tmp_path / "q", mode="full")
        assert canonical(store) == before
        assert Ledger(store).loads()[0].state == "failed"
