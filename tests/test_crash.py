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
