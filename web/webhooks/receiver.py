"""`POST /webhooks/{source}/{endpoint_id}`: the one receiver for every source.

Order: known source and endpoint (404, no hint which), size (413), content type (415),
unsigned handshakes, authenticity (401), signed handshakes, delivery key and event type
(400), then one transaction that claims the key, stores the event and queues it. The
answer is sent only after that commit: 202 new, 200 duplicate, 503 when the database
cannot take it (the vendor retries; nothing is lost).

The receiver is a plain ASGI app: the hot path (thousands of deliveries a second) reads
the scope's headers and the body messages itself and writes its answers as prebuilt JSON,
with no Request/Response objects in between.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

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


NOT_FOUND = (404, "not_found", "no such webhook endpoint")
UNAVAILABLE = b'{"error":"unavailable","message":"try again later"}'
RETRY_AFTER = ((b"retry-after", b"5"),)


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


def _json(content: dict[str, str]) -> bytes:
    """The bytes JSONResponse would send for `content`."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


async def _answer(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> int:
    """Send a JSON answer straight through ASGI; returns its status."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return status


async def _read_body(receive: Receive, declared: str | None) -> bytes:
    """The raw body from the ASGI messages, refusing more than MAX_BODY bytes before
    reading them all (as read_body does for a Starlette request)."""
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Rejected(413, "too_large", "the body is over 25 MiB")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            if not more and not chunks:
                if len(chunk) > MAX_BODY:
                    raise Rejected(413, "too_large", "the body is over 25 MiB")
                return chunk  # the usual case: the whole body in one message
            size += len(chunk)
            if size > MAX_BODY:
                raise Rejected(413, "too_large", "the body is over 25 MiB")
            chunks.append(chunk)
            if not more:
                return b"".join(chunks)
        elif kind == "http.disconnect":
            # Nobody is left to answer; nothing was stored, so the vendor's retry is whole.
            raise Rejected(400, "disconnected", "the client went away mid-body")


class Receiver:
    """The webhook endpoint, bound to a pool and the app's counters: an ASGI app that
    expects `scope["path_params"]` to hold `source` and `endpoint_id`."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], count: Any, committer: GroupCommitter
    ) -> None:
        self.pool = pool
        self.committer = committer
        self.endpoints = EndpointCache(pool)
        self.sources = all_sources()
        # Per source: the header names never stored (credentials).
        self.dropped = {
            name: ALWAYS_DROPPED | {h.lower() for h in source.auth.secret_headers()}
            for name, source in self.sources.items()
        }
        # count(source, outcome): the app's Prometheus counter of deliveries.
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        """GET and POST /webhooks/{source}/{endpoint_id}; returns the status answered (the
        app counts it: no wrapper around `send` on the hot path)."""
        name = scope["path_params"]["source"]
        source = self.sources.get(name)
        label = name if source else "<unknown>"
        try:
            return await self._receive(scope, receive, send, source)
        except Rejected as exc:
            self.count(label, exc.reason)
            return await _answer(
                send, exc.status, _json({"error": exc.reason, "message": exc.message})
            )
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError) as exc:
            log.warning("webhook: database unavailable", extra={"source": label, "error": str(exc)})
            self.count(label, "unavailable")
            if isinstance(exc, psycopg.OperationalError):
                # The server may have restarted: drop every dead idle connection now, so the
                # vendor's retry gets a live one.
                await self.pool.check()
                await self.committer.pool.check()
            return await _answer(send, 503, UNAVAILABLE, RETRY_AFTER)

    async def _receive(
        self, scope: Scope, receive: Receive, send: Send, source: Source | None
    ) -> int:
        try:
            endpoint_id = UUID(scope["path_params"]["endpoint_id"])
        except ValueError:
            raise Rejected(*NOT_FOUND) from None
        if source is None:
            raise Rejected(*NOT_FOUND)
        endpoint = await self.endpoints.get(endpoint_id)
        if endpoint.org_id is None or endpoint.source != source.name:
            raise Rejected(*NOT_FOUND)
        # Header names come lower-cased (ASGI); values are latin-1 as Starlette decodes
        # them. A repeated header: the last one in `headers` (as before), the first one for
        # the content type and length (as request.headers.get), all of them when stored.
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(pairs)
        declared = content_type_raw = None
        for key, value in pairs:
            if key == "content-length" and declared is None:
                declared = value
            elif key == "content-type" and content_type_raw is None:
                content_type_raw = value
        body = await _read_body(receive, declared)
        content_type = (content_type_raw or "").split(";")[0].strip().lower()
        if body and content_type not in source.content_types:
            raise Rejected(415, "content_type", f"expected {' or '.join(source.content_types)}")
        method = scope["method"]
        query_string = scope.get("query_string", b"")
        delivery = Delivery(
            method=method,
            headers=headers,
            query=(
                dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
                if query_string
                else {}
            ),
            body=body,
            content_type=content_type,
        )
        for handshake in source.handshakes:
            if handshake.before_auth and (answer := handshake.answer(delivery, endpoint.secrets)):
                if answer.new_secret:
                    await self._adopt(endpoint_id, answer.new_secret)
                self.count(source.name, "handshake")
                await answer.response(scope, receive, send)
                return answer.response.status_code
        source.auth.verify(delivery, endpoint.secrets, time.time())
        for handshake in source.handshakes:
            if not handshake.before_auth and (
                answer := handshake.answer(delivery, endpoint.secrets)
            ):
                self.count(source.name, "handshake")
                await answer.response(scope, receive, send)
                return answer.response.status_code
        if method != "POST":
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
        dropped = self.dropped[source.name]
        kept: dict[str, str] = {}
        for name, value in pairs:
            if name in dropped:
                continue
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
        params = {
            "org_id": endpoint.org_id,
            "endpoint_id": endpoint_id,
            "source": source.name,
            "delivery_key": key[:512],
            "event_type": event_type[:200],
            "content_type": content_type,
            "headers": Jsonb(kept),
            "body": body,
        }
        # Stored with the deliveries that arrived with it, in one transaction; returns
        # after that transaction committed.
        event_id, is_new = await self.committer.accept(params)
        self.count(source.name, "accepted" if is_new else "duplicate")
        if is_new:
            return await _answer(
                send, 202, b'{"status":"accepted","id":"%s"}' % str(event_id).encode()
            )
        return await _answer(
            send, 200, b'{"status":"duplicate","id":"%s"}' % str(event_id).encode()
        )

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
