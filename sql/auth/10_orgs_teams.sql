-- Tenancy: orgs and the team tree. Each state change is one function that validates,
-- writes with RETURNING ... INTO, and raises with the offending key when nothing matched
-- (no_data_found -> NotFound, invalid_parameter_value -> InvalidInput in db/errors.py).

-- The id of the org with this slug; raises no_data_found naming the slug.
CREATE OR REPLACE FUNCTION auth.org_id(p_slug text)
RETURNS uuid LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_org_id uuid;
BEGIN
    SELECT org_id INTO v_org_id FROM auth.orgs WHERE slug = p_slug;
    IF v_org_id IS NULL THEN
        RAISE EXCEPTION 'unknown org %', quote_literal(p_slug) USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_org_id;
END $$;

-- Create an org (slug unique, time zone a known IANA name).
CREATE OR REPLACE FUNCTION auth.create_org(p_slug text, p_name text DEFAULT NULL,
                                           p_timezone text DEFAULT 'UTC')
RETURNS auth.orgs LANGUAGE plpgsql AS $$
DECLARE
    v_org auth.orgs;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = p_timezone) THEN
        RAISE EXCEPTION 'unknown time zone %: use an IANA name such as Europe/Berlin',
            quote_literal(p_timezone) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO auth.orgs (slug, name, timezone)
    VALUES (p_slug, coalesce(nullif(p_name, ''), p_slug), p_timezone)
    RETURNING * INTO v_org;
    RETURN v_org;
END $$;

-- The id of a team of an org by slug; raises no_data_found naming both.
CREATE OR REPLACE FUNCTION auth.team_id(p_org_id uuid, p_slug text)
RETURNS uuid LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_team_id uuid;
BEGIN
    SELECT team_id INTO v_team_id FROM auth.teams WHERE org_id = p_org_id AND slug = p_slug;
    IF v_team_id IS NULL THEN
        RAISE EXCEPTION 'unknown team % in org %', quote_literal(p_slug),
            (SELECT quote_literal(slug) FROM auth.orgs WHERE org_id = p_org_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_team_id;
END $$;

-- Create a team in an org, optionally under a parent team of the same org.
CREATE OR REPLACE FUNCTION auth.create_team(p_org text, p_slug text, p_name text DEFAULT NULL,
                                            p_parent text DEFAULT NULL)
RETURNS auth.teams LANGUAGE plpgsql AS $$
DECLARE
    v_org_id uuid := auth.org_id(p_org);
    v_parent_id uuid;
    v_team auth.teams;
BEGIN
    IF p_parent IS NOT NULL THEN
        v_parent_id := auth.team_id(v_org_id, p_parent);
    END IF;
    INSERT INTO auth.teams (org_id, slug, name, parent_id)
    VALUES (v_org_id, p_slug, coalesce(nullif(p_name, ''), p_slug), v_parent_id)
    RETURNING * INTO v_team;
    RETURN v_team;
END $$;

-- A team and every team below it (the ids), for subtree scopes and rollups.
CREATE OR REPLACE FUNCTION auth.team_subtree(p_org_id uuid, p_team_id uuid)
RETURNS SETOF uuid LANGUAGE sql STABLE AS $$
    WITH RECURSIVE tree AS (
        SELECT team_id FROM auth.teams WHERE org_id = p_org_id AND team_id = p_team_id
        UNION
        SELECT t.team_id FROM auth.teams t JOIN tree ON t.parent_id = tree.team_id
        WHERE t.org_id = p_org_id
    )
    SELECT team_id FROM tree
$$;

-- An org's teams in tree order: slug, parent slug, depth and the path of slugs.
CREATE OR REPLACE FUNCTION auth.team_tree(p_org text)
RETURNS TABLE (slug text, name text, parent_slug text, depth int, path text[])
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE tree AS (
        SELECT t.team_id, t.slug, t.name, NULL::text AS parent_slug, 0 AS depth,
               ARRAY[t.slug] AS path
        FROM auth.teams t
        WHERE t.org_id = auth.org_id(p_org) AND t.parent_id IS NULL
        UNION ALL
        SELECT c.team_id, c.slug, c.name, tree.slug, tree.depth + 1, tree.path || c.slug
        FROM auth.teams c JOIN tree ON c.parent_id = tree.team_id
        WHERE c.org_id = auth.org_id(p_org)
    )
    SELECT slug, name, parent_slug, depth, path FROM tree ORDER BY path
$$;
