"""Features of the mapping language, each on a tiny literal export loaded through `load_export`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from graph import InvalidInput, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema

ACCOUNTS = """\
id,name,domain
a1,Acme Corp,acme.com
a2,Globex,https://www.globex.com/
a3,Twin,twin-one.example
a4,Twin,twin-two.example
"""


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text.encode("utf-8") if isinstance(text, str) else text
        (folder / name).write_bytes(data)
    return folder


def mapping_file(tmp_path: Path, yaml_text: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text("name: test\n" + textwrap.dedent(yaml_text), "utf-8")
    return str(path)


def load(tmp_path: Path, yaml_text: str, files: dict[str, str | bytes], store=None):
    schema = load_schema()
    store = store or open_store(sqlite_url(tmp_path / "g.db"), schema)
    mapping = load_mapping(mapping_file(tmp_path, yaml_text), schema)
    summary = load_export(store, write(tmp_path / "export", files), mapping, tmp_path / "q")
    assert summary.reconciles
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary.quarantine_file))}
    return store, summary, reasons


ACCOUNT_SOURCE = """\
  - file: accounts.csv
    node: Account
    key: id
    properties: {name: name, website: domain}
"""


def test_explicit_date_formats_timezones_and_epoch_millis(tmp_path):
    store, _, reasons = load(tmp_path, """\
        sources:
          - file: deals.csv
            node: Deal
            key: id
            properties:
              name: name
              close_date: {column: closes, format: "%d/%m/%Y"}
              created_at: {column: created, format: ["%m/%d/%Y %H:%M", epoch_ms], timezone: Europe/Berlin}
        """, {"deals.csv": "id,name,closes,created\n"
                           "d1,One,31/01/2025,01/15/2025 10:30\n"
                           "d2,Two,01/02/2025,1736935200000\n"
                           "d3,Three,2025-01-31,01/15/2025 10:30\n"})
    assert store.get_node("Deal", "d1")["close_date"] == "2025-01-31"
    assert store.get_node("Deal", "d1")["created_at"] == "2025-01-15T09:30:00Z"  # 10:30 in Berlin (CET)
    assert store.get_node("Deal", "d2")["close_date"] == "2025-02-01"  # day first, as the format says
    assert store.get_node("Deal", "d2")["created_at"] == "2025-01-15T10:00:00Z"  # epoch millis are UTC
    assert reasons[("deals.csv", 4)] == "closes: '2025-01-31' does not match the date format %d/%m/%Y"


def test_value_maps_with_default_keep_and_error(tmp_path):
    store, _, reasons = load(tmp_path, """\
        sources:
          - file: deals.csv
            node: Deal
            key: id
            properties:
              name: name
              created_at: {value: "2025-01-01"}
              stage: {column: stage, map: {"Closed Won": won, "Closed Lost": lost}, keep_unmapped: true}
              deal_type: {column: type, map: {NB: New Business}, default: Other}
              lead_source: {column: source, map: {web: Web, event: Event}}
        """, {"deals.csv": "id,name,stage,type,source\n"
                           "d1,One,Closed Won,NB,web\n"
                           "d2,Two,Negotiation,XX,event\n"
                           "d3,Three,Closed Lost,NB,fax\n"})
    one, two = store.get_node("Deal", "d1"), store.get_node("Deal", "d2")
    assert (one["stage"], one["deal_type"], one["lead_source"]) == ("won", "New Business", "Web")
    assert (two["stage"], two["deal_type"]) == ("Negotiation", "Other")
    assert one["created_at"] == "2025-01-01T00:00:00Z"  # a constant
    assert reasons[("deals.csv", 4)] == "source: 'fax' is not one of the mapped values ['event', 'web']"


DEALS_BY_NATURAL_KEY = ACCOUNT_SOURCE + """\
  - file: deals.csv
    node: Deal
    key: id
    properties: {name: name, created_at: {value: "2025-01-01"}}
    relations:
      - relation: FOR_ACCOUNT
        target: {column: company, by: website, match: domain}
      - relation: INVOLVES
        target: {column: people, by: email, split: ";"}
        properties: {role: {value: other}}
  - file: contacts.csv
    node: Contact
    key: id
    properties: {name: name, email: email}
"""


def test_references_by_natural_key(tmp_path):
    store, summary, reasons = load(tmp_path, "sources:\n" + DEALS_BY_NATURAL_KEY, {
        "accounts.csv": ACCOUNTS,
        "contacts.csv": "id,name,email\nc1,Ann,Ann@Acme.com\nc2,Bob,bob@acme.com\n",
        "deals.csv": "id,name,company,people\n"
                     "d1,One,https://www.ACME.com/pricing,ann@acme.com; bob@acme.com\n"
                     "d2,Two,globex.com,\n"
                     "d3,Three,nowhere.example,\n"
                     "d4,Four,acme.com,carol@acme.com\n",
    })
    assert [n.node["id"] for n in store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]] == ["a1"]
    assert {n.node["id"] for n in store.neighbours("Deal", ["d1"], "INVOLVES")["d1"]} == {"c1", "c2"}
    assert [n.node["id"] for n in store.neighbours("Deal", ["d2"], "FOR_ACCOUNT")["d2"]] == ["a2"]
    assert reasons[("deals.csv", 4)] == "company: 'nowhere.example' names no Account by website"
    assert reasons[("deals.csv", 5)] == "people: 'carol@acme.com' names no Contact by email"


def test_reference_by_name_is_ambiguous_or_found_in_the_store(tmp_path):
    yaml_text = "sources:\n" + ACCOUNT_SOURCE + """\
  - file: deals.csv
    node: Deal
    key: id
    properties: {name: name, created_at: {value: "2025-01-01"}}
    relations:
      - {relation: FOR_ACCOUNT, target: {column: company, by: name}}
"""
    deals = "id,name,company\nd1,One,acme  CORP\nd2,Two,Twin\n"
    store, _, reasons = load(tmp_path, yaml_text, {"accounts.csv": ACCOUNTS, "deals.csv": deals})
    assert [n.node["id"] for n in store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]] == ["a1"]
    assert reasons[("deals.csv", 3)] == "company: 'Twin' is ambiguous: 2 Account nodes have that name (a3, a4)"
    # A later export of deals alone still finds the accounts, now in the store.
    (tmp_path / "export" / "accounts.csv").write_text("id,name,domain\n", "utf-8")
    _, later, _ = load(tmp_path, yaml_text, {"deals.csv": "id,name,company\nd5,Five,Globex\n"}, store=store)
    assert [n.node["id"] for n in store.neighbours("Deal", ["d5"], "FOR_ACCOUNT")["d5"]] == ["a2"]


def test_conditions_split_and_rows_that_become_several_nodes(tmp_path):
    store, _, reasons = load(tmp_path, "sources:\n" + ACCOUNT_SOURCE + """\
  - file: deals.csv
    node: Deal
    key: id
    properties: {name: name, created_at: {value: "2025-01-01"}}
    relations:
      - {relation: FOR_ACCOUNT, target: {column: account_ids, split: "|"}}
    also:
      # The product is named on the deal row: it becomes a node, its family taken from a column.
      - node: Product
        when: {column: product, not_empty: true}
        key: {template: "product:{product}"}
        relation_from_parent: FOR_PRODUCT
        properties: {name: product, family: family}
      - node: Outcome
        when: {column: status, in: [Won, Lost]}
        key: {template: "{id}:outcome"}
        relation_from_parent: HAS_OUTCOME
        properties:
          result: {column: status, map: {Won: won, Lost: lost}}
          closed_at: {value: "2025-02-01"}
""", {"accounts.csv": ACCOUNTS,
      "deals.csv": "id,name,account_ids,product,family,status\n"
                   "d1,One,a1,Core,Platform,won\n"
                   "d2,Two,a2,,,Open\n"
                   "d3,Three,a1|a2,Core,Platform,Open\n"})
    assert store.get_node("Product", "product:Core")["family"] == "Platform"
    assert store.get_node("Outcome", "d1:outcome")["result"] == "won"  # `in` ignores case
    assert store.get_node("Outcome", "d2:outcome") is None
    assert not store.neighbours("Deal", ["d2"], "FOR_PRODUCT").get("d2")
    assert reasons[("deals.csv", 4)] == "account_ids: FOR_ACCOUNT links one Account, got 2"


def test_optional_columns_dialect_and_shared_anchors(tmp_path):
    store, summary, _ = load(tmp_path, """\
        encoding: cp1252
        delimiter: ";"
        x-when: &created {column: created, format: "%d.%m.%Y"}
        sources:
          - file: accounts.csv
            node: Account
            key: id
            properties:
              name: name
              industry: {column: industry, optional: true}
              created_at: *created
        """, {"accounts.csv": "id;name;created\na1;Müller & Söhne;03.02.2024\n".encode("cp1252")})
    account = store.get_node("Account", "a1")
    assert (account["name"], account["industry"], account["created_at"]) == (
        "Müller & Söhne", None, "2024-02-03T00:00:00Z")


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("sources: [{file: a.csv, node: Deal, key: id, "
     "relations: [{relation: FOR_ACCOUNT, target: {column: x, by: colour}}]}]",
     "Account has no property colour"),
    ("sources: [{file: a.csv, node: Deal, key: id, properties: {created_at: {column: c, timezone: Mars/Olympus}}}]",
     "unknown timezone 'Mars/Olympus'"),
    ("sources: [{file: a.csv, node: Deal, key: id, also: [{node: Outcome, key: k, relation_from_parent: HAS_OUTCOME, "
     "when: {column: s, equals: a, not_empty: true}}]}]",
     "exactly one of equals, in, not_empty"),
    ("sources: [{file: a.csv, relation: INVOLVES, source: d, target: {column: c, split: ';'}}]",
     "no split"),
    ("sources: [{file: a.csv, node: Deal, key: id, "
     "properties: {stage: {column: s, map: {a: b}, default: x, keep_unmapped: true}}}]",
     "default or keep_unmapped"),
    ("encoding: latin-99\nsources: []", "unknown encoding 'latin-99'"),
    ("sources: [{file: a.csv, node: Deal, key: id, delimiter: ';;'}]", "a delimiter is one character"),
])
def test_mapping_mistakes_are_named(tmp_path, yaml_text, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_mapping(mapping_file(tmp_path, yaml_text), load_schema())


def test_unknown_mapping_name_lists_the_shipped_ones():
    with pytest.raises(InvalidInput, match="dynamics, generic, hubspot, salesforce"):
        load_mapping("pipedrive", load_schema())


def test_numbers_written_for_people_and_templates_over_any_column_name(tmp_path):
    store, _, reasons = load(tmp_path, """\
        ignore_columns: [Row Checksum]
        sources:
          - file: accounts.csv
            node: Account
            key: id
            properties:
              name: {template: "{Name} ({Address 1: City})"}
              annual_revenue: {column: Est. Revenue, number: {thousands: ".", decimal: ",", symbols: "€ "}}
              employees: {column: Staff, number: {thousands: ","}}
        """, {"accounts.csv": "id,Name,Address 1: City,Est. Revenue,Staff,Row Checksum\n"
                              "a1,Acme,Berlin,\"1.234.567,50 €\",\"5,000\",x\n"
                              "a2,Globex,Bern,\"12,5\",\"1.5\",y\n"})
    acme = store.get_node("Account", "a1")
    assert (acme["name"], acme["annual_revenue"], acme["employees"]) == ("Acme (Berlin)", 1234567.5, 5000)
    assert reasons[("accounts.csv", 3)] == "employees (column Staff): '1.5' is not a whole number"
