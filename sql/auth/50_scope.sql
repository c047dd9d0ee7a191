-- The caller's scope, as row-level security sees it (sql/security/).
--
-- A login role that `qdx sql-role create` made (a psql user) is bound to its org and
-- teams in auth.sql_roles, looked up by session_user: nothing it can SET changes that.
-- Anything else (the web's `qdx_app` transactions) carries its scope in the
-- transaction-local settings qdx.org_id and qdx.team_ids (comma-separated team ids),
-- set by the server from a verified token before anything else runs.

-- The org the caller may read, or NULL (then it reads nothing).
CREATE OR REPLACE FUNCTION auth.caller_org() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN EXISTS (SELECT FROM auth.sql_roles r WHERE r.role_name = session_user)
        THEN (SELECT r.org_id FROM auth.sql_roles r WHERE r.role_name = session_user)
        ELSE nullif(current_setting('qdx.org_id', true), '')::uuid
    END
$$;

-- The teams the caller may read, with every team under them; NULL when the caller reads
-- its whole org.
CREATE OR REPLACE FUNCTION auth.caller_teams() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE given (team_id) AS (
        SELECT unnest(r.team_ids) FROM auth.sql_roles r WHERE r.role_name = session_user
        UNION ALL
        SELECT t::uuid
        FROM unnest(string_to_array(nullif(current_setting('qdx.team_ids', true), ''), ',')) t
        WHERE NOT EXISTS (SELECT FROM auth.sql_roles r WHERE r.role_name = session_user)
    ), tree (team_id) AS (
        SELECT t.team_id FROM auth.teams t
        WHERE t.org_id = auth.caller_org() AND t.team_id IN (SELECT team_id FROM given)
        UNION
        SELECT c.team_id FROM auth.teams c JOIN tree ON c.parent_id = tree.team_id
        WHERE c.org_id = auth.caller_org()
    )
    SELECT CASE WHEN EXISTS (SELECT FROM given) THEN ARRAY(SELECT team_id FROM tree) END
$$;
