"""Reading a mapping's (or identity rules') YAML text within bounds, so no such file can hang or crash a load.

PyYAML's safe loader still builds whatever the text describes: a few lines
of aliases of aliases ("billion laughs") describe billions of values, which
the mapping's validation then walks for ever, and a document nested a
hundred thousand levels deep exhausts the recursion of its composer. Anchors
and aliases stay allowed (the shipped mappings share pieces with them), but
the text is first read as a stream of parser events, which costs no
recursion, and refused when it nests deeper than MAX_DEPTH, expands to more
than MAX_VALUES values, or has an alias inside the value it names. A file
that is too large or not UTF-8 is refused before it is parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from graph.store import InvalidInput

#: The shipped mappings are a few KB, nested 6 levels and expand to about a thousand values.
MAX_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_VALUES = 100_000


def read_yaml(path: Path, what: str = "mapping") -> Any:
    """The YAML document in `path`, refused with `InvalidInput` when it is too large, deep or expansive.

    `what` names the file in messages (`mapping`, `identity rules`): every YAML file a user gives goes here.

    Raises:
        InvalidInput: the file is over MAX_BYTES, not UTF-8 (the byte and its offset named), nested deeper
            than MAX_DEPTH, or expands to more than MAX_VALUES values.
        yaml.YAMLError: the text is not valid YAML.
    """
    with path.open("rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{what} {path}: larger than {MAX_BYTES} bytes; a mapping is a few KB of YAML")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InvalidInput(f"{what} {path}: not UTF-8 text: byte 0x{data[e.start]:02X} at offset {e.start} "
                           f"(line {line}); save it as UTF-8") from None
    _check_bounds(text, f"{what} {path}")
    return yaml.safe_load(text)


def _line(event: yaml.Event) -> int | str:
    """The line an event starts on, counted from 1 (the parser marks every event; its stubs allow none)."""
    return event.start_mark.line + 1 if event.start_mark is not None else "?"


def _check_bounds(text: str, name: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or expanding to more than MAX_VALUES values.

    Each open collection counts the values it holds, an alias counting as the whole value it names; the
    count of an anchored value is kept for its aliases, so the check is linear in the text's length.
    """
    open_counts: list[int] = [0]  # the document, then each collection being read
    open_anchors: list[str | None] = [None]
    closed: dict[str, int] = {}  # anchor -> values of the value it names
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(open_counts) > MAX_DEPTH:
                raise InvalidInput(f"{name}: nested more than {MAX_DEPTH} levels deep "
                                   f"(line {_line(event)}); a mapping needs a handful")
            open_counts.append(1)
            open_anchors.append(event.anchor)
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            size, anchor = open_counts.pop(), open_anchors.pop()
            if anchor is not None:
                closed[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                closed[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise InvalidInput(f"{name}: the alias *{event.anchor} (line {_line(event)}) "
                                   "is inside the value it names, which would make it endless")
            # an undefined alias: the YAML loader names it below
            size = closed.get(event.anchor, 1) if event.anchor is not None else 1
        else:
            continue
        open_counts[-1] += size
        if open_counts[-1] > MAX_VALUES:
            raise InvalidInput(f"{name}: expands to more than {MAX_VALUES} values through its aliases "
                               f"(line {_line(event)}); a mapping needs a few thousand")
