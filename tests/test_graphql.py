"""GraphQL at /graphql: the same reads as REST (same numbers), the team tree without a
query per team, cursor pages, token scope, depth and cost limits with clear errors,
no SQL or trace in errors, one audit row per operation, and the explorer on GET."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from db import audit
from tests.metrics_helpers import World
from tests.test_rest import SETTINGS, WINDOW, get, token
from tests.test_rest import orgs as orgs  # the same two orgs
from web.app import create_app


@pytest.fixture
def http(database: str, orgs: dict[str, World]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def gql(http: TestClient, tok: str | None, query: str, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


SERIES = """query Lead($team: String, $window: String) {
  metric(name: "change_lead_time", scope: {team: $team}, window: $window, granularity: MONTH) {
    unit aggregation points { periodStart value sampleSize tier tierYear }
  }
}"""


def test_graphql_gives_the_rest_numbers(http: TestClient, database: str) -> None:
    tok = token(database, "acme")
    r = gql(http, tok, SERIES, team="platform", window=WINDOW)
    assert r.status_code == 200, r.text
    points = r.json()["data"]["metric"]["points"]
    rest = get(http, "/api/v1/metrics/change_lead_time", tok, team="platform", window=WINDOW,
               granularity="month").json()["series"]  # fmt: skip
    assert [(p["value"], p["sampleSize"]) for p in points] == [
        (p["value"], p["sample_size"]) for p in rest]  # fmt: skip
    assert any(p["value"] is not None for p in points)
    names = gql(http, tok, "{ metrics { name unit version benchmarkYears } }").json()
    assert len(names["data"]["metrics"]) == 13


def test_team_tree_and_scope(http: TestClient, database: str) -> None:
    tree = """{ teams { slug children { slug children { slug parent { slug } } } } }"""
    whole = gql(http, token(database, "acme"), tree).json()["data"]["teams"]
    assert [t["slug"] for t in whole] == ["eng", "payments"]
    eng = whole[0]
    assert eng["children"][0]["slug"] == "platform"
    assert eng["children"][0]["children"][0]["slug"] == "data"
    assert eng["children"][0]["children"][0]["parent"] == {"slug": "platform"}
    plat = token(database, "acme", teams=("platform",))
    mine = gql(http, plat, tree).json()["data"]["teams"]
    assert [t["slug"] for t in mine] == ["platform"]
    r = gql(http, plat, SERIES, team="payments", window=WINDOW).json()
    assert r["data"] is None
    assert "not among this token's teams" in r["errors"][0]["message"]
    assert r["errors"][0]["extensions"]["code"] == "forbidden"


def test_explain_pages(http: TestClient, database: str) -> None:
    q = """query Page($after: String, $window: String) {
      explain(metric: "merged_changes", window: $window, first: 4, after: $after) {
        edges { cursor node { entity entityId links } } pageInfo { hasNextPage endCursor }
      }
    }"""
    tok, seen, after = token(database, "acme"), [], None
    while True:
        page = gql(http, tok, q, after=after, window=WINDOW).json()["data"]["explain"]
        seen += [e["node"]["entityId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 10


def test_limits_and_errors(http: TestClient, database: str) -> None:
    tok = token(database, "acme")
    deep = "{ teams { " + "children { " * 9 + "slug" + " }" * 9 + " } }"
    r = gql(http, tok, deep).json()
    assert "at most 8 are allowed" in r["errors"][0]["message"]
    costly = '{ explain(metric: "merged_changes", first: 100000) { edges { cursor } } }'
    r = gql(http, tok, costly)
    assert "cost" in r.json()["errors"][0]["message"].lower()
    r = gql(http, tok, '{ metric(name: "velocity") { unit } }').json()
    assert r["errors"][0]["message"].startswith("no metric velocity (metrics: ")
    r = gql(http, tok, '{ metric(name: "change_lead_time", window: "soon") { unit } }').json()
    assert "window soon is not understood" in r["errors"][0]["message"]
    assert "SELECT" not in str(r)
    assert "Traceback" not in str(r)
    assert gql(http, None, "{ metrics { name } }").status_code == 401
    assert http.post("/graphql", content=b"nope", headers={
        "Authorization": f"Bearer {tok}"}).status_code == 400  # fmt: skip
    assert "GraphiQL" in http.get("/graphql").text or "graphiql" in http.get("/graphql").text


def test_one_audit_row_per_operation(http: TestClient, database: str) -> None:
    tok = token(database, "acme", role="analyst")
    assert gql(http, tok, SERIES, team="eng", window=WINDOW).status_code == 200
    with psycopg.connect(database, autocommit=True) as conn:
        rows = audit.tail(conn, "acme")
    assert [(r["interface"], r["operation"], r["outcome"]) for r in rows] == [
        ("graphql", "Lead", "ok")]  # fmt: skip
    assert rows[0]["arguments"]["variables"] == {"team": "eng", "window": WINDOW}
    assert rows[0]["row_count"] == 6


def test_the_explorers_introspection_is_answered(http: TestClient, database: str) -> None:
    from graphql import get_introspection_query

    r = gql(http, token(database, "acme"), get_introspection_query(descriptions=True))
    assert r.status_code == 200, r.text
    types = {t["name"] for t in r.json()["data"]["__schema"]["types"]}
    assert {"Query", "MetricSeries", "UnitConnection", "Team"} <= types
