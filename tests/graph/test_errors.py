"""One root for the errors dealgraph raises on purpose, so a caller can catch them all and nothing else."""

from __future__ import annotations

import pytest

from api.auth.authenticator import AuthError, TooManyFailures
from api.auth.tokens import TokenError
from api.owners_desk import Forbidden
from api.request_guard import RequestError
from gnn.leakage import LeakageError
from gnn.registry import RegistryError
from graph.errors import DealgraphError, InvalidInput, StoreError
from graph.neo4j import DanglingEdges
from loaders.records import RecordError


@pytest.mark.parametrize("error", [StoreError, InvalidInput, DanglingEdges, LeakageError, RegistryError, RecordError,
                                   AuthError, TooManyFailures, TokenError, RequestError, Forbidden])
def test_every_error_of_ours_derives_from_the_root(error):
    assert issubclass(error, DealgraphError)


def test_the_root_is_not_the_store_contracts():
    import graph.store

    assert DealgraphError.__module__ == "graph.errors" and graph.store.DealgraphError is DealgraphError
