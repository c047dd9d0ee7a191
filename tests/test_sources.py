"""The contract every source keeps, over each of its fixture deliveries (sources/*/samples).

A correctly signed delivery is accepted once (one event row, one queue message); the same
delivery again, one after the other or at the same time, is a duplicate; one flipped byte
in the body or the credentials is 401 and stores nothing; a stale timestamp is 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from qdx.settings import Settings
from sources import SOURCES
from tests.webhook_helpers import Sample, counts, load_samples, make_endpoint, signed_request
from web.app import create_app
from web.webhooks.registry import all_sources, batch_sources
from web.webhooks.schemes import AnyOf, Ed25519, Hmac, StandardWebhooks

CASES = [(s.source, s.name) for name in all_sources() for s in load_samples(name)]


@pytest.fixture
def http(database: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings.from_env({}), database)) as client:
        yield client


def sample(source: str, name: str) -> Sample:
    return next(s for s in load_samples(source) if s.name == name)


def timestamped(scheme: object) -> bool:
    if isinstance(scheme, AnyOf):
        scheme = scheme.schemes[0]
    if isinstance(scheme, Hmac):
        return scheme.timestamp is not None or scheme.kv is not None
    return isinstance(scheme, StandardWebhooks | Ed25519)


@pytest.mark.parametrize(("source_name", "sample_name"), CASES)
def test_contract(http: TestClient, database: str, source_name: str, sample_name: str) -> None:
    source = all_sources()[source_name]
    delivery = sample(source_name, sample_name)
    endpoint = make_endpoint(database, source)
    headers, query, body = signed_request(source, delivery, endpoint.signing_secret)
    path = endpoint.path(source_name)

    first = http.post(path, headers=headers, params=query, content=body)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "accepted"
    assert counts(database) == (1, 1, 1)
    with psycopg.connect(database) as conn:
        stored = conn.execute(
            "SELECT body, event_type, headers FROM raw.events WHERE event_id = %s",
            (first.json()["id"],),
        ).fetchone()
    assert stored is not None
    assert bytes(stored[0]) == body  # byte for byte as received
    assert stored[1]
    for secret_header in source.auth.secret_headers():
        assert secret_header not in stored[2]  # credentials are never stored

    again = http.post(path, headers=headers, params=query, content=body)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert counts(database) == (1, 1, 1)


@pytest.mark.parametrize(("source_name", "sample_name"), CASES[:: max(1, len(CASES) // 12)])
def test_concurrent_copies_store_one_event(
    database: str, source_name: str, sample_name: str
) -> None:
    source = all_sources()[source_name]
    endpoint = make_endpoint(database, source)
    headers, query, body = signed_request(
        source, sample(source_name, sample_name), endpoint.signing_secret
    )
    app = create_app(Settings.from_env({}), database)

    async def post_copies() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://qdx.test") as client,
        ):
            replies = await asyncio.gather(*[
                client.post(endpoint.path(source_name), headers=headers, params=query, content=body)
                for _ in range(6)
            ])  # fmt: skip
        return sorted(r.status_code for r in replies)

    assert asyncio.run(post_copies()) == [200, 200, 200, 200, 200, 202]
    assert counts(database) == (1, 1, 1)


@pytest.mark.parametrize(("source_name", "sample_name"), CASES)
def test_tampering_is_refused_and_stores_nothing(
    http: TestClient, database: str, source_name: str, sample_name: str
) -> None:
    source = all_sources()[source_name]
    endpoint = make_endpoint(database, source)
    headers, query, body = signed_request(
        source, sample(source_name, sample_name), endpoint.signing_secret
    )
    path = endpoint.path(source_name)
    if source.auth.binds_body:
        # A signature covers the body: one flipped byte fails it.
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        reply = http.post(path, headers=headers, params=query, content=bytes(flipped))
        assert reply.status_code == 401, reply.text
    wrong = make_endpoint(database, source, org="other")  # another endpoint's credentials
    bad_headers, bad_query, bad_body = signed_request(
        source, sample(source_name, sample_name), wrong.signing_secret
    )
    reply = http.post(path, headers=bad_headers, params=bad_query, content=bad_body)
    assert reply.status_code == 401, reply.text
    assert reply.json()["error"] == "signature"
    if timestamped(source.auth):
        stale_headers, stale_query, stale_body = signed_request(
            source,
            sample(source_name, sample_name),
            endpoint.signing_secret,
            now=time.time() - 3600,
        )
        reply = http.post(path, headers=stale_headers, params=stale_query, content=stale_body)
        assert reply.status_code == 401, reply.text
    assert counts(database) == (0, 0, 0)


def test_every_catalogued_source_is_declared_with_samples() -> None:
    declared = set(all_sources()) | set(batch_sources())
    assert [name for name in SOURCES if name not in declared] == []
    assert [name for name in all_sources() if not load_samples(name)] == []


def test_docs_sources_md_is_generated_from_the_declarations() -> None:
    from qdx.settings import PROJECT_ROOT
    from web.webhooks.docs import render

    on_disk = (PROJECT_ROOT / "docs" / "sources.md").read_text()
    assert on_disk == render(), "run: python -m web.webhooks.docs > docs/sources.md"
