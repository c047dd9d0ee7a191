"""Indexes for the incremental metrics refresh.

- A refresh bounds each repository's region of changes by the latest shipped_until of
  the deployments that finished before it: read from the top of (repo_id, shipped_until)
  instead of aggregating every earlier deployment of the repository.
- Failure links are looked up by deployment whatever their mode (a refresh takes the
  causes of the deployments it recomputes, by cause kind); reads give the mode as well.
  (org_id, deploy_id, mode) serves both, so it replaces (org_id, mode, deploy_id).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from db.migrate import run_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        op,
        """
        CREATE INDEX deploy_units_org_id_repo_id_shipped_until_idx
            ON metrics.deploy_units (org_id, repo_id, shipped_until);
        DROP INDEX metrics.failure_links_org_id_deploy_id_idx;
        CREATE INDEX failure_links_org_id_deploy_id_idx
            ON metrics.failure_links (org_id, deploy_id, mode);
        """,
    )


def downgrade() -> None:
    run_sql(
        op,
        """
        DROP INDEX metrics.deploy_units_org_id_repo_id_shipped_until_idx;
        DROP INDEX metrics.failure_links_org_id_deploy_id_idx;
        CREATE INDEX failure_links_org_id_deploy_id_idx
            ON metrics.failure_links (org_id, mode, deploy_id);
        """,
    )
