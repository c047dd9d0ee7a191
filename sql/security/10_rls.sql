-- Row-level security: the boundary between tenants.
--
-- Every table of the tenant schemas has RLS enabled and forced. A table with an org_id
-- column gets the policy `tenant`: members of qdx_app and qdx_sql see and write the
-- rows of auth.caller_org() only (their org: from the transaction's settings, or for a
-- direct-SQL login role from auth.sql_roles), and the policy `worker`: qdx_worker (the
-- receiver's inserts, normalizer, replay, identity resolver, metrics refresh) reads and
-- writes the rows of the org its transaction set, nothing else (sql/security/30_workers.sql
-- has its grants). Reference tables without org_id (metric definitions, benchmark sets)
-- are readable by all three; the signing keys by none. The owner (migrations, the command
-- line, cross-org housekeeping) keeps the policy `owner` and sees everything.
-- tests/test_security_catalog.py fails when a table lacks any of this.

-- Secure every table of the tenant schemas that is not yet (new tables, new partitions);
-- returns how many it secured.
CREATE OR REPLACE FUNCTION auth.secure_tenant_tables() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    n int := 0;
    v_worker_org text := $q$nullif(current_setting('qdx.org_id', true), '')::uuid$q$;
BEGIN
    FOR t IN
        SELECT c.oid::regclass AS rel, pg_get_userbyid(c.relowner) AS owner,
               EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'org_id' AND NOT a.attisdropped) AS has_org,
               c.relrowsecurity AND c.relforcerowsecurity AS secured
        FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE s.nspname IN ('auth', 'audit', 'raw', 'core', 'identity', 'metrics')
          AND c.relkind IN ('r', 'p')
    LOOP
        IF t.secured AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = t.rel)
           AND (NOT t.has_org OR EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = t.rel
                                         AND p.polname = 'worker')) THEN
            CONTINUE;
        END IF;
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t.rel);
        EXECUTE format('DROP POLICY IF EXISTS owner ON %s', t.rel);
        EXECUTE format('CREATE POLICY owner ON %s TO %I USING (true) WITH CHECK (true)',
                       t.rel, t.owner);
        EXECUTE format('DROP POLICY IF EXISTS tenant ON %s', t.rel);
        EXECUTE format('DROP POLICY IF EXISTS reference ON %s', t.rel);
        EXECUTE format('DROP POLICY IF EXISTS worker ON %s', t.rel);
        IF t.has_org THEN
            EXECUTE format('CREATE POLICY tenant ON %s TO qdx_app, qdx_sql'
                           ' USING (org_id = (SELECT auth.caller_org()))'
                           ' WITH CHECK (org_id = (SELECT auth.caller_org()))', t.rel);
            -- The worker's org is the transaction's setting alone: what auth.caller_org()
            -- gives every role but a direct-SQL login, without its lookup and its
            -- SECURITY DEFINER call (these policies sit on the ingest path).
            EXECUTE format('CREATE POLICY worker ON %s TO qdx_worker'
                           ' USING (org_id = (SELECT %s)) WITH CHECK (org_id = (SELECT %s))',
                           t.rel, v_worker_org, v_worker_org);
        ELSIF t.rel::text IN ('metrics.definitions', 'metrics.benchmarks') THEN
            EXECUTE format('CREATE POLICY reference ON %s FOR SELECT'
                           ' TO qdx_app, qdx_sql, qdx_worker USING (true)', t.rel);
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

SELECT auth.secure_tenant_tables();

-- What a direct-SQL user reads: the api views (and, for the views to run with its
-- rights, the rows of their base tables under the policies above: without USAGE on
-- those schemas it cannot name the tables itself).
GRANT USAGE ON SCHEMA api TO qdx_sql;
GRANT SELECT ON api.teams, api.repos, api.changes, api.change_metrics, api.deploys,
    api.incidents, api.pipeline_runs, api.metric_definitions TO qdx_sql;
GRANT SELECT ON auth.teams, core.repos, core.changes, core.deploys, core.incidents,
    core.pipeline_runs, metrics.change_units, metrics.change_teams, metrics.deploy_teams, metrics.failure_links,
    metrics.definitions TO qdx_sql;
-- The api functions are the server's (qdx_app gets its grants when the web moves to
-- per-request roles); nobody else calls them.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
