-- GitHub: pull requests, reviews and comments, pushes, Actions runs and jobs, check
-- suites, deployments and their statuses, releases. Ids are GitHub's numeric ids
-- (stable across renames): repo `github:<repo id>`, change `github:<repo id>#<number>`,
-- actor `github:<user id>`; commit authors are git identities `git:<email>`.

-- A GitHub account (user, bot or app) as an actor snapshot (callers skip objects without
-- an id). One expression, so that the planner inlines it: it runs for every account of
-- every event.
CREATE OR REPLACE FUNCTION core.github_actor(p_event core.inbound, p_user jsonb,
                                             p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'github', p_user->>'id', p_user->>'login', p_user->>'name',
                        p_user->>'email', core.is_bot(p_user->>'login', p_user->>'type'), p_at)
$$;

-- A repository as a repo snapshot (callers skip objects without an id; inlined, as above).
CREATE OR REPLACE FUNCTION core.github_repo(p_event core.inbound, p_repo jsonb, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'github:' || (p_repo->>'id'), p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'external_id', p_repo->>'id',
                   'full_name', p_repo->>'full_name', 'url', p_repo->>'html_url',
                   'default_branch', p_repo->>'default_branch',
                   'is_private', (p_repo->>'private')::boolean)))::core.fact
$$;

-- Actions and check-suite status/conclusion as a canonical run status.
CREATE OR REPLACE FUNCTION core.github_run_status(p_status text, p_conclusion text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_status IN ('queued', 'requested', 'waiting', 'pending') THEN 'queued'
        WHEN p_status = 'in_progress' THEN 'running'
        WHEN p_status = 'completed' THEN CASE
            WHEN p_conclusion = 'success' THEN 'success'
            WHEN p_conclusion IN ('failure', 'timed_out', 'startup_failure') THEN 'failure'
            WHEN p_conclusion = 'cancelled' THEN 'cancelled'
            WHEN p_conclusion IN ('skipped', 'neutral') THEN 'skipped'
            ELSE 'unknown' END
        ELSE 'unknown' END
$$;

-- The attributes of a pull request object (full, or the simple form reviews carry: only
-- what it states is said).
CREATE OR REPLACE FUNCTION core.github_change_attrs(p_repo_id text, p_pr jsonb, p_action text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'provider', 'github', 'repo_id', p_repo_id,
               'number', (p_pr->>'number')::bigint, 'external_id', p_pr->>'id',
               'title', p_pr->>'title', 'state', p_pr->>'state',
               'is_draft', (p_pr->>'draft')::boolean,
               'author_id', 'github:' || (p_pr->'user'->>'id'), 'url', p_pr->>'html_url',
               'base_branch', p_pr->'base'->>'ref', 'head_branch', p_pr->'head'->>'ref',
               'head_sha', p_pr->'head'->>'sha', 'opened_at', p_pr->>'created_at',
               'ready_at', CASE
                   WHEN p_action = 'ready_for_review' THEN p_pr->>'updated_at'
                   WHEN p_action = 'opened' AND NOT coalesce((p_pr->>'draft')::boolean, false)
                       THEN p_pr->>'created_at' END,
               'additions', (p_pr->>'additions')::int, 'deletions', (p_pr->>'deletions')::int,
               'files_changed', (p_pr->>'changed_files')::int,
               'commits_count', (p_pr->>'commits')::int,
               'labels', CASE WHEN p_pr ? 'labels' THEN coalesce(
                   (SELECT jsonb_agg(l->>'name' ORDER BY l->>'name')
                    FROM jsonb_array_elements(p_pr->'labels') l), '[]') END,
               'work_item_keys', to_jsonb(core.work_item_keys(
                   p_pr->>'title', p_pr->'head'->>'ref', p_pr->>'body'))))
        || core.stated(p_pr, 'merged_at') || core.stated(p_pr, 'closed_at')
        || CASE WHEN p_pr->>'merged_at' IS NOT NULL
                THEN core.stated(p_pr, 'merge_commit_sha') ELSE '{}' END
        || CASE WHEN p_pr ? 'merged_by'
                THEN jsonb_build_object('merged_by_id', 'github:' || (p_pr->'merged_by'->>'id'))
                ELSE '{}' END
$$;

-- The attributes of a deployment object (shared by deployment and deployment_status).
CREATE OR REPLACE FUNCTION core.github_deploy_attrs(p_repo jsonb, p_d jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'provider', 'github', 'kind', 'deployment', 'repo_id', 'github:' || (p_repo->>'id'),
        'service', coalesce(p_d->'payload'->>'service', p_repo->>'full_name'),
        'environment', p_d->>'environment', 'ref', p_d->>'ref', 'commit_sha', p_d->>'sha',
        'commit_shas', jsonb_build_array(p_d->>'sha'),
        'actor_id', 'github:' || (p_d->'creator'->>'id'), 'url', p_d->>'url',
        'description', p_d->>'description', 'started_at', p_d->>'created_at',
        'is_rollback', concat_ws(' ', p_d->>'task', p_d->>'description') ~* '(rollback|roll back|revert)',
        'is_hotfix', concat_ws(' ', p_d->>'ref', p_d->>'description') ~* 'hotfix'))
$$;

-- GitHub deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_github(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, split_part(e.event_type, '.', 1) AS kind,
               nullif(split_part(e.event_type, '.', 2), '') AS action,
               'github:' || (e.payload->'repository'->>'id') AS repo_id
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE e.kind
            WHEN 'pull_request' THEN core.missing(p, 'repository.id', 'pull_request.number',
                                                  'pull_request.updated_at', 'pull_request.user.id')
            WHEN 'pull_request_review' THEN core.missing(p, 'repository.id', 'pull_request.number',
                                                         'review.id', 'review.state')
            WHEN 'pull_request_review_comment' THEN core.missing(p, 'repository.id',
                'pull_request.number', 'comment.id', 'comment.created_at')
            WHEN 'issue_comment' THEN core.missing(p, 'repository.id', 'issue.number',
                                                   'comment.id', 'comment.created_at')
            WHEN 'push' THEN core.missing(p, 'repository.id', 'ref')
            WHEN 'workflow_run' THEN core.missing(p, 'repository.id', 'workflow_run.id',
                                                  'workflow_run.status', 'workflow_run.updated_at')
            WHEN 'workflow_job' THEN core.missing(p, 'repository.id', 'workflow_job.id',
                                                  'workflow_job.run_id', 'workflow_job.status')
            WHEN 'check_suite' THEN core.missing(p, 'repository.id', 'check_suite.id',
                                                 'check_suite.status', 'check_suite.updated_at')
            WHEN 'deployment' THEN core.missing(p, 'repository.id', 'deployment.id',
                                                'deployment.created_at')
            WHEN 'deployment_status' THEN core.missing(p, 'repository.id', 'deployment.id',
                'deployment_status.state', 'deployment_status.created_at')
            WHEN 'release' THEN core.missing(p, 'repository.id', 'release.id')
            END AS lacks
        FROM e
    ), ok AS (
        SELECT * FROM checked WHERE lacks IS NULL
    ), pr AS (
        -- Pull request events, and the pull request that reviews and comments carry.
        SELECT ok.*, p->'pull_request' AS pr, core.ts(p->'pull_request'->>'updated_at') AS at
        FROM ok WHERE kind IN ('pull_request', 'pull_request_review', 'pull_request_review_comment')
    ), commits AS (
        SELECT ok.*, c,
               nullif(regexp_replace(p->>'ref', '^refs/heads/', ''), p->>'ref') AS branch,
               coalesce(CASE WHEN jsonb_typeof(p->'repository'->'pushed_at') = 'number'
                             THEN core.ts_epoch((p->'repository'->>'pushed_at')::numeric) END,
                        core.ts(p->'head_commit'->>'timestamp'),
                        core.ts(c->>'timestamp')) AS pushed_at
        FROM ok, jsonb_array_elements(coalesce(p->'commits', '[]')) c
        WHERE kind = 'push'
    ), event_time AS (
        -- The vendor's time of what the event says.
        SELECT ok.*, coalesce(CASE kind
            WHEN 'pull_request' THEN core.ts(p->'pull_request'->>'updated_at')
            WHEN 'pull_request_review' THEN core.ts(p->'pull_request'->>'updated_at')
            WHEN 'pull_request_review_comment' THEN core.ts(p->'comment'->>'updated_at')
            WHEN 'issue_comment' THEN core.ts(p->'comment'->>'updated_at')
            WHEN 'workflow_run' THEN core.ts(p->'workflow_run'->>'updated_at')
            WHEN 'workflow_job' THEN core.ts(coalesce(p->'workflow_job'->>'completed_at',
                                                      p->'workflow_job'->>'started_at',
                                                      p->'workflow_job'->>'created_at'))
            WHEN 'check_suite' THEN core.ts(p->'check_suite'->>'updated_at')
            WHEN 'deployment' THEN core.ts(p->'deployment'->>'created_at')
            WHEN 'deployment_status' THEN core.ts(p->'deployment_status'->>'created_at')
            WHEN 'release' THEN core.ts(coalesce(p->'release'->>'published_at',
                                                 p->'release'->>'created_at'))
            WHEN 'push' THEN coalesce(
                CASE WHEN jsonb_typeof(p->'repository'->'pushed_at') = 'number'
                     THEN core.ts_epoch((p->'repository'->>'pushed_at')::numeric) END,
                core.ts(p->'head_commit'->>'timestamp'))
            END, (ok.e).received_at) AS at
        FROM ok
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL AND kind IN (
        'pull_request', 'pull_request_review', 'pull_request_review_comment', 'issue_comment',
        'push', 'workflow_run', 'workflow_job', 'check_suite', 'deployment',
        'deployment_status', 'release')

    -- Repositories and the accounts that acted, from every event we use.
    UNION ALL
    SELECT core.github_repo(e, p->'repository', at) FROM event_time
    WHERE p->'repository'->>'id' IS NOT NULL AND kind IN ('pull_request', 'pull_request_review', 'pull_request_review_comment',
                   'issue_comment', 'push', 'workflow_run', 'workflow_job', 'check_suite',
                   'deployment', 'deployment_status', 'release')
    UNION ALL
    SELECT core.github_actor(e, u, at)
    FROM event_time, LATERAL (VALUES (p->'sender'), (p->'pull_request'->'user'),
                                     (p->'pull_request'->'merged_by'), (p->'review'->'user'),
                                     (p->'comment'->'user'), (p->'workflow_run'->'actor'),
                                     (p->'deployment'->'creator')) AS v(u)
    WHERE u->>'id' IS NOT NULL
      AND kind IN ('pull_request', 'pull_request_review', 'pull_request_review_comment',
                   'issue_comment', 'push', 'workflow_run', 'workflow_job', 'check_suite',
                   'deployment', 'deployment_status', 'release')

    -- Changes.
    UNION ALL
    SELECT ROW((e).event_id, 'change', repo_id || '#' || (pr->>'number'), at,
               core.github_change_attrs(repo_id,  pr, CASE WHEN kind = 'pull_request' THEN action END))::core.fact
    FROM pr

    -- Reviews and comments.
    UNION ALL
    SELECT ROW((e).event_id, 'review', 'github:review:' || (p->'review'->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'change_id', repo_id || '#' || (pr->>'number'),
                   'reviewer_id', 'github:' || (p->'review'->'user'->>'id'), 'kind', 'review',
                   'state', CASE lower(p->'review'->>'state')
                                WHEN 'approved' THEN 'approved'
                                WHEN 'changes_requested' THEN 'changes_requested'
                                WHEN 'dismissed' THEN 'dismissed'
                                ELSE 'commented' END,
                   'submitted_at', coalesce(p->'review'->>'submitted_at', pr->>'updated_at'))))::core.fact
    FROM pr WHERE kind = 'pull_request_review'
    UNION ALL
    SELECT ROW((e).event_id, 'review', 'github:comment:' || (p->'comment'->>'id'),
               core.ts(p->'comment'->>'created_at'),
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github',
                   'change_id', repo_id || '#' || coalesce(p->'pull_request'->>'number',
                                                           p->'issue'->>'number'),
                   'reviewer_id', 'github:' || (p->'comment'->'user'->>'id'), 'kind', 'comment',
                   'state', 'commented', 'submitted_at', p->'comment'->>'created_at')))::core.fact
    FROM ok
    WHERE (kind = 'pull_request_review_comment' OR (kind = 'issue_comment'
           AND p->'issue' ? 'pull_request'))
      AND coalesce(action, 'created') = 'created'

    -- Commits pushed, and their authors as git identities.
    UNION ALL
    SELECT core.pushed_commit(e, 'github', repo_id, c, branch, pushed_at) FROM commits
    UNION ALL
    SELECT core.git_author(e, c->'author'->>'name', c->'author'->>'email',
                           core.is_bot(c->'author'->>'username'), pushed_at)
    FROM commits WHERE c->'author'->>'email' <> ''

    -- Actions workflow runs and jobs, and check suites.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run',
               'github:run:' || (r->>'id') || ':' || coalesce(r->>'run_attempt', '1'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', r->>'name', 'attempt', (r->>'run_attempt')::int,
                   'status', core.github_run_status(r->>'status', r->>'conclusion'),
                   'status_vendor', coalesce(r->>'conclusion', r->>'status'),
                   'trigger', r->>'event', 'commit_sha', r->>'head_sha',
                   'branch', r->>'head_branch', 'actor_id', 'github:' || (r->'actor'->>'id'),
                   'url', r->>'html_url', 'queued_at', r->>'created_at',
                   'started_at', r->>'run_started_at',
                   'finished_at', CASE WHEN r->>'status' = 'completed' THEN r->>'updated_at' END)))::core.fact
    FROM event_time, LATERAL (SELECT p->'workflow_run' AS r) x
    WHERE kind = 'workflow_run'
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'github:job:' || (j->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'kind', 'job', 'repo_id', repo_id,
                   'parent_run_id', 'github:run:' || (j->>'run_id') || ':'
                                    || coalesce(j->>'run_attempt', '1'),
                   'name', j->>'name', 'attempt', (j->>'run_attempt')::int,
                   'status', core.github_run_status(j->>'status', j->>'conclusion'),
                   'status_vendor', coalesce(j->>'conclusion', j->>'status'),
                   'commit_sha', j->>'head_sha', 'branch', j->>'head_branch',
                   'url', j->>'html_url', 'queued_at', j->>'created_at',
                   'started_at', j->>'started_at', 'finished_at', j->>'completed_at')))::core.fact
    FROM event_time, LATERAL (SELECT p->'workflow_job' AS j) x
    WHERE kind = 'workflow_job'
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'github:check_suite:' || (s->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'kind', 'check_suite', 'repo_id', repo_id,
                   'name', s->'app'->>'name',
                   'status', core.github_run_status(s->>'status', s->>'conclusion'),
                   'status_vendor', coalesce(s->>'conclusion', s->>'status'),
                   'commit_sha', s->>'head_sha', 'branch', s->>'head_branch',
                   'queued_at', s->>'created_at',
                   'finished_at', CASE WHEN s->>'status' = 'completed' THEN s->>'updated_at' END)))::core.fact
    FROM event_time, LATERAL (SELECT p->'check_suite' AS s) x
    WHERE kind = 'check_suite'

    -- Deployments, their statuses, and releases.
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'github:deployment:' || (p->'deployment'->>'id'),
               core.ts(p->'deployment'->>'created_at'),
               core.github_deploy_attrs(p->'repository', p->'deployment'))::core.fact
    FROM ok WHERE kind = 'deployment'
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'github:deployment:' || (p->'deployment'->>'id'),
               core.ts(s->>'created_at'),
               core.github_deploy_attrs(p->'repository', p->'deployment')
               || jsonb_strip_nulls(jsonb_build_object(
                   'environment', coalesce(s->>'environment', p->'deployment'->>'environment'),
                   'status_vendor', s->>'state',
                   'status', CASE s->>'state'
                       WHEN 'success' THEN 'success'
                       WHEN 'failure' THEN 'failure' WHEN 'error' THEN 'failure'
                       WHEN 'in_progress' THEN 'running'
                       WHEN 'queued' THEN 'pending' WHEN 'pending' THEN 'pending' END,
                   'started_at', CASE WHEN s->>'state' = 'in_progress' THEN s->>'created_at' END,
                   'finished_at', CASE WHEN s->>'state' IN ('success', 'failure', 'error')
                                       THEN s->>'created_at' END,
                   'url', coalesce(s->>'target_url', s->>'environment_url'))))::core.fact
    FROM ok, LATERAL (SELECT p->'deployment_status' AS s) x
    -- `inactive` only says a later deployment superseded this one: it changes nothing.
    WHERE kind = 'deployment_status' AND s->>'state' <> 'inactive'
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'github:release:' || (r->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'github', 'kind', 'release', 'repo_id', repo_id,
                   'service', p->'repository'->>'full_name', 'environment', 'release',
                   'status', 'success', 'ref', r->>'tag_name',
                   'actor_id', 'github:' || (r->'author'->>'id'), 'url', r->>'html_url',
                   'description', r->>'name',
                   'started_at', coalesce(r->>'published_at', r->>'created_at'),
                   'finished_at', coalesce(r->>'published_at', r->>'created_at'),
                   'is_hotfix', concat_ws(' ', r->>'tag_name', r->>'name') ~* 'hotfix')))::core.fact
    FROM event_time, LATERAL (SELECT p->'release' AS r) x
    WHERE kind = 'release' AND action IN ('published', 'released')
$$;
