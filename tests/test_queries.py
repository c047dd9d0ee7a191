"""Named queries: the loader's rules, and no query without a caller."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db.queries import QUERIES, parse
from qdx.settings import PROJECT_ROOT


def test_blocks_are_split_by_name() -> None:
    text = "-- one --\n-- The first.\nSELECT 1\n\n-- two --\n-- The second.\nSELECT %(x)s\n"
    assert parse(text) == {"one": "SELECT 1", "two": "SELECT %(x)s"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- q --\nSELECT 1\n", "lacks its one-line description"),
        ("-- q --\n-- Nothing.\n", "is empty"),
        ("-- q --\n-- A.\nSELECT 1\n-- q --\n-- B.\nSELECT 2\n", "defined twice"),
    ],
)
def test_malformed_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text, "x.sql")


def test_every_named_query_is_used() -> None:
    sources = "\n".join(
        p.read_text()
        for folder in ("db", "web", "workers", "qdx")
        for p in (PROJECT_ROOT / folder).rglob("*.py")
    )
    # Queries are named by string literals: QUERIES["name"] or a helper's argument.
    unused = {name for name in QUERIES if f'"{name}"' not in sources}
    assert unused == set()
    looked_up = set(re.findall(r'QUERIES\["([a-z_0-9]+)"\]', sources))
    assert looked_up - set(QUERIES) == set()


def test_loaded_from_the_package_folder() -> None:
    folder = Path(__import__("db").__file__).parent / "queries"
    assert {p.name for p in folder.glob("*.sql")} >= {"migrate.sql", "server.sql", "tenancy.sql"}
