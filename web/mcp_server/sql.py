"""quantum-sql: run_sql (exactly POST /api/v1/sql: web.api.sql.SqlEndpoint.run),
list_tables and describe_table (api.list_tables, api.describe_table: what run_sql can
read). Analyst and up: a viewer is shown none of them."""

from __future__ import annotations

import time
from typing import Annotated

import psycopg
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout, TooManyRequests
from pydantic import Field

from db.queries import QUERIES
from web.api.auth import Caller
from web.api.rest import DB_WAIT
from web.api.sql import MAX_STATEMENT_BYTES, SqlEndpoint
from web.mcp_server.metrics import READ_ONLY
from web.mcp_server.toolbox import UNAVAILABLE, Answer, Conn, ScopedServer, Toolbox, result


def build(box: Toolbox, server: ScopedServer, endpoint: SqlEndpoint) -> None:
    """Add the SQL tools to `server`."""

    async def run_sql(
        ctx: Context,
        query: Annotated[
            str,
            Field(
                description=(
                    "one read-only statement over the api views (see list_tables), e.g. SELECT "
                    "severity, count(*) FROM api.incidents GROUP BY 1"
                )
            ),
        ],
    ) -> CallToolResult:
        caller = box.caller(ctx, "run_sql")
        if not query.strip() or "\x00" in query or len(query.encode()) > MAX_STATEMENT_BYTES:
            raise ToolError(f"query must be one statement of 1 to {MAX_STATEMENT_BYTES} bytes "
                            "without NUL characters")  # fmt: skip
        started = time.perf_counter()
        # (run() answers every database error with a refusal: it raises for bugs only)
        done = await endpoint.run(caller, query)
        try:
            async with box.pool.connection(timeout=DB_WAIT) as conn:
                await box.audit(conn, caller, "run_sql", {}, done.rows, done.outcome, started,
                                statement=query)  # fmt: skip
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            raise ToolError(UNAVAILABLE) from None
        if done.refusal is not None:
            raise ToolError(done.refusal.message)
        body = done.body or {}
        text = f"{body['row_count']} rows, {len(body['columns'])} columns" + (
            f" (truncated at {body['row_cap']})" if body["truncated"] else ""
        )
        return result(Answer(body, done.rows, text))

    async def list_tables(ctx: Context) -> CallToolResult:
        async def read(conn: Conn, caller: Caller) -> Answer:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(QUERIES["mcp_list_tables"])
                rows = await cur.fetchall()
            return Answer(
                {"tables": rows},
                len(rows),
                f"{len(rows)} tables: " + ", ".join(r["name"] for r in rows),
            )

        return await box.call(ctx, "list_tables", {}, read)

    async def describe_table(
        ctx: Context,
        name: Annotated[str, Field(description="a name from list_tables, such as api.incidents")],
    ) -> CallToolResult:
        async def read(conn: Conn, caller: Caller) -> Answer:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(QUERIES["mcp_describe_table"], {"name": name})
                rows = await cur.fetchall()
            text = f"{name}: " + ", ".join(f"{r['name']} {r['type']}" for r in rows)
            return Answer({"name": name, "columns": rows}, len(rows), text)

        return await box.call(ctx, "describe_table", {"name": name}, read)

    server.add_tool(run_sql, annotations=READ_ONLY, description=(
        "Run one read-only SQL statement in the caller's scope, exactly like POST "
        "/api/v1/sql: the api views only, a statement timeout, at most 10,000 rows "
        "(truncated says when more were cut)."))  # fmt: skip
    server.add_tool(
        list_tables,
        annotations=READ_ONLY,
        description="The views run_sql can read, with descriptions.",
    )
    server.add_tool(
        describe_table,
        annotations=READ_ONLY,
        description="The columns of one view run_sql can read: name, type, nullable.",
    )
