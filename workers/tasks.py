"""Jobs and schedules. Each job is one SQL call; coarse jobs only, never one per event."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from procrastinate import Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from db.queries import QUERIES
from db.scope import as_worker_async
from web.tokens import new_signing_key

blueprint = Blueprint()
log = logging.getLogger(__name__)

# Finished jobs older than this are deleted (failed ones are kept for inspection).
JOB_RETENTION_HOURS = 24 * 14
# raw.events partitions kept ready ahead of time, in months.
MONTHS_AHEAD = 3
# Archived ingest messages are kept this long (the events themselves stay in raw.events).
ARCHIVE_RETENTION_DAYS = 7


@blueprint.periodic(cron="17 3 * * *", periodic_id="prune_finished_jobs")
@blueprint.task(
    name="prune_finished_jobs", queue="maintenance", queueing_lock="prune", pass_context=True
)
async def prune_finished_jobs(context: JobContext, timestamp: int) -> None:
    """Delete succeeded and cancelled jobs older than the retention period, daily."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=JOB_RETENTION_HOURS, include_failed=False, include_cancelled=True
    )


@blueprint.periodic(cron="7 * * * *", periodic_id="ensure_event_partitions")
@blueprint.task(
    name="ensure_event_partitions", queue="maintenance", queueing_lock="partitions",
    pass_context=True,
)  # fmt: skip
async def ensure_event_partitions(context: JobContext, timestamp: int) -> None:
    """Keep raw.events partitioned three months ahead, hourly (cheap when nothing to do)."""
    connector: Any = context.app.connector
    await connector.execute_query_async(QUERIES["ensure_event_partitions"], months=MONTHS_AHEAD)


@blueprint.periodic(cron="37 3 * * *", periodic_id="prune_ingest_archive")
@blueprint.task(
    name="prune_ingest_archive", queue="maintenance", queueing_lock="prune_archive",
    pass_context=True,
)  # fmt: skip
async def prune_ingest_archive(context: JobContext, timestamp: int) -> None:
    """Delete normalized messages archived more than a week ago, daily."""
    connector: Any = context.app.connector
    await connector.execute_query_async(
        QUERIES["prune_ingest_archive"], days=ARCHIVE_RETENTION_DAYS
    )


# The token signing key is replaced when it is this old (tokens live at most 24 h, and a
# retired key verifies for 24 h more).
SIGNING_KEY_DAYS = 7


@blueprint.periodic(cron="47 3 * * *", periodic_id="rotate_signing_key")
@blueprint.task(
    name="rotate_signing_key", queue="maintenance", queueing_lock="signing_key",
    pass_context=True,
)  # fmt: skip
async def rotate_signing_key(context: JobContext, timestamp: int) -> None:
    """Daily: sign new tokens with a new key once the active one is a week old."""
    connector: Any = context.app.connector
    key = new_signing_key()
    row = await connector.execute_query_one_async(
        QUERIES["rotate_signing_key"], **key, min_age=timedelta(days=SIGNING_KEY_DAYS)
    )
    if row and row["kid"] == key["kid"]:
        log.info("token signing key rotated", extra={"kid": key["kid"]})


# Metric refreshes have their own queue, so a long rebuild never holds back maintenance.
# The marks' trigger defers one job per org, two seconds ahead, so a burst of normalized
# batches is refreshed once (sql/metrics/40_marks.sql).
METRICS_QUEUE = "metrics"


@blueprint.task(name="refresh_metrics", queue=METRICS_QUEUE, pass_context=True)
async def refresh_metrics(context: JobContext, org_id: str) -> None:
    """Recompute the metric units of one org that its pending marks reach."""
    connector: Any = context.app.connector
    # As the worker role, with the org set: row-level security keeps it within the org.
    async with connector.pool.connection() as conn, as_worker_async(conn, UUID(org_id)):
        row = await (await conn.execute(QUERIES["metrics_refresh"], {"org_id": org_id})).fetchone()
    log.info("metrics refreshed", extra={"org_id": org_id, "result": row[0] if row else None})


@blueprint.periodic(cron="*/5 * * * *", periodic_id="refresh_metrics_pending")
@blueprint.task(
    name="refresh_metrics_pending", queue="maintenance", queueing_lock="metrics_pending",
    pass_context=True,
)  # fmt: skip
async def refresh_metrics_pending(context: JobContext, timestamp: int) -> None:
    """Every 5 minutes, ask for a refresh of each org whose metrics are behind (marks
    left by a writer that did not defer a job, identity changes, a new engine version)."""
    connector: Any = context.app.connector
    rows = await connector.execute_query_all_async(QUERIES["metrics_pending_orgs"])
    for row in rows:
        org_id = str(row["org_id"])
        with contextlib.suppress(AlreadyEnqueued):
            await refresh_metrics.configure(
                lock=f"metrics:{org_id}", queueing_lock=f"metrics:{org_id}"
            ).defer_async(org_id=org_id)
