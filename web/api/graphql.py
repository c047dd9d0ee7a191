"""GraphQL at /graphql (Ariadne, schema-first: web/api/schema.graphql). The same reads as
REST (web/api/rest.py) behind the same token check; one operation is one transaction as
qdx_app within the caller's scope, and one row of the audit log. Queries deeper than
MAX_DEPTH or costlier than MAX_COST are refused before they run, with a clear error;
errors never carry SQL or a trace. GET serves the GraphiQL explorer."""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from ariadne import (
    EnumType,
    ObjectType,
    QueryType,
    ScalarType,
    gql,
    graphql,
    make_executable_schema,
)
from ariadne.explorer import ExplorerGraphiQL
from ariadne.validation import cost_validator
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from psycopg_pool import PoolTimeout, TooManyRequests
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from db.queries import QUERIES
from db.scope import scoped_async
from web.api.audit import record
from web.api.auth import Authenticator, Caller, Refused
from web.api.graphql_people import COSTS as PEOPLE_COSTS
from web.api.graphql_people import bindables as people_bindables
from web.api.graphql_resources import COSTS as RESOURCE_COSTS
from web.api.graphql_resources import bindables
from web.api.rest import DB_WAIT, Rest, database_refusal, encode_cursor, problem

MAX_DEPTH = 8
MAX_COST = 5000
MAX_QUERY_BYTES = 100_000
# A page of explain, of a resource list, of people or of a team's members costs its size
# (and each nested item read through a loader one per item of the page).
COSTS = {**RESOURCE_COSTS, **PEOPLE_COSTS,
         "Query": {"explain": {"complexity": 1, "multipliers": ["first"]},
                   **RESOURCE_COSTS["Query"], **PEOPLE_COSTS["Query"]},
         "Change": {**RESOURCE_COSTS["Change"], "author": {"complexity": 1}}}  # fmt: skip
_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def depth_of(selection_set: SelectionSetNode | None,
             fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str] = frozenset(),
             ) -> int:  # fmt: skip
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__"):
                continue  # introspection (the explorer's): as deep as the schema, no deeper
            deepest = max(deepest, 1 + depth_of(sel.selection_set, fragments, seen))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, depth_of(sel.selection_set, fragments, seen))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
            frag = fragments.get(sel.name.value)
            if frag is not None:
                deepest = max(deepest, depth_of(frag.selection_set, fragments,
                                                seen | {sel.name.value}))  # fmt: skip
    return deepest


class DepthLimit(ValidationRule):
    """Refuses operations nested deeper than MAX_DEPTH fields."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        fragments = {d.name.value: d for d in self.context.document.definitions
                     if isinstance(d, FragmentDefinitionNode)}  # fmt: skip
        depth = depth_of(node.selection_set, fragments)
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(
                    f"the query is {depth} fields deep; at most {MAX_DEPTH} are allowed", node
                )
            )


@lru_cache(maxsize=512)
def _parse(query: str) -> DocumentNode:
    return parse(query)


def parse_query(_context: Any, data: dict[str, Any]) -> DocumentNode:
    """Parsed once per distinct query text (clients repeat the same queries)."""
    return _parse(data["query"])


# Results of the variable-independent rules, by parsed document (kept with it, so its id
# cannot be reused while it is here).
_VALIDATED: OrderedDict[int, tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()


def validate_query(schema: GraphQLSchema, document: DocumentNode,
                   rules: Collection[type[ASTValidationRule]] | None = None,
                   max_errors: int | None = None, type_info: Any = None,
                   ) -> list[GraphQLError]:  # fmt: skip
    """The standard rules and the depth limit once per parsed query (they do not depend
    on variables); the cost limit, which does, every time."""
    seen = _VALIDATED.get(id(document))
    if seen is None or seen[0] is not document:
        seen = (document, validate(schema, document, [*specified_rules, DepthLimit]))
        _VALIDATED[id(document)] = seen
        if len(_VALIDATED) > 1024:
            _VALIDATED.popitem(last=False)
    if seen[1]:
        return seen[1]
    rest = [r for r in rules or () if r not in specified_rules and r is not DepthLimit]
    return validate(schema, document, rest) if rest else []


def _camel(row: dict[str, Any]) -> dict[str, Any]:
    def camel(k: str) -> str:
        head, *rest = k.split("_")
        return head + "".join(w.title() for w in rest)

    return {camel(k): v for k, v in row.items()}


query = QueryType()
team_type = ObjectType("Team")
datetime_scalar = ScalarType("DateTime", serializer=lambda v: v if isinstance(v, str)
                             else v.isoformat())  # fmt: skip
json_scalar = ScalarType("JSON", serializer=lambda v: v)
ENUMS = [EnumType("Granularity", {g.upper(): g for g in ("window", "day", "week", "month",
                                                         "quarter")}),
         EnumType("Aggregation", {a.upper(): a for a in ("median", "p75", "p90", "mean")}),
         EnumType("Mode", {m.upper(): m for m in ("default", "devlake", "fourkeys",
                                                  "middleware")})]  # fmt: skip


async def _run(info: Any, handler: str, params: dict[str, Any]) -> Any:
    """Call one of the REST reads with GraphQL arguments; refusals and database errors
    become GraphQL errors with the same clear messages."""
    ctx = info.context
    clean = {k: str(v) for k, v in params.items() if v is not None}
    try:
        body, rows = await getattr(ctx["rest"], handler)(ctx["conn"], ctx["caller"], clean)
    except Refused as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.error}) from None
    except psycopg.Error as exc:
        refusal = database_refusal(exc)
        raise GraphQLError(refusal.message, extensions={"code": refusal.error}) from None
    ctx["rows"] += rows
    return body


def _scope_params(scope: dict[str, Any] | None) -> dict[str, Any]:
    return dict(scope or {})


@query.field("metrics")
async def resolve_metrics(_: Any, info: Any) -> list[dict[str, Any]]:
    body = await _run(info, "metrics_list", {})
    return [{**_camel(m), "name": m["metric"]} for m in body["metrics"]]


@query.field("metric")
async def resolve_metric(_: Any, info: Any, name: str, scope: dict[str, Any] | None = None,
                         **kw: Any) -> dict[str, Any]:  # fmt: skip
    body = await _run(info, "metric_series", {"metric": name, **_scope_params(scope), **kw})
    return {**body, "points": [_camel(p) for p in body["series"]]}


@query.field("explain")
async def resolve_explain(_: Any, info: Any, metric: str, scope: dict[str, Any] | None = None,
                          first: int = 100, after: str | None = None,
                          **kw: Any) -> dict[str, Any]:  # fmt: skip
    params = {"metric": metric, **_scope_params(scope), **kw, "limit": first, "cursor": after}
    body = await _run(info, "metric_explain", params)
    edges = [{"cursor": encode_cursor(datetime.fromisoformat(i["at"]), i["entity_id"]),
              "node": _camel(i)} for i in body["items"]]  # fmt: skip
    page = body["page_info"]
    return {
        "edges": edges,
        "pageInfo": {"hasNextPage": page["has_next_page"], "endCursor": page["end_cursor"]},
    }


@query.field("teams")
async def resolve_teams(_: Any, info: Any) -> list[dict[str, Any]]:
    teams = await _teams(info)
    return [t for t in teams.values() if t["parent_id"] not in teams]


async def _teams(info: Any) -> dict[Any, dict[str, Any]]:
    """Every team the caller may read, loaded once per operation (parents and children
    are looked up here: no query per team)."""
    ctx = info.context
    if "teams" not in ctx:
        cur = await ctx["conn"].execute(QUERIES["graphql_teams"])
        rows = await cur.fetchall()
        ctx["teams"] = {r[0]: {"id": r[0], "slug": r[1], "name": r[2], "parent_id": r[3]}
                        for r in rows}  # fmt: skip
        ctx["rows"] += len(rows)
    teams: dict[Any, dict[str, Any]] = ctx["teams"]
    return teams


@team_type.field("parent")
async def resolve_parent(team: dict[str, Any], info: Any) -> dict[str, Any] | None:
    return (await _teams(info)).get(team["parent_id"])


@team_type.field("children")
async def resolve_children(team: dict[str, Any], info: Any) -> list[dict[str, Any]]:
    teams = await _teams(info)
    return sorted((t for t in teams.values() if t["parent_id"] == team["id"]),
                  key=lambda t: t["slug"])  # fmt: skip


SCHEMA = make_executable_schema(
    gql((Path(__file__).parent / "schema.graphql").read_text("utf-8")),
    query, team_type, datetime_scalar, json_scalar, *ENUMS, *bindables(query),
    *people_bindables(query),
)  # fmt: skip


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """The message and where, never a trace (debug is off)."""
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = error.path
    if error.extensions:
        out["extensions"] = error.extensions
    return out


class GraphQLEndpoint:
    """POST /graphql runs an operation; GET shows the explorer."""

    def __init__(self, rest: Rest, auth: Authenticator) -> None:
        self.rest = rest
        self.auth = auth
        self.explorer = ExplorerGraphiQL(title="Quantum.DX")

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(self.explorer.html(None) or "")
        try:
            caller = await self.auth.caller(request)
            data = await self._payload(request)
        except Refused as exc:
            return problem(exc.status, exc.error, exc.message, exc.headers())
        return await self._execute(caller, data)

    @staticmethod
    async def _payload(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_QUERY_BYTES:
            raise Refused(413, "too_large", f"a GraphQL request is at most {MAX_QUERY_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            raise Refused(400, "invalid", "the body must be JSON: {\"query\": ..., "
                          "\"variables\": {...}}") from None  # fmt: skip
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise Refused(400, "invalid", "the body must hold a query string")
        if not isinstance(data.get("variables") or {}, dict):
            raise Refused(400, "invalid", "variables must be a JSON object")
        return data

    async def _execute(self, caller: Caller, data: dict[str, Any]) -> Response:
        reader = caller.reader()
        started = time.perf_counter()
        context: dict[str, Any] = {"caller": caller, "rest": self.rest, "rows": 0}
        cost = cost_validator(maximum_cost=MAX_COST, default_cost=1, cost_map=COSTS,
                              variables=data.get("variables"))  # fmt: skip
        rules: list[type[ASTValidationRule]] = [DepthLimit, cost]
        try:
            async with self.rest.pool.connection(timeout=DB_WAIT) as conn:
                outcome = "error internal"
                try:
                    async with scoped_async(conn, caller.scope()) as c:
                        context["conn"] = c
                        success, result = await graphql(
                            SCHEMA, data, context_value=context, debug=False,
                            validation_rules=rules, error_formatter=format_error,
                            query_parser=parse_query,
                            query_validator=validate_query,  # type: ignore[arg-type]
                        )  # fmt: skip
                    outcome = "ok" if success and not result.get("errors") else "invalid"
                    return JSONResponse(result, status_code=200 if success else 400)
                finally:
                    named = _OPERATION.match(data["query"])
                    await record(conn, reader, "graphql",
                                 data.get("operationName") or (named and named[1]) or "anonymous",
                                 arguments={"query": data["query"],
                                            "variables": data.get("variables")},
                                 rows=context["rows"], outcome=outcome,
                                 duration_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            return problem(503, "unavailable", "the database is unavailable; retry shortly",
                           {"Retry-After": "5"})  # fmt: skip
