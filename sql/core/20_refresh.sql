-- Canonical rows recomputed from their facts and snapshots.
--
-- Every function takes the refs to recompute, rebuilds each row from everything known
-- about it, writes only rows whose content changed (so a replay of the same events
-- writes nothing) and deletes rows nothing supports any more. Attributes take the value
-- of the latest statement that carried them (core.jsonb_merge ordered by vendor time,
-- then by content); "first" times take the earliest statement. Rows are written in key
-- order so that concurrent batches lock them in the same order and cannot deadlock.

-- Accounts, from their snapshots. An account that appears, or whose identifying columns
-- change, is queued for identity resolution in the same transaction.
CREATE OR REPLACE FUNCTION core.refresh_actors(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'actor'
    ), s AS (
        SELECT s.* FROM k JOIN core.snapshots s
            ON s.org_id = k.org_id AND s.entity = 'actor' AND s.entity_id = k.entity_id
    ), merged AS (
        SELECT s.org_id, s.entity_id,
               core.jsonb_merge(s.attrs ORDER BY s.last_observed_at, s.digest) AS m,
               bool_or(coalesce((s.attrs->>'is_bot')::boolean, false)) AS is_bot,
               min(s.first_observed_at) AS first_seen_at,
               max(s.last_observed_at) AS last_seen_at
        FROM s GROUP BY s.org_id, s.entity_id
    ), emails AS (
        SELECT s.org_id, s.entity_id, array_agg(DISTINCT lower(e) ORDER BY lower(e)) AS emails
        FROM s, jsonb_array_elements_text(coalesce(s.attrs->'emails', '[]')) AS e
        WHERE e <> ''
        GROUP BY s.org_id, s.entity_id
    ), old AS (
        SELECT a.org_id, a.actor_id,
               (a.login, a.display_name, a.emails, a.is_bot, a.sso_subject, a.employee_id)
                   AS ident
        FROM k JOIN core.actors a ON a.org_id = k.org_id AND a.actor_id = k.entity_id
    ), written AS (
        INSERT INTO core.actors AS t (org_id, actor_id, provider, external_id, login,
                                      display_name, emails, is_bot, sso_subject, employee_id,
                                      first_seen_at, last_seen_at)
        SELECT m.org_id, m.entity_id, m.m->>'provider', m.m->>'external_id', m.m->>'login',
               m.m->>'display_name', coalesce(e.emails, '{}'), m.is_bot,
               m.m->>'sso_subject', m.m->>'employee_id', m.first_seen_at, m.last_seen_at
        FROM merged m LEFT JOIN emails e USING (org_id, entity_id)
        ORDER BY m.org_id, m.entity_id
        ON CONFLICT ON CONSTRAINT actors_pkey DO UPDATE SET
            provider = excluded.provider, external_id = excluded.external_id,
            login = excluded.login, display_name = excluded.display_name,
            emails = excluded.emails, is_bot = excluded.is_bot,
            sso_subject = excluded.sso_subject, employee_id = excluded.employee_id,
            first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at
        WHERE (t.*) IS DISTINCT FROM (excluded.*)
        RETURNING t.org_id, t.actor_id,
                  (t.login, t.display_name, t.emails, t.is_bot, t.sso_subject, t.employee_id)
                      AS ident
    )
    INSERT INTO identity.pending (org_id, actor_id)
    SELECT w.org_id, w.actor_id
    FROM written w LEFT JOIN old o USING (org_id, actor_id)
    WHERE o.ident IS DISTINCT FROM w.ident
    ORDER BY 1, 2
    ON CONFLICT ON CONSTRAINT pending_pkey DO UPDATE SET queued_at = clock_timestamp()
$$;

-- Repositories, from their snapshots.
CREATE OR REPLACE FUNCTION core.refresh_repos(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'repo'
    ), merged AS (
        SELECT s.org_id, s.entity_id,
               core.jsonb_merge(s.attrs ORDER BY s.last_observed_at, s.digest) AS m,
               min(s.first_observed_at) AS first_seen_at,
               max(s.last_observed_at) AS last_seen_at
        FROM k JOIN core.snapshots s
            ON s.org_id = k.org_id AND s.entity = 'repo' AND s.entity_id = k.entity_id
        GROUP BY s.org_id, s.entity_id
    )
    INSERT INTO core.repos AS t (org_id, repo_id, provider, external_id, full_name, url,
                                 default_branch, is_private, first_seen_at, last_seen_at)
    SELECT org_id, entity_id, m->>'provider', m->>'external_id', m->>'full_name', m->>'url',
           m->>'default_branch', (m->>'is_private')::boolean, first_seen_at, last_seen_at
    FROM merged
    ORDER BY org_id, entity_id
    ON CONFLICT ON CONSTRAINT repos_pkey DO UPDATE SET
        provider = excluded.provider, external_id = excluded.external_id,
        full_name = excluded.full_name, url = excluded.url,
        default_branch = excluded.default_branch, is_private = excluded.is_private,
        first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at
    WHERE (t.*) IS DISTINCT FROM (excluded.*)
$$;

-- Commits, from their facts. Returns the changes whose first commit may have moved
-- (open or past changes of the same repository whose head branch received the commit).
CREATE OR REPLACE FUNCTION core.refresh_commits(p_refs core.entity_ref[])
RETURNS SETOF core.entity_ref LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'commit'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               array_agg(DISTINCT f.attrs->>'branch' ORDER BY f.attrs->>'branch')
                   FILTER (WHERE f.attrs->>'branch' IS NOT NULL) AS branches,
               min(core.ts(f.attrs->>'pushed_at')) AS pushed_at
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'commit' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), gone AS (
        DELETE FROM core.commits t USING k
        WHERE t.org_id = k.org_id AND t.commit_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
        RETURNING t.org_id, t.repo_id, t.branches
    ), written AS (
        INSERT INTO core.commits AS t (org_id, commit_id, provider, repo_id, sha, author_id,
                                       author_name, author_email, authored_at, committed_at,
                                       message, branches, pushed_at)
        SELECT org_id, entity_id, m->>'provider', m->>'repo_id', m->>'sha', m->>'author_id',
               m->>'author_name', lower(m->>'author_email'), core.ts(m->>'authored_at'),
               core.ts(m->>'committed_at'), m->>'message', coalesce(branches, '{}'), pushed_at
        FROM merged
        ORDER BY org_id, entity_id
        ON CONFLICT ON CONSTRAINT commits_pkey DO UPDATE SET
            provider = excluded.provider, repo_id = excluded.repo_id, sha = excluded.sha,
            author_id = excluded.author_id, author_name = excluded.author_name,
            author_email = excluded.author_email, authored_at = excluded.authored_at,
            committed_at = excluded.committed_at, message = excluded.message,
            branches = excluded.branches, pushed_at = excluded.pushed_at
        WHERE (t.*) IS DISTINCT FROM (excluded.*)
        RETURNING t.org_id, t.repo_id, t.branches
    ), moved AS (
        SELECT * FROM gone UNION ALL SELECT * FROM written
    )
    SELECT DISTINCT c.org_id, 'change', c.change_id
    FROM moved m
    JOIN core.changes c
      ON c.org_id = m.org_id AND c.repo_id = m.repo_id AND c.head_branch = ANY (m.branches)
$$;

-- Reviews and review comments, from their facts. Returns the changes they belong to.
CREATE OR REPLACE FUNCTION core.refresh_reviews(p_refs core.entity_ref[])
RETURNS SETOF core.entity_ref LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'review'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               min(core.ts(f.attrs->>'submitted_at')) AS submitted_at
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'review' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), gone AS (
        DELETE FROM core.reviews t USING k
        WHERE t.org_id = k.org_id AND t.review_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
        RETURNING t.org_id, t.change_id
    ), written AS (
        INSERT INTO core.reviews AS t (org_id, review_id, provider, change_id, reviewer_id, kind,
                                       state, submitted_at)
        SELECT org_id, entity_id, m->>'provider', m->>'change_id', m->>'reviewer_id',
               coalesce(m->>'kind', 'review'), coalesce(m->>'state', 'commented'),
               submitted_at
        FROM merged
        ORDER BY org_id, entity_id
        ON CONFLICT ON CONSTRAINT reviews_pkey DO UPDATE SET
            provider = excluded.provider, change_id = excluded.change_id,
            reviewer_id = excluded.reviewer_id, kind = excluded.kind, state = excluded.state,
            submitted_at = excluded.submitted_at
        WHERE (t.*) IS DISTINCT FROM (excluded.*)
        RETURNING t.org_id, t.change_id
    )
    SELECT DISTINCT org_id, 'change', change_id
    FROM (SELECT * FROM gone UNION ALL SELECT * FROM written) AS moved
$$;

-- Pull / merge requests, from their facts, their reviews and the commits of their head
-- branch.
CREATE OR REPLACE FUNCTION core.refresh_changes(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'change'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               min(core.ts(f.attrs->>'opened_at')) AS opened_at,
               min(core.ts(f.attrs->>'ready_at')) AS ready_at,
               min(core.ts(f.attrs->>'first_commit_at')) AS first_commit_at,
               max(f.observed_at) AS updated_at
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'change' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), c AS (
        SELECT merged.*, m->>'repo_id' AS repo_id, m->>'author_id' AS author_id,
               m->>'head_branch' AS head_branch, core.ts(m->>'merged_at') AS merged_at,
               core.ts(m->>'closed_at') AS closed_at
        FROM merged
    ), responses AS (
        SELECT c.org_id, c.entity_id,
               min(r.submitted_at) AS first_response_at,
               min(r.submitted_at) FILTER (WHERE r.kind = 'review') AS first_review_at,
               min(r.submitted_at) FILTER (WHERE r.state = 'approved') AS approved_at
        FROM c
        JOIN core.reviews r ON r.org_id = c.org_id AND r.change_id = c.entity_id
        LEFT JOIN core.actors a ON a.org_id = r.org_id AND a.actor_id = r.reviewer_id
        WHERE r.reviewer_id IS DISTINCT FROM c.author_id AND NOT coalesce(a.is_bot, false)
          AND r.state <> 'dismissed'
        GROUP BY c.org_id, c.entity_id
    ), pushed AS (
        SELECT c.org_id, c.entity_id, min(co.authored_at) AS first_commit_at
        FROM c
        JOIN core.commits co
          ON co.org_id = c.org_id AND co.repo_id = c.repo_id
         AND co.branches @> ARRAY[c.head_branch]
         AND co.authored_at <= coalesce(c.merged_at, c.closed_at, 'infinity')
        WHERE c.head_branch IS NOT NULL
        GROUP BY c.org_id, c.entity_id
    ), gone AS (
        DELETE FROM core.changes t USING k
        WHERE t.org_id = k.org_id AND t.change_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
    )
    INSERT INTO core.changes AS t (
        org_id, change_id, provider, repo_id, number, external_id, title, state, is_draft,
        author_id, url, base_branch, head_branch, head_sha, merge_commit_sha, opened_at,
        first_commit_at, ready_at, first_response_at, first_review_at, approved_at, merged_at,
        closed_at, merged_by_id, additions, deletions, files_changed, commits_count, labels,
        work_item_keys, updated_at)
    SELECT c.org_id, c.entity_id, c.m->>'provider', c.repo_id, (c.m->>'number')::bigint,
           c.m->>'external_id', c.m->>'title',
           CASE WHEN c.merged_at IS NOT NULL THEN 'merged'
                WHEN c.m->>'state' = 'closed' THEN 'closed'
                ELSE 'open' END,
           coalesce((c.m->>'is_draft')::boolean, false), c.author_id, c.m->>'url',
           c.m->>'base_branch', c.head_branch, c.m->>'head_sha', c.m->>'merge_commit_sha',
           c.opened_at,
           CASE WHEN p.first_commit_at IS NULL THEN c.first_commit_at
                WHEN c.first_commit_at IS NULL THEN p.first_commit_at
                ELSE least(c.first_commit_at, p.first_commit_at) END,
           coalesce(c.ready_at, CASE WHEN NOT coalesce((c.m->>'is_draft')::boolean, false)
                                     THEN c.opened_at END),
           r.first_response_at, r.first_review_at, r.approved_at, c.merged_at,
           coalesce(c.closed_at, c.merged_at), c.m->>'merged_by_id',
           (c.m->>'additions')::int, (c.m->>'deletions')::int, (c.m->>'files_changed')::int,
           (c.m->>'commits_count')::int,
           coalesce(ARRAY(SELECT jsonb_array_elements_text(c.m->'labels') ORDER BY 1), '{}'),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(c.m->'work_item_keys') ORDER BY 1),
                    '{}'),
           c.updated_at
    FROM c
    LEFT JOIN responses r USING (org_id, entity_id)
    LEFT JOIN pushed p USING (org_id, entity_id)
    ORDER BY c.org_id, c.entity_id
    ON CONFLICT ON CONSTRAINT changes_pkey DO UPDATE SET
        provider = excluded.provider, repo_id = excluded.repo_id, number = excluded.number,
        external_id = excluded.external_id, title = excluded.title, state = excluded.state,
        is_draft = excluded.is_draft, author_id = excluded.author_id, url = excluded.url,
        base_branch = excluded.base_branch, head_branch = excluded.head_branch,
        head_sha = excluded.head_sha, merge_commit_sha = excluded.merge_commit_sha,
        opened_at = excluded.opened_at, first_commit_at = excluded.first_commit_at,
        ready_at = excluded.ready_at, first_response_at = excluded.first_response_at,
        first_review_at = excluded.first_review_at, approved_at = excluded.approved_at,
        merged_at = excluded.merged_at, closed_at = excluded.closed_at,
        merged_by_id = excluded.merged_by_id, additions = excluded.additions,
        deletions = excluded.deletions, files_changed = excluded.files_changed,
        commits_count = excluded.commits_count, labels = excluded.labels,
        work_item_keys = excluded.work_item_keys, updated_at = excluded.updated_at
    WHERE (t.*) IS DISTINCT FROM (excluded.*)
$$;

-- CI pipeline runs, jobs and check suites, from their facts.
CREATE OR REPLACE FUNCTION core.refresh_pipeline_runs(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r
        WHERE r.entity = 'pipeline_run'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               min(core.ts(f.attrs->>'queued_at')) AS queued_at,
               min(core.ts(f.attrs->>'started_at')) AS started_at
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'pipeline_run' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), gone AS (
        DELETE FROM core.pipeline_runs t USING k
        WHERE t.org_id = k.org_id AND t.run_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
    )
    INSERT INTO core.pipeline_runs AS t (
        org_id, run_id, provider, kind, parent_run_id, repo_id, name, attempt, status,
        status_vendor, trigger, commit_sha, branch, actor_id, url, queued_at, started_at,
        finished_at)
    SELECT org_id, entity_id, m->>'provider', coalesce(m->>'kind', 'pipeline'),
           m->>'parent_run_id', m->>'repo_id', m->>'name', (m->>'attempt')::int,
           coalesce(m->>'status', 'unknown'), m->>'status_vendor', m->>'trigger',
           m->>'commit_sha', m->>'branch', m->>'actor_id', m->>'url', queued_at,
           started_at, core.ts(m->>'finished_at')
    FROM merged
    ORDER BY org_id, entity_id
    ON CONFLICT ON CONSTRAINT pipeline_runs_pkey DO UPDATE SET
        provider = excluded.provider, kind = excluded.kind,
        parent_run_id = excluded.parent_run_id, repo_id = excluded.repo_id,
        name = excluded.name, attempt = excluded.attempt, status = excluded.status,
        status_vendor = excluded.status_vendor, trigger = excluded.trigger,
        commit_sha = excluded.commit_sha, branch = excluded.branch,
        actor_id = excluded.actor_id, url = excluded.url, queued_at = excluded.queued_at,
        started_at = excluded.started_at, finished_at = excluded.finished_at
    WHERE (t.*) IS DISTINCT FROM (excluded.*)
$$;

-- Deploys (deployments, releases, GitOps syncs), from their facts; the environment's
-- class comes from the org's rules.
CREATE OR REPLACE FUNCTION core.refresh_deploys(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'deploy'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               min(core.ts(f.attrs->>'started_at')) AS started_at,
               bool_or(coalesce((f.attrs->>'is_rollback')::boolean, false)) AS is_rollback,
               bool_or(coalesce((f.attrs->>'is_hotfix')::boolean, false)) AS is_hotfix
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'deploy' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), gone AS (
        DELETE FROM core.deploys t USING k
        WHERE t.org_id = k.org_id AND t.deploy_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
    )
    INSERT INTO core.deploys AS t (
        org_id, deploy_id, provider, kind, repo_id, service, environment, environment_class,
        status, status_vendor, ref, commit_sha, commit_shas, is_rollback, is_hotfix, actor_id,
        url, description, started_at, finished_at)
    SELECT org_id, entity_id, m->>'provider', coalesce(m->>'kind', 'deployment'),
           m->>'repo_id', m->>'service', m->>'environment',
           core.environment_class(org_id, m->>'environment'),
           coalesce(m->>'status', 'pending'), m->>'status_vendor', m->>'ref',
           m->>'commit_sha',
           coalesce(ARRAY(SELECT DISTINCT s FROM jsonb_array_elements_text(m->'commit_shas') s
                          ORDER BY 1), '{}'),
           is_rollback, is_hotfix, m->>'actor_id', m->>'url', m->>'description',
           started_at, core.ts(m->>'finished_at')
    FROM merged
    ORDER BY org_id, entity_id
    ON CONFLICT ON CONSTRAINT deploys_pkey DO UPDATE SET
        provider = excluded.provider, kind = excluded.kind, repo_id = excluded.repo_id,
        service = excluded.service, environment = excluded.environment,
        environment_class = excluded.environment_class, status = excluded.status,
        status_vendor = excluded.status_vendor, ref = excluded.ref,
        commit_sha = excluded.commit_sha, commit_shas = excluded.commit_shas,
        is_rollback = excluded.is_rollback, is_hotfix = excluded.is_hotfix,
        actor_id = excluded.actor_id, url = excluded.url, description = excluded.description,
        started_at = excluded.started_at, finished_at = excluded.finished_at
    WHERE (t.*) IS DISTINCT FROM (excluded.*)
$$;

-- Incidents and alerts, from their facts.
CREATE OR REPLACE FUNCTION core.refresh_incidents(p_refs core.entity_ref[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT DISTINCT r.org_id, r.entity_id FROM unnest(p_refs) r WHERE r.entity = 'incident'
    ), merged AS (
        SELECT f.org_id, f.entity_id,
               core.jsonb_merge(f.attrs ORDER BY f.observed_at, f.tiebreak) AS m,
               min(core.ts(f.attrs->>'opened_at')) AS opened_at,
               min(core.ts(f.attrs->>'acknowledged_at')) AS acknowledged_at,
               min(core.ts(f.attrs->>'mitigated_at')) AS mitigated_at
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'incident' AND f.entity_id = k.entity_id
        GROUP BY f.org_id, f.entity_id
    ), links AS (
        SELECT f.org_id, f.entity_id, array_agg(DISTINCT l ORDER BY l) AS links
        FROM k JOIN core.facts f
            ON f.org_id = k.org_id AND f.entity = 'incident' AND f.entity_id = k.entity_id,
             jsonb_array_elements_text(coalesce(f.attrs->'links', '[]')) AS l
        GROUP BY f.org_id, f.entity_id
    ), gone AS (
        DELETE FROM core.incidents t USING k
        WHERE t.org_id = k.org_id AND t.incident_id = k.entity_id
          AND NOT EXISTS (SELECT 1 FROM merged m
                          WHERE m.org_id = k.org_id AND m.entity_id = k.entity_id)
    )
    INSERT INTO core.incidents AS t (
        org_id, incident_id, provider, kind, external_id, title, severity, severity_vendor,
        status, status_vendor, service, url, links, opened_at, acknowledged_at, mitigated_at,
        resolved_at)
    SELECT m.org_id, m.entity_id, m.m->>'provider', coalesce(m.m->>'kind', 'incident'),
           m.m->>'external_id', m.m->>'title', m.m->>'severity', m.m->>'severity_vendor',
           coalesce(m.m->>'status', 'triggered'), m.m->>'status_vendor', m.m->>'service',
           m.m->>'url', coalesce(l.links, '{}'), m.opened_at, m.acknowledged_at,
           m.mitigated_at, core.ts(m.m->>'resolved_at')
    FROM merged m LEFT JOIN links l USING (org_id, entity_id)
    ORDER BY m.org_id, m.entity_id
    ON CONFLICT ON CONSTRAINT incidents_pkey DO UPDATE SET
        provider = excluded.provider, kind = excluded.kind, external_id = excluded.external_id,
        title = excluded.title, severity = excluded.severity,
        severity_vendor = excluded.severity_vendor, status = excluded.status,
        status_vendor = excluded.status_vendor, service = excluded.service,
        url = excluded.url, links = excluded.links, opened_at = excluded.opened_at,
        acknowledged_at = excluded.acknowledged_at, mitigated_at = excluded.mitigated_at,
        resolved_at = excluded.resolved_at
    WHERE (t.*) IS DISTINCT FROM (excluded.*)
$$;

-- Recompute the canonical rows behind refs, dependencies first: accounts and repos, then
-- commits and reviews (which move their changes), changes, runs, deploys, incidents.
CREATE OR REPLACE FUNCTION core.refresh(p_refs core.entity_ref[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_changes core.entity_ref[];
BEGIN
    IF coalesce(cardinality(p_refs), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM core.refresh_actors(p_refs);
    PERFORM core.refresh_repos(p_refs);
    v_changes := ARRAY(SELECT c FROM core.refresh_commits(p_refs) c)
              || ARRAY(SELECT c FROM core.refresh_reviews(p_refs) c)
              || ARRAY(SELECT r FROM unnest(p_refs) r WHERE r.entity = 'change');
    PERFORM core.refresh_changes(v_changes);
    PERFORM core.refresh_pipeline_runs(p_refs);
    PERFORM core.refresh_deploys(p_refs);
    PERFORM core.refresh_incidents(p_refs);
END $$;
