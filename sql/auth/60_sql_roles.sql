-- Direct-SQL login roles (`qdx sql-role ...`): a PostgreSQL login bound to one org (and
-- optionally teams), member of qdx_sql, so it reads the api views under row-level
-- security. Its password is given as a SCRAM verifier: the clear text never reaches the
-- server (nor its log).

-- Create a login role for an org. p_teams are team slugs (empty: the whole org).
CREATE OR REPLACE FUNCTION auth.create_sql_role(
    p_org text, p_name text, p_teams text[], p_verifier text, p_connection_limit int,
    p_statement_timeout text, p_idle_timeout text, p_by text)
RETURNS auth.sql_roles LANGUAGE plpgsql AS $$
DECLARE
    v_org_id uuid := auth.org_id(p_org);
    v_row    auth.sql_roles;
BEGIN
    IF p_name !~ '^[a-z][a-z0-9_]{2,62}$' OR p_name ~ '^(pg_|qdx_)' THEN
        RAISE EXCEPTION 'role name %: 3 to 63 lower-case letters, digits or _, starting with a letter, not pg_ or qdx_',
            quote_literal(p_name) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM pg_roles r WHERE r.rolname = p_name) THEN
        RAISE EXCEPTION 'a role named % already exists on this server', quote_literal(p_name)
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF p_verifier !~ '^SCRAM-SHA-256\$' THEN
        RAISE EXCEPTION 'the password must be given as a SCRAM-SHA-256 verifier'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_connection_limit IS NULL OR p_connection_limit < 1 OR p_connection_limit > 100 THEN
        RAISE EXCEPTION 'connection limit must be 1 to 100, not %', p_connection_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO auth.sql_roles (role_name, org_id, team_ids, created_by)
    VALUES (p_name, v_org_id,
            ARRAY(SELECT auth.team_id(v_org_id, t) FROM unnest(coalesce(p_teams, '{}')) AS t),
            p_by)
    RETURNING * INTO v_row;
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
                   ' NOBYPASSRLS INHERIT CONNECTION LIMIT %s PASSWORD %L IN ROLE qdx_sql',
                   p_name, p_connection_limit, p_verifier);
    -- Read-only by default, bounded, and unable to hold back vacuum with an open
    -- transaction; the api views first on the search path.
    EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', p_name);
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', p_name, p_statement_timeout);
    EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', p_name,
                   p_idle_timeout);
    EXECUTE format('ALTER ROLE %I SET search_path = api', p_name);
    -- Every statement of the role in the server log (a superuser's setting).
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        EXECUTE format('ALTER ROLE %I SET log_statement = %L', p_name, 'all');
    END IF;
    RETURN v_row;
END
$$;

-- The org's login role by name (no_data_found for another org's or an unknown one).
CREATE OR REPLACE FUNCTION auth.sql_role_of(p_org text, p_name text) RETURNS auth.sql_roles
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_row auth.sql_roles;
BEGIN
    SELECT * INTO v_row FROM auth.sql_roles r
    WHERE r.role_name = p_name AND r.org_id = auth.org_id(p_org);
    IF v_row.role_name IS NULL THEN
        RAISE EXCEPTION 'no SQL role % in org %', quote_literal(p_name), quote_literal(p_org)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_row;
END
$$;

-- Drop a login role: its sessions are ended first.
CREATE OR REPLACE FUNCTION auth.drop_sql_role(p_org text, p_name text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_row auth.sql_roles := auth.sql_role_of(p_org, p_name);
    v_ended int;
BEGIN
    -- (the role's sessions first, then the calls: a filter's order is the planner's)
    SELECT count(*) INTO v_ended FROM (
        SELECT a.pid FROM pg_stat_activity a
        WHERE a.usename = v_row.role_name AND a.pid <> pg_backend_pid() OFFSET 0
    ) s
    WHERE pg_terminate_backend(s.pid);
    DELETE FROM auth.sql_roles r WHERE r.role_name = v_row.role_name;
    IF EXISTS (SELECT FROM pg_roles r WHERE r.rolname = v_row.role_name) THEN
        EXECUTE format('DROP ROLE %I', v_row.role_name);
    END IF;
    RETURN v_ended;
END
$$;

-- Give a login role a new password (a SCRAM-SHA-256 verifier).
CREATE OR REPLACE FUNCTION auth.rotate_sql_role_password(p_org text, p_name text,
                                                         p_verifier text)
RETURNS auth.sql_roles LANGUAGE plpgsql AS $$
DECLARE
    v_row auth.sql_roles := auth.sql_role_of(p_org, p_name);
BEGIN
    IF p_verifier !~ '^SCRAM-SHA-256\$' THEN
        RAISE EXCEPTION 'the password must be given as a SCRAM-SHA-256 verifier'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', v_row.role_name, p_verifier);
    UPDATE auth.sql_roles r SET password_set_at = now() WHERE r.role_name = v_row.role_name
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;

-- The name of the login role of a scope (an org and a set of teams).
CREATE OR REPLACE FUNCTION auth.scope_role_name(p_org uuid, p_team_ids uuid[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'qdx_s_' || left(md5(p_org::text || '/' || array_to_string(ARRAY(
        SELECT DISTINCT t FROM unnest(coalesce(p_team_ids, '{}')) t ORDER BY 1), ',')), 20)
$$;

-- The login role POST /api/v1/sql runs a caller's statement as: one per org and set of
-- teams, made on first use, registered in auth.sql_roles like a `qdx sql-role` (so the
-- policies read its scope from session_user), with the password given (a SCRAM verifier
-- the server derives from its own secret). Returns the role's name.
CREATE OR REPLACE FUNCTION auth.ensure_scope_role(p_org uuid, p_team_ids uuid[],
                                                  p_verifier text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_teams uuid[] := ARRAY(SELECT DISTINCT t FROM unnest(coalesce(p_team_ids, '{}')) t
                            ORDER BY 1);
    v_name  text := auth.scope_role_name(p_org, p_team_ids);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(v_name));
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = v_name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
                       ' NOBYPASSRLS INHERIT CONNECTION LIMIT 20 IN ROLE qdx_sql', v_name);
        EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', v_name);
        EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', v_name, '10s');
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', v_name,
                       '10s');
        EXECUTE format('ALTER ROLE %I SET search_path = api', v_name);
    END IF;
    -- (the server's processes derive the same password; set it each time one asks)
    EXECUTE format('ALTER ROLE %I PASSWORD %L', v_name, p_verifier);
    INSERT INTO auth.sql_roles (role_name, org_id, team_ids, created_by)
    VALUES (v_name, p_org, v_teams, 'server: POST /api/v1/sql')
    ON CONFLICT (role_name) DO NOTHING;
    RETURN v_name;
END
$$;
