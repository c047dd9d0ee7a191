"""What the tools of every MCP server share: the caller, which tools it may see, one
scoped transaction per call, the audit log, errors an agent can act on, and results as
structured content with a short text summary."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from starlette.requests import Request

from db.audit import outcome_of
from db.scope import scoped_async
from web.api.audit import record
from web.api.auth import RANK, Caller, Refused
from web.api.rest import DB_WAIT, Rest, database_refusal
from web.mcp_server.gate import CALLER

Conn = psycopg.AsyncConnection[Any]
# The role a tool needs when it is not viewer (people data and SQL: analyst and up).
TOOL_ROLES = {
    "run_sql": "analyst", "list_tables": "analyst", "describe_table": "analyst",
    "resolve_person": "analyst", "team_tree": "analyst", "team_members": "analyst",
}  # fmt: skip
UNAVAILABLE = "the database is unavailable; retry shortly"
# The tool calls of this request already in the audit log (see ScopedServer).
_AUDITED: ContextVar[list[str] | None] = ContextVar("qdx_mcp_audited", default=None)


def allowed(caller: Caller | None, tool: str) -> bool:
    """Whether a caller may see and call a tool."""
    return caller is not None and RANK[caller.role] >= RANK[TOOL_ROLES.get(tool, "viewer")]


def caller_of(ctx: ServerRequestContext[Any, Any] | Context[Any, Any]) -> Caller | None:
    """The verified caller of a request (set by the gate), if any."""
    rctx = ctx.request_context if isinstance(ctx, Context) else ctx
    request = rctx.request
    if isinstance(request, Request):
        caller = request.scope.get(CALLER)
        return caller if isinstance(caller, Caller) else None
    return None


class ScopedServer(MCPServer[Any]):
    """An MCPServer whose tools/list shows a caller only the tools its role allows, whose
    tools/call answers a call to any other exactly as a call to an unknown tool, and
    which audits the calls no tool ran for (unknown or hidden tools, arguments the tool's
    schema refused) as `invalid`."""

    def __init__(self, name: str, box: Toolbox, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.box = box
        # No OpenTelemetry span per message (the SDK's default, a no-op without an
        # exporter, which this deployment never installs: its telemetry is /metrics and
        # the logs): opening and closing the no-op span was 2-3.5% of the web process's
        # CPU per tool call. The SDK's other middleware (request-state boundary) stays.
        self.middleware[:] = [m for m in self.middleware
                              if not isinstance(m, OpenTelemetryMiddleware)]  # fmt: skip

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        caller = caller_of(ctx)
        return ListToolsResult(
            tools=[t for t in await self.list_tools() if allowed(caller, t.name)]
        )

    async def _handle_call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        caller = caller_of(ctx)
        started = time.perf_counter()
        audited = _AUDITED.set([])
        try:
            if not allowed(caller, params.name):
                # (what the SDK answers for a name it does not know: ToolManager.call_tool)
                answer: CallToolResult | InputRequiredResult = CallToolResult(
                    content=[TextContent(type="text", text=f"Unknown tool: {params.name}")],
                    is_error=True,
                )
            else:
                answer = await super()._handle_call_tool(ctx, params)
            if caller is not None and not _AUDITED.get():
                outcome = "invalid" if getattr(answer, "is_error", False) else "ok"
                with suppress(PoolTimeout, TooManyRequests, psycopg.Error):
                    async with self.box.pool.connection(timeout=DB_WAIT) as conn:
                        await self.box.audit(conn, caller, params.name,
                                             dict(params.arguments or {}), None, outcome,
                                             started)  # fmt: skip
            return answer
        finally:
            _AUDITED.reset(audited)


@dataclass(frozen=True)
class Answer:
    """What a tool read: its structured content, the rows it returned, a summary line."""

    body: dict[str, Any]
    rows: int | None
    summary: str


Read = Callable[[Conn, Caller], Awaitable[Answer]]


class Toolbox:
    """Runs a server's tool calls against the web's pool, for the REST reads' helpers."""

    def __init__(self, server: str, pool: AsyncConnectionPool[Any], rest: Rest) -> None:
        self.server = server
        self.pool = pool
        self.rest = rest

    def caller(self, ctx: Context[Any, Any], tool: str) -> Caller:
        """The caller of a tool call; a tool its role may not call is unknown to it."""
        caller = caller_of(ctx)
        if caller is None or not allowed(caller, tool):
            raise ToolError(f"Unknown tool: {tool}")
        return caller

    async def call(self, ctx: Context[Any, Any], tool: str, arguments: dict[str, Any],
                   read: Read) -> CallToolResult:  # fmt: skip
        """Run `read` in one transaction within the caller's scope, append the call to the
        audit log (interface mcp, operation server/tool), and answer with its content or
        a clear error."""
        caller = self.caller(ctx, tool)
        arguments = {k: v for k, v in arguments.items() if v is not None}
        started = time.perf_counter()
        rows: int | None = None
        outcome = "error internal"
        try:
            async with self.pool.connection(timeout=DB_WAIT) as conn:
                try:
                    async with scoped_async(conn, caller.scope()) as c:
                        answer = await read(c, caller)
                    rows, outcome = answer.rows, "ok"
                    return result(answer)
                except Refused as exc:
                    outcome = "denied" if exc.status == 403 else "invalid"
                    raise ToolError(exc.message) from None
                except psycopg.Error as exc:
                    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
                        raise
                    outcome = outcome_of(exc)
                    raise ToolError(database_refusal(exc).message) from None
                finally:
                    await self.audit(conn, caller, tool, arguments, rows, outcome, started)
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            raise ToolError(UNAVAILABLE) from None

    async def audit(self, conn: Conn, caller: Caller, tool: str, arguments: dict[str, Any],
                    rows: int | None, outcome: str, started: float,
                    statement: str | None = None) -> None:  # fmt: skip
        done = _AUDITED.get()
        if done is not None:
            done.append(tool)
        reader = caller.reader()
        await record(conn, reader, "mcp", f"{self.server}/{tool}", arguments=arguments,
                     statement=statement, rows=rows, outcome=outcome,
                     duration_ms=(time.perf_counter() - started) * 1000)  # fmt: skip


def result(answer: Answer) -> CallToolResult:
    """A tool's answer: the structured content, and the summary as text."""
    return CallToolResult(content=[TextContent(type="text", text=answer.summary)],
                          structured_content=answer.body)  # fmt: skip


def page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of a page fetched with one row more than `limit`, without their per-row
    cursor, and the cursor of the next page (None on the last)."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1]["cursor"] if more and rows else None
    return [{k: v for k, v in r.items() if k != "cursor"} for r in rows], cursor
