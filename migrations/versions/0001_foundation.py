"""Foundation: extensions, tenancy (schema auth), queues and the job runner's schema.

Revision ID: 0001
Revises:
"""

from importlib.resources import files

from alembic import op
from pgmq.install import get_embedded_install_sql

from db.migrate import run_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Checksums of the files under sql/ (and sources/*/normalize.sql) last applied.
CREATE TABLE public.qdx_sql_files (
    path        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE SCHEMA auth;

CREATE TABLE auth.orgs (
    org_id      uuid NOT NULL DEFAULT gen_random_uuid(),
    slug        text NOT NULL,
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_pkey PRIMARY KEY (org_id),
    CONSTRAINT orgs_slug_key UNIQUE (slug),
    CONSTRAINT orgs_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

-- Teams form a tree inside one org; a team's parent is in the same org.
CREATE TABLE auth.teams (
    org_id      uuid NOT NULL,
    team_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    slug        text NOT NULL,
    name        text NOT NULL,
    parent_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teams_pkey PRIMARY KEY (org_id, team_id),
    CONSTRAINT teams_org_id_fkey FOREIGN KEY (org_id) REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT teams_parent_fkey FOREIGN KEY (org_id, parent_id)
        REFERENCES auth.teams (org_id, team_id),
    CONSTRAINT teams_org_id_slug_key UNIQUE (org_id, slug),
    CONSTRAINT teams_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    CONSTRAINT teams_parent_check CHECK (parent_id IS DISTINCT FROM team_id)
);
CREATE INDEX teams_org_id_parent_id_idx ON auth.teams (org_id, parent_id);

-- Who was on which team when. person_id is the identity graph's person
-- (identity.persons, added by the identity migration).
CREATE TABLE auth.team_memberships (
    org_id      uuid NOT NULL,
    team_id     uuid NOT NULL,
    person_id   uuid NOT NULL,
    during      tstzrange NOT NULL DEFAULT tstzrange(now(), NULL, '[)'),
    role        text NOT NULL DEFAULT 'member',
    CONSTRAINT team_memberships_pkey PRIMARY KEY (org_id, team_id, person_id, during),
    CONSTRAINT team_memberships_team_fkey FOREIGN KEY (org_id, team_id)
        REFERENCES auth.teams (org_id, team_id) ON DELETE CASCADE,
    CONSTRAINT team_memberships_during_check CHECK (NOT isempty(during)),
    CONSTRAINT team_memberships_role_check CHECK (role IN ('member', 'lead')),
    CONSTRAINT team_memberships_no_overlap_excl EXCLUDE USING gist (
        org_id WITH =, team_id WITH =, person_id WITH =, during WITH &&)
);
CREATE INDEX team_memberships_org_id_person_id_idx
    ON auth.team_memberships (org_id, person_id);

-- One receiving endpoint per org and source (or several). During a rotation both the
-- current and the previous secret verify, until previous_secret_expires_at.
CREATE TABLE auth.webhook_endpoints (
    org_id                      uuid NOT NULL,
    endpoint_id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    source                      text NOT NULL,
    name                        text NOT NULL DEFAULT 'default',
    secret                      text NOT NULL,
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    rotated_at                  timestamptz,
    disabled_at                 timestamptz,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (org_id, endpoint_id),
    CONSTRAINT webhook_endpoints_endpoint_id_key UNIQUE (endpoint_id),
    CONSTRAINT webhook_endpoints_org_id_fkey FOREIGN KEY (org_id)
        REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT webhook_endpoints_org_id_source_name_key UNIQUE (org_id, source, name),
    CONSTRAINT webhook_endpoints_source_check CHECK (source ~ '^[a-z][a-z0-9_]{1,39}$'),
    CONSTRAINT webhook_endpoints_secret_check CHECK (length(secret) >= 16),
    CONSTRAINT webhook_endpoints_previous_check
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);

-- Machine clients (service accounts) that are issued tokens.
CREATE TABLE auth.api_clients (
    org_id      uuid NOT NULL,
    client_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    role        text NOT NULL,
    team_ids    uuid[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT api_clients_pkey PRIMARY KEY (org_id, client_id),
    CONSTRAINT api_clients_org_id_fkey FOREIGN KEY (org_id)
        REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT api_clients_org_id_name_key UNIQUE (org_id, name),
    CONSTRAINT api_clients_role_check CHECK (role IN ('viewer', 'analyst', 'admin', 'service'))
);

-- Token signing keys for this deployment. One active key at a time; retired keys still
-- verify the tokens they signed until those expire.
CREATE TABLE auth.signing_keys (
    kid          text NOT NULL,
    algorithm    text NOT NULL,
    private_key  text NOT NULL,
    public_key   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT signing_keys_algorithm_check CHECK (algorithm IN ('EdDSA'))
);
CREATE UNIQUE INDEX signing_keys_active_key ON auth.signing_keys ((true))
    WHERE retired_at IS NULL;
REVOKE ALL ON auth.signing_keys FROM PUBLIC;
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)
    # The job runner's schema, from the pinned procrastinate release.
    run_sql(op, files("procrastinate").joinpath("sql", "schema.sql").read_text("utf-8"))
    # pgmq as plain SQL in schema pgmq (no extension needed on the server).
    run_sql(op, get_embedded_install_sql())
    run_sql(op, "SELECT pgmq.create('ingest');")


def downgrade() -> None:
    raise RuntimeError("the foundation revision cannot be downgraded; restore a backup instead")
