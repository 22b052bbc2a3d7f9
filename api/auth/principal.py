"""The authenticated caller of one request and what its role means."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """`rep` sees the deals they own (or their team's) and what hangs off them; the others see everything."""

    REP = "rep"
    REVOPS = "revops"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for.

    Attributes:
        role: what the caller may see.
        subject: the API key id or the JWT `sub`, for logs.
        method: `api-key`, `jwt` or `anonymous` (only with DEALGRAPH_AUTH=off in development).
        rep_id: the Rep a `rep` principal is bound to (None for other roles).
        team_scope: a `rep` also sees deals owned by reps of the same team.

    Example:
        >>> Principal(Role.REP, "k1", "api-key", rep_id="005A").sees_everything
        False
    """

    role: Role
    subject: str
    method: str
    rep_id: str | None = None
    team_scope: bool = False

    def __post_init__(self) -> None:
        if self.role is Role.REP and not self.rep_id:
            raise ValueError("a rep principal needs the id of the Rep it acts for")

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.REVOPS, Role.ADMIN)
