"""Roles for row-level security, and the registry of direct-SQL login roles.

- `qdx_app` (no login, no BYPASSRLS): the role web read requests take per transaction
  (`SET LOCAL ROLE`), their org and teams set with `set_config(..., true)` (the
  services' writes take `qdx_worker`, revision 0011).
- `qdx_sql` (no login): the group of the login roles `qdx sql-role create` makes for
  psql users; it may read the `api` views, nothing else.
- `auth.sql_roles`: which org (and teams) each such login role is bound to (also the
  roles POST /api/v1/sql runs statements as, one per scope). The policies read a login
  role's scope from here by `session_user`, never from a setting the user could change.
- `auth.server_secrets`: the server's own secrets (the owner's only).

Roles belong to the server, not the database, so they are created only when missing
(several databases on one server share them). The owner running this needs CREATEROLE
(a superuser has it), and becomes a member of qdx_app. The policies themselves are in
sql/security/ (applied after every table exists).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from db.migrate import run_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qdx_app') THEN
        CREATE ROLE qdx_app NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qdx_sql') THEN
        CREATE ROLE qdx_sql NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
-- The owner takes qdx_app per transaction (SET LOCAL ROLE).
GRANT qdx_app TO CURRENT_USER;

CREATE TABLE auth.sql_roles (
    role_name        text NOT NULL,
    org_id           uuid NOT NULL REFERENCES auth.orgs (org_id) ON DELETE CASCADE,
    team_ids         uuid[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL,
    password_set_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sql_roles_pkey PRIMARY KEY (role_name)
);
CREATE INDEX sql_roles_org_id_idx ON auth.sql_roles (org_id);

-- Secrets of the server itself (the one the SQL endpoint derives its scope roles'
-- passwords from): the owner's only.
CREATE TABLE auth.server_secrets (
    purpose     text NOT NULL,
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT server_secrets_pkey PRIMARY KEY (purpose)
);
REVOKE ALL ON auth.server_secrets FROM PUBLIC;
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    # (the roles stay: other databases of the server may use them)
    run_sql(op, "DROP TABLE auth.server_secrets; DROP TABLE auth.sql_roles;")
