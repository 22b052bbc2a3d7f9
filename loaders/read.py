"""Reading a source export's CSV files: dialect, encoding, rows with line numbers, and file-level checks.

`read_rows` yields each row with the line it starts on. A row the CSV reader
cannot take (cut off mid-quote, a field past the reader's limit, a wrong
field count, the header again) is yielded as an error row, so the loader
quarantines it and the rest of the file still loads. `file_problem` finds what
makes a whole file unreadable (empty, binary, wrong encoding) before anything
is parsed, and `check_files` adds missing files and columns: problems that stop
a load, each with what most likely caused it (another delimiter, a title line,
a report's labels). `source_rows` reads a file as its mapping source names the
columns (`source_header`: `ACCOUNTID` is `AccountId`) and writes the ids
(`ids:`, `loaders.normalise.ID_FORMS`).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO

from graph.store import InvalidInput
from loaders.mapping import Mapping, SourceSpec, UnpivotSpec
from loaders.normalise import ID_FORMS
from loaders.paths import export_file, export_file_problem

#: Key of an error row: the reason the row could not be read; its text is under RAW.
ERROR, RAW = "__error__", "__raw__"
# Enough of a bad row's text for a person to recognise it in the quarantine file.
RAW_TEXT_LIMIT = 2000
# A header row longer than this is not a header (a file of one endless line): refused before it fills memory.
HEADER_LIMIT = 1 << 20
# More NUL characters than this share of a file's first 8 KB make it binary (or UTF-16 without its BOM), not text.
BINARY_NUL_SHARE = 0.01
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def encoding_of(path: Path, declared: str = "utf-8") -> str:
    """The codec to read `path` with: a UTF-16/32 byte-order mark wins (it cannot be misread), then `declared`.

    UTF-8's optional BOM (Excel adds one) is skipped by reading with utf-8-sig.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    return "utf-8-sig" if codecs.lookup(declared).name == "utf-8" else declared


def file_problem(path: Path, declared: str = "utf-8") -> str | None:
    """Why `path` cannot be read as CSV text at all, or None when it can."""
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes, not even a header row)"
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "a spreadsheet workbook (xlsx/xls), not CSV: save or export it as CSV UTF-8"
    encoding = encoding_of(path, declared)
    nuls = head.decode(encoding, errors="replace").count("\x00")
    if nuls and (nuls > len(head) * BINARY_NUL_SHARE or _utf16_without_bom(head)):
        return _nul_bytes_problem(head)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            return _decode_problem(path, declared, e, offset)
    return None


def _nul_bytes_problem(head: bytes) -> str:
    """Many NUL bytes in what should be text: UTF-16 without its byte-order mark, or binary data.

    A few NULs in text are a row's problem, not the file's: `read_rows` quarantines the rows holding them,
    wherever in the file they are.
    """
    codec = _utf16_without_bom(head)
    if codec:
        return (f"UTF-16 text without a byte-order mark: set `encoding: {codec}` for this file in the mapping, "
                "or re-export as UTF-8")
    return "binary data (NUL bytes), not CSV text"


def _utf16_without_bom(head: bytes) -> str | None:
    """The UTF-16 codec `head` is written in when every other byte is 0 (ASCII text in UTF-16), else None."""
    for codec, zeros, letters in (("utf-16-le", head[1::2], head[0::2]), ("utf-16-be", head[0::2], head[1::2])):
        if zeros.count(0) > len(zeros) * 0.9 and letters.count(0) == 0:
            return codec
    return None


def _may_hold_nul(path: Path, codec: str) -> bool:
    """Whether a text file may hold a NUL character: a byte scan at C speed, so clean files cost no check per row.

    In UTF-16 and UTF-32 zero bytes are everywhere: those files are checked row by row.
    """
    name = codecs.lookup(codec).name
    if "16" in name or "32" in name:
        return True
    with path.open("rb") as fh:
        return any(b"\x00" in chunk for chunk in iter(lambda: fh.read(1 << 20), b""))


def _decode_problem(path: Path, declared: str, e: UnicodeDecodeError, offset: int) -> str:
    """Where the first undecodable byte is, shown in its line, and the usual fix."""
    at = offset + e.start
    with path.open("rb") as fh:
        before = fh.read(at)
        rest = fh.read(200)
    line_no = before.count(b"\n") + 1
    shown = (before.rsplit(b"\n", 1)[-1] + rest.split(b"\n", 1)[0]).decode(declared, errors="replace").strip()
    bad = e.object[e.start : e.start + 1].hex().upper()
    name = "UTF-8" if codecs.lookup(declared).name == "utf-8" else declared
    return (f"not {name} text: byte 0x{bad} on line {line_no} ({shown[:80]!r}); most likely cp1252/latin-1 "
            f"(Excel on Windows): re-export as CSV UTF-8, or set `encoding: cp1252` for this file in the mapping")


def header_of(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[str]:
    """The file's column names, trimmed of surrounding spaces.

    Raises:
        InvalidInput: the header row is not readable as CSV (e.g. an unclosed quote).
    """
    with path.open(encoding=encoding_of(path, encoding), newline="") as fh:
        return _header(csv.reader(_bounded_lines(fh, path), delimiter=delimiter, strict=True), path)


def _bounded_lines(fh: IO[str], path: Path) -> Iterator[str]:
    """The lines of `fh` while they add up to HEADER_LIMIT characters; then InvalidInput (no header is that long)."""
    used = 0
    while line := fh.readline(HEADER_LIMIT - used + 1):
        used += len(line)
        if used > HEADER_LIMIT:
            raise InvalidInput(
                f"{path.name}: no header row within the first {HEADER_LIMIT} characters (not a CSV export?)"
            )
        yield line


def source_header(src: SourceSpec, source_dir: Path) -> list[str]:
    """The header of `src`'s file with its columns named as the mapping names them (`_as_named`).

    Raises:
        InvalidInput: the header row is not readable as CSV.
    """
    return _as_named(header_of(source_dir / src.file, src.encoding or "utf-8", src.delimiter or ","), src)


def _as_named(header: list[str], src: SourceSpec) -> list[str]:
    """`header` with each name that differs from a column the mapping names only in case taken as that column:
    Salesforce's Data Loader writes `ID,ACCOUNTID`, the mapping (and Workbench) `Id,AccountId`. A name the
    mapping uses as it is, or one of two names that differ only in case, stays as it is."""
    named = src.columns() | {c for c in src.ignore_columns if not c.endswith("*")}
    present = set(header)
    wanted = {c.casefold(): c for c in named if c not in present}
    if not wanted:
        return header  # the usual case: every column as the mapping spells it
    folds = Counter(h.casefold() for h in header)
    return [wanted.get(h.casefold(), h) if h not in named and folds[h.casefold()] == 1 else h for h in header]


def _header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        return [h.strip() for h in next(reader, [])]
    except csv.Error as e:
        raise InvalidInput(f"{path.name}: the header row is not readable as CSV ({_csv_reason(e)})") from e


class _LineCursor:
    """Lines of a text file by number, read forward on a handle of its own.

    The CSV reader does not keep the text of a row; a row that fails needs it, so it is read again here.
    Requests come in ascending line order, so the whole file is read at most once more however many
    rows fail, and not at all when none does.
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self._path, self._encoding = path, encoding
        self._fh: IO[str] | None = None
        self._next = 1  # the number of the line the handle gives next

    def lines_from(self, line: int) -> Iterator[str]:
        """The file's lines from `line` on (the handle advances as they are taken)."""
        if self._fh is None or line < self._next:
            self.close()
            self._fh, self._next = self._path.open(encoding=self._encoding, newline=""), 1
        next(islice(self._fh, line - self._next, line - self._next), None)  # skip, at C speed
        self._next = line
        for text in self._fh:
            self._next += 1
            yield text

    def text(self, first: int, last: int) -> str:
        """Lines `first`..`last` as one string, cut to RAW_TEXT_LIMIT characters for the quarantine."""
        kept, size = [], 0
        for text in islice(self.lines_from(first), last - first + 1):
            if size < RAW_TEXT_LIMIT:
                kept.append(text)
            size += len(text)
        joined = "".join(kept)
        return joined if size <= RAW_TEXT_LIMIT else joined[:RAW_TEXT_LIMIT] + f"… ({size} characters)"

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_rows(path: Path, encoding: str = "utf-8", delimiter: str = ",",
              rename: dict[str, str] | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV export with the line each starts on; BOM and CRLF are handled by the reader.

    A row that cannot be read comes as `{ERROR: reason, RAW: its text}`; blank lines are skipped. `rename` gives
    header names the rows use instead (`source_header`).

    Raises:
        InvalidInput: the file is not text in `encoding` (see `file_problem` to find this first).
    """
    codec = encoding_of(path, encoding)
    cursor = _LineCursor(path, codec)
    nul = _may_hold_nul(path, codec)
    try:
        with path.open(encoding=codec, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            header = _header(reader, path)
            again = header  # the header as written: a row that repeats it is no record
            if rename:
                header = [rename.get(h, h) for h in header]
            width = len(header)
            while True:
                line = reader.line_num + 1  # where the next record starts: records may span lines
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    yield line, {ERROR: _csv_reason(e), RAW: cursor.text(line, reader.line_num)}
                    continue
                if not (values and (values[0].strip() or "".join(values).strip())):
                    continue  # a blank line, or one of empty fields
                if nul and (held := [h for h, v in zip(header, values, strict=False) if "\x00" in v]):
                    # Quarantined, not stripped: a NUL in a CSV cell is corruption, and the text around it is
                    # suspect too; the row is kept whole in the quarantine for a person to mend.
                    yield line, {ERROR: f"{', '.join(held)}: holds a NUL byte (U+0000): "
                                        "corrupted or binary data in the cell",
                                 RAW: cursor.text(line, reader.line_num)}
                elif len(values) == width:
                    if again[0] in values[0] and _is_header(values, again):
                        yield line, {ERROR: _REPEATED_HEADER, RAW: cursor.text(line, reader.line_num)}
                    else:
                        yield line, dict(zip(header, values, strict=True))
                else:
                    yield line, {ERROR: _width_reason(len(values), width), RAW: cursor.text(line, reader.line_num)}
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"{path.name} is not {encoding} text ({e.reason} at byte {e.start}); re-export as UTF-8"
        ) from e
    finally:
        cursor.close()


def rows_at(src: SourceSpec, source_dir: Path, lines: Iterable[int]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of `src` that start on `lines`, read again: a load keeps no row text for the quarantine.

    One forward pass over the file, which stops after the last line asked for.
    """
    path = export_file(source_dir, src.file)
    codec = encoding_of(path, src.encoding or "utf-8")
    header = header_of(path, src.encoding or "utf-8", src.delimiter or ",")
    cursor = _LineCursor(path, codec)
    try:
        for line in sorted(set(lines)):
            values = next(csv.reader(cursor.lines_from(line), delimiter=src.delimiter or ",", strict=True))
            yield line, dict(zip(header, values, strict=False))  # a quarantined row may have the wrong width
    finally:
        cursor.close()


# Two exports joined into one file (monthly files `cat`-ed together) bring the second one's header as a row.
_REPEATED_HEADER = "the header row again, inside the file (two exports joined together?): not a record"


def _is_header(values: list[str], header: list[str]) -> bool:
    """Whether a row is `header` again. A joined file's BOM comes first, so the quotes around its first name are
    read as text."""
    return values[0].strip().lstrip("\ufeff").strip('"') == header[0] and [v.strip() for v in values[1:]] == header[1:]


def _width_reason(fields: int, width: int) -> str:
    """Why a row of the wrong width is rejected; a lone field is most likely a report's title or footer line."""
    reason = f"row has {fields} fields, header has {width}"
    if fields == 1 < width:
        reason += (" (a line of one field, as a report's title, totals and footer lines such as 'Grand Totals' or "
                   "'Copyright ... salesforce.com' are; export the details only, or cut those lines)")
    return reason


def _csv_reason(e: csv.Error) -> str:
    text = str(e)
    if "end of data" in text:
        return "row is cut off: a quoted field is not closed before the end of the file (truncated export?)"
    if "field limit" in text:
        return (f"a field is longer than the CSV reader's limit of {csv.field_size_limit()} characters "
                "(mis-quoted row, or a huge text field)")
    return f"not readable as CSV: {text}"


def check_files(mapping: Mapping, source_dir: Path) -> list[str]:
    """Problems that stop a load before it starts: missing or unreadable files, missing columns."""
    problems = []
    for src in mapping.sources:
        problem = export_file_problem(source_dir, src.file)
        if problem:  # before anything opens it: a fifo would block, /dev/zero never end
            problems.append(f"{src.file}: {problem}")
            continue
        path = source_dir / src.file
        problem = file_problem(path, src.encoding or "utf-8")
        if problem:
            problems.append(f"{src.file}: {problem}")
            continue
        try:
            header = source_header(src, source_dir)
        except InvalidInput as e:
            problems.append(str(e) + _delimiter_hint(path, src, src.required_columns()))
            continue
        if any("\x00" in h for h in header):
            problems.append(f"{src.file}: the header row holds a NUL byte (corrupted or binary data)")
            continue
        # Linear: a header may have 300k names. Unnamed columns are not doubles: Excel writes `Id,Name,,` for
        # empty columns a sheet once formatted, and no mapping reads a column without a name.
        doubled = sorted(h for h, n in Counter(header).items() if n > 1 and h)
        if doubled:
            problems.append(f"{src.file}: the header names {_names(doubled)} more than once "
                            "(rename or drop all but one of them in the export)")
        missing = src.required_columns() - set(header)
        if missing:
            problems.append(f"{src.file}: missing columns {', '.join(sorted(missing))}"
                            + _missing_columns_hint(path, src, header, missing))
    return problems


def _missing_columns_hint(path: Path, src: SourceSpec, header: list[str], missing: set[str]) -> str:
    """What most likely hides the missing columns, and what to do: another delimiter, a title line above the
    header, or other column names altogether; "" when it is none of these (a column simply left out)."""
    hint = _delimiter_hint(path, src, missing)
    if hint or missing != src.required_columns() or len(missing) < 2 or not any(header):
        return hint
    if len(header) == 1:
        return (f"; the first line holds one field ({header[0][:80]!r}): a report's title above the header? "
                "cut the lines above the header row")
    # A Salesforce report writes labels (Opportunity Name) where Data Loader writes API names (Name).
    return ("; none of them is in the header: an export with other column names (a report's labels?): "
            "`dealgraph mapping draft` drafts a mapping for the columns it has")


def _delimiter_hint(path: Path, src: SourceSpec, wanted: set[str]) -> str:
    """What to set when the header, split by another delimiter, is readable and holds the `wanted` columns
    (European Excel writes `;`)."""
    declared = src.delimiter or ","
    for other in (",", ";", "\t", "|"):
        try:
            split = other != declared and wanted <= set(_as_named(header_of(path, src.encoding or "utf-8", other), src))
        except InvalidInput:  # quoted for the declared delimiter: not readable split by this one
            continue
        if split:
            return (f"; the header is separated by {json.dumps(other)}, not {json.dumps(declared)}: "
                    f"set `delimiter: {json.dumps(other)}` for this file in the mapping")
    return ""


def _names(columns: Iterable[str], limit: int = 20) -> str:
    """Column names for a message, sorted; past `limit` of them, how many more (a header can hold 300k)."""
    names = sorted(c or "(unnamed)" for c in columns)  # Excel's trailing empty columns have no name
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def column_warnings(mapping: Mapping, source_dir: Path) -> list[str]:
    """What a load goes on despite: columns the mapping does not use, optional columns the export lacks."""
    warnings = []
    # A file several sources read (HubSpot's deal row, also unpivoted into stage changes): a column is unused
    # only when none of them reads or ignores it, and is reported once.
    readers: dict[str, list[SourceSpec]] = {}
    for src in mapping.sources:
        readers.setdefault(src.file, []).append(src)
    for src in mapping.sources:
        if export_file_problem(source_dir, src.file):
            continue  # check_files reports it; it is never opened
        try:
            header = set(source_header(src, source_dir))
        except (OSError, UnicodeError, InvalidInput):
            continue  # check_files reports the file itself
        others = readers[src.file]
        unused = _unused(header, others) if src is others[0] else set()  # said once, for the file's first source
        absent = src.columns() - header - src.required_columns()
        if unused:
            warnings.append(f"{src.file}: columns not in the mapping, ignored: {_names(unused)}")
        if absent:
            warnings.append(f"{src.file}: optional columns absent, loaded as empty: {_names(absent)}")
    return warnings


def _unused(header: set[str], sources: list[SourceSpec]) -> set[str]:
    """The columns of `header` no source reads, ignores (by name or `prefix*`) or unpivots."""
    rest = header - set().union(*(src.columns() for src in sources)) - {c for s in sources for c in s.ignore_columns}
    prefixes = tuple({c[:-1] for s in sources for c in s.ignore_columns if c.endswith("*")}
                     | {s.unpivot.prefix for s in sources if s.unpivot is not None})
    return {c for c in rest if not c.startswith(prefixes)} if prefixes else rest


def source_rows(src: SourceSpec, source_dir: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """`read_rows` of one mapping source, in its dialect (one row per unpivoted cell with `unpivot:`)."""
    path = export_file(source_dir, src.file)
    header = header_of(path, src.encoding or "utf-8", src.delimiter or ",")
    rename = {h: n for h, n in zip(header, _as_named(header, src), strict=True) if h != n}
    rows = read_rows(path, src.encoding or "utf-8", src.delimiter or ",", rename)
    if src.ids is not None:
        rows = _normal_ids(rows, ID_FORMS[src.ids], src.id_columns())
    return rows if src.unpivot is None else _unpivot(rows, src.unpivot, src.columns())


def _normal_ids(rows: Iterator[tuple[int, dict[str, str]]], form: Callable[[str], str],
                columns: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the ids in `columns` in one form: a report's 15-character Salesforce id names the record the
    Data Loader's 18-character one does. Before parsing, so keys, references and templates (`{Id}:outcome`)
    all see the same id."""
    names = tuple(columns)
    for line, raw in rows:
        for column in names:
            if column in raw:
                raw[column] = form(raw[column].strip())
        yield line, raw


def _unpivot(rows: Iterator[tuple[int, dict[str, str]]], spec: UnpivotSpec,
             reads: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row once per `<prefix><name>` column with a value: the columns the source `reads`, plus `name_as`
    and `value_as`. Only those are copied, so a row of many such columns costs each of its cells little (a
    whole-row copy per cell would be quadratic in a hostile header's width). A row the reader could not read
    passes once, to be quarantined; a row with no such value gives none (nothing to load)."""
    cut = len(spec.prefix)
    for line, raw in rows:
        if ERROR in raw:
            yield line, raw
            continue
        base = {c: raw[c] for c in reads if c in raw}
        for column, cell in raw.items():
            if column.startswith(spec.prefix) and isinstance(cell, str) and cell.strip():
                yield line, {**base, spec.name_as: column[cut:], spec.value_as: cell}
