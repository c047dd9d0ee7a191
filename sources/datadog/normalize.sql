-- Datadog (Webhooks integration, with our payload template: see sources/datadog): monitor
-- notifications. One alert cycle (`$ALERT_CYCLE_KEY`, from the first trigger to recovery)
-- is one incident row of kind `alert`, `datadog:<alert cycle key>`; each notification
-- restates it as of `$DATE`. Template variables that do not apply arrive as empty strings.

-- The severity rank of a notification: the monitor's priority (P1..P5), else `$ALERT_TYPE`
-- when the template carries it, else the transition (an alert is an error, a warning a
-- warning). Recoveries and no-data notifications state none.
CREATE OR REPLACE FUNCTION core.datadog_severity_rank(p jsonb)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(substring(p->>'alert_priority' FROM '^[Pp]([0-9])')::int,
                    CASE lower(p->>'alert_type') WHEN 'error' THEN 2 WHEN 'warning' THEN 3
                                                 WHEN 'info' THEN 4 END,
                    CASE WHEN p->>'alert_transition' IN ('Triggered', 'Re-Triggered') THEN 2
                         WHEN p->>'alert_transition' IN ('Warn', 'Re-Warn') THEN 3 END)
$$;

-- Datadog deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_datadog(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->>'alert_transition' AS transition
        FROM unnest(p_events) e
        WHERE e.payload->>'alert_transition' IN ('Triggered', 'Re-Triggered', 'Warn',
                                                 'Re-Warn', 'No Data', 'Re-No Data',
                                                 'Renotify', 'Recovered')
    ), checked AS (
        SELECT e.*, coalesce(
            core.missing(p, 'alert_cycle_key', 'date'),
            CASE WHEN p->>'alert_cycle_key' = '' THEN 'alert_cycle_key'
                 WHEN p->>'date' !~ '^[0-9]+$' THEN 'date' END) AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*, core.ts_epoch((p->>'date')::numeric) AS at,
               transition = 'Recovered' AS recovered,
               -- `service:<name>` from the alerting group's scope, else the monitor's tags.
               (SELECT substr(btrim(t), 9)
                FROM regexp_split_to_table(concat_ws(',', nullif(p->>'alert_scope', ''),
                                                     nullif(p->>'tags', '')), ',')
                     WITH ORDINALITY AS x(t, n)
                WHERE btrim(t) LIKE 'service:_%' ORDER BY n LIMIT 1) AS service
        FROM checked WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The alert cycle. Its title is the event title without the bracketed prefixes Datadog
    -- adds (`[P1] [Triggered on {host:a}] …`); a recovery resolves it, any other
    -- notification states that it is not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'datadog:' || (p->>'alert_cycle_key'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'datadog', 'kind', 'alert',
                   'external_id', p->>'alert_cycle_key',
                   'title', nullif(regexp_replace(p->>'title', '^(\s*\[[^]]*\])+\s*', ''), ''),
                   'url', nullif(p->>'link', ''), 'service', service,
                   'status', CASE WHEN recovered THEN 'resolved' ELSE 'triggered' END,
                   'status_vendor', transition,
                   'severity', core.severity(core.datadog_severity_rank(p)),
                   'severity_vendor', CASE WHEN core.datadog_severity_rank(p) IS NOT NULL
                       THEN coalesce(nullif(p->>'alert_priority', ''),
                                     nullif(p->>'alert_type', ''), transition) END,
                   'opened_at', CASE WHEN NOT recovered THEN at END,
                   'resolved_at', CASE WHEN recovered THEN at END))
               || CASE WHEN recovered THEN '{}'::jsonb ELSE '{"resolved_at": null}' END)::core.fact
    FROM ok
$$;
