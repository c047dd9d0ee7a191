"""The resources under /api/v1: changes, deployments, incidents, pipeline runs,
repositories and services, as lists (filters, newest first, a page at a time) and one
by id, read through the `api` list functions (sql/api/30_resources.sql) that GraphQL
calls too (web/api/graphql_resources.py).

GET /api/v1/{resource}          {"items": [...], "next_cursor": "..." or null}
GET /api/v1/{resource}/{id}     one item; 404 when the caller cannot read it (whether it
                                does not exist or is another org's: the same answer)

A cursor is opaque: the position after the last item, bound to the caller's org and the
list, so a cursor of another org or list, or a forged one, is a 400 that tells nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from db.queries import QUERIES
from web.api.auth import Caller, Refused, forbidden
from web.api.rest import Rest, _json, _moment, page_limit

PAGE = ("limit", "cursor")
Endpoint = Callable[[Request], Awaitable[Response]]
TIME = ("since", "until")


@dataclass(frozen=True)
class Resource:
    """A listable resource: its name (GraphQL's field, the cursor's), its URL segment,
    what one is called in errors, its id column, filters, and its named queries."""

    name: str
    path: str
    noun: str
    key: str
    filters: tuple[str, ...]
    list_query: str
    by_id_query: str


RESOURCES = {r.name: r for r in (
    Resource("changes", "changes", "change", "change_id",
             ("team", "repo", "state", "author", *TIME), "resources_changes",
             "resources_changes_by_id"),
    Resource("deploys", "deploys", "deploy", "deploy_id",
             ("team", "repo", "service", "environment", "status", *TIME),
             "resources_deploys", "resources_deploys_by_id"),
    Resource("incidents", "incidents", "incident", "incident_id",
             ("team", "service", "severity", "status", "text", *TIME), "resources_incidents",
             "resources_incidents_by_id"),
    Resource("pipeline_runs", "pipeline-runs", "pipeline run", "run_id",
             ("team", "repo", "status", "branch", *TIME), "resources_pipeline_runs",
             "resources_pipeline_runs_by_id"),
    Resource("repos", "repos", "repository", "repo_id", ("provider", *TIME),
             "resources_repos", "resources_repos_by_id"),
    Resource("services", "services", "service", "service", ("team",),
             "resources_services", "resources_services_by_id"),
)}  # fmt: skip
# Every filter of every list (a list passes NULL for those it does not take).
ALL_FILTERS = sorted({f for r in RESOURCES.values() for f in r.filters})


@dataclass(frozen=True)
class Page:
    """A page of a list: its items (the api columns), each one's cursor, and whether
    more follow."""

    items: list[dict[str, Any]]
    cursors: list[str]
    more: bool


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(org: UUID, payload: bytes) -> bytes:
    # Not a secret: it binds a position to its org and list so that a cursor used
    # elsewhere is refused (a forged position in one's own list reads nothing more).
    return hashlib.sha256(str(org).encode() + b"|" + payload).digest()[:9]


def encode_position(org: UUID, resource: str, at: datetime | None, key: str) -> str:
    """The cursor of the position after the item (at, key) of a list of org."""
    payload = json.dumps([resource, at.isoformat() if at else None, key]).encode()
    return f"{_b64(payload)}.{_b64(_tag(org, payload))}"


def decode_position(org: UUID, resource: str, cursor: str | None,
                    ) -> tuple[datetime | None, str | None]:  # fmt: skip
    """(at, key) of a cursor this API gave for this org's list; 400 otherwise."""
    if not cursor:
        return None, None
    refused = Refused(400, "invalid", "cursor is not one this API gave for this list")
    try:
        body, _, tag = cursor.partition(".")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(tag), _tag(org, payload)):
            raise refused
        name, at, key = json.loads(payload)
        if name != resource or not isinstance(key, str):
            raise refused
        return (datetime.fromisoformat(at) if at is not None else None), key
    except (ValueError, TypeError, binascii.Error):
        raise refused from None


async def check_team(conn: psycopg.AsyncConnection[Any], caller: Caller,
                     params: dict[str, str]) -> None:  # fmt: skip
    """A team-scoped token may filter by its teams and those under them only (403, as
    for the metrics); the list function resolves the team (404 when there is none)."""
    team = params.get("team")
    if team is None or not caller.team_ids:
        return
    cur = await conn.execute(QUERIES["rest_caller_team"], {"team": team})
    if await cur.fetchone() is None:
        raise forbidden(f"team {team} is not among this token's teams or below them")


def _list_args(caller: Caller, resource: Resource, params: dict[str, str]) -> dict[str, Any]:
    """The named list query's parameters (every filter, NULL when not given), with one
    row more than the page to tell whether another follows."""
    after_at, after_id = decode_position(caller.org_id, resource.name, params.get("cursor"))
    args: dict[str, Any] = {f: params.get(f) for f in ALL_FILTERS}
    for bound in TIME:
        if bound in params:
            args[bound] = _moment(params[bound], bound)
    args.update(after_at=after_at, after_id=after_id, limit=page_limit(params) + 1)
    return args


def _page(caller: Caller, resource: Resource, rows: list[dict[str, Any]], limit: int) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursors = [encode_position(caller.org_id, resource.name, r.get("listed_at"),
                               r[resource.key]) for r in rows]  # fmt: skip
    skip = ("listed_at", "repo_key")
    items = [{k: v for k, v in r.items() if k not in skip} for r in rows]
    return Page(items, cursors, more)


async def page(conn: psycopg.AsyncConnection[Any], caller: Caller, resource: Resource,
               params: dict[str, str]) -> Page:  # fmt: skip
    """One page of a list in the caller's scope, after the cursor's position."""
    await check_team(conn, caller, params)
    args = _list_args(caller, resource, params)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES[resource.list_query], args)
        rows = await cur.fetchall()
    return _page(caller, resource, rows, args["limit"] - 1)


async def pages_by_repo(
    conn: psycopg.AsyncConnection[Any], caller: Caller, repo_ids: list[str], params: dict[str, str]
) -> dict[str, Page]:
    """A page of changes of each of these repositories (the same filters and position
    for each), in one statement."""
    changes = RESOURCES["changes"]
    args = _list_args(caller, changes, params)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES["resources_repo_changes"], {**args, "ids": repo_ids})
        rows = await cur.fetchall()
    by_repo: dict[str, list[dict[str, Any]]] = {r: [] for r in repo_ids}
    for row in rows:
        by_repo[row["repo_key"]].append(row)
    return {r: _page(caller, changes, found, args["limit"] - 1) for r, found in by_repo.items()}


async def by_ids(conn: psycopg.AsyncConnection[Any], resource: Resource,
                 ids: list[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The items of these ids the caller can read, by id."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES[resource.by_id_query], {"ids": ids})
        rows = await cur.fetchall()
    return {r[resource.key]: r for r in rows}


async def incident_deploys(conn: psycopg.AsyncConnection[Any],
                           ids: list[str]) -> dict[str, str]:  # fmt: skip
    """The deployment id each of these incidents is attributed to (default attribution)."""
    cur = await conn.execute(QUERIES["resources_incident_deploys"], {"ids": ids})
    return {incident: deploy for incident, deploy in await cur.fetchall()}


class Resources:
    """The REST routes of the resources, on the Rest endpoints' pool, auth and audit."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = []
        for r in RESOURCES.values():
            out.append(Route(f"/api/v1/{r.path}", self._lister(r), methods=["GET"]))
            out.append(Route(f"/api/v1/{r.path}/{{id}}", self._getter(r), methods=["GET"]))
        return out

    def _lister(self, resource: Resource) -> Endpoint:
        async def handler(conn: psycopg.AsyncConnection[Any], caller: Caller,
                          params: dict[str, str]) -> tuple[Any, int]:  # fmt: skip
            got = await page(conn, caller, resource, params)
            body = {"items": _json(got.items),
                    "next_cursor": got.cursors[-1] if got.more else None}  # fmt: skip
            return body, len(got.items)

        async def endpoint(request: Request) -> Response:
            return await self.rest._read(request, f"GET /api/v1/{resource.path}",
                                         (*resource.filters, *PAGE), handler)  # fmt: skip

        return endpoint

    def _getter(self, resource: Resource) -> Endpoint:
        async def handler(conn: psycopg.AsyncConnection[Any], caller: Caller,
                          params: dict[str, str]) -> tuple[Any, int]:  # fmt: skip
            found = await by_ids(conn, resource, [params["id"]])
            if params["id"] not in found:
                raise Refused(404, "not_found", f"no {resource.noun} {params['id']}")
            return _json(found[params["id"]]), 1

        async def endpoint(request: Request) -> Response:
            return await self.rest._read(request, f"GET /api/v1/{resource.path}/{{id}}", (),
                                         handler)  # fmt: skip

        return endpoint
