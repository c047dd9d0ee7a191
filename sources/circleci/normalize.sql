-- CircleCI: outbound webhooks workflow-completed and job-completed. A workflow is a pipeline
-- run `circleci:workflow:<workflow id>` (a rerun is a new workflow with a new id), a job is a
-- run `circleci:job:<job id>` under its workflow; the project is the repo
-- `circleci:<project id>` (its name and URL from the VCS data when the payload has it);
-- CircleCI users are `circleci:<user id>`.

-- A CircleCI workflow or job status as a canonical run status. The webhooks send terminal
-- statuses only; the others are those of CircleCI's API, should they ever appear.
CREATE OR REPLACE FUNCTION core.circleci_run_status(p_status text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_status)
        WHEN 'success' THEN 'success'
        WHEN 'failed' THEN 'failure'
        WHEN 'error' THEN 'failure'
        WHEN 'infrastructure_fail' THEN 'failure'
        WHEN 'timedout' THEN 'failure'
        WHEN 'terminated-unknown' THEN 'failure'
        -- Refused to run (e.g. a restricted context): it did not pass.
        WHEN 'unauthorized' THEN 'failure'
        WHEN 'canceled' THEN 'cancelled'
        WHEN 'not_run' THEN 'skipped'
        WHEN 'running' THEN 'running'
        WHEN 'failing' THEN 'running'
        WHEN 'queued' THEN 'queued'
        WHEN 'not_running' THEN 'queued'
        WHEN 'on_hold' THEN 'queued'
        WHEN 'blocked' THEN 'queued'
        ELSE 'unknown' END
$$;

-- The project as a repo snapshot: named after the repository URL, else after the
-- project slug when it is the `gh/<org>/<repo>` kind, else the project's name.
CREATE OR REPLACE FUNCTION core.circleci_repo(p_event core.inbound, p_project jsonb,
                                              p_url text, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'circleci:' || (p_project->>'id'), p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'circleci', 'external_id', p_project->>'id',
                   'full_name', coalesce(r[2], CASE
                       WHEN p_project->>'slug' ~ '^(gh|github|bb|bitbucket)/[^/]+/[^/]+$'
                           THEN regexp_replace(p_project->>'slug', '^[^/]+/', '')
                       ELSE p_project->>'name' END),
                   'url', 'https://' || r[1] || '/' || r[2])))::core.fact
    FROM (SELECT core.git_remote(p_url) AS r) x
    WHERE p_project->>'id' IS NOT NULL
$$;

-- CircleCI deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_circleci(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.event_type AS kind,
               'circleci:' || (e.payload->'project'->>'id') AS repo_id,
               e.payload->'pipeline'->'vcs' AS vcs,
               e.payload->'pipeline'->'trigger_parameters' AS tp
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE e.kind
            WHEN 'workflow-completed' THEN core.missing(p, 'project.id', 'workflow.id',
                                                        'workflow.status')
            WHEN 'job-completed' THEN core.missing(p, 'project.id', 'workflow.id', 'job.id',
                                                   'job.status')
            END AS lacks
        FROM e
    ), ok AS (
        -- What the pipeline says, from the VCS map (GitHub OAuth, Bitbucket Cloud) or the
        -- trigger parameters (GitLab, GitHub App, Bitbucket Data Center).
        SELECT checked.*,
               coalesce(nullif(vcs->>'target_repository_url', ''),
                        nullif(vcs->>'origin_repository_url', ''),
                        nullif(tp->'github_app'->>'web_url', ''),
                        nullif(tp->'gitlab'->>'web_url', ''),
                        nullif(tp->'git'->>'checkout_url', '')) AS repo_url,
               (SELECT s FROM (VALUES (1, vcs->>'revision'), (2, tp->'git'->>'checkout_sha'),
                                      (3, tp->'github_app'->>'checkout_sha'),
                                      (4, tp->'gitlab'->>'checkout_sha')) v(i, s)
                WHERE s ~* '^[0-9a-f]{7,64}$' ORDER BY i LIMIT 1) AS commit_sha,
               coalesce(nullif(vcs->>'branch', ''), nullif(tp->'git'->>'branch', ''),
                        nullif(tp->'github_app'->>'branch', ''),
                        nullif(tp->'gitlab'->>'branch', '')) AS branch,
               nullif(tp->'circleci'->>'actor_id', '') AS actor,
               coalesce(core.ts(p->'job'->>'stopped_at'),
                        CASE WHEN kind = 'workflow-completed'
                             THEN core.ts(p->'workflow'->>'stopped_at') END,
                        core.ts(p->>'happened_at'), (checked.e).received_at) AS at
        FROM checked
        WHERE lacks IS NULL AND kind IN ('workflow-completed', 'job-completed')
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The project, and the CircleCI user the pipeline is attributed to.
    UNION ALL
    SELECT core.circleci_repo(e, p->'project', repo_url, at) FROM ok
    UNION ALL
    SELECT core.account(e, 'circleci', actor, NULL, NULL, NULL, false, at)
    FROM ok WHERE actor IS NOT NULL

    -- Workflows. CircleCI measures a workflow from its creation, so that is its start.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'circleci:workflow:' || (w->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'circleci', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', w->>'name', 'status', status, 'status_vendor', w->>'status',
                   'trigger', p->'pipeline'->'trigger'->>'type', 'commit_sha', commit_sha,
                   'branch', branch, 'actor_id', 'circleci:' || actor, 'url', w->>'url',
                   'queued_at', w->>'created_at', 'started_at', w->>'created_at',
                   'finished_at', CASE WHEN status IN ('success', 'failure', 'cancelled',
                                                       'skipped')
                                       THEN coalesce(w->>'stopped_at', p->>'happened_at')
                                  END)))::core.fact
    FROM ok, LATERAL (SELECT p->'workflow' AS w,
                             core.circleci_run_status(p->'workflow'->>'status') AS status) x
    WHERE kind = 'workflow-completed'

    -- Jobs, under their workflow.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'circleci:job:' || (j->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'circleci', 'kind', 'job', 'repo_id', repo_id,
                   'parent_run_id', 'circleci:workflow:' || (p->'workflow'->>'id'),
                   'name', j->>'name', 'status', status, 'status_vendor', j->>'status',
                   'commit_sha', commit_sha, 'branch', branch,
                   'url', (p->'workflow'->>'url') || '/jobs/' || (j->>'number'),
                   'started_at', j->>'started_at',
                   'finished_at', CASE WHEN status IN ('success', 'failure', 'cancelled',
                                                       'skipped')
                                       THEN coalesce(j->>'stopped_at', p->>'happened_at')
                                  END)))::core.fact
    FROM ok, LATERAL (SELECT p->'job' AS j,
                             core.circleci_run_status(p->'job'->>'status') AS status) x
    WHERE kind = 'job-completed'
$$;
