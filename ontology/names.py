"""The ontology's class and relation names, as constants: code names a class or relation only through these.

Values are plain strings (not an Enum) so they travel unchanged into SQL, Cypher, JSON and PyG edge types.
`tests/ontology/test_names.py` checks them against crm.ttl both ways, and fails on a class or relation
name written as a string literal anywhere outside ontology/ and tests/.
"""

from typing import Final


class Label:
    """Node classes (owl:Class in crm.ttl)."""

    ACCOUNT: Final = "Account"
    ACTIVITY: Final = "Activity"
    CONTACT: Final = "Contact"
    DEAL: Final = "Deal"
    DEAL_CHANGE: Final = "DealChange"
    OUTCOME: Final = "Outcome"
    PRODUCT: Final = "Product"
    REP: Final = "Rep"


class Rel:
    """Relations (owl:ObjectProperty in crm.ttl), named as the graph stores them."""

    AT_ACCOUNT: Final = "AT_ACCOUNT"
    CHANGE_OF: Final = "CHANGE_OF"
    FOR_ACCOUNT: Final = "FOR_ACCOUNT"
    FOR_PRODUCT: Final = "FOR_PRODUCT"
    HAS_OUTCOME: Final = "HAS_OUTCOME"
    INVOLVES: Final = "INVOLVES"
    OWNED_BY: Final = "OWNED_BY"
    PERFORMED_BY: Final = "PERFORMED_BY"
    REGARDS: Final = "REGARDS"
    SUBSIDIARY_OF: Final = "SUBSIDIARY_OF"
    WITH_CONTACT: Final = "WITH_CONTACT"
    WORKS_AT: Final = "WORKS_AT"
