-- Okta (event hooks): the accounts that Okta System Log events name. Only accounts are
-- modelled so far. Group memberships, lifecycle states (activated, suspended,
-- deactivated), sign-ins and the other System Log contents are not.
--
-- Event types used: all of them. A delivery carries `data.events[]` (one or more System
-- Log events, each with `uuid`, `published`, `eventType`, an `actor` and `target[]`). Its
-- event type is the type of its first event (user.lifecycle.create, .activate,
-- .deactivate, .suspend, user.account.update_profile, group.user_membership.add / .remove,
-- ...). Every event of the delivery is read, whatever its type. A delivery whose events
-- name no principal of type `User` gives nothing and is ignored.
-- Required fields: `data.events` (an array); per event, `published`; `id` on every
-- actor/target of type `User`.
--
-- Ids: actor `okta:<Okta user id>` (`00u…`). Only principals of type `User` are accounts.
-- SystemPrincipal, PublicClientApp, AppInstance, UserGroup and the other types are not.
-- For each User: login = `alternateId` (the Okta username), display_name = `displayName`,
-- emails = [alternateId] when it is an address (usernames are usually, but not always,
-- the user's email), sso_subject = the user id (the `sub` that Okta's OIDC tokens carry for
-- the user), is_bot = false. Observed at the event's `published`.

-- The principals of type User that one System Log event names: its actor and its targets,
-- with the path each came from (for failure reasons).
CREATE OR REPLACE FUNCTION core.okta_users(p_event jsonb)
RETURNS TABLE (principal jsonb, path text) LANGUAGE sql IMMUTABLE AS $$
    SELECT u, r
    FROM (SELECT p_event->'actor', 'actor'
          UNION ALL
          SELECT t, 'target[]'
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_event->'target') = 'array'
                                         THEN p_event->'target' ELSE '[]' END) t) AS x(u, r)
    WHERE jsonb_typeof(u) = 'object' AND u->>'type' = 'User'
$$;

-- Okta deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_okta(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p
        FROM unnest(p_events) e
    ), checked AS (
        -- The first missing field: the events array, else (in event order) an event's
        -- `published` or the `id` of a User principal it names.
        SELECT e.*, CASE
            WHEN jsonb_typeof(p->'data'->'events') IS DISTINCT FROM 'array'
                THEN 'data.events'
            ELSE (SELECT 'data.events[].' || m.f
                  FROM jsonb_array_elements(p->'data'->'events') WITH ORDINALITY AS x(ev, n),
                       LATERAL (SELECT 'published' WHERE nullif(ev->>'published', '') IS NULL
                                UNION ALL
                                SELECT u.path || '.id' FROM core.okta_users(ev) u
                                WHERE nullif(u.principal->>'id', '') IS NULL) AS m(f)
                  ORDER BY n LIMIT 1)
            END AS lacks
        FROM e
    ), users AS (
        -- Every User principal of every event, with the event's time.
        SELECT checked.e, u.principal AS u, core.ts(ev->>'published') AS at
        FROM checked, jsonb_array_elements(p->'data'->'events') ev, core.okta_users(ev) u
        WHERE lacks IS NULL
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Each user once per delivery, as its latest event in the delivery shows it (a batch
    -- may hold, say, a profile update and a later rename of the same user).
    UNION ALL
    (SELECT DISTINCT ON ((e).event_id, u->>'id')
            core.directory_account(e, 'okta', u->>'id', u->>'alternateId',
                                   u->>'displayName', ARRAY[u->>'alternateId'], u->>'id',
                                   NULL, false, at)
     FROM users
     ORDER BY (e).event_id, u->>'id', at DESC, u::text)
$$;
