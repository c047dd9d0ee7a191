"""`qdx sql-role create|drop|rotate-password|list`: PostgreSQL logins for psql users, bound
to one org (and optionally teams), that read the `api` views under row-level security."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from db.queries import QUERIES
from qdx.console import cli_user, connection, out
from qdx.errors import InvalidInput
from qdx.settings import Settings

Command = Callable[..., Any]


def verifier(conn: psycopg.Connection[Any], role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of a password, computed here by libpq: the clear text
    is never sent to the server."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def login_conninfo(settings: Settings, role: str, password: str) -> str:
    """Where a psql user connects: the embedded server's TCP port on 127.0.0.1 (password
    logins are TCP only there), or the host, port and database of DATABASE_URL."""
    params = {"host": "127.0.0.1", "port": str(settings.pg_port), "dbname": "qdx"}
    if settings.database_url:
        given = conninfo_to_dict(settings.database_url)
        params.update({k: str(given[k]) for k in ("host", "port", "dbname") if given.get(k)})
    return make_conninfo(**params, user=role, password=password)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.connection_limit < 1:
        raise InvalidInput("--connection-limit must be at least 1")
    password = secrets.token_urlsafe(24)
    with connection(settings) as conn:
        row = conn.execute(QUERIES["sql_role_create"], {
            "org": args.org, "name": args.name, "teams": args.team or [],
            "verifier": verifier(conn, args.name, password),
            "connection_limit": args.connection_limit,
            "statement_timeout": args.statement_timeout, "idle_timeout": args.idle_timeout,
            "by": cli_user(),
        }).fetchone()  # fmt: skip
    assert row is not None
    scope = f"teams {', '.join(args.team)} of {args.org}" if args.team else f"org {args.org}"
    out(f"SQL role {row[0]} created for {scope}; it reads the api views, read-only.")
    out(f"password (shown once): {password}")
    out(f'psql "{login_conninfo(settings, args.name, password)}"')
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    password = secrets.token_urlsafe(24)
    with connection(settings) as conn:
        conn.execute(QUERIES["sql_role_rotate"], {
            "org": args.org, "name": args.name, "verifier": verifier(conn, args.name, password),
        })  # fmt: skip
    out(f"new password for {args.name} (shown once): {password}")
    out("sessions already open keep running until they end; new logins need the new password")
    return 0


def cmd_drop(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        row = conn.execute(QUERIES["sql_role_drop"], {"org": args.org, "name": args.name})
        ended = row.fetchone()
    assert ended is not None
    out(f"SQL role {args.name} dropped ({ended[0]} open session(s) ended)")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        rows = conn.execute(QUERIES["sql_role_list"], {"org": args.org}).fetchall()
    for name, created_at, by, password_at, teams, sessions in rows:
        scope = ", ".join(teams) if teams else "whole org"
        out(f"{name}  scope: {scope}  created {created_at:%Y-%m-%d} by {by}  "
            f"password set {password_at:%Y-%m-%d}  sessions {sessions}")  # fmt: skip
    return 0


def register(sub: Any, command: Command) -> None:
    """Add `qdx sql-role ...` to the command tree."""
    group = sub.add_parser(
        "sql-role", help="PostgreSQL logins for psql users, scoped by row-level security"
    ).add_subparsers(dest="action", required=True)
    p = command(
        "create",
        cmd_create,
        "create a login bound to an org (or teams); prints its password",
        group,
    )
    p.add_argument("org")
    p.add_argument("name", help="the PostgreSQL role name (lower case, digits, _)")
    p.add_argument("--team", action="append", help="team slug (repeat for several); "
                   "the role reads those teams and their subteams only")  # fmt: skip
    p.add_argument("--connection-limit", type=int, default=5, help="default 5")
    p.add_argument("--statement-timeout", default="30s", help="default 30s")
    p.add_argument("--idle-timeout", default="60s",
                   help="idle_in_transaction_session_timeout (default 60s)")  # fmt: skip
    p = command("drop", cmd_drop, "drop a login, ending its sessions", group)
    p.add_argument("org")
    p.add_argument("name")
    p = command("rotate-password", cmd_rotate, "give a login a new password", group)
    p.add_argument("org")
    p.add_argument("name")
    p = command("list", cmd_list, "an org's logins and their scope", group)
    p.add_argument("org")
