-- Opsgenie (outgoing Webhook integration): alert actions. Each action we use restates the
-- alert as of `alert.updatedAt`; the alert is an incident row of kind `alert`. Ids are
-- Opsgenie's: alert `opsgenie:<alertId>`, actor `opsgenie:<userId>`.

-- An Opsgenie time: epoch seconds, milliseconds (createdAt), microseconds or nanoseconds
-- (updatedAt), told apart by magnitude; or an ISO string.
CREATE OR REPLACE FUNCTION core.opsgenie_time(p_value text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_value !~ '^[0-9]+(\.[0-9]+)?$' THEN core.ts(p_value)
        WHEN p_value::numeric >= 1e17 THEN to_timestamp(p_value::numeric / 1e9)
        WHEN p_value::numeric >= 1e14 THEN to_timestamp(p_value::numeric / 1e6)
        WHEN p_value::numeric >= 1e11 THEN to_timestamp(p_value::numeric / 1e3)
        ELSE to_timestamp(p_value::numeric) END
$$;

-- The user who acted on an alert (`userId`, `username`: the login, an email address) as
-- an actor snapshot; none for actions by the system or an integration.
CREATE OR REPLACE FUNCTION core.opsgenie_actor(p_event core.inbound, p_alert jsonb,
                                               p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'opsgenie', p_alert->>'userId',
                        nullif(p_alert->>'username', ''), NULL, p_alert->>'username', false,
                        p_at)
    WHERE nullif(p_alert->>'userId', '') IS NOT NULL
$$;

-- The alert's state as Opsgenie shows it (open, acknowledged or closed), from the action
-- and, for other actions, the alert's `status` and `acknowledged` fields.
CREATE OR REPLACE FUNCTION core.opsgenie_state(p_action text, p_alert jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_action = 'Close' THEN 'closed'
        WHEN p_action = 'Acknowledge' THEN 'acknowledged'
        WHEN p_action IN ('Create', 'UnAcknowledge') THEN 'open'
        WHEN p_alert->>'status' = 'closed' THEN 'closed'
        WHEN p_alert->>'status' = 'open' AND (p_alert->>'acknowledged')::boolean
            THEN 'acknowledged'
        WHEN p_alert->>'status' = 'open' AND NOT (p_alert->>'acknowledged')::boolean
            THEN 'open'
        END
$$;

-- Opsgenie deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_opsgenie(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'alert' AS a, e.payload->>'action' AS action
        FROM unnest(p_events) e
        WHERE e.payload->>'action' IN ('Create', 'Acknowledge', 'UnAcknowledge', 'Close',
                                       'Escalate', 'AssignOwnership', 'TakeOwnership',
                                       'UpdatePriority')
    ), checked AS (
        SELECT e.*, core.missing(p, 'alert.alertId', 'alert.createdAt', 'alert.updatedAt')
                    AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*, core.opsgenie_time(a->>'updatedAt') AS at,
               core.opsgenie_state(action, a) AS state
        FROM checked WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.opsgenie_actor(e, a, at) FROM ok

    -- The alert. `priority` is P1..P5 (older payloads send the number alone); the service
    -- is the alert's entity, else a `service:<name>` tag.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'opsgenie:' || (a->>'alertId'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'opsgenie', 'kind', 'alert', 'external_id', a->>'alertId',
                   'title', a->>'message',
                   'service', coalesce(
                       nullif(a->>'entity', ''),
                       (SELECT substr(t, 9) FROM jsonb_array_elements_text(
                            CASE WHEN jsonb_typeof(a->'tags') = 'array' THEN a->'tags'
                                 ELSE '[]' END) t
                        WHERE t LIKE 'service:_%' LIMIT 1)),
                   'status', CASE state WHEN 'open' THEN 'triggered'
                                        WHEN 'acknowledged' THEN 'acknowledged'
                                        WHEN 'closed' THEN 'resolved' END,
                   'status_vendor', state,
                   'severity', core.severity(substring(a->>'priority' FROM '[0-9]+')::int),
                   'severity_vendor', a->>'priority',
                   'opened_at', core.opsgenie_time(a->>'createdAt'),
                   'acknowledged_at', CASE WHEN action = 'Acknowledge' THEN at END))
               || CASE WHEN action = 'Close' THEN jsonb_build_object('resolved_at', at)
                       WHEN state IN ('open', 'acknowledged') THEN '{"resolved_at": null}'
                       ELSE '{}' END)::core.fact
    FROM ok
$$;
