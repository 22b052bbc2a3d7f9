"""Schema extensions of the served schema (abuse limits, caches), and what a response may say about errors.

`schema_extensions(limits)` returns them in order. `sanitise` gives every
error an `extensions.code`; an unexpected exception in a resolver becomes
`INTERNAL_SERVER_ERROR` with the request id and no detail (the server log has
the traceback, see `api.schema.DealgraphSchema`, which applies it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.schema import validate_document

from api.request_info import RequestInfo

#: Distinct documents whose parse and validation results are kept (the widget sends a handful).
DOCUMENT_CACHE_SIZE = 256


@dataclass(frozen=True)
class Limits:
    """The abuse limits a schema enforces (from `Settings`)."""

    max_depth: int = 8
    max_tokens: int = 2000
    max_aliases: int = 20
    max_fields: int = 500
    introspection: bool = True
    timeout_s: float = 10.0


def error_code(error: GraphQLError) -> str:
    """The `extensions.code` an error goes back with."""
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError) and error.path:
        return "INTERNAL_SERVER_ERROR"
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"


def is_fault(error: GraphQLError) -> bool:
    """An exception a resolver did not mean to raise: our bug or a store failure, never the caller's."""
    return error_code(error) == "INTERNAL_SERVER_ERROR"


def request_info(context: Any) -> RequestInfo | None:
    """The `RequestInfo` of the HTTP request a GraphQL context belongs to (None outside HTTP)."""
    request = getattr(context, "request", None)
    return RequestInfo.of(request.scope) if request is not None else None


def sanitise(errors: list[GraphQLError], info: RequestInfo | None) -> list[GraphQLError]:
    """Errors as the caller gets them: each with a code, faults without their detail; codes noted in `info`."""
    request_id = info.request_id if info is not None else "-"
    cleaned = []
    for error in errors:
        code = error_code(error)
        if info is not None:
            info.error_codes.append(code)
        if code == "INTERNAL_SERVER_ERROR":
            error = GraphQLError(
                f"internal error (request id {request_id}); the server log has the details",
                nodes=error.nodes, path=error.path, extensions={"code": code, "requestId": request_id},
            )
        elif not (error.extensions or {}).get("code"):
            error = GraphQLError(error.message, nodes=error.nodes, source=error.source, positions=error.positions,
                                 path=error.path, extensions={"code": code})
        cleaned.append(error)
    return cleaned


class RecordOperation(SchemaExtension):
    """Tells the request log and metrics which operation ran (before execution, so timeouts are named too)."""

    def on_execute(self) -> Iterator[None]:
        info = request_info(self.execution_context.context)
        if info is not None:
            try:
                info.operation = self.execution_context.operation_name or "anonymous"
            except RuntimeError:  # no operation in the document to take a name from
                info.operation = "anonymous"
        yield


class OneOperation(SchemaExtension):
    """Says which operation of the document runs, as the GraphQL spec does (GetOperation), before anything runs.

    Strawberry picks the document's first operation when the request names none, even when there are several,
    and answers an unknown `operationName` with a plain-text 400; here both are GraphQL errors that say what
    the document holds.
    """

    def on_parse(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        if ctx.graphql_document is None:  # a syntax error: already reported
            return
        names = [d.name.value if d.name else None for d in ctx.graphql_document.definitions
                 if isinstance(d, OperationDefinitionNode)]
        # Strawberry's `operation_name` falls back to the first operation's; only the request's own counts here.
        wanted = getattr(ctx, "_provided_operation_name", None)
        listed = ", ".join(n or "(anonymous)" for n in names)
        if not names:
            message = "the document defines no operation (only fragments): add a query"
        elif wanted is None and len(names) > 1:
            message = f"the document defines {len(names)} operations ({listed}): name the one to run in `operationName`"
        elif wanted is not None and wanted not in names:
            message = f"`operationName` {wanted[:100]!r} names no operation in the document (it defines: {listed})"
        else:
            return
        raise GraphQLError(message, extensions={"code": "OPERATION_RESOLUTION_FAILURE"})


def expanded_fields(document: DocumentNode) -> int:
    """Field selections in `document` with every fragment spread expanded where it is used.

    Linear in the document (each fragment is counted once, then reused), unlike a naive walk:
    20 fragments that each spread the next one twice expand to a million fields.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, int] = {}

    def count(selection_set: SelectionSetNode | None, path: frozenset[str]) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += 1 + count(sel.selection_set, path)
            elif isinstance(sel, InlineFragmentNode):
                total += count(sel.selection_set, path)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name in path or name not in fragments:
                    continue  # a cycle or an unknown fragment: validation reports it
                if name not in memo:
                    memo[name] = count(fragments[name].selection_set, path | {name})
                total += memo[name]
        return total

    return sum(count(d.selection_set, frozenset())
               for d in document.definitions if isinstance(d, OperationDefinitionNode))


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _validate(schema: Any, document: DocumentNode, rules: tuple[type, ...]) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


def guarded_validation(max_fields: int) -> type[SchemaExtension]:
    """Validation that first bounds the document's expanded size, then validates (cached per document).

    Strawberry's depth and alias validators expand repeated fragment spreads without memoising them
    (0.341.2: ~1 s of CPU for a 154-token document, doubling with each extra fragment), so a document
    whose expansion is too large is refused before any validator sees it. This replaces
    `ValidationCache`, whose validation would run first.
    """

    class GuardedValidation(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            ctx = self.execution_context
            assert ctx.graphql_document is not None
            size = expanded_fields(ctx.graphql_document)
            if size > max_fields:
                ctx.pre_execution_errors = [GraphQLError(
                    f"the query selects {size} fields once its fragments are expanded; at most {max_fields} "
                    "are allowed: select fewer fields or spread fragments fewer times",
                    extensions={"code": "QUERY_TOO_COMPLEX"},
                )]
            else:
                ctx.pre_execution_errors = _validate(ctx.schema._schema, ctx.graphql_document,
                                                     tuple(ctx.validation_rules))
            yield

    return GuardedValidation


def schema_extensions(limits: Limits) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """Per-request extension factories: limits first, then the parse cache, validation, error handling.

    The validation rules are built once, so validation results can be cached per document.
    """
    rules: list[type] = [depth_rule(limits.max_depth, None), alias_rule(limits.max_aliases)]
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        OneOperation,
        guarded_validation(limits.max_fields),
        RecordOperation,
    ]
