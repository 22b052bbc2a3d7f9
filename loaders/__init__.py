"""Source mappings -> validated records -> store, with quarantine for what does not fit."""

from loaders.load import LoadSummary, load_export
from loaders.mapping import Mapping, load_mapping

__all__ = ["LoadSummary", "Mapping", "load_export", "load_mapping"]
