"""Fixtures shared by the loader tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GENERIC = Path(__file__).parent / "fixtures" / "generic"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A fresh copy of the generic fixture export, for one test to damage (a module may define its own `export`)."""
    return Path(shutil.copytree(GENERIC, tmp_path / "export"))
