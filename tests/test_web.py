"""The HTTP skeleton: health, readiness against the real schema, Prometheus metrics."""

from __future__ import annotations

from starlette.testclient import TestClient

from db.migrate import head_revision
from qdx.settings import Settings
from web.app import create_app


def client(conninfo: str) -> TestClient:
    return TestClient(create_app(Settings.from_env({}), conninfo))


def test_healthz_and_readyz_on_a_migrated_database(database: str) -> None:
    with client(database) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}


def test_readyz_is_503_until_migrated(empty_database: str) -> None:
    with client(empty_database) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == [
            f"schema at revision (empty), code expects {head_revision()}"
        ]


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    with client("host=127.0.0.1 port=1 dbname=none connect_timeout=1") as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["database unreachable"]


def test_metrics_in_prometheus_text(database: str) -> None:
    with client(database) as http:
        http.get("/healthz")
        http.get("/healthz")
        http.get("/no/such/page")
        response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'qdx_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert 'route="<unmatched>",status="404"' in text  # raw paths never become labels
    assert "qdx_db_pool_connections" in text
    assert 'qdx_build_info{version="' in text
