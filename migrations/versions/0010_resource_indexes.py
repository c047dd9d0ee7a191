"""Indexes for the resource lists (sql/api/30_resources.sql).

Each list reads newest first by a time that does not move once set, with the id as
tie-breaker, one page after a position: (org_id, listed_at, id) serves it (scanned
backwards) under row-level security, whose org predicate is the index's first column.
The times may be NULL (a deployment not finished yet), so the indexed expression is the
one the list functions order by, with 1970-01-01 for a row without any; written with
CASE, not COALESCE, because under row-level security only leakproof conditions become
index conditions and PostgreSQL does not count COALESCE as leakproof.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from db.migrate import run_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        op,
        """
        CREATE INDEX changes_org_id_listed_at_change_id_idx ON core.changes
            (org_id, (CASE WHEN opened_at IS NULL THEN 'epoch'::timestamptz ELSE opened_at END),
             change_id);
        CREATE INDEX deploys_org_id_listed_at_deploy_id_idx ON core.deploys
            (org_id, (CASE WHEN finished_at IS NOT NULL THEN finished_at
                          WHEN started_at IS NOT NULL THEN started_at
                          ELSE 'epoch'::timestamptz END), deploy_id);
        CREATE INDEX incidents_org_id_listed_at_incident_id_idx ON core.incidents
            (org_id, (CASE WHEN opened_at IS NULL THEN 'epoch'::timestamptz ELSE opened_at END),
             incident_id);
        CREATE INDEX pipeline_runs_org_id_listed_at_run_id_idx ON core.pipeline_runs
            (org_id, (CASE WHEN finished_at IS NOT NULL THEN finished_at
                          WHEN started_at IS NOT NULL THEN started_at
                          WHEN queued_at IS NOT NULL THEN queued_at
                          ELSE 'epoch'::timestamptz END), run_id);
        CREATE INDEX pipeline_runs_org_id_commit_sha_idx ON core.pipeline_runs
            (org_id, commit_sha);
        CREATE INDEX repos_org_id_first_seen_at_repo_id_idx ON core.repos
            (org_id, first_seen_at, repo_id);
        """,
    )


def downgrade() -> None:
    run_sql(
        op,
        """
        DROP INDEX core.changes_org_id_listed_at_change_id_idx;
        DROP INDEX core.deploys_org_id_listed_at_deploy_id_idx;
        DROP INDEX core.incidents_org_id_listed_at_incident_id_idx;
        DROP INDEX core.pipeline_runs_org_id_listed_at_run_id_idx;
        DROP INDEX core.pipeline_runs_org_id_commit_sha_idx;
        DROP INDEX core.repos_org_id_first_seen_at_repo_id_idx;
        """,
    )
