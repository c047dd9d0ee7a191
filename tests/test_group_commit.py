"""Group commit: concurrent deliveries share transactions, each answered after its commit;
a bad delivery does not fail its neighbours; the wait is bounded."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, TooManyRequests

from web.webhooks import group
from web.webhooks.group import GroupCommitter


def params(org_id: Any, endpoint_id: Any, key: str, body: bytes = b"{}") -> dict[str, Any]:
    return {"org_id": org_id, "endpoint_id": endpoint_id, "source": "github",
            "delivery_key": key, "event_type": "push", "content_type": "application/json",
            "headers": Jsonb({}), "body": body}  # fmt: skip


def endpoint(conninfo: str) -> tuple[Any, Any]:
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT auth.create_org('acme')")
        row = conn.execute(
            "SELECT org_id, endpoint_id FROM auth.add_webhook_endpoint('acme', 'github', %s)",
            ("x" * 32,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


async def with_committer(conninfo: str, work: Any) -> Any:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    committer = GroupCommitter(pool, flushers=2, db_wait=5.0)
    committer.start()
    try:
        return await work(committer)
    finally:
        await committer.stop()
        await pool.close()


def test_concurrent_deliveries_and_copies_are_stored_once(database: str) -> None:
    org_id, endpoint_id = endpoint(database)
    keys = [f"k{i}" for i in range(200)] + ["k7", "k7", "k42"]  # copies in the same burst

    async def work(committer: GroupCommitter) -> list[Any]:
        return await asyncio.gather(
            *[committer.accept(params(org_id, endpoint_id, k)) for k in keys]
        )

    rows = asyncio.run(with_committer(database, work))
    assert sum(1 for _, new in rows if new) == 200
    by_key: dict[str, set[Any]] = {}
    for key, (event_id, _) in zip(keys, rows, strict=True):
        by_key.setdefault(key, set()).add(event_id)
    assert all(len(ids) == 1 for ids in by_key.values())  # a copy gets the first id
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM raw.events").fetchone() == (200,)
        assert conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() == (200,)
        # Fewer transactions than deliveries: they were grouped.
        xids = conn.execute("SELECT count(DISTINCT xmin::text) FROM raw.deliveries").fetchone()
    assert xids is not None
    assert xids[0] < 200


def test_a_failing_delivery_does_not_fail_its_batch(database: str) -> None:
    org_id, endpoint_id = endpoint(database)

    async def work(committer: GroupCommitter) -> list[Any]:
        good = [committer.accept(params(org_id, endpoint_id, f"g{i}")) for i in range(20)]
        bad = committer.accept(params(org_id, uuid.uuid4(), "bad", b"\x00") | {"event_type": None})
        return await asyncio.gather(*good, bad, return_exceptions=True)

    results = asyncio.run(with_committer(database, work))
    assert isinstance(results[-1], psycopg.errors.NotNullViolation)
    assert all(isinstance(r, tuple) and r[1] for r in results[:-1])
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM raw.events").fetchone() == (20,)


def test_the_queue_is_bounded(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, endpoint_id = endpoint(database)
    monkeypatch.setattr(group, "MAX_QUEUED", 5)

    async def work(committer: GroupCommitter) -> list[Any]:
        for task in committer.tasks:  # no flusher: everything stays queued
            task.cancel()
        waiting = [
            asyncio.create_task(committer.accept(params(org_id, endpoint_id, f"q{i}")))
            for i in range(5)
        ]
        await asyncio.sleep(0)
        with pytest.raises(TooManyRequests):
            await committer.accept(params(org_id, endpoint_id, "one-too-many"))
        for waiter in waiting:
            waiter.cancel()
        return []

    asyncio.run(with_committer(database, work))


def test_accept_events_is_accept_event_for_each_in_order(database: str) -> None:
    """raw.accept_events over a batch: a key claimed earlier and a copy within the batch
    get the first id; each new event is stored and queued once, with one arrival time."""
    org_id, endpoint_id = endpoint(database)
    with psycopg.connect(database) as conn:
        first = conn.execute(
            "SELECT event_id FROM raw.accept_event(%s, %s, 'github', 'old', 'push',"
            " 'application/json', '{}', '{}')",
            (org_id, endpoint_id),
        ).fetchone()
        assert first is not None
        keys = ["a", "old", "b", "a"]
        n = len(keys)
        bodies = [f'{{"k": "{k}"}}'.encode() for k in keys]
        rows = conn.execute(
            "SELECT ord, event_id, is_new"
            " FROM raw.accept_events(%b, %b, %b, %b, %b, %b, %b, %b, %b)",
            ([org_id] * n, [endpoint_id] * n, ["github"] * n, keys, ["push"] * n,
             ["application/json"] * n, [Jsonb({"x-k": k}) for k in keys], bodies,
             [hashlib.sha256(b).digest() for b in bodies]),
        ).fetchall()  # fmt: skip
        assert [(r[0], r[2]) for r in rows] == [(1, True), (2, False), (3, True), (4, False)]
        assert rows[1][1] == first[0]
        assert rows[3][1] == rows[0][1]
        stored = conn.execute(
            "SELECT e.delivery_key, e.body, e.headers, e.received_at = d.received_at,"
            " e.body_sha256 = sha256(e.body)"
            " FROM raw.events e JOIN raw.deliveries d USING (org_id, source, delivery_key)"
            " WHERE e.event_id = ANY(%s) ORDER BY e.delivery_key",
            ([rows[0][1], rows[2][1]],),
        ).fetchall()
        assert stored == [
            ("a", b'{"k": "a"}', {"x-k": "a"}, True, True),
            ("b", b'{"k": "b"}', {"x-k": "b"}, True, True),
        ]
        queued = conn.execute(
            "SELECT (message->>'event_id')::uuid FROM pgmq.q_ingest ORDER BY msg_id"
        ).fetchall()
        assert [q[0] for q in queued] == [first[0], rows[0][1], rows[2][1]]
        empty = conn.execute(
            "SELECT count(*)"
            " FROM raw.accept_events('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')"
        ).fetchone()
        assert empty == (0,)
