-- Buildkite Pipelines: build.* and job.* webhooks. A build is a pipeline run
-- `buildkite:build:<build uuid>`, a job a run `buildkite:job:<job uuid>` under its build.
-- Buildkite has no repository id: a repo is keyed by its git URL,
-- `buildkite:<host>/<path>`; users are `buildkite:<user uuid>`. Deploy steps are plain jobs
-- here: Buildkite does not say which steps deploy.

-- A build state as a canonical run status.
CREATE OR REPLACE FUNCTION core.buildkite_build_status(p_state text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_state)
        WHEN 'passed' THEN 'success'
        WHEN 'failed' THEN 'failure'
        WHEN 'waiting_failed' THEN 'failure'
        WHEN 'canceled' THEN 'cancelled'
        WHEN 'skipped' THEN 'skipped'
        WHEN 'not_run' THEN 'skipped'
        WHEN 'running' THEN 'running'
        WHEN 'failing' THEN 'running'
        WHEN 'canceling' THEN 'running'
        WHEN 'creating' THEN 'queued'
        WHEN 'scheduled' THEN 'queued'
        WHEN 'waiting' THEN 'queued'
        -- Stopped at a block step until someone unblocks it.
        WHEN 'blocked' THEN 'queued'
        ELSE 'unknown' END
$$;

-- A job state as a canonical run status.
CREATE OR REPLACE FUNCTION core.buildkite_job_status(p_state text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_state)
        WHEN 'passed' THEN 'success'
        WHEN 'unblocked' THEN 'success'
        WHEN 'failed' THEN 'failure'
        WHEN 'timed_out' THEN 'failure'
        WHEN 'expired' THEN 'failure'
        WHEN 'waiting_failed' THEN 'failure'
        WHEN 'blocked_failed' THEN 'failure'
        WHEN 'unblocked_failed' THEN 'failure'
        WHEN 'canceled' THEN 'cancelled'
        WHEN 'skipped' THEN 'skipped'
        -- Not run because an earlier step failed.
        WHEN 'broken' THEN 'skipped'
        WHEN 'running' THEN 'running'
        WHEN 'canceling' THEN 'running'
        WHEN 'timing_out' THEN 'running'
        WHEN 'pending' THEN 'queued'
        WHEN 'waiting' THEN 'queued'
        WHEN 'blocked' THEN 'queued'
        WHEN 'limiting' THEN 'queued'
        WHEN 'limited' THEN 'queued'
        WHEN 'scheduled' THEN 'queued'
        WHEN 'assigned' THEN 'queued'
        WHEN 'accepted' THEN 'queued'
        ELSE 'unknown' END
$$;

-- The repo id of a pipeline's repository URL; NULL when it is not a git URL.
CREATE OR REPLACE FUNCTION core.buildkite_repo_id(p_url text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'buildkite:' || r[1] || '/' || r[2] FROM core.git_remote(p_url) r
$$;

-- A pipeline's repository as a repo snapshot.
CREATE OR REPLACE FUNCTION core.buildkite_repo(p_event core.inbound, p_pipeline jsonb,
                                               p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'buildkite:' || r[1] || '/' || r[2], p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'buildkite', 'external_id', r[1] || '/' || r[2],
                   'full_name', r[2], 'url', 'https://' || r[1] || '/' || r[2],
                   'default_branch', nullif(p_pipeline->>'default_branch', ''))))::core.fact
    FROM core.git_remote(p_pipeline->>'repository') r
    WHERE r IS NOT NULL
$$;

-- Buildkite deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_buildkite(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, split_part(e.event_type, '.', 1) AS kind,
               e.payload->'build' AS b, e.payload->'job' AS j,
               core.buildkite_repo_id(e.payload->'pipeline'->>'repository') AS repo_id
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE e.kind
            WHEN 'build' THEN core.missing(p, 'build.id', 'build.state', 'pipeline.slug')
            WHEN 'job' THEN core.missing(p, 'job.id', 'job.state', 'build.id')
            END AS lacks
        FROM e
    ), ok AS (
        -- A build is told at the time of its latest transition, a job at that of its own.
        SELECT checked.*,
               CASE WHEN b->>'commit' ~* '^[0-9a-f]{7,64}$' THEN b->>'commit' END AS commit_sha,
               CASE kind
                   WHEN 'build' THEN coalesce(core.ts(b->>'finished_at'),
                                              core.ts(b->>'started_at'), core.ts(b->>'created_at'),
                                              core.ts(b->>'scheduled_at'))
                   ELSE coalesce(core.ts(j->>'finished_at'), core.ts(j->>'started_at'),
                                 core.ts(j->>'runnable_at'), core.ts(j->>'scheduled_at'),
                                 core.ts(j->>'created_at'))
               END AS vendor_at
        FROM checked
        WHERE lacks IS NULL AND kind IN ('build', 'job')
    ), timed AS (
        SELECT ok.*, coalesce(vendor_at, (ok.e).received_at) AS at FROM ok
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The pipeline's repository, and the user who created the build.
    UNION ALL
    SELECT core.buildkite_repo(e, p->'pipeline', at) FROM timed
    UNION ALL
    SELECT core.account(e, 'buildkite', u->>'id', NULL, u->>'name', u->>'email',
                        core.is_bot(u->>'name'), at)
    FROM timed, LATERAL (SELECT b->'creator' AS u) x
    WHERE kind = 'build' AND jsonb_typeof(u) = 'object' AND u->>'id' IS NOT NULL

    -- Builds.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'buildkite:build:' || (b->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'buildkite', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', coalesce(p->'pipeline'->>'name', p->'pipeline'->>'slug'),
                   'status', status, 'status_vendor', b->>'state', 'trigger', b->>'source',
                   'commit_sha', commit_sha, 'branch', nullif(b->>'branch', ''),
                   'actor_id', 'buildkite:' || (b->'creator'->>'id'), 'url', b->>'web_url',
                   'queued_at', b->>'created_at', 'started_at', b->>'started_at',
                   'finished_at', CASE WHEN status IN ('success', 'failure', 'cancelled', 'skipped')
                                       THEN b->>'finished_at' END)))::core.fact
    FROM timed, LATERAL (SELECT core.buildkite_build_status(b->>'state') AS status) x
    WHERE kind = 'build'

    -- Jobs (command, block and trigger steps; wait steps are not jobs), under their build.
    -- A job waits in the queue from the moment it can run.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'buildkite:job:' || (j->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'buildkite', 'kind', 'job', 'repo_id', repo_id,
                   'parent_run_id', 'buildkite:build:' || (b->>'id'),
                   'name', coalesce(j->>'name', j->>'label', j->>'step_key'),
                   'status', status, 'status_vendor', j->>'state',
                   'commit_sha', commit_sha, 'branch', nullif(b->>'branch', ''),
                   'url', j->>'web_url', 'queued_at', j->>'runnable_at',
                   'started_at', j->>'started_at',
                   'finished_at', CASE WHEN status IN ('success', 'failure', 'cancelled', 'skipped')
                                       THEN j->>'finished_at' END)))::core.fact
    FROM timed, LATERAL (SELECT core.buildkite_job_status(j->>'state') AS status) x
    WHERE kind = 'job' AND coalesce(j->>'type', '') <> 'waiter'
$$;
