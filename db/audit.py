"""The audit log of reads: every read through an interface appends one row to its org's
hash-chained log (`audit.read_log`, sql/audit/), with who read, in which scope, what,
how many rows, how long it took and how it ended, also when it failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from db.queries import QUERIES

Conn = psycopg.Connection[Any]
INTERFACES = ("graphql", "rest", "sql", "export", "mcp", "cli")


@dataclass(frozen=True)
class Reader:
    """Who reads, and in which scope."""

    org_id: UUID
    principal: str
    role: str | None
    scope: dict[str, Any]


@dataclass
class Read:
    """One read being audited: the block that performs it sets `rows`."""

    rows: int | None = None
    outcome: str = "ok"
    seq: int | None = field(default=None, init=False)


def outcome_of(exc: BaseException) -> str:
    """How a failed read ended, in the log's words: `invalid` (a parameter or a name the
    caller gave was wrong), `denied` (not allowed) or `error`, with the SQLSTATE."""
    state = getattr(exc, "sqlstate", None)
    if state is None:
        return f"error {type(exc).__name__}"
    if state.startswith("22") or state in ("P0002", "42883"):
        return f"invalid {state}"
    if state == "42501":
        return f"denied {state}"
    return f"error {state}"


def record(conn: Conn, reader: Reader, interface: str, operation: str, **read: Any) -> int:
    """Append one read (arguments, statement, rows, duration_ms, outcome: see
    record_params) to its org's log in a transaction of its own; returns its sequence
    number."""
    params = record_params(reader, interface, operation, **read)
    with conn.transaction():
        row = conn.execute(QUERIES["audit_record"], params).fetchone()
    assert row is not None
    return int(row[0])


def record_params(
    reader: Reader,
    interface: str,
    operation: str,
    *,
    arguments: dict[str, Any] | None = None,
    statement: str | None = None,
    rows: int | None = None,
    duration_ms: float | None = None,
    outcome: str = "ok",
) -> dict[str, Any]:
    """The parameters of the audit_record query for one read. What the caller sent is
    logged as sent, except NUL characters, which PostgreSQL text cannot hold: they are
    logged as U+FFFD."""
    if interface not in INTERFACES:
        raise ValueError(f"interface {interface!r} is not one of {', '.join(INTERFACES)}")
    return {"org_id": reader.org_id, "principal": _clean(reader.principal),
            "role": reader.role, "scope": Jsonb(_clean(reader.scope)),
            "interface": interface, "operation": _clean(operation),
            "arguments": None if arguments is None else Jsonb(_clean(arguments)),
            "statement": _clean(statement), "rows": rows, "duration_ms": duration_ms,
            "outcome": outcome}  # fmt: skip


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@contextmanager
def audited(
    conn: Conn,
    reader: Reader,
    interface: str,
    operation: str,
    *,
    arguments: dict[str, Any] | None = None,
    statement: str | None = None,
) -> Iterator[Read]:
    """Run a read in a transaction of its own and append it to the audit log afterwards,
    in another (the log's chain head is not held during the read), whether the read
    succeeded or failed. The connection must not be inside a transaction."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("audited() needs a connection outside any transaction")
    read = Read()
    started = time.perf_counter()
    try:
        with conn.transaction():
            yield read
    except BaseException as exc:
        read.outcome = outcome_of(exc)
        # (when the connection is gone, the read returned nothing: its error is raised)
        with suppress(psycopg.Error):
            read.seq = record(conn, reader, interface, operation, arguments=arguments,
                              statement=statement, rows=None,
                              duration_ms=(time.perf_counter() - started) * 1000,
                              outcome=read.outcome)  # fmt: skip
        raise
    read.seq = record(conn, reader, interface, operation, arguments=arguments,
                      statement=statement, rows=read.rows,
                      duration_ms=(time.perf_counter() - started) * 1000,
                      outcome=read.outcome)  # fmt: skip


@dataclass(frozen=True)
class Verification:
    rows_checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(conn: Conn, org: str) -> Verification:
    """Recompute an org's chain (org slug)."""
    row = conn.execute(QUERIES["audit_verify"], {"org": org}).fetchone()
    assert row is not None
    return Verification(int(row[0]), int(row[1]), str(row[2]), row[3], row[4])


def tail(conn: Conn, org: str, limit: int = 20) -> list[dict[str, Any]]:
    """The last `limit` rows of an org's log, oldest first."""
    cur = conn.execute(QUERIES["audit_tail"], {"org": org, "limit": limit})
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
