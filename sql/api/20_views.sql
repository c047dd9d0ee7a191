-- What a direct-SQL user (a `qdx sql-role`, member of qdx_sql) may read: these views,
-- nothing else. They run with the reader's rights (security_invoker), so row-level
-- security scopes them to the reader's org; a team-scoped reader sees the rows of its
-- team subtree: merged changes by the team they counted for when they merged, production
-- deployments that shipped them, incidents attributed to those deployments (by the
-- default attribution), and the teams themselves. Repositories, and open or closed
-- changes, other deployments and unattributed incidents, are visible to org-wide
-- readers only.

CREATE OR REPLACE VIEW api.teams WITH (security_invoker = true) AS
    SELECT t.team_id, t.slug, t.name, t.parent_id, t.created_at
    FROM auth.teams t
    WHERE (SELECT auth.caller_teams()) IS NULL OR t.team_id = ANY ((SELECT auth.caller_teams())::uuid[]);

CREATE OR REPLACE VIEW api.repos WITH (security_invoker = true) AS
    SELECT r.repo_id, r.provider, r.full_name, r.url, r.default_branch, r.is_private,
           r.first_seen_at, r.last_seen_at
    FROM core.repos r
    WHERE (SELECT auth.caller_teams()) IS NULL;

CREATE OR REPLACE VIEW api.changes WITH (security_invoker = true) AS
    SELECT c.change_id, c.provider, c.repo_id, c.number, c.title, c.state, c.is_draft,
           c.author_id, c.url, c.base_branch, c.head_branch, c.merge_commit_sha,
           c.opened_at, c.first_commit_at, c.ready_at, c.first_response_at,
           c.first_review_at, c.approved_at, c.merged_at, c.closed_at, c.additions,
           c.deletions, c.files_changed, c.commits_count, c.labels, c.work_item_keys
    FROM core.changes c
    WHERE (SELECT auth.caller_teams()) IS NULL
       OR EXISTS (SELECT FROM metrics.change_teams ct
                  WHERE ct.org_id = c.org_id AND ct.change_id = c.change_id
                    AND ct.team_id = ANY ((SELECT auth.caller_teams())::uuid[]));

CREATE OR REPLACE VIEW api.change_metrics WITH (security_invoker = true) AS
    SELECT u.change_id, u.repo_id, u.is_bot, u.was_draft, u.merged_at, u.deploy_id,
           u.deploy_rule, u.deployed_at, u.service, u.environment,
           u.coding_s, u.pickup_s, u.review_s, u.rework_s, u.merge_s, u.deploy_s,
           u.cycle_s, u.lead_time_s
    FROM metrics.change_units u
    WHERE (SELECT auth.caller_teams()) IS NULL
       OR EXISTS (SELECT FROM metrics.change_teams ct
                  WHERE ct.org_id = u.org_id AND ct.change_id = u.change_id
                    AND ct.team_id = ANY ((SELECT auth.caller_teams())::uuid[]));

CREATE OR REPLACE VIEW api.deploys WITH (security_invoker = true) AS
    SELECT d.deploy_id, d.provider, d.kind, d.repo_id, d.service, d.environment,
           d.environment_class, d.status, d.ref, d.commit_sha, d.is_rollback, d.is_hotfix,
           d.url, d.started_at, d.finished_at
    FROM core.deploys d
    WHERE (SELECT auth.caller_teams()) IS NULL
       OR EXISTS (SELECT FROM metrics.deploy_teams dt
                  WHERE dt.org_id = d.org_id AND dt.deploy_id = d.deploy_id
                    AND dt.team_id = ANY ((SELECT auth.caller_teams())::uuid[]));

CREATE OR REPLACE VIEW api.incidents WITH (security_invoker = true) AS
    SELECT i.incident_id, i.provider, i.kind, i.title, i.severity, i.status, i.service,
           i.url, i.opened_at, i.acknowledged_at, i.mitigated_at, i.resolved_at
    FROM core.incidents i
    WHERE (SELECT auth.caller_teams()) IS NULL
       OR EXISTS (SELECT FROM metrics.failure_links l
                  JOIN metrics.deploy_teams dt
                    ON dt.org_id = l.org_id AND dt.deploy_id = l.deploy_id
                  WHERE l.org_id = i.org_id AND l.mode = 'default'
                    AND l.cause_kind = 'incident' AND l.cause_id = i.incident_id
                    AND dt.team_id = ANY ((SELECT auth.caller_teams())::uuid[]));

CREATE OR REPLACE VIEW api.metric_definitions WITH (security_invoker = true) AS
    SELECT d.metric, d.unit, d.better, d.unit_of, d.version, d.definition
    FROM metrics.definitions d;
