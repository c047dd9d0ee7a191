"""quantum-incidents: search_incidents, get_incident, recovery_stats (api.search_incidents,
api.get_incident, api.recovery_stats)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import Field

from db.queries import QUERIES
from web.api.auth import Caller
from web.api.rest import _json
from web.mcp_server.metrics import READ_ONLY, Team, Window
from web.mcp_server.toolbox import Answer, Conn, ScopedServer, Toolbox, page


def build(box: Toolbox, server: ScopedServer) -> None:
    """Add the incidents tools to `server`."""

    async def search_incidents(
        ctx: Context,
        severity: Annotated[
            str | None,
            Field(
                description=(
                    'SEV1 (most severe) to SEV5, optionally after >=, >, <=, < or =: ">=SEV2" is '
                    "SEV1 and SEV2"
                )
            ),
        ] = None,
        since: Annotated[
            str | None,
            Field(
                description=(
                    "opened since an ISO date or time (2026-07-01) or an age (12h, 30d, 8w)"
                )
            ),
        ] = None,
        service: Annotated[str | None, Field(description="a service name")] = None,
        status: Literal["triggered", "acknowledged", "mitigated", "resolved"] | None = None,
        text: Annotated[str | None, Field(description="a text the title contains")] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="incidents per page")] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> CallToolResult:
        arguments = {"severity": severity, "since": since, "service": service, "status": status,
                     "text": text, "limit": limit, "cursor": cursor}  # fmt: skip

        async def read(conn: Conn, caller: Caller) -> Answer:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    QUERIES["mcp_search_incidents"], {**arguments, "limit": limit + 1}
                )
                rows, next_cursor = page(await cur.fetchall(), limit)
            body = {"incidents": _json(rows), "next_cursor": next_cursor}
            counts: dict[str, int] = {}
            for r in rows:
                counts[r["severity"] or "unknown"] = counts.get(r["severity"] or "unknown", 0) + 1
            text = f"{len(rows)} incidents" + (
                f" ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})" if rows else ""
            )
            if next_cursor:
                text += "; more with cursor=next_cursor"
            return Answer(body, len(rows), text)

        return await box.call(ctx, "search_incidents", arguments, read)

    async def get_incident(
        ctx: Context, id: Annotated[str, Field(description="an incident id from search_incidents")]
    ) -> CallToolResult:
        async def read(conn: Conn, caller: Caller) -> Answer:
            cur = await conn.execute(QUERIES["mcp_get_incident"], {"id": id})
            row = await cur.fetchone()
            body: dict[str, Any] = row[0] if row else {}
            deploys = body.get("attributed_to") or []
            cause = ("attributed to " + "; ".join(f"deployment {d['deploy_id']} ({d['why']})"
                                                  for d in deploys)
                     if deploys else "not attributed to a deployment")  # fmt: skip
            text = (f"{body['incident_id']} {body.get('severity') or ''} {body.get('status')}: "
                    f"{body.get('title') or ''}; {cause}")  # fmt: skip
            return Answer(body, 1, text)

        return await box.call(ctx, "get_incident", {"id": id}, read)

    async def recovery_stats(ctx: Context, window: Window = "90d",
                             team: Team = None) -> CallToolResult:  # fmt: skip
        arguments = {"window": window, "team": team}

        async def read(conn: Conn, caller: Caller) -> Answer:
            scope = await box.rest._scope(conn, caller, {"team": team} if team else {})
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    QUERIES["mcp_recovery_stats"], {"scope": Jsonb(scope), "window": window}
                )
                rows = await cur.fetchall()
            overall = rows[0]
            body = {"window": window, "scope": {k: v for k, v in scope.items() if k != "org"},
                    "unit": "hours", "overall": overall, "by_severity": rows[1:]}  # fmt: skip
            text = (
                f"{overall['incidents']} incidents restored over {window}; median "
                f"{_hours(overall['median_hours'])}, p90 {_hours(overall['p90_hours'])}"
            )
            return Answer(body, len(rows), text)

        return await box.call(ctx, "recovery_stats", arguments, read)

    server.add_tool(search_incidents, annotations=READ_ONLY, description=(
        "Incidents the caller may see, newest first, by severity expression (\">=SEV2\"), "
        "opened since, service, status and title text; a page at a time (pass next_cursor "
        "as cursor)."))  # fmt: skip
    server.add_tool(
        get_incident,
        annotations=READ_ONLY,
        description=(
            "One incident: its fields, timeline (opened, acknowledged, mitigated, resolved), "
            "time to restore, and the deployment it is attributed to with the rule and why."
        ),
    )
    server.add_tool(recovery_stats, annotations=READ_ONLY, description=(
        "Time to restore (opened to resolved, hours) over a window for the org or a team: "
        "count, median, p90, mean and max, overall and by severity; the same units as "
        "get_metric time_to_restore."))  # fmt: skip


def _hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g} h"
