"""Jobs and schedules. Each job is one SQL call; coarse jobs only, never one per event."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

blueprint = Blueprint()

# Finished jobs older than this are deleted (failed ones are kept for inspection).
JOB_RETENTION_HOURS = 24 * 14


@blueprint.periodic(cron="17 3 * * *", periodic_id="prune_finished_jobs")
@blueprint.task(
    name="prune_finished_jobs", queue="maintenance", queueing_lock="prune", pass_context=True
)
async def prune_finished_jobs(context: JobContext, timestamp: int) -> None:
    """Delete succeeded and cancelled jobs older than the retention period, daily."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=JOB_RETENTION_HOURS, include_failed=False, include_cancelled=True
    )
