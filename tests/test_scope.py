"""The server's per-request scope (db.scope): a transaction as qdx_app within an org's
(or teams') rows. Requests for two orgs interleaved on one pooled connection never see
each other's rows, nothing carries over to the next transaction, a caller with no org
sees nothing, and another org's slug is not found (its existence is not revealed). Under
row-level security the main reads still use their indexes."""

from __future__ import annotations

import json
import random
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from db.scope import Scope, scoped
from tests.metrics_helpers import World, at

Conn = psycopg.Connection[Any]


@pytest.fixture
def two_orgs(database: str) -> dict[str, World]:
    with psycopg.connect(database, autocommit=True) as conn:
        worlds = {}
        for slug, n in (("acme", 3), ("globex", 5)):
            w = World(conn, slug)
            w.team("eng")
            w.repo(f"github:{slug}", f"{slug}/api")
            for i in range(n):
                w.change(f"{slug}-{i}", repo=f"github:{slug}", merged=at(-5 + i * 0.1))
            w.deploy(f"{slug}-d", at(-1), repo=f"github:{slug}")
            w.refresh()
            worlds[slug] = w
        return worlds


def changes(conn: Conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT change_id FROM core.changes ORDER BY 1")]


def test_interleaved_orgs_on_one_pooled_connection(
    database: str, two_orgs: dict[str, World]
) -> None:
    scopes = {slug: Scope(w.org) for slug, w in two_orgs.items()}
    expected = {"acme": [f"acme-{i}" for i in range(3)],
                "globex": [f"globex-{i}" for i in range(5)]}  # fmt: skip
    rng = random.Random(7)  # noqa: S311 (a reproducible order, not a secret)
    with ConnectionPool(database, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        backends = set()
        for _ in range(40):
            slug = rng.choice(["acme", "globex"])
            with pool.connection() as conn, scoped(conn, scopes[slug]) as c:
                backends.add(c.info.backend_pid)
                assert changes(c) == expected[slug]
                merged = c.execute(
                    "SELECT sample_size FROM api.get_metric('merged_changes', %s, '2026-Q1')",
                    (Jsonb({"org": slug}),),
                ).fetchone()
                assert merged == (len(expected[slug]),)
                assert c.execute("SELECT count(*) FROM auth.orgs").fetchone() == (1,)
            # Between requests the connection is the owner's again, with no scope.
            with pool.connection() as conn:
                row = conn.execute(
                    "SELECT current_user <> 'qdx_app', current_setting('qdx.org_id', true)"
                ).fetchone()
                assert row is not None
                assert row[0] is True
                assert row[1] in (None, "")
        assert len(backends) == 1


def test_a_failed_request_leaves_nothing_behind(database: str, two_orgs: dict[str, World]) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), \
                scoped(conn, Scope(two_orgs["acme"].org)) as c:  # fmt: skip
            c.execute("SELECT * FROM auth.webhook_endpoints")
        assert conn.execute("SELECT current_user").fetchone() != ("qdx_app",)
        assert len(changes(conn)) == 8  # the owner's view: both orgs


def test_no_org_sees_nothing_and_another_orgs_slug_is_not_found(
    database: str, two_orgs: dict[str, World]
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE qdx_app")
            assert changes(conn) == []
            assert conn.execute("SELECT count(*) FROM metrics.change_units").fetchone() == (0,)
        acme = Scope(two_orgs["acme"].org)
        for slug in ("globex", "nope"):
            with pytest.raises(psycopg.errors.NoDataFound, match=f"no org {slug}"), \
                    scoped(conn, acme) as c:  # fmt: skip
                c.execute("SELECT * FROM api.get_metric('merged_changes', %s)",
                          (Jsonb({"org": slug}),))  # fmt: skip
        # Explaining by the other org's id finds nothing either.
        with pytest.raises(psycopg.errors.NoDataFound), scoped(conn, acme) as c:
            c.execute("SELECT * FROM api.explain_metric('merged_changes', %s)",
                      (Jsonb({"org": str(two_orgs["globex"].org)}),))  # fmt: skip


def test_secrets_and_writes_are_out_of_reach(database: str, two_orgs: dict[str, World]) -> None:
    acme = Scope(two_orgs["acme"].org)
    with psycopg.connect(database, autocommit=True) as conn:
        for statement in (
            "SELECT * FROM auth.webhook_endpoints",
            "SELECT * FROM auth.signing_keys",
            "SELECT * FROM auth.sql_roles",
            "SELECT * FROM audit.read_log",
            "SELECT * FROM raw.events",
            "UPDATE core.changes SET title = 'x'",
            "DELETE FROM metrics.change_units",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), scoped(conn, acme) as c:
                c.execute(statement)


def _plan(c: Conn, query: str, params: Any = None) -> str:
    c.execute("SET LOCAL enable_seqscan = off")
    row = c.execute(f"EXPLAIN (FORMAT JSON) {query}", params).fetchone()
    assert row is not None
    return json.dumps(row[0])


def test_reads_under_row_level_security_use_indexes(
    database: str, two_orgs: dict[str, World]
) -> None:
    """With sequential scans priced out, a policy that could not use an index would still
    show as a Seq Scan: the org predicate must be an index condition."""
    acme = Scope(two_orgs["acme"].org)
    with psycopg.connect(database, autocommit=True) as conn:
        for query in (
            "SELECT * FROM core.changes WHERE merged_at >= now() - interval '30 days'",
            "SELECT * FROM metrics.change_units WHERE merged_at >= now() - interval '30 days'",
            "SELECT * FROM core.deploys WHERE finished_at >= now() - interval '30 days'",
            "SELECT * FROM api.changes",
        ):
            with scoped(conn, acme) as c:
                plan = _plan(c, query)
            assert "Seq Scan" not in plan, (query, plan)
            assert "org_id" in plan
