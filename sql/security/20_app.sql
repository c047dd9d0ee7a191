-- What the server's per-request role reads: qdx_app (the web and, later, the workers take
-- it with SET LOCAL ROLE in each transaction, their org and teams set transaction-locally;
-- db/scope.py). Row-level security scopes every table to the caller's org; the grants
-- keep it away from secrets (webhook secrets, signing keys, SQL logins) and from writing.

GRANT USAGE ON SCHEMA auth, core, identity, metrics, api, audit TO qdx_app;
GRANT SELECT ON auth.orgs, auth.teams, auth.team_memberships, auth.api_clients TO qdx_app;
GRANT SELECT ON ALL TABLES IN SCHEMA core, identity, metrics, api TO qdx_app;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM qdx_app;
-- Every api function (the metrics', sql/api/10; the resources', sql/api/30) and view (also
-- api.pipeline_runs): this file is re-applied when it changes, so a new one is named here.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO qdx_app;
GRANT EXECUTE ON FUNCTION audit.record(uuid, text, text, jsonb, text, text, jsonb, text,
                                       bigint, numeric, text) TO qdx_app;
