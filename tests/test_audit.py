"""The audit log of reads: appended per org in a hash chain, refused to UPDATE, DELETE and
TRUNCATE, verified by `qdx audit verify` (which finds an altered, a removed and a
truncated row), and written by every metrics read of the command line, failed ones
included."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import psycopg
import pytest

from db import audit
from qdx.cli import main

Conn = psycopg.Connection[Any]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_org(conn: Conn, slug: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO auth.orgs (slug, name) VALUES (%s, %s) RETURNING org_id", (slug, slug)
    ).fetchone()
    assert row is not None
    return row[0]


def reader(org_id: uuid.UUID, who: str = "user:ana") -> audit.Reader:
    return audit.Reader(org_id=org_id, principal=who, role="viewer",
                        scope={"org": str(org_id), "teams": ["platform"]})  # fmt: skip


def test_rows_chain_per_org_and_verify_intact(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        a, b = make_org(conn, "a"), make_org(conn, "b")
        seqs_a = [audit.record(conn, reader(a), "rest", "GET /api/v1/metrics/x",
                               arguments={"window": "90d", "n": i}, rows=i, duration_ms=1.25)
                  for i in range(5)]  # fmt: skip
        seqs_b = [audit.record(conn, reader(b), "sql", "POST /api/v1/sql",
                               statement="SELECT 1", rows=1) for _ in range(3)]  # fmt: skip
        assert seqs_a == [1, 2, 3, 4, 5]
        assert seqs_b == [1, 2, 3]
        rows = conn.execute(
            "SELECT seq, prev_hash, hash FROM audit.read_log WHERE org_id = %s ORDER BY seq", (a,)
        ).fetchall()
        assert rows[0][1] == bytes(32)
        assert all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
        # The hash does not depend on the session's time zone or date style.
        conn.execute("SET TimeZone = 'Pacific/Chatham'")
        conn.execute("SET DateStyle = 'German, DMY'")
        for slug, n in (("a", 5), ("b", 3)):
            v = audit.verify(conn, slug)
            assert v.intact, v.problem
            assert (v.rows_checked, v.head_seq) == (n, n)


def test_update_delete_truncate_are_refused_even_for_the_owner(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org = make_org(conn, "a")
        audit.record(conn, reader(org), "graphql", "query Metrics", rows=3)
        for statement in ("UPDATE audit.read_log SET row_count = 0",
                          "DELETE FROM audit.read_log",
                          "TRUNCATE audit.read_log"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        assert audit.verify(conn, "a").intact


def test_a_role_without_grants_cannot_write_or_read_the_log(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org = make_org(conn, "a")
        role = f"nobody_{uuid.uuid4().hex[:8]}"
        conn.execute(f"CREATE ROLE {role}")
        conn.execute(f"GRANT USAGE ON SCHEMA audit TO {role}")
        try:
            conn.execute(f"SET ROLE {role}")
            for statement, params in (
                ("SELECT count(*) FROM audit.read_log", None),
                ("INSERT INTO audit.heads VALUES (%s, 0, '\\x00')", (org,)),
                ("SELECT audit.record(%s, 'x', 'viewer', '{}', 'sql', 'SELECT 1')", (org,)),
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement, params)
        finally:
            conn.execute("RESET ROLE")
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_concurrent_appends_keep_one_chain(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org = make_org(conn, "a")

    def append(k: int) -> None:
        with psycopg.connect(database, autocommit=True) as c:
            for i in range(25):
                audit.record(c, reader(org, f"user:{k}"), "rest", "GET /x", rows=i)

    threads = [threading.Thread(target=append, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(database, autocommit=True) as conn:
        v = audit.verify(conn, "a")
        assert v.intact, v.problem
        assert (v.rows_checked, v.head_seq) == (100, 100)


def _tamper(database: str, statement: str) -> None:
    """What only the owner can do, and only by switching the triggers off."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit.read_log DISABLE TRIGGER read_log_append_only")
        conn.execute(statement)
        conn.execute("ALTER TABLE audit.read_log ENABLE TRIGGER read_log_append_only")


@pytest.mark.parametrize(("statement", "bad_seq", "words"), [
    ("UPDATE audit.read_log SET row_count = 999 WHERE seq = 3", 3, "altered"),
    ("UPDATE audit.read_log SET principal = 'user:eve' WHERE seq = 5", 5, "altered"),
    ("DELETE FROM audit.read_log WHERE seq = 2", 2, "row 2 is missing"),
    ("DELETE FROM audit.read_log WHERE seq = 5", 5, "missing at the end"),
])  # fmt: skip
def test_qdx_audit_verify_finds_a_tampered_row(
    qdx_env: str, capsys: pytest.CaptureFixture[str], statement: str, bad_seq: int, words: str
) -> None:
    with psycopg.connect(qdx_env, autocommit=True) as conn:
        org = make_org(conn, "acme")
        for i in range(5):
            audit.record(conn, reader(org), "export", "GET /api/v1/export/changes.csv", rows=i)
    code, out, _ = run(capsys, "audit", "verify", "acme")
    assert code == 0
    assert "intact: 5 row(s)" in out
    _tamper(qdx_env, statement)
    code, out, _ = run(capsys, "audit", "verify", "acme")
    assert code == 1
    assert f"BROKEN at row {bad_seq}" in out
    assert words in out


def test_metrics_reads_from_the_command_line_are_audited(
    qdx_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "org", "create", "acme")[0] == 0
    code, _, _ = run(capsys, "metrics", "show", "acme", "merged_changes", "--window", "30d")
    assert code == 0
    code, _, err = run(capsys, "metrics", "show", "acme", "merged_changes", "--window", "soon")
    assert code != 0
    assert "window soon is not understood" in err
    code, out, _ = run(capsys, "audit", "tail", "acme", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2]
    ok, failed = rows
    assert ok["interface"] == "cli"
    assert ok["operation"] == "api.get_metric"
    assert ok["principal"].startswith("cli")
    assert ok["outcome"] == "ok"
    assert ok["row_count"] == 1
    assert ok["arguments"]["window"] == "30d"
    assert failed["outcome"] == "invalid 22023"
    assert failed["row_count"] is None
    assert run(capsys, "audit", "verify", "acme")[0] == 0


def test_nul_characters_a_caller_sent_are_logged_as_replacement_characters(
    database: str,
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org = make_org(conn, "a")
        audit.record(conn, reader(org), "rest", "GET /api/v1/metrics/{metric}",
                     arguments={"team": "a\x00b", "x\x00": ["\x00"]}, statement="SELECT '\x00'",
                     outcome="invalid 22023")  # fmt: skip
        row = conn.execute("SELECT arguments, statement FROM audit.read_log").fetchone()
        assert row == ({"team": "a\ufffdb", "x\ufffd": ["\ufffd"]}, "SELECT '\ufffd'")
        assert audit.verify(conn, "a").intact
