"""The MCP servers, driven through the official SDK's clients (Streamable HTTP and SSE)
against the app served by a real uvicorn on a free port: two orgs, nested teams, every
role. A caller sees and calls only the tools its role allows (a hidden tool is an
unknown one), reads exactly its scope, gets the same answers as REST and POST
/api/v1/sql, and every call is in the audit log. Unauthenticated, query-string-token and
foreign-host requests are refused with the statuses the spec asks for."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import httpx
import httpx2
import psycopg
import pytest
import uvicorn
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from db.embedded import ServerInfo
from db.queries import QUERIES
from qdx.settings import Settings
from tests.conftest import _janitor
from tests.helpers import free_port
from tests.metrics_helpers import World, acme_with_teams, at
from web.app import create_app
from web.mcp_server.gate import _allowed, metadata_url, transport_security
from web.mcp_server.toolbox import ScopedServer, Toolbox
from web.tokens import issue_token

WINDOW = "2026-01-01..2026-06-30"
TRANSPORTS = ("http", "sse")
VIEWER_TOOLS = {
    "metrics": ["explain_metric", "get_metric", "list_metrics"],
    "incidents": ["get_incident", "recovery_stats", "search_incidents"],
    "people": [],
    "sql": [],
}
ANALYST_TOOLS = {
    **VIEWER_TOOLS,
    "people": ["resolve_person", "team_members", "team_tree"],
    "sql": ["describe_table", "list_tables", "run_sql"],
}


class Served:
    """The app on a real port, its database and settings."""

    def __init__(self, database: str, port: int) -> None:
        self.database = database
        self.url = f"http://127.0.0.1:{port}"
        self.settings = Settings.from_env({"QDX_PORT": str(port)})

    def token(
        self,
        org: str,
        role: str = "viewer",
        teams: tuple[str, ...] = (),
        audience: str | None = None,
    ) -> str:
        with psycopg.connect(self.database) as conn:
            value, _ = issue_token(
                conn,
                org=org,
                teams=list(teams),
                role=role,
                ttl=timedelta(minutes=10),
                subject=f"agent:{role}",
                issuer=self.settings.jwt_issuer,
                audience=audience or self.settings.jwt_audience,
            )
        return value

    def transport(self, kind: str, server: str, token: str) -> AbstractAsyncContextManager[Any]:
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "sse":
            return sse_client(f"{self.url}/mcp/{server}/sse", headers=headers)
        return _streamable(f"{self.url}/mcp/{server}", headers)

    def session(self, kind: str, server: str, token: str) -> Client:
        return Client(self.transport(kind, server, token))


@asynccontextmanager
async def _streamable(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


def _world(conn: psycopg.Connection[Any]) -> dict[str, World]:
    """acme: eng > platform > data, and payments; Ana (data) and Ben (payments) with
    changes, deployments and two incidents (one attributed to Ben's deployment by
    name). globex: its own team, person, changes and incident."""
    acme = acme_with_teams(conn)
    for i in range(6):
        acme.change(
            f"a{i}",
            author="github:ana",
            first_commit=at(-20 + i, hours=-5),
            merged=at(-20 + i),
            merge_sha=f"a{i}sha",
        )
        acme.deploy(f"da{i}", at(-20 + i, hours=2), commit=f"a{i}sha")
    for i in range(4):
        acme.change(
            f"b{i}",
            author="github:ben",
            first_commit=at(-10 + i, hours=-9),
            merged=at(-10 + i),
            merge_sha=f"b{i}sha",
        )
        acme.deploy(f"db{i}", at(-10 + i, hours=3), commit=f"b{i}sha")
    acme.incident("i1", at(-8), at(-7), links=("deploy:db1",), severity="SEV2")
    acme.incident("i2", at(-30), at(-29, hours=6), service="web", severity="SEV4")
    acme.refresh()
    globex = World(conn, "globex")
    globex.team("eng")
    globex.member("eng", globex.person("Gus", "github:gus"), at(-60))
    globex.repo("github:9", "globex/core")
    for i in range(9):
        globex.change(f"g{i}", author="github:gus", repo="github:9", merged=at(-15 + i))
    globex.incident("gi1", at(-9), at(-8), severity="SEV1")
    globex.refresh()
    return {"acme": acme, "globex": globex}


@pytest.fixture(scope="module")
def served(pg_server: ServerInfo, template: str) -> Iterator[Served]:
    """One database and one server for the module (the tests only read)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    with _janitor(pg_server, name, template):
        database = pg_server.conninfo(name)
        with psycopg.connect(database, autocommit=True) as conn:
            _world(conn)
        port = free_port()
        app = Served(database, port)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(app.settings, database),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        try:
            yield app
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())  # type: ignore[arg-type]


def rest(served: Served, path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(
        served.url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def call(
    served: Served,
    kind: str,
    server: str,
    token: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
) -> CallToolResult:
    async def go() -> CallToolResult:
        async with served.session(kind, server, token) as client:
            return await client.call_tool(tool, arguments or {})

    result: CallToolResult = run(go)
    return result


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.content
    assert result.content[0].type == "text"
    assert result.content[0].text
    return result.structured_content


def error(result: CallToolResult) -> str:
    """The message of a failed call, without the SDK's "Error executing tool <name>: "."""
    assert result.is_error
    text = result.content[0]
    assert text.type == "text"
    return re.sub(r"^Error executing tool [a-z_]+: ", "", text.text)


def tools(served: Served, kind: str, server: str, token: str) -> list[str]:
    async def go() -> list[str]:
        async with served.session(kind, server, token) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)

    names: list[str] = run(go)
    return names


def audit_rows(served: Served, org: str, since: int) -> list[tuple[Any, ...]]:
    with psycopg.connect(served.database) as conn:
        return conn.execute(
            "SELECT l.interface, l.operation, l.row_count, l.outcome, l.arguments, l.statement"
            " FROM audit.read_log l JOIN auth.orgs o USING (org_id)"
            " WHERE o.slug = %s AND l.seq > %s ORDER BY l.seq",
            (org, since),
        ).fetchall()


def audit_head(served: Served, org: str) -> int:
    with psycopg.connect(served.database) as conn:
        row = conn.execute(
            "SELECT coalesce(max(l.seq), 0) FROM audit.read_log l JOIN"
            " auth.orgs o USING (org_id) WHERE o.slug = %s",
            (org,),
        ).fetchone()
    assert row is not None
    return int(row[0])


# --- tools per role ------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("role", ["viewer", "analyst", "admin", "service"])
def test_tools_list_shows_what_the_role_allows(served: Served, kind: str, role: str) -> None:
    token = served.token("acme", role)
    expected = VIEWER_TOOLS if role == "viewer" else ANALYST_TOOLS
    for server, names in expected.items():
        assert tools(served, kind, server, token) == names, (server, role)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_hidden_tool_fails_like_an_unknown_one(served: Served, kind: str) -> None:
    viewer = served.token("acme", "viewer")
    hidden = call(served, kind, "sql", viewer, "run_sql", {"query": "SELECT 1"})
    unknown = call(served, kind, "sql", viewer, "run_sqlx", {"query": "SELECT 1"})
    assert error(hidden) == "Unknown tool: run_sql"
    assert error(unknown) == "Unknown tool: run_sqlx"
    assert hidden.model_dump(exclude={"content"}) == unknown.model_dump(exclude={"content"})
    # Not even a validation error gives it away.
    bad = call(served, kind, "people", viewer, "team_members", {"team": 5, "limit": "x"})
    assert error(bad) == "Unknown tool: team_members"


# --- metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_get_metric_equals_rest_for_each_org_and_team(served: Served, kind: str) -> None:
    cases = [
        ("acme", (), {"metric": "merged_changes", "window": WINDOW}, 10),
        ("acme", (), {"metric": "merged_changes", "window": WINDOW, "team": "platform"}, 6),
        ("acme", ("payments",), {"metric": "merged_changes", "window": WINDOW}, 4),
        ("globex", (), {"metric": "merged_changes", "window": WINDOW}, 9),
    ]
    for org, teams, args, value in cases:
        token = served.token(org, "viewer", teams)
        body = ok(call(served, kind, "metrics", token, "get_metric", args))
        assert body["series"][0]["value"] == value, (org, teams, args)
        params = {k: v for k, v in args.items() if k != "metric"}
        answer = rest(served, f"/api/v1/metrics/{args['metric']}", token, **params)
        assert answer.status_code == 200
        assert body == answer.json()
    token = served.token("acme")
    args = {
        "metric": "change_lead_time",
        "window": WINDOW,
        "granularity": "week",
        "aggregation": "p90",
    }
    body = ok(call(served, kind, "metrics", token, "get_metric", args))
    assert (
        body
        == rest(
            served,
            "/api/v1/metrics/change_lead_time",
            token,
            window=WINDOW,
            granularity="week",
            aggregation="p90",
        ).json()
    )
    assert len(body["series"]) == 27


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_list_and_explain_metric_equal_rest_and_page(served: Served, kind: str) -> None:
    token = served.token("acme", "viewer", ("platform",))
    listed = ok(call(served, kind, "metrics", token, "list_metrics"))
    assert listed == rest(served, "/api/v1/metrics", token).json()
    seen, cursor = [], None
    while True:
        args: dict[str, Any] = {"metric": "merged_changes", "window": WINDOW, "limit": 4}
        if cursor:
            args["cursor"] = cursor
        body = ok(call(served, kind, "metrics", token, "explain_metric", args))
        params = {k: v for k, v in args.items() if k != "metric"}
        assert (
            body == rest(served, "/api/v1/metrics/merged_changes/explain", token, **params).json()
        )
        seen += [i["entity_id"] for i in body["items"]]
        cursor = body["page_info"]["end_cursor"]
        if not body["page_info"]["has_next_page"]:
            break
    # The platform token: Ana's six changes, none of Ben's, none of globex's.
    assert sorted(seen) == [f"a{i}" for i in range(6)]


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_metric_scope_and_errors(served: Served, kind: str) -> None:
    plat = served.token("acme", "viewer", ("platform",))
    refused = call(
        served,
        kind,
        "metrics",
        plat,
        "get_metric",
        {"metric": "merged_changes", "window": WINDOW, "team": "payments"},
    )
    assert error(refused) == "team payments is not among this token's teams or below them"
    acme = served.token("acme", "admin")
    # Another org's team or repository is simply unknown.
    missing = call(
        served,
        kind,
        "metrics",
        acme,
        "get_metric",
        {"metric": "merged_changes", "window": WINDOW, "repo": "globex/core"},
    )
    assert error(missing).startswith("no repository globex/core in org ")
    wrong = call(served, kind, "metrics", acme, "get_metric", {"metric": "nope"})
    assert "no metric nope (metrics: " in error(wrong)
    bad = call(
        served,
        kind,
        "metrics",
        acme,
        "get_metric",
        {"metric": "merged_changes", "granularity": "hourly"},
    )
    message = error(bad)
    assert "granularity" in message
    assert "'window', 'day', 'week', 'month' or 'quarter'" in message


# --- incidents -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_search_incidents_by_severity_scope_and_pages(served: Served, kind: str) -> None:
    acme = served.token("acme")
    body = ok(call(served, kind, "incidents", acme, "search_incidents", {}))
    assert [i["incident_id"] for i in body["incidents"]] == ["i1", "i2"]
    severe = ok(call(served, kind, "incidents", acme, "search_incidents", {"severity": ">=SEV2"}))
    assert [i["incident_id"] for i in severe["incidents"]] == ["i1"]
    mild = ok(call(served, kind, "incidents", acme, "search_incidents", {"severity": "<SEV3"}))
    assert [i["incident_id"] for i in mild["incidents"]] == ["i2"]
    first = ok(call(served, kind, "incidents", acme, "search_incidents", {"limit": 1}))
    assert [i["incident_id"] for i in first["incidents"]] == ["i1"]
    second = ok(
        call(
            served,
            kind,
            "incidents",
            acme,
            "search_incidents",
            {"limit": 1, "cursor": first["next_cursor"]},
        )
    )
    assert [i["incident_id"] for i in second["incidents"]] == ["i2"]
    assert second["next_cursor"] is None
    # globex sees its own only; a payments token only the incident of its deployment.
    globex = ok(call(served, kind, "incidents", served.token("globex"), "search_incidents", {}))
    assert [i["incident_id"] for i in globex["incidents"]] == ["gi1"]
    pay = served.token("acme", "viewer", ("payments",))
    assert [
        i["incident_id"]
        for i in ok(call(served, kind, "incidents", pay, "search_incidents", {}))["incidents"]
    ] == ["i1"]
    wrong = call(served, kind, "incidents", acme, "search_incidents", {"severity": "high"})
    assert "is not a severity expression: use SEV1 to SEV5" in error(wrong)
    for args, ids in (
        ({"service": "web"}, ["i2"]),
        ({"text": "API IS"}, ["i1"]),
        ({"status": "resolved"}, ["i1", "i2"]),
        ({"status": "triggered"}, []),
        ({"since": "2026-02-10"}, ["i1"]),
        ({"since": "3650d", "severity": "=SEV4"}, ["i2"]),
    ):
        found = ok(call(served, kind, "incidents", acme, "search_incidents", args))
        assert [i["incident_id"] for i in found["incidents"]] == ids, args
    when = call(served, kind, "incidents", acme, "search_incidents", {"since": "lately"})
    assert error(when).startswith("since lately is neither an ISO date or time")
    stale = call(served, kind, "incidents", acme, "search_incidents", {"cursor": "zz"})
    assert error(stale) == "cursor is not one this API gave"
    # The largest page (which reads one row more to tell whether more follow).
    largest = ok(call(served, kind, "incidents", acme, "search_incidents", {"limit": 1000}))
    assert largest["incidents"] == body["incidents"]


@pytest.mark.parametrize("token", [("acme",), ("acme", "viewer", ("payments",)), ("globex",)])
def test_search_incidents_equals_the_rest_incident_list(served: Served, token: tuple[Any, ...]
                                                         ) -> None:  # fmt: skip
    """search_incidents and GET /api/v1/incidents answer the same question with the same
    incidents in the same order (both read api.list_incidents)."""
    tok = served.token(*token)
    for args in ({}, {"severity": ">=SEV2"}, {"severity": "SEV4"}, {"service": "web"},
                 {"text": "api is"}, {"status": "resolved"},
                 {"since": "2026-02-10", "severity": "<=SEV4"}):  # fmt: skip
        found = ok(call(served, "http", "incidents", tok, "search_incidents", args))
        listed = rest(served, "/api/v1/incidents", tok, limit=1000, **args)
        assert listed.status_code == 200, listed.text
        assert [i["incident_id"] for i in found["incidents"]] == [
            i["incident_id"] for i in listed.json()["items"]
        ], args


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_get_incident_with_timeline_and_attribution(served: Served, kind: str) -> None:
    acme = served.token("acme")
    body = ok(call(served, kind, "incidents", acme, "get_incident", {"id": "i1"}))
    assert [e["event"] for e in body["timeline"]] == ["opened", "resolved"]
    assert body["restore_hours"] == 24
    (deploy,) = body["attributed_to"]
    assert (deploy["deploy_id"], deploy["rule"]) == ("db1", "explicit")
    assert deploy["why"].startswith("the incident names this deployment")
    # Another org's incident, or one outside a team's scope, does not exist for the caller.
    for token, other in ((acme, "gi1"), (served.token("acme", "viewer", ("platform",)), "i1")):
        assert (
            error(call(served, kind, "incidents", token, "get_incident", {"id": other}))
            == f"no incident {other}"
        )


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_recovery_stats_agree_with_time_to_restore(served: Served, kind: str) -> None:
    acme = served.token("acme")
    body = ok(call(served, kind, "incidents", acme, "recovery_stats", {"window": WINDOW}))
    assert body["overall"]["incidents"] == 2
    assert {s["severity"]: s["incidents"] for s in body["by_severity"]} == {"SEV2": 1, "SEV4": 1}
    metric = ok(
        call(
            served,
            kind,
            "metrics",
            acme,
            "get_metric",
            {"metric": "time_to_restore", "window": WINDOW},
        )
    )
    assert body["overall"]["median_hours"] == metric["series"][0]["value"]
    plat = served.token("acme", "viewer", ("platform",))
    refused = call(served, kind, "incidents", plat, "recovery_stats", {"team": "payments"})
    assert "not among this token's teams" in error(refused)


# --- people ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_people_tools_for_analysts_within_scope(served: Served, kind: str) -> None:
    analyst = served.token("acme", "analyst")
    (ben,) = ok(call(served, kind, "people", analyst, "resolve_person", {"login": "ben"}))[
        "persons"
    ]
    assert ben["display_name"] == "Ben"
    assert [a["actor_id"] for a in ben["accounts"]] == ["github:ben"]
    assert ben["current_teams"] == ["payments"]
    assert ben["tenure"]["source"] == "team membership"
    by_name = ok(call(served, kind, "people", analyst, "resolve_person", {"name": "ben"}))
    assert by_name["persons"] == [ben]
    assert (
        error(call(served, kind, "people", analyst, "resolve_person", {"login": "gus"}))
        == "no person with login gus"
    )
    assert error(
        call(served, kind, "people", analyst, "resolve_person", {"login": "ben", "name": "Ben"})
    ).startswith("give exactly one of")
    tree = ok(call(served, kind, "people", analyst, "team_tree", {}))
    assert [t["path"] for t in tree["teams"]] == [
        "eng",
        "eng/platform",
        "eng/platform/data",
        "payments",
    ]
    members = ok(call(served, kind, "people", analyst, "team_members", {"team": "data"}))
    assert [m["display_name"] for m in members["members"]] == ["Ana"]
    # The largest page (which reads one row more to tell whether more follow).
    largest = ok(call(served, kind, "people", analyst, "team_members",
                      {"team": "data", "limit": 1000}))  # fmt: skip
    assert largest["members"] == members["members"]
    before = ok(
        call(
            served,
            kind,
            "people",
            analyst,
            "team_members",
            {"team": "data", "at": "2025-01-01T00:00:00Z"},
        )
    )
    assert before["members"] == []
    # A platform analyst sees its subtree and the people who were on it.
    plat = served.token("acme", "analyst", ("platform",))
    tree = ok(call(served, kind, "people", plat, "team_tree", {}))
    assert [t["path"] for t in tree["teams"]] == ["platform", "platform/data"]
    assert (
        error(call(served, kind, "people", plat, "resolve_person", {"login": "ben"}))
        == "no person with login ben"
    )
    assert (
        error(call(served, kind, "people", plat, "team_members", {"team": "payments"}))
        == "no team payments (see team_tree)"
    )
    globex = served.token("globex", "analyst")
    (gus,) = ok(call(served, kind, "people", globex, "resolve_person", {"login": "gus"}))["persons"]
    assert gus["current_teams"] == ["eng"]


# --- sql ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_run_sql_equals_post_sql(served: Served, kind: str) -> None:
    for org, teams, count in (("acme", (), 2), ("acme", ("payments",), 1), ("globex", (), 1)):
        token = served.token(org, "analyst", teams)
        query = "SELECT incident_id, severity FROM api.incidents ORDER BY 1"
        body = ok(call(served, kind, "sql", token, "run_sql", {"query": query}))
        answer = httpx.post(
            served.url + "/api/v1/sql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200
        assert body == answer.json()
        assert body["row_count"] == count
    token = served.token("acme", "analyst")
    for query, message in (
        ("CREATE TABLE x (a int)", "only reads are allowed"),
        ("SELECT 1; SELECT 2", "send one statement at a time"),
        ("SELECT * FROM core.incidents", "permission denied"),
    ):
        refused = error(call(served, kind, "sql", token, "run_sql", {"query": query}))
        answer = httpx.post(
            served.url + "/api/v1/sql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert message in refused
        assert refused == answer.json()["message"]


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_list_and_describe_tables(served: Served, kind: str) -> None:
    token = served.token("acme", "analyst")
    listed = ok(call(served, kind, "sql", token, "list_tables"))
    names = [t["name"] for t in listed["tables"]]
    assert "api.incidents" in names
    assert "api.teams" in names
    assert not any(n.startswith(("core.", "auth.")) for n in names)
    described = ok(call(served, kind, "sql", token, "describe_table", {"name": "api.incidents"}))
    assert [c["name"] for c in described["columns"]][:3] == ["incident_id", "provider", "kind"]
    missing = error(call(served, kind, "sql", token, "describe_table", {"name": "core.incidents"}))
    assert missing.startswith("no table core.incidents: these can be queried: api.")


# --- the audit log -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_tool_call_is_audited(served: Served, kind: str) -> None:
    head, other = audit_head(served, "acme"), audit_head(served, "globex")
    analyst = served.token("acme", "analyst")
    ok(
        call(
            served,
            kind,
            "metrics",
            analyst,
            "get_metric",
            {"metric": "merged_changes", "window": WINDOW},
        )
    )
    error(call(served, kind, "incidents", analyst, "get_incident", {"id": "nope"}))
    ok(call(served, kind, "sql", analyst, "run_sql", {"query": "SELECT 1 AS one"}))
    ok(call(served, kind, "people", analyst, "team_tree", {}))
    # Calls no tool ran for are logged too: a schema-refused argument, an unknown tool,
    # a tool the role may not see.
    error(call(served, kind, "people", analyst, "team_members", {"team": "data", "limit": 0}))
    error(call(served, kind, "metrics", analyst, "get_metrics", {}))
    error(call(served, kind, "sql", served.token("acme"), "run_sql", {"query": "SELECT 2"}))
    rows = audit_rows(served, "acme", head)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("mcp", "metrics/get_metric", 1, "ok"),
        ("mcp", "incidents/get_incident", None, "invalid P0002"),
        ("mcp", "sql/run_sql", 1, "ok"),
        ("mcp", "people/team_tree", 4, "ok"),
        ("mcp", "people/team_members", None, "invalid"),
        ("mcp", "metrics/get_metrics", None, "invalid"),
        ("mcp", "sql/run_sql", None, "invalid"),
    ]
    assert rows[4][4] == {"team": "data", "limit": 0}
    assert rows[6][5] is None  # (the statement of a call that ran nothing)
    assert rows[0][4]["metric"] == "merged_changes"
    assert rows[2][5] == "SELECT 1 AS one"
    # globex's log holds none of it.
    assert audit_rows(served, "globex", other) == []


# --- the gate --------------------------------------------------------------------------


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("server", ["metrics", "incidents", "people", "sql"])
def test_without_a_token_401_points_at_the_resource_metadata(served: Served, server: str) -> None:
    for method, path in (("POST", f"/mcp/{server}"), ("GET", f"/mcp/{server}/sse")):
        r = httpx.request(method, served.url + path, json=INITIALIZE, headers=HEADERS)
        assert r.status_code == 401
        challenge = r.headers["www-authenticate"]
        meta = f"{served.url}/.well-known/oauth-protected-resource/mcp/{server}"
        assert challenge == f'Bearer realm="quantum-dx", resource_metadata="{meta}"'
        document = httpx.get(meta).json()
        assert document["resource"] == f"{served.url}/mcp/{server}"
        assert document["bearer_methods_supported"] == ["header"]


def test_bad_tokens_are_refused(served: Served) -> None:
    good = served.token("acme")
    other = served.token("acme", audience="https://elsewhere.example")
    _header, payload, _sig = good.split(".")
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = none_header.rstrip(b"=").decode() + "." + payload + "."
    # Key confusion: HS256 with the public key as the secret.
    with psycopg.connect(served.database) as conn:
        kid, _alg, pem = conn.execute(QUERIES["verification_keys"]).fetchall()[0]
    hs_header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid}).encode())
    signing_input = hs_header.rstrip(b"=").decode() + "." + payload
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    confused = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    for token, reason in (
        (confused, "token not signed with EdDSA"),
        (other, "token is for another audience"),
        (unsigned, "token not signed with EdDSA"),
        (good[:-4] + "AAAA", "bad token signature"),
    ):
        r = httpx.post(
            served.url + "/mcp/metrics",
            json=INITIALIZE,
            headers={**HEADERS, "Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 401, reason
        assert f'error_description="{reason}"' in r.headers["www-authenticate"]
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = httpx.post(
        served.url + "/mcp/metrics", params={"access_token": good}, json=INITIALIZE, headers=HEADERS
    )
    assert r.status_code == 400
    assert "tokens are not accepted in the query string" in r.json()["message"]


def test_foreign_hosts_and_origins_are_refused(served: Served) -> None:
    auth = {**HEADERS, "Authorization": f"Bearer {served.token('acme')}"}
    r = httpx.post(
        served.url + "/mcp/metrics", json=INITIALIZE, headers={**auth, "Host": "evil.example"}
    )
    assert r.status_code == 421
    assert "QDX_MCP_ALLOWED_HOSTS" in r.json()["message"]
    r = httpx.post(
        served.url + "/mcp/metrics",
        json=INITIALIZE,
        headers={**auth, "Origin": "http://evil.example"},
    )
    assert r.status_code == 403
    assert "QDX_MCP_ALLOWED_ORIGINS" in r.json()["message"]
    r = httpx.post(
        served.url + "/mcp/metrics", json=INITIALIZE, headers={**auth, "Origin": served.url}
    )
    assert r.status_code == 200


def test_allowed_hosts_and_origins_come_from_settings() -> None:
    s = Settings.from_env(
        {
            "QDX_PUBLIC_URL": "https://dx.example.com",
            "QDX_MCP_ALLOWED_HOSTS": "mcp.internal:*",
            "QDX_MCP_ALLOWED_ORIGINS": "https://app.example.com",
        }
    )
    security = transport_security(s)
    for host, accepted in (
        ("dx.example.com", True),
        ("127.0.0.1:8000", True),
        ("localhost:3", True),
        ("mcp.internal:9000", True),
        ("mcp.internal:x", False),
        ("evil.example", False),
        ("dx.example.com.evil.example", False),
    ):
        assert _allowed(host, security.allowed_hosts) is accepted, host
    for origin, accepted in (
        ("https://dx.example.com", True),
        ("https://app.example.com", True),
        ("http://localhost:5173", True),
        ("https://evil.example", False),
        ("http://dx.example.com", False),
    ):
        assert _allowed(origin, security.allowed_origins) is accepted, origin
    assert metadata_url(s, "sql") == (
        "https://dx.example.com/.well-known/oauth-protected-resource/mcp/sql"
    )


def test_stateless_streamable_http_get_and_delete(served: Served) -> None:
    auth = {**HEADERS, "Authorization": f"Bearer {served.token('acme')}"}
    r = httpx.post(served.url + "/mcp/metrics", json=INITIALIZE, headers=auth)
    assert r.status_code == 200
    assert "mcp-session-id" not in r.headers  # stateless: any worker answers
    r = httpx.get(served.url + "/mcp/metrics", headers=auth)
    assert (r.status_code, r.headers["allow"]) == (405, "POST, DELETE")
    assert httpx.delete(served.url + "/mcp/metrics", headers=auth).status_code == 405
    # Unauthenticated, they are 401 like any request.
    assert httpx.get(served.url + "/mcp/metrics").status_code == 401


def test_servers_open_no_tracing_span_per_message() -> None:
    # (the SDK's no-op OpenTelemetry span cost 2-3.5% of the web's CPU per call; its
    # request-state boundary stays)
    server = ScopedServer("quantum-metrics", cast(Toolbox, None))
    kinds = [type(m).__name__ for m in server.middleware]
    assert "OpenTelemetryMiddleware" not in kinds
    assert "RequestStateBoundary" in kinds


def test_an_sse_session_answers_its_own_caller_only(served: Served) -> None:
    acme, globex = served.token("acme"), served.token("globex")
    found: list[str] = []

    async def go() -> None:
        async with sse_client(
            f"{served.url}/mcp/metrics/sse",
            headers={"Authorization": f"Bearer {acme}"},
            on_session_created=found.append,
        ):
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    f"{served.url}/mcp/metrics/messages/?session_id={found[0]}",
                    json=INITIALIZE,
                    headers={"Authorization": f"Bearer {globex}"},
                )
            assert r.status_code == 404

    run(go)
    assert found
