"""The package's errors: one root, `DealgraphError`, that every error dealgraph raises on purpose derives from.

Here rather than beside the store contract so any layer (loaders, gnn, api) can name the root
without importing the store. The CLI maps each kind to an exit code (`api.cli`).
"""

from __future__ import annotations


class DealgraphError(Exception):
    """Root of every error dealgraph raises on purpose."""


class StoreError(DealgraphError):
    """The store could not be opened, read or written."""


class InvalidInput(DealgraphError):
    """Input that cannot be used as given (CLI exit code 1)."""
