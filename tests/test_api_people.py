"""api.list_people (sql/api/50_people.sql), behind GET /api/v1/people and GraphQL's people:
by name a page at a time, filtered by team subtree and text, within the caller's scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from db.scope import Scope, scoped
from tests.metrics_helpers import World, acme_with_teams, at

Conn = psycopg.Connection[Any]


def _names(conn: Conn, scope: Scope, **args: Any) -> tuple[list[str], str | None]:
    params = {"team": None, "query": None, "after": None, "limit": 100, **args}
    with scoped(conn, scope) as c:
        rows = c.execute(
            "SELECT display_name, teams, cursor FROM api.list_people("
            "%(team)s, %(query)s, %(after)s, %(limit)s)",
            params,
        ).fetchall()
    return [f"{r[0]}:{','.join(r[1])}" for r in rows], (rows[-1][2] if rows else None)


@pytest.fixture
def conn(database: str) -> Iterator[Conn]:
    with psycopg.connect(database, autocommit=True) as connection:
        yield connection


def test_list_people_by_team_text_and_page(conn: Conn) -> None:
    acme = acme_with_teams(conn)
    acme.member("platform", acme.person("Cleo", "github:cleo"), at(-60))
    globex = World(conn, "globex")
    globex.team("eng")
    globex.member("eng", globex.person("Gus", "github:gus"), at(-60))
    org = Scope(acme.org)
    assert _names(conn, org)[0] == ["Ana:data", "Ben:payments", "Cleo:platform"]
    assert _names(conn, org, team="platform")[0] == ["Ana:data", "Cleo:platform"]
    assert _names(conn, org, query="BE")[0] == ["Ben:payments"]
    first, cursor = _names(conn, org, limit=2)
    assert first == ["Ana:data", "Ben:payments"]
    assert _names(conn, org, limit=2, after=cursor)[0] == ["Cleo:platform"]
    # A team-scoped caller sees the people of its subtree only; globex sees its own.
    assert _names(conn, Scope(acme.org, (acme.teams["platform"],)))[0] == [
        "Ana:data",
        "Cleo:platform",
    ]
    assert _names(conn, Scope(globex.org))[0] == ["Gus:eng"]
    with pytest.raises(psycopg.errors.NoDataFound, match="no team payments"):
        _names(conn, Scope(acme.org, (acme.teams["platform"],)), team="payments")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="limit must be 1 to 1001"):
        _names(conn, org, limit=0)
