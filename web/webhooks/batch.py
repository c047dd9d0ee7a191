"""`POST /ingest/{source}/{endpoint_id}/batch`: newline-delimited JSON records from batch
sources (IDE telemetry, AI-tool usage exports), authenticated by a service token.

The whole batch is one transaction: each record is claimed by its own id (a repeat is a
duplicate), stored and queued; a malformed line rejects the batch, naming the line.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.queries import QUERIES
from db.scope import as_worker_async
from web.tokens import InvalidToken, verify_token
from web.webhooks.delivery import Delivery, Rejected, malformed
from web.webhooks.keys import KeyRing
from web.webhooks.locate import first
from web.webhooks.receiver import NOT_FOUND, EndpointCache, media_type, read_body
from web.webhooks.registry import batch_sources
from web.webhooks.source import NDJSON, BatchSource

MAX_RECORDS = 50_000


def parse_records(body: bytes, source: BatchSource) -> list[tuple[str, str, bytes]]:
    """(record id, event type, line bytes) for every non-blank line; 400 names a bad line."""
    records = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        record = Delivery(method="POST", headers={}, query={}, body=line.strip())
        try:
            value = json.loads(record.body)
        except (ValueError, UnicodeDecodeError):
            raise malformed(f"line {number} is not valid JSON") from None
        if not isinstance(value, dict):
            raise malformed(f"line {number} is not a JSON object")
        record.__dict__["payload"] = value
        key = first(record, source.record_id)
        if key is None:
            wanted = " or ".join(loc.describe() for loc in source.record_id)
            raise malformed(f"line {number} has no record id: expected {wanted}")
        event_type = first(record, source.event_type)
        if event_type is None:
            raise malformed(f"line {number} has no event type")
        records.append((key[:512], event_type[:200], record.body))
    if not records:
        raise malformed("the batch has no records")
    if len(records) > MAX_RECORDS:
        raise Rejected(413, "too_large", f"a batch holds at most {MAX_RECORDS} records")
    return records


class BatchReceiver:
    """The batch endpoint, bound to a pool, the token keys and the app's counters."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], endpoints: EndpointCache, keys: KeyRing,
        audience: str, issuer: str, count: Any,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.endpoints = endpoints
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
        self.count = count
        self.sources = batch_sources()

    async def endpoint(self, request: Request) -> Response:
        """Starlette endpoint."""
        name = request.path_params["source"]
        source = self.sources.get(name)
        label = name if source else "<unknown>"
        try:
            return await self._receive(request, source)
        except Rejected as exc:
            self.count(label, exc.reason)
            return JSONResponse(
                {"error": exc.reason, "message": exc.message}, status_code=exc.status
            )

    async def _claims_org(self, request: Request) -> UUID:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise Rejected(
                401, "signature", "a service token is required: Authorization: Bearer <token>"
            )
        token = header[7:].strip()
        try:
            claims = verify_token(
                token, await self.keys.for_token(token), audience=self.audience, issuer=self.issuer
            )
        except InvalidToken as exc:
            raise Rejected(401, "signature", str(exc)) from None
        if claims.role != "service":
            raise Rejected(403, "forbidden", "batch uploads need a token with the service role")
        return claims.org_id

    async def _receive(self, request: Request, source: BatchSource | None) -> Response:
        org_id = await self._claims_org(request)
        try:
            endpoint_id = UUID(request.path_params["endpoint_id"])
        except ValueError:
            raise Rejected(*NOT_FOUND) from None
        endpoint = await self.endpoints.get(endpoint_id)
        # Another org's endpoint looks exactly like a missing one.
        if source is None or endpoint.source != source.name or endpoint.org_id != org_id:
            raise Rejected(*NOT_FOUND)
        body = await read_body(request)
        if media_type(request) not in NDJSON:
            raise Rejected(415, "content_type", "expected application/x-ndjson")
        records = parse_records(body, source)
        headers = Jsonb({"content-type": request.headers.get("content-type", "")})
        started = time.perf_counter()
        params = [
            {"org_id": org_id, "endpoint_id": endpoint_id, "source": source.name,
             "delivery_key": key, "event_type": event_type,
             "content_type": "application/json", "headers": headers, "body": line}
            for key, event_type, line in records
        ]  # fmt: skip
        new = 0
        async with (
            self.pool.connection(timeout=10.0) as conn,
            as_worker_async(conn, org_id),
            conn.cursor() as cursor,
        ):
            # One transaction as the worker role for the endpoint's org, pipelined: one
            # round trip for the whole batch.
            await cursor.executemany(QUERIES["accept_event"], params, returning=True)
            while True:
                row = await cursor.fetchone()
                new += 1 if row and row[1] else 0
                if not cursor.nextset():
                    break
        # Committed: every record of the batch is stored, or none is.
        duplicates = len(records) - new
        self.count(source.name, "accepted")
        return JSONResponse(
            {"status": "accepted", "records": len(records), "new": new, "duplicates": duplicates,
             "seconds": round(time.perf_counter() - started, 4)},
            status_code=200,
        )  # fmt: skip
