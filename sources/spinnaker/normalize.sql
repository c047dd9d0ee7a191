-- Spinnaker (Echo REST events): orca:pipeline:starting / complete / failed. Every pipeline
-- execution is a pipeline run `spinnaker:<execution id>`; one that has a deploy stage is also
-- a deploy `spinnaker:<execution id>` of its application. Spinnaker users are
-- `spinnaker:<username>`. Stage, task and orchestration events are not used.

-- An execution status as a canonical run status.
CREATE OR REPLACE FUNCTION core.spinnaker_run_status(p_status text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE upper(p_status)
        WHEN 'SUCCEEDED' THEN 'success'
        WHEN 'TERMINAL' THEN 'failure'
        WHEN 'FAILED_CONTINUE' THEN 'failure'
        WHEN 'CANCELED' THEN 'cancelled'
        -- Halted by a stage (e.g. a failed precondition): what followed never ran.
        WHEN 'STOPPED' THEN 'cancelled'
        WHEN 'SKIPPED' THEN 'skipped'
        WHEN 'RUNNING' THEN 'running'
        WHEN 'PAUSED' THEN 'running'
        WHEN 'SUSPENDED' THEN 'running'
        WHEN 'REDIRECT' THEN 'running'
        WHEN 'NOT_STARTED' THEN 'queued'
        WHEN 'BUFFERED' THEN 'queued'
        ELSE 'unknown' END
$$;

-- Stage types that deploy (and, among them, roll back).
CREATE OR REPLACE FUNCTION core.spinnaker_deploy_stage(p_type text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_type IN ('deploy', 'deployManifest', 'createServerGroup', 'cloneServerGroup',
                      'deployCloudFormation', 'deployService', 'rollbackServerGroup',
                      'rollbackCluster', 'undoRolloutManifest')
$$;

-- The environment of an execution: an `environment` / `env` trigger parameter, else the
-- first of the first deploy stage's account and the pipeline's name that names a known
-- environment (prod, staging, qa, dev...), else the pipeline's name.
CREATE OR REPLACE FUNCTION core.spinnaker_environment(p_execution jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT nullif(m.value, '')
         FROM jsonb_each_text(
                  CASE WHEN jsonb_typeof(p_execution->'trigger'->'parameters') = 'object'
                       THEN p_execution->'trigger'->'parameters' END) m
         WHERE lower(m.key) IN ('environment', 'env') AND m.value <> ''
         ORDER BY lower(m.key) DESC, m.key LIMIT 1),
        (SELECT c FROM unnest(ARRAY[
                    (SELECT coalesce(s->'context'->>'account', s->'context'->>'credentials',
                                     s->'context'->'clusters'->0->>'account')
                     FROM jsonb_array_elements(coalesce(p_execution->'stages', '[]'))
                          WITH ORDINALITY AS st(s, i)
                     WHERE core.spinnaker_deploy_stage(s->>'type') ORDER BY i LIMIT 1),
                    p_execution->>'name']) WITH ORDINALITY AS t(c, i)
         WHERE c IS NOT NULL AND core.environment_class(NULL, c) <> 'other'
         ORDER BY i LIMIT 1),
        p_execution->>'name')
$$;

-- Spinnaker events into facts.
CREATE OR REPLACE FUNCTION core.normalize_spinnaker(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        -- Echo wraps the event as {eventName, payload} when the endpoint has `wrap: true`.
        SELECT e, b AS p, b->'content'->'execution' AS x, b->'details'->>'type' AS kind
        FROM unnest(p_events) e,
             LATERAL (SELECT CASE WHEN e.payload ? 'eventName'
                                       AND jsonb_typeof(e.payload->'payload') = 'object'
                                  THEN e.payload->'payload' ELSE e.payload END AS b) w
    ), checked AS (
        SELECT e.*, CASE WHEN kind IN ('orca:pipeline:starting', 'orca:pipeline:complete',
                                       'orca:pipeline:failed')
                         THEN coalesce(core.missing(p, 'content.execution.id',
                                                    'content.execution.name'),
                                       CASE WHEN coalesce(x->>'application',
                                                          p->'details'->>'application') IS NULL
                                            THEN 'content.execution.application' END)
                    END AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*,
               coalesce(x->>'application', p->'details'->>'application') AS application,
               CASE WHEN kind = 'orca:pipeline:starting'
                        THEN CASE WHEN upper(x->>'status') IN ('NOT_STARTED', 'BUFFERED')
                                  THEN 'queued' ELSE 'running' END
                    WHEN upper(x->>'status') IN ('SUCCEEDED', 'TERMINAL', 'FAILED_CONTINUE',
                                                 'CANCELED', 'STOPPED', 'SKIPPED')
                        THEN core.spinnaker_run_status(x->>'status')
                    WHEN (x->>'canceled')::boolean THEN 'cancelled'
                    WHEN kind = 'orca:pipeline:complete' THEN 'success'
                    ELSE 'failure' END AS status,
               CASE WHEN jsonb_typeof(x->'startTime') = 'number'
                    THEN core.ts_epoch((x->>'startTime')::numeric) END AS started,
               CASE WHEN jsonb_typeof(x->'endTime') = 'number' AND kind <> 'orca:pipeline:starting'
                    THEN core.ts_epoch((x->>'endTime')::numeric) END AS ended,
               CASE WHEN p->'details'->>'created' ~ '^[0-9]+$'
                    THEN core.ts_epoch((p->'details'->>'created')::numeric) END AS created,
               nullif(nullif(x->'trigger'->>'user', ''), '[anonymous]') AS username,
               coalesce(x->'trigger'->>'hash',
                        x->'trigger'->'buildInfo'->'scm'->0->>'sha1') AS revision,
               coalesce(nullif(x->'trigger'->>'branch', ''),
                        x->'trigger'->'buildInfo'->'scm'->0->>'branch') AS branch
        FROM checked
        WHERE lacks IS NULL AND kind IN ('orca:pipeline:starting', 'orca:pipeline:complete',
                                         'orca:pipeline:failed')
    ), timed AS (
        SELECT ok.*,
               CASE WHEN revision ~* '^[0-9a-f]{7,64}$' THEN revision END AS commit_sha,
               CASE WHEN kind = 'orca:pipeline:starting' THEN coalesce(started, created)
                    ELSE coalesce(ended, created) END AS vendor_at,
               -- The deploy's end: the execution's, or the event's when it has none.
               CASE WHEN kind <> 'orca:pipeline:starting' THEN coalesce(ended, created) END AS done,
               EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(x->'stages', '[]')) s
                       WHERE core.spinnaker_deploy_stage(s->>'type')) AS deploys,
               EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(x->'stages', '[]')) s
                       WHERE s->>'type' IN ('rollbackServerGroup', 'rollbackCluster',
                                            'undoRolloutManifest')) AS rolls_back
        FROM ok
    ), f AS (
        SELECT timed.*, coalesce(vendor_at, (timed.e).received_at) AS at,
               to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_iso,
               to_char(done AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS done_iso,
               to_char(CASE WHEN jsonb_typeof(x->'buildTime') = 'number'
                            THEN core.ts_epoch((x->>'buildTime')::numeric) END
                       AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS built_iso
        FROM timed
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The user who triggered the execution (automated triggers run as `[anonymous]`).
    UNION ALL
    SELECT core.account(e, 'spinnaker', username, username, NULL, username,
                        core.is_bot(username), at)
    FROM f WHERE username IS NOT NULL

    -- Every pipeline execution.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'spinnaker:' || (x->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'spinnaker', 'kind', 'pipeline',
                   'name', application || '/' || (x->>'name'), 'status', status,
                   'status_vendor', x->>'status', 'trigger', x->'trigger'->>'type',
                   'commit_sha', commit_sha, 'branch', branch,
                   'actor_id', 'spinnaker:' || username, 'queued_at', built_iso,
                   'started_at', started_iso,
                   'finished_at', CASE WHEN status NOT IN ('queued', 'running')
                                       THEN done_iso END)))::core.fact
    FROM f

    -- Executions that deploy.
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'spinnaker:' || (x->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'spinnaker', 'kind', 'deployment', 'service', application,
                   'environment', core.spinnaker_environment(x),
                   'status', CASE status WHEN 'queued' THEN 'pending'
                                         WHEN 'skipped' THEN 'cancelled' ELSE status END,
                   'status_vendor', x->>'status',
                   'ref', coalesce(nullif(x->'trigger'->>'tag', ''), branch),
                   'commit_sha', commit_sha,
                   'commit_shas', CASE WHEN commit_sha IS NOT NULL
                                       THEN jsonb_build_array(commit_sha) END,
                   'actor_id', 'spinnaker:' || username, 'description', x->>'name',
                   'started_at', started_iso,
                   'finished_at', CASE WHEN status NOT IN ('queued', 'running') THEN done_iso END,
                   'is_rollback', rolls_back OR x->>'name' ~* '(rollback|roll back|revert)',
                   'is_hotfix', concat_ws(' ', x->>'name', branch) ~* 'hotfix')))::core.fact
    FROM f WHERE deploys
$$;
