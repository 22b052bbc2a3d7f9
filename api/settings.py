"""The one place that reads configuration: environment variables prefixed `DEALGRAPH_`.

Inner packages take plain arguments; the CLI and the app get them from here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Example: `DEALGRAPH_STORE=sqlite:////data/graph.db DEALGRAPH_HOME=/data dealgraph serve`."""

    model_config = SettingsConfigDict(env_prefix="DEALGRAPH_", extra="ignore")

    store: str = Field("sqlite:///dealgraph.db", description="Graph store URL (sqlite:///PATH)")
    home: Path = Field(Path(".dealgraph"), description="Folder for models, quarantine files and samples")
    host: str = Field("127.0.0.1", description="Address `serve` binds to")
    port: int = Field(8000, description="Port `serve` listens on")
