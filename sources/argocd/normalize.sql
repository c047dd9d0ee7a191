-- Argo CD notifications through our webhook template (sources/argocd/__init__.py):
-- app.deployed, app.sync_failed, app.health_degraded. Each sync operation of an application is
-- a deploy of kind sync, `argocd:<app uid>@<operation start, UTC>` (the deployed and failed
-- notifications of one operation meet there); its service is the application's name. The
-- source repository is the repo `argocd:<host>/<path>`; Argo CD users are
-- `argocd:<username>`.
--
-- A degraded health only says the application is unhealthy now, with no end: it changes no
-- deploy (and opens no alert, which nothing would ever resolve) unless its body states that
-- the last sync failed.

-- A template value, NULL when empty or rendered from a missing field (`<no value>`).
CREATE OR REPLACE FUNCTION core.argocd_text(p_value text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(nullif(btrim(p_value), ''), '<no value>')
$$;

-- An operation phase as a canonical deploy status.
CREATE OR REPLACE FUNCTION core.argocd_deploy_status(p_phase text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_phase
        WHEN 'Succeeded' THEN 'success'
        WHEN 'Failed' THEN 'failure'
        WHEN 'Error' THEN 'failure'
        WHEN 'Running' THEN 'running'
        WHEN 'Terminating' THEN 'running'
        ELSE 'unknown' END
$$;

-- The environment of a notification: an `environment` field when the template adds one,
-- else the first of the destination namespace, the application name, the destination
-- cluster's name and host that names a known environment (prod, staging, qa, dev...), else
-- the destination namespace.
CREATE OR REPLACE FUNCTION core.argocd_environment(p_body jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        core.argocd_text(p_body->>'environment'),
        (SELECT c FROM unnest(ARRAY[
                    core.argocd_text(p_body->'destination'->>'namespace'),
                    core.argocd_text(p_body->'app'->>'name'),
                    core.argocd_text(p_body->'destination'->>'name'),
                    substring(core.argocd_text(p_body->'destination'->>'server')
                              FROM '^[a-z]+://([^/:]+)')]) WITH ORDINALITY AS t(c, i)
         WHERE c IS NOT NULL AND core.environment_class(NULL, c) <> 'other'
         ORDER BY i LIMIT 1),
        core.argocd_text(p_body->'destination'->>'namespace'))
$$;

-- Argo CD notifications into facts.
CREATE OR REPLACE FUNCTION core.normalize_argocd(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.event_type AS kind,
               core.argocd_text(e.payload->'operation'->>'phase') AS phase,
               core.ts(core.argocd_text(e.payload->'operation'->>'startedAt')) AS started,
               core.ts(core.argocd_text(e.payload->'operation'->>'finishedAt')) AS finished
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE
            WHEN kind IN ('app.deployed', 'app.sync_failed') THEN coalesce(
                core.missing(p, 'app.uid', 'app.name', 'operation.phase'),
                CASE WHEN phase IS NULL THEN 'operation.phase' END,
                CASE WHEN started IS NULL THEN 'operation.startedAt' END)
            WHEN kind = 'app.health_degraded' THEN core.missing(p, 'app.uid', 'app.name')
            END AS lacks
        FROM e
    ), syncs AS (
        SELECT checked.*,
               'argocd:' || (p->'app'->>'uid') || '@'
                   || to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                   AS deploy_id,
               core.argocd_deploy_status(phase) AS status,
               core.argocd_text(p->>'revision') AS revision,
               core.git_remote(core.argocd_text(p->>'repo')) AS remote,
               core.argocd_text(p->'operation'->>'initiatedBy') AS initiator,
               coalesce(finished, started) AS at
        FROM checked
        WHERE lacks IS NULL
          AND (kind IN ('app.deployed', 'app.sync_failed')
               OR (kind = 'app.health_degraded' AND phase IN ('Failed', 'Error')
                   AND started IS NOT NULL))
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The application's source repository, and the user who started the sync.
    UNION ALL
    SELECT ROW((e).event_id, 'repo', 'argocd:' || remote[1] || '/' || remote[2], at,
               jsonb_build_object('provider', 'argocd',
                                  'external_id', remote[1] || '/' || remote[2],
                                  'full_name', remote[2],
                                  'url', 'https://' || remote[1] || '/' || remote[2]))::core.fact
    FROM syncs WHERE remote IS NOT NULL
    UNION ALL
    SELECT core.account(e, 'argocd', initiator, initiator, NULL, NULL, core.is_bot(initiator),
                        at)
    FROM syncs WHERE initiator IS NOT NULL

    -- Sync operations. A git source's revision is a commit; a Helm chart's is its version.
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', deploy_id, at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'argocd', 'kind', 'sync',
                   'repo_id', 'argocd:' || remote[1] || '/' || remote[2],
                   'service', p->'app'->>'name', 'environment', core.argocd_environment(p),
                   'status', status, 'status_vendor', phase,
                   'ref', CASE WHEN revision !~* '^[0-9a-f]{40,64}$' THEN revision END,
                   'commit_sha', CASE WHEN revision ~* '^[0-9a-f]{40,64}$' THEN revision END,
                   'commit_shas', CASE WHEN revision ~* '^[0-9a-f]{40,64}$'
                                       THEN jsonb_build_array(revision) END,
                   'actor_id', 'argocd:' || initiator,
                   'started_at', core.argocd_text(p->'operation'->>'startedAt'),
                   'finished_at', CASE WHEN status IN ('success', 'failure')
                                       THEN core.argocd_text(p->'operation'->>'finishedAt')
                                  END)))::core.fact
    FROM syncs
$$;
