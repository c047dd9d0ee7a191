"""The Starlette application."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from db.migrate import head_revision, sql_files
from qdx.settings import Settings
from web.api.auth import TOKEN_CACHE, Authenticator
from web.api.rest import Rest
from web.api.sql import SqlEndpoint
from web.health import Readiness, healthz
from web.mcp_server import McpServers
from web.prom import Metrics, MetricsMiddleware
from web.webhooks.batch import BatchReceiver
from web.webhooks.group import GroupCommitter, ingest_pool
from web.webhooks.keys import KeyRing
from web.webhooks.receiver import DB_WAIT, Receiver

log = logging.getLogger(__name__)

# At most this many transactions store deliveries at once (more than one only while a full
# batch waits: see GroupCommitter).
GROUP_FLUSHERS = 4
WEBHOOK_ROUTE = "/webhooks/{source}/{endpoint_id}"
INTERNAL_ERROR = b'{"error":"internal","message":"the server failed to answer"}'


class App(Starlette):
    """Starlette, except that GET and POST /webhooks/{source}/{endpoint_id} go straight to
    the receiver (an ASGI app), counted and timed as the middleware would: the hot path
    pays for neither the middleware stack nor the router. Every other request, and any
    other method on that path, takes the usual way."""

    webhooks: Receiver
    metrics: Metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "GET"):
            parts = scope["path"].split("/")
            # The route's own pattern: /webhooks/<one segment>/<one segment>.
            if (
                len(parts) == 4
                and parts[1] == "webhooks"
                and parts[2]
                and parts[3]
                and not scope.get("root_path")
            ):
                scope["app"] = self
                scope["path_params"] = {"source": parts[2], "endpoint_id": parts[3]}
                await self._webhook(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        try:
            status = await self.webhooks(scope, receive, send)
        except Exception:
            # Never a stack trace to the caller: logged here, a JSON 500 there (unless the
            # answer had begun, which the receiver does only as its last step).
            log.exception("webhook: unexpected failure")
            with contextlib.suppress(Exception):
                await send({
                    "type": "http.response.start", "status": 500,
                    "headers": [(b"content-length", str(len(INTERNAL_ERROR)).encode()),
                                (b"content-type", b"application/json")],
                })  # fmt: skip
                await send({"type": "http.response.body", "body": INTERNAL_ERROR})
        finally:
            self.metrics.observe_request(
                scope["method"], WEBHOOK_ROUTE, status, time.perf_counter() - started
            )


def create_app(settings: Settings, conninfo: str) -> App:
    """The whole HTTP surface, bound to one database."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo,
        min_size=2,
        max_size=settings.pool_max_size,
        open=False,
        name="web",
        # Past this many waiting requests, fail fast (503 + Retry-After), never queue unboundedly.
        max_waiting=settings.pool_max_size * 8,
        # Autocommit: a request's single SQL call is its own transaction, one round trip
        # (no BEGIN/COMMIT). Multi-statement work opens `conn.transaction()` explicitly.
        kwargs={"application_name": "qdx-web", "autocommit": True},
    )
    # The group commit's own connections, which run as qdx_worker (web/webhooks/group.py).
    ingest = ingest_pool(conninfo, GROUP_FLUSHERS)
    readiness = Readiness(pool, head_revision(), sql_files())
    metrics = Metrics()
    metrics.watch_pool(pool.get_stats)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # wait=False: the process serves /healthz (and a 503 /readyz) while the database
        # is still coming up.
        await pool.open(wait=False)
        await ingest.open(wait=False)
        app.state.pool = pool
        committer.start()
        try:
            async with mcp.running():
                yield
        finally:
            await committer.stop()
            await ingest.close()
            await pool.close()

    committer = GroupCommitter(ingest, flushers=GROUP_FLUSHERS, db_wait=DB_WAIT)
    receiver = Receiver(pool, metrics.count_delivery, committer)
    batches = BatchReceiver(
        pool, receiver.endpoints, KeyRing(pool), settings.jwt_audience, settings.jwt_issuer,
        metrics.count_delivery,
    )  # fmt: skip
    rest = Rest(
        pool,
        Authenticator(KeyRing(pool), settings.jwt_audience, settings.jwt_issuer, cache=TOKEN_CACHE),
    )
    mcp = McpServers(settings, pool, rest, SqlEndpoint(rest))
    routes: list[BaseRoute] = [
        # Reached for HEAD and other methods only (405); App answers GET and POST itself.
        Route(WEBHOOK_ROUTE, receiver, methods=["GET", "POST"]),
        Route("/ingest/{source}/{endpoint_id}/batch", batches.endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness.endpoint, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        *rest.routes(),
        *mcp.routes(),
    ]
    app = App(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics, routes=lambda: routes)],
    )
    app.webhooks = receiver
    app.metrics = metrics
    app.state.settings = settings
    return app
