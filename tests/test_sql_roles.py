"""Direct SQL access (`qdx sql-role ...`): a login bound to one org, or to teams of it,
reads the api views of its scope under row-level security, and nothing else: no
setting, role switch, base table, server file, program, extension or foreign function
gets it out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from qdx.cli import main
from tests.metrics_helpers import World, acme_with_teams, at

Conn = psycopg.Connection[Any]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def orgs(qdx_env: str) -> Iterator[dict[str, World]]:
    """acme (eng > platform > data, and payments) and globex, each with changes, a
    deployment and an incident, refreshed."""
    with psycopg.connect(qdx_env, autocommit=True) as conn:
        acme = acme_with_teams(conn)
        acme.change("a1", author="github:ana", merged=at(-5), merge_sha="a1sha")
        acme.change("b1", author="github:ben", merged=at(-4), merge_sha="b1sha")
        acme.change("a2", author="github:ana", opened=at(-1))
        acme.change("b2", author="github:ben", merged=at(-1), merge_sha="b2sha")
        acme.deploy("d1", at(-3), commit="b1sha")  # ships a1 and b1
        acme.deploy("d2", at(-0.5), commit="b2sha")  # ships b2
        acme.incident("i1", at(-2), at(-1), links=("deploy:d1",))
        acme.refresh()
        globex = World(conn, "globex")
        globex.team("eng")
        globex.repo("github:9", "globex/core")
        globex.change("g1", author="github:gus", repo="github:9", merged=at(-5))
        globex.deploy("g-d1", at(-3), repo="github:9")
        globex.refresh()
        yield {"acme": acme, "globex": globex}


@pytest.fixture
def role_names(qdx_env: str) -> Iterator[list[str]]:
    """Names for login roles, dropped afterwards (roles belong to the whole server)."""
    names = [f"t_{uuid.uuid4().hex[:10]}" for _ in range(3)]
    yield names
    with psycopg.connect(qdx_env, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def login(database: str, role: str) -> Conn:
    """A session of the role (over the test server's socket, where logins are trusted)."""
    return psycopg.connect(database, user=role, autocommit=True)


def names(conn: Conn, view: str, column: str) -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT {column} FROM api.{view} ORDER BY 1")]


def test_an_org_role_reads_its_org_and_a_team_role_its_subtree(
    qdx_env: str, orgs: dict[str, World], role_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    whole, team = role_names[:2]
    code, out, _ = run(capsys, "sql-role", "create", "acme", whole)
    assert code == 0
    assert "password (shown once)" in out
    assert run(capsys, "sql-role", "create", "acme", team, "--team", "platform")[0] == 0
    with login(qdx_env, whole) as c:
        assert names(c, "changes", "change_id") == ["a1", "a2", "b1", "b2"]
        assert names(c, "teams", "slug") == ["data", "eng", "payments", "platform"]
        assert names(c, "repos", "full_name") == ["acme/api"]
        assert names(c, "deploys", "deploy_id") == ["d1", "d2"]
        assert names(c, "incidents", "incident_id") == ["i1"]
        assert len(names(c, "metric_definitions", "metric")) >= 13
    with login(qdx_env, team) as c:
        # Ana, on data under platform, merged a1, which d1 shipped (with Ben's b1), and
        # i1 names d1; d2 shipped only Ben's (payments) b2; a2 is not merged.
        assert names(c, "changes", "change_id") == ["a1"]
        assert names(c, "change_metrics", "change_id") == ["a1"]
        assert names(c, "teams", "slug") == ["data", "platform"]
        assert names(c, "repos", "full_name") == []
        assert names(c, "deploys", "deploy_id") == ["d1"]
        assert names(c, "incidents", "incident_id") == ["i1"]
    code, out, _ = run(capsys, "sql-role", "list", "acme")
    assert code == 0
    assert f"{team}  scope: platform" in out
    assert f"{whole}  scope: whole org" in out


ESCAPES = [
    ("SET ROLE qdx_app", psycopg.errors.InsufficientPrivilege),
    ("SET ROLE postgres", psycopg.errors.InsufficientPrivilege),
    ("SET SESSION AUTHORIZATION postgres", psycopg.errors.InsufficientPrivilege),
    ("SELECT count(*) FROM core.changes", psycopg.errors.InsufficientPrivilege),
    ("SELECT count(*) FROM metrics.change_units", psycopg.errors.InsufficientPrivilege),
    ("SELECT * FROM auth.sql_roles", psycopg.errors.InsufficientPrivilege),
    ("SELECT * FROM raw.events", psycopg.errors.InsufficientPrivilege),
    ("SELECT auth.caller_org()", psycopg.errors.InsufficientPrivilege),
    ("SELECT pg_read_file('PG_VERSION')", psycopg.errors.InsufficientPrivilege),
    ("COPY (SELECT 1) TO PROGRAM 'true'", psycopg.errors.InsufficientPrivilege),
    ("COPY (SELECT 1) TO '/tmp/qdx-escape'", psycopg.errors.InsufficientPrivilege),
    ("CREATE EXTENSION dblink", psycopg.errors.ReadOnlySqlTransaction),
    ("BEGIN READ WRITE; CREATE EXTENSION dblink", psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; CREATE EXTENSION postgres_fdw", psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; CREATE EXTENSION file_fdw", psycopg.errors.InsufficientPrivilege),
    ("SELECT dblink_connect('dbname=qdx')", psycopg.errors.UndefinedFunction),
    ("CREATE FUNCTION api.leak() RETURNS int LANGUAGE sql AS 'SELECT 1'",
     psycopg.errors.ReadOnlySqlTransaction),
    ("BEGIN READ WRITE; CREATE FUNCTION api.leak() RETURNS int LANGUAGE sql AS 'SELECT 1'",
     psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; CREATE FUNCTION public.leak() RETURNS int LANGUAGE sql AS 'SELECT 1'",
     psycopg.errors.InsufficientPrivilege),
    ("SELECT * FROM api.get_metric('merged_changes', '{\"org\": \"globex\"}')",
     psycopg.errors.InsufficientPrivilege),
    ("SELECT * FROM api.list_metrics()", psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; INSERT INTO api.teams (slug, name) VALUES ('x', 'x')",
     psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; DELETE FROM api.changes", psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; GRANT qdx_app TO CURRENT_USER", psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; ALTER ROLE CURRENT_USER CONNECTION LIMIT 100",
     psycopg.errors.InsufficientPrivilege),
    ("BEGIN READ WRITE; ALTER ROLE CURRENT_USER BYPASSRLS",
     psycopg.errors.InsufficientPrivilege),
]  # fmt: skip


@pytest.mark.parametrize(("statement", "error"), ESCAPES, ids=[s for s, _ in ESCAPES])
def test_escapes_fail(
    qdx_env: str, orgs: dict[str, World], role_names: list[str],
    capsys: pytest.CaptureFixture[str], statement: str, error: type[Exception],
) -> None:  # fmt: skip
    role = role_names[0]
    assert run(capsys, "sql-role", "create", "acme", role)[0] == 0
    *setup, last = statement.split("; ")
    with login(qdx_env, role) as c:
        for part in setup:
            c.execute(part)
        with pytest.raises(error):
            c.execute(last)
        c.execute("ROLLBACK")
        assert names(c, "changes", "change_id") == ["a1", "a2", "b1", "b2"]


@pytest.mark.parametrize("statement", [
    "SELECT set_config('qdx.org_id', '{globex}', false)",
    "SET qdx.org_id = '{globex}'",
    "SELECT set_config('qdx.team_ids', '', false)",
    "RESET ROLE",
    "SET ROLE qdx_sql",
    "RESET ALL",
])  # fmt: skip
def test_settings_and_role_switches_do_not_change_the_scope(
    qdx_env: str, orgs: dict[str, World], role_names: list[str],
    capsys: pytest.CaptureFixture[str], statement: str,
) -> None:  # fmt: skip
    role = role_names[0]
    assert run(capsys, "sql-role", "create", "acme", role, "--team", "platform")[0] == 0
    with login(qdx_env, role) as c:
        c.execute(statement.format(globex=orgs["globex"].org))
        assert names(c, "changes", "change_id") == ["a1"]
        assert names(c, "teams", "slug") == ["data", "platform"]


def test_limits_rotation_and_drop(
    qdx_env: str, orgs: dict[str, World], role_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    role = role_names[0]
    assert run(capsys, "sql-role", "create", "acme", role, "--connection-limit", "2",
               "--statement-timeout", "5s")[0] == 0  # fmt: skip
    with login(qdx_env, role) as c:
        shown = {
            name: c.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("statement_timeout", "idle_in_transaction_session_timeout",
                         "default_transaction_read_only", "search_path")
        }  # fmt: skip
        assert shown == {"statement_timeout": "5s", "idle_in_transaction_session_timeout": "1min",
                         "default_transaction_read_only": "on", "search_path": "api"}  # fmt: skip
        # Unqualified names are the api views.
        assert c.execute("SELECT count(*) FROM changes").fetchone() == (4,)
    with psycopg.connect(qdx_env, autocommit=True) as owner:
        before = owner.execute(
            "SELECT rolpassword, rolconnlimit FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
        assert before is not None
        assert before[0].startswith("SCRAM-SHA-256$")
        assert before[1] == 2
        code, out, _ = run(capsys, "sql-role", "rotate-password", "acme", role)
        assert code == 0
        assert "new password" in out
        after = owner.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
        assert after is not None
        assert after[0] != before[0]
        session = login(qdx_env, role)
        code, out, _ = run(capsys, "sql-role", "drop", "acme", role)
        assert code == 0
        assert "1 open session(s) ended" in out
        assert owner.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                             (role,)).fetchone() == (0,)  # fmt: skip
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        session.close()


def test_bad_input_is_refused_in_one_line(
    qdx_env: str, orgs: dict[str, World], role_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    role = role_names[0]
    assert run(capsys, "sql-role", "create", "globex", role)[0] == 0
    for argv, words in [
        (("create", "acme", role), "already exists"),
        (("create", "acme", "Bad-Name"), "lower-case letters"),
        (("create", "acme", "qdx_admin"), "not pg_ or qdx_"),
        (("create", "acme", role_names[1], "--team", "nope"), "unknown team"),
        (("create", "nope", role_names[1]), "unknown org"),
        (("drop", "acme", role), "no SQL role"),
        (("rotate-password", "acme", role), "no SQL role"),
    ]:
        code, _, err = run(capsys, "sql-role", *argv)
        assert code == 2, argv
        assert words in err, (argv, err)
        assert "Traceback" not in err
    with psycopg.connect(qdx_env, autocommit=True) as owner:
        assert owner.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                             (role_names[1],)).fetchone() == (0,)  # fmt: skip
