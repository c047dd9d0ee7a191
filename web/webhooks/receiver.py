"""`POST /webhooks/{source}/{endpoint_id}`: the one receiver for every source.

Order: known source and endpoint (404, no hint which), size (413), content type (415),
unsigned handshakes, authenticity (401), signed handshakes, delivery key and event type
(400), then one transaction that claims the key, stores the event and queues it. The
answer is sent only after that commit: 202 new, 200 duplicate, 503 when the database
cannot take it (the vendor retries; nothing is lost).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from db.queries import QUERIES
from web.webhooks.delivery import Delivery, Rejected, malformed
from web.webhooks.group import GroupCommitter
from web.webhooks.locate import first
from web.webhooks.registry import all_sources
from web.webhooks.source import Source

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024
# How long a delivery waits for a pooled connection before it is answered 503.
DB_WAIT = 5.0
# Endpoint rows are cached briefly: a rotated or added secret is seen within this time.
ENDPOINT_TTL = 5.0
# Never stored: credentials that any source may send.
ALWAYS_DROPPED = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class Endpoint:
    """The row behind an endpoint id (None fields for an unknown endpoint)."""

    org_id: UUID | None
    source: str | None
    secrets: list[str]


class EndpointCache:
    """endpoint id -> Endpoint, refreshed after ENDPOINT_TTL seconds (unknown ones too)."""

    def __init__(self, pool: AsyncConnectionPool[Any], ttl: float = ENDPOINT_TTL) -> None:
        self.pool = pool
        self.ttl = ttl
        self._entries: dict[UUID, tuple[float, Endpoint]] = {}

    async def get(self, endpoint_id: UUID) -> Endpoint:
        now = time.monotonic()
        cached = self._entries.get(endpoint_id)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        async with self.pool.connection(timeout=DB_WAIT) as conn:
            cursor = await conn.execute(QUERIES["endpoint_secrets"], {"endpoint_id": endpoint_id})
            row = await cursor.fetchone()
        endpoint = Endpoint(row[0], row[1], list(row[2])) if row else Endpoint(None, None, [])
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[endpoint_id] = (now, endpoint)
        return endpoint

    def forget(self, endpoint_id: UUID) -> None:
        """Drop a cached endpoint (after its secret changed)."""
        self._entries.pop(endpoint_id, None)


def error(
    status: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error body: never a stack trace, never SQL."""
    return JSONResponse({"error": reason, "message": message}, status_code=status, headers=headers)


NOT_FOUND = (404, "not_found", "no such webhook endpoint")


async def read_body(request: Request) -> bytes:
    """The raw body, refusing more than MAX_BODY bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Rejected(413, "too_large", "the body is over 25 MiB")
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Rejected(413, "too_large", "the body is over 25 MiB")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to answer; nothing was stored, so the vendor's retry is whole.
        raise Rejected(400, "disconnected", "the client went away mid-body") from None
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The content type without parameters, lower-cased."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def stored_headers(request: Request, source: Source) -> dict[str, str]:
    """The request headers worth keeping: all but credentials."""
    dropped = ALWAYS_DROPPED | set(source.auth.secret_headers())
    kept: dict[str, str] = {}
    for name, value in request.headers.items():
        if name in dropped:
            continue
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


class Receiver:
    """The webhook endpoint, bound to a pool and the app's counters."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], count: Any, committer: GroupCommitter
    ) -> None:
        self.pool = pool
        self.committer = committer
        self.endpoints = EndpointCache(pool)
        self.sources = all_sources()
        # count(source, outcome): the app's Prometheus counter of deliveries.
        self.count = count

    async def endpoint(self, request: Request) -> Response:
        """Starlette endpoint for GET and POST /webhooks/{source}/{endpoint_id}."""
        name = request.path_params["source"]
        source = self.sources.get(name)
        label = name if source else "<unknown>"
        try:
            response = await self._receive(request, source)
        except Rejected as exc:
            self.count(label, exc.reason)
            return error(exc.status, exc.reason, exc.message)
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError) as exc:
            log.warning("webhook: database unavailable", extra={"source": label, "error": str(exc)})
            self.count(label, "unavailable")
            if isinstance(exc, psycopg.OperationalError):
                # The server may have restarted: drop every dead idle connection now, so the
                # vendor's retry gets a live one.
                await self.pool.check()
            return error(503, "unavailable", "try again later", {"Retry-After": "5"})
        return response

    async def _receive(self, request: Request, source: Source | None) -> Response:
        try:
            endpoint_id = UUID(request.path_params["endpoint_id"])
        except ValueError:
            raise Rejected(*NOT_FOUND) from None
        if source is None:
            raise Rejected(*NOT_FOUND)
        endpoint = await self.endpoints.get(endpoint_id)
        if endpoint.org_id is None or endpoint.source != source.name:
            raise Rejected(*NOT_FOUND)
        body = await read_body(request)
        content_type = media_type(request)
        if body and content_type not in source.content_types:
            raise Rejected(415, "content_type", f"expected {' or '.join(source.content_types)}")
        delivery = Delivery(
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
            content_type=content_type,
        )
        for handshake in source.handshakes:
            if handshake.before_auth and (answer := handshake.answer(delivery, endpoint.secrets)):
                if answer.new_secret:
                    await self._adopt(endpoint_id, answer.new_secret)
                self.count(source.name, "handshake")
                return answer.response
        source.auth.verify(delivery, endpoint.secrets, time.time())
        for handshake in source.handshakes:
            if not handshake.before_auth and (
                answer := handshake.answer(delivery, endpoint.secrets)
            ):
                self.count(source.name, "handshake")
                return answer.response
        if request.method != "POST":
            raise Rejected(405, "method", "deliveries are POSTed")
        if not body and not source.empty_body:
            raise malformed("the body is empty")
        delivery.payload  # noqa: B018 (parse now: malformed JSON is a 400 before anything else)
        key = first(delivery, source.delivery_id)
        if key is None:
            wanted = " or ".join(loc.describe() for loc in source.delivery_id)
            raise malformed(f"no delivery id: expected {wanted}")
        event_type = first(delivery, source.event_type)
        if event_type is None:
            wanted = " or ".join(loc.describe() for loc in source.event_type)
            raise malformed(f"no event type: expected {wanted}")
        params = {
            "org_id": endpoint.org_id,
            "endpoint_id": endpoint_id,
            "source": source.name,
            "delivery_key": key[:512],
            "event_type": event_type[:200],
            "content_type": content_type,
            "headers": Jsonb(stored_headers(request, source)),
            "body": body,
        }
        # Stored with the deliveries that arrived with it, in one transaction; returns
        # after that transaction committed.
        row = await self.committer.accept(params)
        assert row is not None
        event_id, is_new = row
        self.count(source.name, "accepted" if is_new else "duplicate")
        if is_new:
            return JSONResponse({"status": "accepted", "id": str(event_id)}, status_code=202)
        return JSONResponse({"status": "duplicate", "id": str(event_id)}, status_code=200)

    async def _adopt(self, endpoint_id: UUID, secret: str) -> None:
        async with self.pool.connection(timeout=DB_WAIT) as conn:
            cursor = await conn.execute(
                QUERIES["adopt_webhook_secret"], {"endpoint_id": endpoint_id, "secret": secret}
            )
            row = await cursor.fetchone()
        self.endpoints.forget(endpoint_id)
        if not (row and row[0]):
            raise Rejected(
                401, "signature",
                "this endpoint no longer accepts a handshake secret: add a new endpoint",
            )  # fmt: skip
