"""What the columns of an unknown export hold, read from a sample of their values.

`profile_file` reads a CSV's header and up to `SAMPLE_ROWS` rows and says, per
column, whether the values are unique (a key), dates (and in which format),
numbers (and how they are written: currency symbols, thousands separators, a
decimal comma), or a won / lost status. Each reading that could go two ways
(`03/04/2024`: March or April?) is kept as an undecided note for the draft to
show. `loaders.draft` turns the profiles into a mapping.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loaders.read import encoding_of

SAMPLE_ROWS = 5000
#: strptime patterns a date column is tried against, after ISO 8601 (which needs no `format`).
DATE_PATTERNS = (
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y",
    "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%d %b %Y", "%b %d, %Y",
)
#: Month-first and day-first readings of one shape: when both read every value, the draft cannot tell.
_TWINS = {"%m/%d/%Y": "%d/%m/%Y", "%m/%d/%Y %H:%M": "%d/%m/%Y %H:%M"}
#: Status values, compared without case, spaces or punctuation.
WON = {"won", "closedwon", "win", "success", "successful", "gewonnen", "gagne", "ganado", "yes"}
LOST = {"lost", "closedlost", "loss", "lose", "verloren", "perdu", "perdido", "dead", "disqualified", "no"}
_NUMBER = re.compile(r"-?[\d.,]*\d")
_SYMBOLS = re.compile(r"[^\d.,\-]")


@dataclass
class Column:
    name: str
    values: list[str]  # the non-empty values of the sample
    filled: float  # share of sampled rows with a value
    unique: bool  # every value present and different: can be a key
    date_format: str | None = None  # "" when ISO 8601 (no format needed); None when not a date column
    number: dict[str, str] | None = None  # {} when plain; else thousands / decimal / symbols
    outcome: dict[str, str] = field(default_factory=dict)  # value -> won / lost, when the column says so
    undecided: list[str] = field(default_factory=list)


@dataclass
class FileProfile:
    file: str
    delimiter: str
    encoding: str
    rows: int
    columns: dict[str, Column]


def fold(text: str) -> str:
    """A header or status compared without case, spaces or punctuation: `Closed Won` -> `closedwon`."""
    return re.sub(r"[^a-z0-9]", "", text.casefold().replace("é", "e"))


def profile_file(path: Path) -> FileProfile:
    """Header and a sample of `path`, read with the delimiter its header uses most."""
    encoding = encoding_of(path)
    try:
        head = path.read_text(encoding)[:4096]
    except UnicodeDecodeError:
        encoding = "cp1252"  # Excel on Windows: the usual other encoding
        head = path.read_text(encoding)[:4096]
    first = head.splitlines()[0] if head else ""
    delimiter = max(",;\t|", key=first.count)
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = [h.strip() for h in next(reader, [])]
        rows = [r for _, r in zip(range(SAMPLE_ROWS), reader, strict=False) if any(v.strip() for v in r)]
    columns = {}
    for i, name in enumerate(header):
        cells = [r[i].strip() if i < len(r) else "" for r in rows]
        columns[name] = _profile_column(name, cells)
    return FileProfile(path.name, delimiter, encoding, len(rows), columns)


def _profile_column(name: str, cells: list[str]) -> Column:
    values = [c for c in cells if c]
    col = Column(name, values, len(values) / len(cells) if cells else 0.0,
                 bool(values) and len(values) == len(cells) and len(set(values)) == len(values))
    if not values:
        return col
    col.date_format = _date_format(col)
    if col.date_format is None:
        col.number = _number_format(col)
    col.outcome = _outcome_values(values)
    return col


def _is_iso(value: str) -> bool:
    if len(value) < 10 or value[4] != "-":
        return False
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def _date_format(col: Column) -> str | None:
    distinct = list(dict.fromkeys(col.values))[:500]
    if all(_is_iso(v) for v in distinct):
        return ""
    fits = [p for p in DATE_PATTERNS if all(_parses(v, p) for v in distinct)]
    if not fits:
        return None
    chosen = fits[0]
    if _TWINS.get(chosen) in fits:
        col.undecided.append(f"{col.name}: every date reads month-first and day-first alike; "
                             f"took {chosen!r}, use {_TWINS[chosen]!r} if days come first")
    return chosen


def _parses(value: str, pattern: str) -> bool:
    try:
        datetime.strptime(value, pattern)
        return True
    except ValueError:
        return False


def _number_format(col: Column) -> dict[str, str] | None:
    """How the column writes numbers, or None when it is not numbers (ids that are digits count as numbers)."""
    symbols = sorted({ch for v in col.values for ch in _SYMBOLS.findall(v)})
    bare = [_SYMBOLS.sub("", v) for v in col.values]
    if not all(_NUMBER.fullmatch(b) for b in bare) or (symbols and set(symbols) - set("$€£¥₹ %CHFUSDEURGBP")):
        return None
    spec = {"symbols": "".join(symbols)} if symbols else {}
    both = [b for b in bare if "," in b and "." in b]
    if both:  # the separator written last is the decimal one
        decimal = "," if both[0].rfind(",") > both[0].rfind(".") else "."
        return {**spec, "thousands": "." if decimal == "," else ",", "decimal": decimal}
    if any("," in b for b in bare):
        if all(re.fullmatch(r"-?\d{1,3}(,\d{3})+", b) for b in bare if "," in b):
            col.undecided.append(f"{col.name}: '{next(b for b in bare if ',' in b)}' may be thousands or a decimal "
                                 "comma; took thousands")
            return {**spec, "thousands": ","}
        return {**spec, "decimal": ","}
    if any(b.count(".") > 1 for b in bare):
        return {**spec, "thousands": "."}
    return spec


def _outcome_values(values: list[str]) -> dict[str, str]:
    """value -> won / lost when the column holds both kinds (a status or stage column); else empty."""
    seen = dict.fromkeys(values)
    if len(seen) > 30:
        return {}
    result = {v: "won" for v in seen if fold(v) in WON} | {v: "lost" for v in seen if fold(v) in LOST}
    kinds = set(result.values())
    # yes/no alone is a boolean, not a status: ask for a word that says won or lost
    words = {fold(v) for v in result} - {"yes", "no"}
    return result if kinds == {"won", "lost"} and words else {}
