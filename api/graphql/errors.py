"""Errors a client caused: reported in the GraphQL `errors` list, never logged as server faults."""

from __future__ import annotations

from graphql import GraphQLError


class UserInputError(GraphQLError):
    """A bad argument (cursor, page size, `top`): the message says what to send instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})
