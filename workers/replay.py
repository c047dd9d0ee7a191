"""`qdx replay`: normalize an org's event log again, in one transaction.

The events are read in arrival order in chunks; each chunk goes through the same SQL as
the queue path, and every canonical row the events speak of is recomputed (written only
where it differs). Nothing is truncated: until the transaction commits, readers keep
seeing the previous rows, and batches of the queue that touch the org wait for it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from db.queries import QUERIES


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
    conn: psycopg.Connection[Any],
    org: str,
    *,
    since: datetime | None = None,
    source: str | None = None,
    chunk: int = 2000,
    progress: Callable[[ReplayResult], None] = lambda _r: None,
) -> ReplayResult:
    """Replay an org's events inside the connection's current transaction (the caller
    commits). `progress` is called after each chunk."""
    started = time.monotonic()
    row = conn.execute(QUERIES["begin_replay"], {"org": org, "since": since, "source": source})
    total, org_id = row.fetchone() or (0, None)
    result = ReplayResult(total=int(total))
    after: tuple[datetime | None, UUID | None] = (None, None)
    while True:
        rows = conn.execute(
            QUERIES["replay_events"],
            {"org_id": org_id, "since": since, "source": source, "after_received_at": after[0],
             "after_event_id": after[1], "limit": chunk},
        ).fetchall()  # fmt: skip
        if not rows:
            break
        after = (rows[0][0], rows[0][1])
        for _received, _event, status, count in rows:
            result.outcomes[str(status)] += int(count)
        result.seconds = time.monotonic() - started
        progress(result)
    result.seconds = time.monotonic() - started
    return result
