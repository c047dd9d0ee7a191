"""Draining the ingest queue: batches of raw events normalized by one SQL call each.

A batch is claimed in one transaction (pgmq's SKIP LOCKED read hides it for the visibility
timeout and counts the attempt) and applied in a second. If the apply fails or the process
dies, its transaction rolls back and the messages come back after the timeout (with an
exponential back-off after an error); after `max_attempts` they are dead-lettered with the
last error. Normalization is idempotent, so a batch applied again changes nothing.

The claim spans orgs and stays the owner's (it also dead-letters); the apply does not: a
claimed batch is applied per org, each group in a transaction of its own as the worker
role (qdx_worker) with that org set, so row-level security keeps a normalizer's reads
and writes within the org of its events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from db.queries import QUERIES
from db.scope import as_worker_async

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormalizerConfig:
    """How batches are taken from the queue."""

    batch_size: int = 1000
    visibility_timeout: int = 60  # seconds a claimed batch stays hidden
    max_attempts: int = 5
    idle_poll: float = 0.05  # first wait when the queue is empty, doubling up to 1 s


@dataclass
class Progress:
    """What a drain did: batches, events per outcome, batches deferred after an error."""

    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    deferred: int = 0

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())


async def drain_batch(
    conn: psycopg.AsyncConnection[Any], config: NormalizerConfig, progress: Progress
) -> int:
    """Claim and apply one batch on an autocommit connection; the number of messages
    claimed (0 when the queue had nothing visible)."""
    cursor = await conn.execute(
        QUERIES["claim_ingest"],
        {"qty": config.batch_size, "vt": config.visibility_timeout,
         "max_attempts": config.max_attempts},
    )  # fmt: skip
    by_org: dict[UUID, list[int]] = {}
    claimed = 0
    for msg_id, _read_ct, org_id in await cursor.fetchall():
        by_org.setdefault(org_id, []).append(msg_id)
        claimed += 1
    for org_id, msg_ids in by_org.items():
        await _apply(conn, org_id, msg_ids, progress)
    return claimed


# SQLSTATE classes and codes worth retrying as they are: serialization failure and
# deadlock (40), lock not available, statement or lock timeout (query canceled).
TRANSIENT = ("40", "55P03", "57014")


async def _apply(
    conn: psycopg.AsyncConnection[Any], org_id: UUID, msg_ids: list[int], progress: Progress
) -> None:
    """Apply claimed messages of one org in one transaction as the worker role, with that
    org set. A transient error defers them (back-off,
    then dead letter). Any other error comes from one bad event that got past its
    normalizer (a value a canonical table refuses): the batch is split in halves until the
    culprit is alone, so it alone is deferred and then given up."""
    try:
        async with as_worker_async(conn, org_id):
            cursor = await conn.execute(QUERIES["apply_ingest"], {"msg_ids": msg_ids})
            rows = await cursor.fetchall()
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise  # the messages come back after their visibility timeout
        if len(msg_ids) > 1 and not (exc.sqlstate or "").startswith(TRANSIENT):
            half = len(msg_ids) // 2
            await _apply(conn, org_id, msg_ids[:half], progress)
            await _apply(conn, org_id, msg_ids[half:], progress)
            return
        message = (exc.diag.message_primary or str(exc)).strip()
        log.warning("normalize: batch of %d deferred: %s", len(msg_ids), message)
        async with as_worker_async(conn, org_id):
            await conn.execute(QUERIES["defer_ingest"], {"msg_ids": msg_ids, "error": message})
        progress.deferred += 1
        return
    progress.batches += 1
    for row in rows:
        status, count = row
        progress.outcomes[str(status)] += int(count)


async def drain(conninfo: str, config: NormalizerConfig | None = None) -> Progress:
    """Normalize everything visible in the queue now, then return what was done."""
    config = config or NormalizerConfig()
    progress = Progress()
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        while await drain_batch(conn, config, progress):
            pass
    return progress


async def run_normalizer(conninfo: str, config: NormalizerConfig | None = None,
                         name: str = "normalizer") -> None:  # fmt: skip
    """Drain the queue until cancelled, waiting with a growing poll interval when idle and
    reconnecting (with back-off) when the database goes away."""
    config = config or NormalizerConfig()
    progress = Progress()
    reconnect_wait = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                reconnect_wait = 0.5
                wait = config.idle_poll
                while True:
                    if await drain_batch(conn, config, progress):
                        wait = config.idle_poll
                        continue
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, 1.0)
        except psycopg.OperationalError as exc:
            log.warning("%s: database unavailable (%s); retrying in %.1fs", name,
                        str(exc).strip().splitlines()[0], reconnect_wait)  # fmt: skip
            await asyncio.sleep(reconnect_wait)
            reconnect_wait = min(reconnect_wait * 2, 10.0)
