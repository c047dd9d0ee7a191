"""The services' tenant writes run as qdx_worker (db.scope.as_worker): a transaction for
one org reads and writes that org's rows only. The webhook receiver's group commit, the
normalizer (over batches that mix orgs), and the metrics refresh do their work as that
role with the right org set, which a probe (a trigger recording the role and the org in
effect for each row written) shows."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.types.json import Jsonb

from db.scope import WORKER_ROLE, as_worker
from tests.metrics_helpers import World, at
from tests.normalize_helpers import accept, canonical_state, make_org, normalize, sample
from web.webhooks.group import GroupCommitter, ingest_pool
from workers.app import make_app

Conn = psycopg.Connection[Any]

# Records, for every row written to the probed tables, the role and the org in effect.
PROBE = """
CREATE TABLE public.role_probe (tbl text, who text, row_org uuid, set_org text);
GRANT INSERT ON public.role_probe TO qdx_worker;
CREATE FUNCTION public.probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.role_probe
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, current_user, NEW.org_id,
            current_setting('qdx.org_id', true));
    RETURN NULL;
END $$;
CREATE TRIGGER probe AFTER INSERT ON raw.deliveries
    FOR EACH ROW EXECUTE FUNCTION public.probe();
CREATE TRIGGER probe AFTER INSERT OR UPDATE ON core.facts
    FOR EACH ROW EXECUTE FUNCTION public.probe();
CREATE TRIGGER probe AFTER INSERT OR UPDATE ON core.event_outcomes
    FOR EACH ROW EXECUTE FUNCTION public.probe();
CREATE TRIGGER probe AFTER INSERT OR UPDATE ON metrics.change_units
    FOR EACH ROW EXECUTE FUNCTION public.probe();
"""


def probed(conn: Conn, table: str) -> set[tuple[str, UUID, str]]:
    rows = conn.execute(
        "SELECT DISTINCT who, row_org, set_org FROM public.role_probe WHERE tbl = %s", (table,)
    ).fetchall()
    return {(r[0], r[1], r[2]) for r in rows}


def push(conn: Conn, org: UUID, endpoint: UUID, key: str) -> UUID:
    event, new = accept(conn, org, endpoint, sample("github", "push"), delivery_key=key,
                        event_type="push")  # fmt: skip
    assert new
    return event


def test_a_worker_transaction_reads_and_writes_its_org_only(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        a, ea = make_org(conn, "acme")
        b, eb = make_org(conn, "globex")
        push(conn, a, ea, "a-1")
        push(conn, b, eb, "b-1")
        conn.execute(
            "INSERT INTO metrics.dirty (org_id, kind, key, since)"
            " VALUES (%s, 'org', '', '-infinity'), (%s, 'org', '', '-infinity')",
            (a, b),
        )

        with as_worker(conn, a):
            row = conn.execute("SELECT current_user, auth.caller_org()").fetchone()
            assert row == (WORKER_ROLE, a)
            keys = conn.execute("SELECT org_id, delivery_key FROM raw.deliveries").fetchall()
            assert keys == [(a, "a-1")]
            assert conn.execute("SELECT count(*) FROM raw.events").fetchone() == (1,)
            # B's rows are not there to change or delete.
            updated = conn.execute("UPDATE metrics.dirty SET key = 'x' WHERE org_id = %s", (b,))
            assert updated.rowcount == 0
            deleted = conn.execute("DELETE FROM metrics.dirty WHERE org_id <> %s", (a,))
            assert deleted.rowcount == 0
            conn.execute("INSERT INTO metrics.dirty (org_id, kind, key, since)"
                         " VALUES (%s, 'repo', 'r', '-infinity')", (a,))  # fmt: skip

        # A row for B, or A's row moved to B, is refused (WITH CHECK), and so is the queue
        # path's apply of B's message in A's transaction.
        refusals = [
            ("INSERT INTO metrics.dirty (org_id, kind, key, since)"
             " VALUES (%s, 'repo', 'r', '-infinity')", (b,)),
            ("UPDATE metrics.dirty SET org_id = %s", (b,)),
            ("INSERT INTO raw.deliveries (org_id, source, delivery_key, event_id, received_at)"
             " VALUES (%s, 'github', 'b-2', gen_random_uuid(), now())", (b,)),
        ]  # fmt: skip
        for statement, params in refusals:
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                as_worker(conn, a),
            ):
                conn.execute(statement, params)
        b_msg = conn.execute(
            "SELECT msg_id FROM pgmq.q_ingest WHERE message->>'org_id' = %s", (str(b),)
        ).fetchone()
        assert b_msg is not None
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="another org"),
            as_worker(conn, a),
        ):
            conn.execute("SELECT * FROM core.apply_ingest(%s)", ([b_msg[0]],))
        # Without an org, a worker transaction reads nothing, and applying a message of
        # an event it cannot read is refused (never archived unread).
        with as_worker(conn, None):
            assert conn.execute("SELECT count(*) FROM raw.events").fetchone() == (0,)
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="cannot read"),
            as_worker(conn, None),
        ):
            conn.execute("SELECT * FROM core.apply_ingest(%s)", ([b_msg[0]],))
        # Nothing of B changed; A's write went in.
        assert conn.execute(
            "SELECT org_id, kind, key FROM metrics.dirty ORDER BY org_id = %s DESC, kind",
            (a,),
        ).fetchall() == [(a, "org", ""), (a, "repo", "r"), (b, "org", "")]
        assert conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() == (2,)


def test_the_normalizer_applies_a_mixed_batch_per_org_as_the_worker(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(PROBE)
        a, ea = make_org(conn, "acme")
        b, eb = make_org(conn, "globex")
        # The same deliveries for both orgs, interleaved in the queue.
        for name in ("pull_request.opened", "push", "pull_request_review.submitted"):
            s = sample("github", name)
            accept(conn, a, ea, s)
            accept(conn, b, eb, s)

        progress = normalize(database, batch_size=100)  # one claim with both orgs

        assert progress.batches == 2  # applied per org
        assert progress.deferred == 0
        state_a, state_b = canonical_state(conn, a), canonical_state(conn, b)
        assert state_a["changes"]
        assert state_a == state_b
        for table in ("core.facts", "core.event_outcomes"):
            assert probed(conn, table) == {(WORKER_ROLE, a, str(a)), (WORKER_ROLE, b, str(b))}


def test_group_commit_stores_a_mixed_batch_as_the_worker(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(PROBE)
        a, ea = make_org(conn, "acme")
        b, eb = make_org(conn, "globex")
    deliveries = [
        {"org_id": org, "endpoint_id": endpoint, "source": "github", "delivery_key": key,
         "event_type": "push", "content_type": "application/json",
         "headers": Jsonb({}), "body": b'{"n": 1}'}
        for org, endpoint in ((a, ea), (b, eb)) for key in ("k-1", "k-2", "k-1")
    ]  # fmt: skip

    async def store() -> list[tuple[Any, bool]]:
        async with ingest_pool(database, 2) as pool:
            committer = GroupCommitter(pool, flushers=1, db_wait=10.0)
            committer.start()
            try:
                return list(await asyncio.gather(*(committer.accept(d) for d in deliveries)))
            finally:
                await committer.stop()

    rows = asyncio.run(store())

    assert [new for _, new in rows] == [True, True, False, True, True, False]
    assert rows[2][0] == rows[0][0]
    assert rows[5][0] == rows[3][0]
    assert len({event for event, _ in rows}) == 4
    with psycopg.connect(database, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT org_id, delivery_key, event_id FROM raw.events ORDER BY 1, 2"
        ).fetchall()
        expected = sorted([(a, "k-1", rows[0][0]), (a, "k-2", rows[1][0]),
                           (b, "k-1", rows[3][0]), (b, "k-2", rows[4][0])])  # fmt: skip
        assert sorted(stored) == expected
        assert conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() == (4,)
        assert probed(conn, "raw.deliveries") == {
            (WORKER_ROLE, a, str(a)),
            (WORKER_ROLE, b, str(b)),
        }


def test_the_metrics_refresh_runs_as_the_worker_within_its_org(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(PROBE)
        acme, globex = World(conn, "acme"), World(conn, "globex")
        for w in (acme, globex):
            w.repo("github:1", f"{w.slug}/api")
            w.change(f"{w.slug}-1", merged=at(-3))
            w.change(f"{w.slug}-2", merged=at(-2))
        # Asked for globex in acme's transaction, the refresh writes nothing of globex.
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
            as_worker(conn, acme.org),
        ):
            conn.execute("SELECT metrics.refresh(%s)", (globex.org,))
        assert globex.stored()["change_units"] == []
        for w in (acme, globex):
            with as_worker(conn, w.org):
                conn.execute("SELECT metrics.refresh(%s)", (w.org,))
        refreshed = {w.slug: w.stored() for w in (acme, globex)}
        assert len(refreshed["acme"]["change_units"]) == 2
        assert probed(conn, "metrics.change_units") == {
            (WORKER_ROLE, acme.org, str(acme.org)),
            (WORKER_ROLE, globex.org, str(globex.org)),
        }
        # The same units as the owner's full rebuild.
        for w in (acme, globex):
            w.rebuild()
            assert w.stored() == refreshed[w.slug]


def test_the_refresh_job_runs_as_the_worker(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(PROBE)
        w = World(conn, "jobs")
        w.repo()
        w.change("c1", first_commit=at(0), merged=at(1))
        conn.execute("UPDATE procrastinate_jobs SET scheduled_at = now()")

    async def run_jobs() -> None:
        app = make_app(database)
        async with app.open_async():
            await app.run_worker_async(
                queues=["metrics"], wait=False, install_signal_handlers=False
            )

    asyncio.run(run_jobs())
    with psycopg.connect(database, autocommit=True) as conn:
        status = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE task_name = 'qdx:refresh_metrics'"
        ).fetchall()
        assert status == [("succeeded",)]
        assert probed(conn, "metrics.change_units") == {(WORKER_ROLE, w.org, str(w.org))}


def test_a_worker_block_inside_a_transaction_puts_the_role_back(conn: Conn) -> None:
    owner = conn.execute("SELECT current_user").fetchone()
    org = World(conn, "acme").org
    with as_worker(conn, org):
        assert conn.execute("SELECT current_user").fetchone() == (WORKER_ROLE,)
    assert conn.execute("SELECT current_user").fetchone() == owner
    assert conn.execute("SELECT current_setting('qdx.org_id', true)").fetchone() in [("",), (None,)]


def test_the_ingest_pool_runs_as_the_worker_and_unscoped_reaches_nothing(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        a, ea = make_org(conn, "acme")
        push(conn, a, ea, "a-1")

    async def probe() -> tuple[Any, Any]:
        async with ingest_pool(database, 1) as pool, pool.connection() as aconn:
            who = await (await aconn.execute("SELECT current_user")).fetchone()
            seen = await (await aconn.execute("SELECT count(*) FROM raw.deliveries")).fetchone()
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                await aconn.execute(
                    "INSERT INTO raw.deliveries (org_id, source, delivery_key, event_id,"
                    " received_at) VALUES (%s, 'github', 'a-2', gen_random_uuid(), now())",
                    (a,),
                )
            return who, seen

    assert asyncio.run(probe()) == ((WORKER_ROLE,), (0,))
