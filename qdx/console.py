"""What every one-shot command shares: printing, and a database connection whose errors
are told to the user in one line."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from db.connect import open_database
from db.errors import mapped_errors
from qdx.errors import InvalidInput, UserError
from qdx.settings import Settings


def cli_user() -> str:
    """Who acts from the command line: cli:<login user>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def out(text: str = "") -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def migrated() -> Iterator[None]:
    """Report a missing table, schema or function as a database left unmigrated."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName,
            psycopg.errors.UndefinedFunction) as exc:  # fmt: skip
        raise UserError(
            f"the database is not migrated ({exc.diag.message_primary}): run `qdx migrate`"
        ) from None


@contextmanager
def connection(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A connection in a transaction, committed when the block succeeds."""
    with (
        open_database(settings) as db,
        psycopg.connect(db.conninfo) as conn,
        migrated(),
        conn.transaction(),
        mapped_errors(),
    ):
        yield conn


@contextmanager
def session(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A connection outside any transaction (autocommit): for blocks that manage their
    own transactions, such as audited reads."""
    with (
        open_database(settings) as db,
        psycopg.connect(db.conninfo, autocommit=True) as conn,
        migrated(),
        mapped_errors(),
    ):
        yield conn


def moment(text: str | None, flag: str) -> datetime | None:
    """An ISO date or time given to a flag (UTC unless it says otherwise), or a clear
    error."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"bad {flag} {text!r}: use an ISO date such as 2026-09-01") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
