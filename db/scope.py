"""A caller's scope for one transaction: the server runs every request's queries as the
role `qdx_app` (no BYPASSRLS), with the caller's org and teams in transaction-local
settings, so row-level security (sql/security/) shows it its own rows only. Both end
with the transaction: a pooled connection carries nothing to the next request.

The services' tenant writes (the receiver's inserts, the normalizer, replay, the identity
resolver, the metrics refresh) run the same way as the role `qdx_worker`, for one org
(`as_worker`), whose policies admit that org's rows only, for writes as for reads. A pool
that does nothing else (the group commit's) takes the role once per connection instead
(`take_worker_role`), and its SQL sets the org of each group it writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from db.queries import QUERIES

WORKER_ROLE = "qdx_worker"
# What a nested worker block puts back (scope_current's columns).
RESTORED = ("role", "org_id", "team_ids")


@dataclass(frozen=True)
class Scope:
    """What a verified caller may read: an org, and optionally teams of it (with their
    subteams); empty teams mean the whole org."""

    org_id: UUID
    team_ids: tuple[UUID, ...] = ()

    def params(self) -> dict[str, str]:
        return {"org_id": str(self.org_id), "team_ids": ",".join(str(t) for t in self.team_ids)}


@contextmanager
def scoped(conn: psycopg.Connection[Any], scope: Scope) -> Iterator[psycopg.Connection[Any]]:
    """A transaction of `conn` in which everything runs as qdx_app within `scope`. The
    connection must not be inside a transaction already (the role and settings would
    outlive the block otherwise)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("scoped() needs a connection outside any transaction")
    with conn.transaction():
        conn.execute(QUERIES["scope_enter"], scope.params())
        yield conn


@asynccontextmanager
async def scoped_async(
    conn: psycopg.AsyncConnection[Any], scope: Scope
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """scoped() for an async connection."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("scoped_async() needs a connection outside any transaction")
    async with conn.transaction():
        await conn.execute(QUERIES["scope_enter"], scope.params())
        yield conn


def _worker_params(org_id: UUID | None) -> dict[str, str]:
    return {"org_id": "" if org_id is None else str(org_id)}


@contextmanager
def as_worker(
    conn: psycopg.Connection[Any], org_id: UUID | None
) -> Iterator[psycopg.Connection[Any]]:
    """A transaction of `conn` in which everything runs as qdx_worker on the rows of
    `org_id` (None: none until the SQL sets an org itself, as raw.accept_events does per
    group). Inside a transaction already (a command's, a test's), a savepoint instead,
    after which the role and scope in effect before are put back."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with conn.transaction():
            conn.execute(QUERIES["worker_enter"], _worker_params(org_id))
            yield conn
        return
    before = conn.execute(QUERIES["scope_current"]).fetchone()
    assert before is not None
    with conn.transaction():
        conn.execute(QUERIES["worker_enter"], _worker_params(org_id))
        yield conn
        conn.execute(QUERIES["scope_restore"], dict(zip(RESTORED, before, strict=True)))


@asynccontextmanager
async def as_worker_async(
    conn: psycopg.AsyncConnection[Any], org_id: UUID | None
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """as_worker() for an async connection."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        async with conn.transaction():
            await conn.execute(QUERIES["worker_enter"], _worker_params(org_id))
            yield conn
        return
    before = await (await conn.execute(QUERIES["scope_current"])).fetchone()
    assert before is not None
    async with conn.transaction():
        await conn.execute(QUERIES["worker_enter"], _worker_params(org_id))
        yield conn
        await conn.execute(QUERIES["scope_restore"], dict(zip(RESTORED, before, strict=True)))


async def take_worker_role(conn: psycopg.AsyncConnection[Any]) -> None:
    """Make qdx_worker the role of a connection for its whole session: the `configure`
    callback of a pool used for nothing but the services' tenant writes, whose statements
    set their org themselves (raw.accept_events). One statement per connection, not
    three per transaction; with no org set, such a session reads and writes nothing."""
    await conn.execute(QUERIES["worker_session"])
