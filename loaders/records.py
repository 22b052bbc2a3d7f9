"""Validation of loaded records: pydantic models built from the Schema.

Each node type and relation gets a pydantic model whose fields carry the
property's xsd type, and the facets its SHACL shape gives (required, allowed
values, lower bound). Values arrive as CSV text; the coercers below accept the
forms CRM exports actually use (Salesforce's `2025-03-04T10:15:00.000+0000`,
Excel's `true`/`TRUE`, thousands separators are not guessed at).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from ontology import NodeType, Property, Relation

# Extra date formats after ISO 8601; a mapping could extend this later.
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _iso_datetime(text: str) -> datetime:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # +0000 -> +00:00
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def _date_only(text: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)")


def parse_datetime(v: Any) -> datetime | None:
    if _blank(v) or isinstance(v, datetime):
        return v or None
    text = str(v).strip()
    if "T" in text or ":" in text:
        try:
            parsed = _iso_datetime(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date-time (expected ISO 8601)") from None
    else:
        parsed = datetime.combine(_date_only(text), datetime.min.time())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(v: Any) -> date | None:
    if _blank(v):
        return None
    if isinstance(v, date):
        return v if not isinstance(v, datetime) else v.date()
    text = str(v).strip()
    return parse_datetime(text).date() if "T" in text else _date_only(text)


def parse_decimal(v: Any) -> float | None:
    if _blank(v):
        return None
    value = float(str(v).strip())
    if not math.isfinite(value):
        raise ValueError(f"{v!r} is not a finite number")
    return value


def parse_integer(v: Any) -> int | None:
    if _blank(v):
        return None
    value = parse_decimal(v)
    if value != int(value):
        raise ValueError(f"{v!r} is not a whole number")
    return int(value)


def parse_boolean(v: Any) -> bool | None:
    if _blank(v) or isinstance(v, bool):
        return v if isinstance(v, bool) else None
    text = str(v).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{v!r} is not true/false")


def parse_string(v: Any) -> str | None:
    return None if _blank(v) else str(v).strip()


COERCERS = {
    "string": (str, parse_string),
    "integer": (int, parse_integer),
    "decimal": (float, parse_decimal),
    "boolean": (bool, parse_boolean),
    "date": (date, parse_date),
    "dateTime": (datetime, parse_datetime),
}


def _field(p: Property) -> tuple[Any, Any]:
    py_type, coerce = COERCERS[p.datatype]
    if p.allowed:
        py_type = Literal[p.allowed]  # type: ignore[valid-type]
    annotated = Annotated[py_type if p.required else Optional[py_type], BeforeValidator(coerce)]
    default = ... if p.required else None
    return annotated, Field(default, ge=p.minimum) if p.minimum is not None else Field(default)


@cache
def record_model(typed: NodeType | Relation) -> type[BaseModel]:
    """The pydantic model of one node type's (or relation's) properties."""
    fields = {p.name: _field(p) for p in typed.properties}
    return create_model(  # type: ignore[call-overload]
        f"{typed.name.title().replace('_', '')}Record",
        __config__=ConfigDict(extra="forbid", frozen=True),
        **fields,
    )


def validate_properties(typed: NodeType | Relation, raw: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check raw values; raises `RecordError` naming each bad field."""
    try:
        return record_model(typed)(**raw).model_dump()
    except ValidationError as e:
        raise RecordError("; ".join(_describe(err) for err in e.errors())) from e


def _describe(err: dict) -> str:
    where = ".".join(str(x) for x in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    return f"{where}: {msg}" + (f" (got {value!r})" if value is not None and "got" not in msg else "")


class RecordError(ValueError):
    """A row's values do not fit the schema."""
