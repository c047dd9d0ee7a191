"""Which PostgreSQL to use, and whether it can run Quantum.DX."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg

from db.embedded import EmbeddedPostgres, ServerInfo
from db.queries import QUERIES
from qdx.errors import DatabaseUnsuitable
from qdx.settings import Settings

MIN_SERVER_VERSION = 160000
# Extension -> what to install when the server lacks it.
REQUIRED_EXTENSIONS = {
    "vector": "pgvector 0.7 or newer (Debian/Ubuntu: postgresql-16-pgvector; "
    "Docker: the pgvector/pgvector image)",
    "btree_gist": "PostgreSQL's contrib modules (Debian/Ubuntu: postgresql-contrib)",
}


def check_server_facts(version_num: int, version: str, available: set[str]) -> None:
    """Refuse a server too old or lacking an extension, with a one-line reason."""
    if version_num < MIN_SERVER_VERSION:
        raise DatabaseUnsuitable(
            f"PostgreSQL {version} is too old: Quantum.DX needs PostgreSQL 16 or newer"
        )
    for extension, remedy in REQUIRED_EXTENSIONS.items():
        if extension not in available:
            raise DatabaseUnsuitable(
                f"the PostgreSQL server lacks the extension {extension!r}: install {remedy}"
            )


def check_server(conninfo: str) -> None:
    """Connect and check the server's version and extensions."""
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no reason given"
        raise DatabaseUnsuitable(f"cannot connect to PostgreSQL: {reason}") from None
    with conn:
        row = conn.execute(QUERIES["server_facts"]).fetchone()
        assert row is not None
        version_num, version, available = row
        check_server_facts(int(version_num), str(version), set(available))


@dataclass(frozen=True)
class Database:
    """The database a command works on."""

    conninfo: str
    server: ServerInfo | None = None


def embedded_for(settings: Settings) -> EmbeddedPostgres:
    """The embedded server of this home."""
    return EmbeddedPostgres(settings.home, port=settings.pg_port)


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The configured database, starting the embedded server when there is no DATABASE_URL.

    An embedded server started on demand stops when the last process using it is done;
    one started with `qdx db start` keeps running.
    """
    if settings.database_url:
        check_server(settings.database_url)
        yield Database(conninfo=settings.database_url)
        return
    embedded = embedded_for(settings)
    info, _started = embedded.acquire()
    try:
        yield Database(info.conninfo(), info)
    finally:
        embedded.release()
