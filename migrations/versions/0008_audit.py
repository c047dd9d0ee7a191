"""Audit log of every read (schema audit): append-only and hash-chained per org.

Every GraphQL operation, REST call, SQL statement, export, MCP tool call and metrics
read from the command line appends one row to `audit.read_log` through
`audit.record(...)` (sql/audit/): who read (principal and role), in which org and team
scope, through which interface, what (operation, arguments or statement), how many rows,
how long it took and how it ended.

Rows are chained per org: each stores the SHA-256 of the previous row's hash and its own
canonical content, and `audit.heads` holds the last sequence number and hash of each
org. `audit.verify(org)` recomputes the chain, so an altered row, a deleted row (a gap),
a row inserted out of band or a truncated tail is found. UPDATE, DELETE and TRUNCATE
are refused by triggers for every role (the table owner included, short of disabling
the triggers, which is an owner's DDL and shows in the server log); nobody but the
owner's SECURITY DEFINER function writes.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from db.migrate import run_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE SCHEMA audit;

CREATE TABLE audit.read_log (
    org_id       uuid NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    principal    text NOT NULL,
    role         text,
    scope        jsonb NOT NULL,
    interface    text NOT NULL,
    operation    text NOT NULL,
    arguments    jsonb,
    statement    text,
    row_count    bigint,
    duration_ms  numeric(12, 3),
    outcome      text NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    CONSTRAINT read_log_pkey PRIMARY KEY (org_id, seq),
    CONSTRAINT read_log_interface_check CHECK (
        interface IN ('graphql', 'rest', 'sql', 'export', 'mcp', 'cli')),
    CONSTRAINT read_log_outcome_check CHECK (outcome ~ '^(ok|denied|invalid|error)( |$)')
);
CREATE INDEX read_log_org_id_at_idx ON audit.read_log (org_id, at);

-- The end of each org's chain.
CREATE TABLE audit.heads (
    org_id  uuid NOT NULL,
    seq     bigint NOT NULL,
    hash    bytea NOT NULL,
    CONSTRAINT heads_pkey PRIMARY KEY (org_id)
);

REVOKE ALL ON audit.read_log, audit.heads FROM PUBLIC;

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.read_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER read_log_append_only BEFORE UPDATE OR DELETE ON audit.read_log
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER read_log_no_truncate BEFORE TRUNCATE ON audit.read_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    run_sql(op, "DROP SCHEMA audit CASCADE;")
