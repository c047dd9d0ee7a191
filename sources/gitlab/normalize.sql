-- GitLab: merge requests, their approvals and comments, pushes, CI pipelines and jobs,
-- deployments, releases. Ids are GitLab's numeric ids (stable across renames and moves):
-- repo `gitlab:<project id>`, change `gitlab:<project id>!<mr iid>`, actor
-- `gitlab:<user id>`, pipeline `gitlab:pipeline:<id>`, job `gitlab:job:<id>`, deploy
-- `gitlab:deployment:<id>`; commit authors are git identities `git:<email>`.

-- A GitLab user as an actor snapshot (GitLab sends `[REDACTED]` for private emails).
CREATE OR REPLACE FUNCTION core.gitlab_actor(p_event core.inbound, p_id text, p_username text,
                                             p_name text, p_email text, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    -- core.is_bot knows project and group access-token users (project_<id>_bot_<hex>).
    SELECT core.account(p_event, 'gitlab', p_id, p_username, p_name, p_email,
                        core.is_bot(p_username), p_at)
    WHERE p_id IS NOT NULL
$$;

-- A GitLab user object ({id, username, name, email}) as an actor snapshot.
CREATE OR REPLACE FUNCTION core.gitlab_user(p_event core.inbound, p_user jsonb, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.gitlab_actor(p_event, p_user->>'id', p_user->>'username', p_user->>'name',
                             p_user->>'email', p_at)
    WHERE jsonb_typeof(p_user) = 'object'
$$;

-- A project as a repo snapshot.
CREATE OR REPLACE FUNCTION core.gitlab_repo(p_event core.inbound, p_project jsonb,
                                            p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'gitlab:' || (p_project->>'id'), p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'external_id', p_project->>'id',
                   'full_name', p_project->>'path_with_namespace',
                   'url', coalesce(p_project->>'web_url', p_project->>'homepage'),
                   'default_branch', p_project->>'default_branch',
                   -- visibility_level: 0 private, 10 internal (any signed-in user), 20 public
                   'is_private', (p_project->>'visibility_level')::int <> 20)))::core.fact
    WHERE p_project->>'id' IS NOT NULL
$$;

-- A pipeline or job status as a canonical run status. A job left `manual` never ran (it
-- is skipped); a pipeline in `manual` waits for someone to start a blocking job.
CREATE OR REPLACE FUNCTION core.gitlab_run_status(p_status text, p_is_job boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_status = 'manual' THEN CASE WHEN p_is_job THEN 'skipped' ELSE 'queued' END
        WHEN p_status IN ('created', 'waiting_for_resource', 'preparing', 'pending',
                          'scheduled', 'waiting_for_callback') THEN 'queued'
        WHEN p_status IN ('running', 'canceling') THEN 'running'
        WHEN p_status = 'success' THEN 'success'
        WHEN p_status = 'failed' THEN 'failure'
        WHEN p_status = 'canceled' THEN 'cancelled'
        WHEN p_status = 'skipped' THEN 'skipped'
        ELSE 'unknown' END
$$;

-- The attributes of a merge request (the object_attributes of a merge request event, or
-- the merge_request a comment carries: only what it states is said). The merge and close
-- times are the update time of the event that merged or closed it.
CREATE OR REPLACE FUNCTION core.gitlab_change_attrs(p_repo_id text, p_mr jsonb, p_action text,
                                                    p_user jsonb, p_changes jsonb,
                                                    p_labels jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'provider', 'gitlab', 'repo_id', p_repo_id,
               'number', (p_mr->>'iid')::bigint, 'external_id', p_mr->>'id',
               'title', p_mr->>'title',
               'state', CASE p_mr->>'state' WHEN 'opened' THEN 'open' WHEN 'locked' THEN 'open'
                                            WHEN 'merged' THEN 'merged'
                                            WHEN 'closed' THEN 'closed' END,
               'is_draft', coalesce((p_mr->>'draft')::boolean,
                                    (p_mr->>'work_in_progress')::boolean),
               'author_id', 'gitlab:' || (p_mr->>'author_id'), 'url', p_mr->>'url',
               'base_branch', p_mr->>'target_branch', 'head_branch', p_mr->>'source_branch',
               'head_sha', p_mr->'last_commit'->>'id', 'opened_at', p_mr->>'created_at',
               'ready_at', CASE
                   WHEN p_action = 'open' AND NOT coalesce((p_mr->>'draft')::boolean,
                                                           (p_mr->>'work_in_progress')::boolean,
                                                           false)
                       THEN p_mr->>'created_at'
                   WHEN p_changes->'draft'->>'previous' = 'true'
                        AND p_changes->'draft'->>'current' = 'false'
                       THEN p_mr->>'updated_at' END,
               'merged_at', CASE WHEN p_action = 'merge' THEN p_mr->>'updated_at' END,
               'closed_at', CASE WHEN p_action = 'close' THEN p_mr->>'updated_at' END,
               -- A fast-forward merge creates no merge commit: the head lands as is.
               'merge_commit_sha', CASE WHEN p_action = 'merge' OR p_mr->>'state' = 'merged'
                   THEN coalesce(p_mr->>'merge_commit_sha', p_mr->>'squash_commit_sha',
                                 CASE WHEN p_action = 'merge'
                                      THEN p_mr->'last_commit'->>'id' END) END,
               'merged_by_id', CASE WHEN p_action = 'merge'
                   THEN 'gitlab:' || coalesce(p_mr->>'merge_user_id', p_user->>'id') END,
               'labels', CASE WHEN jsonb_typeof(p_labels) = 'array' THEN coalesce(
                   (SELECT jsonb_agg(DISTINCT l->>'title')
                    FROM jsonb_array_elements(p_labels) l WHERE l->>'title' IS NOT NULL),
                   '[]') END,
               'work_item_keys', to_jsonb(core.work_item_keys(
                   p_mr->>'title', p_mr->>'source_branch', p_mr->>'description'))))
        -- Reopening takes back the close.
        || CASE WHEN p_action = 'reopen' THEN '{"closed_at": null}'::jsonb ELSE '{}' END
$$;

-- GitLab deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_gitlab(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->>'object_kind' AS kind,
               e.payload->'object_attributes' AS oa,
               coalesce(e.payload->'object_attributes'->>'action', e.payload->>'action')
                   AS action,
               coalesce(e.payload->'project'->>'id', e.payload->>'project_id') AS project_id
        FROM unnest(p_events) e
    ), used AS (
        -- Comments count only on merge requests; a release only when it is created.
        SELECT e.*, 'gitlab:' || project_id AS repo_id FROM e
        WHERE kind IN ('merge_request', 'push', 'pipeline', 'build', 'deployment')
           OR (kind = 'note' AND oa->>'noteable_type' = 'MergeRequest')
           OR (kind = 'release' AND action = 'create')
    ), checked AS (
        SELECT used.*, CASE kind
            WHEN 'merge_request' THEN core.missing(p, 'project.id', 'object_attributes.iid',
                'object_attributes.updated_at', 'object_attributes.author_id')
            WHEN 'note' THEN core.missing(p, 'project.id', 'object_attributes.id',
                'object_attributes.created_at', 'merge_request.iid')
            WHEN 'push' THEN core.missing(p, 'project.id', 'ref')
            WHEN 'pipeline' THEN core.missing(p, 'project.id', 'object_attributes.id',
                'object_attributes.status', 'object_attributes.created_at')
            WHEN 'build' THEN core.missing(p, 'project_id', 'build_id', 'pipeline_id',
                                           'build_status', 'build_created_at')
            WHEN 'deployment' THEN core.missing(p, 'project.id', 'deployment_id', 'status',
                                                'status_changed_at')
            WHEN 'release' THEN core.missing(p, 'project.id', 'id', 'created_at')
            END AS lacks
        FROM used
    ), ok AS (
        SELECT * FROM checked WHERE lacks IS NULL
    ), commits AS (
        SELECT ok.*, c,
               nullif(regexp_replace(p->>'ref', '^refs/heads/', ''), p->>'ref') AS branch,
               -- A push states no time of its own: its newest commit is the closest.
               (SELECT max(core.ts(x->>'timestamp'))
                FROM jsonb_array_elements(p->'commits') x) AS pushed_at
        FROM ok, jsonb_array_elements(coalesce(p->'commits', '[]')) c
        WHERE kind = 'push'
    ), event_time AS (
        SELECT ok.*, coalesce(CASE kind
            WHEN 'merge_request' THEN core.ts(oa->>'updated_at')
            WHEN 'note' THEN core.ts(oa->>'created_at')
            WHEN 'push' THEN (SELECT max(core.ts(x->>'timestamp'))
                              FROM jsonb_array_elements(p->'commits') x)
            -- A pipeline event carries no update time: its latest known moment stands in.
            WHEN 'pipeline' THEN greatest(
                core.ts(oa->>'created_at'), core.ts(oa->>'finished_at'),
                (SELECT max(greatest(core.ts(b->>'created_at'), core.ts(b->>'started_at'),
                                     core.ts(b->>'finished_at')))
                 FROM jsonb_array_elements(coalesce(p->'builds', '[]')) b))
            WHEN 'build' THEN coalesce(core.ts(p->>'build_finished_at'),
                                       core.ts(p->>'build_started_at'),
                                       core.ts(p->>'build_created_at'))
            WHEN 'deployment' THEN core.ts(p->>'status_changed_at')
            WHEN 'release' THEN core.ts(p->>'created_at')
            END, (ok.e).received_at) AS at
        FROM ok
    ), builds AS (
        -- The jobs a pipeline event lists.
        SELECT event_time.*, b,
               coalesce(core.ts(b->>'finished_at'), core.ts(b->>'started_at'),
                        core.ts(b->>'created_at')) AS b_at
        FROM event_time, jsonb_array_elements(coalesce(p->'builds', '[]')) b
        WHERE kind = 'pipeline' AND b->>'id' IS NOT NULL
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Projects and the accounts that acted, from every event we use.
    UNION ALL
    SELECT core.gitlab_repo(e, p->'project', at) FROM event_time
    UNION ALL
    SELECT core.gitlab_repo(e, jsonb_build_object(
               'id', p->>'project_id', 'homepage', p->'repository'->>'homepage',
               'visibility_level', p->'repository'->'visibility_level'), at)
    FROM event_time WHERE kind = 'build' AND NOT p ? 'project'
    UNION ALL
    SELECT core.gitlab_user(e, u, at)
    FROM event_time, LATERAL (
        SELECT p->'user' UNION ALL
        SELECT x FROM jsonb_array_elements(CASE WHEN kind = 'merge_request'
            THEN coalesce(p->'reviewers', '[]') || coalesce(p->'assignees', '[]')
            ELSE '[]' END) x) AS v(u)
    UNION ALL
    SELECT core.gitlab_actor(e, p->>'user_id', p->>'user_username', p->>'user_name',
                             p->>'user_email', at)
    FROM event_time WHERE kind = 'push'

    -- Merge requests, from their own events and from the comments on them.
    UNION ALL
    SELECT ROW((e).event_id, 'change', repo_id || '!' || (oa->>'iid'), at,
               core.gitlab_change_attrs(repo_id, oa, action, p->'user', p->'changes',
                                        coalesce(oa->'labels', p->'labels')))::core.fact
    FROM event_time WHERE kind = 'merge_request'
    UNION ALL
    SELECT ROW((e).event_id, 'change', repo_id || '!' || (mr->>'iid'),
               coalesce(core.ts(mr->>'updated_at'), at),
               core.gitlab_change_attrs(repo_id, mr, NULL, NULL, NULL, mr->'labels'))::core.fact
    FROM event_time, LATERAL (SELECT p->'merge_request' AS mr) x
    WHERE kind = 'note'

    -- Approvals (one review per approver, withdrawn by unapproval) and comments.
    UNION ALL
    SELECT ROW((e).event_id, 'review',
               repo_id || '!' || (oa->>'iid') || ':approval:' || (p->'user'->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'change_id', repo_id || '!' || (oa->>'iid'),
                   'reviewer_id', 'gitlab:' || (p->'user'->>'id'), 'kind', 'review',
                   'state', CASE WHEN action IN ('approved', 'approval') THEN 'approved'
                                 ELSE 'dismissed' END,
                   'submitted_at', oa->>'updated_at')))::core.fact
    FROM event_time
    WHERE kind = 'merge_request' AND p->'user'->>'id' IS NOT NULL
      AND action IN ('approved', 'approval', 'unapproved', 'unapproval')
    UNION ALL
    SELECT ROW((e).event_id, 'review', 'gitlab:note:' || (oa->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab',
                   'change_id', repo_id || '!' || (p->'merge_request'->>'iid'),
                   'reviewer_id', 'gitlab:' || coalesce(oa->>'author_id', p->'user'->>'id'),
                   'kind', 'comment', 'state', 'commented',
                   'submitted_at', oa->>'created_at')))::core.fact
    FROM event_time
    WHERE kind = 'note' AND NOT coalesce((oa->>'system')::boolean, false)

    -- Commits pushed to branches (tag pushes are another kind), and their authors.
    UNION ALL
    SELECT core.pushed_commit(e, 'gitlab', repo_id, c, branch, pushed_at) FROM commits
    UNION ALL
    SELECT core.git_author(e, c->'author'->>'name', c->'author'->>'email', false, pushed_at)
    FROM commits WHERE c->'author'->>'email' ~ '^[^@\s]+@[^@\s]+$'

    -- Pipelines, the jobs they list, and job events.
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'gitlab:pipeline:' || (oa->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'kind', 'pipeline', 'repo_id', repo_id,
                   'name', oa->>'name',
                   'status', core.gitlab_run_status(oa->>'status', false),
                   'status_vendor', oa->>'status', 'trigger', oa->>'source',
                   'commit_sha', oa->>'sha',
                   'branch', CASE WHEN NOT coalesce((oa->>'tag')::boolean, false)
                                  THEN oa->>'ref' END,
                   'actor_id', 'gitlab:' || (p->'user'->>'id'),
                   'url', coalesce(oa->>'url', p->'project'->>'web_url' || '/-/pipelines/'
                                                || (oa->>'id')),
                   'queued_at', oa->>'created_at',
                   -- GitLab's queued_duration is the wait from creation to start.
                   'started_at', core.ts(oa->>'created_at')
                                 + make_interval(secs => (oa->>'queued_duration')::numeric),
                   'finished_at', CASE WHEN oa->>'status' IN ('success', 'failed', 'canceled',
                                                              'skipped')
                                       THEN oa->>'finished_at' END)))::core.fact
    FROM event_time WHERE kind = 'pipeline'
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'gitlab:job:' || (b->>'id'), coalesce(b_at, at),
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'kind', 'job', 'repo_id', repo_id,
                   'parent_run_id', 'gitlab:pipeline:' || (oa->>'id'), 'name', b->>'name',
                   'status', core.gitlab_run_status(b->>'status', true),
                   'status_vendor', b->>'status', 'commit_sha', oa->>'sha',
                   'branch', CASE WHEN NOT coalesce((oa->>'tag')::boolean, false)
                                  THEN oa->>'ref' END,
                   'actor_id', 'gitlab:' || (b->'user'->>'id'),
                   'url', p->'project'->>'web_url' || '/-/jobs/' || (b->>'id'),
                   'queued_at', b->>'created_at', 'started_at', b->>'started_at',
                   'finished_at', b->>'finished_at')))::core.fact
    FROM builds
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', 'gitlab:job:' || (p->>'build_id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'kind', 'job', 'repo_id', repo_id,
                   'parent_run_id', 'gitlab:pipeline:' || (p->>'pipeline_id'),
                   'name', p->>'build_name',
                   -- retries_count: 0 for a first run, 1 for the first retry...
                   'attempt', (p->>'retries_count')::int + 1,
                   'status', core.gitlab_run_status(p->>'build_status', true),
                   'status_vendor', p->>'build_status', 'commit_sha', p->>'sha',
                   'branch', CASE WHEN NOT coalesce((p->>'tag')::boolean, false)
                                  THEN p->>'ref' END,
                   'actor_id', 'gitlab:' || (p->'user'->>'id'),
                   'url', coalesce(p->'project'->>'web_url', p->'repository'->>'homepage')
                          || '/-/jobs/' || (p->>'build_id'),
                   'queued_at', p->>'build_created_at', 'started_at', p->>'build_started_at',
                   'finished_at', p->>'build_finished_at')))::core.fact
    FROM event_time WHERE kind = 'build'

    -- Deployments to environments, and releases.
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'gitlab:deployment:' || (p->>'deployment_id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'kind', 'deployment', 'repo_id', repo_id,
                   'service', p->'project'->>'path_with_namespace',
                   'environment', p->>'environment',
                   'status', CASE p->>'status'
                       WHEN 'created' THEN 'pending' WHEN 'blocked' THEN 'pending'
                       WHEN 'running' THEN 'running' WHEN 'success' THEN 'success'
                       WHEN 'failed' THEN 'failure' WHEN 'canceled' THEN 'cancelled'
                       ELSE 'unknown' END,
                   'status_vendor', p->>'status', 'ref', p->>'ref', 'commit_sha', sha,
                   'commit_shas', CASE WHEN sha IS NOT NULL THEN jsonb_build_array(sha) END,
                   'actor_id', 'gitlab:' || (p->'user'->>'id'),
                   'url', p->>'deployable_url', 'description', p->>'commit_title',
                   'started_at', CASE WHEN p->>'status' = 'running'
                                      THEN p->>'status_changed_at' END,
                   'finished_at', CASE WHEN p->>'status' IN ('success', 'failed', 'canceled')
                                       THEN p->>'status_changed_at' END,
                   'is_rollback', p->>'commit_title' ~* '(rollback|roll back|revert)',
                   'is_hotfix', concat_ws(' ', p->>'ref', p->>'commit_title') ~* 'hotfix')))::core.fact
    FROM event_time,
         LATERAL (SELECT substring(p->>'commit_url' FROM '/commit/([0-9a-f]{40,64})$') AS sha) s
    WHERE kind = 'deployment'
    UNION ALL
    SELECT ROW((e).event_id, 'deploy', 'gitlab:release:' || (p->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'gitlab', 'kind', 'release', 'repo_id', repo_id,
                   'service', p->'project'->>'path_with_namespace', 'environment', 'release',
                   'status', 'success', 'ref', p->>'tag', 'commit_sha', p->'commit'->>'id',
                   'commit_shas', CASE WHEN p->'commit'->>'id' IS NOT NULL
                                       THEN jsonb_build_array(p->'commit'->>'id') END,
                   'url', p->>'url', 'description', p->>'name',
                   'started_at', coalesce(p->>'released_at', p->>'created_at'),
                   'finished_at', coalesce(p->>'released_at', p->>'created_at'),
                   'is_hotfix', concat_ws(' ', p->>'tag', p->>'name') ~* 'hotfix')))::core.fact
    FROM event_time WHERE kind = 'release'
$$;
