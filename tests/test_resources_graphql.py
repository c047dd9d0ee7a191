"""GraphQL resource fields (web/api/graphql_resources.py): the same items as REST for the
same filters, Relay-style pages, the caller's scope only (another org's or team's ids
read as null, another org's cursor is refused), nested fields read by one query per
level whatever the page size, the cost limit counting pages by their size, and one
audit row per operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from db import audit
from tests.metrics_helpers import World
from tests.test_graphql import gql
from tests.test_resources_rest import KEYS, ids, walk
from tests.test_resources_rest import world as world  # the same two orgs
from tests.test_rest import SETTINGS, get, token
from web.api import resources
from web.app import create_app

FIELDS = {"changes": ("changes", "id title state repoId mergedAt"),
          "deploys": ("deploys", "id service status finishedAt"),
          "incidents": ("incidents", "id severity service openedAt"),
          "pipeline-runs": ("pipelineRuns", "id status commitSha branch"),
          "repos": ("repos", "id fullName firstSeenAt"),
          "services": ("services", "name deploys incidents lastSeenAt")}  # fmt: skip
ARGS = {"changes": "$team: String, $repo: String, $state: String, $since: String",
        "deploys": "$team: String, $service: String, $status: String",
        "incidents": "$team: String, $severity: String",
        "pipeline-runs": "$team: String, $status: String",
        "repos": "$provider: String", "services": "$team: String"}  # fmt: skip


@pytest.fixture
def http(database: str, world: dict[str, World]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def pages(http: TestClient, tok: str, path: str, first: int = 2,
          **variables: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Every node of a connection, `first` at a time."""
    field, selection = FIELDS[path]
    args = ", ".join(f"{a.split(':')[0][1:]}: {a.split(':')[0]}" for a in ARGS[path].split(", "))
    query = (f"query Page({ARGS[path]}, $first: Int, $after: String) {{ {field}({args}, "
             f"first: $first, after: $after) {{ edges {{ cursor node {{ {selection} }} }} "
             "pageInfo { hasNextPage endCursor } } }")  # fmt: skip
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(100):
        r = gql(http, tok, query, first=first, after=after, **variables)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        conn = body["data"][field]
        nodes += [e["node"] for e in conn["edges"]]
        if conn["edges"]:
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            return nodes
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("the pages do not end")


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("changes", {}), ("changes", {"repo": "acme/web"}), ("changes", {"team": "payments"}),
        ("changes", {"state": "merged", "since": "2026-02-20"}),
        ("deploys", {}), ("deploys", {"service": "billing", "status": "success"}),
        ("incidents", {}), ("incidents", {"team": "data"}), ("pipeline-runs", {}),
        ("pipeline-runs", {"status": "failure"}), ("repos", {}), ("services", {}),
        ("services", {"team": "payments"}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("teams", [(), ("platform",)])
def test_graphql_lists_the_rest_items(
    http: TestClient, database: str, path: str, filters: dict[str, str], teams: tuple[str, ...]
) -> None:
    if teams and filters.get("team") == "payments":
        filters = {**filters, "team": "data"}
    tok = token(database, "acme", teams=teams)
    rest = walk(http, tok, path, limit=1000, **filters)
    nodes = pages(http, tok, path, **filters)
    key = "name" if path == "services" else "id"
    assert [n[key] for n in nodes] == [i[KEYS[path]] for i in rest]
    selection = FIELDS[path][1].split()
    for node, item in zip(nodes, rest, strict=True):
        for field in selection[1:]:
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in field)
            if snake.endswith("_at") and item[snake] is not None:
                assert node[field][:19] == item[snake][:19], field
            else:
                assert node[field] == item[snake], field
    if not teams and path != "services" and not filters:
        assert len(nodes) >= 2  # a page was followed


def test_scope_ids_and_cursors(http: TestClient, database: str) -> None:
    acme, plat = token(database, "acme"), token(database, "acme", teams=("platform",))
    items = """query Items($c: ID!, $d: ID!, $i: ID!, $r: ID!, $p: ID!, $s: String!) {
      change(id: $c) { id title } deploy(id: $d) { id } incident(id: $i) { id }
      repo(id: $r) { id } pipelineRun(id: $p) { id } service(name: $s) { name deploys }
    }"""
    theirs = {"c": "g0", "d": "dg0", "i": "ig", "r": "github:9", "p": "rg", "s": "ledger"}
    data = gql(http, acme, items, **theirs).json()["data"]
    assert list(data.values()) == [None] * 6
    mine = {"c": "a0", "d": "db0", "i": "i1", "r": "github:1", "p": "rb0", "s": "billing"}
    data = gql(http, acme, items, **mine).json()["data"]
    assert data["change"] == {"id": "a0", "title": "a0"}
    assert data["service"] == {"name": "billing", "deploys": 4}
    assert None not in data.values()
    # The platform team reads none of Ben's rows, nor repositories (org-wide only).
    bens = {**mine, "c": "b0"}
    assert list(gql(http, plat, items, **bens).json()["data"].values()) == [None] * 6
    r = gql(http, plat, '{ changes(team: "payments") { edges { cursor } } }').json()
    assert r["errors"][0]["extensions"]["code"] == "forbidden"
    # A cursor of another org (or list) is refused and tells nothing.
    cursor = get(http, "/api/v1/changes", token(database, "globex"), limit=1).json()["next_cursor"]
    r = gql(http, acme, "query C($a: String) { changes(after: $a) { edges { cursor } } }",
            a=cursor).json()  # fmt: skip
    assert r["data"] is None
    assert r["errors"][0]["message"] == "cursor is not one this API gave for this list"
    assert r["errors"][0]["extensions"] == {"code": "invalid"}


def test_nested_fields_are_read_once_per_level(
    http: TestClient, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    by_ids = resources.by_ids

    async def counted(conn: Any, resource: resources.Resource, ids: list[str]) -> Any:
        calls.append((resource.name, len(ids)))
        return await by_ids(conn, resource, ids)

    monkeypatch.setattr(resources, "by_ids", counted)
    q = """{
      changes(first: 20) { edges { node { id repo { id fullName } } } }
      incidents { edges { node { id deploy { id service repo { fullName } } } } }
      pipelineRuns { edges { node { id repo { id } } } }
    }"""
    r = gql(http, token(database, "acme"), q)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    changes = {e["node"]["id"]: e["node"]["repo"] for e in data["changes"]["edges"]}
    assert len(changes) == 11
    assert changes["o1"] == {"id": "github:2", "fullName": "acme/web"}
    assert changes["a0"] == {"id": "github:1", "fullName": "acme/api"}
    deploys = {e["node"]["id"]: e["node"]["deploy"] for e in data["incidents"]["edges"]}
    api = {"fullName": "acme/api"}
    assert deploys == {"i1": {"id": "db1", "service": "billing", "repo": api},
                       "i2": {"id": "da2", "service": "api", "repo": api}}  # fmt: skip
    # One read of repositories for the three lists' items (the first level), one of the
    # incidents' deployments: not one per item.
    assert sorted(calls) == [("deploys", 2), ("repos", 2)]
    # A team token reads no repositories: the nested field is null, not an error.
    calls.clear()
    r = gql(http, token(database, "acme", teams=("data",)), q).json()
    assert "errors" not in r
    assert {e["node"]["repo"] is None for e in r["data"]["changes"]["edges"]} == {True}
    assert r["data"]["incidents"]["edges"][0]["node"]["deploy"]["id"] == "da2"


def test_pages_cost_their_size(http: TestClient, database: str) -> None:
    tok = token(database, "acme")
    # A page of 1,000 and the repository of each: 2,000 of the 5,000 allowed; three such
    # pages are too many.
    one = "changes(first: 1000) { edges { node { id repo { id } } } }"
    assert gql(http, tok, f"{{ {one} }}").status_code == 200
    three = (f"{{ {one} deploys(first: 1000) {{ edges {{ node {{ id repo {{ id }} }} }} }}"
             " pipelineRuns(first: 1000) { edges { node { id repo { id } } } } }")  # fmt: skip
    r = gql(http, tok, three)
    assert r.status_code == 400
    assert "cost" in r.json()["errors"][0]["message"].lower()
    r = gql(http, tok, "{ changes(first: 1001) { edges { cursor } } }").json()
    assert r["errors"][0]["message"] == "limit must be 1 to 1000"
    r = gql(http, tok, "{ changes(first: 1000) { edges { node { id } } } }")
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]["changes"]["edges"]) == 11


def test_one_audit_row_per_operation(http: TestClient, database: str) -> None:
    tok = token(database, "acme", role="viewer")
    q = """query Recent { deploys(first: 3) { edges { node { id repo { id } } } }
                          services { edges { node { name } } } }"""
    assert gql(http, tok, q).status_code == 200
    with psycopg.connect(database, autocommit=True) as conn:
        rows = audit.tail(conn, "acme")
    assert [(r["interface"], r["operation"], r["outcome"]) for r in rows] == [
        ("graphql", "Recent", "ok")]  # fmt: skip
    assert rows[0]["row_count"] == 3 + 1 + 2  # three deploys, their repository, two services


def test_a_repositorys_changes_one_query_per_level(
    http: TestClient, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    pages_by_repo = resources.pages_by_repo

    async def counted(conn: Any, caller: Any, ids: list[str], params: dict[str, str]) -> Any:
        calls.append(sorted(ids))
        return await pages_by_repo(conn, caller, ids, params)

    monkeypatch.setattr(resources, "pages_by_repo", counted)
    tok = token(database, "acme")
    q = """{ repos { edges { node { id changes(first: 2) {
              edges { node { id } } pageInfo { hasNextPage endCursor } } } } } }"""
    r = gql(http, tok, q)
    assert r.status_code == 200, r.text
    repos = {e["node"]["id"]: e["node"]["changes"] for e in r.json()["data"]["repos"]["edges"]}
    assert calls == [["github:1", "github:2"]]
    rest = get(http, "/api/v1/changes", tok, repo="github:1", limit=2).json()
    assert [e["node"]["id"] for e in repos["github:1"]["edges"]] == ids(rest["items"], "changes")
    assert repos["github:1"]["pageInfo"] == {"hasNextPage": True,
                                             "endCursor": rest["next_cursor"]}  # fmt: skip
    assert [e["node"]["id"] for e in repos["github:2"]["edges"]] == ["o1"]
    assert repos["github:2"]["pageInfo"]["hasNextPage"] is False
    # The next page of one repository, from its end cursor, is REST's next page.
    q = """query Next($after: String) { repo(id: "github:1") {
             changes(first: 2, after: $after) { edges { node { id } } } } }"""
    page = gql(http, tok, q, after=rest["next_cursor"]).json()["data"]["repo"]["changes"]
    following = get(http, "/api/v1/changes", tok, repo="github:1", limit=2,
                    cursor=rest["next_cursor"]).json()  # fmt: skip
    assert [e["node"]["id"] for e in page["edges"]] == ids(following["items"], "changes")
    # A page of pages costs their product.
    r = gql(http, tok, "{ repos(first: 100) { edges { node { changes(first: 100) { "
            "edges { cursor } } } } } }")  # fmt: skip
    assert r.status_code == 400
    assert "cost" in r.json()["errors"][0]["message"].lower()
