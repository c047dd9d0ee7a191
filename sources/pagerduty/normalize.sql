-- PagerDuty (v3 webhooks): the incident lifecycle. Every event whose `event.data` is an
-- incident (`data.type = incident`: triggered, acknowledged, unacknowledged, escalated,
-- reassigned, delegated, resolved, reopened, priority_updated) restates the incident as of
-- `event.occurred_at`. Notes, responder requests and status updates (`data` is not the
-- incident) and service events are not used. Ids are PagerDuty's: incident
-- `pagerduty:<incident id>`, actor `pagerduty:<user id>`.

-- A PagerDuty user reference (an agent or an assignee) as an actor snapshot.
CREATE OR REPLACE FUNCTION core.pagerduty_actor(p_event core.inbound, p_user jsonb,
                                                p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'pagerduty', p_user->>'id', NULL, p_user->>'summary', NULL,
                        false, p_at)
    WHERE p_user->>'id' IS NOT NULL AND p_user->>'type' IN ('user', 'user_reference')
$$;

-- The severity rank of an incident: the number in its priority's name (P1..P5 by
-- default; accounts may rename them, e.g. SEV-1), else its urgency (high → 2, low → 4).
CREATE OR REPLACE FUNCTION core.pagerduty_severity_rank(p_incident jsonb)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(substring(p_incident->'priority'->>'summary' FROM '[0-9]+')::int,
                    CASE lower(p_incident->>'urgency') WHEN 'high' THEN 2 WHEN 'low' THEN 4 END)
$$;

-- PagerDuty deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_pagerduty(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'event' AS ev, e.payload->'event'->'data' AS d
        FROM unnest(p_events) e
        WHERE e.event_type IN ('incident.triggered', 'incident.acknowledged',
                               'incident.unacknowledged', 'incident.escalated',
                               'incident.reassigned', 'incident.delegated',
                               'incident.resolved', 'incident.reopened',
                               'incident.priority_updated')
           OR (e.event_type LIKE 'incident.%'
               AND e.payload->'event'->'data'->>'type' = 'incident')
    ), checked AS (
        SELECT e.*, core.missing(p, 'event.occurred_at', 'event.data.id',
                                 'event.data.status') AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*, (checked.e).event_type AS t, core.ts(ev->>'occurred_at') AS at
        FROM checked WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The user who acted and the incident's assignees.
    UNION ALL
    SELECT core.pagerduty_actor(e, u, at)
    FROM ok, LATERAL (SELECT ev->'agent'
                      UNION ALL
                      SELECT a FROM jsonb_array_elements(
                          CASE WHEN jsonb_typeof(d->'assignees') = 'array'
                               THEN d->'assignees' ELSE '[]' END) a) AS v(u)
    WHERE jsonb_typeof(u) = 'object'

    -- The incident. Acknowledgement and resolution times are the times of those events;
    -- any other status than resolved says the incident is not (or no longer) resolved.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'pagerduty:' || (d->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'pagerduty', 'kind', 'incident', 'external_id', d->>'id',
                   'title', d->>'title', 'url', d->>'html_url',
                   'service', d->'service'->>'summary',
                   'status', CASE d->>'status'
                       WHEN 'triggered' THEN 'triggered'
                       WHEN 'acknowledged' THEN 'acknowledged'
                       WHEN 'resolved' THEN 'resolved' END,
                   'status_vendor', d->>'status',
                   'severity', core.severity(core.pagerduty_severity_rank(d)),
                   'severity_vendor', coalesce(d->'priority'->>'summary', d->>'urgency'),
                   'opened_at', coalesce(d->>'created_at', CASE WHEN t = 'incident.triggered'
                                                                THEN ev->>'occurred_at' END),
                   'acknowledged_at', CASE WHEN t = 'incident.acknowledged'
                                           THEN ev->>'occurred_at' END))
               || CASE WHEN t = 'incident.resolved'
                       THEN jsonb_build_object('resolved_at', ev->>'occurred_at')
                       WHEN d->>'status' <> 'resolved' THEN '{"resolved_at": null}'
                       ELSE '{}' END)::core.fact
    FROM ok
$$;
