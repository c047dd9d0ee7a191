"""The audit log from the async web path: one row per read, appended after it in a
transaction of its own (see db/audit.py)."""

from __future__ import annotations

from typing import Any

import psycopg

from db.audit import Reader, record_params
from db.queries import QUERIES


async def record(
    conn: psycopg.AsyncConnection[Any], reader: Reader, interface: str, operation: str,
    **read: Any,
) -> int:  # fmt: skip
    """Append one read (arguments, statement, rows, duration_ms, outcome: see
    db.audit.record_params) to its org's log."""
    params = record_params(reader, interface, operation, **read)
    async with conn.transaction():
        cur = await conn.execute(QUERIES["audit_record"], params)
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])
