"""The role the long-running services do their tenant writes as: `qdx_worker`.

- `qdx_worker` (no login, no BYPASSRLS): the webhook receiver's inserts, the normalizer,
  replay, the identity resolver and the metrics refresh take it per transaction
  (`SET LOCAL ROLE`, db/scope.py), with the org of the work in the transaction-local
  setting qdx.org_id; its policies (sql/security/) admit that org's rows only, for reads
  and writes alike.

Like 0009's roles it belongs to the server and is created only when missing; the owner
becomes a member (to take it per transaction). Its grants and policies are in
sql/security/ (applied after every table exists).

Revision ID: 0011
Revises: 0009
"""

from alembic import op

from db.migrate import run_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qdx_worker') THEN
        CREATE ROLE qdx_worker NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
-- The owner takes qdx_worker per transaction (SET LOCAL ROLE).
GRANT qdx_worker TO CURRENT_USER;
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    # (the role stays: other databases of the server may use it)
    pass
