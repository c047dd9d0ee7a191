"""The catalog check: every table of a tenant schema has row-level security enabled and
forced with a policy, every view runs with its reader's rights (security_invoker), every
SECURITY DEFINER function is on the allow-list, and the direct-SQL group reads nothing
but what it is granted. A new table without a policy fails here."""

from __future__ import annotations

from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

TENANT_SCHEMAS = ("auth", "audit", "raw", "core", "identity", "metrics")
PROJECT_SCHEMAS = (*TENANT_SCHEMAS, "api")
SECURITY_DEFINER_ALLOWED = {
    "audit.record",
    "auth.caller_org",
    "auth.caller_teams",
    "metrics.request_refresh",
}
QDX_SQL_TABLES = {
    "api.teams", "api.repos", "api.changes", "api.change_metrics", "api.deploys",
    "api.incidents", "api.pipeline_runs", "api.metric_definitions", "auth.teams",
    "core.repos", "core.changes", "core.deploys", "core.incidents", "core.pipeline_runs",
    "metrics.change_units", "metrics.change_teams", "metrics.deploy_teams",
    "metrics.failure_links", "metrics.definitions",
}  # fmt: skip


def unsecured_tables(conn: Conn) -> list[str]:
    rows = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p')"
        "   AND NOT (c.relrowsecurity AND c.relforcerowsecurity"
        "            AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))"
        " ORDER BY 1",
        (list(TENANT_SCHEMAS),),
    ).fetchall()
    return [r[0] for r in rows]


def test_every_tenant_table_has_forced_row_level_security(conn: Conn) -> None:
    assert unsecured_tables(conn) == []
    count = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p')",
        (list(TENANT_SCHEMAS),),
    ).fetchone()
    assert count is not None
    assert count[0] > 40


def test_a_new_table_without_a_policy_is_found(conn: Conn) -> None:
    conn.execute("CREATE TABLE core.forgotten (org_id uuid, x int)")
    assert unsecured_tables(conn) == ["core.forgotten"]
    # What sql/security/ does for it (and the partition upkeep for new partitions).
    conn.execute("SELECT auth.secure_tenant_tables()")
    assert unsecured_tables(conn) == []
    policies = conn.execute(
        "SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy"
        " WHERE polrelid = 'core.forgotten'::regclass ORDER BY 1"
    ).fetchall()
    assert [p[0] for p in policies] == ["owner", "tenant", "worker"]
    assert "caller_org()" in policies[1][1]
    assert "current_setting('qdx.org_id'" in policies[2][1]


def test_every_view_runs_with_its_readers_rights(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT c.oid::regclass::text,"
        " coalesce('security_invoker=true' = ANY (c.reloptions), false)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('v', 'm') ORDER BY 1",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert len(rows) >= 10
    assert [name for name, invoker in rows if not invoker] == []


def test_security_definer_functions_are_on_the_allow_list(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = ANY (%s) AND p.prosecdef ORDER BY 1",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert {r[0] for r in rows} == SECURITY_DEFINER_ALLOWED
    # Each pins its search_path.
    unpinned = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = ANY (%s) AND p.prosecdef"
        "   AND NOT coalesce(p.proconfig::text LIKE '%%search_path=%%', false)",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert unpinned == []


def test_the_direct_sql_group_is_granted_the_api_views_and_nothing_more(conn: Conn) -> None:
    tables = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p', 'v', 'm')"
        "   AND has_table_privilege('qdx_sql', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert {r[0] for r in tables} == QDX_SQL_TABLES
    writable = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p', 'v', 'm')"
        "   AND has_table_privilege('qdx_sql', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert writable == []
    schemas = conn.execute(
        "SELECT n.nspname FROM pg_namespace n WHERE n.nspname = ANY (%s)"
        "   AND has_schema_privilege('qdx_sql', n.oid, 'USAGE') ORDER BY 1",
        (list(PROJECT_SCHEMAS),),
    ).fetchall()
    assert [r[0] for r in schemas] == ["api"]
    callable_ = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'api' AND has_function_privilege('qdx_sql', p.oid, 'EXECUTE')"
    ).fetchall()
    assert callable_ == []


# The worker's org: the transaction's setting (qdx_worker is never a direct-SQL login).
WORKER_ORG = (
    "(org_id = ( SELECT (NULLIF(current_setting('qdx.org_id'::text, true), ''::text))::uuid"
    ' AS "nullif"))'
)


def test_every_org_table_admits_the_worker_role_to_its_org_only(conn: Conn) -> None:
    # Each table with an org_id has the policy `worker`, for qdx_worker alone, reading and
    # writing (USING and WITH CHECK) the org its transaction set, and no other policy
    # lets qdx_worker in.
    rows = conn.execute(
        "SELECT c.oid::regclass::text, p.polname, p.polcmd,"
        " ARRAY(SELECT pg_get_userbyid(r) FROM unnest(p.polroles) r ORDER BY 1),"
        " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'"
        "   AND NOT a.attisdropped"
        " LEFT JOIN pg_policy p ON p.polrelid = c.oid"
        "   AND 'qdx_worker'::regrole = ANY (p.polroles)"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p') ORDER BY 1",
        (list(TENANT_SCHEMAS),),
    ).fetchall()
    assert len(rows) > 40
    wrong = [
        r[0] for r in rows
        if r[1:4] != ("worker", "*", ["qdx_worker"])
        or r[4] != WORKER_ORG or r[5] != r[4]
    ]  # fmt: skip
    assert wrong == []


def test_the_worker_role_has_no_bypass_and_no_secrets(conn: Conn) -> None:
    row = conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole FROM pg_roles"
        " WHERE rolname = 'qdx_worker'"
    ).fetchone()
    assert row == (False, False, False, False)
    readable = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('auth', 'audit') AND c.relkind IN ('r', 'p', 'v', 'm')"
        "   AND has_table_privilege('qdx_worker', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')"
        " ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in readable] == ["auth.orgs", "auth.team_memberships", "auth.teams"]
    truncatable = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p')"
        "   AND has_table_privilege('qdx_worker', c.oid, 'TRUNCATE')",
        (list(TENANT_SCHEMAS),),
    ).fetchall()
    assert truncatable == []


def test_partitions_the_upkeep_makes_are_secured(conn: Conn) -> None:
    from db.queries import QUERIES

    before = conn.execute("SELECT count(*) FROM pg_inherits"
                          " WHERE inhparent = 'raw.events'::regclass").fetchone()  # fmt: skip
    row = conn.execute(QUERIES["ensure_event_partitions"], {"months": 15}).fetchone()
    after = conn.execute("SELECT count(*) FROM pg_inherits"
                         " WHERE inhparent = 'raw.events'::regclass").fetchone()  # fmt: skip
    assert before is not None
    assert after is not None
    assert after[0] > before[0]
    assert row is not None
    assert row[1] == after[0] - before[0]
    assert unsecured_tables(conn) == []
