"""Normal forms that identity resolution compares: company names, websites, emails.

Each function maps the many ways a CRM user types one thing to one string,
and maps empty input to "" (which never matches anything):

>>> company_name("ACME CORP.") == company_name("Acme Corporation") == company_name("The Acme, Inc") == "acme"
True
>>> website("https://www.Acme.com/") == website("acme.com")
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Legal-form designators, as tokens after dots are dropped and the rest of the punctuation
# is turned into spaces ("S.A. de C.V." -> "sa de cv"). Longer forms are tried first.
# "Group" and "Holdings" are not legal forms: "Acme Group" may be the parent of "Acme".
LEGAL_SUFFIXES: list[tuple[str, ...]] = sorted(
    (tuple(s.split()) for s in (
        "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "lp", "llp", "ltd", "limited",
        "plc", "public limited company", "gmbh", "ag", "aktiengesellschaft", "kg", "sa", "sas", "sarl", "sl",
        "spa", "srl", "bv", "nv", "ab", "aktiebolag", "as", "asa", "oy", "kk", "kabushiki kaisha", "ltda",
        "sp z oo", "sa de cv", "pvt ltd", "pty ltd", "pte ltd",
    )),
    key=len, reverse=True,
)
# Suffixes by their last token, so stripping looks only at the few that can match.
_SUFFIXES_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
for _suffix in LEGAL_SUFFIXES:
    _SUFFIXES_BY_LAST.setdefault(_suffix[-1], []).append(_suffix)
_TRAILING_PARENTHESES = re.compile(r"\s*\([^)]*\)\s*$")
_NOT_WORD = re.compile(r"[^\w]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: `"Grün Öl"` -> `"grun ol"`."""
    if text.isascii():  # most names: skip the per-character Unicode work
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def company_name(name: str | None) -> str:
    """A company name without case, accents, punctuation, a leading "The", a trailing "(HQ)" or legal suffixes."""
    if not name:
        return ""
    text = _TRAILING_PARENTHESES.sub("", fold(name)).replace("&", " and ").replace(".", "")
    tokens = _NOT_WORD.sub(" ", text).split()
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    stripped = True
    while stripped and len(tokens) > 1:  # "Acme Ltd. GmbH" drops both forms, never the whole name
        stripped = False
        for suffix in _SUFFIXES_BY_LAST.get(tokens[-1], ()):
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix):]) == suffix:
                tokens = tokens[: -len(suffix)]
                stripped = True
                break
    return " ".join(tokens)


def website(url: str | None) -> str:
    """A website as host and path: no scheme, no `www.`, no query, fragment or trailing slash, lower case."""
    if not url:
        return ""
    text = _SCHEME.sub("", url.strip().lower())
    text = text.split("#", 1)[0].split("?", 1)[0].rstrip("/").rstrip(".")
    return text[4:] if text.startswith("www.") else text


def email(address: str | None) -> str:
    """An email address compared case-insensitively; "" for anything without an `@`."""
    text = (address or "").strip().casefold()
    return text if "@" in text else ""


def text(value: object) -> str:
    """Any other value: folded and with single spaces."""
    return " ".join(fold(str(value)).split()) if value not in (None, "") else ""


NORMALISERS: dict[str, Callable[[str | None], str]] = {
    "company_name": company_name, "website": website, "email": email, "text": text,
}
