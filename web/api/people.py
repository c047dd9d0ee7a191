"""People and teams under /api/v1, read through the people functions of
sql/api/50_people.sql that the MCP server quantum-people and GraphQL
(web/api/graphql_people.py) call too. People data is for analyst and up (a viewer gets
403); the team tree is not people data, every role reads it.

GET /api/v1/people                      persons by name: team, q, limit, cursor
GET /api/v1/people/{person_id}          one person: accounts, teams over time, tenure; 404
                                        alike for another org's id, one outside a team
                                        token's teams and none; a merged person's id
                                        answers with the person it was merged into
GET /api/v1/teams                       the team tree (team: that team's subtree)
GET /api/v1/teams/{team}/members        who was on a team at a moment: at, limit, cursor

A cursor is the position after a row, bound to the caller's org and the list
(web/api/resources.py), so one of another org or list, or an altered one, is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from db.queries import QUERIES
from web.api.auth import Caller, Refused
from web.api.resources import check_team, decode_position, encode_position
from web.api.rest import Rest, _json, _moment, page_limit

PEOPLE = "people data"
PAGE = ("limit", "cursor")

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class Page:
    """A page of a list: its rows, each one's cursor, and whether more follow."""

    items: list[dict[str, Any]]
    cursors: list[str]
    more: bool


def person_id(text: str) -> UUID:
    """A person id as given in a path or argument; 400 when it is not a UUID."""
    try:
        return UUID(text)
    except ValueError:
        raise Refused(400, "invalid", f"a person id is a UUID, not {text!r}") from None


def _after(caller: Caller, name: str, cursor: str | None) -> str | None:
    return decode_position(caller.org_id, name, cursor)[1]


def _page(caller: Caller, name: str, rows: list[dict[str, Any]], limit: int) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursors = [encode_position(caller.org_id, name, None, r["cursor"]) for r in rows]
    items = [{k: v for k, v in r.items() if k not in ("cursor", "asked_team")} for r in rows]
    return Page(items, cursors, more)


async def _rows(conn: Conn, query: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES[query], args)
        return await cur.fetchall()


async def _fetch(conn: Conn, query: str, args: dict[str, Any], limit: int,
                 ) -> list[dict[str, Any]]:  # fmt: skip
    """A page of `limit` rows and the first row after it when there is one."""
    return await _rows(conn, query, {**args, "limit": limit + 1})


async def people_page(conn: Conn, caller: Caller, params: dict[str, str]) -> Page:
    """A page of the persons the caller may see (api.list_people), after the cursor's."""
    limit = page_limit(params)
    args = {"team": params.get("team"), "query": params.get("q"),
            "after": _after(caller, "people", params.get("cursor"))}  # fmt: skip
    await check_team(conn, caller, params)
    return _page(caller, "people", await _fetch(conn, "people_list", args, limit), limit)


async def people_by_ids(conn: Conn, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The persons of these ids the caller may see (api._person's JSON), by the id asked."""
    cur = await conn.execute(QUERIES["people_by_ids"], {"ids": ids})
    return {asked: person for asked, person in await cur.fetchall()}


async def people_of_actors(conn: Conn, actors: list[str]) -> dict[str, dict[str, Any]]:
    """The person each of these accounts is linked to, when the caller may see it."""
    cur = await conn.execute(QUERIES["people_of_actors"], {"actors": actors})
    return {actor: person for actor, person in await cur.fetchall()}


async def team_tree(conn: Conn, caller: Caller, team: str | None) -> list[dict[str, Any]]:
    """The caller's teams as a tree, depth first, or one team's subtree (api.team_tree)."""
    await check_team(conn, caller, {"team": team} if team is not None else {})
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES["people_team_tree"], {"team": team})
        return await cur.fetchall()


def _members_args(caller: Caller, params: dict[str, str]) -> dict[str, Any]:
    return {"at": _moment(params["at"], "at") if "at" in params else None,
            "after": _after(caller, "team_members", params.get("cursor"))}  # fmt: skip


async def members_page(conn: Conn, caller: Caller, params: dict[str, str]) -> Page:
    """A page of who was on a team at a moment (api.team_members)."""
    limit = page_limit(params)
    args = {"team": params["team"], **_members_args(caller, params)}
    await check_team(conn, caller, params)
    rows = await _fetch(conn, "people_team_members", args, limit)
    return _page(caller, "team_members", rows, limit)


async def members_pages(conn: Conn, caller: Caller, teams: list[str],
                        params: dict[str, str]) -> dict[str, Page]:  # fmt: skip
    """A page of the members of each of these teams (ids of teams the caller reads),
    with the same moment and position for each, in one statement."""
    limit = page_limit(params)
    args = _members_args(caller, params)
    after = args.pop("after")
    rows = await _rows(conn, "people_teams_members", {
        **args, "teams": teams, "afters": [after] * len(teams), "limit": limit + 1})  # fmt: skip
    by_team: dict[str, list[dict[str, Any]]] = {t: [] for t in teams}
    for row in rows:
        by_team[row["asked_team"]].append(row)
    return {t: _page(caller, "team_members", found, limit) for t, found in by_team.items()}


class People:
    """The REST routes of people and teams, on the Rest endpoints' pool, auth and audit."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/people", self.list_people, methods=["GET"]),
            Route("/api/v1/people/{person_id}", self.get_person, methods=["GET"]),
            Route("/api/v1/teams", self.list_teams, methods=["GET"]),
            Route("/api/v1/teams/{team}/members", self.team_members, methods=["GET"]),
        ]

    async def list_people(self, request: Request) -> Response:
        async def handler(conn: Conn, caller: Caller, params: dict[str, str]) -> tuple[Any, int]:
            caller.at_least("analyst", PEOPLE)
            got = await people_page(conn, caller, params)
            body = {"items": _json(got.items),
                    "next_cursor": got.cursors[-1] if got.more else None}  # fmt: skip
            return body, len(got.items)

        return await self.rest._read(request, "GET /api/v1/people", ("team", "q", *PAGE),
                                     handler)  # fmt: skip

    async def get_person(self, request: Request) -> Response:
        async def handler(conn: Conn, caller: Caller, params: dict[str, str]) -> tuple[Any, int]:
            caller.at_least("analyst", PEOPLE)
            asked = person_id(params["person_id"])
            found = await people_by_ids(conn, [asked])
            if asked not in found:
                raise Refused(404, "not_found", f"no person {asked}")
            return found[asked], 1

        return await self.rest._read(request, "GET /api/v1/people/{person_id}", (), handler)

    async def list_teams(self, request: Request) -> Response:
        async def handler(conn: Conn, caller: Caller, params: dict[str, str]) -> tuple[Any, int]:
            rows = await team_tree(conn, caller, params.get("team"))
            return {"items": _json(rows)}, len(rows)

        return await self.rest._read(request, "GET /api/v1/teams", ("team",), handler)

    async def team_members(self, request: Request) -> Response:
        async def handler(conn: Conn, caller: Caller, params: dict[str, str]) -> tuple[Any, int]:
            caller.at_least("analyst", PEOPLE)
            got = await members_page(conn, caller, params)
            body = {"team": params["team"], "at": params.get("at"), "items": _json(got.items),
                    "next_cursor": got.cursors[-1] if got.more else None}  # fmt: skip
            return body, len(got.items)

        return await self.rest._read(request, "GET /api/v1/teams/{team}/members",
                                     ("at", *PAGE), handler)  # fmt: skip
