-- Linear (data-change webhooks): the users, OAuth applications and integrations that
-- events name, as accounts. Only accounts are modelled so far. Issues, comments, cycles
-- and projects (the work items) are not.
--
-- Event types used: every data-change event, `<type>.<action>` with action create, update
-- or remove (Issue.*, Comment.*, Cycle.*, Project.*, ProjectUpdate.*, Reaction.*,
-- IssueLabel.*, Document.*, ...). An event that names no one (e.g. a Cycle update made
-- by Linear itself) gives nothing and is ignored. Other webhooks (OAuthApp revoked, app
-- user notifications, agent sessions) are not used.
-- Accounts read:
-- - `actor`, who made the change. Type `user` is a person (id, name, email). Types
--   `OauthClient` and `Integration` are bots (id, name or `service`); Linear's type strings
--   are compared case-insensitively, and `app` is taken as one too. Other actor types
--   (external users, who are not members of the workspace) are not accounts here.
-- - `data.creator`, `data.assignee` and `data.user` (a comment's or reaction's author) when
--   the payload embeds them as objects (id, name, email).
-- - `data.creatorId`, `data.assigneeId` and `data.userId`: the same people by id alone,
--   for payloads that do not embed the objects.
-- Required fields: `data`, and `createdAt` (or, failing that, `webhookTimestamp`).
--
-- Ids: actor `linear:<user, application or integration id>` (UUIDs). display_name =
-- `name`; emails = [`email`] when the payload includes it; no login. Observed at the
-- event's `createdAt` (when the action happened), else `webhookTimestamp` (epoch ms).

-- Linear deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_linear(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'data' AS d, e.payload->'actor' AS a
        FROM unnest(p_events) e
        WHERE e.event_type ~ '^[A-Za-z]+\.(create|update|remove)$'
    ), checked AS (
        SELECT e.*, coalesce(
            core.missing(p, 'data'),
            CASE WHEN core.missing(p, 'createdAt') IS NOT NULL
                      AND core.missing(p, 'webhookTimestamp') IS NOT NULL
                 THEN 'createdAt' END) AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*,
               coalesce(core.ts(p->>'createdAt'),
                        core.ts_epoch((p->>'webhookTimestamp')::numeric)) AS at
        FROM checked WHERE lacks IS NULL
    ), refs AS (
        -- Everyone the event names: the actor (rank 0), embedded objects (rank 1), bare ids
        -- (rank 2).
        SELECT ok.e, at, a->>'id' AS id, coalesce(a->>'name', a->>'service') AS name,
               a->>'email' AS email, lower(a->>'type') <> 'user' AS is_bot, 0 AS rank
        FROM ok
        WHERE jsonb_typeof(a) = 'object'
          AND lower(a->>'type') IN ('user', 'oauthclient', 'integration', 'app')
        UNION ALL
        SELECT ok.e, at, o->>'id', o->>'name', o->>'email', false, 1
        FROM ok, LATERAL (VALUES (d->'creator'), (d->'assignee'), (d->'user')) AS v(o)
        WHERE jsonb_typeof(o) = 'object'
        UNION ALL
        SELECT ok.e, at, i, NULL, NULL, false, 2
        FROM ok,
             LATERAL (VALUES (d->'creatorId'), (d->'assigneeId'), (d->'userId')) AS v(j),
             LATERAL (SELECT j #>> '{}' AS i) x
        WHERE jsonb_typeof(j) = 'string'
    ), accounts AS (
        -- One statement per account and event, merging what the event says about it: the
        -- first name and email of its objects (the actor's first), a bot if any says so.
        SELECT (array_agg(e))[1] AS e, max(at) AS at, id,
               (array_agg(name ORDER BY rank, name)
                    FILTER (WHERE nullif(name, '') IS NOT NULL))[1] AS name,
               (array_agg(email ORDER BY rank, email)
                    FILTER (WHERE nullif(email, '') IS NOT NULL))[1] AS email,
               bool_or(is_bot) AS is_bot
        FROM refs
        WHERE nullif(id, '') IS NOT NULL
        GROUP BY (e).event_id, id
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.account(e, 'linear', id, NULL, name, email, is_bot, at)
    FROM accounts
$$;
