"""Group commit: deliveries that arrive together are stored in one transaction.

Each request hands its delivery to the committer and waits; a flusher takes whatever has
queued up (at most MAX_BATCH), stores it in one transaction on one connection, and only
after the COMMIT answers every waiting request. Durability is the same as one transaction
per delivery (nothing is acknowledged before it is committed); the server does one WAL
flush and one round trip per batch instead of per delivery (raw.accept_events takes the
batch as arrays: one statement stores it all). The committer's connections are its own
(ingest_pool) and run as the worker role, qdx_worker: raw.accept_events sets each org of
a batch in turn, and row-level security admits only that org's rows in each statement.

A batch that fails (a lost connection, a deadlock between two batches, anything) is not
retried as a batch: its deliveries are stored one by one, so one bad delivery cannot
fail its neighbours, and a database outage reaches every request as its own error.
"""

from __future__ import annotations

import asyncio
import logging
from hashlib import sha256
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from db.queries import QUERIES
from db.scope import take_worker_role

log = logging.getLogger(__name__)

MAX_BATCH = 64
# Queued deliveries that start a transaction alongside the one in flight.
SPILL = MAX_BATCH
# Deliveries that may wait for a flusher; past this the receiver answers 503 + Retry-After
# at once instead of letting latency grow without bound.
MAX_QUEUED = 256
Row = tuple[Any, bool]
# The delivery fields, in raw.accept_events' argument order; each goes as one array,
# followed by the bodies' sha256.
COLUMNS = ("org_id", "endpoint_id", "source", "delivery_key", "event_type", "content_type",
           "headers", "body")  # fmt: skip


def ingest_pool(conninfo: str, size: int) -> AsyncConnectionPool[Any]:
    """The group committer's own pool (opened by the caller): autocommit connections that
    run as qdx_worker for their whole session (the role taken once per connection costs
    nothing per batch; three statements per transaction to take it would cost a tenth
    of the store's throughput). Nothing else uses them."""
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=size,
        open=False,
        name="ingest",
        configure=take_worker_role,
        kwargs={"application_name": "qdx-ingest", "autocommit": True},
    )


class GroupCommitter:
    """Stores deliveries in shared transactions, each on one connection of `pool` (an
    ingest_pool: as qdx_worker, with row-level security admitting each group's org).

    One transaction is in flight at a time while the load is moderate: what arrives
    meanwhile waits for its COMMIT and then goes as the next batch, so batches grow with
    the load and the database does one statement and one WAL flush for each (flushers
    that each take whatever is queued commit many small batches instead, for more CPU per
    delivery on both sides). Another transaction starts alongside only when a full batch
    (MAX_BATCH) waits, up to `flushers` at once: then parallel transactions drain the
    backlog.
    """

    def __init__(self, pool: AsyncConnectionPool[Any], flushers: int, db_wait: float) -> None:
        self.pool = pool
        self.db_wait = db_wait
        self.flushers = flushers
        self.queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[Row]]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.in_flight = 0  # transactions being stored now
        self.wake = asyncio.Event()  # a transaction ended, or a full batch waits

    def start(self) -> None:
        """Start the dispatcher (in the app's lifespan, on its event loop)."""
        self.tasks = [asyncio.create_task(self._dispatch(), name="group-commit")]

    async def stop(self) -> None:
        """Stop storing; deliveries not yet committed get an error (their senders retry)."""
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
        if self.queue.qsize() >= SPILL:
            self.wake.set()
        return await future

    async def _dispatch(self) -> None:
        """Form batches in arrival order and start a transaction for each: the next one
        when the one in flight committed, or alongside it (up to `flushers` at once) when
        a full batch already waits."""
        while True:
            batch = [await self.queue.get()]
            try:
                while self.in_flight and (
                    self.in_flight >= self.flushers or self.queue.qsize() + 1 < SPILL
                ):
                    self.wake.clear()
                    await self.wake.wait()
            except asyncio.CancelledError:
                _, future = batch[0]  # stopping: its sender gets an error and retries
                if not future.done():
                    future.set_exception(psycopg.OperationalError("the server is stopping"))
                raise
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self.in_flight += 1
            task = asyncio.create_task(self._flush_one(batch), name="group-commit-flush")
            self.tasks.append(task)
            task.add_done_callback(self.tasks.remove)

    async def _flush_one(self, batch: list[tuple[dict[str, Any], asyncio.Future[Row]]]) -> None:
        try:
            await self._flush(batch)
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.set_exception(psycopg.OperationalError("the server is stopping"))
            raise
        finally:
            self.in_flight -= 1
            self.wake.set()

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
        columns = [[params[name] for params, _ in batch] for name in COLUMNS]
        columns.append([sha256(body).digest() for body in columns[-1]])
        async with self.pool.connection(timeout=self.db_wait) as conn:
            # One statement, so one transaction of its own on the autocommit connection:
            # when execute() returns, the batch is committed and durable. The connection
            # runs as qdx_worker (ingest_pool) and raw.accept_events sets each group's org.
            # (the arrays go in binary: no text escaping of the bodies)
            cursor = await conn.execute(QUERIES["accept_events"], columns, binary=True)
            rows = await cursor.fetchall()
        return [(event_id, bool(is_new)) for event_id, is_new in rows]
