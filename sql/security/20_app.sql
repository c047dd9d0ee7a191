-- What the server's per-request role reads: qdx_app (the web's reads, REST, GraphQL, CSV
-- and MCP, take it with SET LOCAL ROLE in each transaction, the caller's org and teams set
-- transaction-locally; db/scope.py; the services' writes take qdx_worker instead:
-- sql/security/30_workers.sql). Row-level security scopes every table to the caller's org; the grants
-- keep it away from secrets (webhook secrets, signing keys, SQL logins) and from writing.

GRANT USAGE ON SCHEMA auth, core, identity, metrics, api, audit TO qdx_app;
GRANT SELECT ON auth.orgs, auth.teams, auth.team_memberships, auth.api_clients TO qdx_app;
GRANT SELECT ON ALL TABLES IN SCHEMA core, identity, metrics, api TO qdx_app;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM qdx_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO qdx_app;
GRANT EXECUTE ON FUNCTION audit.record(uuid, text, text, jsonb, text, text, jsonb, text,
                                       bigint, numeric, text) TO qdx_app;
-- The incidents, people and SQL-catalog functions (sql/api/40_incidents.sql,
-- 50_people.sql, 60_sql_catalog.sql): the server's, under the caller's scope like every api function.
REVOKE EXECUTE ON FUNCTION api._severities(text), api._since(text, text),
    api._cursor(timestamptz, text), api._cursor_position(text),
    api.search_incidents(text, text, text, text, text, text, int),
    api._attribution_why(text, interval), api.get_incident(text),
    api.recovery_stats(jsonb, text), api._person_visible(uuid), api._team(text),
    api._person(uuid), api.resolve_person(text, text), api.team_tree(text),
    api.team_members(text, timestamptz, text, int), api.list_people(text, text, text, int),
    api.list_tables(), api.describe_table(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api._severities(text), api._since(text, text),
    api._cursor(timestamptz, text), api._cursor_position(text),
    api.search_incidents(text, text, text, text, text, text, int),
    api._attribution_why(text, interval), api.get_incident(text),
    api.recovery_stats(jsonb, text), api._person_visible(uuid), api._team(text),
    api._person(uuid), api.resolve_person(text, text), api.team_tree(text),
    api.team_members(text, timestamptz, text, int), api.list_people(text, text, text, int),
    api.list_tables(), api.describe_table(text) TO qdx_app;
-- The resource lists (sql/api/30_resources.sql; the view api.pipeline_runs is read
-- through the SELECT on every api table above).
REVOKE EXECUTE ON FUNCTION api._team_id(text), api._repo_id(text),
    api._check_page(int, timestamptz, text, boolean), api._check_value(text, text, text[]),
    api._list_where(text, text, text[], timestamptz, timestamptz, timestamptz),
    api.list_changes(text, text, text, text, timestamptz, timestamptz, timestamptz, text, int),
    api.get_changes(text[]),
    api.list_deploys(text, text, text, text, text, timestamptz, timestamptz, timestamptz,
                     text, int),
    api.get_deploys(text[]),
    api.list_incidents(text, text, text, text, timestamptz, timestamptz, timestamptz, text,
                       int, text),
    api.get_incidents(text[]), api.incident_deploys(text[]),
    api.list_pipeline_runs(text, text, text, text, timestamptz, timestamptz, timestamptz,
                           text, int),
    api.get_pipeline_runs(text[]),
    api.list_repos(text, timestamptz, timestamptz, timestamptz, text, int),
    api.get_repos(text[]), api._services(uuid, text[], text, int),
    api.list_services(text, text, int), api.get_services(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api._team_id(text), api._repo_id(text),
    api._check_page(int, timestamptz, text, boolean), api._check_value(text, text, text[]),
    api._list_where(text, text, text[], timestamptz, timestamptz, timestamptz),
    api.list_changes(text, text, text, text, timestamptz, timestamptz, timestamptz, text, int),
    api.get_changes(text[]),
    api.list_deploys(text, text, text, text, text, timestamptz, timestamptz, timestamptz,
                     text, int),
    api.get_deploys(text[]),
    api.list_incidents(text, text, text, text, timestamptz, timestamptz, timestamptz, text,
                       int, text),
    api.get_incidents(text[]), api.incident_deploys(text[]),
    api.list_pipeline_runs(text, text, text, text, timestamptz, timestamptz, timestamptz,
                           text, int),
    api.get_pipeline_runs(text[]),
    api.list_repos(text, timestamptz, timestamptz, timestamptz, text, int),
    api.get_repos(text[]), api._services(uuid, text[], text, int),
    api.list_services(text, text, int), api.get_services(text[]) TO qdx_app;
-- The people by id and by account (sql/api/50_people.sql; REST and GraphQL).
REVOKE EXECUTE ON FUNCTION api.get_people(uuid[]), api.people_of_actors(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_people(uuid[]), api.people_of_actors(text[]) TO qdx_app;
