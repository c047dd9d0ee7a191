"""`python -m bench.normalize`: normalization throughput and a full replay, against the bare
database in the same run.

On a throwaway embedded server (durable settings, as `make run` runs it), with GitHub
deliveries (pull requests, reviews, pushes, Actions runs and jobs, deployments) from the
synthetic generator stored as the receiver stores them:
- bare: each event read from raw.events, its body parsed and written as one row of an
  unindexed table, in transactions of one batch: the least a database can do per event;
- queue: the ingest queue drained by the worker's own code (one SQL call per batch), with
  one worker and with two in parallel;
- replay: `qdx replay`'s code over an org's whole log (`--replay-events`, 1,000,000 by
  default; chunks on 2 connections), then a second replay, which must change no row.
Each phase starts from a settled database (VACUUM ANALYZE, CHECKPOINT). Prints a table and
writes bench/results/normalize.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.types.json import Jsonb

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from synth.emit import Emitter
from synth.model import History
from web.webhooks.delivery import Delivery
from web.webhooks.locate import first
from web.webhooks.registry import all_sources
from workers.normalizer import NormalizerConfig, Progress, drain_batch
from workers.replay import replay

RESULTS = Path(__file__).parent / "results"
GITHUB = all_sources()["github"]
COPY = (
    "COPY raw.events (org_id, received_at, event_id, endpoint_id, source, event_type,"
    " delivery_key, content_type, headers, body, body_sha256) FROM STDIN"
)


def github_deliveries(count: int, seed: int) -> Iterator[tuple[str, str, dict[str, str], bytes]]:
    """(delivery key, event type, headers, body) of `count` synthetic GitHub deliveries."""
    made = 0
    round_ = 0
    while made < count:
        # About 70% of a history's deliveries are GitHub's.
        history = History(seed=seed + round_, size=int((count - made) * 1.5) + 100, days=365)
        for d in Emitter(history.org, history.key).render(history.events()):
            if d.source != "github":
                continue
            request = Delivery("POST", {k.lower(): v for k, v in d.headers.items()}, {}, d.body)
            event_type = first(request, GITHUB.event_type)
            key = first(request, GITHUB.delivery_id)
            assert event_type is not None
            assert key is not None
            yield f"{round_}:{key}", event_type, d.headers, d.body
            made += 1
            if made == count:
                return
        round_ += 1


def load(conn: psycopg.Connection[Any], slug: str, count: int, seed: int) -> uuid.UUID:
    """An org holding `count` GitHub events in raw.events (not queued)."""
    row = conn.execute("SELECT org_id FROM auth.create_org(%s)", (slug,)).fetchone()
    assert row is not None
    org_id = row[0]
    endpoint_id = uuid.uuid4()
    start = datetime.now(UTC)
    with conn.cursor().copy(COPY) as copy:
        for i, (key, event_type, headers, body) in enumerate(github_deliveries(count, seed)):
            copy.write_row((org_id, start + timedelta(microseconds=i), uuid.uuid4(), endpoint_id,
                            "github", event_type, key, "application/json", Jsonb(headers), body,
                            hashlib.sha256(body).digest()))  # fmt: skip
    conn.execute(
        "INSERT INTO raw.deliveries (org_id, source, delivery_key, event_id, received_at)"
        " SELECT org_id, source, delivery_key, event_id, received_at FROM raw.events"
        " WHERE org_id = %s",
        (org_id,),
    )
    conn.commit()
    return org_id


def enqueue(conn: psycopg.Connection[Any], org_id: uuid.UUID) -> None:
    """Queue an org's events as the receiver does (one message per event)."""
    conn.execute(
        "SELECT pgmq.send_batch('ingest', array_agg(jsonb_build_object('event_id', event_id,"
        " 'org_id', org_id, 'source', source, 'received_at', received_at)"
        " ORDER BY received_at)) FROM raw.events WHERE org_id = %s",
        (org_id,),
    )
    conn.commit()


def bare(conn: psycopg.Connection[Any], org_id: uuid.UUID, batch: int) -> float:
    """Events per second: each read, parsed and written as a row, a batch per transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS public.bench_bare (event_id uuid, doc jsonb)")
    conn.commit()
    query = "SELECT event_id FROM raw.events WHERE org_id = %s ORDER BY received_at"
    ids = [r[0] for r in conn.execute(query, (org_id,))]
    started = time.perf_counter()
    for i in range(0, len(ids), batch):
        conn.execute(
            "INSERT INTO public.bench_bare SELECT event_id, convert_from(body, 'UTF8')::jsonb"
            " FROM raw.events WHERE org_id = %s AND event_id = ANY(%s)",
            (org_id, ids[i : i + batch]),
        )
        conn.commit()
    return len(ids) / (time.perf_counter() - started)


async def drain_with(conninfo: str, workers: int, batch: int) -> tuple[float, Progress]:
    """Drain the queue with `workers` loops; events per second and what they did."""
    config = NormalizerConfig(batch_size=batch)
    total = Progress()

    async def loop() -> None:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            while await drain_batch(conn, config, total):
                pass

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return total.events / (time.perf_counter() - started), total


def settle(conninfo: str) -> None:
    """Start a phase from a settled database: statistics fresh, dead rows vacuumed and
    dirty pages written, so a phase does not pay for the one before."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def changed_rows(conn: psycopg.Connection[Any]) -> int:
    """Rows inserted, updated or deleted in schema core so far, from the cumulative
    statistics (read once the writers have disconnected and flushed theirs)."""
    time.sleep(1.5)
    conn.commit()
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
        " FROM pg_stat_user_tables WHERE schemaname = 'core'"
    ).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events drained per run")
    parser.add_argument("--replay-events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="messages per SQL call")
    parser.add_argument("--chunk", type=int, default=5000, help="events per replay call")
    parser.add_argument("--workers", type=int, default=2, help="replay connections")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    server = EmbeddedPostgres(home, port=55000 + uuid.uuid4().int % 5000, listen=None)
    info, _ = server.start()
    conninfo = info.conninfo()
    results: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "events": args.events, "batch": args.batch,
    }  # fmt: skip
    try:
        migrate(conninfo)
        with psycopg.connect(conninfo) as conn:
            results["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            print(f"loading {args.events:,} events for the queue runs ...", flush=True)
            one = load(conn, "bench-one", args.events, seed=1)
            two = load(conn, "bench-two", args.events, seed=1)
            settle(conninfo)
            results["bare_events_per_s"] = bare(conn, one, args.batch)
            for name, org_id, workers in (("queue_1_worker", one, 1), ("queue_2_workers", two, 2)):
                enqueue(conn, org_id)
                settle(conninfo)
                rate, progress = asyncio.run(drain_with(conninfo, workers, args.batch))
                results[name] = {"events_per_s": rate, "outcomes": dict(progress.outcomes),
                                 "ratio_to_bare": rate / results["bare_events_per_s"]}  # fmt: skip
                print(f"{name}: {rate:,.0f} events/s", flush=True)

            print(f"loading {args.replay_events:,} events for the replay ...", flush=True)
            started = time.perf_counter()
            big = load(conn, "bench-replay", args.replay_events, seed=7)
            results["replay_load_s"] = time.perf_counter() - started
            runs = []
            for attempt in ("first", "second"):
                settle(conninfo)
                before = changed_rows(conn)
                started = time.perf_counter()
                outcome = replay(conninfo, "bench-replay", chunk=args.chunk, workers=args.workers)
                seconds = time.perf_counter() - started
                changed = changed_rows(conn) - before
                runs.append({"replay": attempt, "seconds": seconds, "events": outcome.events,
                             "events_per_s": outcome.events / seconds, "changed_rows": changed,
                             "outcomes": dict(outcome.outcomes)})  # fmt: skip
                print(f"replay ({attempt}): {outcome.events:,} events in {seconds:,.1f}s, "
                      f"{changed:,} rows changed", flush=True)  # fmt: skip
            results["replay"] = runs
            rows = conn.execute(
                "SELECT (SELECT count(*) FROM core.changes WHERE org_id = %(o)s),"
                " (SELECT count(*) FROM core.pipeline_runs WHERE org_id = %(o)s),"
                " (SELECT count(*) FROM core.deploys WHERE org_id = %(o)s),"
                " (SELECT count(*) FROM core.facts WHERE org_id = %(o)s)",
                {"o": big},
            ).fetchone()
            assert rows is not None
            results["replay_rows"] = dict(zip(("changes", "pipeline_runs", "deploys", "facts"),
                                              rows, strict=True))  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    bare_rate = results["bare_events_per_s"]
    print()
    print(f"{'measure':<34} {'events/s':>12} {'vs bare':>8}")
    print(f"{'bare (parse + write a row)':<34} {bare_rate:>12,.0f} {1:>8.2f}")
    for name in ("queue_1_worker", "queue_2_workers"):
        r = results[name]
        print(
            f"{name.replace('_', ' '):<34} {r['events_per_s']:>12,.0f} {r['ratio_to_bare']:>8.2f}"
        )
    for run in results["replay"]:
        label = f"replay {run['replay']} ({run['seconds']:.0f}s)"
        ratio = run["events_per_s"] / bare_rate
        print(f"{label:<34} {run['events_per_s']:>12,.0f} {ratio:>8.2f}"
              f"  changed rows {run['changed_rows']:,}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "normalize.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
