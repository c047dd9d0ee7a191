"""MCP benchmark: get_metric tool-call latency with 10 concurrent sessions, against the
bare api.get_metric from 10 connections in the same run.

Like bench.serving it generates an org with bench.metrics' history (1M changes at
--scale 1; 0.1 by default here), loads it into an embedded PostgreSQL, computes its
metrics and starts `qdx serve` on it as `make run` does. Then N MCP sessions (the SDK's
client over Streamable HTTP, default 10) each call `get_metric` over the same questions
as bench.serving (four metrics, four teams, two granularities) for --seconds: p50/p95
per call and calls/s; bare: the same `api.get_metric` calls from N psycopg connections.
Results go to bench/results/mcp.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench import metrics as bm
from bench import start_serve
from bench.serving import bare_load, combos, rest_load
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from qdx.settings import Settings
from web.tokens import issue_token

RESULTS = Path(__file__).parent / "results"


async def mcp_load(url: str, token: str, asks: list[tuple[str, str, str]], sessions: int,
                   seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors = 0

    async def session(k: int) -> None:
        nonlocal errors
        rng = random.Random(k)  # noqa: S311 (a load pattern, not a secret)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(f"{url}/mcp/metrics", http_client=http)) as client,
        ):
            m, t, g = asks[k % len(asks)]  # warm up: the session, and a plan
            await client.call_tool("get_metric", {"metric": m, "team": t, "granularity": g})
            await ready.wait()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                m, t, g = rng.choice(asks)
                started = time.perf_counter()
                result = await client.call_tool(
                    "get_metric", {"metric": m, "team": t, "window": "90d", "granularity": g}
                )
                latencies.append(time.perf_counter() - started)
                errors += bool(result.is_error)

    ready = asyncio.Event()
    tasks = [asyncio.create_task(session(k)) for k in range(sessions)]
    await asyncio.sleep(2)
    ready.set()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {**bm.latencies(latencies), "per_s": len(latencies) / elapsed, "errors": errors,
            "sessions": sessions}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1: 1M changes")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--scale", str(args.scale)]
    sizes, _ = bm.parse()

    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    pg_port, http_port = 56000 + os.getpid() % 90, 19000 + os.getpid() % 90
    server = EmbeddedPostgres(home, port=pg_port)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                           "python": platform.python_version()},
                               "sizes": sizes.__dict__}  # fmt: skip
    proc = None
    try:
        info, _ = server.start()
        conninfo = info.conninfo()
        migrate(conninfo)
        org = uuid.UUID(int=random.Random(7).getrandbits(128), version=4)  # noqa: S311
        end = (time.time() // bm.HOUR) * bm.HOUR - 4 * bm.HOUR
        data = home / "data"
        data.mkdir()
        hist = bm.History(sizes, 7, end, org, data)
        print(f"generating {sizes.changes:,} changes ...", flush=True)
        hist.write_people()
        head = hist.write_changes()
        hist.write_deploys_and_incidents(head)
        with psycopg.connect(conninfo) as conn:
            conn.execute("INSERT INTO auth.orgs (org_id, slug, name) VALUES (%s, %s, 'Bench')",
                         (org, bm.SLUG))  # fmt: skip
            conn.commit()
            print("loading ...", flush=True)
            bm.load(conn, hist, org, {})
        bm.settle(conninfo)
        with psycopg.connect(conninfo) as conn:
            print("computing metrics ...", flush=True)
            conn.execute("SELECT metrics.rebuild(%s)", (org,))
            conn.commit()
        bm.settle(conninfo)
        settings = Settings.from_env({"QDX_PORT": str(http_port)})
        with psycopg.connect(conninfo) as conn:
            token, _ = issue_token(
                conn, org=bm.SLUG, teams=[], role="viewer", ttl=timedelta(hours=2),
                subject="bench", issuer=settings.jwt_issuer, audience=settings.jwt_audience,
            )  # fmt: skip
        proc, url = start_serve(conninfo, http_port)
        asks = combos(hist)
        print(f"MCP get_metric, {args.sessions} sessions, {args.seconds:.0f}s ...", flush=True)
        results["mcp"] = asyncio.run(mcp_load(url, token, asks, args.sessions, args.seconds))
        print(f"  {results['mcp']}", flush=True)
        print(f"REST metric, {args.sessions} clients ...", flush=True)
        results["rest"] = asyncio.run(rest_load(url, token, asks, args.sessions, args.seconds))
        print(f"  {results['rest']}", flush=True)
        results["bare"] = bare_load(conninfo, bm.SLUG, asks, args.sessions, args.seconds)
        print(f"  bare {results['bare']}", flush=True)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    m, b = results["mcp"], results["bare"]
    print()
    print(f"MCP get_metric ({m['sessions']} sessions) p50 {m['p50_ms']:6.1f} ms  p95 "
          f"{m['p95_ms']:6.1f} ms  {m['per_s']:6.0f}/s  errors {m['errors']}  "
          f"ratio p50 {m['p50_ms'] / b['p50_ms']:.2f}x  p95 {m['p95_ms'] / b['p95_ms']:.2f}x  "
          f"throughput {m['per_s'] / b['per_s']:.2f}x")  # fmt: skip
    r = results["rest"]
    print(f"REST metric ({r['clients']} clients) p50 {r['p50_ms']:6.1f} ms  p95 "
          f"{r['p95_ms']:6.1f} ms  {r['per_s']:6.0f}/s  ratio p50 "
          f"{r['p50_ms'] / b['p50_ms']:.2f}x  p95 {r['p95_ms'] / b['p95_ms']:.2f}x")  # fmt: skip
    print(f"bare api.get_metric ({b['clients']} conns) p50 {b['p50_ms']:6.1f} ms  p95 "
          f"{b['p95_ms']:6.1f} ms  {b['per_s']:6.0f}/s")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mcp.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
