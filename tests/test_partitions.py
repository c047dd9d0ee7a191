"""raw.events partitions: created ahead by the maintenance job; the default partition
catches the rest and its rows move into a partition created later."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import psycopg

from workers.app import make_app
from workers.tasks import MONTHS_AHEAD, ensure_event_partitions

INSERT = """
INSERT INTO raw.events (org_id, received_at, event_id, endpoint_id, source, event_type,
                        delivery_key, content_type, headers, body, body_sha256)
VALUES (gen_random_uuid(), %s, gen_random_uuid(), gen_random_uuid(), 'github', 'push',
        %s, 'application/json', '{}', '{}', sha256('{}'))
"""


def partitions(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'raw.events'::regclass"
    ).fetchall()
    return {r[0] for r in rows}


def test_far_future_rows_move_out_of_the_default_partition(conn: psycopg.Connection[Any]) -> None:
    conn.execute(INSERT, ("2031-05-17T10:00:00Z", uuid.uuid4().hex))
    assert conn.execute("SELECT count(*) FROM raw.events_default").fetchone() == (1,)
    created = conn.execute("SELECT * FROM raw.ensure_event_partitions('2031-05-01', 1)").fetchall()
    assert created == [("events_2031m05",), ("events_2031m06",)]
    assert conn.execute("SELECT count(*) FROM raw.events_default").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM raw.events_2031m05").fetchone() == (1,)
    # A second run finds everything in place.
    assert (
        conn.execute("SELECT * FROM raw.ensure_event_partitions('2031-05-01', 1)").fetchall() == []
    )


def test_the_maintenance_job_keeps_months_ahead(database: str) -> None:
    async def run_job() -> None:
        app = make_app(database)
        async with app.open_async():
            await ensure_event_partitions.defer_async(timestamp=0)
            await app.run_worker_async(
                queues=["maintenance"], wait=False, install_signal_handlers=False
            )

    asyncio.run(run_job())
    today = date.today()
    with psycopg.connect(database) as conn:
        names = partitions(conn)
        status = conn.execute(
            "SELECT DISTINCT status FROM procrastinate_jobs"
            " WHERE task_name = 'qdx:ensure_event_partitions'"
        ).fetchall()
    assert status == [("succeeded",)]
    for ahead in range(MONTHS_AHEAD + 1):
        month = (today.month - 1 + ahead) % 12 + 1
        year = today.year + (today.month - 1 + ahead) // 12
        assert f"events_{year}m{month:02d}" in names
