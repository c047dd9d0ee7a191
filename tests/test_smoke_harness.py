"""The harness itself: each test gets a migrated database, isolated from the others."""

from typing import Any

import psycopg


def test_conn_sees_migrated_schema(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("SELECT to_regclass('auth.orgs') IS NOT NULL, version()").fetchone()
    assert row is not None
    assert row[0] is True
    assert "PostgreSQL 18" in row[1]


def test_conn_rolls_back_between_tests_first(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT auth.create_org('rollback-probe')")
    assert conn.execute(
        "SELECT count(*) FROM auth.orgs WHERE slug = 'rollback-probe'"
    ).fetchone() == (1,)


def test_conn_rolls_back_between_tests_second(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute(
        "SELECT count(*) FROM auth.orgs WHERE slug = 'rollback-probe'"
    ).fetchone() == (0,)


def test_database_is_fresh_and_commits(database: str) -> None:
    with psycopg.connect(database) as c1:
        c1.execute("SELECT auth.create_org('committed')")
    with psycopg.connect(database) as c2:
        assert c2.execute("SELECT slug FROM auth.orgs").fetchall() == [("committed",)]
