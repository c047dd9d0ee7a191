-- Sentry (Integration Platform webhooks): issues (created, resolved, assigned, archived,
-- unresolved), issue alerts (`event_alert.triggered`) and metric alerts (critical, warning,
-- resolved), all incident rows of kind `alert`. An issue and the issue alerts it fires are
-- one row, `sentry:issue:<issue id>`; a metric alert is `sentry:metric_alert:<id>` (one per
-- time the rule fires). Statements are dated by `Sentry-Hook-Timestamp` (the time Sentry
-- sent the change; the payloads carry no time of status changes). Actors are Sentry users,
-- `sentry:<user id>`. Comments, errors and installations are not used.

-- A Sentry user (the one who acted, or an issue's assignee) as an actor snapshot; none for
-- Sentry itself, integrations or teams.
CREATE OR REPLACE FUNCTION core.sentry_actor(p_event core.inbound, p_user jsonb,
                                             p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'sentry', p_user->>'id', NULL, p_user->>'name',
                        p_user->>'email', false, p_at)
    WHERE p_user->>'type' = 'user' AND p_user->>'id' IS NOT NULL
$$;

-- The severity rank of a Sentry event level.
CREATE OR REPLACE FUNCTION core.sentry_level_rank(p_level text)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_level) WHEN 'fatal' THEN 1 WHEN 'error' THEN 2 WHEN 'warning' THEN 3
                               WHEN 'info' THEN 4 WHEN 'debug' THEN 5 END
$$;

-- Sentry deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_sentry(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'data' AS d,
               split_part(e.event_type, '.', 1) AS resource,
               split_part(e.event_type, '.', 2) AS action,
               CASE WHEN e.headers->>'sentry-hook-timestamp' ~ '^[0-9]+(\.[0-9]+)?$'
                    THEN core.ts_epoch((e.headers->>'sentry-hook-timestamp')::numeric)
                    END AS sent_at
        FROM unnest(p_events) e
        WHERE e.event_type IN ('issue.created', 'issue.resolved', 'issue.assigned',
                               'issue.archived', 'issue.ignored', 'issue.unresolved',
                               'event_alert.triggered', 'metric_alert.critical',
                               'metric_alert.warning', 'metric_alert.resolved')
    ), checked AS (
        SELECT e.*, CASE resource
            WHEN 'issue' THEN core.missing(p, 'data.issue.id', 'data.issue.status')
            WHEN 'event_alert' THEN core.missing(p, 'data.event.issue_id')
            WHEN 'metric_alert' THEN core.missing(p, 'data.metric_alert.id')
            END AS lacks
        FROM e
    ), ok AS (
        SELECT * FROM checked WHERE lacks IS NULL
    ), issue AS (
        SELECT ok.*, d->'issue' AS i,
               -- Without the header only a creation is dated by the payload.
               coalesce(sent_at, CASE WHEN action = 'created'
                                      THEN core.ts(d->'issue'->>'firstSeen') END,
                        (ok.e).received_at) AS at
        FROM ok WHERE resource = 'issue'
    ), alert AS (
        SELECT ok.*, d->'event' AS ev,
               coalesce(sent_at, core.ts(d->'event'->>'datetime'), (ok.e).received_at) AS at
        FROM ok WHERE resource = 'event_alert'
    ), metric AS (
        SELECT ok.*, d->'metric_alert' AS m,
               coalesce(sent_at,
                        core.ts(coalesce(CASE WHEN action = 'resolved'
                                              THEN d->'metric_alert'->>'date_closed' END,
                                         d->'metric_alert'->>'date_detected',
                                         d->'metric_alert'->>'date_started')),
                        (ok.e).received_at) AS at
        FROM ok WHERE resource = 'metric_alert'
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.sentry_actor(e, u, at)
    FROM issue, LATERAL (VALUES (p->'actor'), (i->'assignedTo')) AS v(u)
    WHERE jsonb_typeof(u) = 'object'

    -- Issues. Resolving or archiving (formerly "ignoring") ends the alert; an unresolved
    -- issue (new, regressed, escalating) is not (or no longer) resolved. The first
    -- assignment by a user acknowledges it. A resolution in a commit links that commit.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'sentry:issue:' || (i->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'sentry', 'kind', 'alert', 'external_id', i->>'id',
                   'title', i->>'title', 'url', coalesce(i->>'web_url', i->>'permalink'),
                   'service', i->'project'->>'slug',
                   'status', CASE WHEN i->>'status' IN ('resolved', 'ignored', 'archived')
                                  THEN 'resolved' ELSE 'triggered' END,
                   'status_vendor', i->>'status',
                   'severity', core.severity(core.sentry_level_rank(i->>'level')),
                   'severity_vendor', i->>'level',
                   'opened_at', i->>'firstSeen',
                   'acknowledged_at', CASE WHEN action = 'assigned' AND p->'actor'->>'type' = 'user'
                                                AND jsonb_typeof(i->'assignedTo') = 'object'
                                           THEN at END,
                   'links', (SELECT jsonb_build_array('commit:' || lower(sha))
                             FROM (SELECT coalesce(i->'statusDetails'->'inCommit'->>'commit',
                                                   i->'statusDetails'->'inCommit'->>'id') AS sha) c
                             WHERE sha ~* '^[0-9a-f]{7,40}$')))
               || CASE WHEN i->>'status' NOT IN ('resolved', 'ignored', 'archived')
                       THEN '{"resolved_at": null}'
                       WHEN action IN ('resolved', 'archived', 'ignored')
                       THEN jsonb_build_object('resolved_at', at)
                       ELSE '{}' END)::core.fact
    FROM issue

    -- Issue alerts: a new event of the issue fired an alert rule, so the issue is open.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'sentry:issue:' || (ev->>'issue_id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'sentry', 'kind', 'alert', 'external_id', ev->>'issue_id',
                   'title', ev->>'title',
                   'url', substring(ev->>'web_url' FROM '^(.*/issues/[0-9]+/)'),
                   'service', substring(ev->>'url' FROM '/projects/[^/]+/([^/]+)/events/'),
                   'status', 'triggered', 'status_vendor', 'unresolved',
                   'severity', core.severity(core.sentry_level_rank(ev->>'level')),
                   'severity_vendor', ev->>'level',
                   'opened_at', ev->>'datetime'))
               || '{"resolved_at": null}')::core.fact
    FROM alert

    -- Metric alerts: critical and warning fire it (the level is the severity), resolved
    -- ends it.
    UNION ALL
    SELECT ROW((e).event_id, 'incident', 'sentry:metric_alert:' || (m->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'sentry', 'kind', 'alert', 'external_id', m->>'id',
                   'title', coalesce(m->'alert_rule'->>'name', m->>'title'),
                   'url', d->>'web_url',
                   'service', coalesce(m->'projects'->>0, m->'alert_rule'->'projects'->>0),
                   'status', CASE WHEN action = 'resolved' THEN 'resolved' ELSE 'triggered' END,
                   'status_vendor', action,
                   'severity', core.severity(CASE action WHEN 'critical' THEN 1
                                                         WHEN 'warning' THEN 3 END),
                   'severity_vendor', CASE WHEN action <> 'resolved' THEN action END,
                   'opened_at', coalesce(m->>'date_started', m->>'date_detected')))
               || CASE WHEN action = 'resolved'
                       THEN jsonb_build_object('resolved_at',
                                               coalesce(core.ts(m->>'date_closed'), at))
                       ELSE '{"resolved_at": null}' END)::core.fact
    FROM metric
$$;
