"""The bearer-token check of the read interfaces (web.api.auth), against tokens signed by
keys stored in a real database: the cache of verified tokens (what the MCP gate uses)
accepts a token again only while a full verification would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

import web.api.auth
from web.api.auth import Authenticator, Refused
from web.tokens import LEEWAY, issue_token, rotate_signing_key
from web.webhooks.keys import KeyRing

AUDIENCE, ISSUER = "http://127.0.0.1:8000", "quantum-dx"


def _token(database: str, *, ttl: timedelta = timedelta(hours=1),
           now: datetime | None = None) -> str:  # fmt: skip
    with psycopg.connect(database) as conn:
        if conn.execute("SELECT 1 FROM auth.orgs WHERE slug = 'acme'").fetchone() is None:
            conn.execute("INSERT INTO auth.orgs (org_id, slug, name) VALUES (%s, 'acme', 'Acme')",
                         (uuid.uuid4(),))  # fmt: skip
        token, _ = issue_token(conn, org="acme", teams=[], role="viewer", ttl=ttl,
                               subject="agent", issuer=ISSUER, audience=AUDIENCE,
                               now=now)  # fmt: skip
        conn.commit()
    return token


def _request(token: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/mcp/metrics",
                    "headers": [(b"authorization", f"Bearer {token}".encode())]})  # fmt: skip


def _with_ring(database: str, test: Callable[[KeyRing], Awaitable[None]]) -> None:
    async def go() -> None:
        async with AsyncConnectionPool(database, min_size=1, max_size=2, open=False) as pool:
            await test(KeyRing(pool))

    asyncio.run(go())


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens verify_token checks in full (it still checks them)."""
    seen: list[str] = []
    verify = web.api.auth.verify_token

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return verify(token, *args, **kwargs)

    monkeypatch.setattr(web.api.auth, "verify_token", counting)
    return seen


async def _refusal(auth: Authenticator, token: str) -> str:
    with pytest.raises(Refused) as refused:
        await auth.caller(_request(token))
    assert refused.value.status == 401
    return refused.value.message


def test_a_verified_token_is_remembered_and_a_new_one_checked_in_full(
    database: str, verifications: list[str]
) -> None:
    first, second, third = (_token(database) for _ in range(3))

    async def test(ring: KeyRing) -> None:
        auth = Authenticator(ring, AUDIENCE, ISSUER, cache=2)
        for _ in range(3):
            assert (await auth.caller(_request(first))).role == "viewer"
        assert verifications == [first]
        # One character off (the signature's last): a new token, verified and refused.
        forged = first[:-2] + ("AA" if not first.endswith("AA") else "BA")
        assert await _refusal(auth, forged) == "bad token signature"
        await _refusal(auth, forged)
        assert verifications == [first, forged, forged]
        # At most `cache` tokens, the least recently used leaves first.
        await auth.caller(_request(second))
        await auth.caller(_request(first))
        await auth.caller(_request(third))  # evicts second
        await auth.caller(_request(first))
        await auth.caller(_request(second))
        assert verifications == [first, forged, forged, second, third, second]
        # Without a cache every request is verified.
        plain = Authenticator(ring, AUDIENCE, ISSUER)
        await plain.caller(_request(first))
        await plain.caller(_request(first))
        assert verifications[-2:] == [first, first]

    _with_ring(database, test)


def test_an_expired_token_is_refused_after_a_cached_success(database: str) -> None:
    # Accepted (expiry plus the leeway) for about three more seconds.
    base = int(time.time())
    ttl = timedelta(hours=1)
    issued = datetime.fromtimestamp(base + 3, UTC) - ttl - LEEWAY
    token = _token(database, ttl=ttl, now=issued)

    async def test(ring: KeyRing) -> None:
        auth = Authenticator(ring, AUDIENCE, ISSUER, cache=16)
        assert (await auth.caller(_request(token))).role == "viewer"
        await auth.caller(_request(token))
        await asyncio.sleep(max(0.0, base + 3.5 - time.time()))
        assert await _refusal(auth, token) == "token expired"

    _with_ring(database, test)


def test_a_token_of_a_dropped_key_is_refused_after_a_cached_success(database: str) -> None:
    old = _token(database)

    async def test(ring: KeyRing) -> None:
        auth = Authenticator(ring, AUDIENCE, ISSUER, cache=16)
        await auth.caller(_request(old))
        await auth.caller(_request(old))
        # The key is rotated, and retired longer ago than retired keys verify.
        with psycopg.connect(database) as conn:
            rotate_signing_key(conn)
            conn.execute("UPDATE auth.signing_keys SET retired_at = now() - interval '25 hours'"
                         " WHERE retired_at IS NOT NULL")  # fmt: skip
            conn.commit()
        new = _token(database)
        ring.loaded_at = float("-inf")  # (past the ring's reload throttle)
        await auth.caller(_request(new))  # a new kid: the ring reloads without the old key
        assert await _refusal(auth, old) == "token signed by an unknown key"
        assert (await auth.caller(_request(new))).role == "viewer"

    _with_ring(database, test)
