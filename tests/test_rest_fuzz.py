"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis):
every operation, with generated path and query parameters, under a valid token of a
team-scoped analyst, never answers with a 5xx, and every answer is JSON with an error
and a message when it is not a 200."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from starlette.testclient import TestClient

from qdx.settings import Settings
from tests.metrics_helpers import World, at
from web.api.openapi import document
from web.app import create_app
from web.tokens import issue_token

# (schemathesis's own strategies draw from `random`; hypothesis warns about it)
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
SETTINGS = Settings.from_env({})
SCHEMA = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def served(pg_server: Any, template: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app on a database of its own for the whole module (hypothesis calls the test
    many times; a database per example would be slow)."""
    from tests.conftest import _janitor

    dbname = f"fuzz_rest_{uuid.uuid4().hex[:8]}"
    with _janitor(pg_server, dbname, template):
        conninfo = pg_server.conninfo(dbname)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            w = World(conn, "acme")
            w.team("eng")
            w.team("platform", parent="eng")
            p = w.person("Ana", "github:ana")
            w.member("platform", p, at(-30))
            w.repo()
            for i in range(5):
                w.change(f"c{i}", author="github:ana", merged=at(-10 + i), merge_sha=f"s{i}")
                w.deploy(f"d{i}", at(-10 + i, hours=1), commit=f"s{i}")
            w.incident("i1", at(-8), at(-7), links=("deploy:d1",))
            conn.execute(
                "INSERT INTO core.pipeline_runs (org_id, run_id, provider, kind, status,"
                " commit_sha, finished_at) VALUES (%s, 'r1', 'github', 'pipeline', 'success',"
                " 's1', %s)", (w.org, at(-9)),
            )  # fmt: skip
            w.refresh()
            token, _ = issue_token(
                conn, org="acme", teams=["eng"], role="analyst", ttl=timedelta(hours=1),
                subject="fuzz", issuer=SETTINGS.jwt_issuer, audience=SETTINGS.jwt_audience,
            )  # fmt: skip
        with TestClient(create_app(SETTINGS, conninfo)) as client:
            yield client, {"Authorization": f"Bearer {token}"}
        with psycopg.connect(conninfo, autocommit=True) as conn:  # roles are the server's
            for (role,) in conn.execute("SELECT role_name FROM auth.sql_roles").fetchall():
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


RESOURCES = ("Changes", "Deploys", "Incidents", "PipelineRuns", "Repos", "Services")


@pytest.mark.parametrize(
    "operation",
    ["listMetrics", "getMetric", "explainMetric", "exportDataset", "runSql",
     *(f"list{r}" for r in RESOURCES), *(f"get{r}Item" for r in RESOURCES),
     "listPeople", "getPerson", "listTeams", "listTeamMembers"],
)  # fmt: skip
def test_no_server_errors(served: tuple[TestClient, dict[str, str]], operation: str) -> None:
    client, headers = served
    path, method = operation_path(operation)
    strategy = SCHEMA[path][method].as_strategy()

    @given(case=strategy)
    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        try:
            response = client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                headers=kwargs.get("headers"), json=kwargs.get("json"),
                content=kwargs.get("data"),
            )  # fmt: skip
        except UnicodeError:
            # The in-process test client cannot build the request line (a path byte
            # outside latin-1): nothing an HTTP server would receive.
            reject()
        assert response.status_code < 500, (kwargs, response.text)
        if response.status_code != 200:
            body = response.json()
            assert set(body) == {"error", "message"}, body
            assert "Traceback" not in response.text

    check()


def operation_path(operation_id: str) -> tuple[str, str]:
    for path, methods in document()["paths"].items():
        for method, spec in methods.items():
            if spec.get("operationId") == operation_id:
                return str(path), method.upper()
    raise KeyError(operation_id)
