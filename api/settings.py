"""The one place that reads configuration: environment variables prefixed `DEALGRAPH_`.

Inner packages take plain arguments; the CLI and the app get them from here.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal, TypedDict

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.executions_first import MAX_WAIT_S
from gnn.gate import DEFAULT_SHARE

log = logging.getLogger(__name__)

#: Secrets copied from examples: refused outside development (the JWT secret must also be 32+ bytes there).
PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "dev", "development", "test",
                                 "example"})
#: The frame-ancestors source that refuses every frame: the widget's default.
FRAME_NONE = "'none'"
#: `serve`'s worker processes when DEALGRAPH_WORKERS is not set: one per CPU, up to this many.
MAX_DEFAULT_WORKERS = 8
#: One CSP source a CRM page may frame the widget from: 'self', *, a scheme (https:) or a host with optional
#: scheme, wildcard subdomain and port. Anything else (spaces, `;`) could smuggle other directives into the header.
FRAME_SOURCE = re.compile(r"^('self'|\*|https?:|(https?://)?(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d{1,5}|\*))?)$")


def default_workers() -> int:
    """One uvicorn worker per CPU this process may run on (one event loop uses one core), capped by the
    container's CPU quota (`gnn.threads.usable_cores`), at most `MAX_DEFAULT_WORKERS`."""
    from gnn.threads import usable_cores  # torch-free; imported here so settings stay light to import

    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS))


class StoreCredentials(TypedDict):
    """`graph.open_store`'s keyword arguments for the Neo4j login."""

    user: str | None
    password: str | None


class Settings(BaseSettings):
    """Example: `DEALGRAPH_STORE=sqlite:////data/graph.db DEALGRAPH_HOME=/data dealgraph serve`."""

    model_config = SettingsConfigDict(env_prefix="DEALGRAPH_", extra="ignore")

    store: str = Field("sqlite:///dealgraph.db", description="Graph store URL (sqlite:///PATH)")
    home: Path = Field(Path(".dealgraph"), description="Folder for models, quarantine files and samples")
    host: str = Field("127.0.0.1", description="Address `serve` binds to")
    port: int = Field(8000, description="Port `serve` listens on")

    # ---- Neo4j login (issue 5, docs/neo4j.md): `graph.open_store` reads no environment, so whoever opens
    # a neo4j:// or bolt:// store passes these: `open_store(settings.store, **settings.store_credentials())`.
    neo4j_user: str | None = Field(None, description="Neo4j user for neo4j:// and bolt:// store URLs")
    neo4j_password: SecretStr | None = Field(None, description="Neo4j password for neo4j:// and bolt:// store URLs")

    # ---- API: authentication (docs/api.md#authentication)
    env: Literal["development", "production"] = Field(
        "production", description="`development` allows DEALGRAPH_AUTH=off and placeholder secrets"
    )
    auth: Literal["required", "off"] = Field(
        "required", description="`off` serves every request as an anonymous admin: development only, logged loudly"
    )
    jwt_secret: SecretStr | None = Field(None, description="HS256 key for bearer JWTs (32+ bytes); unset: no HS256")
    jwt_public_key: str | None = Field(
        None, description="RS256 public key for bearer JWTs: PEM text or a path to a PEM file; unset: no RS256"
    )
    jwt_issuer: str | None = Field(None, description="Required `iss` of bearer JWTs, when set")
    jwt_audience: str | None = Field(None, description="Required `aud` of bearer JWTs, when set")
    jwt_max_lifetime_s: int = Field(
        86400, ge=60, description="Longest a bearer JWT may live: tokens whose exp - iat (exp - now without iat) is "
        "longer are refused, so a leaked token cannot be valid for years"
    )
    keys_file: Path | None = Field(None, description="API key database (default HOME/api-keys.db)")
    auth_failures_burst: int = Field(
        30, ge=1, description="Failed credentials one client address may send in a row before it gets 429"
    )
    auth_failures_per_minute: float = Field(
        30.0, gt=0, description="How fast a client address earns back failed attempts (token bucket refill)"
    )
    feedback_burst: int = Field(
        30, ge=1, description="Feedback events one principal may give in a row before `giveFeedback` is refused "
        "(RATE_LIMITED): each one is an audit record and drops every cached answer"
    )
    feedback_per_minute: float = Field(
        6.0, gt=0, description="How fast a principal earns back feedback events (token bucket refill)"
    )
    auth_negative_cache_entries: int = Field(
        4096, ge=0, description="Wrong API keys remembered per process, so a repeat costs no scrypt (0: off)"
    )

    # ---- API: abuse limits and operations
    introspection: bool = Field(True, description="Answer schema introspection (GraphiQL's docs need it)")
    max_depth: int = Field(8, ge=1, description="Deepest selection nesting a query may have (leaf fields do not count)")
    max_tokens: int = Field(2000, ge=10, description="Most lexical tokens a query document may have")
    max_aliases: int = Field(20, ge=0, description="Most field aliases a query document may have")
    request_timeout_s: float = Field(10.0, gt=0, description="A query still running after this is cancelled")
    book_ttl_s: float = Field(
        10.0, ge=0, description="A rep's deals and accounts are re-read at most this often (0: every request)"
    )
    response_cache_entries: int = Field(
        5000, ge=0, description="GraphQL answers kept per server process, each until something it read is written "
        "(0: off). Needs a store that tracks its writes (SQLite); with Neo4j nothing is kept",
    )
    cache_wait_ms: float = Field(
        MAX_WAIT_S * 1000, ge=0, le=1000, description="The longest an answer from the response cache waits for "
        "queries executing in the same process, which go first (0: never waits; api/executions_first.py)",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger request bodies get 413 unread")
    max_header_bytes: int = Field(
        16384, ge=1024, description="Requests whose header names and values total more get 431 before any work"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='Browser origins allowed to call the API, e.g. ["https://acme.lightning.force.com"]'
    )
    widget_frame_ancestors: list[str] = Field(
        default_factory=lambda: [FRAME_NONE],
        description="CSP frame-ancestors of the CRM widget (docs/widget.md): the CRM origins that may embed it, "
                    'e.g. ["https://acme.lightning.force.com"]. The default, ["\'none\'"], refuses every frame '
                    "until the CRM's origins are listed (a page framed by a stranger invites clickjacking)",
    )
    log_format: Literal["json", "text"] = Field("json", description="Request logs of `serve` on stderr")
    workers: int = Field(default_factory=default_workers, ge=1, le=64,
                         description="uvicorn worker processes `serve` starts (default: one per CPU, at most 8)")

    # ---- the owners' loop (docs/owners.md): alerts and monitoring thresholds
    alert_webhook_url: str | None = Field(None, description="Alerts are POSTed here, signed; unset: recorded only")
    alert_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of the X-Dealgraph-Signature header (required with the URL)")
    alert_webhook_attempts: int = Field(4, ge=1, le=10, description="Tries per alert (retried: network, 429, 5xx)")
    alert_webhook_backoff_s: float = Field(1.0, ge=0, le=60, description="First retry delay; doubles per retry")
    alert_drop_points: float = Field(0.2, gt=0, le=1, description="A score drop this large between scorings alerts")
    alert_drop_min_amount: float = Field(100_000.0, ge=0, description="... on open deals worth at least this")
    monitor_min_auroc: float = Field(0.65, ge=0, le=1, description="Realised AUROC below this alerts")
    monitor_max_ece: float = Field(0.15, ge=0, le=1, description="Realised ECE above this alerts")
    monitor_min_closed: int = Field(30, ge=1, description="Realised metrics are judged on at least this many closes")
    monitor_max_psi: float = Field(0.25, gt=0, description="Input drift or score shift (PSI) above this alerts")
    monitor_max_stale_hours: float = Field(48.0, gt=0, description="Hours since the last load above this alerts")
    monitor_max_quarantine_rate: float = Field(0.05, ge=0, le=1, description="Quarantined share of recent loads")
    retrain_min_share: float = Field(DEFAULT_SHARE, gt=0, le=2, description=(
        "`dealgraph train` and `retrain` promote only at this share of the serving model's AUROC and 1 - ECE"))
    review_min_amount: float | None = Field(250_000.0, ge=0, description=(
        "A score change on a deal worth this much or more is held for review (unset: no amount rule)"))
    review_drop_points: float | None = Field(0.2, gt=0, le=1, description=(
        "A score drop larger than this (0.2 = 20 points) is held for review (unset: no drop rule)"))
    review_new_model: bool = Field(True, description="A newly promoted model's first score of a deal is held")
    review_min_move_points: float = Field(0.05, ge=0, le=1, description=(
        "The amount and new-model rules ignore moves smaller than this (rescoring noise)"))

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Settings:
        if self.alert_webhook_url and not self.alert_webhook_secret:
            raise ValueError("DEALGRAPH_ALERT_WEBHOOK_URL needs DEALGRAPH_ALERT_WEBHOOK_SECRET: alerts are signed")
        if self.alert_webhook_url and not self.alert_webhook_url.startswith(("https://", "http://")):
            raise ValueError(f"DEALGRAPH_ALERT_WEBHOOK_URL must be an http(s) URL (got {self.alert_webhook_url!r})")
        return self

    @field_validator("widget_frame_ancestors")
    @classmethod
    def _csp_sources(cls, sources: list[str]) -> list[str]:
        if sources == [FRAME_NONE]:
            return sources
        bad = [s for s in sources if not FRAME_SOURCE.match(s)]
        if bad or not sources:
            raise ValueError(f"not CSP frame-ancestors sources: {bad or sources} (use origins like "
                             "https://acme.lightning.force.com, https://*.hubspot.com, 'self', or [\"'none'\"])")
        return sources

    @model_validator(mode="after")
    def _refuse_unsafe_outside_development(self) -> Settings:
        """Placeholder secrets and switched-off authentication are for a developer's laptop only."""
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
        problems = []
        if self.auth == "off":
            problems.append("DEALGRAPH_AUTH=off serves every request as an anonymous admin")
        if secret is not None and (secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret.encode()) < 32):
            problems.append(
                "DEALGRAPH_JWT_SECRET is a placeholder or shorter than 32 bytes; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if problems and self.env != "development":
            raise ValueError("; ".join(problems) + " (allowed only with DEALGRAPH_ENV=development)")
        for problem in problems:
            log.warning("INSECURE (DEALGRAPH_ENV=development): %s", problem)
        return self

    def store_credentials(self) -> StoreCredentials:
        """Keyword arguments of `graph.open_store` for the Neo4j login (SQLite ignores them)."""
        password = self.neo4j_password.get_secret_value() if self.neo4j_password else None
        return {"user": self.neo4j_user, "password": password}

    def keys_path(self, home: Path | None = None) -> Path:
        """Where API keys are stored (hashed): `DEALGRAPH_KEYS_FILE`, else `api-keys.db` in the home."""
        return self.keys_file or Path(home or self.home) / "api-keys.db"
