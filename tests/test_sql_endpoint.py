"""POST /api/v1/sql: one read-only statement under the caller's scope, run as the scope's
login role. It reads the api views of its org (or teams) only; settings, role switches,
base tables, server files, programs, writes and several statements get nowhere; rows are
capped; bad statements get a clear 400; every statement is in the audit log."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from db import audit
from tests.metrics_helpers import World
from tests.test_rest import SETTINGS, token
from tests.test_rest import orgs as orgs  # the same two orgs
from web.api import sql as sql_endpoint
from web.app import create_app


@pytest.fixture
def http(database: str, orgs: dict[str, World]) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client
    with psycopg.connect(database, autocommit=True) as conn:  # roles belong to the server
        for (role,) in conn.execute("SELECT role_name FROM auth.sql_roles").fetchall():
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def run(http: TestClient, tok: str, query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = http.post("/api/v1/sql", json={"query": query},
                  headers={"Authorization": f"Bearer {tok}"})  # fmt: skip
    return r.status_code, r.json()


def test_reads_its_scope(http: TestClient, database: str, orgs: dict[str, World]) -> None:
    acme = token(database, "acme", role="analyst")
    code, body = run(http, acme, "SELECT change_id, merged_at FROM changes ORDER BY 1")
    assert code == 200, body
    assert [r[0] for r in body["rows"]] == [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(4)]
    assert body["columns"] == [{"name": "change_id", "type": "text"},
                               {"name": "merged_at", "type": "timestamptz"}]  # fmt: skip
    assert body["truncated"] is False
    code, body = run(http, token(database, "globex", role="analyst"),
                     "SELECT count(*) FROM api.changes")  # fmt: skip
    assert body["rows"] == [[9]]
    team = token(database, "acme", role="analyst", teams=("payments",))
    code, body = run(http, team, "SELECT change_id FROM changes ORDER BY 1")
    assert [r[0] for r in body["rows"]] == [f"b{i}" for i in range(4)]
    # Percent signs and dollar quotes are the statement's own.
    code, body = run(http, acme, "SELECT '100%' AS p, $$a%sb$$ AS q")
    assert body["rows"] == [["100%", "a%sb"]]


@pytest.mark.parametrize(("statement", "status", "words"), [
    ("SELECT set_config('qdx.org_id', '{globex}', false), count(*) FROM changes", 200, None),
    ("SELECT 1; SELECT 2", 400, "one statement"),
    ("INSERT INTO teams (slug, name) VALUES ('x', 'x')", 403, "permission denied for view"),
    ("CREATE TABLE x (a int)", 400, "only reads are allowed"),
    ("SELECT * FROM core.changes", 403, "permission denied for schema core"),
    ("SELECT * FROM auth.server_secrets", 403, "permission denied for schema auth"),
    ("SELECT pg_read_file('PG_VERSION')", 403, "permission denied"),
    ("COPY (SELECT 1) TO PROGRAM 'true'", 403, "permission denied"),
    ("SELECT set_config('role', 'qdx_app', false)", 403, "permission denied"),
    ("SELECT set_config('role', 'none', false), count(*) FROM changes", 200, None),
    ("SELECT * FROM api.get_metric('merged_changes', '{{}}')", 403, "permission denied"),
    ("SELECT pg_sleep(30)", 400, "ran longer than 10s"),
    ("SELEC 1", 400, "syntax error"),
    ("SELECT * FROM nope", 400, 'relation "nope" does not exist'),
])  # fmt: skip
def test_escapes_and_refusals(http: TestClient, database: str, orgs: dict[str, World],
                              monkeypatch: pytest.MonkeyPatch, statement: str, status: int,
                              words: str | None) -> None:  # fmt: skip
    if "pg_sleep" in statement:
        monkeypatch.setattr(sql_endpoint, "STATEMENT_TIMEOUT", "200ms")
        words = "ran longer than 200ms"
    acme = token(database, "acme", role="analyst")
    code, body = run(http, acme, statement.format(globex=orgs["globex"].org))
    assert code == status, body
    if words:
        assert words in body["message"]
        assert "Traceback" not in str(body)
    else:
        assert body["rows"][0][-1] == 10  # still acme's ten changes
    # And the next statement of the same scope is unaffected.
    assert run(http, acme, "SELECT count(*) FROM changes")[1]["rows"] == [[10]]


def test_roles_caps_and_audit(http: TestClient, database: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    viewer = token(database, "acme")
    r = http.post("/api/v1/sql", json={"query": "SELECT 1"},
                  headers={"Authorization": f"Bearer {viewer}"})  # fmt: skip
    assert r.status_code == 403
    assert "analyst" in r.json()["message"]
    assert http.post("/api/v1/sql", json={"query": "SELECT 1"}).status_code == 401
    analyst = token(database, "acme", role="analyst")
    monkeypatch.setattr(sql_endpoint, "ROW_CAP", 3)
    code, body = run(http, analyst, "SELECT g FROM generate_series(1, 10) g")
    assert body["rows"] == [[1], [2], [3]]
    assert body["truncated"] is True
    code, body = run(http, analyst, "")
    assert code == 400
    plain = {"Authorization": f"Bearer {analyst}", "Content-Type": "text/plain"}
    r = http.post("/api/v1/sql", content=b"SELECT 42", headers=plain)
    assert r.json()["rows"] == [[42]]
    with psycopg.connect(database, autocommit=True) as conn:
        rows = [r for r in audit.tail(conn, "acme") if r["interface"] == "sql"]
        roles = conn.execute("SELECT count(*) FROM auth.sql_roles").fetchone()
    assert [(r["statement"], r["row_count"], r["outcome"]) for r in rows] == [
        ("SELECT g FROM generate_series(1, 10) g", 3, "ok"),
        ("SELECT 42", 1, "ok"),
    ]
    assert roles == (1,)  # one login role for the scope, made once
