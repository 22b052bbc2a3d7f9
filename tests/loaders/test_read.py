"""Reading CSV rows: the line each starts on, error rows with their text, and rows read again by line."""

from __future__ import annotations

from pathlib import Path

from loaders.mapping import SourceSpec
from loaders.read import ERROR, RAW, read_rows, rows_at

TEXT = (
    "id,name,note\r\n"
    "a1,Acme,plain\r\n"
    'a2,Globex,"two\r\nlines"\r\n'
    "\r\n"
    "a3,Short\r\n"
    ",,\r\n"
    "a4,Initech,last\r\n"
)


def write(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_bytes(("\ufeff" + TEXT).encode("utf-8"))
    return path


def test_rows_come_with_the_line_they_start_on(tmp_path):
    rows = list(read_rows(write(tmp_path)))
    assert [line for line, _ in rows] == [2, 3, 6, 8]  # blank line 5 and the empty row on line 7 are skipped
    assert rows[1][1] == {"id": "a2", "name": "Globex", "note": "two\r\nlines"}
    assert rows[3][1]["id"] == "a4"


def test_a_row_that_cannot_be_read_keeps_its_text(tmp_path):
    line, error = next((line, row) for line, row in read_rows(write(tmp_path)) if ERROR in row)
    assert line == 6
    assert error == {ERROR: "row has 2 fields, header has 3", RAW: "a3,Short\r\n"}


def test_rows_are_read_again_by_line(tmp_path):
    path = write(tmp_path)
    src = SourceSpec(file=path.name, node="Account", key="id", encoding="utf-8", delimiter=",")
    assert dict(rows_at(src, tmp_path, [8, 3, 2])) == {line: row for line, row in read_rows(path) if line in (2, 3, 8)}


def test_a_record_cut_off_at_the_end_of_the_file_keeps_all_its_lines(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text('id,name\na1,Acme\na2,"Cut\noff', "utf-8")
    rows = list(read_rows(path))
    assert rows[0] == (2, {"id": "a1", "name": "Acme"})
    line, error = rows[1]
    assert line == 3 and "cut off" in error[ERROR] and error[RAW] == 'a2,"Cut\noff'
