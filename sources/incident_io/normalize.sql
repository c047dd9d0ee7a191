-- incident.io (webhooks v2): public incidents created, updated and whose status changed.
-- The body's `event_type` names the key holding the incident (for status changes, the
-- object also carries `previous_status` and `new_status`). Private-incident events (ids
-- only), follow-ups and actions are not used, nor are test and tutorial incidents. Ids are
-- incident.io's: incident `incident_io:<incident id>`, actor `incident_io:<user id>`.

-- An incident.io user (creator or role assignee) as an actor snapshot.
CREATE OR REPLACE FUNCTION core.incident_io_actor(p_event core.inbound, p_user jsonb,
                                                  p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'incident_io', p_user->>'id', NULL, p_user->>'name',
                        p_user->>'email', false, p_at)
    WHERE p_user->>'id' IS NOT NULL
$$;

-- The canonical status of an incident.io status: by its category (triage, live, paused,
-- learning, closed, declined, merged, canceled); a live status named like Monitoring or
-- Mitigated is `mitigated`.
CREATE OR REPLACE FUNCTION core.incident_io_status(p_status jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_status->>'category' = 'triage' THEN 'triggered'
        WHEN p_status->>'category' IN ('live', 'paused') THEN CASE
            WHEN p_status->>'name' ~* '(monitor|mitigat)' THEN 'mitigated'
            ELSE 'acknowledged' END
        WHEN p_status->>'category' IN ('learning', 'closed', 'declined', 'merged', 'canceled')
            THEN 'resolved' END
$$;

-- incident.io deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_incident_io(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload->(e.event_type) AS o,
               CASE WHEN e.event_type = 'public_incident.incident_status_updated_v2'
                    THEN e.payload->(e.event_type)->'incident'
                    ELSE e.payload->(e.event_type) END AS i,
               e.event_type = 'public_incident.incident_status_updated_v2' AS status_change
        FROM unnest(p_events) e
        WHERE e.event_type IN ('public_incident.incident_created_v2',
                               'public_incident.incident_updated_v2',
                               'public_incident.incident_status_updated_v2')
    ), checked AS (
        SELECT e.*, CASE
            WHEN jsonb_typeof(o) IS DISTINCT FROM 'object' THEN (e).event_type
            WHEN status_change THEN core.missing(o, 'incident', 'new_status.category')
            END AS lacks0
        FROM e
    ), checked2 AS (
        SELECT checked.*, coalesce(lacks0, core.missing(i, 'id', 'incident_status.category',
                                                        'created_at', 'updated_at')) AS lacks
        FROM checked
    ), ok AS (
        SELECT checked2.*, core.ts(i->>'updated_at') AS at,
               core.incident_io_status(i->'incident_status') AS status
        FROM checked2
        WHERE lacks IS NULL AND coalesce(i->>'mode', 'standard') NOT IN ('test', 'tutorial')
    ), t AS (
        -- The time the incident reached its status: the status change's, or its creation
        -- when it was created in it. For other updates only an upper bound (the update
        -- time), which an earlier statement replaces (those times are earliest-wins).
        SELECT ok.*,
               CASE WHEN (e).event_type = 'public_incident.incident_created_v2'
                    THEN i->>'created_at' ELSE i->>'updated_at' END AS reached_at
        FROM ok
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked2 WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.incident_io_actor(e, u, at)
    FROM ok, LATERAL (SELECT i->'creator'->'user'
                      UNION ALL
                      SELECT r->'assignee' FROM jsonb_array_elements(
                          CASE WHEN jsonb_typeof(i->'incident_role_assignments') = 'array'
                               THEN i->'incident_role_assignments' ELSE '[]' END) r) AS v(u)
    WHERE jsonb_typeof(u) = 'object'

    -- The incident. Resolution is dated only by a status change into a closing category
    -- (learning, closed, declined, merged, canceled) from another; an open status states
    -- that the incident is not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'incident_io:' || (i->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'incident_io', 'kind', 'incident', 'external_id', i->>'id',
                   'title', i->>'name', 'url', i->>'permalink',
                   'service', (
                       SELECT coalesce(v->'value_catalog_entry'->>'name',
                                       v->'value_option'->>'value', v->>'value_text')
                       FROM jsonb_array_elements(CASE
                                WHEN jsonb_typeof(i->'custom_field_entries') = 'array'
                                THEN i->'custom_field_entries' ELSE '[]' END)
                                WITH ORDINALITY AS c(f, n),
                            jsonb_array_elements(CASE WHEN jsonb_typeof(f->'values') = 'array'
                                                      THEN f->'values' ELSE '[]' END)
                                WITH ORDINALITY AS x(v, m)
                       WHERE f->'custom_field'->>'name' ~* 'service'
                       ORDER BY n, m LIMIT 1),
                   'status', status, 'status_vendor', i->'incident_status'->>'name',
                   'severity', core.severity(core.severity_rank(
                       i->'severity'->>'name')),
                   'severity_vendor', i->'severity'->>'name',
                   'opened_at', i->>'created_at',
                   'acknowledged_at', CASE WHEN status IN ('acknowledged', 'mitigated')
                                           THEN reached_at END,
                   'mitigated_at', CASE WHEN status = 'mitigated' THEN reached_at END))
               || CASE WHEN status IN ('triggered', 'acknowledged', 'mitigated')
                       THEN '{"resolved_at": null}'
                       WHEN status = 'resolved' AND status_change
                            AND coalesce(o->'previous_status'->>'category', '') NOT IN (
                                'learning', 'closed', 'declined', 'merged', 'canceled')
                       THEN jsonb_build_object('resolved_at', i->>'updated_at')
                       ELSE '{}' END)::core.fact
    FROM t
$$;
