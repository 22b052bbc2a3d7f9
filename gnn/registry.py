"""Model registry: each trained model is a versioned folder under `HOME/models/`.

A version folder holds `model.pt` (weights and everything needed to rebuild
the model), `card.json` (the `ModelCard`: metrics, schema fingerprint, data
snapshot id, training time) and `report.json` (the training report). `HOME/models/SERVED` lists the versions
served so far, the last one serving now (promote pushes, rollback pops), and
`HISTORY.log` records every promotion and rollback with its time.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph.errors import DealgraphError


class RegistryError(DealgraphError):
    """No such model, or no model trained yet."""


def new_version(trained_at: datetime | None = None, tag: str = "") -> str:
    """A fresh version string: training time first, so versions sort by time, then a tag and a random suffix.

    The tag says where a model came from (e.g. a notebook's own model), so the
    lineage of every score that names the version is plain to read.

    Example:
        >>> new_version(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tag="notebook-logreg")  # doctest: +SKIP
        '20260102T030405Z-notebook-logreg-9f1c'
    """
    stamp = (trained_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ-")
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", tag).strip("-")  # a folder name under HOME/models
    return stamp + (f"{tag}-" if tag else "") + uuid.uuid4().hex[:4]


@dataclass(frozen=True)
class ModelCard:
    """What a stored score's `model_version` points to."""

    version: str
    kind: str
    trained_at: datetime
    schema_fingerprint: str
    snapshot_id: str
    metrics: dict[str, dict[str, float]]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """"skill" (passed the serving gate, `gnn.gate`) or "no_skill"; cards from before the gate count as
        skill, as they were served under the old rule."""
        return str(self.params.get("state", "skill"))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["trained_at"] = self.trained_at.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelCard:
        return cls(**{**data, "trained_at": datetime.fromisoformat(data["trained_at"])})


class ModelRegistry:
    """Versioned model artifacts in a folder. Example: `ModelRegistry(home).current()`."""

    def __init__(self, home: Path) -> None:
        self.root = Path(home) / "models"
        self._served: tuple[tuple[int, int, int], list[str]] | None = None  # (file identity, stack)

    def path(self, version: str) -> Path:
        return self.root / version

    def save(self, card: ModelCard, files: dict[str, bytes], promote: bool = True) -> Path:
        """Write a version atomically (temp folder, then rename) and optionally make it current."""
        final = self.path(card.version)
        tmp = self.root / f".{card.version}.tmp"
        tmp.mkdir(parents=True, exist_ok=False)
        for name, blob in files.items():
            (tmp / name).write_bytes(blob)
        (tmp / "card.json").write_text(json.dumps(card.to_json(), indent=2))
        tmp.rename(final)
        if promote:
            self.promote(card.version)
        return final

    def promote(self, version: str) -> None:
        """Serve `version` from now on (it goes on top of the served stack)."""
        if not (self.path(version) / "card.json").exists():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        if not (self.path(version) / "model.pt").exists():
            # e.g. a notebook's own model, registered for its lineage: `dealgraph score` could not load it
            raise RegistryError(f"model version {version!r} has no model.pt that dealgraph can serve; "
                                "it is kept for its record but cannot be promoted")
        stack = self.served()
        if not stack or stack[-1] != version:
            self._write_served([*stack, version])
        self._log(f"promote {version}")

    def rollback(self) -> str:
        """Serve the version that was served before the current one again; returns it."""
        stack = self.served()
        if len(stack) < 2:
            raise RegistryError("nothing to roll back to: no model was served before the current one")
        self._write_served(stack[:-1])
        self._log(f"rollback {stack[-1]} -> {stack[-2]}")
        return stack[-2]

    def served(self) -> list[str]:
        """The versions served so far, oldest first; the last one serves now."""
        # The API asks on every request; the file is replaced whole (`_write_served`), so one stat says
        # whether it changed since the last read.
        path = self.root / "SERVED"
        try:
            st = path.stat()
        except FileNotFoundError:
            return []
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._served is None or self._served[0] != identity:
            self._served = (identity, path.read_text().split())
        return list(self._served[1])

    def _write_served(self, stack: list[str]) -> None:
        # Written whole and renamed: a crash leaves the old or the new stack, never half.
        tmp = self.root / ".SERVED.tmp"
        tmp.write_text("\n".join(stack) + "\n")
        os.replace(tmp, self.root / "SERVED")

    def _log(self, line: str) -> None:
        with (self.root / "HISTORY.log").open("a") as fh:
            fh.write(f"{datetime.now(UTC).isoformat()} {line}\n")

    def card(self, version: str) -> ModelCard:
        path = self.path(version) / "card.json"
        if not path.exists():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return ModelCard.from_json(json.loads(path.read_text()))

    def current_version(self) -> str | None:
        stack = self.served()
        return stack[-1] if stack else None

    def current(self) -> ModelCard | None:
        """The card of the serving model, or None before the first training."""
        version = self.current_version()
        return self.card(version) if version else None

    def versions(self) -> list[ModelCard]:
        if not self.root.exists():
            return []
        cards = [self.card(p.name) for p in self.root.iterdir() if (p / "card.json").exists()]
        return sorted(cards, key=lambda c: c.trained_at)
