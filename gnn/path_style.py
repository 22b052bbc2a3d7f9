"""Colours of explanation paths, shared by every view that draws them.

The RevOps review (`api.review`, drawn in Python), the CRM widget
(`api.widget`, drawn in the browser from the same values) and the notebook
drawing (`gnn.drawing`) colour a path by its direction and a node by its
label, so a rep, RevOps and a data scientist see one picture.
Every text colour here reaches WCAG AA (4.5:1) on every fill and on white;
`tests/api/test_widget.py` checks it.
"""

from __future__ import annotations

from ontology.names import Label, Rel

#: A path's stroke and sign colour by its direction.
DIRECTION_COLOURS = {"raises": "#1b7f3b", "lowers": "#b42318"}
#: Fallback stroke for a direction the model did not name.
NEUTRAL = "#444c5c"
#: A node's fill by its label (pale, so dark text stays readable on it).
NODE_FILLS = {
    Label.DEAL: "#e8eefc",
    Label.CONTACT: "#fdf1dc",
    Label.ACCOUNT: "#e6f4ea",
    Label.PRODUCT: "#f3e8fd",
    Label.REP: "#eceff1",
}
#: Fill of any other node label.
DEFAULT_FILL = "#ffffff"
#: Node names and the labels above them.
INK = "#1d2433"
MUTED = "#5b6475"


def palette() -> dict[str, object]:
    """The palette as plain JSON-ready data, for views drawn in the browser."""
    return {
        "direction": DIRECTION_COLOURS,
        "neutral": NEUTRAL,
        "fills": NODE_FILLS,
        "defaultFill": DEFAULT_FILL,
        "ink": INK,
        "muted": MUTED,
    }


#: The words a person uses for a relation, by the direction it was walked from the deal outwards
#: ("out": as the relation runs, "in": against it). Every view shows these, never the relation's
#: name (FOR_ACCOUNT, INVOLVES); a relation missing here is shown as its name in lower case.
RELATION_WORDS = {
    Rel.FOR_ACCOUNT: {"out": "is a deal with", "in": "has the deal"},
    Rel.INVOLVES: {"out": "involves", "in": "is involved in"},
    Rel.OWNED_BY: {"out": "is owned by", "in": "owns"},
    Rel.FOR_PRODUCT: {"out": "sells", "in": "is sold in"},
    Rel.WORKS_AT: {"out": "works at", "in": "employs"},
    Rel.SUBSIDIARY_OF: {"out": "is part of", "in": "is the parent of"},
    Rel.HAS_OUTCOME: {"out": "ended as", "in": "is the outcome of"},
}


def relation_words(relation: str | None, direction: str | None) -> str:
    """What a person reads on the arrow for `relation` walked in `direction` ("out" or "in")."""
    if not relation:
        return ""
    words = RELATION_WORDS.get(relation)
    if words is None:
        return relation.lower().replace("_", " ")
    return words["in" if direction == "in" else "out"]
