"""GET /healthz (the process answers) and GET /readyz (database reachable and migrated)."""

from __future__ import annotations

import logging
from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse

from db.migrate import SqlFile, pending_work
from db.queries import QUERIES

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


class Readiness:
    """Answers /readyz against the schema this code expects."""

    def __init__(self, pool: AsyncConnectionPool[Any], head: str | None, files: list[SqlFile]):
        self.pool = pool
        self.head = head
        self.files = files

    async def check(self) -> list[str]:
        """Reasons the app is not ready; empty when it is."""
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                exists = await (await conn.execute(QUERIES["alembic_version_exists"])).fetchone()
                current = None
                recorded: dict[str, str] = {}
                if exists and exists[0]:
                    row = await (await conn.execute(QUERIES["alembic_version"])).fetchone()
                    current = row[0] if row else None
                    cursor = await conn.execute(QUERIES["sql_file_checksums"])
                    recorded = dict(await cursor.fetchall())
        except Exception as exc:  # the reason is logged; the client only learns "unreachable"
            log.warning("readiness: database unreachable", extra={"error": str(exc)})
            return ["database unreachable"]
        return pending_work(self.head, self.files, current, recorded)

    async def endpoint(self, request: Request) -> JSONResponse:
        """200 when ready; 503 with the reasons when not."""
        reasons = await self.check()
        if reasons:
            return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503)
        return JSONResponse({"status": "ready"})
