"""`python -m bench.identity`: identity resolution of ~10,000 accounts, against the bare
database in the same run, with precision and recall on the labelled set.

On a throwaway embedded server, the evaluation generator (synth.identities) makes
`--people` people (2,100 give ~10,000 accounts):
- bare: the accounts and their activity written with COPY into an unindexed copy of the
  tables, in one transaction: the least a database does to hold them;
- full: every account resolved in one pass (`qdx people resolve ORG --all`: keys,
  blocking, EM estimation, clustering, links written);
- incremental: the same accounts resolved as they arrive, in batches of `--batch`
  pending accounts (the worker's path), then scored as they stand.
Prints a table and writes bench/results/identity.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from synth.identities import generate
from workers.identity.evaluate import actor_id, load, score
from workers.identity.resolver import resolve

RESULTS = Path(__file__).parent / "results"


def bare(conn: psycopg.Connection[Any], accounts: list[Any]) -> float:
    """Seconds to COPY the accounts and their activity into unindexed tables."""
    conn.execute("CREATE TEMP TABLE bare_actors (LIKE core.actors INCLUDING DEFAULTS)")
    conn.execute("CREATE TEMP TABLE bare_commits (LIKE core.commits INCLUDING DEFAULTS)")
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(
            "COPY bare_actors (org_id, actor_id, provider, external_id, login, display_name,"
            " emails, is_bot, first_seen_at, last_seen_at) FROM STDIN"
        ) as copy:
            org = uuid.uuid4()
            for a in accounts:
                copy.write_row((org, actor_id(a), a.provider, a.external_id, a.login,
                                a.display_name, list(a.emails), a.is_bot, "2026-01-01",
                                "2026-01-01"))  # fmt: skip
        with cur.copy(
            "COPY bare_commits (org_id, commit_id, provider, sha, author_id) FROM STDIN"
        ) as copy:
            for a in accounts:
                for i, _ in enumerate(a.activity):
                    copy.write_row((org, f"{actor_id(a)}:{i}", "git", str(i), actor_id(a)))
    return time.perf_counter() - started


def org(conn: psycopg.Connection[Any], slug: str) -> Any:
    row = conn.execute("SELECT org_id FROM auth.create_org(%s)", (slug,)).fetchone()
    assert row is not None
    return row[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2100, help="people generated")
    parser.add_argument("--batch", type=int, default=500, help="pending accounts per pass")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    evalset = generate(seed=args.seed, people=args.people)
    accounts = list(evalset.accounts)
    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    server = EmbeddedPostgres(home, port=55000 + uuid.uuid4().int % 5000, listen=None)
    info, _ = server.start()
    conninfo = info.conninfo()
    results: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "people": evalset.people, "accounts": len(accounts), "batch": args.batch,
    }  # fmt: skip
    try:
        migrate(conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            results["machine"]["postgresql"] = version[0] if version else None
            results["bare_s"] = bare(conn, accounts)
            print(f"bare COPY of {len(accounts):,} accounts: {results['bare_s']:.2f}s", flush=True)

            full = org(conn, "bench-full")
            load(conn, full, accounts)
            started = time.perf_counter()
            outcome = resolve(conn, full, everything=True)
            seconds = time.perf_counter() - started
            s = score(conn, full, accounts)
            results["full"] = {
                "seconds": seconds, "ratio_to_bare": seconds / results["bare_s"],
                "accounts_per_s": len(accounts) / seconds, "precision": s.precision,
                "recall": s.recall, "reviews": s.reviews, "methods": dict(s.methods),
                "model_pairs": (outcome.model or {}).get("pairs") if outcome else None,
            }  # fmt: skip
            print(f"full: {seconds:.2f}s, precision {s.precision:.4f}, recall {s.recall:.4f}, "
                  f"{s.reviews} to review", flush=True)  # fmt: skip

            inc = org(conn, "bench-incremental")
            load(conn, inc, accounts)
            started = time.perf_counter()
            passes = []
            while (o := resolve(conn, inc, limit=args.batch)) is not None:
                passes.append(o.seconds)
            seconds = time.perf_counter() - started
            s = score(conn, inc, accounts)
            passes.sort()
            results["incremental"] = {
                "seconds": seconds, "ratio_to_bare": seconds / results["bare_s"],
                "passes": len(passes), "pass_p50_s": passes[len(passes) // 2],
                "pass_max_s": passes[-1], "precision": s.precision, "recall": s.recall,
                "reviews": s.reviews,
            }  # fmt: skip
            print(f"incremental ({len(passes)} passes of {args.batch}): {seconds:.2f}s, "
                  f"precision {s.precision:.4f}, recall {s.recall:.4f}", flush=True)  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "identity.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
