"""Property: whatever rows an export holds, every row read is loaded, quarantined or merged, and
every quarantined row says its file, line and reason."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graph import InvalidInput, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema

HEADER = ["id", "name", "domain", "industry", "type", "country", "employees", "annual_revenue", "parent_id", "created_at"]
# Text with what breaks CSV and type coercion: separators, quotes, line breaks, non-ASCII; NUL is covered elsewhere.
TEXT = st.text(alphabet=st.sampled_from(list('ab,"\n\r ;é–€1.-:T') + ["Z", "x"]), max_size=12)
VALUES = {
    "id": st.sampled_from(["a1", "a2", "a3", "", " "]),  # small pool: duplicates and empty keys
    "employees": st.one_of(st.integers(-5, 10**6).map(str), TEXT),
    "annual_revenue": st.one_of(st.floats(allow_nan=True).map(str), TEXT),
    "parent_id": st.sampled_from(["", "a1", "a2", "a404"]),  # dangling references
    "created_at": st.sampled_from(["", "2024-01-02", "2024-02-30", "02/01/2024", "yesterday"]),
}
TYPED_ROW = st.fixed_dictionaries({h: VALUES.get(h, TEXT) for h in HEADER}).map(lambda row: [row[h] for h in HEADER])
# Rows that load unless their key repeats (merged) or their parent is dangling.
VALID_ROW = st.tuples(st.sampled_from(["a1", "a2", "a3"]), st.sampled_from(["", "a1", "a404"])).map(
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
        records = read_quarantine(Path(summary.quarantine_file))
        assert len(records) == summary.totals()["quarantined"]
        for record in records:
            assert record["file"] == "accounts.csv" and record["line"] >= 2 and record["reason"]
