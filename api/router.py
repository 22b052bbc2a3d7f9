"""The `/graphql` route: Strawberry's router with GraphiQL served offline and answers kept in `ResponseCache`
(executions first: `api.executions_first`)."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException  # what Strawberry's views raise (strawberry.fastapi imports it so)
from fastapi.responses import Response
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import HTTPConnection
from strawberry.types.execution import ExecutionResult

from api.auth import Principal, Role
from api.executions_first import MAX_WAIT_S, ExecutionsFirst
from api.graphiql import OfflineGraphQLRouter
from api.graphql.context import GraphContext
from api.ops import Metrics
from api.request_guard import error_body
from api.request_info import RequestInfo
from api.response_cache import ResponseCache, request_key
from api.served import AppServed
from graph.store import StoreError

#: Response header saying whether the answer came from the cache: `hit` or `miss` (absent: not cacheable).
CACHE_HEADER = "X-Dealgraph-Cache"
#: On every `/graphql` response: answers depend on the credential, and only `api.response_cache` may keep them.
NO_STORE = "no-store"
#: The context of a request that executes nothing (the GraphiQL page): it could see nothing if it tried.
NOBODY = Principal(Role.REP, subject="nobody", method="none", rep_id="\x00nobody")


async def graphql_context(request: HTTPConnection, served: AppServed) -> GraphContext:
    """The router's `context_getter`: who asks (authenticated here) and what they may read, for one request."""
    # One context per request: its DataLoader caches must not outlive the request or serve another caller.
    executes = request.scope["type"] == "http" and (request.scope["method"] != "GET"
                                                     or "query" in request.query_params)
    # The client's address (a proxy's X-Forwarded-For when uvicorn trusts it) bounds its failed credentials.
    client = request.client.host if request.client else None
    authorization = request.headers.get("authorization")
    principal = await served.authenticator.authenticate(authorization, client) if executes else NOBODY
    info = RequestInfo.of(request.scope)
    if info is not None and executes:
        info.subject, info.role = principal.subject, principal.role.value
    return GraphContext(served.store, principal, served.model_card, timer=served.metrics.observe_store,
                        books=served.books, health=served.health, feedback=served.feedback)


def is_mutation(query: str | None) -> bool:
    """Whether a document holds a mutation: those always execute, never come from or go to the cache."""
    if not query or "mutation" not in query:  # the word is needed; parsing every widget query would cost more
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # executing it reports the syntax error
    return any(isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
               for d in document.definitions)


class DealgraphRouter(OfflineGraphQLRouter[GraphContext, None]):
    """Executes each GraphQL request, or answers it from `cache` when nothing it read has been written since."""

    def __init__(self, *args: Any, cache: ResponseCache, metrics: Metrics, cache_wait_s: float = MAX_WAIT_S,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = cache
        self._metrics = metrics
        self._executions = ExecutionsFirst(cache_wait_s)

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's own refusals (a mutation by GET, …) in the API's GraphQL shape, not Strawberry's plain
        text (`api.request_guard` refuses malformed requests before they get this far); every answer uncacheable."""
        try:
            response = await super().run(request, *args, **kwargs)
        except HTTPException as e:
            code = "METHOD_NOT_ALLOWED" if e.status_code == 405 else "BAD_REQUEST"
            info = RequestInfo.of(request.scope)
            if info is not None:
                info.error_codes.append(code)
            response = Response(error_body(e.reason, code), status_code=e.status_code, media_type="application/json")
        if isinstance(response, Response):
            # An answer is what one credential may see: no proxy (nginx's cache keys a GET by its URL, not its
            # `Authorization`) may hand it to another rep, and no browser may keep it on a shared machine's disk.
            response.headers["Cache-Control"] = NO_STORE
        return response

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: GraphContext,
                             root_value: Any, request_data: Any) -> ExecutionResult:
        run = super().execute_single
        args = dict(request=request, request_adapter=request_adapter, sub_response=sub_response, context=context,
                    root_value=root_value, request_data=request_data)
        key = request_key(context.principal, request_adapter.method, request_data.query, request_data.operation_name,
                          request_data.variables, request_data.extensions) \
            if self._cache.enabled and not is_mutation(request_data.query) else None
        if key is None:
            return await run(**args)
        card = context.model_card()
        model = card.version if card else None
        info = RequestInfo.of(request.scope)
        try:
            mark = self._cache.look()
            kept = self._cache.get(key, model)
            if kept is not None and await self._executions.wait():  # executions in flight went first: look again
                mark = self._cache.look()
                kept = self._cache.get(key, model)
        except StoreError:  # the store cannot be read: executing says so in the answer, as without a cache
            return await run(**args)
        if kept is not None:
            data, operation = kept
            if info is not None:
                info.operation = operation
            self._note(sub_response, info, "hit")
            return ExecutionResult(data=data, errors=None)
        async with self._executions.executing():
            result = await run(**args)
        if not result.errors and result.data is not None:
            self._cache.put(key, result.data, info.operation if info else None, mark, model, context.score_reads)
        self._note(sub_response, info, "miss")
        return result

    def _note(self, sub_response: Any, info: RequestInfo | None, outcome: str) -> None:
        sub_response.headers[CACHE_HEADER] = outcome
        if info is not None:
            info.cache = outcome
        self._metrics.response_cache.labels(outcome).inc()
