"""Synthetic Salesforce-style CRM export with planted relational signal and planted dirt.

``generate_sample`` writes the eight Data Loader CSV files a real org export would give us (Account, Contact,
AccountContactRelation, User, Product2, Opportunity, OpportunityContactRole, OpportunityLineItem) plus our own
``truth.csv`` with each opportunity's true win probability and the effects that produced it. The model is
documented in ``docs/sample-data.md``.

Example:
    >>> from pathlib import Path
    >>> summary = generate_sample(Path("/tmp/crm"), accounts=200, seed=1)  # doctest: +SKIP
    >>> summary.rows["Opportunity.csv"]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ._dirt import dirty_rows, plan_dirt
from ._tables import Columns, build_table, make_layout
from ._vocab import BOM_FILES, HEADERS
from ._world import build_world

__all__ = ["DEFAULT_AS_OF", "HEADERS", "MIN_ACCOUNTS", "SampleSummary", "generate_sample"]

DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
# Below this the parent/duplicate/mover machinery has too few accounts to draw from.
MIN_ACCOUNTS = 10


@dataclass(frozen=True)
class SampleSummary:
    """What ``generate_sample`` wrote.

    Attributes:
        out_dir: Directory holding the files.
        rows: Data rows (header excluded) per file name, including ``truth.csv`` and all planted duplicates.
        total_rows: Sum of ``rows``.
        dirt: Count of each planted data-quality problem, keyed by kind (see ``docs/sample-data.md``).
    """

    out_dir: Path
    rows: dict[str, int]
    total_rows: int
    dirt: dict[str, int]


def _to_epoch_seconds(as_of: datetime) -> int:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        # A naive datetime is ambiguous; guessing a zone would silently shift every date in the sample.
        raise ValueError("as_of must be timezone-aware, e.g. datetime(2026, 11, 1, tzinfo=UTC)")
    return int(as_of.astimezone(UTC).timestamp())


def _write(path: Path, name: str, cols: Columns) -> None:
    """Write one file atomically (temp file + rename) so a crash never leaves a half-written export."""
    header = HEADERS[name]
    tmp = path.with_name(f".{name}.tmp")
    quoting: Literal[0, 1, 2, 3]  # a csv.QUOTE_* constant, the type csv.writer takes
    if name == "truth.csv":
        encoding, quoting, newline = "utf-8", csv.QUOTE_MINIMAL, "\n"
    else:
        # Data Loader quotes every field and ends lines with CRLF; Excel's re-save adds the BOM.
        encoding = "utf-8-sig" if name in BOM_FILES else "utf-8"
        quoting, newline = csv.QUOTE_ALL, "\r\n"
    with open(tmp, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, quoting=quoting, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(zip(*(cols[h] for h in header), strict=True))
    os.replace(tmp, path)


def generate_sample(
    out_dir: Path, accounts: int = 2000, seed: int = 7, as_of: datetime | None = None
) -> SampleSummary:
    """Generate a synthetic Salesforce export with planted win-probability effects and planted dirt.

    The same ``(accounts, seed, as_of)`` always produces byte-identical files. History (opportunities, moves)
    spans the two years before ``as_of``; about 10% of opportunities are still open at ``as_of``.

    Args:
        out_dir: Directory to write into; created if missing. Existing files of the same names are replaced.
        accounts: Number of real accounts (a few duplicate account rows are added on top as dirt). At least 10.
            The export has roughly 34 Salesforce rows per account plus ~4 truth rows.
        seed: Seed for ``numpy.random.default_rng``; the only source of randomness.
        as_of: Export time, timezone-aware. Defaults to ``DEFAULT_AS_OF`` (2026-11-01T00:00Z) so output does not
            depend on the wall clock.

    Returns:
        A :class:`SampleSummary` with row counts per file and counts of planted dirt.

    Raises:
        ValueError: If ``accounts`` is below ``MIN_ACCOUNTS`` or ``as_of`` is naive.
    """
    if int(accounts) < MIN_ACCOUNTS:
        raise ValueError(f"accounts must be at least {MIN_ACCOUNTS}, got {accounts}")
    as_of_s = _to_epoch_seconds(DEFAULT_AS_OF if as_of is None else as_of)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    world = build_world(int(accounts), seed, as_of_s)
    layout = make_layout(world)
    refs, blanks, dups, dirt = plan_dirt(world, layout)
    rows: dict[str, int] = {}
    # One file at a time: only one table of Python strings is alive at once, which bounds peak memory.
    for name in HEADERS:
        cols = build_table(name, world, layout, refs, blanks, dups)
        dirty_rows(name, cols, world, dirt)
        _write(out_dir / name, name, cols)
        rows[name] = len(cols[HEADERS[name][0]])
        del cols
    return SampleSummary(out_dir=out_dir, rows=rows, total_rows=sum(rows.values()), dirt=dirt)
