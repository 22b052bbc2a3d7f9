"""docs/api.md shows the schema that is actually served."""

from __future__ import annotations

import re
from pathlib import Path

from api.schema import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def bare_sdl(text: str) -> list[str]:
    """SDL lines without descriptions or blank lines."""
    text = re.sub(r'^\s*"""[\s\S]*?"""\n', "", text, flags=re.MULTILINE)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_docs_schema_block_matches_the_served_schema() -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", DOC.read_text(), re.DOTALL)
    documented = next(b for b in blocks if "type Query" in b)
    assert bare_sdl(documented) == bare_sdl(schema.as_str())


def test_docs_show_the_query_the_widget_sends() -> None:
    from api.widget import QUERY

    assert QUERY.strip() in DOC.read_text()
