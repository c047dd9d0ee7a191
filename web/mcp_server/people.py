"""quantum-people: resolve_person, team_tree, team_members (api.resolve_person,
api.team_tree, api.team_members). Analyst and up: a viewer is shown none of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from psycopg.rows import dict_row
from pydantic import Field

from db.queries import QUERIES
from web.api.auth import Caller
from web.api.rest import _json
from web.mcp_server.metrics import READ_ONLY
from web.mcp_server.toolbox import Answer, Conn, ScopedServer, Toolbox, page

TeamName = Annotated[str, Field(description="a team slug, name or id (see team_tree)")]


def build(box: Toolbox, server: ScopedServer) -> None:
    """Add the people tools to `server`."""

    async def resolve_person(
        ctx: Context,
        email: Annotated[str | None, Field(description="an email address of the person")] = None,
        login: Annotated[str | None, Field(description="a login of one of its accounts")] = None,
        name: Annotated[str | None, Field(description="its name (any case)")] = None,
    ) -> CallToolResult:
        given = {k: v for k, v in (("email", email), ("login", login), ("name", name)) if v}
        box.caller(ctx, "resolve_person")
        if len(given) != 1:
            raise ToolError("give exactly one of email, login or name"
                            + (f" (got {', '.join(given)})" if given else ""))  # fmt: skip
        ((by, value),) = given.items()

        async def read(conn: Conn, caller: Caller) -> Answer:
            cur = await conn.execute(QUERIES["mcp_resolve_person"], {"by": by, "value": value})
            row = await cur.fetchone()
            persons: list[dict[str, Any]] = row[0] if row else []
            texts = [f"{p['display_name'] or p['person_id']} (teams: "
                     f"{', '.join(p['current_teams']) or 'none now'}; "
                     f"{len(p['accounts'])} accounts)" for p in persons]  # fmt: skip
            text = (
                f"{by} {value}: " + "; ".join(texts)
                if len(persons) == 1
                else f"{by} {value} matches {len(persons)} persons: " + "; ".join(texts)
            )
            return Answer({"persons": persons}, len(persons), text)

        return await box.call(ctx, "resolve_person", given, read)

    async def team_tree(
        ctx: Context,
        team: Annotated[
            str | None,
            Field(
                description=(
                    "a team slug, name or id: that team and everything under it (default: every "
                    "team the caller may read)"
                )
            ),
        ] = None,
    ) -> CallToolResult:
        async def read(conn: Conn, caller: Caller) -> Answer:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(QUERIES["mcp_team_tree"], {"team": team})
                rows = _json(await cur.fetchall())
            text = f"{len(rows)} teams: " + ", ".join(r["path"] for r in rows)
            return Answer({"teams": rows}, len(rows), text)

        return await box.call(ctx, "team_tree", {"team": team}, read)

    async def team_members(
        ctx: Context,
        team: TeamName,
        at: Annotated[
            datetime | None,
            Field(description=("who was on it at this moment, ISO 8601 (default: now)")),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="members per page")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> CallToolResult:
        arguments = {"team": team, "at": at.isoformat() if at else None, "limit": limit,
                     "cursor": cursor}  # fmt: skip

        async def read(conn: Conn, caller: Caller) -> Answer:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(QUERIES["mcp_team_members"], {"team": team, "at": at,
                                  "cursor": cursor, "limit": limit + 1})  # fmt: skip
                rows, next_cursor = page(await cur.fetchall(), limit)
            body = {"team": team, "at": at.isoformat() if at else None,
                    "members": _json(rows), "next_cursor": next_cursor}  # fmt: skip
            text = (
                f"{len(rows)} members of {team}"
                + (f" at {at.isoformat()}" if at else "")
                + (": " + ", ".join(str(r["display_name"]) for r in rows[:20]) if rows else "")
                + ("; more with cursor=next_cursor" if next_cursor else "")
            )
            return Answer(body, len(rows), text)

        return await box.call(ctx, "team_members", arguments, read)

    server.add_tool(
        resolve_person,
        annotations=READ_ONLY,
        description=(
            "The person an email, login or name belongs to (give exactly one): the person, its "
            "accounts in each tool, its teams over time and its tenure where known."
        ),
    )
    server.add_tool(
        team_tree,
        annotations=READ_ONLY,
        description=(
            "The teams the caller may read as a tree (slug, parent, depth, path, members now); "
            "with team, that team's subtree."
        ),
    )
    server.add_tool(
        team_members,
        annotations=READ_ONLY,
        description=(
            "Who was on a team at a moment (default now), with role and since/until; a page "
            "at a time (pass next_cursor as cursor)."
        ),
    )
