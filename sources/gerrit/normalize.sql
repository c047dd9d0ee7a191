-- Gerrit (stream events posted by the webhooks plugin): changes and their patch sets,
-- votes and comments, merges, abandons and restores, branch updates. Gerrit names
-- projects by path and accounts by username, both immutable: repo `gerrit:<project>`,
-- change `gerrit:<project>~<change number>`, actor `gerrit:<username>` (else
-- `gerrit:<email>`). Times are eventCreatedOn / createdOn (Unix seconds).

-- The actor id of a Gerrit account attribute ({name, email, username}).
CREATE OR REPLACE FUNCTION core.gerrit_actor_id(p_account jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'gerrit:' || coalesce(nullif(p_account->>'username', ''),
                                 lower(nullif(p_account->>'email', '')))
$$;

-- A Gerrit account as an actor snapshot.
CREATE OR REPLACE FUNCTION core.gerrit_actor(p_event core.inbound, p_account jsonb,
                                             p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'gerrit', substr(core.gerrit_actor_id(p_account), 8),
                        p_account->>'username', p_account->>'name', p_account->>'email',
                        -- CI systems vote through service accounts.
                        core.is_bot(p_account->>'username')
                            OR coalesce(lower(p_account->>'username')
                                        IN ('jenkins', 'zuul', 'buildbot'), false), p_at)
    WHERE jsonb_typeof(p_account) = 'object' AND core.gerrit_actor_id(p_account) IS NOT NULL
$$;

-- A project as a repo snapshot; its web address is derived from a change URL of the form
-- <base>/c/<project>/+/<number> when the event has one.
CREATE OR REPLACE FUNCTION core.gerrit_repo(p_event core.inbound, p_project text,
                                            p_change_url text, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'gerrit:' || p_project, p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gerrit', 'external_id', p_project, 'full_name', p_project,
                   'url', substring(p_change_url FROM '^(.*)/c/.+/\+/\d+$')
                          || '/admin/repos/' || p_project)))::core.fact
    WHERE p_project IS NOT NULL
$$;

-- The attributes of a change attribute as one event states them. Patch set facts (head,
-- size) come only from events about the current patch set.
CREATE OR REPLACE FUNCTION core.gerrit_change_attrs(p_type text, p_payload jsonb,
                                                    p_at timestamptz)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'provider', 'gerrit', 'repo_id', 'gerrit:' || (c->>'project'),
               'number', (c->>'number')::bigint, 'external_id', c->>'id',
               'title', c->>'subject',
               'state', CASE WHEN p_type = 'change-merged' THEN 'merged'
                             WHEN p_type = 'change-abandoned' THEN 'closed'
                             WHEN p_type = 'change-restored' THEN 'open'
                             WHEN c->>'status' IN ('NEW', 'DRAFT') THEN 'open'
                             WHEN c->>'status' = 'MERGED' THEN 'merged'
                             WHEN c->>'status' = 'ABANDONED' THEN 'closed' END,
               'is_draft', coalesce((c->>'wip')::boolean, false) OR c->>'status' = 'DRAFT',
               'author_id', core.gerrit_actor_id(c->'owner'), 'url', c->>'url',
               'base_branch', c->>'branch',
               'head_sha', CASE WHEN p_type IN ('patchset-created', 'change-merged')
                                THEN ps->>'revision' END,
               'additions', CASE WHEN p_type IN ('patchset-created', 'change-merged')
                                 THEN (ps->>'sizeInsertions')::int END,
               -- Gerrit reports deleted lines as a negative number.
               'deletions', CASE WHEN p_type IN ('patchset-created', 'change-merged')
                                 THEN abs((ps->>'sizeDeletions')::int) END,
               'opened_at', core.ts_epoch((c->>'createdOn')::numeric),
               'ready_at', CASE
                   WHEN p_type = 'patchset-created' AND (ps->>'number')::int = 1
                        AND NOT coalesce((c->>'wip')::boolean, false)
                       THEN core.ts_epoch((c->>'createdOn')::numeric)
                   WHEN p_type = 'wip-state-changed' AND NOT coalesce((c->>'wip')::boolean, false)
                       THEN p_at END,
               'merged_at', CASE WHEN p_type = 'change-merged' THEN p_at END,
               'merge_commit_sha', CASE WHEN p_type = 'change-merged'
                                        THEN coalesce(p_payload->>'newRev', ps->>'revision') END,
               'merged_by_id', CASE WHEN p_type = 'change-merged'
                                    THEN core.gerrit_actor_id(p_payload->'submitter') END,
               'closed_at', CASE WHEN p_type = 'change-abandoned' THEN p_at END,
               'labels', CASE WHEN jsonb_typeof(c->'hashtags') = 'array' THEN c->'hashtags' END,
               'work_item_keys', to_jsonb(core.work_item_keys(
                   c->>'subject', c->>'topic', c->>'commitMessage'))))
        -- A restored change is open again.
        || CASE WHEN p_type = 'change-restored' THEN '{"closed_at": null}'::jsonb ELSE '{}' END
    FROM (SELECT p_payload->'change' AS c, p_payload->'patchSet' AS ps) x
$$;

-- Gerrit events (event type = body type) into facts.
CREATE OR REPLACE FUNCTION core.normalize_gerrit(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.event_type AS t,
               'gerrit:' || (e.payload->'change'->>'project') || '~'
                   || (e.payload->'change'->>'number') AS change_id
        FROM unnest(p_events) e
    ), used AS (
        SELECT * FROM e
        WHERE t IN ('patchset-created', 'change-merged', 'comment-added', 'change-abandoned',
                    'change-restored', 'wip-state-changed')
           -- Only branch updates: patch set uploads also update refs/changes/... refs.
           OR (t = 'ref-updated' AND coalesce(p->'refUpdate'->>'refName' ~ '^refs/heads/'
                                               OR p->'refUpdate'->>'refName' !~ '^refs/', true))
    ), checked AS (
        SELECT used.*, CASE t
            WHEN 'ref-updated' THEN core.missing(p, 'refUpdate.project', 'refUpdate.refName',
                                                 'refUpdate.newRev', 'eventCreatedOn')
            WHEN 'comment-added' THEN core.missing(p, 'change.project', 'change.number',
                                                   'author', 'eventCreatedOn')
            ELSE core.missing(p, 'change.project', 'change.number', 'eventCreatedOn')
            END AS lacks
        FROM used
    ), ok AS (
        SELECT checked.*, core.ts_epoch((p->>'eventCreatedOn')::numeric) AS at
        FROM checked WHERE lacks IS NULL
    ), votes AS (
        -- The comment's Code-Review vote when it set or changed one (oldValue is sent only
        -- when the value changed; older Gerrit versions never send it).
        SELECT ok.*, (SELECT (a->>'value')::int FROM jsonb_array_elements(
                          CASE WHEN jsonb_typeof(p->'approvals') = 'array'
                               THEN p->'approvals' ELSE '[]' END) a
                      WHERE a->>'type' = 'Code-Review'
                        AND (a->>'oldValue') IS DISTINCT FROM (a->>'value')
                      LIMIT 1) AS code_review
        FROM ok WHERE t = 'comment-added'
    ), refs AS (
        SELECT ok.*, p->'refUpdate' AS u,
               coalesce(substring(p->'refUpdate'->>'refName' FROM '^refs/heads/(.+)$'),
                        -- Old Gerrit versions name branches without refs/heads/.
                        CASE WHEN p->'refUpdate'->>'refName' !~ '^refs/'
                             THEN p->'refUpdate'->>'refName' END) AS branch
        FROM ok WHERE t = 'ref-updated'
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Projects and the accounts that acted, from every event we use.
    UNION ALL
    SELECT core.gerrit_repo(e, coalesce(p->'change'->>'project', p->'refUpdate'->>'project'),
                            p->'change'->>'url', at)
    FROM ok
    UNION ALL
    SELECT core.gerrit_actor(e, u, at)
    FROM ok, LATERAL (VALUES (p->'change'->'owner'), (p->'patchSet'->'uploader'),
                             (p->'uploader'), (p->'author'), (p->'submitter'),
                             (p->'abandoner'), (p->'restorer'), (p->'changer')) AS v(u)
    WHERE u IS NOT NULL

    -- Changes, from every change event.
    UNION ALL
    SELECT ROW((e).event_id, 'change', change_id, at,
               core.gerrit_change_attrs(t, p, at))::core.fact
    FROM ok WHERE t <> 'ref-updated'

    -- Comments, with the Code-Review vote they cast: +2 approves, a negative vote asks for
    -- changes, +1 or 0 comments. Gerrit gives comments no id.
    UNION ALL
    SELECT ROW((e).event_id, 'review',
               change_id || ':comment:' || coalesce(p->'patchSet'->>'number', '0') || ':'
               || substr(core.gerrit_actor_id(p->'author'), 8) || ':' || (p->>'eventCreatedOn'),
               at,
               jsonb_build_object(
                   'provider', 'gerrit', 'change_id', change_id,
                   'reviewer_id', core.gerrit_actor_id(p->'author'),
                   'kind', CASE WHEN code_review IS NOT NULL THEN 'review' ELSE 'comment' END,
                   'state', CASE WHEN code_review >= 2 THEN 'approved'
                                 WHEN code_review < 0 THEN 'changes_requested'
                                 ELSE 'commented' END,
                   'submitted_at', at))::core.fact
    FROM votes WHERE core.gerrit_actor_id(p->'author') IS NOT NULL

    -- Branch heads moved by a submit or a direct push (the new head commit only).
    UNION ALL
    SELECT ROW((e).event_id, 'commit', 'gerrit:' || (u->>'project') || ':' || (u->>'newRev'),
               at, jsonb_build_object(
                   'provider', 'gerrit', 'repo_id', 'gerrit:' || (u->>'project'),
                   'sha', u->>'newRev', 'branch', branch, 'pushed_at', at))::core.fact
    FROM refs WHERE branch IS NOT NULL AND u->>'newRev' !~ '^0+$'
$$;
