"""MCP benchmark: get_metric tool-call latency with 10 concurrent sessions, against the
bare api.get_metric from 10 connections in the same run.

Like bench.serving it generates an org with bench.metrics' history (1M changes at
--scale 1; 0.1 by default here), loads it into an embedded PostgreSQL, computes its
metrics and starts `qdx serve` on it as `make run` does. Then N MCP sessions (the SDK's
client over Streamable HTTP, default 10) each call `get_metric` over the same questions
as bench.serving (four metrics, four teams, two granularities) for --seconds: p50/p95
per call and calls/s, then again with clients of the handshake era (the SDK's client
in mode "legacy": initialize, then requests the SDK serves statelessly with a transport
each); REST: the same questions from N clients; bare: the same
`api.get_metric` calls from N psycopg connections. The MCP and REST clients run in a
process of their own, so their JSON-RPC and pydantic work is not counted as the
server's (they still share the machine's cores). Results go to bench/results/mcp.json.

With --profile, a last MCP pass of --seconds runs under py-spy (`pip install py-spy`)
attached to the web process, sampling it while it holds the GIL: its Python work.
Without --gil, half of py-spy's samples were in psycopg's send frames, inside libpq
calls that release the GIL (most likely the web process waiting for a core after waking
a database backend on two busy cores). The functions with the most
samples (own and with what they call) are printed and saved to
bench/results/mcp-profile.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from bench import metrics as bm
from bench.serving import bare_load, combos, rest_load, served_history

RESULTS = Path(__file__).parent / "results"
HANDSHAKE = LATEST_HANDSHAKE_VERSION


async def mcp_load(url: str, token: str, asks: list[tuple[str, str, str]], sessions: int,
                   seconds: float, mode: str = "auto") -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors = 0

    async def session(k: int) -> None:
        nonlocal errors
        rng = random.Random(k)  # noqa: S311 (a load pattern, not a secret)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(
                streamable_http_client(f"{url}/mcp/metrics", http_client=http), mode=mode
            ) as client,
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


def _mcp_load(*args: Any) -> dict[str, Any]:
    return _client_cpu(mcp_load, *args)


def _rest_load(*args: Any) -> dict[str, Any]:
    return _client_cpu(rest_load, *args)


def _client_cpu(load: Any, *args: Any) -> dict[str, Any]:
    started = time.process_time()
    result: dict[str, Any] = asyncio.run(load(*args))
    spent = time.process_time() - started
    return {**result, "client_cpu_ms_per_call": 1000 * spent / max(result["calls"], 1)}


def apart(fn: Any, *args: Any) -> dict[str, Any]:
    """Run a load function in a fresh process of its own (clients off the server's
    process, and off this one's imports and state)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        result: dict[str, Any] = pool.submit(fn, *args).result()
        return result


def served(proc: psutil.Process, fn: Any, *args: Any) -> dict[str, Any]:
    """A load run apart, with the web process's CPU time per timed call (user + system):
    what the server spends on a call, whoever else shares the cores (its few dozen
    warm-up calls are counted in the time, not the calls: under 1%)."""
    before = proc.cpu_times()
    result = apart(fn, *args)
    after = proc.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    calls = result["calls"]
    return {**result, "web_cpu_ms_per_call": 1000 * cpu / calls if calls else None}


def profile(pid: int, load: Any, out: Path, top: int = 25) -> str:
    """Sample process `pid` with py-spy while `load()` runs; the top functions by own
    samples and by samples with what they call, as text."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "py-spy is not installed: pip install py-spy"
    raw = out.with_suffix(".raw")
    rec = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate",
                            "200", "--gil", "--nolineno", "--nonblocking", "-o", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1)
    try:
        load()
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f]
        if not frames or not count.isdigit():
            continue
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{samples} samples of the web process (py-spy, 200/s, holding the GIL)",
             "", "own samples:"]  # fmt: skip
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "with callees:"]
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1: 1M changes")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="a last MCP pass under py-spy, attached to the web process",
    )
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--scale", str(args.scale)]
    sizes, _ = bm.parse()

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                           "python": platform.python_version()},
                               "sizes": sizes.__dict__}  # fmt: skip
    with served_history(sizes, "viewer", 56000, 19000) as org:
        conninfo, hist, token, url, proc = org.conninfo, org.hist, org.token, org.url, org.proc
        asks = combos(hist)
        print(f"MCP get_metric, {args.sessions} sessions, {args.seconds:.0f}s ...", flush=True)
        load = (url, token, asks, args.sessions, args.seconds)
        web = psutil.Process(proc.pid)
        results["mcp"] = served(web, _mcp_load, *load)
        print(f"  {results['mcp']}", flush=True)
        print(f"MCP get_metric, handshake-era clients (initialize, {HANDSHAKE}) ...", flush=True)
        results["mcp_handshake"] = served(web, _mcp_load, *load, "legacy")
        print(f"  {results['mcp_handshake']}", flush=True)
        print(f"REST metric, {args.sessions} clients ...", flush=True)
        results["rest"] = served(web, _rest_load, *load)
        print(f"  {results['rest']}", flush=True)
        results["bare"] = bare_load(conninfo, bm.SLUG, asks, args.sessions, args.seconds)
        print(f"  bare {results['bare']}", flush=True)
        if args.profile:
            RESULTS.mkdir(exist_ok=True)
            print(f"MCP get_metric under py-spy, {args.seconds:.0f}s ...", flush=True)
            print(profile(proc.pid, lambda: apart(_mcp_load, *load),
                          RESULTS / "mcp-profile.txt"), flush=True)  # fmt: skip
    m, b = results["mcp"], results["bare"]
    print()
    print(f"MCP get_metric ({m['sessions']} sessions) p50 {m['p50_ms']:6.1f} ms  p95 "
          f"{m['p95_ms']:6.1f} ms  {m['per_s']:6.0f}/s  web CPU "
          f"{m['web_cpu_ms_per_call']:.2f} ms/call (client {m['client_cpu_ms_per_call']:.2f})  "
          f"errors {m['errors']}  "
          f"ratio p50 {m['p50_ms'] / b['p50_ms']:.2f}x  p95 {m['p95_ms'] / b['p95_ms']:.2f}x  "
          f"throughput {m['per_s'] / b['per_s']:.2f}x")  # fmt: skip
    h = results["mcp_handshake"]
    print(f"MCP, handshake clients   p50 {h['p50_ms']:6.1f} ms  p95 {h['p95_ms']:6.1f} ms  "
          f"{h['per_s']:6.0f}/s  web CPU {h['web_cpu_ms_per_call']:.2f} ms/call (client "
          f"{h['client_cpu_ms_per_call']:.2f})  errors {h['errors']}")  # fmt: skip
    r = results["rest"]
    print(f"REST metric ({r['clients']} clients) p50 {r['p50_ms']:6.1f} ms  p95 "
          f"{r['p95_ms']:6.1f} ms  {r['per_s']:6.0f}/s  web CPU "
          f"{r['web_cpu_ms_per_call']:.2f} ms/call (client {r['client_cpu_ms_per_call']:.2f})  "
          f"ratio p50 "
          f"{r['p50_ms'] / b['p50_ms']:.2f}x  p95 {r['p95_ms'] / b['p95_ms']:.2f}x")  # fmt: skip
    print(f"bare api.get_metric ({b['clients']} conns) p50 {b['p50_ms']:6.1f} ms  p95 "
          f"{b['p95_ms']:6.1f} ms  {b['per_s']:6.0f}/s")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mcp.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
