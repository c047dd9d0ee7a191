-- Atlassian Statuspage (webhook subscriptions): incidents of a status page. Each incident
-- update restates the incident as of `incident.updated_at`, with the history of its
-- updates, which dates each status. Component status changes and scheduled maintenances
-- are not used. Ids are Statuspage's: incident `statuspage:<incident id>`.

-- The severity rank of a Statuspage impact (none, minor, major, critical).
CREATE OR REPLACE FUNCTION core.statuspage_severity_rank(p_impact text)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_impact WHEN 'critical' THEN 1 WHEN 'major' THEN 2 WHEN 'minor' THEN 3
                         WHEN 'none' THEN 4 END
$$;

-- Statuspage deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_statuspage(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload->'incident' AS i
        FROM unnest(p_events) e
        WHERE e.event_type LIKE 'incident.%'
    ), checked AS (
        SELECT e.*, core.missing(i, 'id', 'status', 'created_at') AS lacks FROM e
    ), ok AS (
        SELECT checked.*, coalesce(core.ts(i->>'updated_at'), core.ts(i->>'created_at')) AS at,
               CASE i->>'status'
                   WHEN 'investigating' THEN 'triggered'
                   WHEN 'identified' THEN 'acknowledged'
                   WHEN 'monitoring' THEN 'mitigated'
                   WHEN 'resolved' THEN 'resolved'
                   WHEN 'postmortem' THEN 'resolved' END AS status,
               u.first
        FROM checked,
             -- When each status was first posted, from the incident's updates.
             LATERAL (SELECT jsonb_object_agg(s, t) AS first
                      FROM (SELECT x->>'status' AS s, min(core.ts(x->>'created_at')) AS t
                            FROM jsonb_array_elements(CASE
                                     WHEN jsonb_typeof(i->'incident_updates') = 'array'
                                     THEN i->'incident_updates' ELSE '[]' END) x
                            WHERE x->>'created_at' IS NOT NULL
                            GROUP BY x->>'status') y) u
        WHERE lacks IS NULL
          -- Scheduled maintenances are planned work, not incidents.
          AND coalesce(i->>'impact', '') <> 'maintenance'
          AND i->>'status' NOT IN ('scheduled', 'in_progress', 'verifying', 'completed')
    )
    SELECT core.failure(e, format('%s lacks incident.%s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The incident. An open status states that it is not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'statuspage:' || (i->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'statuspage', 'kind', 'incident', 'external_id', i->>'id',
                   'title', i->>'name', 'url', i->>'shortlink',
                   'service', i->'components'->0->>'name',
                   'status', status, 'status_vendor', i->>'status',
                   'severity', core.severity(core.statuspage_severity_rank(i->>'impact')),
                   'severity_vendor', i->>'impact',
                   'opened_at', coalesce(i->>'started_at', i->>'created_at'),
                   'acknowledged_at', first->>'identified',
                   'mitigated_at', coalesce(i->>'monitoring_at', first->>'monitoring')))
               || CASE WHEN status = 'resolved' THEN jsonb_strip_nulls(jsonb_build_object(
                           'resolved_at', coalesce(i->>'resolved_at', first->>'resolved')))
                       WHEN status IS NOT NULL THEN '{"resolved_at": null}'
                       ELSE '{}' END)::core.fact
    FROM ok
$$;
