"""GraphQL bindings of people (web/api/people.py): `people` as a Relay-style connection,
`person(id)`, `Team.members(at)`, `TeamMember.person` and `Change.author`, the nested
ones read through loaders that batch every id of a level into one query. People data is
for analyst and up: for a viewer each of these fields is null with a `forbidden` error
(at its path), and the rest of the operation is answered."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from ariadne import ObjectType, QueryType

from web.api import people
from web.api.graphql_resources import Loader, _camel, _guarded, _params

# A page of people or of a team's members costs its `first`; what is read through a
# loader (Change.author, TeamMember.person, a listed person's accounts, teams and
# tenure) one per item of its page.
COSTS: dict[str, dict[str, Any]] = {
    "Query": {"people": {"complexity": 1, "multipliers": ["first"]}},
    "Team": {"members": {"complexity": 1, "multipliers": ["first"]}},
    "TeamMember": {"person": {"complexity": 1}},
    "Person": {f: {"complexity": 1} for f in ("accounts", "teams", "tenure")},
}


def _allowed(info: Any) -> None:
    info.context["caller"].at_least("analyst", people.PEOPLE)


def person_node(person: dict[str, Any]) -> dict[str, Any]:
    """api._person's JSON as a GraphQL Person (what a list row lacks is loaded by id)."""
    out = {_camel(k): v for k, v in person.items() if k != "person_id"}
    out["id"] = str(person["person_id"])
    if "accounts" in person:
        out["accounts"] = [{**{_camel(k): v for k, v in a.items()}, "id": a["actor_id"]}
                           for a in person["accounts"]]  # fmt: skip
        out["teams"] = [{_camel(k): v for k, v in t.items()} for t in person["teams"]]
    return out


def _loader(info: Any, name: str, fetch: Callable[[list[str]], Awaitable[dict[str, Any]]],
            ) -> Loader:  # fmt: skip
    loaders: dict[str, Loader] = info.context.setdefault("loaders", {})
    if name not in loaders:
        loaders[name] = Loader(fetch)
    return loaders[name]


def _people(info: Any) -> Loader:
    """The operation's loader of persons by id (merged ids answer with the survivor)."""
    ctx = info.context

    async def fetch(ids: list[str]) -> dict[str, Any]:
        found = await people.people_by_ids(ctx["conn"], [UUID(i) for i in ids])
        ctx["rows"] += len(found)
        return {str(k): person_node(p) for k, p in found.items()}

    return _loader(info, "people", fetch)


def _authors(info: Any) -> Loader:
    """The operation's loader of the person each account is linked to."""
    ctx = info.context

    async def fetch(actors: list[str]) -> dict[str, Any]:
        found = await people.people_of_actors(ctx["conn"], actors)
        ctx["rows"] += len(found)
        return {k: person_node(p) for k, p in found.items()}

    return _loader(info, "people_of_actors", fetch)


def _connection(got: people.Page, node: Callable[[dict[str, Any]], dict[str, Any]],
                ) -> dict[str, Any]:  # fmt: skip
    return {
        "edges": [{"cursor": c, "node": node(i)}
                  for c, i in zip(got.cursors, got.items, strict=True)],
        "pageInfo": {"hasNextPage": got.more,
                     "endCursor": got.cursors[-1] if got.cursors else None},
    }  # fmt: skip


def _member_node(row: dict[str, Any]) -> dict[str, Any]:
    out = {_camel(k): v for k, v in row.items() if k != "person_id"}
    out["id"] = str(row["person_id"])
    return out


async def resolve_people(_: Any, info: Any, first: int = 100, after: str | None = None,
                         team: str | None = None, query: str | None = None,
                         ) -> dict[str, Any]:  # fmt: skip
    ctx = info.context
    params = _params(first, after, {"team": team, "q": query})

    async def call() -> people.Page:
        _allowed(info)
        return await people.people_page(ctx["conn"], ctx["caller"], params)

    got = await _guarded(info, call)
    ctx["rows"] += len(got.items)
    return _connection(got, person_node)


async def resolve_person(_: Any, info: Any, id: str) -> Any:
    async def call() -> Any:
        _allowed(info)
        return await _people(info).load(str(people.person_id(id)))

    return await _guarded(info, call)


async def _details(obj: dict[str, Any], info: Any, field: str) -> Any:
    """A field a list row lacks (accounts, teams, tenure), from the person loaded by id."""
    if "accounts" not in obj:
        full = await _guarded(info, lambda: _people(info).load(obj["id"]))
        obj.update({k: v for k, v in (full or {"accounts": [], "teams": []}).items()
                    if k not in obj})  # fmt: skip
    return obj.get(field)


async def _team_members(team: dict[str, Any], info: Any, first: int = 100,
                        after: str | None = None, at: str | None = None) -> Any:  # fmt: skip
    """A page of a team's members at a moment: the teams of one level that ask with the
    same arguments share one query."""
    ctx = info.context
    params = _params(first, after, {"at": at})
    name = "team_members:" + json.dumps(params, sort_keys=True)

    async def fetch(ids: list[str]) -> dict[str, Any]:
        pages = await people.members_pages(ctx["conn"], ctx["caller"], ids, params)
        ctx["rows"] += sum(len(p.items) for p in pages.values())
        return {t: _connection(p, _member_node) for t, p in pages.items()}

    async def call() -> Any:
        _allowed(info)
        return await _loader(info, name, fetch).load(str(team["id"]))

    return await _guarded(info, call)


async def _member_person(member: dict[str, Any], info: Any) -> Any:
    return await _guarded(info, lambda: _people(info).load(member["id"]))


async def _change_author(change: dict[str, Any], info: Any) -> Any:
    async def call() -> Any:
        _allowed(info)
        if change.get("authorId") is None:
            return None
        return await _authors(info).load(change["authorId"])

    return await _guarded(info, call)


def bindables(query: QueryType) -> list[ObjectType]:
    """Binds the people fields to `query`; returns the object types to bind too."""
    query.set_field("people", resolve_people)
    query.set_field("person", resolve_person)
    person = ObjectType("Person")
    for field in ("accounts", "teams", "tenure"):
        person.set_field(field, lambda obj, info, f=field: _details(obj, info, f))
    team = ObjectType("Team")
    team.set_field("members", _team_members)
    member = ObjectType("TeamMember")
    member.set_field("person", _member_person)
    change = ObjectType("Change")
    change.set_field("author", _change_author)
    return [person, team, member, change]
