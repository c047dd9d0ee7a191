"""`qdx migrate`: versioned DDL and SQL files, idempotent, serialized, all-or-nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from db.migrate import MIGRATION_LOCK, MigrationError, head_revision, migrate, pending, sql_files
from qdx.settings import PROJECT_ROOT

# Everything that makes up our schemas, as text: tables and columns, constraints,
# indexes, functions with their bodies, views, extensions.
SNAPSHOT = """
SELECT 'column', format('%s.%s.%s %s %s %s', table_schema, table_name, column_name, data_type,
                        is_nullable, column_default)
FROM information_schema.columns WHERE table_schema IN ('auth', 'pgmq', 'public', 'raw')
UNION ALL
SELECT 'constraint', format('%s %s', conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE connamespace::regnamespace::text IN ('auth', 'pgmq', 'public', 'raw')
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname IN ('auth', 'pgmq', 'public', 'raw')
UNION ALL
SELECT 'function', format('%s(%s) %s', p.oid::regproc, pg_get_function_arguments(p.oid),
                          md5(pg_get_functiondef(p.oid)))
FROM pg_proc p WHERE pronamespace::regnamespace::text IN ('auth', 'pgmq', 'public', 'raw')
                 AND prokind IN ('f', 'p')
UNION ALL
SELECT 'extension', extname FROM pg_extension
UNION ALL
SELECT 'sql file', path || ' ' || checksum FROM public.qdx_sql_files
ORDER BY 1, 2
"""


def snapshot(conninfo: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(SNAPSHOT).fetchall()


def test_fresh_database_is_migrated_and_second_run_changes_nothing(empty_database: str) -> None:
    first = migrate(empty_database)
    assert first.revision_before is None
    assert first.revision_after == head_revision()
    assert first.sql_applied == [f.path for f in sql_files()]
    assert pending(empty_database) == []
    before = snapshot(empty_database)
    with psycopg.connect(empty_database) as conn:
        row = conn.execute(
            "SELECT to_regclass('pgmq.meta') IS NOT NULL, "
            "to_regclass('public.procrastinate_jobs') IS NOT NULL, "
            "(SELECT count(*) FROM pgmq.list_queues() WHERE queue_name = 'ingest')"
        ).fetchone()
    assert row == (True, True, 1)
    second = migrate(empty_database)
    assert not second.changed
    assert second.sql_applied == []
    assert snapshot(empty_database) == before


def test_two_concurrent_migrations_both_succeed_with_one_schema(
    empty_database: str, database: str
) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database, "QDX_LOG_FORMAT": "json"}
    cmd = [sys.executable, "-m", "qdx", "migrate"]
    with psycopg.connect(empty_database, autocommit=True) as holder:
        # Hold the migration lock so both processes are provably waiting at once.
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]  # fmt: skip
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            row = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            waiting = row[0] if row else 0
        assert waiting == 2
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    reports = sorted(out for out, _ in outputs)
    assert reports[0].startswith("database is up to date")
    assert reports[1].startswith(f"migrated to revision {head_revision()}")
    # The same schema as the template every other test uses, migrated once.
    assert snapshot(empty_database) == snapshot(database)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's migrations and SQL files that a test may edit."""
    root = tmp_path / "project"
    for folder in ("migrations", "sql", "sources"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    return root


def test_changed_sql_file_is_reapplied_alone(empty_database: str, project_copy: Path) -> None:
    migrate(empty_database, root=project_copy)
    target = project_copy / "sql" / "auth" / "10_orgs_teams.sql"
    target.write_text(
        target.read_text()
        + "\n-- Probe added by a test.\n"
        + "CREATE OR REPLACE FUNCTION auth.probe() RETURNS int LANGUAGE sql AS $$ SELECT 7 $$;\n"
    )
    assert pending(empty_database, project_copy) == ["sql/auth/10_orgs_teams.sql changed"]
    result = migrate(empty_database, root=project_copy)
    assert result.sql_applied == ["sql/auth/10_orgs_teams.sql"]
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT auth.probe()").fetchone() == (7,)


def test_failure_rolls_back_everything(empty_database: str, project_copy: Path) -> None:
    (project_copy / "sql" / "auth" / "99_broken.sql").write_text(
        "CREATE OR REPLACE VIEW auth.broken AS SELECT no_such_column FROM auth.orgs;\n"
    )
    with pytest.raises(MigrationError, match=r"sql/auth/99_broken.sql: column .* does not exist"):
        migrate(empty_database, root=project_copy)
    with psycopg.connect(empty_database) as conn:
        row = conn.execute(
            "SELECT to_regclass('public.alembic_version'), to_regnamespace('auth')"
        ).fetchone()
    assert row == (None, None)


def test_sql_folder_outside_the_order_is_refused(project_copy: Path) -> None:
    (project_copy / "sql" / "misc").mkdir()
    with pytest.raises(MigrationError, match=r"sql/misc/ is not in db.migrate.SQL_ORDER"):
        sql_files(project_copy)


def test_cli_migrate_reports_up_to_date(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    from qdx.cli import main

    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"database is up to date (revision {head_revision()})"
