"""`python -m bench.ingest`: webhook ingest throughput and ack latency, against the bare
database ceiling measured on the same server in the same run.

It starts an embedded PostgreSQL and `qdx serve` as `make run` would (durable settings,
its own throwaway QDX_HOME), then measures:
1. the ceiling: the same ~4 KB payloads inserted by a bare loop, one row per transaction,
   into a table shaped like raw.events, from 1 and from 8 connections;
2. sustained ingest: signed GitHub deliveries posted over loopback by several client
   processes as fast as they are acknowledged (accepted/s, p50/p95/p99 ack latency);
3. a fixed rate (default 1,000/s) for the latency at that rate;
4. overload: many more connections than the server takes, to show 503 + Retry-After
   instead of unbounded queueing.
Prints a table and writes bench/results/ingest.json. Client and server share the
machine's cores: the client's share is reported, so read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import start_serve
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from web.webhooks.registry import all_sources

RESULTS = Path(__file__).parent / "results"
GITHUB = all_sources()["github"]


def payload(n: int) -> tuple[dict[str, str], bytes]:
    """A GitHub pull_request delivery of about 4 KB, unique per n."""
    body = {
        "action": "opened",
        "number": n,
        "pull_request": {
            "id": 10_000_000 + n,
            "number": n,
            "title": f"Make the deploy step retry on transient errors ({n})",
            "body": ("This change retries the deploy step with exponential backoff. " * 50),
            "state": "open",
            "user": {"id": 5001, "login": "ana-dev", "type": "User"},
            "created_at": "2026-11-02T09:14:00Z",
            "head": {"ref": f"ana/retry-{n}", "sha": uuid.uuid4().hex + "00000000"},
            "base": {"ref": "main", "sha": "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"},
            "additions": 48,
            "deletions": 7,
            "changed_files": 3,
        },
        "repository": {"id": 700100, "full_name": "quantum-example/platform"},
        "sender": {"id": 5001, "login": "ana-dev", "type": "User"},
    }
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "482911",
    }
    return headers, json.dumps(body).encode()


def summary(
    statuses: dict[int, int], latencies: list[float], seconds: float, **extra: Any
) -> dict[str, Any]:
    """The figures every load phase reports."""
    accepted = statuses.get(202, 0) + statuses.get(200, 0)
    return {
        "accepted_per_s": accepted / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "statuses": statuses,
        "seconds": seconds,
        **extra,
    }


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the bare ceiling ------------------------------------------------------------------------


def bare_ceiling(conninfo: str, connections: int, seconds: float) -> float:
    """Rows/s of single-row INSERT + COMMIT into a raw.events-shaped table."""
    stop = time.monotonic() + seconds
    done = [0] * connections
    _, body = payload(0)
    org, endpoint = uuid.uuid4(), uuid.uuid4()

    def loop(i: int) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while time.monotonic() < stop:
                conn.execute(
                    "INSERT INTO bench_bare VALUES (%s, now(), gen_random_uuid(), %s, 'github',"
                    " 'pull_request.opened', %s, 'application/json', '{}', %s, sha256(%s))",
                    (org, endpoint, uuid.uuid4().hex, body, body),
                )
                done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


# -- the HTTP load ---------------------------------------------------------------------------


async def _client(
    url: str, path: str, secret: str, seconds: float, concurrency: int, rate: float | None
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds
    interval = concurrency / rate if rate else 0.0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def stream(k: int) -> None:
            n = k * 10_000_000
            next_at = time.monotonic() + (interval * k / concurrency if interval else 0)
            while time.monotonic() < stop:
                if interval:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                n += 1
                headers, body = payload(n)
                signed = GITHUB.auth.sign(body, secret, time.time())
                started = time.perf_counter()
                try:
                    reply = await client.post(
                        path, headers={**headers, **signed.headers}, content=body
                    )
                    code = reply.status_code
                except httpx.HTTPError:
                    code = 0
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1

        await asyncio.gather(*[stream(k) for k in range(concurrency)])
    return {"latencies": latencies, "statuses": statuses}


def _client_process(args: tuple[str, str, str, float, int, float | None], out: Any) -> None:
    cpu0 = time.process_time()
    result = asyncio.run(_client(*args))
    result["cpu"] = time.process_time() - cpu0
    out.put(result)


def http_load(
    url: str, path: str, secret: str, seconds: float, processes: int, concurrency: int,
    rate: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run `processes` client processes with `concurrency` connections each."""
    queue: Any = multiprocessing.Queue()
    per_rate = rate / processes if rate else None
    procs = [
        multiprocessing.Process(
            target=_client_process,
            args=((url, path, secret, seconds, concurrency, per_rate), queue),
        )
        for _ in range(processes)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    latencies = [x for r in results for x in r["latencies"]]
    statuses: dict[int, int] = {}
    for r in results:
        for code, count in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    return summary(statuses, latencies, elapsed, client_cpu_s=sum(r["cpu"] for r in results))


def wrk_load(url: str, path: str, secret: str, seconds: float, connections: int) -> dict[str, Any]:
    """The same deliveries from wrk (C, far cheaper per request than a Python client)."""
    _, body = payload(1)
    signature = GITHUB.auth.sign(body, secret, time.time()).headers["X-Hub-Signature-256"]
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(body)
    script = Path(__file__).with_name("ingest.lua")
    cmd = [
        "wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
        url, "--", path, signature, f.name, uuid.uuid4().hex[:8],
    ]  # fmt: skip
    cpu0 = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu1 = os.times()
    os.unlink(f.name)
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    data = json.loads(line[len("WRK_JSON ") :])
    statuses = {int(k): v for k, v in data["statuses"].items()}
    accepted = statuses.get(202, 0) + statuses.get(200, 0)
    return {
        "accepted_per_s": accepted / data["seconds"],
        "p50_ms": data["p50_ms"],
        "p95_ms": data["p95_ms"],
        "p99_ms": data["p99_ms"],
        "statuses": statuses,
        "client_cpu_s": (cpu1.children_user - cpu0.children_user)
        + (cpu1.children_system - cpu0.children_system),
        "seconds": data["seconds"],
        "client": "wrk",
    }


async def _paced(url: str, path: str, secret: str, seconds: float, rate: float,
                 connections: int) -> dict[str, Any]:  # fmt: skip
    """A fixed rate over raw keep-alive connections: requests are prebuilt bytes, so the
    client costs little; latency counts from the intended send time (no coordinated
    omission: a late request is charged for its wait)."""
    host, port = url.removeprefix("http://").split(":")
    _, body = payload(1)
    signature = GITHUB.auth.sign(body, secret, time.time()).headers["X-Hub-Signature-256"]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: pull_request\r\nX-GitHub-Hook-ID: 482911\r\n"
        f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    interval = connections / rate
    start = time.monotonic() + 0.2

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        n = 0
        due = start + interval * k / connections
        while due < start + seconds:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            writer.write(head + f"X-GitHub-Delivery: {run}-{k}-{n}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            code = int(status_line.split()[1])
            statuses[code] = statuses.get(code, 0) + 1
            latencies.append(time.monotonic() - due)
            due += interval
        writer.close()

    await asyncio.gather(*[connection(k) for k in range(connections)])
    return summary(statuses, latencies, seconds, client_cpu_s=float("nan"), client="paced raw HTTP")


def paced_load(url: str, path: str, secret: str, seconds: float, rate: float) -> dict[str, Any]:
    """Run the paced client in its own process (its CPU stays off the server's loop)."""
    cpu0 = os.times()
    with multiprocessing.Pool(1) as workers:
        result: dict[str, Any] = workers.apply(_paced_sync, (url, path, secret, seconds, rate, 64))
    cpu1 = os.times()
    result["client_cpu_s"] = cpu1.children_user - cpu0.children_user
    return result


def _paced_sync(*args: Any) -> dict[str, Any]:
    return asyncio.run(_paced(*args))


# -- orchestration ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=16, help="connections per process")
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, per second")
    parser.add_argument("--serve-args", default="", help="extra arguments for qdx serve")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    pg_port, http_port = 55400 + os.getpid() % 500, 18400 + os.getpid() % 500
    server = EmbeddedPostgres(home, port=pg_port)  # durable, as `make run` runs it
    info, _ = server.start()
    proc = None
    try:
        conninfo = info.conninfo()
        migrate(conninfo)
        secret = "bench-secret-" + uuid.uuid4().hex
        with psycopg.connect(conninfo) as conn:
            conn.execute("CREATE TABLE bench_bare (LIKE raw.events INCLUDING DEFAULTS)")
            conn.execute("ALTER TABLE bench_bare ADD PRIMARY KEY (org_id, received_at, event_id)")
            conn.execute("SELECT auth.create_org('bench')")
            row = conn.execute(
                "SELECT endpoint_id FROM auth.add_webhook_endpoint('bench', 'github', %s)",
                (secret,),
            ).fetchone()
        assert row is not None
        path = f"/webhooks/github/{row[0]}"
        results: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
        }  # fmt: skip
        with psycopg.connect(conninfo) as conn:
            results["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        results["bare_1conn_rows_per_s"] = bare_ceiling(conninfo, 1, args.seconds / 2)
        results["bare_8conn_rows_per_s"] = bare_ceiling(conninfo, 8, args.seconds / 2)

        proc, url = start_serve(conninfo, http_port, *args.serve_args.split())
        http_load(url, path, secret, 2.0, 1, 4)  # warm up
        if shutil.which("wrk"):
            results["sustained"] = wrk_load(url, path, secret, args.seconds, args.concurrency * 2)
            results["overload"] = wrk_load(url, path, secret, args.seconds / 2, 512)
        else:
            results["sustained"] = http_load(
                url, path, secret, args.seconds, args.processes, args.concurrency
            )
            results["overload"] = http_load(
                url, path, secret, args.seconds / 2, args.processes, 256
            )
        # wrk cannot pace requests: the fixed rate comes from our raw paced client.
        results["fixed_rate"] = paced_load(url, path, secret, args.seconds, args.rate)
        results["fixed_rate"]["target_per_s"] = args.rate
        results["ratio_sustained_to_bare_8conn"] = (
            results["sustained"]["accepted_per_s"] / results["bare_8conn_rows_per_s"]
        )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    print(f"bare INSERT+COMMIT, 1 connection   {results['bare_1conn_rows_per_s']:9.0f} rows/s")
    print(f"bare INSERT+COMMIT, 8 connections  {results['bare_8conn_rows_per_s']:9.0f} rows/s")
    for phase in ("sustained", "overload", "fixed_rate"):
        r = results[phase]
        print(
            f"{phase:<11} {r['accepted_per_s']:8.0f} acked/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p95 {r['p95_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  statuses {r['statuses']}  "
            f"client cpu {r['client_cpu_s']:.1f}s of {r['seconds']:.1f}s"
        )
    print(f"sustained / bare 8-connection ceiling: {results['ratio_sustained_to_bare_8conn']:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
