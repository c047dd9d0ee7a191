"""`python -m bench.workers`: what the worker role (qdx_worker, row-level security per org)
costs the services' tenant writes, against the same SQL run as the owner in the same run.

On a throwaway embedded server, each path runs as the owner and as qdx_worker, the two
alternated `--rounds` times (a shared machine's load drifts; alternation spreads it):
- store: the group commit's statement (raw.accept_events, batches of 64) on an
  autocommit connection, as the owner vs on a connection that took qdx_worker at connect
  (web.webhooks.group.ingest_pool), for one org and for two orgs mixed;
- drain: the normalizer's claim and per-org apply (core.apply_ingest, batches of 1,000)
  over `--events` GitHub events of one org, then of two orgs interleaved in the queue;
- refresh: metrics.mark_all + metrics.refresh of an org holding bench.metrics' generated
  history (`--changes` pull requests, with its deploys, incidents, reviews and teams).
A first drain, not counted, warms the server up (the first drain of a run costs several
times the CPU of the next ones).
Each reports wall time and the CPU seconds of the PostgreSQL backend that did the work
(from /proc: steadier than throughput when other processes share the cores). Prints JSON
and writes bench/results/workers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from hashlib import sha256
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.metrics import History, Sizes
from bench.metrics import load as load_history
from bench.normalize import enqueue, load, settle
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from db.queries import QUERIES
from db.scope import as_worker, as_worker_async, take_worker_role
from web.webhooks.group import COLUMNS

RESULTS = Path(__file__).parent / "results"
WHO = ("owner", "worker")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_columns(orgs: list[tuple[uuid.UUID, uuid.UUID]], tag: str) -> list[list[Any]]:
    """One batch of 64 deliveries (orgs in turn) as raw.accept_events' arrays."""
    body = json.dumps({"ref": "refs/heads/main", "pad": "x" * 900}).encode()
    batch = [
        {"org_id": orgs[i % len(orgs)][0], "endpoint_id": orgs[i % len(orgs)][1],
         "source": "github", "delivery_key": f"{tag}-{i}", "event_type": "push",
         "content_type": "application/json", "headers": Jsonb({"x-github-event": "push"}),
         "body": body}
        for i in range(64)
    ]  # fmt: skip
    columns = [[p[name] for p in batch] for name in COLUMNS]
    columns.append([sha256(b).digest() for b in columns[-1]])
    return columns


async def store(conninfo: str, who: str, orgs: list[tuple[uuid.UUID, uuid.UUID]],
                batches: int, tag: str) -> dict[str, float]:  # fmt: skip
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        if who == "worker":
            await take_worker_role(conn)
        pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or (0,))[0]
        cpu, started = backend_cpu(pid), time.perf_counter()
        for b in range(batches):
            cur = await conn.execute(
                QUERIES["accept_events"], store_columns(orgs, f"{tag}-{b}"), binary=True
            )
            assert len(await cur.fetchall()) == 64
        n = batches * 64
        return {"per_s": n / (time.perf_counter() - started),
                "cpu_us_per_delivery": (backend_cpu(pid) - cpu) * 1e6 / n}  # fmt: skip


async def drain(conninfo: str, who: str) -> dict[str, float]:
    """The normalizer's loop (workers/normalizer.py, without its error handling)."""
    events = 0
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or (0,))[0]
        cpu, started = backend_cpu(pid), time.perf_counter()
        while True:
            claim = {"qty": 1000, "vt": 60, "max_attempts": 5}
            rows = await (await conn.execute(QUERIES["claim_ingest"], claim)).fetchall()
            if not rows:
                break
            by_org: dict[uuid.UUID, list[int]] = {}
            for msg_id, _, org in rows:
                by_org.setdefault(org, []).append(msg_id)
            for org, msg_ids in by_org.items():
                scope = as_worker_async(conn, org) if who == "worker" else conn.transaction()
                async with scope:
                    cur = await conn.execute(QUERIES["apply_ingest"], {"msg_ids": msg_ids})
                    events += sum(int(n) for _, n in await cur.fetchall())
        return {"events_per_s": events / (time.perf_counter() - started),
                "cpu_s": backend_cpu(pid) - cpu}  # fmt: skip


def enqueue_mixed(conn: psycopg.Connection[Any], orgs: list[uuid.UUID]) -> None:
    """Queue the events of several orgs interleaved (each org's in arrival order)."""
    conn.execute(
        "SELECT pgmq.send_batch('ingest', array_agg(jsonb_build_object('event_id', event_id,"
        " 'org_id', org_id, 'source', source, 'received_at', received_at) ORDER BY n, org_id))"
        " FROM (SELECT *, row_number() OVER (PARTITION BY org_id ORDER BY received_at) n"
        "       FROM raw.events WHERE org_id = ANY (%s)) e",
        (orgs,),
    )
    conn.commit()


def refresh(conninfo: str, who: str, org: uuid.UUID) -> dict[str, float]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pid = (conn.execute("SELECT pg_backend_pid()").fetchone() or (0,))[0]
        cpu, started = backend_cpu(pid), time.perf_counter()
        scope = as_worker(conn, org) if who == "worker" else conn.transaction()
        with scope:
            conn.execute("SELECT metrics.mark_all(%s, NULL), metrics.refresh(%s)", (org, org))
        return {"seconds": time.perf_counter() - started, "cpu_s": backend_cpu(pid) - cpu}


def history_org(conn: psycopg.Connection[Any], changes: int, home: Path) -> uuid.UUID:
    """An org holding bench.metrics' history of `changes` pull requests (two years)."""
    sizes = Sizes(changes=changes, deploys=changes // 10, incidents=changes // 100, repos=100,
                  teams=20, groups=4, people=max(40, changes // 650), bots=5, days=730,
                  events=1000, rounds=3, batches=4)  # fmt: skip
    org = uuid.UUID(int=random.Random(7).getrandbits(128), version=4)  # noqa: S311
    data = home / "history"
    data.mkdir()
    hist = History(sizes, 7, (time.time() // 3600) * 3600 - 4 * 3600, org, data)
    hist.write_people()
    hist.write_deploys_and_incidents(hist.write_changes())
    conn.execute("INSERT INTO auth.orgs (org_id, slug, name) VALUES (%s, 'history', 'H')", (org,))
    conn.commit()
    load_history(conn, hist, org, {})
    return org


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=8000, help="GitHub events per drain")
    parser.add_argument("--batches", type=int, default=300, help="store batches of 64")
    parser.add_argument("--changes", type=int, default=50_000, help="changes for the refresh")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    server = EmbeddedPostgres(home, port=55000 + uuid.uuid4().int % 5000, listen=None)
    info, _ = server.start()
    conninfo = info.conninfo()
    results: dict[str, Any] = {"events": args.events, "batches": args.batches, "runs": {}}
    runs: dict[str, list[dict[str, float]]] = results["runs"]
    try:
        migrate(conninfo)
        with psycopg.connect(conninfo) as conn:
            endpoints = []
            for slug in ("store-a", "store-b"):
                row = conn.execute("SELECT org_id FROM auth.create_org(%s)", (slug,)).fetchone()
                assert row is not None
                endpoints.append((row[0], uuid.uuid4()))
            conn.commit()
            warm = load(conn, "warm-up", args.events, seed=1)
            enqueue(conn, warm)
            asyncio.run(drain(conninfo, "owner"))
            big = history_org(conn, args.changes, home)
            for rnd in range(args.rounds):
                order = WHO if rnd % 2 == 0 else WHO[::-1]
                for who in order:
                    for n in (1, 2):
                        settle(conninfo)
                        tag = f"{who}-{rnd}-{n}"
                        runs.setdefault(f"store_{n}org_{who}", []).append(
                            asyncio.run(store(conninfo, who, endpoints[:n], args.batches, tag))
                        )
                for who in order:
                    one = load(conn, f"one-{who}-{rnd}", args.events, seed=1)
                    enqueue(conn, one)
                    settle(conninfo)
                    runs.setdefault(f"drain_1org_{who}", []).append(
                        asyncio.run(drain(conninfo, who))
                    )
                    two = [load(conn, f"two-{who}-{rnd}-{k}", args.events // 2, seed=1)
                           for k in (0, 1)]  # fmt: skip
                    enqueue_mixed(conn, two)
                    settle(conninfo)
                    runs.setdefault(f"drain_2orgs_{who}", []).append(
                        asyncio.run(drain(conninfo, who))
                    )
                    settle(conninfo)
                    runs.setdefault(f"refresh_{who}", []).append(refresh(conninfo, who, big))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    summary = {
        name: {key: round(sum(r[key] for r in rows) / len(rows), 2) for key in rows[0]}
        for name, rows in runs.items()
    }
    results["mean"] = summary
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "workers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
