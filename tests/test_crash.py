"""Killing the server (SIGKILL) mid-load loses no acknowledged delivery: a 2xx is only
sent after the commit, so every acknowledged id is in the database afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date

import httpx
import psycopg

from tests.helpers import free_port
from tests.webhook_helpers import load_samples, make_endpoint, signed_request
from web.webhooks.registry import all_sources

GITHUB = all_sources()["github"]
PR = next(s for s in load_samples("github") if s.name == "pull_request.opened")


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "qdx serve exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("qdx serve did not become ready")


def test_sigkill_during_load_loses_no_acknowledged_event(database: str) -> None:
    endpoint = make_endpoint(database, GITHUB)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "QDX_LOG_FORMAT": "json",
        "QDX_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "qdx", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(port, proc)
        acked: list[str] = []
        failed = 0
        counter = iter(range(1_000_000))

        async def stream(client: httpx.AsyncClient) -> None:
            # One connection's worth of deliveries, back to back, until the server is gone.
            nonlocal failed
            for n in counter:
                copy = {**PR.headers, "X-GitHub-Delivery": f"crash-{n}"}
                delivery = PR.__class__(**{**PR.__dict__, "headers": copy})
                headers, _, body = signed_request(GITHUB, delivery, endpoint.signing_secret)
                try:
                    reply = await client.post(
                        endpoint.path("github"), headers=headers, content=body
                    )
                except httpx.HTTPError:
                    failed += 1
                    return
                if reply.status_code in (200, 202):
                    acked.append(reply.json()["id"])

        async def load() -> None:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                streams = [asyncio.create_task(stream(client)) for _ in range(16)]
                deadline = time.monotonic() + 60
                while len(acked) < 300 and time.monotonic() < deadline:  # kill mid-run
                    await asyncio.sleep(0.005)
                os.kill(proc.pid, signal.SIGKILL)
                await asyncio.gather(*streams)

        asyncio.run(load())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert len(acked) >= 300
    assert failed > 0, "the kill happened after the load finished: nothing was in flight"
    with psycopg.connect(database) as conn:
        stored = {str(r[0]) for r in conn.execute("SELECT event_id FROM raw.events").fetchall()}
        queued = conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone()
    assert set(acked) <= stored
    # Every stored event was queued in the same transaction.
    assert queued == (len(stored),)


def test_worker_killed_mid_batch_loses_and_doubles_nothing(database: str) -> None:
    """A worker SIGKILLed while its batch is half applied: the batch's transaction never
    commits, the messages come back after the visibility timeout, and the next worker
    applies them once: the state equals a clean run's."""
    from synth.emit import Emitter
    from synth.model import History
    from tests.normalize_helpers import accept, canonical_state, make_org, normalize
    from tests.webhook_helpers import Sample

    h = History(seed=9, size=300, days=5, end=date(2026, 10, 1))  # the same history any day
    deliveries = [d for d in Emitter(h.org, h.key).render(h.events()) if d.source == "github"]
    samples = [Sample(d.source, d.event_type, d.headers, d.body, d.content_type)
               for d in deliveries[:120]]  # fmt: skip
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        for s in samples:
            accept(conn, org, endpoint, s)

    env = {**os.environ, "DATABASE_URL": database, "QDX_LOG_FORMAT": "json",
           "QDX_LOG_LEVEL": "WARNING", "QDX_NORMALIZE_VISIBILITY_TIMEOUT": "3"}  # fmt: skip
    blocker = psycopg.connect(database)
    # The batch will stop at its first write to core.changes, mid-transaction.
    blocker.execute("LOCK TABLE core.changes IN SHARE MODE")
    proc = subprocess.Popen([sys.executable, "-m", "qdx", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with psycopg.connect(database, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%%apply_ingest%%'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the worker never reached core.changes")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            blocker.rollback()  # the orphaned statement finishes, its transaction cannot commit
            deadline = time.monotonic() + 30
            while watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%apply_ingest%%'"
                " AND pid <> pg_backend_pid()"
            ).fetchone() != (0,):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert watch.execute("SELECT count(*) FROM core.facts").fetchone() == (0,)
            assert watch.execute("SELECT count(*) FROM core.event_outcomes").fetchone() == (0,)
            stored = watch.execute("SELECT count(*) FROM raw.events").fetchone()
            assert watch.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() == stored
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        blocker.close()

    time.sleep(3.2)  # the killed worker's claim expires
    restarted = subprocess.Popen([sys.executable, "-m", "qdx", "worker"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with psycopg.connect(database, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() != (0,):
                assert time.monotonic() < deadline, "the restarted worker did not drain"
                time.sleep(0.1)
            attempts = conn.execute("SELECT DISTINCT read_ct FROM pgmq.a_ingest").fetchall()
            recovered = canonical_state(conn, org)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)
    with psycopg.connect(database, autocommit=True) as conn:
        clean, clean_endpoint = make_org(conn, "clean")
        for s in samples:
            accept(conn, clean, clean_endpoint, s)
        normalize(database)
        expected = canonical_state(conn, clean)
        facts = conn.execute(
            "SELECT org_id = %s, count(*) FROM core.facts GROUP BY 1 ORDER BY 1", (org,)
        ).fetchall()
    assert (2,) in attempts  # the batch the killed worker held was read a second time
    assert recovered == expected
    assert {s["status"] for s in recovered["outcomes"]} == {"normalized"}
    assert facts[0][1] == facts[1][1]  # as many facts as a clean run: nothing applied twice
