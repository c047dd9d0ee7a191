"""Feeding fixture deliveries to normalization and reading back the canonical state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from qdx.settings import PROJECT_ROOT
from tests.webhook_helpers import Sample, load_samples
from web.webhooks.delivery import Delivery
from web.webhooks.locate import first
from web.webhooks.registry import all_sources
from workers.normalizer import NormalizerConfig, Progress, drain

# Canonical tables and the key that orders their rows.
TABLES = {
    "actors": "actor_id",
    "repos": "repo_id",
    "changes": "change_id",
    "commits": "commit_id",
    "reviews": "review_id",
    "pipeline_runs": "run_id",
    "deploys": "deploy_id",
    "incidents": "incident_id",
}


def normalizing_sources() -> list[str]:
    """Sources that have a normalizer."""
    return sorted(p.parent.name for p in (PROJECT_ROOT / "sources").glob("*/normalize.sql"))


def expected_path(source: str, sample: str) -> Path:
    """Where a sample's expected canonical rows are kept."""
    return PROJECT_ROOT / "sources" / source / "expected" / f"{sample}.json"


def make_org(conn: psycopg.Connection[Any], slug: str) -> tuple[UUID, UUID]:
    """An org and an endpoint id to store events under."""
    org = conn.execute("SELECT org_id FROM auth.create_org(%s)", (slug,)).fetchone()
    assert org is not None
    endpoint = conn.execute(
        "SELECT endpoint_id FROM auth.add_webhook_endpoint(%s, 'github', %s, %s)",
        (slug, "a-test-secret-of-some-length", f"{slug}-ep"),
    ).fetchone()
    assert endpoint is not None
    return org[0], endpoint[0]


def accept(
    conn: psycopg.Connection[Any], org_id: UUID, endpoint_id: UUID, sample: Sample,
    delivery_key: str | None = None, event_type: str | None = None,
) -> tuple[UUID, bool]:  # fmt: skip
    """Store a sample as the receiver would (its key and event type found by the source's
    own locators unless given) and queue it; returns the event id and whether it was new."""
    if delivery_key is None or event_type is None:
        source = all_sources()[sample.source]
        delivery = Delivery("POST", {k.lower(): v for k, v in sample.headers.items()}, {},
                            sample.body, sample.content_type)  # fmt: skip
        delivery_key = delivery_key or first(delivery, source.delivery_id)
        event_type = event_type or first(delivery, source.event_type)
    key = delivery_key
    assert key, f"{sample.source}/{sample.name}: no delivery id"
    assert event_type, f"{sample.source}/{sample.name}: no event type"
    row = conn.execute(
        "SELECT event_id, is_new FROM raw.accept_event(%s, %s, %s, %s, %s, %s, %s, %s)",
        (org_id, endpoint_id, sample.source, key, event_type, sample.content_type,
         Jsonb({k.lower(): v for k, v in sample.headers.items()}), sample.body),
    ).fetchone()  # fmt: skip
    assert row is not None
    return row[0], row[1]


def sample(source: str, name: str) -> Sample:
    """One fixture delivery by name."""
    return next(s for s in load_samples(source) if s.name == name)


def normalize(conninfo: str, batch_size: int = 500) -> Progress:
    """Drain the ingest queue through the worker's own code."""
    return asyncio.run(drain(conninfo, NormalizerConfig(batch_size=batch_size)))


def canonical_state(conn: psycopg.Connection[Any], org_id: UUID) -> dict[str, Any]:
    """Every canonical row of an org (without org_id), plus each event's outcome, as JSON
    with times in UTC."""
    conn.execute("SET TIME ZONE 'UTC'")
    state: dict[str, Any] = {}
    for table, key in TABLES.items():
        row = conn.execute(
            f"SELECT coalesce(jsonb_agg(to_jsonb(t) - 'org_id' ORDER BY t.{key}), '[]')"
            f" FROM core.{table} t WHERE t.org_id = %s",
            (org_id,),
        ).fetchone()
        assert row is not None
        if row[0]:
            state[table] = row[0]
    row = conn.execute(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('event_type', event_type, 'status',"
        " status, 'reason', reason) ORDER BY event_type, status, reason), '[]')"
        " FROM core.event_outcomes WHERE org_id = %s",
        (org_id,),
    ).fetchone()
    assert row is not None
    state["outcomes"] = row[0]
    return state


def dumps(state: dict[str, Any]) -> str:
    """The state as the expected files keep it."""
    return json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
