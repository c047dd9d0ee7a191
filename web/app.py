"""The Starlette application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from db.migrate import head_revision, sql_files
from qdx.settings import Settings
from web.api.auth import Authenticator
from web.api.rest import Rest
from web.health import Readiness, healthz
from web.prom import Metrics, MetricsMiddleware
from web.webhooks.batch import BatchReceiver
from web.webhooks.group import GroupCommitter
from web.webhooks.keys import KeyRing
from web.webhooks.receiver import DB_WAIT, Receiver

# Transactions storing deliveries in parallel; each takes what queued up meanwhile.
GROUP_FLUSHERS = 4


def create_app(settings: Settings, conninfo: str) -> Starlette:
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
    readiness = Readiness(pool, head_revision(), sql_files())
    metrics = Metrics()
    metrics.watch_pool(pool.get_stats)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # wait=False: the process serves /healthz (and a 503 /readyz) while the database
        # is still coming up.
        await pool.open(wait=False)
        app.state.pool = pool
        committer.start()
        try:
            yield
        finally:
            await committer.stop()
            await pool.close()

    committer = GroupCommitter(pool, flushers=GROUP_FLUSHERS, db_wait=DB_WAIT)
    receiver = Receiver(pool, metrics.count_delivery, committer)
    batches = BatchReceiver(
        pool, receiver.endpoints, KeyRing(pool), settings.jwt_audience, settings.jwt_issuer,
        metrics.count_delivery,
    )  # fmt: skip
    rest = Rest(pool, Authenticator(KeyRing(pool), settings.jwt_audience, settings.jwt_issuer))
    routes: list[BaseRoute] = [
        Route("/webhooks/{source}/{endpoint_id}", receiver.endpoint, methods=["GET", "POST"]),
        Route("/ingest/{source}/{endpoint_id}/batch", batches.endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness.endpoint, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        *rest.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics, routes=lambda: routes)],
    )
    app.state.settings = settings
    return app
