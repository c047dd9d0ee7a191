"""The generic receiver's answers to bad input, rotation, outages and its counters."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from qdx.settings import Settings
from tests.webhook_helpers import counts, load_samples, make_endpoint, signed_request
from web.app import create_app
from web.webhooks.registry import all_sources

GITHUB = all_sources()["github"]
PR = next(s for s in load_samples("github") if s.name == "pull_request.opened")


@pytest.fixture
def http(database: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings.from_env({}), database)) as client:
        yield client


def test_unknown_source_and_endpoint_look_the_same(http: TestClient, database: str) -> None:
    endpoint = make_endpoint(database, GITHUB)
    headers, _, body = signed_request(GITHUB, PR, endpoint.signing_secret)
    replies = [
        http.post(f"/webhooks/nosuchvendor/{endpoint.endpoint_id}", headers=headers, content=body),
        http.post(
            "/webhooks/github/6f1c1c8e-0000-4000-8000-000000000000", headers=headers, content=body
        ),
        http.post("/webhooks/github/not-a-uuid", headers=headers, content=body),
        http.post(f"/webhooks/gitlab/{endpoint.endpoint_id}", headers=headers, content=body),
    ]
    assert [r.status_code for r in replies] == [404, 404, 404, 404]
    assert len({r.text for r in replies}) == 1
    assert counts(database) == (0, 0, 0)


def test_size_type_and_shape_errors(http: TestClient, database: str) -> None:
    endpoint = make_endpoint(database, GITHUB)
    path = endpoint.path("github")
    headers, _, body = signed_request(GITHUB, PR, endpoint.signing_secret)
    too_big = http.post(
        path, headers={**headers, "Content-Length": str(26 * 1024 * 1024)}, content=body
    )
    assert too_big.status_code == 413
    xml = http.post(path, headers={**headers, "Content-Type": "application/xml"}, content=body)
    assert xml.status_code == 415
    bad_json = b'{"action": "opened",'
    h, _, b = signed_request(
        GITHUB, PR.__class__(**{**PR.__dict__, "body": bad_json}), endpoint.signing_secret
    )
    reply = http.post(path, headers=h, content=b)
    assert (reply.status_code, reply.json()["message"]) == (400, "the body is not valid JSON")
    no_id = {k: v for k, v in headers.items() if not k.startswith("X-GitHub-Delivery")}
    reply = http.post(path, headers=no_id, content=body)
    assert reply.status_code == 400
    assert "no delivery id" in reply.json()["message"]
    assert "Traceback" not in reply.text
    assert counts(database) == (0, 0, 0)
    metrics = http.get("/metrics").text
    for outcome in ("too_large", "content_type", "malformed"):
        assert f'qdx_webhook_deliveries_total{{outcome="{outcome}",source="github"}}' in metrics


def test_previous_secret_verifies_during_rotation(http: TestClient, database: str) -> None:
    endpoint = make_endpoint(database, GITHUB)
    with psycopg.connect(database) as conn:
        conn.execute(
            "SELECT auth.rotate_webhook_secret('acme', %s, %s, '1 day')",
            (endpoint.endpoint_id, "n" * 32),
        )
    headers, _, body = signed_request(GITHUB, PR, endpoint.signing_secret)  # the old secret
    assert http.post(endpoint.path("github"), headers=headers, content=body).status_code == 202
    other = PR.__class__(
        **{**PR.__dict__, "headers": {**PR.headers, "X-GitHub-Delivery": "another"}}
    )
    headers, _, body = signed_request(GITHUB, other, "n" * 32)  # the new one
    assert http.post(endpoint.path("github"), headers=headers, content=body).status_code == 202


def test_database_outage_is_503_with_retry_after_and_loses_nothing(
    http: TestClient, database: str, pg_server: object
) -> None:
    endpoint = make_endpoint(database, GITHUB)
    path = endpoint.path("github")
    headers, _, body = signed_request(GITHUB, PR, endpoint.signing_secret)
    assert http.post(path, headers=headers, content=body).status_code == 202  # warms the pool
    dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    admin_info = database.replace(f"dbname={dbname}", "dbname=postgres")
    second = PR.__class__(
        **{**PR.__dict__, "headers": {**PR.headers, "X-GitHub-Delivery": "during-outage"}}
    )
    h2, _, b2 = signed_request(GITHUB, second, endpoint.signing_secret)
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(str(dbname)))
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,)
        )
        try:
            down = http.post(path, headers=h2, content=b2)
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                    sql.Identifier(str(dbname))
                )
            )
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
    assert down.json() == {"error": "unavailable", "message": "try again later"}
    # The vendor's retry, once the database is back, is stored.
    retried = http.post(path, headers=h2, content=b2)
    assert retried.status_code == 202, retried.text
    assert counts(database) == (2, 2, 2)


def test_sender_gone_mid_body_stores_nothing_and_raises_nothing(database: str) -> None:
    import asyncio

    app = create_app(Settings.from_env({}), database)
    endpoint = make_endpoint(database, GITHUB)
    headers, _, body = signed_request(GITHUB, PR, endpoint.signing_secret)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": endpoint.path("github"), "raw_path": b"", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    messages = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def call() -> None:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 400
    assert counts(database) == (0, 0, 0)
