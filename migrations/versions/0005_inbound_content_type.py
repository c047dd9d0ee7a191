"""A raw event as a normalizer sees it carries the content type it was stored with.

A body that is not JSON is then told apart by its declared format: a form-encoded body
(application/x-www-form-urlencoded, e.g. Slack's slash commands and interactions) is a
documented format the normalizers do not read, while a body that claims JSON and does
not parse violates its format.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from db.migrate import run_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Appended last: core.inbound_events (sql/core/30_normalize.sql) fills it.
    run_sql(op, "ALTER TYPE core.inbound ADD ATTRIBUTE content_type text;")


def downgrade() -> None:
    run_sql(op, "ALTER TYPE core.inbound DROP ATTRIBUTE content_type;")
