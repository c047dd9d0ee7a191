-- resources_changes --
-- A page of the caller's changes (api.list_changes), one row more than the page.
SELECT * FROM api.list_changes(
    p_team => %(team)s::text, p_repo => %(repo)s::text, p_state => %(state)s::text,
    p_author => %(author)s::text, p_since => %(since)s::timestamptz,
    p_until => %(until)s::timestamptz, p_after_at => %(after_at)s::timestamptz,
    p_after_id => %(after_id)s::text, p_limit => %(limit)s::int)

-- resources_repo_changes --
-- A page of changes of each of these repositories (api.list_changes per repository).
SELECT r.repo_key, c.*
FROM unnest(%(ids)s::text[]) AS r (repo_key)
CROSS JOIN LATERAL api.list_changes(
    p_repo => r.repo_key, p_state => %(state)s::text, p_author => %(author)s::text,
    p_since => %(since)s::timestamptz, p_until => %(until)s::timestamptz,
    p_after_at => %(after_at)s::timestamptz, p_after_id => %(after_id)s::text,
    p_limit => %(limit)s::int) c

-- resources_deploys --
-- A page of the caller's deployments (api.list_deploys).
SELECT * FROM api.list_deploys(
    p_team => %(team)s::text, p_repo => %(repo)s::text, p_service => %(service)s::text,
    p_environment => %(environment)s::text, p_status => %(status)s::text,
    p_since => %(since)s::timestamptz, p_until => %(until)s::timestamptz,
    p_after_at => %(after_at)s::timestamptz, p_after_id => %(after_id)s::text,
    p_limit => %(limit)s::int)

-- resources_incidents --
-- A page of the caller's incidents (api.list_incidents).
SELECT * FROM api.list_incidents(
    p_team => %(team)s::text, p_service => %(service)s::text,
    p_severity => %(severity)s::text, p_status => %(status)s::text,
    p_since => %(since)s::timestamptz, p_until => %(until)s::timestamptz,
    p_after_at => %(after_at)s::timestamptz, p_after_id => %(after_id)s::text,
    p_limit => %(limit)s::int, p_text => %(text)s::text)

-- resources_pipeline_runs --
-- A page of the caller's pipeline runs (api.list_pipeline_runs).
SELECT * FROM api.list_pipeline_runs(
    p_team => %(team)s::text, p_repo => %(repo)s::text, p_status => %(status)s::text,
    p_branch => %(branch)s::text, p_since => %(since)s::timestamptz,
    p_until => %(until)s::timestamptz, p_after_at => %(after_at)s::timestamptz,
    p_after_id => %(after_id)s::text, p_limit => %(limit)s::int)

-- resources_repos --
-- A page of the caller's repositories (api.list_repos).
SELECT * FROM api.list_repos(
    p_provider => %(provider)s::text, p_since => %(since)s::timestamptz,
    p_until => %(until)s::timestamptz, p_after_at => %(after_at)s::timestamptz,
    p_after_id => %(after_id)s::text, p_limit => %(limit)s::int)

-- resources_services --
-- A page of the caller's services by name (api.list_services).
SELECT * FROM api.list_services(
    p_team => %(team)s::text, p_after_id => %(after_id)s::text, p_limit => %(limit)s::int)

-- resources_changes_by_id --
-- The caller's changes with these ids.
SELECT * FROM api.get_changes(%(ids)s::text[])

-- resources_deploys_by_id --
-- The caller's deployments with these ids.
SELECT * FROM api.get_deploys(%(ids)s::text[])

-- resources_incidents_by_id --
-- The caller's incidents with these ids.
SELECT * FROM api.get_incidents(%(ids)s::text[])

-- resources_pipeline_runs_by_id --
-- The caller's pipeline runs with these ids.
SELECT * FROM api.get_pipeline_runs(%(ids)s::text[])

-- resources_repos_by_id --
-- The caller's repositories with these ids.
SELECT * FROM api.get_repos(%(ids)s::text[])

-- resources_services_by_id --
-- The caller's services with these names.
SELECT * FROM api.get_services(%(ids)s::text[])

-- resources_incident_deploys --
-- The deployment each of these incidents is attributed to (default attribution).
SELECT * FROM api.incident_deploys(%(ids)s::text[])
