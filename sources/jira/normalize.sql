-- Jira Cloud and Jira Data Center (admin webhooks): the users that issue, comment,
-- worklog and sprint events name, as accounts. Only accounts are modelled so far. Issues,
-- their status transitions, sprints and worklogs (the work items) are not.
--
-- Event types used (body `webhookEvent`): `jira:issue_created`, `jira:issue_updated`,
-- `jira:issue_deleted`, `comment_created`, `comment_updated`, `comment_deleted`,
-- `worklog_created`, `worklog_updated`, `worklog_deleted`, and `sprint_*`. Sprint events
-- name no user, so they give nothing and are ignored unless one carries `user`. Other
-- events (project, version, board, issue links, ...) are not used.
-- Users read: `user` (who acted), the issue's `fields.assignee`, `fields.reporter` and
-- `fields.creator`, the comment's `author` and `updateAuthor`, and the worklog's
-- `author` and `updateAuthor`. A field set to null (unassigned) names no one.
-- Required field: `timestamp` (epoch ms, when Jira raised the event; also the observed
-- time).
--
-- Ids: actor `jira:<accountId>` on Cloud. Data Center users have no accountId, so their
-- id is the user `key` (immutable), else the username `name`. Only Data Center states a
-- login: `name`, which an LDAP or SSO directory may share with other tools. display_name =
-- `displayName`. emails = [`emailAddress`] when it is an address: Cloud hides it unless
-- the user's privacy settings allow it, and then sends it absent, empty or "?". is_bot
-- when `accountType` is `app` (Connect / Forge apps, automation); `customer` (Service
-- Management customers) and `atlassian` are people. Data Center has no account type, so
-- only the usual bot login patterns (core.is_bot) flag bots there.

-- A Jira user object (Cloud or Data Center) as an actor snapshot; nothing when it has
-- no id.
CREATE OR REPLACE FUNCTION core.jira_actor(p_event core.inbound, p_user jsonb,
                                           p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'jira', id, nullif(p_user->>'name', ''),
                        nullif(p_user->>'displayName', ''), p_user->>'emailAddress',
                        core.is_bot(p_user->>'name', p_user->>'accountType'), p_at)
    FROM (SELECT coalesce(nullif(p_user->>'accountId', ''), nullif(p_user->>'key', ''),
                          nullif(p_user->>'name', '')) AS id) x
    WHERE jsonb_typeof(p_user) = 'object' AND id IS NOT NULL
$$;

-- Jira deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_jira(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p
        FROM unnest(p_events) e
        WHERE e.event_type IN ('jira:issue_created', 'jira:issue_updated',
                               'jira:issue_deleted', 'comment_created', 'comment_updated',
                               'comment_deleted', 'worklog_created', 'worklog_updated',
                               'worklog_deleted')
           OR e.event_type LIKE 'sprint\_%'
    ), checked AS (
        SELECT e.*, core.missing(p, 'timestamp') AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*, core.ts_epoch((p->>'timestamp')::numeric) AS at
        FROM checked WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- The user who acted and the users the issue, comment or worklog names. A user named
    -- twice (who acted and is the assignee, say) gives two statements that merge.
    UNION ALL
    SELECT core.jira_actor(e, u, at)
    FROM ok, LATERAL (VALUES (p->'user'),
                             (p->'issue'->'fields'->'assignee'),
                             (p->'issue'->'fields'->'reporter'),
                             (p->'issue'->'fields'->'creator'),
                             (p->'comment'->'author'),
                             (p->'comment'->'updateAuthor'),
                             (p->'worklog'->'author'),
                             (p->'worklog'->'updateAuthor')) AS v(u)
    WHERE jsonb_typeof(u) = 'object'
$$;
