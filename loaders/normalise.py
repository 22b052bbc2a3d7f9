"""Normal forms: company names, websites, emails (which identity resolution compares) and record ids.

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


_SALESFORCE_ID15 = re.compile(r"[a-zA-Z0-9]{15}")
_SALESFORCE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_GUID = re.compile(r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?")


def salesforce_id(value: str) -> str:
    """A Salesforce record id in the 18-character form its API and Data Loader write; reports write 15.

    The 15-character id is case-sensitive; the 3 characters Salesforce appends say which of its letters are
    upper case (5 letters each), so the 18-character id follows from it. Anything else is left as it is.

    >>> salesforce_id("001A0000006Vm9r")
    '001A0000006Vm9rIAC'
    """
    if len(value) != 15 or not _SALESFORCE_ID15.fullmatch(value):  # most cells: 18 characters already
        return value
    return value + "".join(
        _SALESFORCE_SUFFIX[sum(1 << i for i, c in enumerate(value[k : k + 5]) if "A" <= c <= "Z")] for k in (0, 5, 10)
    )


def guid(value: str) -> str:
    """A GUID in lower case without braces (Dynamics' exports write `{8A3B...}` as well as `8a3b...`)."""
    match = _GUID.fullmatch(value)
    return match.group(1).lower() if match else value


#: The forms a mapping's `ids:` names: each maps every spelling of one record's id to one string.
ID_FORMS: dict[str, Callable[[str], str]] = {"salesforce": salesforce_id, "guid": guid}

NORMALISERS: dict[str, Callable[[str | None], str]] = {
    "company_name": company_name, "website": website, "email": email, "text": text,
}
