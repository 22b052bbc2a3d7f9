"""bench/bench_load.py runs end to end, floors included: a benchmark that rots is found here, not when a figure
is needed. No figure is asserted (figures come from running it); only that each part ran and counted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_load_prints_the_load_and_its_floors() -> None:
    out = subprocess.run([sys.executable, str(REPO / "bench" / "bench_load.py"), "--accounts", "20", "--floor"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "reconciles: True" in out
    made = re.search(r"([\d,]+) rows read made ([\d,]+) records", out)
    assert made is not None, out
    rows, records = (int(x.replace(",", "")) for x in made.groups())
    assert records > rows > 0  # a row makes a node and its edges
    for part in ("read every file, csv module", "SQLite inserts of those records", "the load itself"):
        line = next((x for x in out.splitlines() if x.startswith(f"| {part}")), None)
        assert line is not None, f"{part!r} missing from:\n{out}"
        assert float(line.split("|")[4].replace(",", "")) > 0  # timed: rows / its seconds
