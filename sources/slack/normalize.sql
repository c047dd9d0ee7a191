-- Slack (Events API): the workspace members that events name, as accounts. Only accounts
-- are modelled so far. Messages, reactions, channels and slash commands are not.
--
-- Event types used (`event_callback.` + `event.type`):
-- - `user_change`, `team_join`, and the identical `user_profile_changed`,
--   `user_status_changed`, `user_huddle_changed`. These carry a full user object
--   (`event.user`: id, name, real_name, deleted, is_bot, updated, profile {email,
--   real_name, display_name, ...}).
-- - `message` (every subtype), `app_mention`, `reaction_added`, `reaction_removed`. These
--   name members by id only: `event.user` (the author or reactor), `event.item_user` (the
--   author of the item reacted to), `event.inviter` (channel_join), `event.message.user`
--   (the message a `message_changed` / `message_replied` carries). A bot message without
--   a user id (`bot_message` from an incoming webhook) names no member.
-- Other callbacks, `url_verification`, slash commands and interactivity are not used. Slash
-- commands and interactivity arrive form-encoded, so normalization marks them failed
-- ("body is not a JSON document") before this function sees them.
-- Required fields: `event_time`; `event.user.id` for the user-object events.
--
-- Ids: actor `slack:<user id>` (U… / W…; values that are not ids, such as the
-- `UREVOKEDU` placeholder of ekm_access_denied messages, are skipped). From a user
-- object: login = `name` (the legacy handle), display_name = `profile.real_name`, else
-- `real_name`, else `profile.display_name`; emails = [`profile.email`] (present when the
-- app has users:read.email). From an id: nothing but the id. is_bot when the user object
-- says `is_bot` or `is_workflow_bot`, when a message has a `bot_id` or subtype
-- `bot_message`, and always for `USLACKBOT` (Slackbot's own user object says `is_bot:
-- false`). `deleted` (a deactivated member) is not modelled. Observed at the user
-- object's `updated` (epoch seconds), else the envelope's `event_time`.

-- Slack Events API deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_slack(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'event' AS ev,
               e.event_type IN ('event_callback.user_change', 'event_callback.team_join',
                                'event_callback.user_profile_changed',
                                'event_callback.user_status_changed',
                                'event_callback.user_huddle_changed') AS has_user
        FROM unnest(p_events) e
        WHERE e.event_type IN ('event_callback.user_change', 'event_callback.team_join',
                               'event_callback.user_profile_changed',
                               'event_callback.user_status_changed',
                               'event_callback.user_huddle_changed',
                               'event_callback.message', 'event_callback.app_mention',
                               'event_callback.reaction_added',
                               'event_callback.reaction_removed')
    ), checked AS (
        SELECT e.*, CASE WHEN has_user THEN core.missing(p, 'event_time', 'event.user.id')
                         ELSE core.missing(p, 'event_time') END AS lacks
        FROM e
    ), ok AS (
        SELECT checked.*, core.ts_epoch((p->>'event_time')::numeric) AS at
        FROM checked WHERE lacks IS NULL
    ), refs AS (
        -- Every member the event names: the full user object (rank 1), or an id (rank 2).
        SELECT ok.e, ev->'user'->>'id' AS id, ev->'user' AS u, 1 AS rank,
               coalesce((ev->'user'->>'is_bot')::boolean, false)
                   OR coalesce((ev->'user'->>'is_workflow_bot')::boolean, false) AS is_bot,
               coalesce(core.ts_epoch(nullif(ev->'user'->>'updated', '')::numeric), at)
                   AS at
        FROM ok WHERE has_user
        UNION ALL
        SELECT ok.e, r.id, NULL, 2, r.is_bot, at
        FROM ok, LATERAL (
            SELECT ev->>'user', coalesce(ev->>'bot_id', '') <> ''
                                OR coalesce(ev->>'subtype', '') = 'bot_message'
            WHERE jsonb_typeof(ev->'user') = 'string'
            UNION ALL
            SELECT ev->>'item_user', false WHERE jsonb_typeof(ev->'item_user') = 'string'
            UNION ALL
            SELECT ev->>'inviter', false WHERE jsonb_typeof(ev->'inviter') = 'string'
            UNION ALL
            SELECT ev->'message'->>'user', coalesce(ev->'message'->>'bot_id', '') <> ''
                                OR coalesce(ev->'message'->>'subtype', '') = 'bot_message'
            WHERE jsonb_typeof(ev->'message'->'user') = 'string') AS r(id, is_bot)
        WHERE NOT has_user
    ), accounts AS (
        -- One statement per member and event: the richest one, a bot if any says so.
        SELECT DISTINCT ON ((e).event_id, id) e, id, u, at,
               bool_or(is_bot) OVER (PARTITION BY (e).event_id, id) OR id = 'USLACKBOT'
                   AS is_bot
        FROM refs
        WHERE id ~ '^[A-Z0-9]+$' AND id <> 'UREVOKEDU'
        ORDER BY (e).event_id, id, rank, at DESC
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.account(e, 'slack', id, nullif(u->>'name', ''),
                        coalesce(nullif(u->'profile'->>'real_name', ''),
                                 nullif(u->>'real_name', ''),
                                 nullif(u->'profile'->>'display_name', '')),
                        u->'profile'->>'email', is_bot, at)
    FROM accounts
$$;
