"""Group commit: deliveries that arrive together are stored in one transaction.

Each request hands its delivery to the committer and waits; a flusher takes whatever has
queued up (at most MAX_BATCH), stores it in one transaction on one connection, and only
after the COMMIT answers every waiting request. Durability is the same as one transaction
per delivery (nothing is acknowledged before it is committed); the server does one WAL
flush and one round trip per batch instead of per delivery.

A batch that fails (a lost connection, a deadlock between two batches, anything) is not
retried as a batch: its deliveries are stored one by one, so one bad delivery cannot
fail its neighbours, and a database outage reaches every request as its own error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from db.queries import QUERIES

log = logging.getLogger(__name__)

MAX_BATCH = 64
# Deliveries that may wait for a flusher; past this the receiver answers 503 + Retry-After
# at once instead of letting latency grow without bound.
MAX_QUEUED = 256
Row = tuple[Any, bool]


class GroupCommitter:
    """Stores deliveries in shared transactions; one flusher per pooled connection used."""

    def __init__(self, pool: AsyncConnectionPool[Any], flushers: int, db_wait: float) -> None:
        self.pool = pool
        self.db_wait = db_wait
        self.flushers = flushers
        self.queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[Row]]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the flushers (in the app's lifespan, on its event loop)."""
        self.tasks = [
            asyncio.create_task(self._flush_forever(), name=f"group-commit-{i}")
            for i in range(self.flushers)
        ]

    async def stop(self) -> None:
        """Stop the flushers; deliveries still queued get an error (their senders retry)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        while not self.queue.empty():
            _, future = self.queue.get_nowait()
            if not future.done():
                future.set_exception(psycopg.OperationalError("the server is stopping"))

    async def accept(self, params: dict[str, Any]) -> Row:
        """Store one delivery; returns (event id, is new) once its transaction committed."""
        if self.queue.qsize() >= MAX_QUEUED:
            raise TooManyRequests(f"{MAX_QUEUED} deliveries already wait to be stored")
        future: asyncio.Future[Row] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((params, future))
        return await future

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[dict[str, Any], asyncio.Future[Row]]]) -> None:
        # One lock order for every batch: two batches holding copies of the same deliveries
        # then wait on each other in the same order instead of deadlocking.
        batch.sort(
            key=lambda item: (str(item[0]["org_id"]), item[0]["source"], item[0]["delivery_key"])
        )
        try:
            rows = await self._store(batch)
        except Exception as exc:
            # The database is out of reach: every delivery gets that answer (503) at once.
            unavailable = isinstance(exc, PoolTimeout | TooManyRequests | psycopg.OperationalError)
            if len(batch) > 1 and not unavailable:
                log.info(
                    "group commit: batch failed, storing one by one", extra={"error": str(exc)}
                )
                for item in batch:
                    await self._flush([item])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), row in zip(batch, rows, strict=True):
            if not future.done():
                future.set_result(row)

    async def _store(self, batch: list[tuple[dict[str, Any], asyncio.Future[Row]]]) -> list[Row]:
        rows: list[Row] = []
        async with (
            self.pool.connection(timeout=self.db_wait) as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            await cursor.executemany(
                QUERIES["accept_event"], [params for params, _ in batch], returning=True
            )
            while True:
                row = await cursor.fetchone()
                assert row is not None
                rows.append((row[0], bool(row[1])))
                if not cursor.nextset():
                    break
        # Leaving the transaction block committed it: only now are the rows durable.
        return rows
