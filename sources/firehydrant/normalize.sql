-- FireHydrant (webhooks): incidents. Every delivery carrying `data.incident` restates the
-- incident whatever its envelope says (the event naming is not documented); its
-- milestones date the timeline. Change events and Signals alerts are not used. Ids are
-- FireHydrant's UUIDs: incident `firehydrant:<incident id>`, actor `firehydrant:<user id>`.

-- A FireHydrant user (a role assignee) as an actor snapshot.
CREATE OR REPLACE FUNCTION core.firehydrant_actor(p_event core.inbound, p_user jsonb,
                                                  p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'firehydrant', p_user->>'id', NULL, p_user->>'name',
                        p_user->>'email', false, p_at)
    WHERE p_user->>'id' IS NOT NULL
$$;

-- The canonical status of a FireHydrant milestone (the default ones; a custom milestone
-- has none).
CREATE OR REPLACE FUNCTION core.firehydrant_status(p_milestone text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_milestone IN ('started', 'detected') THEN 'triggered'
        WHEN p_milestone IN ('acknowledged', 'investigating', 'identified') THEN 'acknowledged'
        WHEN p_milestone = 'mitigated' THEN 'mitigated'
        WHEN p_milestone IN ('resolved', 'retrospective_started', 'retrospective_completed',
                             'postmortem_started', 'postmortem_completed', 'closed')
            THEN 'resolved' END
$$;

-- FireHydrant deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_firehydrant(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload->'data'->'incident' AS i
        FROM unnest(p_events) e
        WHERE jsonb_typeof(e.payload->'data'->'incident') = 'object'
    ), checked AS (
        SELECT e.*, core.missing(i, 'id', 'current_milestone') AS lacks FROM e
    ), ok AS (
        SELECT checked.*, m.first, core.firehydrant_status(i->>'current_milestone') AS status,
               -- The payload has no update time: the latest milestone is the last change
               -- it dates.
               coalesce(core.ts(i->>'updated_at'), m.latest, core.ts(i->>'created_at'),
                        (checked.e).received_at) AS at
        FROM checked,
             LATERAL (SELECT jsonb_object_agg(t, o) AS first, max(o) AS latest
                      FROM (SELECT x->>'type' AS t, min(core.ts(x->>'occurred_at')) AS o
                            FROM jsonb_array_elements(CASE
                                     WHEN jsonb_typeof(i->'milestones') = 'array'
                                     THEN i->'milestones' ELSE '[]' END) x
                            WHERE x->>'occurred_at' IS NOT NULL
                            GROUP BY x->>'type') y) m
        WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks data.incident.%s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.firehydrant_actor(e, r->'user', at)
    FROM ok, jsonb_array_elements(CASE WHEN jsonb_typeof(i->'role_assignments') = 'array'
                                       THEN i->'role_assignments' ELSE '[]' END) r
    WHERE jsonb_typeof(r->'user') = 'object'

    -- The incident. Times come from its milestones; a current milestone before resolution
    -- states that the incident is not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'firehydrant:' || (i->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'firehydrant', 'kind', 'incident', 'external_id', i->>'id',
                   'title', i->>'name', 'url', i->>'incident_url',
                   'service', i->'services'->0->>'name',
                   'status', status, 'status_vendor', i->>'current_milestone',
                   'severity', core.severity(core.severity_rank(sev)),
                   'severity_vendor', sev,
                   'opened_at', coalesce(first->>'started', i->>'started_at', i->>'created_at'),
                   'acknowledged_at', first->>'acknowledged',
                   'mitigated_at', first->>'mitigated'))
               || CASE WHEN status = 'resolved' THEN jsonb_strip_nulls(jsonb_build_object(
                           'resolved_at', coalesce(first->>'resolved', first->>'closed')))
                       WHEN status IS NOT NULL THEN '{"resolved_at": null}'
                       ELSE '{}' END)::core.fact
    FROM ok, LATERAL (SELECT CASE WHEN jsonb_typeof(i->'severity') = 'object'
                                  THEN i->'severity'->>'slug'
                                  ELSE nullif(i->>'severity', '') END AS sev) s
$$;
