-- Azure DevOps service hooks: Repos pushes and pull requests (with reviewer votes),
-- Pipelines builds, runs, stages and jobs, classic release deployments. Ids are Azure
-- DevOps GUIDs and numbers: repo `azure_devops:<repository id>`, change
-- `azure_devops:<repository id>#<pull request id>`, actor `azure_devops:<identity id>`, run
-- `azure_devops:build:<project id>:<build/run id>` (a YAML run is a build), deploy
-- `azure_devops:release_env:<collection id>:<release environment id>`; commit authors are
-- git identities `git:<email>`.

-- An Azure DevOps identity as an actor snapshot. uniqueName is the sign-in name (an email
-- for Entra ID accounts, `DOMAIN\name` or a service identity otherwise).
CREATE OR REPLACE FUNCTION core.azure_devops_actor(p_event core.inbound, p_identity jsonb,
                                                   p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(
        p_event, 'azure_devops', p_identity->>'id', p_identity->>'uniqueName',
        p_identity->>'displayName',
        CASE WHEN p_identity->>'uniqueName' ~ '^[^@\s\\]+@[^@\s\\]+$'
             THEN p_identity->>'uniqueName' END,
        -- Pipelines act as "<project> Build Service (<org>)" identities.
        core.is_bot(p_identity->>'uniqueName')
            OR coalesce(p_identity->>'displayName' ~* 'build service', false),
        p_at)
    WHERE jsonb_typeof(p_identity) = 'object' AND p_identity->>'id' IS NOT NULL
      AND NOT coalesce((p_identity->>'isContainer')::boolean, false)
$$;

-- A Git repository as a repo snapshot.
CREATE OR REPLACE FUNCTION core.azure_devops_repo(p_event core.inbound, p_repo jsonb,
                                                  p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'repo', 'azure_devops:' || (p_repo->>'id'), p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'external_id', p_repo->>'id',
                   'full_name', concat_ws('/', p_repo->'project'->>'name', p_repo->>'name'),
                   -- The clone URL may name the account (https://org@dev.azure.com/...).
                   'url', regexp_replace(p_repo->>'remoteUrl', '^(https?://)[^@/]+@', '\1'),
                   'default_branch', regexp_replace(p_repo->>'defaultBranch', '^refs/heads/', ''),
                   'is_private', CASE p_repo->'project'->>'visibility'
                                     WHEN 'private' THEN true WHEN 'public' THEN false END)))::core.fact
    WHERE p_repo->>'id' IS NOT NULL AND p_repo->>'name' IS NOT NULL
$$;

-- A branch name from a ref (refs/heads/x); NULL for other refs.
CREATE OR REPLACE FUNCTION core.azure_devops_branch(p_ref text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(p_ref FROM '^refs/heads/(.+)$')
$$;

-- A build, run, stage or job state and result as a canonical run status.
CREATE OR REPLACE FUNCTION core.azure_devops_run_status(p_state text, p_result text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN lower(p_result) IN ('succeeded', 'partiallysucceeded', 'succeededwithissues')
            THEN 'success'
        WHEN lower(p_result) IN ('failed', 'rejected') THEN 'failure'
        WHEN lower(p_result) IN ('canceled', 'cancelled', 'stopped', 'abandoned') THEN 'cancelled'
        WHEN lower(p_result) = 'skipped' THEN 'skipped'
        WHEN lower(p_state) IN ('notstarted', 'postponed', 'waiting', 'pending') THEN 'queued'
        WHEN lower(p_state) IN ('inprogress', 'running', 'cancelling', 'canceling')
            THEN 'running'
        ELSE 'unknown' END
$$;

-- The attributes of a pull request resource. completed = merged and abandoned = closed,
-- both at closedDate; an active one (reactivated) has no close time.
CREATE OR REPLACE FUNCTION core.azure_devops_change_attrs(p_repo_id text, p_pr jsonb,
                                                         p_event_type text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'provider', 'azure_devops', 'repo_id', p_repo_id,
               'number', (p_pr->>'pullRequestId')::bigint, 'title', p_pr->>'title',
               'state', CASE p_pr->>'status' WHEN 'active' THEN 'open'
                                             WHEN 'completed' THEN 'merged'
                                             WHEN 'abandoned' THEN 'closed' END,
               'is_draft', (p_pr->>'isDraft')::boolean,
               'author_id', 'azure_devops:' || (p_pr->'createdBy'->>'id'),
               'url', coalesce(p_pr->'_links'->'web'->>'href',
                               regexp_replace(p_pr->'repository'->>'remoteUrl',
                                              '^(https?://)[^@/]+@', '\1')
                               || '/pullrequest/' || (p_pr->>'pullRequestId')),
               'base_branch', core.azure_devops_branch(p_pr->>'targetRefName'),
               'head_branch', core.azure_devops_branch(p_pr->>'sourceRefName'),
               'head_sha', p_pr->'lastMergeSourceCommit'->>'commitId',
               'opened_at', p_pr->>'creationDate',
               'ready_at', CASE WHEN p_event_type = 'git.pullrequest.created'
                                     AND NOT coalesce((p_pr->>'isDraft')::boolean, false)
                                THEN p_pr->>'creationDate' END,
               'merged_at', CASE WHEN p_pr->>'status' = 'completed' THEN p_pr->>'closedDate' END,
               'closed_at', CASE WHEN p_pr->>'status' = 'abandoned' THEN p_pr->>'closedDate' END,
               -- Before completion lastMergeCommit is only the trial merge of the branches.
               'merge_commit_sha', CASE WHEN p_pr->>'status' = 'completed'
                                        THEN p_pr->'lastMergeCommit'->>'commitId' END,
               'merged_by_id', CASE WHEN p_pr->>'status' = 'completed'
                                    THEN 'azure_devops:' || (p_pr->'closedBy'->>'id') END,
               'labels', CASE WHEN jsonb_typeof(p_pr->'labels') = 'array' THEN coalesce(
                   (SELECT jsonb_agg(DISTINCT l->>'name')
                    FROM jsonb_array_elements(p_pr->'labels') l
                    WHERE l->>'name' IS NOT NULL AND coalesce((l->>'active')::boolean, true)),
                   '[]') END,
               'work_item_keys', to_jsonb(core.work_item_keys(
                   p_pr->>'title', core.azure_devops_branch(p_pr->>'sourceRefName'),
                   p_pr->>'description'))))
        || CASE WHEN p_pr->>'status' = 'active' THEN '{"closed_at": null}'::jsonb ELSE '{}' END
$$;

-- Azure DevOps service hook events (event type = body eventType) into facts.
CREATE OR REPLACE FUNCTION core.normalize_azure_devops(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload->'resource' AS r, e.event_type AS t,
               'azure_devops:' || (e.payload->'resource'->'repository'->>'id') AS repo_id,
               'azure_devops:build:' || (e.payload->'resourceContainers'->'project'->>'id')
                   || ':' AS build_prefix
        FROM unnest(p_events) e
    ), used AS (
        SELECT * FROM e
        WHERE t IN ('git.push', 'git.pullrequest.created', 'git.pullrequest.updated',
                    'git.pullrequest.merged', 'build.complete',
                    'ms.vss-pipelines.run-state-changed-event',
                    'ms.vss-pipelines.stage-state-changed-event',
                    'ms.vss-pipelines.job-state-changed-event',
                    'ms.vss-release.deployment-started-event',
                    'ms.vss-release.deployment-completed-event')
    ), checked AS (
        SELECT used.*, CASE
            WHEN t = 'git.push' THEN core.missing(p, 'resource.repository.id', 'resource.date')
            WHEN t LIKE 'git.pullrequest.%' THEN core.missing(p, 'resource.repository.id',
                'resource.pullRequestId', 'resource.status', 'resource.createdBy.id',
                'createdDate')
            WHEN t = 'build.complete' THEN core.missing(p, 'resourceContainers.project.id',
                                                        'resource.id', 'createdDate')
            WHEN t = 'ms.vss-pipelines.run-state-changed-event' THEN core.missing(p,
                'resourceContainers.project.id', 'resource.run.id', 'resource.run.state',
                'createdDate')
            WHEN t = 'ms.vss-pipelines.stage-state-changed-event' THEN core.missing(p,
                'resourceContainers.project.id', 'resource.run.id', 'resource.stage.name',
                'resource.stage.state', 'createdDate')
            WHEN t = 'ms.vss-pipelines.job-state-changed-event' THEN core.missing(p,
                'resourceContainers.project.id', 'resource.run.id', 'resource.stage.name',
                'resource.job.name', 'resource.job.state', 'createdDate')
            ELSE core.missing(p, 'resourceContainers.collection.id', 'resource.environment.id',
                              'resource.environment.name', 'createdDate')
            END AS lacks
        FROM used
    ), ok AS (
        -- The time Azure DevOps raised the event: each later event states a later status.
        SELECT checked.*,
               CASE WHEN t = 'git.push' THEN core.ts(r->>'date')
                    ELSE core.ts(p->>'createdDate') END AS at
        FROM checked WHERE lacks IS NULL
    ), pr AS (
        SELECT ok.*, repo_id || '#' || (r->>'pullRequestId') AS change_id
        FROM ok WHERE t LIKE 'git.pullrequest.%'
    ), commits AS (
        SELECT ok.*, c, lower(c->'author'->>'email') AS email,
               -- A push names its updated refs, not which commit went where: the branch is
               -- known when it updated just one.
               (SELECT min(core.azure_devops_branch(u->>'name'))
                FROM jsonb_array_elements(coalesce(r->'refUpdates', '[]')) u
                HAVING count(core.azure_devops_branch(u->>'name')) = 1) AS branch
        FROM ok, jsonb_array_elements(coalesce(r->'commits', '[]')) c
        WHERE t = 'git.push' AND c->>'commitId' IS NOT NULL
    ), runs AS (
        -- Builds (build.complete) and pipeline runs (run, stage and job events) alike.
        SELECT ok.*, coalesce(r->'run', r) AS run,
               build_prefix || coalesce(r->'run'->>'id', r->>'id') AS run_id
        FROM ok WHERE t = 'build.complete' OR t LIKE 'ms.vss-pipelines.%'
    ), deploys AS (
        SELECT ok.*, r->'environment' AS env,
               coalesce(r->'release', r->'deployment'->'release') AS rel,
               (SELECT a FROM jsonb_array_elements(coalesce(
                    r->'release'->'artifacts', r->'deployment'->'release'->'artifacts', '[]')) a
                ORDER BY coalesce((a->>'isPrimary')::boolean, false) DESC LIMIT 1) AS artifact
        FROM ok WHERE t LIKE 'ms.vss-release.deployment-%'
    )
    -- Payloads that lack a documented field.
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    -- Repositories and the identities that acted, from every event we use.
    UNION ALL
    SELECT core.azure_devops_repo(e, r->'repository', at) FROM ok
    WHERE t = 'git.push' OR t LIKE 'git.pullrequest.%'
    UNION ALL
    SELECT core.azure_devops_actor(e, u, at)
    FROM ok, LATERAL (
        SELECT x FROM unnest(ARRAY[r->'createdBy', r->'closedBy', r->'pushedBy',
                                   r->'requestedFor', r->'requestedBy',
                                   r->'requests'->0->'requestedFor',
                                   r->'deployment'->'requestedFor',
                                   r->'deployment'->'requestedBy']) x
        UNION ALL
        SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r->'reviewers') = 'array'
                                                THEN r->'reviewers' ELSE '[]' END) x) AS v(u)
    WHERE u IS NOT NULL

    -- Pull requests, and the reviewers' votes while the pull request is active. A vote is
    -- one review per reviewer and value (10 approved, 5 approved with suggestions, -5
    -- waiting for author, -10 rejected); payloads carry no vote time, so the event's is used.
    UNION ALL
    SELECT ROW((e).event_id, 'change', change_id, at,
               core.azure_devops_change_attrs(repo_id, r, t))::core.fact
    FROM pr
    UNION ALL
    SELECT ROW((e).event_id, 'review',
               change_id || ':vote:' || (v->>'id') || ':' || (v->>'vote'), at,
               jsonb_build_object(
                   'provider', 'azure_devops', 'change_id', change_id,
                   'reviewer_id', 'azure_devops:' || (v->>'id'), 'kind', 'review',
                   'state', CASE WHEN (v->>'vote')::int > 0 THEN 'approved'
                                 ELSE 'changes_requested' END,
                   'submitted_at', p->>'createdDate'))::core.fact
    FROM pr, jsonb_array_elements(CASE WHEN jsonb_typeof(r->'reviewers') = 'array'
                                       THEN r->'reviewers' ELSE '[]' END) v
    WHERE r->>'status' = 'active' AND coalesce((v->>'vote')::int, 0) <> 0
      AND NOT coalesce((v->>'isContainer')::boolean, false) AND v->>'id' IS NOT NULL

    -- Commits pushed, and their authors as git identities.
    UNION ALL
    SELECT ROW((e).event_id, 'commit', repo_id || ':' || (c->>'commitId'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'repo_id', repo_id, 'sha', c->>'commitId',
                   'author_id', 'git:' || email, 'author_name', c->'author'->>'name',
                   'author_email', email, 'authored_at', c->'author'->>'date',
                   'committed_at', c->'committer'->>'date',
                   'message', core.first_line(c->>'comment'), 'branch', branch,
                   'pushed_at', r->>'date')))::core.fact
    FROM commits
    UNION ALL
    SELECT core.git_author(e, c->'author'->>'name', email, false, at)
    FROM commits WHERE email ~ '^[^@\s]+@[^@\s]+$'

    -- Builds and pipeline runs (build.complete carries the v1 or v2 build resource).
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', run_id, at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'kind', 'pipeline',
                   'repo_id', CASE WHEN r->'repository'->>'type' = 'TfsGit'
                                   THEN 'azure_devops:' || (r->'repository'->>'id') END,
                   'name', coalesce(r->'definition'->>'name', r->'pipeline'->>'name'),
                   -- v1 build resources put the result in status.
                   'status', core.azure_devops_run_status(run->>'status',
                                                          coalesce(run->>'result', run->>'status')),
                   'status_vendor', coalesce(run->>'result', run->>'status'),
                   'trigger', r->>'reason',
                   'commit_sha', coalesce(r->>'sourceVersion',
                                          nullif(split_part(r->>'sourceGetVersion', ':', 3), '')),
                   'branch', core.azure_devops_branch(coalesce(
                       r->>'sourceBranch', nullif(split_part(r->>'sourceGetVersion', ':', 2), ''))),
                   'actor_id', 'azure_devops:' || coalesce(r->'requestedFor'->>'id',
                                                           r->'requests'->0->'requestedFor'->>'id'),
                   'url', coalesce(r->'_links'->'web'->>'href', r->>'url'),
                   'queued_at', r->>'queueTime', 'started_at', r->>'startTime',
                   'finished_at', r->>'finishTime')))::core.fact
    FROM runs WHERE t = 'build.complete'
    UNION ALL
    SELECT ROW((e).event_id, 'pipeline_run', run_id, at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'kind', 'pipeline',
                   'name', coalesce(run->'pipeline'->>'name', r->'pipeline'->>'name'),
                   'status', core.azure_devops_run_status(run->>'state', run->>'result'),
                   'status_vendor', coalesce(run->>'result', run->>'state'),
                   'commit_sha', run->'resources'->'repositories'->'self'->>'version',
                   'branch', core.azure_devops_branch(
                       run->'resources'->'repositories'->'self'->>'refName'),
                   'url', coalesce(run->'_links'->'web'->>'href', run->>'url'),
                   'queued_at', run->>'createdDate',
                   -- The run-started event is the one that states the run in progress.
                   'started_at', CASE WHEN t = 'ms.vss-pipelines.run-state-changed-event'
                                           AND lower(run->>'state') = 'inprogress'
                                      THEN p->>'createdDate' END,
                   'finished_at', CASE WHEN lower(run->>'state') = 'completed'
                                       THEN run->>'finishedDate' END)))::core.fact
    FROM runs WHERE t LIKE 'ms.vss-pipelines.%'
    UNION ALL
    -- Stages and jobs, as jobs of their run (named within it: the payload ids may be empty).
    SELECT ROW((e).event_id, 'pipeline_run',
               run_id || ':stage:' || (r->'stage'->>'name')
               || CASE WHEN j IS NOT NULL THEN ':job:' || (j->>'name') ELSE '' END, at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'kind', 'job', 'parent_run_id', run_id,
                   'name', CASE WHEN j IS NOT NULL THEN j->>'name'
                                ELSE coalesce(r->'stage'->>'displayName', r->'stage'->>'name') END,
                   'status', core.azure_devops_run_status(x->>'state', x->>'result'),
                   'status_vendor', coalesce(x->>'result', x->>'state'),
                   'url', coalesce(x->'_links'->'web'->>'href', run->'_links'->'web'->>'href'),
                   'started_at', coalesce(x->>'startTime', CASE
                       WHEN lower(x->>'state') IN ('inprogress', 'running')
                       THEN p->>'createdDate' END),
                   'finished_at', coalesce(x->>'finishTime', CASE
                       WHEN lower(x->>'state') = 'completed' THEN p->>'createdDate' END))))::core.fact
    FROM runs, LATERAL (SELECT CASE WHEN t = 'ms.vss-pipelines.job-state-changed-event'
                                    THEN r->'job' END AS j) jj,
         LATERAL (SELECT coalesce(j, r->'stage') AS x) xx
    WHERE t IN ('ms.vss-pipelines.stage-state-changed-event',
                'ms.vss-pipelines.job-state-changed-event')

    -- Classic release deployments: one deploy per release and stage (environment).
    UNION ALL
    SELECT ROW((e).event_id, 'deploy',
               'azure_devops:release_env:' || (p->'resourceContainers'->'collection'->>'id')
               || ':' || (env->>'id'), at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', 'azure_devops', 'kind', 'deployment',
                   'service', coalesce(r->'deployment'->'releaseDefinition'->>'name',
                                       rel->'releaseDefinition'->>'name',
                                       env->'releaseDefinition'->>'name'),
                   'environment', env->>'name',
                   'status', CASE lower(coalesce(r->'deployment'->>'deploymentStatus',
                                                 env->>'status'))
                       WHEN 'succeeded' THEN 'success' WHEN 'partiallysucceeded' THEN 'success'
                       -- A stage whose deployment failed is `rejected`.
                       WHEN 'failed' THEN 'failure' WHEN 'rejected' THEN 'failure'
                       WHEN 'canceled' THEN 'cancelled' WHEN 'inprogress' THEN 'running'
                       WHEN 'queued' THEN 'pending' WHEN 'scheduled' THEN 'pending'
                       WHEN 'notstarted' THEN 'pending'
                       ELSE CASE WHEN t = 'ms.vss-release.deployment-started-event'
                                 THEN 'running' ELSE 'unknown' END END,
                   'status_vendor', coalesce(r->'deployment'->>'deploymentStatus', env->>'status'),
                   'ref', artifact->'definitionReference'->'branch'->>'name',
                   'commit_sha', artifact->'definitionReference'->'sourceVersion'->>'id',
                   'commit_shas', CASE WHEN artifact->'definitionReference'->'sourceVersion'->>'id'
                                            IS NOT NULL
                       THEN jsonb_build_array(
                           artifact->'definitionReference'->'sourceVersion'->>'id') END,
                   'actor_id', 'azure_devops:' || coalesce(
                       r->'deployment'->'requestedFor'->>'id',
                       r->'deployment'->'requestedBy'->>'id'),
                   'url', coalesce(rel->'_links'->'web'->>'href',
                                   env->'release'->'_links'->'web'->>'href'),
                   'description', coalesce(nullif(rel->>'name', ''), env->'release'->>'name'),
                   'started_at', coalesce(r->'deployment'->>'startedOn', CASE
                       WHEN t = 'ms.vss-release.deployment-started-event'
                       THEN p->>'createdDate' END),
                   'finished_at', CASE WHEN t = 'ms.vss-release.deployment-completed-event'
                       THEN coalesce(r->'deployment'->>'completedOn', p->>'createdDate') END,
                   'is_rollback', concat_ws(' ', rel->>'description', rel->>'comment')
                                  ~* '(rollback|roll back|revert)',
                   'is_hotfix', concat_ws(' ', rel->>'name', rel->>'description',
                                          artifact->'definitionReference'->'branch'->>'name')
                                ~* 'hotfix')))::core.fact
    FROM deploys
$$;
