"""Identity graph (schema identity): persons, account links with their method and evidence,
admin decisions, operations with an undo, the review queue and the matcher's models.

An account is a `core.actors` row. Every account is linked to exactly one person; how it
got there (an admin's pin, a shared SSO subject or employee id, a decoded noreply
address, a shared email, the same login on providers behind one identity provider, or
the probabilistic matcher) is stored beside the link. Every change of a link is one row
of `identity.link_changes` under an operation, so any operation can be undone.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from db.migrate import run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE SCHEMA identity;

-- Identifiers that directory sources state about an account: the SSO/SCIM subject it
-- signs in with and the HR employee number it belongs to.
ALTER TABLE core.actors ADD COLUMN sso_subject text, ADD COLUMN employee_id text;

-- One human (or one automation) in an organization. A person absorbed by a merge keeps
-- its row, pointing at the survivor, so ids handed out earlier still resolve.
CREATE TABLE identity.persons (
    org_id        uuid NOT NULL,
    person_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    display_name  text,
    primary_email text,
    is_bot        boolean NOT NULL DEFAULT false,
    merged_into   uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT persons_pkey PRIMARY KEY (org_id, person_id),
    CONSTRAINT persons_org_id_fkey FOREIGN KEY (org_id) REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT persons_merged_into_fkey FOREIGN KEY (org_id, merged_into)
        REFERENCES identity.persons (org_id, person_id),
    CONSTRAINT persons_merged_into_check CHECK (merged_into IS DISTINCT FROM person_id)
);
CREATE INDEX persons_org_id_primary_email_idx ON identity.persons (org_id, lower(primary_email));

-- Team membership is versioned by time: attach it to the person graph.
ALTER TABLE auth.team_memberships ADD CONSTRAINT team_memberships_person_fkey
    FOREIGN KEY (org_id, person_id) REFERENCES identity.persons (org_id, person_id);

-- What identifies an account, derived from its actor row: canonical emails, the account
-- a GitHub noreply address names, SSO subjects, employee ids, logins shared through an
-- identity provider, and the matcher's blocking keys (kind 'block').
CREATE TABLE identity.keys (
    org_id    uuid NOT NULL,
    kind      text NOT NULL,
    value     text NOT NULL,
    actor_id  text NOT NULL,
    CONSTRAINT keys_pkey PRIMARY KEY (org_id, kind, value, actor_id),
    CONSTRAINT keys_kind_check CHECK (
        kind IN ('email', 'account', 'sso', 'employee', 'shared_login', 'block'))
);
CREATE INDEX keys_org_id_actor_id_idx ON identity.keys (org_id, actor_id);

-- Providers whose logins come from one identity provider (e.g. GitLab and Jira Data
-- Center on the same LDAP): the same login there is the same person.
CREATE TABLE identity.login_groups (
    org_id     uuid NOT NULL,
    name       text NOT NULL,
    providers  text[] NOT NULL,
    CONSTRAINT login_groups_pkey PRIMARY KEY (org_id, name),
    CONSTRAINT login_groups_org_id_fkey FOREIGN KEY (org_id) REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT login_groups_providers_check CHECK (cardinality(providers) >= 2)
);

-- Every change to the graph is one operation: automatic resolution, an admin's merge,
-- split, link or review decision, or the undo of an earlier operation.
CREATE TABLE identity.operations (
    org_id        uuid NOT NULL,
    op_id         bigint GENERATED ALWAYS AS IDENTITY,
    kind          text NOT NULL,
    performed_by  text NOT NULL,
    performed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason        text,
    detail        jsonb NOT NULL DEFAULT '{}',
    undoes        bigint,
    undone_by     bigint,
    CONSTRAINT operations_pkey PRIMARY KEY (org_id, op_id),
    CONSTRAINT operations_org_id_fkey FOREIGN KEY (org_id) REFERENCES auth.orgs ON DELETE CASCADE,
    CONSTRAINT operations_kind_check CHECK (
        kind IN ('resolve', 'merge', 'split', 'link', 'review', 'undo'))
);

-- The account → person links. `method` is the strongest reason the account is where it
-- is; `evidence` names the key or the pair and score behind it.
CREATE TABLE identity.links (
    org_id      uuid NOT NULL,
    actor_id    text NOT NULL,
    person_id   uuid NOT NULL,
    method      text NOT NULL,
    confidence  real NOT NULL,
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL,
    op_id       bigint NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT links_pkey PRIMARY KEY (org_id, actor_id),
    CONSTRAINT links_person_fkey FOREIGN KEY (org_id, person_id)
        REFERENCES identity.persons (org_id, person_id),
    CONSTRAINT links_method_check CHECK (method IN (
        'explicit', 'sso', 'employee', 'noreply', 'email', 'shared_login', 'matcher', 'new')),
    CONSTRAINT links_confidence_check CHECK (confidence > 0 AND confidence <= 1)
);
CREATE INDEX links_org_id_person_id_idx ON identity.links (org_id, person_id);

-- Each link change, under its operation: what an undo puts back.
CREATE TABLE identity.link_changes (
    org_id    uuid NOT NULL,
    op_id     bigint NOT NULL,
    actor_id  text NOT NULL,
    before    jsonb,
    after     jsonb,
    CONSTRAINT link_changes_pkey PRIMARY KEY (org_id, op_id, actor_id),
    CONSTRAINT link_changes_op_fkey FOREIGN KEY (org_id, op_id)
        REFERENCES identity.operations (org_id, op_id)
);
CREATE INDEX link_changes_org_id_actor_id_idx ON identity.link_changes (org_id, actor_id, op_id);

-- An admin's standing decisions, which no rule and no matcher overrides: 'pin' an account
-- to a person, or keep two accounts 'apart'. Revoked, not deleted, by an undo.
CREATE TABLE identity.decisions (
    org_id          uuid NOT NULL,
    decision_id     bigint GENERATED ALWAYS AS IDENTITY,
    kind            text NOT NULL,
    actor_id        text NOT NULL,
    person_id       uuid,
    other_actor_id  text,
    op_id           bigint NOT NULL,
    revoked_by      bigint,
    CONSTRAINT decisions_pkey PRIMARY KEY (org_id, decision_id),
    CONSTRAINT decisions_op_fkey FOREIGN KEY (org_id, op_id)
        REFERENCES identity.operations (org_id, op_id),
    CONSTRAINT decisions_shape_check CHECK (
        (kind = 'pin' AND person_id IS NOT NULL AND other_actor_id IS NULL)
        OR (kind = 'apart' AND person_id IS NULL AND other_actor_id IS NOT NULL))
);
CREATE UNIQUE INDEX decisions_pin_key ON identity.decisions (org_id, actor_id)
    WHERE kind = 'pin' AND revoked_by IS NULL;
CREATE INDEX decisions_org_id_actor_id_idx ON identity.decisions (org_id, actor_id)
    WHERE revoked_by IS NULL;

-- Accounts waiting to be resolved: written in the normalization transaction whenever an
-- account appears or what identifies it changes.
CREATE TABLE identity.pending (
    org_id     uuid NOT NULL,
    actor_id   text NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT pending_pkey PRIMARY KEY (org_id, actor_id)
);

-- Pairs the matcher scored inside the review band: a person decides.
CREATE TABLE identity.review_queue (
    org_id          uuid NOT NULL,
    actor_id        text NOT NULL,
    other_actor_id  text NOT NULL,
    probability     real NOT NULL,
    evidence        jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending',
    created_at      timestamptz NOT NULL DEFAULT now(),
    op_id           bigint,
    CONSTRAINT review_queue_pkey PRIMARY KEY (org_id, actor_id, other_actor_id),
    CONSTRAINT review_queue_status_check CHECK (
        status IN ('pending', 'accepted', 'rejected', 'obsolete')),
    CONSTRAINT review_queue_order_check CHECK (actor_id < other_actor_id)
);
CREATE INDEX review_queue_pending_idx ON identity.review_queue (org_id, probability DESC)
    WHERE status = 'pending';

-- The matcher's parameters, estimated from an organization's own accounts.
CREATE TABLE identity.matcher_models (
    org_id        uuid NOT NULL,
    model_id      bigint GENERATED ALWAYS AS IDENTITY,
    estimated_at  timestamptz NOT NULL DEFAULT now(),
    pairs         integer NOT NULL,
    params        jsonb NOT NULL,
    CONSTRAINT matcher_models_pkey PRIMARY KEY (org_id, model_id),
    CONSTRAINT matcher_models_org_id_fkey FOREIGN KEY (org_id)
        REFERENCES auth.orgs ON DELETE CASCADE
);

-- Co-activity (the matcher compares where accounts worked) reads activity by account.
CREATE INDEX changes_org_id_author_id_idx ON core.changes (org_id, author_id);
CREATE INDEX commits_org_id_author_id_idx ON core.commits (org_id, author_id);
CREATE INDEX reviews_org_id_reviewer_id_idx ON core.reviews (org_id, reviewer_id);

-- Persons whose accounts changed, in order: what the metrics refresh re-attributes.
CREATE TABLE identity.person_changes (
    org_id      uuid NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    person_id   uuid NOT NULL,
    op_id       bigint NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT person_changes_pkey PRIMARY KEY (org_id, seq)
);
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    run_sql(
        op,
        """
        ALTER TABLE auth.team_memberships DROP CONSTRAINT team_memberships_person_fkey;
        DROP SCHEMA identity CASCADE;
        DROP INDEX core.changes_org_id_author_id_idx, core.commits_org_id_author_id_idx,
                   core.reviews_org_id_reviewer_id_idx;
        ALTER TABLE core.actors DROP COLUMN sso_subject, DROP COLUMN employee_id;
        """,
    )
