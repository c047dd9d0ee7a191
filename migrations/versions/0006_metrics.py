"""Metrics engine (schema metrics): per-unit stored values, attribution links, dirty marks.

A metric value over a window is an aggregate (median, p75, p90, mean, count) of per-unit
values: one per merged change, per production deployment, per incident. Medians do not
compose, so the units are what is stored and kept fresh; windows, periods, dimensions
and compatibility modes are aggregated from them on read by the `api` functions.

The units are recomputed from the canonical model (schema core) and the person graph
(schema identity) by `metrics.refresh`, only where something changed: normalization and
identity resolution leave marks (`metrics.dirty`: a repository, service or account and
the earliest time the change touches) that the refresh turns into the units to
recompute. `metrics.rebuild` recomputes an org's units from scratch with the same
functions, so both paths store the same values.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from db.migrate import run_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE SCHEMA metrics;

-- The functions every interface calls (sql/api/).
CREATE SCHEMA api;

-- What each metric is: its unit, which way is better, its definition and its version.
-- Filled by sql/metrics/10_definitions.sql; a definition change bumps the version.
CREATE TABLE metrics.definitions (
    metric      text NOT NULL,
    unit        text NOT NULL,
    better      text NOT NULL,
    version     int NOT NULL,
    unit_of     text NOT NULL,
    definition  text NOT NULL,
    CONSTRAINT definitions_pkey PRIMARY KEY (metric),
    CONSTRAINT definitions_better_check CHECK (better IN ('lower', 'higher')),
    CONSTRAINT definitions_unit_of_check CHECK (unit_of IN ('change', 'deploy', 'incident'))
);

-- Benchmark tiers, one set per report year, stored as data. A value is in a tier when
-- it lies within [lower, upper) (NULL = unbounded), in the metric's own unit.
CREATE TABLE metrics.benchmarks (
    report_year  int NOT NULL,
    metric       text NOT NULL,
    tier         text NOT NULL,
    rank         int NOT NULL,
    lower_bound  float8,
    upper_bound  float8,
    measure      text NOT NULL,
    label        text NOT NULL,
    CONSTRAINT benchmarks_pkey PRIMARY KEY (report_year, metric, tier),
    CONSTRAINT benchmarks_tier_check CHECK (tier IN ('elite', 'high', 'medium', 'low'))
);

-- Per-org settings of the engine.
CREATE TABLE metrics.settings (
    org_id           uuid NOT NULL,
    incident_window  interval NOT NULL DEFAULT interval '72 hours',
    benchmark_year   int NOT NULL DEFAULT 2024,
    CONSTRAINT settings_pkey PRIMARY KEY (org_id),
    CONSTRAINT settings_org_id_fkey FOREIGN KEY (org_id) REFERENCES auth.orgs ON DELETE CASCADE
);

-- Where each org's units stand: the engine version they were computed with and the
-- last identity.person_changes entry taken into account.
CREATE TABLE metrics.state (
    org_id          uuid NOT NULL,
    version         int NOT NULL,
    person_seq      bigint NOT NULL DEFAULT 0,
    rebuilt_at      timestamptz,
    refreshed_at    timestamptz,
    CONSTRAINT state_pkey PRIMARY KEY (org_id)
);

-- What changed since the last refresh: a repository's changes and deploys, a service's
-- deploys and incidents, a change, an account's or a person's changes, or the whole org,
-- from `since` on. Append-only: writers never wait for a refresh that is claiming marks.
CREATE TABLE metrics.dirty (
    org_id     uuid NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    kind       text NOT NULL,
    key        text NOT NULL,
    since      timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT dirty_pkey PRIMARY KEY (org_id, seq),
    CONSTRAINT dirty_kind_check CHECK (
        kind IN ('repo', 'service', 'change', 'actor', 'person', 'org'))
);

-- One merged change (pull/merge request) with the times its phases run between and the
-- first production deployment that shipped it.
CREATE TABLE metrics.change_units (
    org_id             uuid NOT NULL,
    change_id          text NOT NULL,
    repo_id            text,
    author_id          text,
    person_id          uuid,
    is_bot             boolean NOT NULL,
    was_draft          boolean NOT NULL,
    first_commit_at    timestamptz,
    opened_at          timestamptz,
    ready_at           timestamptz,
    first_response_at  timestamptz,
    first_comment_at   timestamptz,
    first_review_at    timestamptz,
    approved_at        timestamptz,
    merged_at          timestamptz NOT NULL,
    deploy_id          text,
    deploy_rule        text,
    deployed_at        timestamptz,
    service            text,
    environment        text,
    coding_s           float8,
    pickup_s           float8,
    review_s           float8,
    rework_s           float8,
    merge_s            float8,
    deploy_s           float8,
    cycle_s            float8,
    lead_time_s        float8,
    CONSTRAINT change_units_pkey PRIMARY KEY (org_id, change_id)
);
CREATE INDEX change_units_org_id_merged_at_idx ON metrics.change_units (org_id, merged_at);
CREATE INDEX change_units_org_id_repo_id_merged_at_idx
    ON metrics.change_units (org_id, repo_id, merged_at);
CREATE INDEX change_units_org_id_author_id_idx ON metrics.change_units (org_id, author_id);
CREATE INDEX change_units_org_id_deploy_id_idx ON metrics.change_units (org_id, deploy_id);
CREATE INDEX change_units_org_id_deployed_at_idx ON metrics.change_units (org_id, deployed_at);

-- The teams a change counts for: those its author was on when it merged, and their
-- ancestors (a change appears once under a team however many of its subteams it is in).
-- It carries the change's default values, so a team's window is read from here alone.
CREATE TABLE metrics.change_teams (
    org_id       uuid NOT NULL,
    team_id      uuid NOT NULL,
    merged_at    timestamptz NOT NULL,
    change_id    text NOT NULL,
    deployed_at  timestamptz,
    is_bot       boolean NOT NULL,
    who          text,
    coding_s     float8,
    pickup_s     float8,
    review_s     float8,
    deploy_s     float8,
    cycle_s      float8,
    lead_time_s  float8,
    CONSTRAINT change_teams_pkey PRIMARY KEY (org_id, team_id, merged_at, change_id)
);
CREATE INDEX change_teams_org_id_change_id_idx ON metrics.change_teams (org_id, change_id);
CREATE INDEX change_teams_org_id_team_id_deployed_at_idx
    ON metrics.change_teams (org_id, team_id, deployed_at);

-- One successful production deployment. commit_shas: every commit it names (its own and
-- the artifacts of other repositories it ships).
CREATE TABLE metrics.deploy_units (
    org_id         uuid NOT NULL,
    deploy_id      text NOT NULL,
    service        text,
    repo_id        text,
    environment    text,
    started_at     timestamptz,
    finished_at    timestamptz NOT NULL,
    shipped_until  timestamptz,
    commit_sha     text,
    commit_shas    text[] NOT NULL DEFAULT '{}',
    is_rollback    boolean NOT NULL,
    is_hotfix      boolean NOT NULL,
    changes        int NOT NULL DEFAULT 0,
    CONSTRAINT deploy_units_pkey PRIMARY KEY (org_id, deploy_id)
);
CREATE INDEX deploy_units_org_id_finished_at_idx ON metrics.deploy_units (org_id, finished_at);
CREATE INDEX deploy_units_org_id_service_finished_at_idx
    ON metrics.deploy_units (org_id, service, finished_at);
CREATE INDEX deploy_units_org_id_repo_id_finished_at_idx
    ON metrics.deploy_units (org_id, repo_id, finished_at);

-- Each commit a deployment names, to find by a change's merge commit (or an incident's
-- root cause) the deployments that shipped it.
CREATE TABLE metrics.deploy_commits (
    org_id       uuid NOT NULL,
    sha          text NOT NULL,
    finished_at  timestamptz NOT NULL,
    deploy_id    text NOT NULL,
    CONSTRAINT deploy_commits_pkey PRIMARY KEY (org_id, sha, finished_at, deploy_id)
);
CREATE INDEX deploy_commits_org_id_deploy_id_idx ON metrics.deploy_commits (org_id, deploy_id);

-- The teams a deployment counts for: those of the changes it shipped, and their ancestors.
CREATE TABLE metrics.deploy_teams (
    org_id       uuid NOT NULL,
    team_id      uuid NOT NULL,
    finished_at  timestamptz NOT NULL,
    deploy_id    text NOT NULL,
    CONSTRAINT deploy_teams_pkey PRIMARY KEY (org_id, team_id, finished_at, deploy_id)
);
CREATE INDEX deploy_teams_org_id_deploy_id_idx ON metrics.deploy_teams (org_id, deploy_id);

-- One incident (alerts are not incidents).
CREATE TABLE metrics.incident_units (
    org_id       uuid NOT NULL,
    incident_id  text NOT NULL,
    service      text,
    severity     text,
    title        text,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    restore_s    float8,
    CONSTRAINT incident_units_pkey PRIMARY KEY (org_id, incident_id)
);
CREATE INDEX incident_units_org_id_opened_at_idx ON metrics.incident_units (org_id, opened_at);
CREATE INDEX incident_units_org_id_service_opened_at_idx
    ON metrics.incident_units (org_id, service, opened_at);

-- Which deployment each failure is attributed to, per attribution mode, and by which
-- rule. A failure is an incident, or a rollback / revert (cause_kind 'rollback' or
-- 'revert', cause_id the rollback deploy or the revert change). `recovered_at` is when
-- the failure ended: the incident's resolution, the rollback's finish, the revert's
-- first production deploy.
CREATE TABLE metrics.failure_links (
    org_id        uuid NOT NULL,
    mode          text NOT NULL,
    cause_kind    text NOT NULL,
    cause_id      text NOT NULL,
    deploy_id     text NOT NULL,
    rule          text NOT NULL,
    opened_at     timestamptz NOT NULL,
    recovered_at  timestamptz,
    CONSTRAINT failure_links_pkey PRIMARY KEY (org_id, mode, cause_kind, cause_id, deploy_id),
    CONSTRAINT failure_links_mode_check CHECK (
        mode IN ('default', 'devlake', 'fourkeys', 'middleware')),
    CONSTRAINT failure_links_cause_kind_check CHECK (
        cause_kind IN ('incident', 'rollback', 'revert')),
    CONSTRAINT failure_links_rule_check CHECK (
        rule IN ('explicit', 'rollback', 'window', 'latest_prior'))
);
CREATE INDEX failure_links_org_id_deploy_id_idx ON metrics.failure_links (org_id, mode, deploy_id);

-- Deployments made because of a production incident (hotfixes and rollbacks while an
-- incident of their service was open, or naming it): rework.
CREATE TABLE metrics.rework_links (
    org_id       uuid NOT NULL,
    deploy_id    text NOT NULL,
    incident_id  text NOT NULL,
    rule         text NOT NULL,
    CONSTRAINT rework_links_pkey PRIMARY KEY (org_id, deploy_id, incident_id),
    CONSTRAINT rework_links_rule_check CHECK (rule IN ('open_incident'))
);
CREATE INDEX rework_links_org_id_incident_id_idx ON metrics.rework_links (org_id, incident_id);

-- Regions of deployments to recompute are found by repository as well as by service.
CREATE INDEX deploys_org_id_repo_id_finished_at_idx ON core.deploys (org_id, repo_id, finished_at);
CREATE INDEX incidents_org_id_service_opened_at_idx ON core.incidents (org_id, service, opened_at);
-- A refresh recomputes a repository's changes merged since a moment.
CREATE INDEX changes_org_id_repo_id_merged_at_idx ON core.changes (org_id, repo_id, merged_at);
-- A revert names the change it reverts by title (hashed: titles can outgrow a btree entry).
CREATE INDEX changes_org_id_repo_id_title_md5_idx ON core.changes (org_id, repo_id, md5(title));
"""


def upgrade() -> None:
    run_sql(op, SCHEMA)


def downgrade() -> None:
    run_sql(
        op,
        """
        DROP SCHEMA api CASCADE;
        DROP SCHEMA metrics CASCADE;
        DROP INDEX core.deploys_org_id_repo_id_finished_at_idx;
        DROP INDEX core.incidents_org_id_service_opened_at_idx;
        DROP INDEX core.changes_org_id_repo_id_title_md5_idx;
        DROP INDEX core.changes_org_id_repo_id_merged_at_idx;
        """,
    )
