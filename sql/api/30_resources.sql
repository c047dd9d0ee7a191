-- The resources API: changes, deployments, incidents, pipeline runs, repositories and
-- services as lists (filters, newest first, keyset pages) and by id, read through the
-- security_invoker api views, so row-level security and a team-scoped caller's subtree
-- apply exactly as they do to a direct-SQL user. Errors: SQLSTATE 22023 (a parameter is
-- wrong; the message says what is allowed) or P0002 (a team or repository the caller
-- cannot read, whether it does not exist or is another org's: the same words).
--
-- Every list is ordered by (listed_at DESC, id DESC) and pages with the last row's pair
-- (p_after_at, p_after_id): a row inserted while a client pages lands before or after
-- the position, so no row is seen twice or skipped. listed_at is a change's or an
-- incident's opening, a deployment's or run's finish (its start, or queueing, while it
-- runs), 1970-01-01 when the row has none; migrations/versions/0010 indexes it. Only a
-- running deployment or run moves, once, when it finishes (to a newer place: a client
-- paging past its start then misses it).
-- Services are the exception: ordered by name (their last-seen time moves with every
-- deployment).
--
-- The lists of changes, deployments, incidents and runs run with a small work_mem. A
-- team's rows (the views' EXISTS, and the team filters) would otherwise be tested
-- against a hash of every row of the team, built before the first row of the page comes
-- back: a page of 100 of a team of 150,000 changes took 55-90 ms instead of 1 ms. The
-- planner hashes a subquery only when its result fits in work_mem (times
-- hash_mem_multiplier), so a large team is probed row by row through its index and a
-- small one (a cheap hash) may still be hashed. A page needs no memory of its own: an
-- index scan under a LIMIT, or a top-N sort, which keeps its rows in memory regardless.

-- A pipeline run of the caller's scope. A team-scoped reader sees the runs of the merge
-- commits of its team subtree's merged changes (the commits api.changes shows it);
-- other runs are visible to org-wide readers only.
CREATE OR REPLACE VIEW api.pipeline_runs WITH (security_invoker = true) AS
    SELECT p.run_id, p.provider, p.kind, p.parent_run_id, p.repo_id, p.name, p.attempt,
           p.status, p.trigger, p.commit_sha, p.branch, p.actor_id, p.url, p.queued_at,
           p.started_at, p.finished_at
    FROM core.pipeline_runs p
    WHERE (SELECT auth.caller_teams()) IS NULL
       OR EXISTS (SELECT FROM core.changes c
                  JOIN metrics.change_teams ct
                    ON ct.org_id = c.org_id AND ct.change_id = c.change_id
                  WHERE c.org_id = p.org_id AND c.merge_commit_sha = p.commit_sha
                    AND ct.team_id = ANY ((SELECT auth.caller_teams())::uuid[]));

-- =====================================================================================
-- Helpers
-- =====================================================================================

-- The team a list is filtered by (slug, name or id) among the teams the caller reads.
CREATE OR REPLACE FUNCTION api._team_id(p_team text) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_team uuid;
BEGIN
    IF p_team IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT t.team_id INTO v_team FROM api.teams t
    WHERE t.slug = p_team OR t.team_id::text = p_team OR lower(t.name) = lower(p_team)
    ORDER BY (t.slug = p_team) DESC, (t.team_id::text = p_team) DESC
    LIMIT 1;
    IF v_team IS NULL THEN
        RAISE EXCEPTION 'no team %', p_team USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_team;
END
$$;

-- The repository a list is filtered by (id or full name) in the caller's org.
CREATE OR REPLACE FUNCTION api._repo_id(p_repo text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_repo text;
BEGIN
    IF p_repo IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT r.repo_id INTO v_repo FROM core.repos r
    WHERE r.repo_id = p_repo OR lower(r.full_name) = lower(p_repo)
    ORDER BY (r.repo_id = p_repo) DESC
    LIMIT 1;
    IF v_repo IS NULL THEN
        RAISE EXCEPTION 'no repository %', p_repo USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_repo;
END
$$;

-- Refuses a page size outside 1..10000 and a position given by half.
CREATE OR REPLACE FUNCTION api._check_page(p_limit int, p_after_at timestamptz,
                                           p_after_id text, p_keyed boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
        RAISE EXCEPTION 'limit must be 1 to 10000, not %', coalesce(p_limit::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_keyed AND (p_after_at IS NULL) <> (p_after_id IS NULL) THEN
        RAISE EXCEPTION 'a position is p_after_at and p_after_id together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Refuses a value outside the allowed ones of a filter.
CREATE OR REPLACE FUNCTION api._check_value(p_name text, p_value text, p_allowed text[])
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NOT NULL AND NOT p_value = ANY (p_allowed) THEN
        RAISE EXCEPTION 'no % % (%: %)', p_name, p_value, p_name,
            array_to_string(p_allowed, ', ') USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- The WHERE clause of a list query: the predicates given (NULLs left out), the time
-- bounds ($4 since, $5 until) and the keyset position ($1 at, $2 id) on `key` and `id`.
-- Under row-level security only leakproof conditions become index conditions: the row
-- comparison and a key written with CASE are (COALESCE is not, so the keys avoid it).
CREATE OR REPLACE FUNCTION api._list_where(p_key text, p_id text, p_predicates text[],
                                           p_since timestamptz, p_until timestamptz,
                                           p_after_at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(' WHERE ' || nullif(array_to_string(
        p_predicates
        || CASE WHEN p_since IS NOT NULL THEN format('%s >= $4', p_key) END
        || CASE WHEN p_until IS NOT NULL THEN format('%s < $5', p_key) END
        || CASE WHEN p_after_at IS NOT NULL
                THEN format('(%s, %s) < ($1, $2)', p_key, p_id) END,
        ' AND '), ''), '')
$$;

-- =====================================================================================
-- Changes
-- =====================================================================================

-- A page of the caller's changes (pull/merge requests), newest opened first: filtered by
-- team (slug, name or id: the merged changes that counted for it or a team under it),
-- repository (id or full name), state (open, merged, closed), author (account id) and
-- opening time (since inclusive, until exclusive).
CREATE OR REPLACE FUNCTION api.list_changes(
    p_team text DEFAULT NULL, p_repo text DEFAULT NULL, p_state text DEFAULT NULL,
    p_author text DEFAULT NULL, p_since timestamptz DEFAULT NULL,
    p_until timestamptz DEFAULT NULL, p_after_at timestamptz DEFAULT NULL,
    p_after_id text DEFAULT NULL, p_limit int DEFAULT 100)
RETURNS TABLE (change_id text, provider text, repo_id text, number bigint, title text,
               state text, is_draft boolean, author_id text, url text, base_branch text,
               head_branch text, merge_commit_sha text, opened_at timestamptz,
               first_commit_at timestamptz, ready_at timestamptz,
               first_response_at timestamptz, first_review_at timestamptz,
               approved_at timestamptz, merged_at timestamptz, closed_at timestamptz,
               additions int, deletions int, files_changed int, commits_count int,
               labels text[], work_item_keys text[], listed_at timestamptz)
LANGUAGE plpgsql STABLE SET work_mem = '64kB' AS $$
DECLARE
    v_key  constant text :=
        'CASE WHEN c.opened_at IS NULL THEN ''epoch''::timestamptz ELSE c.opened_at END';
    v_team uuid := api._team_id(p_team);
    v_repo text := api._repo_id(p_repo);
BEGIN
    PERFORM api._check_page(p_limit, p_after_at, p_after_id);
    PERFORM api._check_value('state', p_state, ARRAY['open', 'merged', 'closed']);
    RETURN QUERY EXECUTE format(
        'SELECT c.*, %s FROM api.changes c%s ORDER BY 27 DESC, c.change_id DESC LIMIT $3',
        v_key, api._list_where(v_key, 'c.change_id', ARRAY[
            CASE WHEN v_team IS NOT NULL THEN
                'EXISTS (SELECT FROM metrics.change_teams ct WHERE ct.change_id = c.change_id'
                ' AND ct.team_id = $6)' END,
            CASE WHEN v_repo IS NOT NULL THEN 'c.repo_id = $7' END,
            CASE WHEN p_state IS NOT NULL THEN 'c.state = $8' END,
            CASE WHEN p_author IS NOT NULL THEN 'c.author_id = $9' END],
            p_since, p_until, p_after_at))
    USING p_after_at, p_after_id, p_limit, p_since, p_until, v_team, v_repo, p_state,
          p_author;
END
$$;

-- The caller's changes with these ids (those it cannot read are left out).
CREATE OR REPLACE FUNCTION api.get_changes(p_ids text[])
RETURNS SETOF api.changes
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM api.changes c WHERE c.change_id = ANY (p_ids)
$$;

-- =====================================================================================
-- Deployments
-- =====================================================================================

-- A page of the caller's deployments, newest finished first (started, when not
-- finished): filtered by team (the production deployments that shipped its merged
-- changes), repository, service, environment, status (pending, running, success,
-- failure, cancelled, unknown) and time.
CREATE OR REPLACE FUNCTION api.list_deploys(
    p_team text DEFAULT NULL, p_repo text DEFAULT NULL, p_service text DEFAULT NULL,
    p_environment text DEFAULT NULL, p_status text DEFAULT NULL,
    p_since timestamptz DEFAULT NULL, p_until timestamptz DEFAULT NULL,
    p_after_at timestamptz DEFAULT NULL, p_after_id text DEFAULT NULL,
    p_limit int DEFAULT 100)
RETURNS TABLE (deploy_id text, provider text, kind text, repo_id text, service text,
               environment text, environment_class text, status text, ref text,
               commit_sha text, is_rollback boolean, is_hotfix boolean, url text,
               started_at timestamptz, finished_at timestamptz, listed_at timestamptz)
LANGUAGE plpgsql STABLE SET work_mem = '64kB' AS $$
DECLARE
    v_key  constant text :=
        'CASE WHEN d.finished_at IS NOT NULL THEN d.finished_at'
        ' WHEN d.started_at IS NOT NULL THEN d.started_at ELSE ''epoch''::timestamptz END';
    v_team uuid := api._team_id(p_team);
    v_repo text := api._repo_id(p_repo);
BEGIN
    PERFORM api._check_page(p_limit, p_after_at, p_after_id);
    PERFORM api._check_value('status', p_status,
                             ARRAY['pending', 'running', 'success', 'failure', 'cancelled',
                                   'unknown']);
    RETURN QUERY EXECUTE format(
        'SELECT d.*, %s FROM api.deploys d%s ORDER BY 16 DESC, d.deploy_id DESC LIMIT $3',
        v_key, api._list_where(v_key, 'd.deploy_id', ARRAY[
            CASE WHEN v_team IS NOT NULL THEN
                'EXISTS (SELECT FROM metrics.deploy_teams dt WHERE dt.deploy_id = d.deploy_id'
                ' AND dt.team_id = $6)' END,
            CASE WHEN v_repo IS NOT NULL THEN 'd.repo_id = $7' END,
            CASE WHEN p_service IS NOT NULL THEN 'd.service = $8' END,
            CASE WHEN p_environment IS NOT NULL THEN 'd.environment = $9' END,
            CASE WHEN p_status IS NOT NULL THEN 'd.status = $10' END],
            p_since, p_until, p_after_at))
    USING p_after_at, p_after_id, p_limit, p_since, p_until, v_team, v_repo, p_service,
          p_environment, p_status;
END
$$;

-- The caller's deployments with these ids (those it cannot read are left out).
CREATE OR REPLACE FUNCTION api.get_deploys(p_ids text[])
RETURNS SETOF api.deploys
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM api.deploys d WHERE d.deploy_id = ANY (p_ids)
$$;

-- =====================================================================================
-- Incidents
-- =====================================================================================

-- A page of the caller's incidents, newest opened first: filtered by team (those
-- attributed, by the default attribution, to deployments of the team), service,
-- severity (an expression over SEV1..SEV5: "SEV2" alone, ">=SEV2" SEV1 and SEV2;
-- api._severities), status (triggered, acknowledged, mitigated, resolved), time and a
-- text in the title (without regard to case). REST, GraphQL and the MCP tool
-- search_incidents (api.search_incidents) all read this.
DROP FUNCTION IF EXISTS api.list_incidents(text, text, text, text, timestamptz, timestamptz,
                                           timestamptz, text, int);
CREATE OR REPLACE FUNCTION api.list_incidents(
    p_team text DEFAULT NULL, p_service text DEFAULT NULL, p_severity text DEFAULT NULL,
    p_status text DEFAULT NULL, p_since timestamptz DEFAULT NULL,
    p_until timestamptz DEFAULT NULL, p_after_at timestamptz DEFAULT NULL,
    p_after_id text DEFAULT NULL, p_limit int DEFAULT 100, p_text text DEFAULT NULL)
RETURNS TABLE (incident_id text, provider text, kind text, title text, severity text,
               status text, service text, url text, opened_at timestamptz,
               acknowledged_at timestamptz, mitigated_at timestamptz,
               resolved_at timestamptz, listed_at timestamptz)
LANGUAGE plpgsql STABLE SET work_mem = '64kB' AS $$
DECLARE
    v_key  constant text :=
        'CASE WHEN i.opened_at IS NULL THEN ''epoch''::timestamptz ELSE i.opened_at END';
    v_team uuid := api._team_id(p_team);
    v_sev  text[] := api._severities(p_severity);
    v_like text := CASE WHEN btrim(p_text) <> '' THEN
                       '%' || replace(replace(replace(btrim(p_text), '\', '\\'), '%', '\%'),
                                      '_', '\_') || '%' END;
BEGIN
    PERFORM api._check_page(p_limit, p_after_at, p_after_id);
    PERFORM api._check_value('status', p_status,
                             ARRAY['triggered', 'acknowledged', 'mitigated', 'resolved']);
    RETURN QUERY EXECUTE format(
        'SELECT i.*, %s FROM api.incidents i%s ORDER BY 13 DESC, i.incident_id DESC LIMIT $3',
        v_key, api._list_where(v_key, 'i.incident_id', ARRAY[
            CASE WHEN v_team IS NOT NULL THEN
                'EXISTS (SELECT FROM metrics.failure_links l JOIN metrics.deploy_teams dt'
                ' ON dt.org_id = l.org_id AND dt.deploy_id = l.deploy_id'
                ' WHERE l.mode = ''default'' AND l.cause_kind = ''incident'''
                ' AND l.cause_id = i.incident_id AND dt.team_id = $6)' END,
            CASE WHEN p_service IS NOT NULL THEN 'i.service = $7' END,
            CASE WHEN v_sev IS NOT NULL THEN 'i.severity = ANY ($8)' END,
            CASE WHEN p_status IS NOT NULL THEN 'i.status = $9' END,
            CASE WHEN v_like IS NOT NULL THEN 'i.title ILIKE $10' END],
            p_since, p_until, p_after_at))
    USING p_after_at, p_after_id, p_limit, p_since, p_until, v_team, p_service, v_sev,
          p_status, v_like;
END
$$;

-- The caller's incidents with these ids (those it cannot read are left out).
CREATE OR REPLACE FUNCTION api.get_incidents(p_ids text[])
RETURNS SETOF api.incidents
LANGUAGE sql STABLE AS $$
    SELECT i.* FROM api.incidents i WHERE i.incident_id = ANY (p_ids)
$$;

-- The deployment each of these incidents is attributed to by the default attribution
-- (the first by deployment id when several are); incidents without one are left out.
-- The deployment itself is read through api.get_deploys (the caller may not see it).
CREATE OR REPLACE FUNCTION api.incident_deploys(p_ids text[])
RETURNS TABLE (incident_id text, deploy_id text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (l.cause_id) l.cause_id, l.deploy_id
    FROM metrics.failure_links l
    WHERE l.mode = 'default' AND l.cause_kind = 'incident'
      AND l.cause_id IN (SELECT i.incident_id FROM api.incidents i
                         WHERE i.incident_id = ANY (p_ids))
    ORDER BY l.cause_id, l.deploy_id
$$;

-- =====================================================================================
-- Pipeline runs
-- =====================================================================================

-- A page of the caller's CI pipeline runs (pipelines, jobs, check suites), newest
-- finished first (started, then queued, when not finished): filtered by team (the runs of
-- the merge commits of its merged changes), repository, status (queued, running, success,
-- failure, cancelled, skipped, unknown), branch and time.
CREATE OR REPLACE FUNCTION api.list_pipeline_runs(
    p_team text DEFAULT NULL, p_repo text DEFAULT NULL, p_status text DEFAULT NULL,
    p_branch text DEFAULT NULL, p_since timestamptz DEFAULT NULL,
    p_until timestamptz DEFAULT NULL, p_after_at timestamptz DEFAULT NULL,
    p_after_id text DEFAULT NULL, p_limit int DEFAULT 100)
RETURNS TABLE (run_id text, provider text, kind text, parent_run_id text, repo_id text,
               name text, attempt int, status text, trigger text, commit_sha text,
               branch text, actor_id text, url text, queued_at timestamptz,
               started_at timestamptz, finished_at timestamptz, listed_at timestamptz)
LANGUAGE plpgsql STABLE SET work_mem = '64kB' AS $$
DECLARE
    v_key  constant text :=
        'CASE WHEN p.finished_at IS NOT NULL THEN p.finished_at'
        ' WHEN p.started_at IS NOT NULL THEN p.started_at'
        ' WHEN p.queued_at IS NOT NULL THEN p.queued_at ELSE ''epoch''::timestamptz END';
    v_team uuid := api._team_id(p_team);
    v_repo text := api._repo_id(p_repo);
BEGIN
    PERFORM api._check_page(p_limit, p_after_at, p_after_id);
    PERFORM api._check_value('status', p_status,
                             ARRAY['queued', 'running', 'success', 'failure', 'cancelled',
                                   'skipped', 'unknown']);
    RETURN QUERY EXECUTE format(
        'SELECT p.*, %s FROM api.pipeline_runs p%s ORDER BY 17 DESC, p.run_id DESC LIMIT $3',
        v_key, api._list_where(v_key, 'p.run_id', ARRAY[
            CASE WHEN v_team IS NOT NULL THEN
                'EXISTS (SELECT FROM core.changes c JOIN metrics.change_teams ct'
                ' ON ct.org_id = c.org_id AND ct.change_id = c.change_id'
                ' WHERE c.merge_commit_sha = p.commit_sha AND ct.team_id = $6)' END,
            CASE WHEN v_repo IS NOT NULL THEN 'p.repo_id = $7' END,
            CASE WHEN p_status IS NOT NULL THEN 'p.status = $8' END,
            CASE WHEN p_branch IS NOT NULL THEN 'p.branch = $9' END],
            p_since, p_until, p_after_at))
    USING p_after_at, p_after_id, p_limit, p_since, p_until, v_team, v_repo, p_status,
          p_branch;
END
$$;

-- The caller's pipeline runs with these ids (those it cannot read are left out).
CREATE OR REPLACE FUNCTION api.get_pipeline_runs(p_ids text[])
RETURNS SETOF api.pipeline_runs
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM api.pipeline_runs p WHERE p.run_id = ANY (p_ids)
$$;

-- =====================================================================================
-- Repositories
-- =====================================================================================

-- A page of the caller's repositories (org-wide readers only: api.repos), newest first
-- seen first: filtered by provider and first-seen time.
CREATE OR REPLACE FUNCTION api.list_repos(
    p_provider text DEFAULT NULL, p_since timestamptz DEFAULT NULL,
    p_until timestamptz DEFAULT NULL, p_after_at timestamptz DEFAULT NULL,
    p_after_id text DEFAULT NULL, p_limit int DEFAULT 100)
RETURNS TABLE (repo_id text, provider text, full_name text, url text,
               default_branch text, is_private boolean, first_seen_at timestamptz,
               last_seen_at timestamptz, listed_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM api._check_page(p_limit, p_after_at, p_after_id);
    RETURN QUERY EXECUTE format(
        'SELECT r.*, r.first_seen_at FROM api.repos r%s'
        ' ORDER BY r.first_seen_at DESC, r.repo_id DESC LIMIT $3',
        api._list_where('r.first_seen_at', 'r.repo_id', ARRAY[
            CASE WHEN p_provider IS NOT NULL THEN 'r.provider = $6' END],
            p_since, p_until, p_after_at))
    USING p_after_at, p_after_id, p_limit, p_since, p_until, p_provider;
END
$$;

-- The caller's repositories with these ids (those it cannot read are left out).
CREATE OR REPLACE FUNCTION api.get_repos(p_ids text[])
RETURNS SETOF api.repos
LANGUAGE sql STABLE AS $$
    SELECT r.* FROM api.repos r WHERE r.repo_id = ANY (p_ids)
$$;

-- =====================================================================================
-- Services
-- =====================================================================================

-- The services of the caller's scope with these names (all when NULL): each service
-- name its deployments and incidents carry, with how many of each it reads and when it
-- last saw one. A team filter counts the team's deployments and incidents only.
CREATE OR REPLACE FUNCTION api._services(p_team uuid, p_names text[], p_after text,
                                         p_limit int)
RETURNS TABLE (service text, deploys bigint, incidents bigint, last_deploy_at timestamptz,
               last_incident_at timestamptz, last_seen_at timestamptz)
LANGUAGE sql STABLE AS $$
    WITH d AS (
        SELECT d.service, count(*) AS n, max(coalesce(d.finished_at, d.started_at)) AS last
        FROM api.deploys d
        WHERE d.service IS NOT NULL
          AND (p_names IS NULL OR d.service = ANY (p_names))
          AND (p_after IS NULL OR d.service > p_after)
          AND (p_team IS NULL OR EXISTS (SELECT FROM metrics.deploy_teams dt
                                         WHERE dt.deploy_id = d.deploy_id
                                           AND dt.team_id = p_team))
        GROUP BY d.service
    ), i AS (
        SELECT i.service, count(*) AS n, max(i.opened_at) AS last
        FROM api.incidents i
        WHERE i.service IS NOT NULL
          AND (p_names IS NULL OR i.service = ANY (p_names))
          AND (p_after IS NULL OR i.service > p_after)
          AND (p_team IS NULL OR EXISTS (
                  SELECT FROM metrics.failure_links l
                  JOIN metrics.deploy_teams dt
                    ON dt.org_id = l.org_id AND dt.deploy_id = l.deploy_id
                  WHERE l.mode = 'default' AND l.cause_kind = 'incident'
                    AND l.cause_id = i.incident_id AND dt.team_id = p_team))
        GROUP BY i.service
    )
    SELECT service, coalesce(d.n, 0), coalesce(i.n, 0), d.last, i.last,
           greatest(d.last, i.last)
    FROM d FULL JOIN i USING (service)
    ORDER BY service
    LIMIT p_limit
$$;

-- A page of the caller's services by name: filtered by team; p_after_id is the last
-- name of the previous page.
CREATE OR REPLACE FUNCTION api.list_services(
    p_team text DEFAULT NULL, p_after_id text DEFAULT NULL, p_limit int DEFAULT 100)
RETURNS TABLE (service text, deploys bigint, incidents bigint, last_deploy_at timestamptz,
               last_incident_at timestamptz, last_seen_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_team uuid := api._team_id(p_team);
BEGIN
    PERFORM api._check_page(p_limit, NULL, p_after_id, false);
    RETURN QUERY SELECT * FROM api._services(v_team, NULL, p_after_id, p_limit);
END
$$;

-- The caller's services with these names (those it reads nothing of are left out).
CREATE OR REPLACE FUNCTION api.get_services(p_names text[])
RETURNS TABLE (service text, deploys bigint, incidents bigint, last_deploy_at timestamptz,
               last_incident_at timestamptz, last_seen_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT * FROM api._services(NULL, p_names, NULL, 10000)
$$;
