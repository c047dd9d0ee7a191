"""A caller's scope for one transaction: the server runs every request's queries as the
role `qdx_app` (no BYPASSRLS), with the caller's org and teams in transaction-local
settings, so row-level security (sql/security/) shows it its own rows only. Both end
with the transaction: a pooled connection carries nothing to the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from db.queries import QUERIES


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
