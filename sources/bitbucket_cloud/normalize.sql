-- Bitbucket Cloud: pull requests, their approvals, change requests and comments, pushes,
-- commit build statuses. Ids are Bitbucket's UUIDs without their braces (stable across
-- renames): repo `bitbucket_cloud:<repo uuid>`, change `bitbucket_cloud:<repo uuid>#<pr id>`,
-- actor `bitbucket_cloud:<account uuid>`; commit authors are git identities `git:<email>`.

-- A Bitbucket UUID without its braces.
CREATE OR REPLACE FUNCTION core.bitbucket_cloud_uuid(p_uuid text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(p_uuid, '{}'), '')
$$;

-- A Bitbucket account (user, team or app user) as an actor snapshot. Bitbucket sends no
-- emails (GDPR).
CREATE OR REPLACE FUNCTION core.bitbucket_cloud_actor(p_event core.inbound, p_user jsonb,
                                                      p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    -- core.is_bot knows the `app_user` type.
    SELECT core.account(p_event, 'bitbucket_cloud', core.bitbucket_cloud_uuid(p_user->>'uuid'),
                        coalesce(p_user->>'nickname', p_user->>'username'),
                        p_user->>'display_name', NULL,
                        core.is_bot(coalesce(p_user->>'nickname', p_user->>'username'),
                                    p_user->>'type'), p_at)
    WHERE jsonb_typeof(p_user) = 'object' AND core.bitbucket_cloud_uuid(p_user->>'uuid') IS NOT NULL
$$;

-- A repository as a repo snapshot.
CREATE OR REPLACE FUNCTION core.bitbucket_cloud_repo(p_event core.inbound, p_repo jsonb,
                                                     p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo',
               'bitbucket_cloud:' || core.bitbucket_cloud_uuid(p_repo->>'uuid'), p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'bitbucket_cloud',
                   'external_id', core.bitbucket_cloud_uuid(p_repo->>'uuid'),
                   'full_name', p_repo->>'full_name', 'url', p_repo->'links'->'html'->>'href',
                   'default_branch', p_repo->'mainbranch'->>'name',
                   'is_private', (p_repo->>'is_private')::boolean)))::core.fact
    WHERE core.bitbucket_cloud_uuid(p_repo->>'uuid') IS NOT NULL
$$;

-- The attributes of a pull request. The event says what happened (fulfilled = merged,
-- rejected = declined) at the pull request's update time; `state` is read otherwise.
CREATE OR REPLACE FUNCTION core.bitbucket_cloud_change_attrs(p_repo_id text, p_pr jsonb,
                                                             p_action text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'provider', 'bitbucket_cloud', 'repo_id', p_repo_id,
               'number', (p_pr->>'id')::bigint, 'title', p_pr->>'title',
               'state', CASE
                   WHEN p_action = 'fulfilled' THEN 'merged'
                   WHEN p_action = 'rejected' THEN 'closed'
                   WHEN p_pr->>'state' = 'OPEN' THEN 'open'
                   WHEN p_pr->>'state' = 'MERGED' THEN 'merged'
                   WHEN p_pr->>'state' IN ('DECLINED', 'SUPERSEDED') THEN 'closed' END,
               'is_draft', (p_pr->>'draft')::boolean,
               'author_id', 'bitbucket_cloud:'
                            || core.bitbucket_cloud_uuid(p_pr->'author'->>'uuid'),
               'url', p_pr->'links'->'html'->>'href',
               'base_branch', p_pr->'destination'->'branch'->>'name',
               'head_branch', p_pr->'source'->'branch'->>'name',
               'head_sha', p_pr->'source'->'commit'->>'hash',
               'opened_at', p_pr->>'created_on',
               'ready_at', CASE WHEN p_action = 'created'
                                     AND NOT coalesce((p_pr->>'draft')::boolean, false)
                                THEN p_pr->>'created_on' END,
               'merged_at', CASE WHEN p_action = 'fulfilled' THEN p_pr->>'updated_on' END,
               'closed_at', CASE WHEN p_action = 'rejected' THEN p_pr->>'updated_on' END,
               'merge_commit_sha', CASE WHEN p_action = 'fulfilled' OR p_pr->>'state' = 'MERGED'
                                        THEN p_pr->'merge_commit'->>'hash' END,
               'merged_by_id', CASE WHEN p_action = 'fulfilled'
                   THEN 'bitbucket_cloud:' || core.bitbucket_cloud_uuid(p_pr->'closed_by'->>'uuid')
                   END,
               'work_item_keys', to_jsonb(core.work_item_keys(
                   p_pr->>'title', p_pr->'source'->'branch'->>'name', p_pr->>'description'))))
        -- An open pull request (a declined one reopened) has no close time.
        || CASE WHEN p_pr->>'state' = 'OPEN' AND coalesce(p_action, '') <> 'rejected'
                THEN '{"closed_at": null}'::jsonb ELSE '{}' END
$$;

-- A commit status state as a canonical run status.
CREATE OR REPLACE FUNCTION core.bitbucket_cloud_run_status(p_state text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_state
        WHEN 'INPROGRESS' THEN 'running' WHEN 'SUCCESSFUL' THEN 'success'
        WHEN 'FAILED' THEN 'failure' WHEN 'STOPPED' THEN 'cancelled'
        ELSE 'unknown' END
$$;

-- Bitbucket Cloud deliveries (event type = X-Event-Key) into facts.
CREATE OR REPLACE FUNCTION core.normalize_bitbucket_cloud(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.event_type AS t,
               split_part(e.event_type, ':', 1) AS kind,
               split_part(e.event_type, ':', 2) AS action,
               'bitbucket_cloud:' || core.bitbucket_cloud_uuid(e.payload->'repository'->>'uuid')
                   AS repo_id,
               'bitbucket_cloud:' || core.bitbucket_cloud_uuid(e.payload->'repository'->>'uuid')
                   || '#' || (e.payload->'pullrequest'->>'id') AS change_id
        FROM unnest(p_events) e
    ), used AS (
        SELECT * FROM e
        WHERE t IN ('pullrequest:created', 'pullrequest:updated', 'pullrequest:fulfilled',
                    'pullrequest:rejected', 'pullrequest:approved', 'pullrequest:unapproved',
                    'pullrequest:changes_request_created', 'pullrequest:changes_request_removed',
                    'pullrequest:comment_created', 'repo:push', 'repo:commit_status_created',
                    'repo:commit_status_updated')
    ), checked AS (
        SELECT used.*, CASE
            WHEN action IN ('approved', 'unapproved') THEN core.missing(p, 'repository.uuid',
                'pullrequest.id', 'pullrequest.updated_on', 'approval.date', 'approval.user.uuid')
            WHEN action = 'comment_created' THEN core.missing(p, 'repository.uuid',
                'pullrequest.id', 'pullrequest.updated_on', 'comment.id', 'comment.created_on')
            WHEN kind = 'pullrequest' THEN core.missing(p, 'repository.uuid', 'pullrequest.id',
                'pullrequest.created_on', 'pullrequest.updated_on')
            WHEN kind = 'repo' AND action = 'push' THEN core.missing(p, 'repository.uuid',
                                                                     'push.changes')
            ELSE coalesce(core.missing(p, 'repository.uuid', 'commit_status.key',
                                       'commit_status.state', 'commit_status.updated_on'),
                          -- Older deliveries name the commit only in links.commit.href.
                          CASE WHEN p->'commit_status'->'commit'->>'hash' IS NULL
                                    AND p->'commit_status'->'links'->'commit'->>'href' IS NULL
                               THEN 'commit_status.commit.hash' END)
            END AS lacks
        FROM used
    ), ok AS (
        SELECT * FROM checked WHERE lacks IS NULL
    ), changes AS (
        -- Branch updates of a push (tags and deleted branches have no commits of theirs).
        -- A push states no time of its own: its newest commit is the closest.
        SELECT ok.*, ch->'new'->>'name' AS branch, ch->'commits' AS cs,
               coalesce((SELECT max(core.ts(x->>'date'))
                         FROM jsonb_array_elements(coalesce(ch->'commits', '[]')) x),
                        core.ts(ch->'new'->'target'->>'date'), (ok.e).received_at) AS pushed_at
        FROM ok, jsonb_array_elements(p->'push'->'changes') ch
        WHERE t = 'repo:push' AND ch->'new'->>'type' = 'branch'
    ), commits AS (
        SELECT changes.*, c,
               lower(substring(c->'author'->>'raw' FROM '<([^<>@\s]+@[^<>\s]+)>')) AS email,
               coalesce(c->'author'->'user', CASE WHEN c->'author' ? 'uuid'
                                                  THEN c->'author' END) AS author_user
        FROM changes, jsonb_array_elements(coalesce(cs, '[]')) c
        WHERE c->>'hash' IS NOT NULL
    ), event_time AS (
        SELECT ok.*, coalesce(CASE
            WHEN action IN ('approved', 'unapproved') THEN core.ts(p->'approval'->>'date')
            WHEN action = 'comment_created' THEN core.ts(p->'comment'->>'created_on')
            WHEN kind = 'pullrequest' THEN core.ts(p->'pullrequest'->>'updated_on')
            WHEN action = 'push' THEN (
                SELECT max(greatest(core.ts(ch->'new'->'target'->>'date'), core.ts(x->>'date')))
                FROM jsonb_array_elements(p->'push'->'changes') ch
                LEFT JOIN LATERAL jsonb_array_elements(coalesce(ch->'commits', '[]')) x ON true)
            ELSE core.ts(p->'commit_status'->>'updated_on') END,
            (ok.e).received_at) AS at
        FROM ok
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Repositories and the accounts that acted, from every event we use.
    UNION ALL
    SELECT core.bitbucket_cloud_repo(e, p->'repository', at) FROM event_time
    UNION ALL
    SELECT core.bitbucket_cloud_actor(e, u, at)
    FROM event_time, LATERAL (VALUES (p->'actor'), (p->'pullrequest'->'author'),
                                     (p->'pullrequest'->'closed_by'), (p->'approval'->'user'),
                                     (p->'changes_request'->'user'),
                                     (p->'comment'->'user')) AS v(u)
    WHERE u IS NOT NULL
    UNION ALL
    SELECT core.bitbucket_cloud_actor(e, author_user, pushed_at) FROM commits
    WHERE author_user IS NOT NULL

    -- Pull requests, from every pull request event.
    UNION ALL
    SELECT ROW((e).event_id, 'change', change_id, core.ts(p->'pullrequest'->>'updated_on'),
               core.bitbucket_cloud_change_attrs(repo_id, p->'pullrequest', action))::core.fact
    FROM ok WHERE kind = 'pullrequest'

    -- Approvals (one per reviewer, withdrawn by unapproval), change requests (one per
    -- reviewer: removing one, usually once the author addressed it, takes back nothing) and
    -- comments.
    UNION ALL
    SELECT ROW((e).event_id, 'review', change_id || ':approval:' || reviewer, at,
               jsonb_build_object(
                   'provider', 'bitbucket_cloud', 'change_id', change_id,
                   'reviewer_id', 'bitbucket_cloud:' || reviewer, 'kind', 'review',
                   'state', CASE action WHEN 'approved' THEN 'approved' ELSE 'dismissed' END,
                   'submitted_at', p->'approval'->>'date'))::core.fact
    FROM event_time,
         LATERAL (SELECT core.bitbucket_cloud_uuid(p->'approval'->'user'->>'uuid') AS reviewer) r
    WHERE action IN ('approved', 'unapproved')
    UNION ALL
    SELECT ROW((e).event_id, 'review', change_id || ':changes_request:' || reviewer, at,
               jsonb_build_object(
                   'provider', 'bitbucket_cloud', 'change_id', change_id,
                   'reviewer_id', 'bitbucket_cloud:' || reviewer, 'kind', 'review',
                   'state', 'changes_requested',
                   'submitted_at', coalesce(p->'changes_request'->>'date',
                                            p->'pullrequest'->>'updated_on')))::core.fact
    FROM event_time,
         LATERAL (SELECT core.bitbucket_cloud_uuid(coalesce(p->'changes_request'->'user',
                                                            p->'actor')->>'uuid') AS reviewer) r
    WHERE action = 'changes_request_created' AND reviewer IS NOT NULL
    UNION ALL
    SELECT ROW((e).event_id, 'review', change_id || ':comment:' || (p->'comment'->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'bitbucket_cloud', 'change_id', change_id,
                   'reviewer_id', 'bitbucket_cloud:'
                                  || core.bitbucket_cloud_uuid(p->'comment'->'user'->>'uuid'),
                   'kind', 'comment', 'state', 'commented',
                   'submitted_at', p->'comment'->>'created_on')))::core.fact
    FROM event_time WHERE action = 'comment_created'

    -- Commits pushed to branches, and their authors as git identities.
    UNION ALL
    SELECT ROW((e).event_id, 'commit', repo_id || ':' || (c->>'hash'), pushed_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'bitbucket_cloud', 'repo_id', repo_id, 'sha', c->>'hash',
                   'author_id', coalesce('git:' || email, 'bitbucket_cloud:'
                                         || core.bitbucket_cloud_uuid(author_user->>'uuid')),
                   'author_name', coalesce(nullif(btrim(substring(c->'author'->>'raw'
                                                                  FROM '^([^<]*)')), ''),
                                           author_user->>'display_name'),
                   'author_email', email, 'authored_at', c->>'date',
                   'message', core.first_line(c->>'message'), 'branch', branch,
                   'pushed_at', pushed_at)))::core.fact
    FROM commits
    UNION ALL
    SELECT core.git_author(e, nullif(btrim(substring(c->'author'->>'raw' FROM '^([^<]*)')), ''),
                           email, false, pushed_at)
    FROM commits WHERE email IS NOT NULL

    -- Build statuses reported on commits, one run per commit and status key.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', repo_id || ':' || sha || ':' || (s->>'key'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'bitbucket_cloud', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', coalesce(s->>'name', s->>'key'),
                   'status', core.bitbucket_cloud_run_status(s->>'state'),
                   'status_vendor', s->>'state', 'commit_sha', sha, 'branch', s->>'refname',
                   'actor_id', 'bitbucket_cloud:'
                               || core.bitbucket_cloud_uuid(p->'actor'->>'uuid'),
                   'url', s->>'url', 'started_at', s->>'created_on',
                   'finished_at', CASE WHEN s->>'state' IN ('SUCCESSFUL', 'FAILED', 'STOPPED')
                                       THEN s->>'updated_on' END)))::core.fact
    FROM event_time,
         LATERAL (SELECT p->'commit_status' AS s) x,
         LATERAL (SELECT coalesce(s->'commit'->>'hash',
                                  substring(s->'links'->'commit'->>'href'
                                            FROM '/commit/([0-9a-fA-F]+)$')) AS sha) y
    WHERE kind = 'repo' AND action LIKE 'commit_status_%'
$$;
