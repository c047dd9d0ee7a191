-- Flux notification-controller events (generic / generic-hmac provider). A Kustomization or
-- HelmRelease applying a revision is a deploy of kind sync,
-- `flux:<object uid>@<revision>[+<values token>]`: the attempts at one revision meet there,
-- so a failure followed by a success ends as a success. The revision is the event's
-- `<group>/revision` metadata (`revision` once notification-controller strips the group,
-- Flux RFC 0008); the token, the HelmRelease values digest, only when it is forwarded. The
-- service is the object's name. Progress and other reasons are not used.

-- Reasons that end an attempt to apply a revision, and their canonical deploy status.
CREATE OR REPLACE FUNCTION core.flux_deploy_status(p_reason text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_reason IN ('ReconciliationSucceeded', 'InstallSucceeded', 'UpgradeSucceeded')
            THEN 'success'
        WHEN p_reason IN ('ReconciliationFailed', 'ValidationFailed', 'BuildFailed',
                          'HealthCheckFailed', 'PruneFailed', 'InstallFailed', 'UpgradeFailed')
            THEN 'failure'
        END
$$;

-- A metadata value by key, with or without the object's API group prefix.
CREATE OR REPLACE FUNCTION core.flux_metadata(p_metadata jsonb, p_key text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(coalesce(p_metadata->>p_key,
                           (SELECT m.value FROM jsonb_each_text(p_metadata) m
                            WHERE m.key LIKE '%/' || p_key ORDER BY m.key LIMIT 1)), '')
    WHERE jsonb_typeof(p_metadata) = 'object'
$$;

-- The environment of an event: an `environment` or `env` key the Alert adds
-- (spec.eventMetadata), else the first of its `cluster` key, the object's namespace and name
-- that names a known environment (prod, staging, qa, dev...), else the object's namespace.
CREATE OR REPLACE FUNCTION core.flux_environment(p_body jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(p_body->'metadata'->>'environment', ''), nullif(p_body->'metadata'->>'env', ''),
        (SELECT c FROM unnest(ARRAY[nullif(p_body->'metadata'->>'cluster', ''),
                                    p_body->'involvedObject'->>'namespace',
                                    p_body->'involvedObject'->>'name'])
                       WITH ORDINALITY AS t(c, i)
         WHERE c IS NOT NULL AND core.environment_class(NULL, c) <> 'other'
         ORDER BY i LIMIT 1),
        p_body->'involvedObject'->>'namespace')
$$;

-- Flux events into facts.
CREATE OR REPLACE FUNCTION core.normalize_flux(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'involvedObject' AS o,
               e.payload->>'reason' AS reason,
               core.flux_metadata(e.payload->'metadata', 'revision') AS revision,
               core.flux_metadata(e.payload->'metadata', 'token') AS token
        FROM unnest(p_events) e
    ), checked AS (
        SELECT e.*, CASE WHEN o->>'kind' IN ('Kustomization', 'HelmRelease')
                          AND core.flux_deploy_status(reason) IS NOT NULL
                         THEN core.missing(p, 'involvedObject.name', 'involvedObject.namespace',
                                           'reason', 'timestamp')
                    END AS lacks
        FROM e
    ), applied AS (
        -- A revision is `<branch or tag>@sha1:<sha>` (`<branch>/<sha>` before Flux 2.0), an OCI
        -- `<tag>@sha256:<digest>`, or a Helm chart version.
        SELECT checked.*, core.flux_deploy_status(reason) AS status,
               (regexp_match(revision, '(?:^|[@/:])([0-9a-f]{40})$'))[1] AS commit_sha,
               nullif(regexp_replace(regexp_replace(revision,
                                                    '(@sha1:|@sha256:|@|/|^sha1:|^sha256:|^)'
                                                    || '([0-9a-f]{64}|[0-9a-f]{40})$', ''),
                                     '^refs/(heads|tags)/', ''), '') AS ref,
               core.ts(p->>'timestamp') AS at
        FROM checked
        WHERE lacks IS NULL AND o->>'kind' IN ('Kustomization', 'HelmRelease')
          AND core.flux_deploy_status(reason) IS NOT NULL AND revision IS NOT NULL
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Revisions applied, or failing to apply.
    UNION ALL
    SELECT ROW((e).event_id, 'deploy',
               'flux:' || coalesce(o->>'uid', lower(o->>'kind') || '/' || (o->>'namespace') || '/'
                                              || (o->>'name'))
                   || '@' || revision || coalesce('+' || token, ''),
               at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'flux', 'kind', 'sync', 'service', o->>'name',
                   'environment', core.flux_environment(p), 'status', status,
                   'status_vendor', reason, 'ref', ref, 'commit_sha', commit_sha,
                   'commit_shas', CASE WHEN commit_sha IS NOT NULL
                                       THEN jsonb_build_array(commit_sha) END,
                   'description', left(core.first_line(p->>'message'), 500),
                   'started_at', p->>'timestamp', 'finished_at', p->>'timestamp')))::core.fact
    FROM applied
$$;
