"""Accounts written straight into core.actors (as normalization would leave them, queued
for resolution), and the person graph read back as a partition."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg

from workers.identity.resolver import Outcome, resolve

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Acct:
    """An account: `<provider>:<external id>` with what its tool states."""

    actor_id: str
    name: str | None = None
    login: str | None = None
    emails: tuple[str, ...] = ()
    is_bot: bool = False
    sso: str | None = None
    employee: str | None = None
    activity: tuple[tuple[str, date], ...] = field(default=())

    @property
    def provider(self) -> str:
        return self.actor_id.split(":", 1)[0]


def _sha(actor_id: str, i: int) -> str:
    return hashlib.sha256(f"{actor_id}:{i}".encode()).hexdigest()[:40]


def make_org(conn: Conn, slug: str) -> UUID:
    row = conn.execute("SELECT org_id FROM auth.create_org(%s)", (slug,)).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def add(conn: Conn, org_id: UUID, accounts: Iterable[Acct], queue: bool = True) -> None:
    """Write accounts (and their activity as commits) and queue them for resolution."""
    for a in accounts:
        conn.execute(
            "INSERT INTO core.actors (org_id, actor_id, provider, external_id, login, "
            "display_name, emails, is_bot, sso_subject, employee_id, first_seen_at, "
            "last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) "
            "ON CONFLICT (org_id, actor_id) DO UPDATE SET login = excluded.login, "
            "display_name = excluded.display_name, emails = excluded.emails, "
            "is_bot = excluded.is_bot, sso_subject = excluded.sso_subject, "
            "employee_id = excluded.employee_id",
            (org_id, a.actor_id, a.provider, a.actor_id.split(":", 1)[1], a.login, a.name,
             [e.lower() for e in a.emails], a.is_bot, a.sso, a.employee),
        )  # fmt: skip
        for i, (repo, day) in enumerate(a.activity):
            at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            conn.execute(
                "INSERT INTO core.commits (org_id, commit_id, provider, repo_id, sha, "
                "author_id, authored_at) VALUES (%s, %s, 'git', %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (org_id, f"{repo}:{a.actor_id}:{i}", repo, _sha(a.actor_id, i),
                 a.actor_id, at),
            )  # fmt: skip
        if queue:
            conn.execute(
                "INSERT INTO identity.pending (org_id, actor_id) VALUES (%s, %s) "
                "ON CONFLICT (org_id, actor_id) DO UPDATE SET queued_at = clock_timestamp()",
                (org_id, a.actor_id),
            )


def run(conn: Conn, org_id: UUID, everything: bool = False) -> Outcome | None:
    return resolve(conn, org_id, everything=everything)


def person_of(conn: Conn, org_id: UUID, actor_id: str) -> UUID:
    row = conn.execute(
        "SELECT person_id FROM identity.links WHERE org_id = %s AND actor_id = %s",
        (org_id, actor_id),
    ).fetchone()
    assert row is not None, f"{actor_id} is not linked"
    return UUID(str(row[0]))


def link(conn: Conn, org_id: UUID, actor_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT person_id, method, confidence, evidence FROM identity.links "
        "WHERE org_id = %s AND actor_id = %s",
        (org_id, actor_id),
    ).fetchone()
    assert row is not None, f"{actor_id} is not linked"
    return {"person_id": row[0], "method": row[1], "confidence": row[2], "evidence": row[3]}


def partition(conn: Conn, org_id: UUID) -> set[frozenset[str]]:
    """The accounts grouped by person."""
    rows = conn.execute(
        "SELECT array_agg(actor_id ORDER BY actor_id) FROM identity.links WHERE org_id = %s "
        "GROUP BY person_id",
        (org_id,),
    ).fetchall()
    return {frozenset(r[0]) for r in rows}


def same(conn: Conn, org_id: UUID, *actors: str) -> bool:
    return len({person_of(conn, org_id, a) for a in actors}) == 1
