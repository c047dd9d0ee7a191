"""`python -m bench` (or `make bench`): what the foundation costs, against the bare server.

Measured on one throwaway embedded server in this run:
- per-test database: cloning the migrated template vs creating an empty database
  (the bare server's cheapest CREATE DATABASE), and a rolled-back transaction;
- `qdx migrate` on an empty database, and a no-op second run;
- /healthz and /readyz through the ASGI app vs a bare `SELECT 1` round trip.
Prints a table and writes bench/results/foundation.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql
from starlette.testclient import TestClient

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from qdx.settings import Settings
from web.app import create_app

ROUNDS = 20


def timed(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Median seconds of fn over rounds."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    server = EmbeddedPostgres(
        home, port=55000 + uuid.uuid4().int % 5000, listen=None, durable=False
    )
    info, _ = server.start()
    results: dict[str, float] = {}
    try:
        admin = psycopg.connect(info.conninfo("postgres"), autocommit=True)

        def create(template: str | None) -> str:
            name = f"b_{uuid.uuid4().hex[:10]}"
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            admin.execute(query)
            return name

        def drop(name: str) -> None:
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))

        template = create(None)
        results["migrate_empty_s"] = timed(lambda: migrate(info.conninfo(template)), rounds=1)
        results["migrate_noop_s"] = timed(lambda: migrate(info.conninfo(template)), rounds=5)
        admin.execute(
            sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(template))
        )

        results["bare_create_db_s"] = timed(lambda: drop(create(None)))
        results["clone_template_s"] = timed(lambda: drop(create(template)))
        shared = create(template)
        with psycopg.connect(info.conninfo(shared)) as conn:

            def rolled_back() -> None:
                # What the `conn` fixture adds to a test: a transaction, then its rollback.
                conn.execute("SELECT 1")
                conn.rollback()

            results["rolled_back_txn_s"] = timed(rolled_back, rounds=200)
            results["bare_select_1_s"] = timed(lambda: conn.execute("SELECT 1"), rounds=200)
            conn.rollback()
        with TestClient(create_app(Settings.from_env({}), info.conninfo(shared))) as http:
            results["healthz_s"] = timed(lambda: http.get("/healthz"), rounds=200)
            results["readyz_s"] = timed(lambda: http.get("/readyz"), rounds=200)
        admin.close()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    ratios = {
        "clone_template / bare_create_db": results["clone_template_s"]
        / results["bare_create_db_s"],
        "rolled_back_txn / bare_create_db": results["rolled_back_txn_s"]
        / results["bare_create_db_s"],
        "readyz / bare_select_1": results["readyz_s"] / results["bare_select_1_s"],
        "healthz / bare_select_1": results["healthz_s"] / results["bare_select_1_s"],
    }
    for name, seconds in results.items():
        print(f"{name:<24} {seconds * 1000:9.2f} ms")
    for name, ratio in ratios.items():
        print(f"{name:<36} {ratio:10.3g}x")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "foundation.json").write_text(
        json.dumps({"seconds": results, "ratios": ratios}, indent=2)
    )


if __name__ == "__main__":
    main()
