"""`qdx replay`: normalize an org's event log again.

The log is cut into chunks (in arrival order) that several connections normalize in
parallel, each chunk in a transaction of its own, through the same SQL as the queue path;
every canonical row the events speak of is recomputed and written only where it differs.
Nothing is truncated or deleted first: readers see the previous rows until a chunk's
recomputed rows replace them, and a replay that stops halfway leaves a consistent state
(running it again finishes the job). While it runs, the org's replay lock holds back the
queue's batches for that org, so they cannot interleave with it. Each chunk runs as the
worker role (qdx_worker) with the org set: row-level security keeps it within the org.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from db.errors import mapped_errors
from db.queries import QUERIES
from db.scope import as_worker

Bound = tuple[datetime | None, UUID | None]


@dataclass
class ReplayResult:
    """What a replay read and what became of it."""

    total: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())


def replay(
    conninfo: str,
    org: str,
    *,
    since: datetime | None = None,
    source: str | None = None,
    chunk: int = 5000,
    workers: int = 2,
    progress: Callable[[ReplayResult], None] = lambda _r: None,
) -> ReplayResult:
    """Replay an org's events with `workers` connections; `progress` is called after each
    chunk (from the calling thread's lock, one call at a time)."""
    if chunk < 1 or workers < 1:
        raise ValueError("chunk and workers must be at least 1")
    started = time.monotonic()
    result = ReplayResult()
    with psycopg.connect(conninfo, autocommit=True) as lock_conn, mapped_errors():
        row = lock_conn.execute(QUERIES["lock_org_for_replay"], {"org": org}).fetchone()
        assert row is not None
        org_id = row[1]
        try:
            params: dict[str, Any] = {"org_id": org_id, "since": since, "source": source}
            with as_worker(lock_conn, org_id):
                rows = lock_conn.execute(
                    QUERIES["replay_bounds"], {**params, "chunk": chunk}
                ).fetchall()
            ends: list[Bound] = [(r[0], r[1]) for r in rows]
            result.total = int(rows[-1][2]) if rows else 0  # the last bound's position
            starts: list[Bound] = [(None, None), *ends[:-1]] if ends else []
            _run_chunks(conninfo, params, list(zip(starts, ends, strict=True)), workers,
                        result, progress)  # fmt: skip
        finally:
            lock_conn.execute(QUERIES["unlock_org_for_replay"], {"org_id": org_id})
    result.seconds = time.monotonic() - started
    return result


def _run_chunks(
    conninfo: str,
    params: dict[str, Any],
    chunks: list[tuple[Bound, Bound]],
    workers: int,
    result: ReplayResult,
    progress: Callable[[ReplayResult], None],
) -> None:
    """Normalize the chunks with `workers` connections; the first error stops the rest."""
    if not chunks:
        return
    lock = threading.Lock()
    pending = iter(chunks)
    started = time.monotonic()
    failed = threading.Event()

    def work() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn, mapped_errors():
            while not failed.is_set():
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                (after_at, after_id), (until_at, until_id) = item
                try:
                    with as_worker(conn, params["org_id"]):
                        rows = conn.execute(
                            QUERIES["replay_range"],
                            {**params, "after_received_at": after_at,
                             "after_event_id": after_id, "until_received_at": until_at,
                             "until_event_id": until_id},
                        ).fetchall()  # fmt: skip
                except BaseException:
                    failed.set()
                    raise
                with lock:
                    for status, count in rows:
                        result.outcomes[str(status)] += int(count)
                    result.seconds = time.monotonic() - started
                    progress(result)

    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(chunks)))) as pool:
        futures = [pool.submit(work) for _ in range(min(workers, max(1, len(chunks))))]
        for future in futures:
            future.result()
