-- What the SQL interfaces can read, described for the caller (the MCP server
-- quantum-sql's list_tables and describe_table): the api views a SQL role may read.

-- The tables and views the caller may query with run_sql (the api views a SQL role may
-- read), each with its description and columns count.
CREATE OR REPLACE FUNCTION api.list_tables()
RETURNS TABLE (name text, kind text, description text, columns int)
LANGUAGE sql STABLE AS $$
    SELECT 'api.' || c.relname, CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END,
           obj_description(c.oid, 'pg_class'),
           (SELECT count(*)::int FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
    FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
    WHERE s.nspname = 'api' AND c.relkind IN ('r', 'v', 'm')
      AND has_table_privilege('qdx_sql', c.oid, 'SELECT')
    ORDER BY c.relname
$$;

-- The columns of one of those tables or views (name with or without `api.`).
CREATE OR REPLACE FUNCTION api.describe_table(p_name text)
RETURNS TABLE (ordinal int, name text, type text, nullable boolean, description text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_oid oid;
BEGIN
    SELECT c.oid INTO v_oid FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
    WHERE s.nspname = 'api' AND c.relkind IN ('r', 'v', 'm')
      AND c.relname = regexp_replace(btrim(coalesce(p_name, '')), '^api\.', '')
      AND has_table_privilege('qdx_sql', c.oid, 'SELECT');
    IF v_oid IS NULL THEN
        RAISE EXCEPTION 'no table %: these can be queried: %', p_name,
            (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM api.list_tables() t)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN QUERY
    SELECT a.attnum::int, a.attname::text, format_type(a.atttypid, a.atttypmod),
           NOT a.attnotnull, col_description(v_oid, a.attnum)
    FROM pg_attribute a
    WHERE a.attrelid = v_oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum;
END
$$;
