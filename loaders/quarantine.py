"""The quarantine file: one JSON line per rejected row, with its source, line and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any


class Quarantine:
    """Appends rejected rows to a JSON-lines file, created on the first rejection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._fh: IO[str] | None = None

    def add(self, file: str, line: int, reason: str, row: Any) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        record = {"file": file, "line": line, "reason": reason, "row": row}
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_quarantine(path: Path) -> list[dict[str, Any]]:
    """The records of a quarantine file (empty when nothing was rejected)."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line]
