-- Prometheus Alertmanager (webhook receiver, payload version 4): notifications of alert
-- groups. Each alert of a group is one incident row of kind `alert`, one per firing
-- episode: `alertmanager:<fingerprint>:<startsAt, UTC>` (the same labels firing again
-- later start a new episode). A firing alert is stated as of its `startsAt`, a resolved one
-- as of its `endsAt`. Grafana's unified alerting sends the same shape: its normalizer
-- (sources/grafana) uses the functions below.

-- The incident facts of Alertmanager-shaped deliveries (`alerts[]` with fingerprint,
-- status, labels, annotations, startsAt, endsAt, generatorURL), for a source's ids.
CREATE OR REPLACE FUNCTION core.alertmanager_alert_facts(p_events core.inbound[],
                                                         p_source text)
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p
        FROM unnest(p_events) e
        WHERE e.event_type IN ('alert.firing', 'alert.resolved')
    ), checked AS (
        SELECT e.*, coalesce(
            CASE WHEN jsonb_typeof(p->'alerts') IS DISTINCT FROM 'array' THEN 'alerts' END,
            (SELECT 'alerts[].' || f
             FROM jsonb_array_elements(p->'alerts') a,
                  unnest(ARRAY['fingerprint', 'status', 'startsAt']) WITH ORDINALITY AS k(f, n)
             WHERE nullif(a->>f, '') IS NULL
             ORDER BY n LIMIT 1)) AS lacks
        FROM e
    ), alerts AS (
        SELECT checked.e, a, a->'labels' AS l, a->>'status' = 'resolved' AS resolved,
               core.ts(a->>'startsAt') AS starts_at,
               nullif(core.ts(a->>'endsAt'), '0001-01-01 00:00:00+00') AS ends_at
        FROM checked, jsonb_array_elements(p->'alerts') a
        WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Each alert. A resolved alert ended at its `endsAt`; a firing one states that it is
    -- not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident',
               p_source || ':' || (a->>'fingerprint') || ':'
                   || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               CASE WHEN resolved THEN coalesce(ends_at, starts_at) ELSE starts_at END,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', p_source, 'kind', 'alert', 'external_id', a->>'fingerprint',
                   'title', coalesce(nullif(a->'annotations'->>'summary', ''),
                                     nullif(a->'annotations'->>'title', ''), l->>'alertname'),
                   'url', nullif(a->>'generatorURL', ''),
                   'service', coalesce(nullif(l->>'service', ''), nullif(l->>'job', '')),
                   'status', CASE WHEN resolved THEN 'resolved' ELSE 'triggered' END,
                   'status_vendor', a->>'status',
                   'severity', core.severity(core.severity_rank(l->>'severity')),
                   'severity_vendor', nullif(l->>'severity', ''),
                   'opened_at', starts_at,
                   'resolved_at', CASE WHEN resolved THEN ends_at END))
               || CASE WHEN resolved THEN '{}'::jsonb ELSE '{"resolved_at": null}' END
              )::core.fact
    FROM alerts
$$;

-- Alertmanager deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_alertmanager(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    SELECT * FROM core.alertmanager_alert_facts(p_events, 'alertmanager')
$$;
