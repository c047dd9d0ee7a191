"""The contract every normalizer keeps, over each of its fixture deliveries.

Each sample of a source with a normalize.sql is stored as the receiver stores it, drained
through the worker's code, and must give exactly the canonical rows (and outcome) kept in
sources/<source>/expected/<sample>.json; normalizing it again must write nothing.
Expected files are written by `python -m tests.expectations SOURCE` and read by a person
before they are committed.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.normalize_helpers import (
    TABLES,
    accept,
    canonical_state,
    expected_path,
    make_org,
    normalize,
    normalizing_sources,
    sample,
)
from tests.webhook_helpers import load_samples

CASES = [(src, s.name) for src in normalizing_sources() for s in load_samples(src)]


def row_versions(conn: psycopg.Connection[Any], org_id: UUID) -> dict[str, list[str]]:
    """The xmin of every canonical row and fact: unchanged when nothing was written."""
    versions = {}
    for table, key in {**TABLES, "facts": "entity_id", "snapshots": "entity_id"}.items():
        rows = conn.execute(
            f"SELECT {key} || ':' || xmin::text FROM core.{table} WHERE org_id = %s ORDER BY 1",
            (org_id,),
        ).fetchall()
        versions[table] = [r[0] for r in rows]
    return versions


def test_every_normalizer_has_samples() -> None:
    sources = normalizing_sources()
    assert sources, "no source has a normalize.sql"
    assert not [s for s in sources if not load_samples(s)]


@pytest.mark.parametrize(("source_name", "sample_name"), CASES)
def test_sample_gives_expected_rows(database: str, source_name: str, sample_name: str) -> None:
    path = expected_path(source_name, sample_name)
    assert path.exists(), f"no expected rows for {source_name}/{sample_name}: write {path}"
    expected = json.loads(path.read_text())
    with psycopg.connect(database, autocommit=True) as conn:
        org_id, endpoint_id = make_org(conn, "acme")
        accept(conn, org_id, endpoint_id, sample(source_name, sample_name))
        progress = normalize(database)
        assert progress.events == 1
        assert progress.deferred == 0
        assert canonical_state(conn, org_id) == expected

        before = row_versions(conn, org_id)
        conn.execute(
            "SELECT count(*) FROM core.replay_range(%s, NULL, NULL, NULL, NULL, NULL, NULL)",
            (org_id,),
        )
        assert row_versions(conn, org_id) == before  # normalizing again writes nothing
        assert canonical_state(conn, org_id) == expected
