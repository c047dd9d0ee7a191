"""People over REST and GraphQL (web/api/people.py, web/api/graphql_people.py over
sql/api/50_people.sql), for two orgs and nested teams, as each role: people data is for
analyst and up (a viewer gets 403 on REST, a forbidden error and null on GraphQL, never
the data), a team-scoped analyst sees the persons who were ever on its subtree only,
another org's person id reads exactly like a random one, a merged person's id gives the
survivor, REST, GraphQL and the SQL functions the MCP server calls agree, pages walk
every person once, nested people are batched, and every call is audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from starlette.testclient import TestClient

from db import audit
from db.scope import Scope, scoped
from tests.metrics_helpers import World, acme_with_teams, at
from tests.test_graphql import gql
from tests.test_rest import SETTINGS, get, token
from web.api import people
from web.app import create_app

ROLES = ("viewer", "analyst", "admin", "service")
PERSON = """query One($id: ID!) { person(id: $id) { id displayName primaryEmail isBot
  currentTeams accounts { id provider login displayName emails isBot firstSeenAt lastSeenAt
  method confidence } teams { slug name role since until } tenure { since days source } } }"""


@pytest.fixture
def world(database: str) -> dict[str, Any]:
    """acme: eng > platform > data (Ana) and payments (Ben); Cleo on platform with a
    GitHub and a Jira account; Dan on data from -200 to -100 days, then on payments; Eve
    on payments only; "Ana (old)" merged into Ana. Changes a0 by Ana, b0 by Ben, c0 by
    Cleo's Jira account, z0 by an account of nobody. globex: Gus on its eng, change g0."""
    with psycopg.connect(database, autocommit=True) as conn:
        acme = acme_with_teams(conn)
        ids = {"ana": person_of(conn, acme, "github:ana"),
               "ben": person_of(conn, acme, "github:ben")}  # fmt: skip
        ids["cleo"] = acme.person("Cleo", "github:cleo", "jira:cleo")
        acme.member("platform", ids["cleo"], at(-60))
        ids["dan"] = acme.person("Dan", "github:dan")
        acme.member("data", ids["dan"], at(-200), at(-100))
        acme.member("payments", ids["dan"], at(-100))
        ids["eve"] = acme.person("Eve", "github:eve")
        acme.member("payments", ids["eve"], at(-30))
        ids["old"] = acme.person("Ana (old)")
        conn.execute("UPDATE identity.persons SET merged_into = %s WHERE person_id = %s",
                     (ids["ana"], ids["old"]))  # fmt: skip
        acme.change("a0", author="github:ana", merged=at(-5), merge_sha="a0sha")
        acme.change("b0", author="github:ben", merged=at(-4), merge_sha="b0sha")
        acme.change("c0", author="jira:cleo", opened=at(-3))
        acme.change("z0", author="github:zed", opened=at(-2))
        acme.refresh()
        globex = World(conn, "globex")
        globex.team("eng")
        ids["gus"] = globex.person("Gus", "github:gus")
        globex.member("eng", ids["gus"], at(-60))
        globex.repo()
        globex.change("g0", author="github:gus", opened=at(-1))
        globex.refresh()
        return {"acme": acme, "globex": globex, "ids": ids}


def person_of(conn: psycopg.Connection[Any], org: World, actor: str) -> UUID:
    row = conn.execute("SELECT person_id FROM identity.links WHERE org_id = %s AND actor_id = %s",
                       (org.org, actor)).fetchone()  # fmt: skip
    assert row is not None
    return UUID(str(row[0]))


@pytest.fixture
def http(database: str, world: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def walk(http: TestClient, tok: str, path: str, limit: int = 2,
         **params: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Every item of a list, a page of `limit` at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        r = get(http, path, tok, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages do not end")


def sql(database: str, scope: Scope, query: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of an api function as the MCP server reads them: as qdx_app in a scope."""
    with psycopg.connect(database) as conn, scoped(conn, scope) as c:
        cur = c.execute(query, args)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def names(items: list[dict[str, Any]], key: str = "display_name") -> list[str]:
    return [i[key] for i in items]


@pytest.mark.parametrize("role", ROLES)
def test_people_are_for_analysts_and_up_teams_for_everyone(
    http: TestClient, database: str, world: dict[str, Any], role: str
) -> None:
    tok = token(database, "acme", role=role)
    ana = world["ids"]["ana"]
    answers = [get(http, "/api/v1/people", tok), get(http, f"/api/v1/people/{ana}", tok),
               get(http, "/api/v1/teams/data/members", tok)]  # fmt: skip
    if role == "viewer":
        for r in answers:
            assert r.status_code == 403, r.text
            assert r.json()["error"] == "forbidden"
            assert "needs the analyst role" in r.json()["message"]
            assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
            assert "Ana" not in r.text
    else:
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert names(answers[0].json()["items"]) == ["Ana", "Ben", "Cleo", "Dan", "Eve"]
        assert answers[1].json()["display_name"] == "Ana"
        assert names(answers[2].json()["items"]) == ["Ana"]
    teams = get(http, "/api/v1/teams", tok)
    assert teams.status_code == 200, teams.text
    assert [t["path"] for t in teams.json()["items"]] == [
        "eng", "eng/platform", "eng/platform/data", "payments"]  # fmt: skip


def test_pages_walk_every_person_once_and_filters_narrow(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    tok = token(database, "acme", role="analyst")
    whole = get(http, "/api/v1/people", tok, limit=1000).json()
    assert whole["next_cursor"] is None
    assert names(whole["items"]) == ["Ana", "Ben", "Cleo", "Dan", "Eve"]
    for limit in (1, 2, 3):
        assert walk(http, tok, "/api/v1/people", limit=limit) == whole["items"], limit
    assert names(walk(http, tok, "/api/v1/people", team="platform")) == ["Ana", "Cleo"]
    assert names(walk(http, tok, "/api/v1/people", team="payments")) == ["Ben", "Dan", "Eve"]
    assert names(walk(http, tok, "/api/v1/people", q="CLE")) == ["Cleo"]
    members = walk(http, tok, "/api/v1/teams/payments/members", limit=1)
    assert names(members) == ["Ben", "Dan", "Eve"]
    then = walk(http, tok, "/api/v1/teams/data/members", limit=1, at=at(-150).isoformat())
    assert names(then) == ["Dan"]
    assert then[0]["until"] is not None
    # A cursor is bound to its org and list.
    first = get(http, "/api/v1/people", tok, limit=1).json()["next_cursor"]
    globex = token(database, "globex", role="analyst")
    for who, path in ((globex, "/api/v1/people"), (tok, "/api/v1/teams/data/members"),
                      (tok, "/api/v1/changes")):  # fmt: skip
        r = get(http, path, who, cursor=first)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["message"] == "cursor is not one this API gave for this list"
    for params, message in (({"limit": 0}, "limit must be 1 to 1000"),
                            ({"at": "soon"}, "at must be an ISO date or time"),
                            ({"nope": 1}, "unknown parameter(s) nope")):  # fmt: skip
        r = get(http, "/api/v1/teams/data/members", tok, **params)
        assert r.status_code == 400
        assert r.json()["message"].startswith(message), r.text


@pytest.mark.parametrize("role", ["analyst", "admin", "service"])
def test_a_team_caller_sees_who_was_ever_on_its_subtree(
    http: TestClient, database: str, world: dict[str, Any], role: str
) -> None:
    ids = world["ids"]
    plat = token(database, "acme", role=role, teams=("platform",))
    # Dan was on data (under platform) until 100 days ago: seen, with the teams it reads.
    assert names(walk(http, plat, "/api/v1/people")) == ["Ana", "Cleo", "Dan"]
    dan = get(http, f"/api/v1/people/{ids['dan']}", plat).json()
    assert [t["slug"] for t in dan["teams"]] == ["data"]
    assert dan["current_teams"] == []
    assert [t["path"] for t in get(http, "/api/v1/teams", plat).json()["items"]] == [
        "platform", "platform/data"]  # fmt: skip
    random = get(http, f"/api/v1/people/{uuid.uuid4()}", plat)
    for outside in (ids["ben"], ids["eve"], ids["gus"]):
        r = get(http, f"/api/v1/people/{outside}", plat)
        assert (r.status_code, r.json()) == (random.status_code, {
            "error": "not_found", "message": f"no person {outside}"})  # fmt: skip
    for path in ("/api/v1/teams/payments/members", "/api/v1/teams/nope/members"):
        assert get(http, path, plat).status_code == 403, path
    for params in ({"team": "payments"}, {"team": "nope"}):
        assert get(http, "/api/v1/people", plat, **params).status_code == 403
        assert get(http, "/api/v1/teams", plat, **params).status_code == 403
    pay = token(database, "acme", role=role, teams=("payments",))
    assert names(walk(http, pay, "/api/v1/people")) == ["Ben", "Dan", "Eve"]
    # The merged id resolves to Ana, whom a payments token does not see.
    assert get(http, f"/api/v1/people/{ids['old']}", pay).status_code == 404
    assert get(http, f"/api/v1/people/{ids['old']}", plat).json()["display_name"] == "Ana"


def test_another_orgs_person_reads_like_a_random_id(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    acme = token(database, "acme", role="admin")
    gus, nobody = world["ids"]["gus"], uuid.uuid4()
    for asked in (gus, nobody):
        r = get(http, f"/api/v1/people/{asked}", acme)
        assert (r.status_code, r.json()) == (404, {"error": "not_found",
                                                   "message": f"no person {asked}"})  # fmt: skip
        r = gql(http, acme, PERSON, id=str(asked))
        assert r.json() == {"data": {"person": None}}
    r = get(http, f"/api/v1/people/{gus}", token(database, "globex", role="admin"))
    assert r.json()["display_name"] == "Gus"
    globex_team = world["globex"].teams["eng"]
    r = get(http, f"/api/v1/teams/{globex_team}/members", acme)
    assert (r.status_code, r.json()["message"]) == (404, f"no team {globex_team} (see team_tree)")
    assert str(world["globex"].org) not in r.text
    bad = get(http, "/api/v1/people/not-a-uuid", acme)
    assert bad.status_code == 400
    assert bad.json()["message"] == "a person id is a UUID, not 'not-a-uuid'"


def test_a_merged_person_resolves_to_the_survivor(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    tok = token(database, "acme", role="analyst")
    ids = world["ids"]
    ana = get(http, f"/api/v1/people/{ids['ana']}", tok).json()
    assert get(http, f"/api/v1/people/{ids['old']}", tok).json() == ana
    assert ana["person_id"] == str(ids["ana"])
    # The merged person is not listed on its own.
    assert "Ana (old)" not in names(walk(http, tok, "/api/v1/people"))
    node = gql(http, tok, PERSON, id=str(ids["old"])).json()["data"]["person"]
    assert node["id"] == str(ids["ana"])


def _gql_person(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Person in the REST body's words."""

    def snake(d: dict[str, Any]) -> dict[str, Any]:
        return {"".join(f"_{c.lower()}" if c.isupper() else c for c in k): v
                for k, v in d.items()}  # fmt: skip

    out = snake({k: v for k, v in node.items() if k not in ("id", "accounts", "teams")})
    out["person_id"] = node["id"]
    out["accounts"] = [{**snake({k: v for k, v in a.items() if k != "id"}), "actor_id": a["id"]}
                       for a in node["accounts"]]  # fmt: skip
    out["teams"] = [snake(t) for t in node["teams"]]
    return out


def _same_times(a: Any, b: Any) -> Any:
    """JSON with every ISO time normalised (PostgreSQL's JSON and Python's isoformat
    spell the same moment differently)."""
    if isinstance(a, dict):
        return {k: _same_times(v, None) for k, v in a.items()}
    if isinstance(a, list):
        return [_same_times(v, None) for v in a]
    if isinstance(a, str) and len(a) >= 19 and a[4] == "-" and a[10] in "T ":
        from datetime import datetime

        try:
            return datetime.fromisoformat(a).isoformat()
        except ValueError:
            return a
    return a


@pytest.mark.parametrize("teams", [(), ("platform",)])
def test_rest_graphql_and_the_mcp_functions_agree(
    http: TestClient, database: str, world: dict[str, Any], teams: tuple[str, ...]
) -> None:
    acme = world["acme"]
    tok = token(database, "acme", role="analyst", teams=teams)
    scope = Scope(acme.org, tuple(acme.teams[t] for t in teams))
    # The list: REST == GraphQL == api.list_people.
    rest = walk(http, tok, "/api/v1/people")
    listed = sql(database, scope, "SELECT person_id, display_name, primary_email, is_bot, "
                 "teams AS current_teams FROM api.list_people()")  # fmt: skip
    assert rest == [{**r, "person_id": str(r["person_id"])} for r in listed]
    q = ("query P($after: String) { people(first: 2, after: $after) { edges { node { id "
         "displayName primaryEmail isBot currentTeams } } pageInfo { hasNextPage endCursor } } }"
         )  # fmt: skip
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = gql(http, tok, q, after=after).json()["data"]["people"]
        nodes += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert [{**_gql_person({**n, "accounts": [], "teams": []}), "accounts": None,
             "teams": None} for n in nodes] == [
        {**r, "accounts": None, "teams": None} for r in rest]  # fmt: skip
    # One person: REST == GraphQL == api.resolve_person (the MCP tool's function).
    for who in rest:
        body = get(http, f"/api/v1/people/{who['person_id']}", tok).json()
        node = gql(http, tok, PERSON, id=who["person_id"]).json()["data"]["person"]
        [resolved] = sql(database, scope, "SELECT api.resolve_person('name', %s) AS p",
                         who["display_name"])[0]["p"]  # fmt: skip
        assert body == resolved, who
        assert _same_times(_gql_person(node), None) == _same_times(body, None), who
    # The team tree and a team's members: REST == GraphQL == api.team_tree/team_members.
    tree = sql(database, scope, "SELECT * FROM api.team_tree()")
    assert get(http, "/api/v1/teams", tok).json()["items"] == [
        {**t, "team_id": str(t["team_id"])} for t in tree]  # fmt: skip
    moment = at(-150).isoformat()
    for team in ("platform", "data"):
        members = sql(database, scope, "SELECT person_id, display_name, primary_email, role, "
                      "since, until FROM api.team_members(%s, %s)", team, moment)  # fmt: skip
        got = walk(http, tok, f"/api/v1/teams/{team}/members", limit=1, at=moment)
        assert _same_times(got, None) == _same_times(
            [{**m, "person_id": str(m["person_id"]), "since": m["since"].isoformat(),
              "until": m["until"] and m["until"].isoformat()} for m in members], None)  # fmt: skip
    level = "slug members(at: $at) { edges { node { id displayName role since until } } }"
    r = gql(http, tok, f"query M($at: String) {{ teams {{ {level} children {{ {level} "
            f"children {{ {level} }} }} }} }}", at=moment)  # fmt: skip
    assert "errors" not in r.json(), r.text

    def flat(teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for t in teams for x in (t, *flat(t.get("children", [])))]

    shown = {t["slug"]: t["members"]["edges"] for t in flat(r.json()["data"]["teams"])}
    assert set(shown) == {t["slug"] for t in tree}
    for slug, edges in shown.items():
        members = sql(database, scope, "SELECT person_id, display_name FROM "
                      "api.team_members(%s, %s)", slug, moment)  # fmt: skip
        assert [(e["node"]["id"], e["node"]["displayName"]) for e in edges] == [
            (str(m["person_id"]), m["display_name"]) for m in members], slug  # fmt: skip
    assert [e["node"]["displayName"] for e in shown["data"]] == ["Dan"]


def test_a_viewer_gets_forbidden_people_fields_and_the_rest(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    tok = token(database, "acme", role="viewer")
    q = f"""{{ teams {{ slug members {{ edges {{ node {{ id displayName }} }} }} }}
      people {{ edges {{ node {{ id displayName }} }} }}
      person(id: "{world["ids"]["ana"]}") {{ id displayName }}
      changes(first: 2) {{ edges {{ node {{ id authorId author {{ displayName }} }} }} }} }}"""
    r = gql(http, tok, q)
    assert r.status_code == 200, r.text
    body = r.json()
    data = body["data"]
    assert [t["slug"] for t in data["teams"]] == ["eng", "payments"]
    assert all(t["members"] is None for t in data["teams"])
    assert data["people"] is None
    assert data["person"] is None
    assert [(e["node"]["id"], e["node"]["author"]) for e in data["changes"]["edges"]] == [
        ("z0", None), ("c0", None)]  # fmt: skip
    paths = sorted(tuple(map(str, e["path"])) for e in body["errors"])
    assert paths == sorted([("teams", "0", "members"), ("teams", "1", "members"), ("people",),
                            ("person",), ("changes", "edges", "0", "node", "author"),
                            ("changes", "edges", "1", "node", "author")])  # fmt: skip
    for error in body["errors"]:
        assert error["extensions"] == {"code": "forbidden"}
        assert error["message"] == ("people data needs the analyst role or above; this token "
                                    "is viewer")  # fmt: skip
    for name in ("Ana", "Cleo", "Dan"):
        assert name not in r.text


def test_nested_people_are_batched(
    http: TestClient, database: str, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for name in ("people_of_actors", "people_by_ids", "members_pages"):
        original = getattr(people, name)

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(people, name, counted)
    tok = token(database, "acme", role="analyst")
    q = """{ changes { edges { node { id author { displayName accounts { id }
                                                  tenure { source } } } } }
      people { edges { node { displayName accounts { id } teams { slug } } } }
      teams { slug members { edges { node { displayName person { primaryEmail } } } }
              children { slug members { edges { node { id } } } } } }"""
    r = gql(http, tok, q)
    body = r.json()
    assert "errors" not in body, r.text
    authors = {e["node"]["id"]: e["node"]["author"] for e in body["data"]["changes"]["edges"]}
    assert {k: v and v["displayName"] for k, v in authors.items()} == {
        "a0": "Ana", "b0": "Ben", "c0": "Cleo", "z0": None}  # fmt: skip
    assert [a["id"] for a in authors["c0"]["accounts"]] == ["github:cleo", "jira:cleo"]
    people_nodes = [e["node"] for e in body["data"]["people"]["edges"]]
    assert [[t["slug"] for t in n["teams"]] for n in people_nodes] == [
        ["data"], ["payments"], ["platform"], ["data", "payments"], ["payments"]]  # fmt: skip
    # At most one query per level whatever the number of items (levels asked in the same
    # turn share one): the authors; the persons of the list and of the members; the
    # members of the top teams and of their children.
    assert calls.count("people_of_actors") == 1, calls
    assert 1 <= calls.count("people_by_ids") <= 2, calls
    assert 1 <= calls.count("members_pages") <= 2, calls
    assert len(calls) <= 5, calls


def test_every_people_call_is_audited(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    ana = world["ids"]["ana"]
    get(http, "/api/v1/people", token(database, "acme", role="analyst"), limit=2)
    get(http, f"/api/v1/people/{ana}", token(database, "acme", role="viewer"))
    get(http, f"/api/v1/people/{uuid.uuid4()}", token(database, "acme", role="admin"))
    get(http, "/api/v1/teams", token(database, "acme", role="viewer"))
    get(http, "/api/v1/teams/data/members", token(database, "acme", role="service"))
    who = "query Who { people { edges { node { id } } } }"
    gql(http, token(database, "acme", role="analyst"), who)
    with psycopg.connect(database, autocommit=True) as conn:
        rows = audit.tail(conn, "acme")
    assert [(r["interface"], r["operation"], r["role"], r["outcome"], r["row_count"])
            for r in rows] == [
        ("rest", "GET /api/v1/people", "analyst", "ok", 2),
        ("rest", "GET /api/v1/people/{person_id}", "viewer", "denied", None),
        ("rest", "GET /api/v1/people/{person_id}", "admin", "invalid", None),
        ("rest", "GET /api/v1/teams", "viewer", "ok", 4),
        ("rest", "GET /api/v1/teams/{team}/members", "service", "ok", 1),
        ("graphql", "Who", "analyst", "ok", 5),
    ]  # fmt: skip
    assert rows[1]["arguments"] == {"person_id": str(ana)}


def test_a_page_of_a_thousand_tells_whether_more_follow(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    """A page of the largest size, 1000, reads one row more to tell whether more follow:
    1001 members of eng are a page of 1000 and a page of one, over REST and in GraphQL's
    batch of teams."""
    acme = world["acme"]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "WITH made AS (INSERT INTO identity.persons (org_id, display_name)"
            " SELECT %s, format('P%%s', lpad(i::text, 4, '0')) FROM generate_series(1, 1001) i"
            " RETURNING person_id)"
            " SELECT count(identity.add_membership(%s, 'eng', person_id, %s, NULL)) FROM made",
            (acme.org, acme.org, at(-10)),
        )  # fmt: skip
    tok = token(database, "acme", role="analyst")
    # 1001 on eng; and Ana, Ben, Cleo, Dan, Eve; Ana and Cleo under eng.
    for path, params, total in (("/api/v1/people", {}, 1006),
                                ("/api/v1/teams/eng/members", {}, 1001),
                                ("/api/v1/people", {"team": "eng"}, 1003),
                                ("/api/v1/teams/payments/members", {}, 3)):  # fmt: skip
        first = get(http, path, tok, limit=1000, **params).json()
        assert len(first["items"]) == min(total, 1000), path
        if total <= 1000:
            assert first["next_cursor"] is None, path
            continue
        rest = get(http, path, tok, limit=1000, cursor=first["next_cursor"], **params).json()
        assert (len(rest["items"]), rest["next_cursor"]) == (total - 1000, None), path
        assert len({i["person_id"] for i in first["items"] + rest["items"]}) == total, path
    q = ("query M($after: String) { teams { slug members(first: 1000, after: $after) { "
         "edges { cursor } pageInfo { hasNextPage endCursor } } } }")  # fmt: skip
    body = gql(http, tok, q).json()
    assert "errors" not in body, body
    pages = {t["slug"]: t["members"] for t in body["data"]["teams"]}
    assert (len(pages["eng"]["edges"]), pages["eng"]["pageInfo"]["hasNextPage"]) == (1000, True)
    assert (len(pages["payments"]["edges"]), pages["payments"]["pageInfo"]["hasNextPage"]) == (
        3, False)  # fmt: skip
    after = pages["eng"]["pageInfo"]["endCursor"]
    more = gql(http, tok, q, after=after).json()["data"]["teams"]
    assert [len(t["members"]["edges"]) for t in more] == [1, 0]


def test_people_pages_and_nested_persons_count_toward_the_cost(
    http: TestClient, database: str, world: dict[str, Any]
) -> None:
    tok = token(database, "acme", role="analyst")
    # A page of 1,000 changes and the author of each: 2,000 of the 5,000 allowed.
    authors = "changes(first: 1000) { edges { node { id author { id } } } }"
    assert gql(http, tok, f"{{ {authors} }}").status_code == 200
    members = "teams { members(first: 1000) { edges { node { person { id } } } } }"
    assert gql(http, tok, f"{{ {members} }}").status_code == 200
    too_much = (
        f"{{ {authors} {members} people(first: 1000) {{ edges {{ cursor }} }} }}",
        "{ people(first: 1000) { edges { node { teams { slug } } } } "
        "changes(first: 1000) { edges { node { author { id } repo { id } } } } }",
    )
    for q in too_much:
        r = gql(http, tok, q)
        assert r.status_code == 400, q
        assert "cost" in r.json()["errors"][0]["message"].lower()
    r = gql(http, tok, "{ people(first: 1001) { edges { cursor } } }").json()
    assert r["errors"][0]["message"] == "limit must be 1 to 1000"
