-- Jenkins (Notification plugin): the QUEUED, STARTED, COMPLETED and FINALIZED phases of a
-- build. A build is a pipeline run keyed by its URL without the scheme,
-- `jenkins:<host>/job/<folder>/job/<name>/<number>` (the relative build URL when Jenkins has no
-- root URL); its repository (scm.url) is the repo `jenkins:<host>/<path>`.
--
-- The plugin's `build.timestamp` is the time of the phase in epoch milliseconds: QUEUED the
-- enqueue time, STARTED the start, COMPLETED start + duration, FINALIZED the moment of
-- finalization. Old plugin versions sent instead the build's start as a date string in every
-- phase; then COMPLETED and FINALIZED are placed at start + duration. Phases that tell the
-- same time are ordered QUEUED < STARTED < COMPLETED < FINALIZED (a microsecond apart).

-- A build result as a canonical run status.
CREATE OR REPLACE FUNCTION core.jenkins_run_status(p_result text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE upper(p_result)
        WHEN 'SUCCESS' THEN 'success'
        WHEN 'FAILURE' THEN 'failure'
        -- Built, but tests failed.
        WHEN 'UNSTABLE' THEN 'failure'
        WHEN 'ABORTED' THEN 'cancelled'
        WHEN 'NOT_BUILT' THEN 'skipped'
        ELSE 'unknown' END
$$;

-- A time as an ISO 8601 UTC string (facts must not depend on the session's time zone).
CREATE OR REPLACE FUNCTION core.jenkins_iso(p_at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Jenkins notifications into facts.
CREATE OR REPLACE FUNCTION core.normalize_jenkins(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'build' AS b,
               upper(e.payload->'build'->>'phase') AS phase
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE WHEN (e).event_type LIKE 'build.%'
                         THEN core.missing(p, 'name', 'build.number', 'build.phase', 'build.url')
                    END AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*,
               CASE WHEN jsonb_typeof(b->'timestamp') = 'number'
                    THEN core.ts_epoch((b->>'timestamp')::numeric) END AS phase_time,
               CASE WHEN jsonb_typeof(b->'timestamp') = 'string'
                    THEN core.ts(b->>'timestamp') END AS start_time_old,
               CASE WHEN jsonb_typeof(b->'duration') = 'number' AND (b->>'duration')::numeric > 0
                    THEN make_interval(secs => (b->>'duration')::numeric / 1000) END AS duration,
               array_position(ARRAY['QUEUED', 'STARTED', 'COMPLETED', 'FINALIZED'], phase) AS rank,
               core.git_remote(b->'scm'->>'url') AS remote
        FROM checked
        WHERE lacks IS NULL AND phase IN ('QUEUED', 'STARTED', 'COMPLETED', 'FINALIZED')
    ), timed AS (
        SELECT ok.*,
               'jenkins:' || rtrim(regexp_replace(coalesce(b->>'full_url', b->>'url'),
                                                  '^[a-z]+://', '', 'i'), '/') AS run_id,
               CASE WHEN remote IS NOT NULL THEN 'jenkins:' || remote[1] || '/' || remote[2]
               END AS repo_id,
               -- When the build started and when it finished, as far as this phase tells.
               CASE WHEN phase = 'STARTED' THEN phase_time
                    WHEN phase = 'COMPLETED' THEN phase_time - duration
                    ELSE NULL END AS started,
               CASE WHEN phase = 'COMPLETED' THEN phase_time END AS finished,
               coalesce(phase_time, CASE WHEN phase IN ('COMPLETED', 'FINALIZED')
                                         THEN start_time_old + coalesce(duration, '0')
                                         ELSE start_time_old END,
                        (ok.e).received_at) AS vendor_at
        FROM ok
    ), ordered AS (
        SELECT timed.*, vendor_at + make_interval(secs => rank / 1000000.0) AS at FROM timed
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The repository the build checked out.
    UNION ALL
    SELECT ROW((e).event_id, 'repo', repo_id, vendor_at,
               jsonb_build_object('provider', 'jenkins',
                                  'external_id', remote[1] || '/' || remote[2],
                                  'full_name', remote[2],
                                  'url', 'https://' || remote[1] || '/' || remote[2]))::core.fact
    FROM ordered WHERE repo_id IS NOT NULL

    -- Builds. Their name is the job's full name (folders included), from the job URL.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', run_id, at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'jenkins', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', coalesce(nullif(btrim(regexp_replace(p->>'url', '(^|/)job/', '\1', 'g'),
                                                 '/'), ''),
                                    p->>'name'),
                   'status', CASE WHEN phase = 'QUEUED' THEN 'queued'
                                  WHEN phase = 'STARTED' THEN 'running'
                                  WHEN b->>'status' IS NOT NULL
                                      THEN core.jenkins_run_status(b->>'status') END,
                   'status_vendor', coalesce(b->>'status', phase),
                   'commit_sha', CASE WHEN b->'scm'->>'commit' ~* '^[0-9a-f]{7,64}$'
                                      THEN b->'scm'->>'commit' END,
                   'branch', nullif(regexp_replace(
                                 b->'scm'->>'branch', '^(refs/remotes/[^/]+/|refs/heads/|origin/)',
                                 ''), ''),
                   'url', b->>'full_url',
                   'queued_at', core.jenkins_iso(CASE WHEN phase = 'QUEUED' THEN phase_time END),
                   'started_at', core.jenkins_iso(coalesce(started, start_time_old)),
                   'finished_at', core.jenkins_iso(coalesce(finished,
                       CASE WHEN phase IN ('COMPLETED', 'FINALIZED')
                            THEN start_time_old + duration END)))))::core.fact
    FROM ordered
$$;
