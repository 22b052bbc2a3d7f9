"""Property: whatever rows an export holds, every row read is loaded, quarantined or merged, every
quarantined row says its file, line and reason, and what loads fits every backend (no parent cycle,
no value a store or the model cannot hold)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graph import InvalidInput, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.mapping import parse_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema
from tests.loaders.test_hostile_input import assert_no_parent_cycle

HEADER = ["id", "name", "domain", "industry", "type", "country", "employees", "annual_revenue", "parent_id",
          "created_at"]
# Text with what breaks CSV and type coercion: separators, quotes, line breaks, non-ASCII, NUL.
TEXT = st.text(alphabet=st.sampled_from(list('ab,"\n\r ;é–€1.-:T') + ["Z", "x", "\x00"]),
               max_size=12)
# Values at and past what the stores (64-bit), GraphQL (employees <= 10 million) and pandas (1677..2262) hold.
EDGE_NUMBERS = st.sampled_from(["1e19", "3e9", "9223372036854775808", "-9223372036854775809", "10000000", "1e3"])
EDGE_DATES = st.sampled_from(["1200-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00",
                              "2262-04-10T23:00:00Z", "1677-09-22", "2016-12-31T23:59:60Z", "0000-00-00"])
VALUES = {
    "id": st.sampled_from(["a1", "a2", "a3", "", " "]),  # small pool: duplicates and empty keys
    "employees": st.one_of(st.integers(-5, 10**6).map(str), st.integers(-(2**70), 2**70).map(str), EDGE_NUMBERS, TEXT),
    "annual_revenue": st.one_of(st.floats(allow_nan=True).map(str), TEXT),
    "parent_id": st.sampled_from(["", "a1", "a2", "a3", "a404"]),  # dangling references, self-parents, cycles
    "created_at": st.one_of(st.sampled_from(["", "2024-01-02", "2024-02-30", "02/01/2024", "yesterday"]), EDGE_DATES),
}
TYPED_ROW = st.fixed_dictionaries({h: VALUES.get(h, TEXT) for h in HEADER}).map(lambda row: [row[h] for h in HEADER])
# Rows that load unless their key repeats (merged) or their parent is dangling.
VALID_ROW = st.tuples(st.sampled_from(["a1", "a2", "a3"]), st.sampled_from(["", "a1", "a2", "a3", "a404"])).map(
    lambda t: [t[0], "Name " + t[0], "", "", "", "", "10", "", t[1], "2024-01-02"])
ODD_ROW = st.lists(TEXT, max_size=len(HEADER) + 3)  # too few or too many fields
RAW_LINE = TEXT.map(lambda t: t + "\n")  # not written by a CSV writer at all


@st.composite
def export_text(draw) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(HEADER)
    rows = {"valid": VALID_ROW, "typed": TYPED_ROW, "odd": ODD_ROW}
    for kind in draw(st.lists(st.sampled_from(["valid", "typed", "odd", "raw"]), max_size=15)):
        if kind == "raw":
            out.write(draw(RAW_LINE))
        else:
            writer.writerow(draw(rows[kind]))
    text = out.getvalue()
    if draw(st.booleans()):
        text += '"cut,' + draw(TEXT)  # the last line cut off inside a quote
    return text


def assert_fits_everywhere(store) -> None:
    """No parent cycle, and every stored value within the limits the loader promises."""
    assert_no_parent_cycle(store)
    for row in store.get_nodes("Account", store.node_ids("Account")).values():
        assert row["employees"] is None or 0 <= row["employees"] <= 10_000_000
        assert row["created_at"] is None or "1677-09-22" <= row["created_at"][:10] <= "2262-04-10"
        assert "\x00" not in (row["name"] or "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts=export_text())
def test_rows_in_equal_loaded_plus_quarantined_plus_merged(accounts):
    schema = load_schema()
    mapping = load_mapping("generic", schema)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = root / "export"
        export.mkdir()
        for src in mapping.sources:
            names = sorted(src.required_columns()) or ["id"]
            (export / src.file).write_text(",".join(names) + "\n", "utf-8")
        (export / "accounts.csv").write_text(accounts, "utf-8")
        with open_store(sqlite_url(root / "g.db"), schema) as store:
            try:
                summary = load_export(store, export, mapping, root / "q")
            except InvalidInput:
                event("file-level problem")
                assert sum(store.counts().values()) == 0  # a file-level problem writes nothing
                return
            accounts_file = next(f for f in summary.files if f.file == "accounts.csv")
            assert accounts_file.read == accounts_file.loaded + accounts_file.quarantined + accounts_file.merged
            assert summary.reconciles
            event(f"quarantined {min(accounts_file.quarantined, 3)}+, merged {min(accounts_file.merged, 1)}+")
            assert len(store.node_ids("Account")) == accounts_file.loaded
            assert_fits_everywhere(store)
        records = read_quarantine(Path(summary.quarantine_file))
        assert len(records) == summary.totals()["quarantined"]
        for record in records:
            assert record["file"] == "accounts.csv" and record["line"] >= 2 and record["reason"]


# YAML's structural characters, anchors and aliases, tags, and bytes that are not UTF-8.
YAML_TEXT = st.lists(st.sampled_from([
    "{", "}", "[", "]", ": ", ",", "- ", "&a ", "*a", "&b ", "*b", "!!str ", "!!python/name:os.system ", "<<: ", "? ",
    "|", ">", "'", '"', "#", "\n", "\n  ", "name", "sources", "file", "x.csv", "node", "Account", "key", "1e999", "~",
    "\t"]), max_size=40).map("".join)
MAPPING_BYTES = st.one_of(YAML_TEXT.map(lambda t: t.encode("utf-8")), st.binary(max_size=200),
                          YAML_TEXT.map(lambda t: t.encode("utf-8") + b"\xe9\xff"))


@settings(max_examples=300, deadline=None)
@given(data=MAPPING_BYTES)
def test_any_mapping_file_is_a_mapping_or_a_clear_refusal(data):
    """Whatever bytes a mapping file holds, reading it gives a Mapping or InvalidInput: no other error, no hang."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mapping.yaml"
        path.write_bytes(data)
        try:
            parse_mapping(path)
        except InvalidInput as e:
            assert str(e).startswith(f"mapping {path}"), e
