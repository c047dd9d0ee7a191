"""`qdx migrate`: Alembic's versioned DDL, then every SQL file whose text changed.

Everything happens in one transaction that first takes a transaction-level advisory
lock, so two processes migrating at once run one after the other and the second finds
nothing to do. A failure anywhere rolls back every revision and every file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from db.queries import QUERIES
from qdx.errors import UserError
from qdx.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "qdxmigr" in ASCII, so other applications will not collide.
MIGRATION_LOCK = 0x716478_6D696772
# Folders of sql/ in the order they are applied: what a folder uses comes before it.
# Source normalizers (sources/*/normalize.sql) are applied where SOURCES stands.
SQL_ORDER = (
    "auth",
    "audit",
    "raw",
    "core",
    "identity",
    "enrich",
    "SOURCES",
    "metrics",
    "api",
    "security",
)


class MigrationError(UserError):
    """A migration could not be applied."""


@dataclass(frozen=True)
class SqlFile:
    """One idempotent SQL file and the checksum of its text."""

    path: str  # relative to the project root, with forward slashes
    text: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass
class MigrateResult:
    """What a run of `qdx migrate` changed."""

    revision_before: str | None
    revision_after: str | None
    sql_applied: list[str] = field(default_factory=list)
    sql_orphaned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when a revision or a file was applied."""
        return self.revision_before != self.revision_after or bool(self.sql_applied)


def run_sql(op: Any, text: str) -> None:
    """Run raw SQL inside an Alembic revision, without bind-parameter or `%` parsing."""
    op.get_bind().connection.driver_connection.execute(text)


def sql_files(root: Path = PROJECT_ROOT) -> list[SqlFile]:
    """Every SQL file to apply, in dependency order."""
    sql_dir = root / "sql"
    known = set(SQL_ORDER) - {"SOURCES"}
    unknown = sorted(p.name for p in sql_dir.iterdir() if p.is_dir() and p.name not in known)
    if unknown:
        raise MigrationError(
            f"sql/{unknown[0]}/ is not in db.migrate.SQL_ORDER: add it where it belongs"
        )
    paths: list[Path] = []
    for folder in SQL_ORDER:
        if folder == "SOURCES":
            paths += sorted((root / "sources").glob("*/normalize.sql"))
        else:
            paths += sorted((sql_dir / folder).glob("*.sql"))
    return [SqlFile(p.relative_to(root).as_posix(), p.read_text("utf-8")) for p in paths]


def alembic_config(root: Path = PROJECT_ROOT) -> Config:
    """Alembic's configuration, built in code (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(root / "migrations"))
    return config


def head_revision(root: Path = PROJECT_ROOT) -> str | None:
    """The newest revision in migrations/versions."""
    return ScriptDirectory.from_config(alembic_config(root)).get_current_head()


def migrate(
    conninfo: str,
    *,
    root: Path = PROJECT_ROOT,
    progress: Callable[[str], None] = lambda _msg: None,
) -> MigrateResult:
    """Apply pending revisions and changed SQL files in one locked transaction."""
    files = sql_files(root)
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=NullPool
    )
    try:
        with engine.connect() as conn, conn.begin():
            raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
            raw.execute(QUERIES["migration_lock"], {"key": MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            config = alembic_config(root)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            after = MigrationContext.configure(conn).get_current_revision()
            if after != before:
                progress(f"schema: revision {before or '(empty)'} -> {after}")
            result = MigrateResult(before, after)
            _apply_sql_files(raw, files, reapply_all=after != before, result=result)
            for path in result.sql_applied:
                progress(f"applied {path}")
            for path in result.sql_orphaned:
                progress(f"warning: {path} was applied before and is gone; its objects remain")
    except (psycopg.Error, DBAPIError) as exc:
        error = exc.orig if isinstance(exc, DBAPIError) else exc
        diag = getattr(error, "diag", None)
        message = (getattr(diag, "message_primary", None) or str(error)).strip()
        context = getattr(diag, "context", None)
        where = f" ({context.splitlines()[0]})" if context else ""
        raise MigrationError(f"migration failed, nothing was changed: {message}{where}") from exc
    finally:
        engine.dispose()
    return result


def _apply_sql_files(
    conn: psycopg.Connection[Any], files: list[SqlFile], *, reapply_all: bool, result: MigrateResult
) -> None:
    """Run each file whose checksum differs from the one recorded (all after DDL changed:
    a revision may have dropped what a file created)."""
    recorded = dict(conn.execute(QUERIES["sql_file_checksums"]).fetchall())
    # Function bodies are checked when they run, so files may refer to functions that a
    # later file defines.
    conn.execute("SET LOCAL check_function_bodies = off")
    for file in files:
        if not reapply_all and recorded.get(file.path) == file.checksum:
            continue
        try:
            conn.execute(file.text.encode())
        except psycopg.Error as exc:
            message = (exc.diag.message_primary or str(exc)).strip()
            raise MigrationError(f"{file.path}: {message}; nothing was changed") from exc
        conn.execute(QUERIES["record_sql_file"], {"path": file.path, "checksum": file.checksum})
        result.sql_applied.append(file.path)
    present = {f.path for f in files}
    result.sql_orphaned = sorted(p for p in recorded if p not in present)


def pending(conninfo: str, root: Path = PROJECT_ROOT) -> list[str]:
    """What `qdx migrate` would still do: empty when the database is migrated."""
    with psycopg.connect(conninfo) as conn:
        exists = conn.execute(QUERIES["alembic_version_exists"]).fetchone()
        current = None
        if exists and exists[0]:
            row = conn.execute(QUERIES["alembic_version"]).fetchone()
            current = row[0] if row else None
        recorded: dict[str, str] = {}
        if current:
            recorded = dict(conn.execute(QUERIES["sql_file_checksums"]).fetchall())
    return pending_work(head_revision(root), sql_files(root), current, recorded)


def pending_work(
    head: str | None, files: list[SqlFile], current: str | None, recorded: dict[str, str]
) -> list[str]:
    """Pending work, given the expected head and files and what the database recorded."""
    if current != head:
        return [f"schema at revision {current or '(empty)'}, code expects {head}"]
    return [f"{f.path} changed" for f in files if recorded.get(f.path) != f.checksum]
