"""Raw event log: delivery keys (de-duplication) and events partitioned by month.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from db.migrate import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE SCHEMA raw;

-- One row per accepted delivery: the de-duplication key (org, source, vendor delivery id
-- or its documented substitute). A retry finds its key here and is answered 200 duplicate.
CREATE TABLE raw.deliveries (
    org_id        uuid NOT NULL,
    source        text NOT NULL,
    delivery_key  text NOT NULL,
    event_id      uuid NOT NULL,
    received_at   timestamptz NOT NULL,
    CONSTRAINT deliveries_pkey PRIMARY KEY (org_id, source, delivery_key)
);

-- Every accepted event, byte for byte as received, forever replayable. Partitioned by
-- month of arrival; raw.ensure_event_partitions creates them ahead, and the default
-- partition catches anything outside them so an insert never fails.
CREATE TABLE raw.events (
    org_id        uuid NOT NULL,
    received_at   timestamptz NOT NULL,
    event_id      uuid NOT NULL,
    endpoint_id   uuid NOT NULL,
    source        text NOT NULL,
    event_type    text NOT NULL,
    delivery_key  text NOT NULL,
    content_type  text NOT NULL,
    headers       jsonb NOT NULL,
    body          bytea NOT NULL,
    body_sha256   bytea NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (org_id, received_at, event_id)
) PARTITION BY RANGE (received_at);
CREATE TABLE raw.events_default PARTITION OF raw.events DEFAULT;
CREATE INDEX events_event_id_idx ON raw.events (event_id);
CREATE INDEX events_org_id_source_received_at_idx ON raw.events (org_id, source, received_at);

"""

# The months around the migration; later months come from the hourly maintenance job.
INITIAL_PARTITIONS = """
DO $$
DECLARE
    v_start date;
BEGIN
    FOR i IN -1 .. 3 LOOP
        v_start := (date_trunc('month', now()) + make_interval(months => i))::date;
        EXECUTE format(
            'CREATE TABLE raw.%I PARTITION OF raw.events FOR VALUES FROM (%L) TO (%L)',
            'events_' || to_char(v_start, 'YYYY"m"MM'), v_start, v_start + interval '1 month');
    END LOOP;
END $$;
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)
    run_sql(op, INITIAL_PARTITIONS)


def downgrade() -> None:
    run_sql(op, "DROP SCHEMA raw CASCADE;")
