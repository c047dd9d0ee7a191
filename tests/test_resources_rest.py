"""REST lists and items of changes, deployments, incidents, pipeline runs, repositories
and services (web/api/resources.py over sql/api/30_resources.sql), for two orgs and
nested teams, as each role: a caller reads exactly its scope (never another org's rows,
counts or ids, also not through cursors or ids), pages walk every row once even while
rows arrive, filters narrow as documented, bad input gets a clear 400, every call is
audited, and the list queries use their indexes under row-level security."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from db import audit
from db.scope import Scope, scoped
from tests.metrics_helpers import World, acme_with_teams, at
from tests.test_rest import SETTINGS, get, token
from web.app import create_app

PATHS = ("changes", "deploys", "incidents", "pipeline-runs", "repos", "services")
KEYS = {"changes": "change_id", "deploys": "deploy_id", "incidents": "incident_id",
        "pipeline-runs": "run_id", "repos": "repo_id", "services": "service"}  # fmt: skip
ROLES = ("viewer", "analyst", "admin", "service")


def run(
    w: World,
    run_id: str,
    commit: str | None,
    finished: Any,
    status: str = "success",
    branch: str = "main",
) -> None:
    w.conn.execute(
        "INSERT INTO core.pipeline_runs (org_id, run_id, provider, kind, repo_id, status,"
        " commit_sha, branch, started_at, finished_at) VALUES (%s, %s, 'github', 'pipeline',"
        " 'github:1', %s, %s, %s, %s, %s)",
        (w.org, run_id, status, commit, branch, finished, finished),
    )


@pytest.fixture
def world(database: str) -> dict[str, World]:
    """acme: eng > platform > data (Ana) and payments (Ben). Ana's six merged changes
    shipped by deploys da0-da5 (service api), Ben's four by db0-db3 (service billing), an
    open change of Ana's in acme/web, a deploy still running, incident i1 (billing,
    attributed to db1) and i2 (api, attributed to da2), pipeline runs of a0's and b0's
    merge commits and one of no change's. globex: its own rows of every kind, one change
    with an id acme also has (a0)."""
    with psycopg.connect(database, autocommit=True) as conn:
        acme = acme_with_teams(conn)
        acme.repo("github:2", "acme/web")
        for i in range(6):
            acme.change(f"a{i}", author="github:ana", first_commit=at(-20 + i, hours=-5),
                        merged=at(-20 + i), merge_sha=f"a{i}sha")  # fmt: skip
            acme.deploy(f"da{i}", at(-20 + i, hours=2), commit=f"a{i}sha")
        for i in range(4):
            acme.change(f"b{i}", author="github:ben", first_commit=at(-10 + i, hours=-9),
                        merged=at(-10 + i), merge_sha=f"b{i}sha")  # fmt: skip
            acme.deploy(f"db{i}", at(-10 + i, hours=3), commit=f"b{i}sha", service="billing")
        acme.change("o1", author="github:ana", repo="github:2", opened=at(-2))
        acme.deploy("dx", None, started=at(-1), environment="staging",
                    environment_class="staging", status="running")  # fmt: skip
        acme.incident("i1", at(-8), at(-7), service="billing", links=("deploy:db1",))
        acme.incident("i2", at(-17), at(-16), service="api", links=("deploy:da2",),
                      severity="SEV1")  # fmt: skip
        run(acme, "ra0", "a0sha", at(-20, hours=1))
        run(acme, "rb0", "b0sha", at(-10, hours=1), status="failure")
        run(acme, "rx", "nosuchsha", at(-3), branch="feature")
        acme.refresh()
        globex = World(conn, "globex")
        globex.team("eng")
        globex.repo("github:9", "globex/core")
        for i in range(3):
            globex.change(f"g{i}", author="github:gus", repo="github:9", merged=at(-15 + i),
                          merge_sha=f"g{i}sha")  # fmt: skip
            globex.deploy(f"dg{i}", at(-15 + i, hours=1), repo="github:9", commit=f"g{i}sha",
                          service="ledger")  # fmt: skip
        globex.change("a0", author="github:gus", repo="github:9", title="globex secret",
                      merged=at(-1))  # fmt: skip
        globex.incident("ig", at(-14), at(-13), service="ledger", links=("deploy:dg0",))
        run(globex, "rg", "g0sha", at(-15, hours=2))
        globex.refresh()
        return {"acme": acme, "globex": globex}


@pytest.fixture
def http(database: str, world: dict[str, World]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def owned(database: str, org: World, path: str) -> set[str]:
    """What the org has of a resource, read as the owner (no policies, no views)."""
    table, key = {"changes": ("core.changes", "change_id"),
                  "deploys": ("core.deploys", "deploy_id"),
                  "incidents": ("core.incidents", "incident_id"),
                  "pipeline-runs": ("core.pipeline_runs", "run_id"),
                  "repos": ("core.repos", "repo_id")}[path]  # fmt: skip
    with psycopg.connect(database) as conn:
        rows = conn.execute(f"SELECT {key} FROM {table} WHERE org_id = %s", (org.org,))
        return {r[0] for r in rows}


def walk(http: TestClient, tok: str, path: str, limit: int = 2, cursor: str | None = None,
         **params: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Every item of a list (after `cursor`), a page of `limit` at a time."""
    items: list[dict[str, Any]] = []
    for _ in range(100):
        r = get(http, f"/api/v1/{path}", tok, limit=limit,
                **params, **({"cursor": cursor} if cursor else {}))  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages do not end")


def ids(items: list[dict[str, Any]], path: str) -> list[str]:
    return [i[KEYS[path]] for i in items]


@pytest.mark.parametrize("role", ROLES)
def test_an_org_wide_caller_reads_its_org_whole(
    http: TestClient, database: str, world: dict[str, World], role: str
) -> None:
    for org in ("acme", "globex"):
        tok = token(database, org, role=role)
        for path in PATHS:
            items = walk(http, tok, path)
            got = ids(items, path)
            assert len(got) == len(set(got)), (org, path)
            if path == "services":
                expected = {"acme": ["api", "billing"], "globex": ["ledger"]}[org]
                assert got == expected
            else:
                assert set(got) == owned(database, world[org], path), (org, path)
    acme = token(database, "acme", role=role)
    services = {s["service"]: s for s in walk(http, acme, "services")}
    assert (services["api"]["deploys"], services["api"]["incidents"]) == (7, 1)
    assert (services["billing"]["deploys"], services["billing"]["incidents"]) == (4, 1)


@pytest.mark.parametrize("role", ROLES)
def test_a_team_caller_reads_its_subtree_only(http: TestClient, database: str, role: str) -> None:
    expected = {
        "changes": {f"a{i}" for i in range(6)}, "deploys": {f"da{i}" for i in range(6)},
        "incidents": {"i2"}, "pipeline-runs": {"ra0"}, "repos": set(), "services": {"api"},
    }  # fmt: skip
    for team in ("platform", "data", "eng"):
        tok = token(database, "acme", role=role, teams=(team,))
        for path in PATHS:
            assert set(ids(walk(http, tok, path), path)) == expected[path], (team, path)
    pay = token(database, "acme", role=role, teams=("payments",))
    assert set(ids(walk(http, pay, "changes"), "changes")) == {f"b{i}" for i in range(4)}
    assert ids(walk(http, pay, "incidents"), "incidents") == ["i1"]
    assert ids(walk(http, pay, "pipeline-runs"), "pipeline-runs") == ["rb0"]
    [billing] = walk(http, pay, "services")
    assert (billing["service"], billing["deploys"], billing["incidents"]) == ("billing", 4, 1)


def test_lists_are_newest_first_and_pages_walk_every_row_once(
    http: TestClient, database: str
) -> None:
    tok = token(database, "acme")
    for path, time in (("changes", "opened_at"), ("incidents", "opened_at"),
                       ("repos", "first_seen_at")):  # fmt: skip
        whole = get(http, f"/api/v1/{path}", tok, limit=1000).json()
        assert whole["next_cursor"] is None
        times = [i[time] for i in whole["items"]]
        assert times == sorted(times, reverse=True), path
        for limit in (1, 3):
            assert walk(http, tok, path, limit=limit) == whole["items"], (path, limit)
    deploys = walk(http, tok, "deploys", limit=4)
    # The running deploy (no finish) is listed by its start, the newest here.
    assert ids(deploys, "deploys")[:2] == ["dx", "db3"]
    assert ids(walk(http, tok, "services", limit=1), "services") == ["api", "billing"]


def test_a_page_holds_while_rows_arrive(
    http: TestClient, database: str, world: dict[str, World]
) -> None:
    tok = token(database, "acme")
    before = ids(walk(http, tok, "changes", limit=100), "changes")
    first = get(http, "/api/v1/changes", tok, limit=4).json()
    acme = world["acme"]
    with psycopg.connect(database, autocommit=True) as conn:
        acme.conn = conn  # (the fixture's connection is closed)
        acme.change("new", author="github:ana", opened=at(5))  # before the position
        acme.change("old", author="github:ana", opened=at(-90))  # after it
    rest = walk(http, tok, "changes", limit=3, cursor=first["next_cursor"])
    seen = ids(first["items"], "changes") + ids(rest, "changes")
    assert seen == [*before, "old"]


def test_filters(http: TestClient, database: str) -> None:
    tok = token(database, "acme", role="analyst")

    def listed(path: str, **params: Any) -> set[str]:
        return set(ids(walk(http, tok, path, limit=1000, **params), path))

    assert listed("changes", state="open") == {"o1"}
    assert listed("changes", repo="acme/web") == listed("changes", repo="github:2") == {"o1"}
    assert listed("changes", author="github:ben") == {f"b{i}" for i in range(4)}
    assert listed("changes", team="payments") == {f"b{i}" for i in range(4)}
    assert listed("changes", team="eng") == {f"a{i}" for i in range(6)}
    # b2 and b3 opened (first commit) 9 hours before their merge, days -8 and -7
    assert listed("changes", since=at(-9).isoformat(), until=at(-7).isoformat()) == {"b2", "b3"}
    assert listed("deploys", service="billing") == {f"db{i}" for i in range(4)}
    assert listed("deploys", environment="staging") == listed("deploys", status="running")
    assert listed("deploys", status="running") == {"dx"}
    assert listed("deploys", team="payments", since=at(-8).isoformat()) == {"db2", "db3"}
    assert listed("incidents", severity="SEV1") == listed("incidents", team="data") == {"i2"}
    assert listed("incidents", severity=">=SEV2") == {"i1", "i2"}
    assert listed("incidents", severity="<SEV1") == listed("incidents", severity="sev2") == {"i1"}
    assert listed("incidents", severity=">SEV1") == set()
    assert listed("incidents", text="BILLING") == {"i1"}
    assert listed("incidents", text="is_down") == set()
    assert listed("incidents", text="100%") == set()
    assert listed("incidents", service="billing", status="resolved") == {"i1"}
    assert listed("pipeline-runs", status="failure") == listed("pipeline-runs", team="payments")
    assert listed("pipeline-runs", branch="feature") == {"rx"}
    assert listed("pipeline-runs", repo="acme/api") == {"ra0", "rb0", "rx"}
    assert listed("repos", provider="github") == {"github:1", "github:2"}
    assert listed("repos", provider="gitlab") == set()
    assert listed("services", team="data") == {"api"}


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("changes", {"state": "shipped"}, 400, "no state shipped (state: open, merged, closed)"),
        ("deploys", {"status": "ok"}, 400,
         "no status ok (status: pending, running, success, failure, cancelled, unknown)"),
        ("incidents", {"severity": "P1"}, 400,
         "severity P1 is not a severity expression: use SEV1 to SEV5 (SEV1 is the most "
         "severe), optionally after >=, >, <=, < or = (\">=SEV2\" is SEV1 and SEV2)"),
        ("changes", {"limit": "0"}, 400, "limit must be 1 to 1000"),
        ("changes", {"limit": "1001"}, 400, "limit must be 1 to 1000"),
        ("repos", {"limit": "ten"}, 400, "limit must be a whole number"),
        ("changes", {"since": "yesterday"}, 400, "since must be an ISO date or time, such as "
         "2026-07-01 or 2026-07-01T12:00:00+00:00"),
        ("services", {"since": "2026-01-01"}, 400, "unknown parameter(s) since: allowed are "
         "team, limit, cursor"),
        ("changes", {"org": "globex"}, 400, "unknown parameter(s) org: allowed are team, repo, "
         "state, author, since, until, limit, cursor"),
        ("changes", {"team": "nope"}, 404, "no team nope"),
        ("deploys", {"repo": "nope/none"}, 404, "no repository nope/none"),
        ("changes", {"cursor": "garbage"}, 400, "cursor is not one this API gave for this list"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error(
    http: TestClient, database: str, path: str, params: dict[str, str], status: int, message: str
) -> None:
    r = get(http, f"/api/v1/{path}", token(database, "acme"), **params)
    assert r.status_code == status, r.text
    assert r.json()["message"] == message


def test_another_orgs_team_repo_and_ids_are_unknown_alike(
    http: TestClient, database: str, world: dict[str, World]
) -> None:
    acme = token(database, "acme", role="admin")
    globex_team = str(world["globex"].teams["eng"])
    for param, theirs, none in (("team", globex_team, "00000000-0000-0000-0000-000000000000"),
                                ("repo", "globex/core", "acme/none")):  # fmt: skip
        a = get(http, "/api/v1/changes", acme, **{param: theirs})
        b = get(http, "/api/v1/changes", acme, **{param: none})
        assert a.status_code == b.status_code == 404
        assert a.json()["message"].replace(theirs, "X") == b.json()["message"].replace(none, "X")
    for path, theirs in (("changes", "g0"), ("deploys", "dg0"), ("incidents", "ig"),
                         ("pipeline-runs", "rg"), ("repos", "github:9"),
                         ("services", "ledger")):  # fmt: skip
        a = get(http, f"/api/v1/{path}/{theirs}", acme)
        b = get(http, f"/api/v1/{path}/nothing-{theirs}", acme)
        assert a.status_code == b.status_code == 404, path
        assert a.json()["message"].replace(theirs, "X") == b.json()["message"].replace(
            f"nothing-{theirs}", "X")  # fmt: skip
    # An id both orgs use is the caller's own row.
    mine = get(http, "/api/v1/changes/a0", acme).json()
    assert (mine["change_id"], mine["title"]) == ("a0", "a0")
    assert "globex secret" not in json.dumps(walk(http, acme, "changes", limit=1000))
    # A team token: another team's rows are as unknown as another org's.
    plat = token(database, "acme", teams=("platform",))
    for path, theirs in (("changes", "b0"), ("deploys", "db0"), ("incidents", "i1"),
                         ("pipeline-runs", "rb0"), ("repos", "github:1"),
                         ("services", "billing")):  # fmt: skip
        assert get(http, f"/api/v1/{path}/{theirs}", plat).status_code == 404, path
    assert get(http, "/api/v1/changes/a3", plat).json()["change_id"] == "a3"
    r = get(http, "/api/v1/changes", plat, team="payments")
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


def test_cursors_of_another_org_or_list_are_refused(http: TestClient, database: str) -> None:
    acme, globex = token(database, "acme"), token(database, "globex")
    theirs = get(http, "/api/v1/changes", globex, limit=1).json()["next_cursor"]
    mine = get(http, "/api/v1/changes", acme, limit=1).json()["next_cursor"]
    assert theirs
    assert mine
    for path, cursor in (("changes", theirs), ("deploys", mine),
                         ("changes", mine[:-2] + ("AA" if mine[-2:] != "AA" else "AB")),
                         ("changes", mine.split(".")[0])):  # fmt: skip
        r = get(http, f"/api/v1/{path}", acme, cursor=cursor)
        assert r.status_code == 400, (path, cursor)
        assert r.json() == {"error": "invalid",
                            "message": "cursor is not one this API gave for this list"}  # fmt: skip
    assert get(http, "/api/v1/changes", acme, cursor=mine).status_code == 200


def test_every_call_is_audited(http: TestClient, database: str) -> None:
    tok = token(database, "acme", role="service")
    get(http, "/api/v1/changes", tok, limit=3)
    get(http, "/api/v1/pipeline-runs/ra0", tok)
    get(http, "/api/v1/incidents/g0", tok)
    get(http, "/api/v1/deploys", tok, status="ok")
    get(http, "/api/v1/services", tok)
    with psycopg.connect(database, autocommit=True) as conn:
        rows = audit.tail(conn, "acme")
    assert [(r["interface"], r["operation"], r["outcome"], r["row_count"]) for r in rows] == [
        ("rest", "GET /api/v1/changes", "ok", 3),
        ("rest", "GET /api/v1/pipeline-runs/{id}", "ok", 1),
        ("rest", "GET /api/v1/incidents/{id}", "invalid", None),
        ("rest", "GET /api/v1/deploys", "invalid 22023", None),
        ("rest", "GET /api/v1/services", "ok", 2),
    ]
    assert rows[1]["arguments"] == {"id": "ra0"}
    assert rows[0]["role"] == "service"


def _plans(conn: psycopg.Connection[Any], scope: Scope, query: str,
           view: str) -> list[dict[str, Any]]:  # fmt: skip
    """The plans of the statements a list function runs over `view` (auto_explain of
    nested statements, as notices), with sequential scans priced out."""
    notices: list[str] = []
    conn.execute("LOAD 'auto_explain'")
    for name, value in (("log_min_duration", "0"), ("log_nested_statements", "on"),
                        ("log_level", "notice"), ("log_format", "json")):  # fmt: skip
        conn.execute(f"SET auto_explain.{name} = {value}")
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with scoped(conn, scope) as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute(query).fetchall()
    plans = [json.loads(n.split("plan:", 1)[1]) for n in notices if "plan:" in n]
    return [p for p in plans if f"FROM {view} " in p["Query Text"]]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


@pytest.mark.parametrize(
    ("function", "view", "table", "index"),
    [
        ("list_changes", "api.changes", "changes", "changes_org_id_listed_at_change_id_idx"),
        ("list_deploys", "api.deploys", "deploys", "deploys_org_id_listed_at_deploy_id_idx"),
        ("list_incidents", "api.incidents", "incidents",
         "incidents_org_id_listed_at_incident_id_idx"),
        ("list_pipeline_runs", "api.pipeline_runs", "pipeline_runs",
         "pipeline_runs_org_id_listed_at_run_id_idx"),
    ],
)  # fmt: skip
def test_list_queries_use_their_index_under_row_level_security(
    database: str, world: dict[str, World], function: str, view: str, table: str, index: str
) -> None:
    """The page after a position is read from the index backwards with the org and the
    position as index conditions, for an org-wide and a team-scoped caller (with a team
    filter, too)."""
    acme = world["acme"]
    query = (f"SELECT * FROM api.{function}(p_after_at => '2026-03-01', p_after_id => 'x',"
             " p_limit => 5{team})")  # fmt: skip
    for scope, team in ((Scope(acme.org), ""), (Scope(acme.org), ", p_team => 'data'"),
                        (Scope(acme.org, (acme.teams["platform"],)), "")):  # fmt: skip
        with psycopg.connect(database, autocommit=True) as conn:
            plans = _plans(conn, scope, query.format(team=team), view)
        assert len(plans) == 1, (function, plans)
        nodes = list(_nodes(plans[0]["Plan"]))
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], plans
        [scan] = [n for n in nodes if n.get("Relation Name") == table]
        assert (scan["Node Type"], scan["Index Name"]) == ("Index Scan", index), scan
        assert scan["Scan Direction"] == "Backward"
        assert "org_id = " in scan["Index Cond"], scan
        assert "ROW(" in scan["Index Cond"], scan


def test_pipeline_runs_export_as_csv_in_the_callers_scope(http: TestClient, database: str) -> None:
    for teams, expected in (((), {"ra0", "rb0", "rx"}), (("data",), {"ra0"})):
        tok = token(database, "acme", role="analyst", teams=teams)
        r = get(http, "/api/v1/export/pipeline_runs.csv", tok, since="2026-01-01")
        assert r.status_code == 200, r.text
        header, *lines = r.text.splitlines()
        assert header.split(",")[0] == "run_id"
        assert {line.split(",")[0] for line in lines} == expected, teams


def test_a_large_teams_page_does_not_hash_the_whole_team(
    database: str, world: dict[str, World]
) -> None:
    """A team token's page of a team of 20,000 changes and deployments probes the team's
    rows one by one: no hash of the whole team before the first row (the lists' small
    work_mem); with the session's work_mem the same statement hashes it."""
    acme = world["acme"]
    data = acme.teams["data"]
    with psycopg.connect(database, autocommit=True) as conn:
        args = {"org": acme.org, "team": data, "t": at(-30)}
        series = "FROM generate_series(1, 20000) g"
        for statement in (
            "INSERT INTO core.changes (org_id, change_id, provider, state, opened_at,"
            " merged_at, updated_at) SELECT %(org)s, 'bulk' || g, 'github', 'merged',"
            f" %(t)s - g * interval '1 minute', %(t)s - g * interval '1 minute', now() {series}",
            "INSERT INTO metrics.change_teams (org_id, team_id, merged_at, change_id, is_bot)"
            " SELECT %(org)s, %(team)s, %(t)s - g * interval '1 minute', 'bulk' || g, false"
            f" {series}",
            "INSERT INTO core.deploys (org_id, deploy_id, provider, environment_class, status,"
            " finished_at) SELECT %(org)s, 'bulk' || g, 'github', 'production', 'success',"
            f" %(t)s - g * interval '1 minute' {series}",
            "INSERT INTO metrics.deploy_teams (org_id, team_id, finished_at, deploy_id)"
            f" SELECT %(org)s, %(team)s, %(t)s - g * interval '1 minute', 'bulk' || g {series}",
        ):
            conn.execute(statement, args)
        conn.execute("ANALYZE")
        for function, view in (("list_changes", "api.changes"), ("list_deploys", "api.deploys")):
            scope = Scope(acme.org, (data,))
            plans = _plans(conn, scope, f"SELECT * FROM api.{function}(p_limit => 100)", view)
            assert len(plans) == 1
            assert "hashed SubPlan" not in json.dumps(plans), plans
            assert "SubPlan" in json.dumps(plans)  # the team's rows probed per row
            # The view itself, with the session's work_mem, hashes the team.
            plans = _plans(conn, scope, f"SELECT * FROM {view} LIMIT 100", view)
            assert "hashed SubPlan" in json.dumps(plans), plans
