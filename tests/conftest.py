"""A real PostgreSQL for every test.

One embedded server per test run (PostgreSQL 18 from the wheel, socket only, fsync off),
a template database migrated once, and per test either
- `conn`: a connection to a shared migrated database inside a transaction that is rolled
  back afterwards (cheap; the default), or
- `database`: a fresh database cloned from the template (for commits across connections,
  subprocesses and the CLI).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from db.embedded import SUPERUSER, EmbeddedPostgres, ServerInfo
from db.migrate import migrate
from tests.helpers import free_port

TEMPLATE = "qdx_template"
SHARED = "qdx_shared"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerInfo]:
    """The run's embedded server."""
    home = Path(tempfile.mkdtemp(prefix="qdx-test-"))
    server = EmbeddedPostgres(home, port=free_port(), listen=None, durable=False)
    info, _ = server.start()
    try:
        yield info
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _admin(info: ServerInfo) -> psycopg.Connection[Any]:
    return psycopg.connect(info.conninfo("postgres"), autocommit=True)


@pytest.fixture(scope="session")
def template(pg_server: ServerInfo) -> str:
    """Name of the migrated template database."""
    with _admin(pg_server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migrate(pg_server.conninfo(TEMPLATE))
    with _admin(pg_server) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(TEMPLATE)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(SHARED), sql.Identifier(TEMPLATE)
            )
        )
    return TEMPLATE


def _janitor(info: ServerInfo, dbname: str, template: str | None) -> DatabaseJanitor:
    return DatabaseJanitor(
        user=SUPERUSER,
        host=str(info.socket_dir),
        port=info.port,
        dbname=dbname,
        template_dbname=template,
    )


@pytest.fixture
def database(pg_server: ServerInfo, template: str) -> Iterator[str]:
    """Conninfo of a fresh migrated database of this test's own (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _janitor(pg_server, name, template):
        yield pg_server.conninfo(name)


@pytest.fixture
def empty_database(pg_server: ServerInfo) -> Iterator[str]:
    """Conninfo of a fresh database with nothing migrated."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    with _janitor(pg_server, name, None):
        yield pg_server.conninfo(name)


@pytest.fixture
def conn(pg_server: ServerInfo, template: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the shared migrated database; everything it does is rolled back."""
    with psycopg.connect(pg_server.conninfo(SHARED)) as connection:
        try:
            yield connection
        finally:
            connection.rollback()


@pytest.fixture
def qdx_env(monkeypatch: pytest.MonkeyPatch, database: str, tmp_path: Path) -> str:
    """Environment for running `qdx` against this test's fresh database."""
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("QDX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QDX_LOG_FORMAT", "json")
    for name in ("QDX_PUBLIC_URL", "QDX_JWT_ISSUER", "QDX_JWT_AUDIENCE", "QDX_HOST", "QDX_PORT"):
        monkeypatch.delenv(name, raising=False)
    return database
