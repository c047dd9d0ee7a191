"""GraphQL bindings of the resources (web/api/resources.py): the list fields as
Relay-style connections, single items by id, and nested fields (Change.repo,
Deploy.repo, PipelineRun.repo, Incident.deploy, Repo.changes) read through loaders that
batch every id a level of the result asks for into one query (no query per item)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from ariadne import ObjectType, QueryType
from graphql import GraphQLError

from web.api import resources
from web.api.auth import Refused
from web.api.resources import RESOURCES, Resource
from web.api.rest import database_refusal

# The list fields (GraphQL name: resource), each a page costing its `first`.
LISTS = {"changes": "changes", "deploys": "deploys", "incidents": "incidents",
         "pipelineRuns": "pipeline_runs", "repos": "repos", "services": "services"}  # fmt: skip
# Single items (GraphQL name: resource, argument).
ITEMS = {"change": ("changes", "id"), "deploy": ("deploys", "id"),
         "incident": ("incidents", "id"), "pipelineRun": ("pipeline_runs", "id"),
         "repo": ("repos", "id"), "service": ("services", "name")}  # fmt: skip
# The nested fields a loader answers (type, field): each costs 1 per item of the page.
NESTED = {("Change", "repo"), ("Deploy", "repo"), ("PipelineRun", "repo"),
          ("Incident", "deploy")}  # fmt: skip
COSTS: dict[str, dict[str, Any]] = {
    "Query": {name: {"complexity": 1, "multipliers": ["first"]} for name in LISTS},
}
for _type, _field in NESTED:
    COSTS.setdefault(_type, {})[_field] = {"complexity": 1}
# A repository's page of changes costs its size, times its parent page's.
COSTS["Repo"] = {"changes": {"complexity": 1, "multipliers": ["first"]}}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


def node(resource: Resource, row: dict[str, Any]) -> dict[str, Any]:
    """An api row as a GraphQL object: camelCase keys, its id as `id` (`name` for a
    service)."""
    out = {_camel(k): v for k, v in row.items() if k != "listed_at"}
    out["name" if resource.name == "services" else "id"] = row[resource.key]
    return out


async def _guarded(info: Any, call: Callable[[], Awaitable[Any]]) -> Any:
    """Refusals and database errors as GraphQL errors with REST's messages."""
    try:
        return await call()
    except Refused as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.error}) from None
    except psycopg.Error as exc:
        refusal = database_refusal(exc)
        raise GraphQLError(refusal.message, extensions={"code": refusal.error}) from None


class Loader:
    """Batches the ids asked for in one turn of the event loop into one fetch; each id
    is fetched at most once per operation."""

    def __init__(self, fetch: Callable[[list[str]], Awaitable[dict[str, Any]]]) -> None:
        self.fetch = fetch
        self.cache: dict[str, asyncio.Future[Any]] = {}
        self.pending: list[str] = []

    def load(self, key: str) -> asyncio.Future[Any]:
        if key not in self.cache:
            loop = asyncio.get_running_loop()
            self.cache[key] = loop.create_future()
            self.pending.append(key)
            if len(self.pending) == 1:
                loop.call_soon(lambda: loop.create_task(self._dispatch()))
        return self.cache[key]

    async def _dispatch(self) -> None:
        keys, self.pending = self.pending, []
        try:
            found = await self.fetch(keys)
        except Exception as exc:  # every waiting field gets the error
            for key in keys:
                self.cache[key].set_exception(exc)
            return
        for key in keys:
            self.cache[key].set_result(found.get(key))


def loader(info: Any, name: str) -> Loader:
    """The operation's loader of a resource's items by id (or of incidents' deployments)."""
    ctx = info.context
    loaders: dict[str, Loader] = ctx.setdefault("loaders", {})
    if name not in loaders:
        conn = ctx["conn"]
        if name == "incident_deploys":

            async def fetch(ids: list[str]) -> dict[str, Any]:
                return await resources.incident_deploys(conn, ids)
        else:
            resource = RESOURCES[name]

            async def fetch(ids: list[str]) -> dict[str, Any]:
                rows = await resources.by_ids(conn, resource, ids)
                ctx["rows"] += len(rows)
                return {k: node(resource, r) for k, r in rows.items()}

        loaders[name] = Loader(fetch)
    return loaders[name]


def _params(first: int, after: str | None, filters: dict[str, Any]) -> dict[str, str]:
    params = {k: str(v) for k, v in filters.items() if v is not None}
    params["limit"] = str(first)
    if after is not None:
        params["cursor"] = after
    return params


def _connection(resource: Resource, got: resources.Page) -> dict[str, Any]:
    return {
        "edges": [{"cursor": c, "node": node(resource, i)}
                  for c, i in zip(got.cursors, got.items, strict=True)],
        "pageInfo": {"hasNextPage": got.more,
                     "endCursor": got.cursors[-1] if got.cursors else None},
    }  # fmt: skip


def _lister(resource: Resource) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def resolve(_: Any, info: Any, first: int = 100, after: str | None = None,
                      **filters: Any) -> dict[str, Any]:  # fmt: skip
        ctx = info.context
        params = _params(first, after, filters)
        got = await _guarded(info, lambda: resources.page(ctx["conn"], ctx["caller"],
                                                          resource, params))  # fmt: skip
        ctx["rows"] += len(got.items)
        return _connection(resource, got)

    return resolve


async def _repo_changes(obj: dict[str, Any], info: Any, first: int = 20,
                        after: str | None = None, **filters: Any) -> dict[str, Any]:  # fmt: skip
    """A page of a repository's changes: the repositories of one level that ask with the
    same arguments share one query."""
    ctx = info.context
    params = _params(first, after, filters)
    name = "repo_changes:" + json.dumps(params, sort_keys=True)
    loaders: dict[str, Loader] = ctx.setdefault("loaders", {})
    if name not in loaders:

        async def fetch(ids: list[str]) -> dict[str, Any]:
            pages = await resources.pages_by_repo(ctx["conn"], ctx["caller"], ids, params)
            ctx["rows"] += sum(len(p.items) for p in pages.values())
            return {r: _connection(RESOURCES["changes"], p) for r, p in pages.items()}

        loaders[name] = Loader(fetch)
    connection: dict[str, Any] = await _guarded(info, lambda: loaders[name].load(obj["id"]))
    return connection


def _item(name: str, argument: str) -> Callable[..., Awaitable[Any]]:
    async def resolve(_: Any, info: Any, **kw: Any) -> Any:
        return await _guarded(info, lambda: loader(info, name).load(kw[argument]))

    return resolve


async def _repo(obj: dict[str, Any], info: Any) -> Any:
    if obj.get("repoId") is None:
        return None
    return await _guarded(info, lambda: loader(info, "repos").load(obj["repoId"]))


async def _incident_deploy(obj: dict[str, Any], info: Any) -> Any:
    async def call() -> Any:
        deploy_id = await loader(info, "incident_deploys").load(obj["id"])
        return None if deploy_id is None else await loader(info, "deploys").load(deploy_id)

    return await _guarded(info, call)


def bindables(query: QueryType) -> list[ObjectType]:
    """Binds the resource fields to `query`; returns the object types to bind too."""
    for field, name in LISTS.items():
        query.set_field(field, _lister(RESOURCES[name]))
    for field, (name, argument) in ITEMS.items():
        query.set_field(field, _item(name, argument))
    types = {t: ObjectType(t) for t in ("Change", "Deploy", "PipelineRun", "Incident", "Repo")}
    for t in ("Change", "Deploy", "PipelineRun"):
        types[t].set_field("repo", _repo)
    types["Incident"].set_field("deploy", _incident_deploy)
    types["Repo"].set_field("changes", _repo_changes)
    return list(types.values())
