"""Orgs, teams and webhook endpoints: each function runs one named query."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from db.errors import mapped_errors
from db.queries import QUERIES

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Org:
    org_id: UUID
    slug: str
    name: str
    timezone: str


@dataclass(frozen=True)
class Team:
    team_id: UUID
    slug: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class TreeRow:
    slug: str
    name: str
    parent: str | None
    depth: int


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: UUID
    source: str
    name: str


def new_secret() -> str:
    """A webhook secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def _one(conn: Conn, query: str, params: dict[str, Any]) -> tuple[Any, ...]:
    with mapped_errors():
        row = conn.execute(QUERIES[query], params).fetchone()
    assert row is not None, f"{query} returned no row"
    return tuple(row)


def create_org(conn: Conn, slug: str, name: str | None = None, timezone: str = "UTC") -> Org:
    """Create an org."""
    return Org(*_one(conn, "create_org", {"slug": slug, "name": name, "timezone": timezone}))


def list_orgs(conn: Conn) -> list[tuple[str, str, str, int, int]]:
    """Every org: slug, name, time zone, team count, endpoint count."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(QUERIES["list_orgs"]).fetchall()]


def create_team(
    conn: Conn, org: str, slug: str, name: str | None = None, parent: str | None = None
) -> Team:
    """Create a team of an org, optionally under a parent team."""
    params = {"org": org, "slug": slug, "name": name, "parent": parent}
    return Team(*_one(conn, "create_team", params))


def team_tree(conn: Conn, org: str) -> list[TreeRow]:
    """An org's teams in tree order."""
    with mapped_errors():
        rows = conn.execute(QUERIES["team_tree"], {"org": org}).fetchall()
    return [TreeRow(*r) for r in rows]


def add_endpoint(conn: Conn, org: str, source: str, secret: str, name: str = "default") -> Endpoint:
    """Add a webhook endpoint for a source of an org."""
    params = {"org": org, "source": source, "secret": secret, "name": name}
    return Endpoint(*_one(conn, "add_webhook_endpoint", params))


def endpoint_secret(conn: Conn, org: str, source: str, name: str) -> tuple[UUID, str] | None:
    """The id and current secret of an org's endpoint of a source by name, if it exists
    and is enabled (for the synthetic demo, which signs as the vendor would)."""
    params = {"org": org, "source": source, "name": name}
    with mapped_errors():
        row = conn.execute(QUERIES["webhook_endpoint_secret"], params).fetchone()
    return (row[0], row[1]) if row else None


def rotate_secret(
    conn: Conn, org: str, endpoint_id: UUID, secret: str, grace: timedelta
) -> tuple[Endpoint, datetime]:
    """Give an endpoint a new secret; returns it and when the old secret stops verifying."""
    params = {"org": org, "endpoint_id": endpoint_id, "secret": secret, "grace": grace}
    endpoint_id, source, name, expires = _one(conn, "rotate_webhook_secret", params)
    return Endpoint(endpoint_id, source, name), expires


def list_endpoints(conn: Conn, org: str) -> list[tuple[Any, ...]]:
    """An org's endpoints: id, source, name, created, rotated, in grace, disabled."""
    with mapped_errors():
        return [tuple(r) for r in conn.execute(QUERIES["list_webhook_endpoints"], {"org": org})]


def create_client(conn: Conn, org: str, name: str, role: str, teams: list[str]) -> UUID:
    """Create an API client (service account); returns its id."""
    params = {"org": org, "name": name, "role": role, "teams": teams}
    client_id, _name, _role = _one(conn, "create_api_client", params)
    return UUID(str(client_id))


def revoke_client(conn: Conn, org: str, name: str) -> datetime:
    """Revoke an API client; returns when it was revoked (the first time)."""
    _client_id, _name, revoked_at = _one(conn, "revoke_api_client", {"org": org, "name": name})
    return revoked_at  # type: ignore[no-any-return]


def list_clients(conn: Conn, org: str) -> list[tuple[Any, ...]]:
    """An org's API clients: name, role, team slugs, created, revoked."""
    with mapped_errors():
        return [tuple(r) for r in conn.execute(QUERIES["list_api_clients"], {"org": org})]


def api_client_scope(conn: Conn, org: str, name: str) -> tuple[UUID, UUID, str, list[UUID]]:
    """Org id, client id, role and team ids of an API client that is not revoked."""
    org_id, client_id, role, team_ids = _one(conn, "api_client_scope", {"org": org, "name": name})
    return org_id, client_id, role, list(team_ids)


def resolve_scope(conn: Conn, org: str, teams: list[str]) -> tuple[UUID, list[UUID]]:
    """An org's id and the ids of the named teams."""
    org_id, team_ids = _one(conn, "resolve_scope", {"org": org, "teams": teams})
    return org_id, list(team_ids)
