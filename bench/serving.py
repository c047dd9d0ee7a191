"""Serving benchmark: the REST metric endpoint under 20 concurrent clients and the CSV
export of 1M rows, against the bare database in the same run.

It generates an org with bench.metrics' history (1M changes, 100k deploys, 10k
incidents at --scale 1), loads it into an embedded PostgreSQL, computes its metrics,
and starts `qdx serve` on it as `make run` does. Then:

- REST: `GET /api/v1/metrics/{metric}?team=...&window=90d` from N concurrent clients
  (default 20) for --seconds, over four metrics, four teams (leaf and parent) and two
  granularities: p50/p95 latency and requests/s; bare: the same `api.get_metric` calls
  from N psycopg connections straight to the database.
- CSV: `GET /api/v1/export/changes.csv` (every change of the org): rows/s and the web
  process's peak RSS while it streams; bare: `COPY (SELECT ... FROM api.changes) TO
  STDOUT` as the database owner (one org), over psycopg to nowhere.

- GraphQL: the same questions as `metric(...)` operations at `POST /graphql`.
Results go to bench/results/serving.json.
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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg.types.json import Jsonb

from bench import metrics as bm
from bench import start_serve
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from qdx.settings import Settings
from web.tokens import issue_token

RESULTS = Path(__file__).parent / "results"
METRICS = ("change_lead_time", "deployment_frequency", "change_failure_rate", "pr_cycle_time")


def combos(hist: bm.History) -> list[tuple[str, str, str]]:
    leaf = hist.team_slugs
    teams = list(dict.fromkeys([leaf[0], leaf[len(leaf) // 2], leaf[-1], hist.group_slugs[0]]))
    return [(m, t, g) for m in METRICS for t in teams for g in ("window", "week")]


GRAPHQL = """query Metric($name: String!, $team: String, $granularity: Granularity) {
  metric(name: $name, scope: {team: $team}, window: "90d", granularity: $granularity) {
    unit points { periodStart value sampleSize tier }
  }
}"""


async def rest_load(url: str, token: str, asks: list[tuple[str, str, str]], clients: int,
                    seconds: float, graphql: bool = False) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as http:  # fmt: skip

        async def client(k: int) -> None:
            rng = random.Random(k)  # noqa: S311 (a load pattern, not a secret)
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                m, t, g = rng.choice(asks)
                started = time.perf_counter()
                if graphql:
                    variables = {"name": m, "team": t, "granularity": g.upper()}
                    r = await http.post("/graphql", json={"query": GRAPHQL,
                                                          "variables": variables})  # fmt: skip
                else:
                    params = {"team": t, "window": "90d", "granularity": g}
                    r = await http.get(f"/api/v1/metrics/{m}", params=params)
                latencies.append(time.perf_counter() - started)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        for m, t, g in asks:  # warm up
            await http.get(f"/api/v1/metrics/{m}", params={"team": t, "window": "90d",
                                                           "granularity": g})  # fmt: skip
        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return {**bm.latencies(latencies), "per_s": len(latencies) / elapsed,
            "statuses": statuses, "clients": clients}  # fmt: skip


def bare_load(conninfo: str, org: str, asks: list[tuple[str, str, str]], clients: int,
              seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(k)  # noqa: S311 (a load pattern, not a secret)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            end = time.perf_counter() + seconds
            mine = []
            while time.perf_counter() < end:
                m, t, g = rng.choice(asks)
                started = time.perf_counter()
                conn.execute("SELECT * FROM api.get_metric(%s, %s, '90d', %s)",
                             (m, Jsonb({"org": org, "team": t}), g)).fetchall()  # fmt: skip
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {**bm.latencies(latencies), "per_s": len(latencies) / elapsed, "clients": clients}


def export(url: str, token: str, proc: psutil.Process) -> dict[str, Any]:
    peak = {"rss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                rss = proc.memory_info().rss + sum(
                    c.memory_info().rss for c in proc.children(recursive=True)
                )
            except psutil.Error:
                rss = 0
            peak["rss"] = max(peak["rss"], rss)
            time.sleep(0.05)

    before = proc.memory_info().rss + sum(
        c.memory_info().rss for c in proc.children(recursive=True)
    )
    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = size = 0
    started = time.perf_counter()
    with httpx.stream("GET", f"{url}/api/v1/export/changes.csv", timeout=600,
                      headers={"Authorization": f"Bearer {token}"}) as r:  # fmt: skip
        status = r.status_code
        for chunk in r.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    rows = lines - 1  # the header
    return {"status": status, "rows": rows, "mb": size / 1e6, "seconds": elapsed,
            "rows_per_s": rows / elapsed, "web_rss_before_mb": before / 1e6,
            "web_rss_peak_mb": peak["rss"] / 1e6}  # fmt: skip


def bare_export(conninfo: str) -> dict[str, Any]:
    rows = size = 0
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        # (the same view, as the owner: no role, no policy but `owner`, no HTTP)
        with cur.copy("COPY (SELECT * FROM api.changes) TO STDOUT WITH (FORMAT csv, HEADER)"
                      ) as copy:  # fmt: skip
            for chunk in copy:
                size += len(chunk)
        rows = cur.rowcount
    elapsed = time.perf_counter() - started
    return {"rows": rows, "mb": size / 1e6, "seconds": elapsed, "rows_per_s": rows / elapsed}


def prepare(conninfo: str, sizes: Any, http_port: int, role: str,
            home: Path) -> tuple[Any, str]:  # fmt: skip
    """bench.metrics' history of `sizes` generated under `home`, loaded into a migrated
    database, its metrics computed; and a token of `role` for the org, for a server on
    `http_port`."""
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
    bm.settle(conninfo)  # statistics first, or the rebuild's plans assume empty tables
    with psycopg.connect(conninfo) as conn:
        print("computing metrics ...", flush=True)
        conn.execute("SELECT metrics.rebuild(%s)", (org,))
        conn.commit()
    bm.settle(conninfo)
    settings = Settings.from_env({"QDX_PORT": str(http_port)})
    with psycopg.connect(conninfo) as conn:
        token, _ = issue_token(
            conn, org=bm.SLUG, teams=[], role=role, ttl=timedelta(hours=2),
            subject="bench", issuer=settings.jwt_issuer, audience=settings.jwt_audience,
        )  # fmt: skip
    return hist, token


@dataclass
class Served:
    """A benchmark's org served by `qdx serve`: the database, the history, a token, the
    server process and its URL."""

    conninfo: str
    hist: Any
    token: str
    proc: subprocess.Popen[bytes]
    url: str


@contextmanager
def served_history(sizes: Any, role: str, pg_base: int, http_base: int) -> Iterator[Served]:
    """An embedded PostgreSQL (ports from the bases and the pid) with bench.metrics'
    history of `sizes` loaded and computed (prepare), served by `qdx serve` as `make run`
    serves it; everything stopped and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    pg_port, http_port = pg_base + os.getpid() % 90, http_base + os.getpid() % 90
    server = EmbeddedPostgres(home, port=pg_port)
    proc = None
    try:
        info, _ = server.start()
        conninfo = info.conninfo()
        migrate(conninfo)
        hist, token = prepare(conninfo, sizes, http_port, role, home)
        proc, url = start_serve(conninfo, http_port)
        yield Served(conninfo, hist, token, proc, url)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1: 1M changes")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--scale", str(args.scale)]
    sizes, _ = bm.parse()

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                           "python": platform.python_version()},
                               "sizes": sizes.__dict__}  # fmt: skip
    with served_history(sizes, "analyst", 55900, 18900) as served:
        conninfo, hist, token, url = served.conninfo, served.hist, served.token, served.url
        asks = combos(hist)
        print(f"REST metric, {args.clients} clients, {args.seconds:.0f}s ...", flush=True)
        results["rest"] = asyncio.run(rest_load(url, token, asks, args.clients, args.seconds))
        print(f"  {results['rest']}", flush=True)
        print(f"GraphQL metric, {args.clients} clients ...", flush=True)
        results["graphql"] = asyncio.run(
            rest_load(url, token, asks, args.clients, args.seconds, graphql=True)
        )
        print(f"  {results['graphql']}", flush=True)
        results["bare"] = bare_load(conninfo, bm.SLUG, asks, args.clients, args.seconds)
        print(f"  bare {results['bare']}", flush=True)
        print("CSV export of every change ...", flush=True)
        results["export"] = export(url, token, psutil.Process(served.proc.pid))
        print(f"  {results['export']}", flush=True)
        results["bare_export"] = bare_export(conninfo)
        print(f"  bare {results['bare_export']}", flush=True)
    r, b, e, be = results["rest"], results["bare"], results["export"], results["bare_export"]
    print()
    for name in ("rest", "graphql"):
        r = results[name]
        print(f"{name:<7} metric ({r['clients']} clients) p50 {r['p50_ms']:6.1f} ms  p95 "
              f"{r['p95_ms']:6.1f} ms  {r['per_s']:6.0f}/s  statuses {r['statuses']}  "
              f"ratio p50 {r['p50_ms'] / b['p50_ms']:.2f}x  p95 {r['p95_ms'] / b['p95_ms']:.2f}x"
              f"  throughput {r['per_s'] / b['per_s']:.2f}x")  # fmt: skip
    print(f"bare api.get_metric ({b['clients']} conns) p50 {b['p50_ms']:6.1f} ms  p95 "
          f"{b['p95_ms']:6.1f} ms  {b['per_s']:6.0f}/s")  # fmt: skip
    print(f"CSV export   {e['rows']:,} rows  {e['rows_per_s']:9.0f} rows/s  {e['mb']:.0f} MB")
    print(f"  web RSS {e['web_rss_before_mb']:.0f} MB -> peak {e['web_rss_peak_mb']:.0f} MB")
    print(f"bare COPY    {be['rows']:,} rows  {be['rows_per_s']:9.0f} rows/s  "
          f"ratio {e['rows_per_s'] / be['rows_per_s']:.2f}x")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
