"""Refusing servers that cannot run Quantum.DX."""

from __future__ import annotations

import pytest

from db.connect import check_server, check_server_facts
from db.embedded import ServerInfo
from qdx.cli import main
from qdx.errors import DatabaseUnsuitable

ALL = {"vector", "btree_gist", "plpgsql"}


def test_postgresql_15_is_refused() -> None:
    with pytest.raises(DatabaseUnsuitable, match=r"PostgreSQL 15\.19 is too old.*16 or newer"):
        check_server_facts(150019, "15.19", ALL)


def test_missing_pgvector_names_what_to_install() -> None:
    with pytest.raises(DatabaseUnsuitable, match=r"lacks the extension 'vector': install pgvector"):
        check_server_facts(160004, "16.4", ALL - {"vector"})


def test_missing_contrib_names_what_to_install() -> None:
    with pytest.raises(DatabaseUnsuitable, match=r"'btree_gist'.*contrib"):
        check_server_facts(170000, "17.0", ALL - {"btree_gist"})


def test_the_embedded_server_passes(pg_server: ServerInfo) -> None:
    check_server(pg_server.conninfo("postgres"))


def test_unreachable_server_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("qdx: error: cannot connect to PostgreSQL")
