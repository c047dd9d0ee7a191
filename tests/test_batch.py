"""Batch ingest: newline-delimited JSON under a service token, one transaction per batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from qdx.settings import PROJECT_ROOT, Settings
from tests.webhook_helpers import counts
from web.app import create_app
from web.tokens import issue_token
from web.webhooks.registry import batch_sources

SETTINGS = Settings.from_env({})


def records(source: str) -> list[dict[str, Any]]:
    spec = json.loads((PROJECT_ROOT / "sources" / source / "samples" / "batch.json").read_text())
    return list(spec["records"])


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in rows) + b"\n"


@pytest.fixture
def http(database: str) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, database)) as client:
        yield client


def setup_org(conninfo: str, org: str, source: str, role: str = "service") -> tuple[str, str]:
    """An org with an endpoint for the source; returns (batch path, token)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT auth.create_org(%s)", (org,))
        row = conn.execute(
            "SELECT endpoint_id FROM auth.add_webhook_endpoint(%s, %s, %s)",
            (org, source, "x" * 32),
        ).fetchone()
        assert row is not None
        token, _ = issue_token(
            conn, org=org, teams=[], role=role, ttl=timedelta(minutes=5), subject="t",
            issuer=SETTINGS.jwt_issuer, audience=SETTINGS.jwt_audience,
        )  # fmt: skip
    return f"/ingest/{source}/{row[0]}/batch", token


def post(http: TestClient, path: str, token: str, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    return http.post(path, headers=headers, content=body)


@pytest.mark.parametrize("source", sorted(batch_sources()))
def test_batch_is_stored_once_per_record(http: TestClient, database: str, source: str) -> None:
    path, token = setup_org(database, "acme", source)
    rows = records(source)
    first = post(http, path, token, ndjson(rows))
    assert first.status_code == 200, first.text
    assert (first.json()["new"], first.json()["duplicates"]) == (len(rows), 0)
    assert counts(database) == (len(rows), len(rows), len(rows))
    # A re-upload overlapping the first: only the unseen record is new.
    extra = {
        **rows[0],
        "id": "ffffffff-0000-4000-8000-000000000001",
        "timestamp": "2030-01-01T00:00:00Z",
    }
    again = post(http, path, token, ndjson([*rows, extra]))
    assert (again.json()["new"], again.json()["duplicates"]) == (1, len(rows))
    with psycopg.connect(database) as conn:
        stored = conn.execute("SELECT body FROM raw.events ORDER BY received_at LIMIT 1").fetchone()
    assert stored is not None
    assert json.loads(bytes(stored[0])) == rows[0]


def test_malformed_line_rejects_the_whole_batch(http: TestClient, database: str) -> None:
    path, token = setup_org(database, "acme", "vscode")
    body = ndjson(records("vscode")) + b'{"id": "broken", "type": \n'
    reply = post(http, path, token, body)
    assert reply.status_code == 400
    assert reply.json()["message"] == "line 3 is not valid JSON"
    assert counts(database) == (0, 0, 0)
    reply = post(http, path, token, b'{"type": "coding.session"}\n')
    assert reply.status_code == 400
    assert "line 1 has no record id" in reply.json()["message"]


def test_tokens_are_checked(http: TestClient, database: str) -> None:
    path, _token = setup_org(database, "acme", "vscode")
    body = ndjson(records("vscode"))
    assert post(http, path, "not-a-token", body).status_code == 401
    no_auth = http.post(path, content=body, headers={"Content-Type": "application/x-ndjson"})
    assert no_auth.status_code == 401
    _, viewer = setup_org(database, "viewers", "vscode", role="viewer")
    assert post(http, path, viewer, body).status_code == 403
    # A service token of another org cannot write to this org's endpoint: 404, no hint.
    _, other = setup_org(database, "other", "vscode")
    assert post(http, path, other, body).status_code == 404
    assert counts(database) == (0, 0, 0)
