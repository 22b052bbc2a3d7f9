"""What an open deal is, said once: a deal with no edge of the relation that records its outcome.

The SQLite and Cypher queries of `GraphStore.open_deals_page`, the model's scoring
(`gnn.score`) and the owners' health check (`gnn.owners.monitor`) all read this one
definition, so "open" cannot mean two things.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ontology import NodeType, Relation, Schema
from ontology.names import Rel

if TYPE_CHECKING:
    from graph.snapshot import Snapshot

#: The relation whose edge closes a deal, and the one that names its account.
OUTCOME_RELATION, ACCOUNT_RELATION = Rel.HAS_OUTCOME, Rel.FOR_ACCOUNT


@dataclass(frozen=True)
class DealShape:
    """The deal node type with the relations that close it (`outcome`) and name its account (`account`)."""

    deal: NodeType
    outcome: Relation
    account: Relation

    @classmethod
    def of(cls, schema: Schema) -> DealShape:
        outcome = schema.relations[OUTCOME_RELATION]
        return cls(schema.nodes[outcome.source], outcome, schema.relations[ACCOUNT_RELATION])

    def open_in(self, snapshot: Snapshot) -> list[str]:
        """The snapshot's open deals, in its order."""
        return self.open_ids(list(snapshot.nodes[self.deal.name][self.deal.key]),
                             set(snapshot.edges[self.outcome.name]["src"]))

    def open_ids(self, deal_ids: list[str], closed_ids: set[str]) -> list[str]:
        """Of `deal_ids` (in their order), those that are open: no `outcome` edge leaves them (`closed_ids`:
        the sources of the outcome edges; `open_in` reads both from a snapshot)."""
        return [d for d in deal_ids if d not in closed_ids]
