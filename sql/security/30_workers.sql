-- What the long-running services' tenant writes run as: qdx_worker (migration 0011).
--
-- The webhook receiver's inserts, the normalizer, replay, the identity resolver and the
-- metrics refresh take it per transaction (SET LOCAL ROLE, db/scope.py), with the org of
-- the work in qdx.org_id; the group commit's own pool takes it once per connection, and
-- raw.accept_events sets the org per group of a batch that mixes orgs. The policy
-- `worker` (10_rls.sql) admits only that org's rows, reads and writes alike (it reads the
-- setting itself: qdx_worker is never a direct-SQL login), so a bug in a normalizer or a
-- refresh cannot reach another org. What genuinely spans orgs stays the owner's: claiming
-- the queue (and dead-lettering), creating partitions, pruning, listing the orgs with
-- pending work, migrations and the command line's admin commands;
-- metrics.request_refresh (queueing a refresh job) is the one SECURITY DEFINER function
-- the worker's writes reach. The grants give it the tables its work touches and nothing
-- of the secrets (webhook secrets, signing keys, SQL logins, API clients) or the audit log.

GRANT USAGE ON SCHEMA raw, core, identity, metrics, auth, pgmq TO qdx_worker;
GRANT SELECT, INSERT ON raw.deliveries, raw.events TO qdx_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core, identity, metrics
    TO qdx_worker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA core, identity, metrics, pgmq TO qdx_worker;
-- Tables and sequences a later migration adds there get the same (their policies come
-- from auth.secure_tenant_tables()).
ALTER DEFAULT PRIVILEGES IN SCHEMA core, identity, metrics
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO qdx_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA core, identity, metrics
    GRANT USAGE, SELECT ON SEQUENCES TO qdx_worker;
GRANT SELECT ON auth.orgs, auth.teams TO qdx_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.team_memberships TO qdx_worker;
-- The ingest queue: the receiver sends, the normalizer reads, defers and archives (the
-- claim and the archive pruning are the owner's). Not a tenant table: a message carries
-- an org id and the event's key only; the event itself is read under the policies.
GRANT SELECT, INSERT, UPDATE, DELETE ON pgmq.q_ingest TO qdx_worker;
GRANT SELECT, INSERT ON pgmq.a_ingest TO qdx_worker;
-- The reference tables the worker reads besides its org's rows.
ALTER POLICY reference ON metrics.definitions TO qdx_app, qdx_sql, qdx_worker;
ALTER POLICY reference ON metrics.benchmarks TO qdx_app, qdx_sql, qdx_worker;

-- The normalizer, the resolver and the refresh re-sample the statistics of the tables
-- they just filled (ANALYZE); PostgreSQL 17 and newer let a non-owner do that (MAINTAIN).
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON ALL TABLES IN SCHEMA core, identity, metrics TO qdx_worker';
    END IF;
END $$;
