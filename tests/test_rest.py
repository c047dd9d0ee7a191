"""REST under /api/v1: metrics, explain and the list, for two orgs and nested teams, as
each role. A caller reads exactly its scope (never another org's rows, counts or ids,
also not through cursors or explain), 401 and 403 come with WWW-Authenticate, bad
parameters get a clear 400, every read is in the audit log, and the same question asked
through SQL, the command line and REST gives the same numbers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from db import audit
from qdx.cli import main
from qdx.settings import Settings
from tests.metrics_helpers import World, acme_with_teams, at
from web.app import create_app
from web.tokens import issue_token

SETTINGS = Settings.from_env({})
WINDOW = "2026-01-01..2026-06-30"


@pytest.fixture
def orgs(database: str) -> dict[str, World]:
    """acme: eng > platform > data, and payments; changes by Ana (data) and Ben
    (payments), deployments and an incident. globex: its own changes."""
    with psycopg.connect(database, autocommit=True) as conn:
        acme = acme_with_teams(conn)
        for i in range(6):
            acme.change(f"a{i}", author="github:ana", first_commit=at(-20 + i, hours=-5),
                        merged=at(-20 + i), merge_sha=f"a{i}sha")  # fmt: skip
            acme.deploy(f"da{i}", at(-20 + i, hours=2), commit=f"a{i}sha")
        for i in range(4):
            acme.change(f"b{i}", author="github:ben", first_commit=at(-10 + i, hours=-9),
                        merged=at(-10 + i), merge_sha=f"b{i}sha")  # fmt: skip
            acme.deploy(f"db{i}", at(-10 + i, hours=3), commit=f"b{i}sha")
        acme.incident("i1", at(-8), at(-7), links=("deploy:db1",))
        acme.refresh()
        globex = World(conn, "globex")
        globex.team("eng")
        globex.repo("github:9", "globex/core")
        for i in range(9):
            globex.change(f"g{i}", author="github:gus", repo="github:9", merged=at(-15 + i))
        globex.refresh()
        return {"acme": acme, "globex": globex}


def token(database: str, org: str, role: str = "viewer", teams: tuple[str, ...] = (),
          ttl: timedelta = timedelta(minutes=10), audience: str | None = None) -> str:  # fmt: skip
    with psycopg.connect(database) as conn:
        value, _ = issue_token(
            conn, org=org, teams=list(teams), role=role, ttl=ttl, subject=f"user:{role}",
            issuer=SETTINGS.jwt_issuer, audience=audience or SETTINGS.jwt_audience,
        )  # fmt: skip
    return value


@pytest.fixture
def http(database: str, orgs: dict[str, World]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def get(http: TestClient, path: str, tok: str | None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return http.get(path, params=params, headers=headers)


def test_a_metric_per_org_and_team(http: TestClient, database: str) -> None:
    acme, globex = token(database, "acme"), token(database, "globex")
    r = get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == "changes"
    assert body["series"][0]["value"] == 10
    assert get(http, "/api/v1/metrics/merged_changes", globex,
               window=WINDOW).json()["series"][0]["value"] == 9  # fmt: skip
    for team, n in (("eng", 6), ("platform", 6), ("data", 6), ("payments", 4)):
        r = get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW, team=team)
        assert r.json()["series"][0]["value"] == n, team
    weekly = get(http, "/api/v1/metrics/change_lead_time", acme, window=WINDOW,
                 granularity="week", aggregation="p90").json()  # fmt: skip
    assert weekly["aggregation"] == "p90"
    assert len(weekly["series"]) == 27  # ISO weeks, the first clipped to Jan 1
    assert sum(p["sample_size"] for p in weekly["series"]) == 10


def test_a_team_token_reads_its_subtree_only(http: TestClient, database: str) -> None:
    plat = token(database, "acme", teams=("platform",))
    r = get(http, "/api/v1/metrics/merged_changes", plat, window=WINDOW)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == {"team": str(r.json()["scope"]["team"])}
    assert r.json()["series"][0]["value"] == 6
    assert get(http, "/api/v1/metrics/merged_changes", plat, window=WINDOW,
               team="data").json()["series"][0]["value"] == 6  # fmt: skip
    for team in ("payments", "eng", "nope"):
        r = get(http, "/api/v1/metrics/merged_changes", plat, window=WINDOW, team=team)
        assert r.status_code == 403, team
        assert r.headers["www-authenticate"].startswith('Bearer realm="quantum-dx"')
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    # Explain is scoped the same way: Ana's six changes, none of Ben's.
    items = get(http, "/api/v1/metrics/merged_changes/explain", plat, window=WINDOW).json()
    assert sorted(i["entity_id"] for i in items["items"]) == [f"a{i}" for i in range(6)]


def test_no_other_orgs_rows_names_or_ids(http: TestClient, database: str,
                                         orgs: dict[str, World]) -> None:  # fmt: skip
    acme = token(database, "acme", role="admin")
    globex_id = str(orgs["globex"].org)
    # The org comes from the token: a team, repo or person of globex is simply unknown.
    r = get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW, repo="globex/core")
    assert r.status_code == 404
    assert r.json()["message"] == "no repository globex/core in org " + str(orgs["acme"].org)
    r = get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW,
            team=str(orgs["globex"].teams["eng"]))  # fmt: skip
    assert r.status_code == 404
    assert globex_id not in r.text
    # An org parameter is not one of ours.
    r = get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW, org="globex")
    assert r.status_code == 400
    assert "unknown parameter(s) org" in r.json()["message"]
    items = get(http, "/api/v1/metrics/merged_changes/explain", acme, window=WINDOW).json()
    assert not any(i["entity_id"].startswith("g") for i in items["items"])


def test_explain_pages_with_cursors(http: TestClient, database: str) -> None:
    acme = token(database, "acme")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"window": WINDOW, "limit": 3, **({"cursor": cursor} if cursor else {})}
        r = get(http, "/api/v1/metrics/change_lead_time/explain", acme, **params)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [i["entity_id"] for i in page["items"]]
        pages += 1
        for item in page["items"]:
            assert item["entity"] == "change"
            assert item["links"][0]["entity"] == "deploy"
        if not page["page_info"]["has_next_page"]:
            break
        cursor = page["page_info"]["end_cursor"]
    assert pages == 4
    assert sorted(seen) == sorted({*(f"a{i}" for i in range(6)), *(f"b{i}" for i in range(4))})
    r = get(http, "/api/v1/metrics/change_lead_time/explain", acme, window=WINDOW,
            cursor="not-a-cursor")  # fmt: skip
    assert r.status_code == 400


@pytest.mark.parametrize(("params", "words"), [
    ({"window": "soon"}, "window soon is not understood"),
    ({"granularity": "hour"}, "no granularity hour"),
    ({"aggregation": "p99"}, "no aggregation p99"),
    ({"mode": "linearb"}, "no mode linearb"),
    ({"benchmark": "1999"}, "no benchmark set for report year 1999"),
    ({"benchmark": "x"}, "benchmark must be a report year"),
    ({"colour": "red"}, "unknown parameter(s) colour"),
])  # fmt: skip
def test_bad_parameters_are_a_clear_400(http: TestClient, database: str,
                                        params: dict[str, str], words: str) -> None:  # fmt: skip
    r = get(http, "/api/v1/metrics/change_lead_time", token(database, "acme"), **params)
    assert r.status_code == 400
    assert words in r.json()["message"]
    assert "SELECT" not in r.text
    assert "Traceback" not in r.text


def test_unknown_metric_is_a_400_naming_the_metrics(http: TestClient, database: str) -> None:
    r = get(http, "/api/v1/metrics/velocity", token(database, "acme"))
    assert r.status_code == 400
    assert "no metric velocity (metrics: change_failure_rate" in r.json()["message"]


def test_401_and_403(http: TestClient, database: str) -> None:
    r = get(http, "/api/v1/metrics", None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="quantum-dx"'
    for bad in ("garbage", token(database, "acme", audience="https://elsewhere.test"),
                token(database, "acme")[:-4] + "AAAA"):  # fmt: skip
        r = get(http, "/api/v1/metrics", bad)
        assert r.status_code == 401
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = http.get("/api/v1/metrics", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 401
    person = str(World.__name__)  # any value: the role is checked first
    r = get(http, "/api/v1/metrics/merged_changes", token(database, "acme"), person=person)
    assert r.status_code == 403
    assert "analyst" in r.json()["message"]


def test_every_read_is_audited(http: TestClient, database: str, orgs: dict[str, World]) -> None:
    acme = token(database, "acme", role="analyst")
    assert get(http, "/api/v1/metrics/merged_changes", acme, window=WINDOW).status_code == 200
    assert get(http, "/api/v1/metrics/merged_changes", acme, window="soon").status_code == 400
    assert get(http, "/api/v1/metrics/merged_changes", acme, team="nope").status_code == 404
    assert get(http, "/api/v1/metrics", acme).status_code == 200
    with psycopg.connect(database, autocommit=True) as conn:
        rows = audit.tail(conn, "acme")
        assert [(r["interface"], r["operation"], r["outcome"], r["row_count"]) for r in rows] == [
            ("rest", "GET /api/v1/metrics/{metric}", "ok", 1),
            ("rest", "GET /api/v1/metrics/{metric}", "invalid 22023", None),
            ("rest", "GET /api/v1/metrics/{metric}", "invalid P0002", None),
            ("rest", "GET /api/v1/metrics", "ok", 13),
        ]
        assert rows[0]["principal"] == "user:analyst"
        assert rows[0]["arguments"] == {"metric": "merged_changes", "window": WINDOW}
        assert audit.verify(conn, "acme").intact
        assert audit.tail(conn, "globex") == []


def test_the_same_question_gives_the_same_numbers(
    http: TestClient, database: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    question = {"window": WINDOW, "granularity": "month", "team": "platform"}
    rest = get(http, "/api/v1/metrics/change_lead_time", token(database, "acme"),
               **question).json()["series"]  # fmt: skip
    with psycopg.connect(database) as conn:
        sql = conn.execute(
            "SELECT value, sample_size FROM api.get_metric('change_lead_time', %s, %s, 'month')"
            " ORDER BY period_start",
            (Jsonb({"org": "acme", "team": "platform"}), WINDOW),
        ).fetchall()
    monkeypatch.setenv("DATABASE_URL", database)
    assert main(["metrics", "show", "acme", "change_lead_time", "--team", "platform",
                 "--window", WINDOW, "--granularity", "month", "--json"]) == 0  # fmt: skip
    cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["value"], p["sample_size"]) for p in rest] == sql
    assert [(p["value"], p["sample_size"]) for p in cli] == sql
    assert any(v is not None for v, _ in sql)


def test_openapi_and_jwks(http: TestClient, database: str) -> None:
    doc = http.get("/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert {"/api/v1/metrics", "/api/v1/metrics/{metric}",
            "/api/v1/metrics/{metric}/explain"} <= set(doc["paths"])  # fmt: skip
    listed = get(http, "/api/v1/metrics", token(database, "acme")).json()["metrics"]
    metric = doc["paths"]["/api/v1/metrics/{metric}"]["get"]["parameters"][0]
    assert metric["schema"]["enum"] == [m["metric"] for m in listed]
    from web.api.openapi import DATASETS
    from web.api.rest import EXPORTS

    assert set(DATASETS) == set(EXPORTS)
    keys = http.get("/.well-known/jwks.json").json()["keys"]
    assert keys
    assert keys[0]["kty"] == "OKP"
    assert keys[0]["crv"] == "Ed25519"


def test_csv_export_streams_the_callers_scope(http: TestClient, database: str) -> None:
    import csv
    import io

    analyst = token(database, "acme", role="analyst")
    r = get(http, "/api/v1/export/changes.csv", analyst)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="changes.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["change_id"] for row in rows) == sorted(
        [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(4)])  # fmt: skip
    # since/until bound the dataset's time; a team token exports its subtree only.
    r = get(http, "/api/v1/export/changes.csv", analyst, since="2026-02-20", until="2026-02-23")
    assert sorted(row["change_id"] for row in csv.DictReader(io.StringIO(r.text))) == [
        "b0", "b1", "b2"]  # fmt: skip
    team = token(database, "acme", role="analyst", teams=("payments",))
    r = get(http, "/api/v1/export/deploys.csv", team)
    assert sorted(row["deploy_id"] for row in csv.DictReader(io.StringIO(r.text))) == [
        f"db{i}" for i in range(4)]  # fmt: skip
    other = get(http, "/api/v1/export/changes.csv", token(database, "globex", role="analyst"))
    assert len(list(csv.DictReader(io.StringIO(other.text)))) == 9
    with psycopg.connect(database, autocommit=True) as conn:
        exports = [r for r in audit.tail(conn, "acme") if r["interface"] == "export"]
    assert [(r["row_count"], r["outcome"]) for r in exports] == [(10, "ok"), (3, "ok"), (4, "ok")]
    assert exports[1]["arguments"] == {"dataset": "changes", "since": "2026-02-20",
                                       "until": "2026-02-23"}  # fmt: skip


def test_csv_export_refusals(http: TestClient, database: str) -> None:
    analyst = token(database, "acme", role="analyst")
    assert get(http, "/api/v1/export/changes.csv", token(database, "acme")).status_code == 403
    assert get(http, "/api/v1/export/changes.csv", None).status_code == 401
    r = get(http, "/api/v1/export/secrets.csv", analyst)
    assert r.status_code == 404
    assert "datasets: change_metrics, changes" in r.json()["message"]
    r = get(http, "/api/v1/export/changes.csv", analyst, since="yesterday")
    assert r.status_code == 400
    assert "since must be an ISO date" in r.json()["message"]
    assert get(http, "/api/v1/export/teams.csv", analyst, since="2026-01-01").status_code == 400
    assert get(http, "/api/v1/export/changes.csv", analyst, limit="5").status_code == 400


def _part(d: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def test_a_database_outage_is_a_503_with_retry_after() -> None:
    """A well-formed token whose key must be looked up while the database is down."""
    app = create_app(SETTINGS, "host=127.0.0.1 port=1 dbname=nope user=nobody connect_timeout=1")
    token_ = f"{_part({'alg': 'EdDSA', 'kid': 'k1', 'typ': 'JWT'})}.{_part({'sub': 'x'})}.c2ln"
    with TestClient(app) as client:
        r = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {token_}"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json()["error"] == "unavailable"
