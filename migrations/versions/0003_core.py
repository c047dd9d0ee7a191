"""Canonical model (schema core): facts, snapshots, outcomes and the canonical tables.

Canonical rows are never written directly by a normalizer. A normalizer turns raw events
into facts (one row per event and entity, with the vendor's time of the fact) or, for
accounts and repositories, into content-addressed snapshots; the canonical row is then
recomputed from all of its facts. State is therefore a function of the set of events:
idempotent, independent of arrival order, and a replay yields the same rows.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from db.migrate import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE SCHEMA core;

-- One raw event as a normalizer sees it: its body parsed (NULL when it is not JSON).
CREATE TYPE core.inbound AS (
    org_id       uuid,
    event_id     uuid,
    received_at  timestamptz,
    source       text,
    event_type   text,
    tiebreak     bytea,
    headers      jsonb,
    payload      jsonb
);

-- What a normalizer returns: one statement about one entity, made by one event. The
-- entity 'failed' (entity_id '') marks the event as violating its documented shape,
-- with attrs->>'reason'; an event with no rows at all is ignored.
CREATE TYPE core.fact AS (
    event_id     uuid,
    entity       text,
    entity_id    text,
    observed_at  timestamptz,
    attrs        jsonb
);

-- A canonical row to recompute.
CREATE TYPE core.entity_ref AS (
    org_id     uuid,
    entity     text,
    entity_id  text
);

-- What one event says about one canonical entity (changes, commits, reviews, pipeline
-- runs, deploys, incidents). observed_at is the vendor's time of the statement and
-- tiebreak the event body's sha256: later statements win, ties are broken by content.
CREATE TABLE core.facts (
    org_id       uuid NOT NULL,
    entity       text NOT NULL,
    entity_id    text NOT NULL,
    event_id     uuid NOT NULL,
    observed_at  timestamptz NOT NULL,
    tiebreak     bytea NOT NULL,
    attrs        jsonb NOT NULL,
    CONSTRAINT facts_pkey PRIMARY KEY (org_id, entity, entity_id, event_id),
    CONSTRAINT facts_entity_check CHECK (
        entity IN ('change', 'commit', 'review', 'pipeline_run', 'deploy', 'incident'))
);
CREATE INDEX facts_org_id_event_id_idx ON core.facts (org_id, event_id);

-- Accounts and repositories appear in nearly every event: keeping one fact per event
-- would make them the largest and hottest rows. They are kept once per distinct content
-- instead, with the span of vendor times over which that content was seen.
CREATE TABLE core.snapshots (
    org_id             uuid NOT NULL,
    entity             text NOT NULL,
    entity_id          text NOT NULL,
    digest             uuid NOT NULL,
    attrs              jsonb NOT NULL,
    first_observed_at  timestamptz NOT NULL,
    last_observed_at   timestamptz NOT NULL,
    first_event_id     uuid NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (org_id, entity, entity_id, digest),
    CONSTRAINT snapshots_entity_check CHECK (entity IN ('actor', 'repo'))
);

-- What normalization made of each event.
CREATE TABLE core.event_outcomes (
    org_id       uuid NOT NULL,
    event_id     uuid NOT NULL,
    source       text NOT NULL,
    event_type   text NOT NULL,
    received_at  timestamptz NOT NULL,
    status       text NOT NULL,
    reason       text,
    attempts     int NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_outcomes_pkey PRIMARY KEY (org_id, event_id),
    CONSTRAINT event_outcomes_status_check CHECK (
        status IN ('normalized', 'ignored', 'failed', 'retrying', 'dead'))
);
CREATE INDEX event_outcomes_org_id_status_idx ON core.event_outcomes (org_id, status, updated_at)
    WHERE status IN ('failed', 'retrying', 'dead');

-- An organization's rules mapping vendor environment names to classes, tried in order
-- before the built-in defaults.
CREATE TABLE core.environment_rules (
    org_id      uuid NOT NULL,
    position    int NOT NULL,
    pattern     text NOT NULL,
    class       text NOT NULL,
    CONSTRAINT environment_rules_pkey PRIMARY KEY (org_id, position),
    CONSTRAINT environment_rules_class_check CHECK (
        class IN ('production', 'staging', 'test', 'dev', 'other'))
);

CREATE TABLE core.actors (
    org_id         uuid NOT NULL,
    actor_id       text NOT NULL,
    provider       text NOT NULL,
    external_id    text NOT NULL,
    login          text,
    display_name   text,
    emails         text[] NOT NULL DEFAULT '{}',
    is_bot         boolean NOT NULL DEFAULT false,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    CONSTRAINT actors_pkey PRIMARY KEY (org_id, actor_id)
);
CREATE INDEX actors_org_id_emails_idx ON core.actors USING gin (emails);

CREATE TABLE core.repos (
    org_id          uuid NOT NULL,
    repo_id         text NOT NULL,
    provider        text NOT NULL,
    external_id     text NOT NULL,
    full_name       text,
    url             text,
    default_branch  text,
    is_private      boolean,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    CONSTRAINT repos_pkey PRIMARY KEY (org_id, repo_id)
);

CREATE TABLE core.changes (
    org_id             uuid NOT NULL,
    change_id          text NOT NULL,
    provider           text NOT NULL,
    repo_id            text,
    number             bigint,
    external_id        text,
    title              text,
    state              text NOT NULL,
    is_draft           boolean NOT NULL DEFAULT false,
    author_id          text,
    url                text,
    base_branch        text,
    head_branch        text,
    head_sha           text,
    merge_commit_sha   text,
    opened_at          timestamptz,
    first_commit_at    timestamptz,
    ready_at           timestamptz,
    first_response_at  timestamptz,
    first_review_at    timestamptz,
    approved_at        timestamptz,
    merged_at          timestamptz,
    closed_at          timestamptz,
    merged_by_id       text,
    additions          int,
    deletions          int,
    files_changed      int,
    commits_count      int,
    labels             text[] NOT NULL DEFAULT '{}',
    work_item_keys     text[] NOT NULL DEFAULT '{}',
    updated_at         timestamptz NOT NULL,
    CONSTRAINT changes_pkey PRIMARY KEY (org_id, change_id),
    CONSTRAINT changes_state_check CHECK (state IN ('open', 'merged', 'closed'))
);
CREATE INDEX changes_org_id_repo_id_head_branch_idx ON core.changes (org_id, repo_id, head_branch);
CREATE INDEX changes_org_id_merged_at_idx ON core.changes (org_id, merged_at);
CREATE INDEX changes_org_id_merge_commit_sha_idx ON core.changes (org_id, merge_commit_sha);

CREATE TABLE core.commits (
    org_id        uuid NOT NULL,
    commit_id     text NOT NULL,
    provider      text NOT NULL,
    repo_id       text,
    sha           text NOT NULL,
    author_id     text,
    author_name   text,
    author_email  text,
    authored_at   timestamptz,
    committed_at  timestamptz,
    message       text,
    branches      text[] NOT NULL DEFAULT '{}',
    pushed_at     timestamptz,
    CONSTRAINT commits_pkey PRIMARY KEY (org_id, commit_id)
);
CREATE INDEX commits_org_id_repo_id_idx ON core.commits (org_id, repo_id);
CREATE INDEX commits_org_id_sha_idx ON core.commits (org_id, sha);
CREATE INDEX commits_branches_idx ON core.commits USING gin (branches);

CREATE TABLE core.reviews (
    org_id        uuid NOT NULL,
    review_id     text NOT NULL,
    provider      text NOT NULL,
    change_id     text NOT NULL,
    reviewer_id   text,
    kind          text NOT NULL,
    state         text NOT NULL,
    submitted_at  timestamptz NOT NULL,
    CONSTRAINT reviews_pkey PRIMARY KEY (org_id, review_id),
    CONSTRAINT reviews_kind_check CHECK (kind IN ('review', 'comment')),
    CONSTRAINT reviews_state_check CHECK (
        state IN ('approved', 'changes_requested', 'commented', 'dismissed'))
);
CREATE INDEX reviews_org_id_change_id_idx ON core.reviews (org_id, change_id);

CREATE TABLE core.pipeline_runs (
    org_id          uuid NOT NULL,
    run_id          text NOT NULL,
    provider        text NOT NULL,
    kind            text NOT NULL,
    parent_run_id   text,
    repo_id         text,
    name            text,
    attempt         int,
    status          text NOT NULL,
    status_vendor   text,
    trigger         text,
    commit_sha      text,
    branch          text,
    actor_id        text,
    url             text,
    queued_at       timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    CONSTRAINT pipeline_runs_pkey PRIMARY KEY (org_id, run_id),
    CONSTRAINT pipeline_runs_kind_check CHECK (kind IN ('pipeline', 'job', 'check_suite')),
    CONSTRAINT pipeline_runs_status_check CHECK (
        status IN ('queued', 'running', 'success', 'failure', 'cancelled', 'skipped', 'unknown'))
);
CREATE INDEX pipeline_runs_org_id_finished_at_idx ON core.pipeline_runs (org_id, finished_at);

CREATE TABLE core.deploys (
    org_id             uuid NOT NULL,
    deploy_id          text NOT NULL,
    provider           text NOT NULL,
    kind               text NOT NULL DEFAULT 'deployment',
    repo_id            text,
    service            text,
    environment        text,
    environment_class  text NOT NULL,
    status             text NOT NULL,
    status_vendor      text,
    ref                text,
    commit_sha         text,
    commit_shas        text[] NOT NULL DEFAULT '{}',
    is_rollback        boolean NOT NULL DEFAULT false,
    is_hotfix          boolean NOT NULL DEFAULT false,
    actor_id           text,
    url                text,
    description        text,
    started_at         timestamptz,
    finished_at        timestamptz,
    CONSTRAINT deploys_pkey PRIMARY KEY (org_id, deploy_id),
    CONSTRAINT deploys_kind_check CHECK (kind IN ('deployment', 'release', 'sync')),
    CONSTRAINT deploys_environment_class_check CHECK (
        environment_class IN ('production', 'staging', 'test', 'dev', 'other')),
    CONSTRAINT deploys_status_check CHECK (
        status IN ('pending', 'running', 'success', 'failure', 'cancelled', 'unknown'))
);
CREATE INDEX deploys_org_id_service_finished_at_idx ON core.deploys (org_id, service, finished_at);
CREATE INDEX deploys_org_id_commit_sha_idx ON core.deploys (org_id, commit_sha);

CREATE TABLE core.incidents (
    org_id            uuid NOT NULL,
    incident_id       text NOT NULL,
    provider          text NOT NULL,
    kind              text NOT NULL DEFAULT 'incident',
    external_id       text NOT NULL,
    title             text,
    severity          text,
    severity_vendor   text,
    status            text NOT NULL,
    status_vendor     text,
    service           text,
    url               text,
    links             text[] NOT NULL DEFAULT '{}',
    opened_at         timestamptz,
    acknowledged_at   timestamptz,
    mitigated_at      timestamptz,
    resolved_at       timestamptz,
    CONSTRAINT incidents_pkey PRIMARY KEY (org_id, incident_id),
    CONSTRAINT incidents_kind_check CHECK (kind IN ('incident', 'alert')),
    CONSTRAINT incidents_severity_check CHECK (severity ~ '^SEV[1-5]$'),
    CONSTRAINT incidents_status_check CHECK (
        status IN ('triggered', 'acknowledged', 'mitigated', 'resolved'))
);
CREATE INDEX incidents_org_id_opened_at_idx ON core.incidents (org_id, opened_at);
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    run_sql(op, "DROP SCHEMA core CASCADE;")
