-- The people API: persons of the identity graph, their accounts, teams and tenure; the
-- team tree and who was on a team when. What the MCP server quantum-people (and later
-- GraphQL and REST) call; the interfaces show it to analysts and up. Row-level security
-- keeps every read in the caller's org; a team-scoped caller sees its team subtree
-- (api.teams) and the persons who were ever on one of those teams, nobody else.
-- Errors: SQLSTATE 22023 (a parameter is wrong) or P0002 (nothing of that name).

-- Whether the caller may see a person: always within its org, and for a team-scoped
-- caller only someone who was on one of its teams at some time.
CREATE OR REPLACE FUNCTION api._person_visible(p_person uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (SELECT auth.caller_teams()) IS NULL
        OR EXISTS (SELECT FROM auth.team_memberships m
                   WHERE m.org_id = (SELECT auth.caller_org()) AND m.person_id = p_person
                     AND m.team_id = ANY ((SELECT auth.caller_teams())::uuid[]))
$$;

-- A team the caller may read, by slug, id or name (api._team_id's lookup), or a clear
-- error that names the tool to list them.
CREATE OR REPLACE FUNCTION api._team(p_team text)
RETURNS api.teams LANGUAGE plpgsql STABLE AS $$
DECLARE
    v api.teams;
BEGIN
    BEGIN
        SELECT * INTO v FROM api.teams t WHERE t.team_id = api._team_id(p_team);
    EXCEPTION WHEN no_data_found THEN
        NULL;
    END;
    IF v.team_id IS NULL THEN
        RAISE EXCEPTION 'no team % (see team_tree)', p_team USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v;
END
$$;

-- One person as JSON: who, the accounts linked to it (with the method of each link), the
-- teams it was on (those the caller may read) and its tenure where known: since its
-- first team membership, else since its first account activity.
CREATE OR REPLACE FUNCTION api._person(p_person uuid)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH teams AS (
        SELECT t.slug, t.name, m.role, lower(m.during) AS since, upper(m.during) AS until
        FROM auth.team_memberships m JOIN api.teams t ON t.team_id = m.team_id
        WHERE m.org_id = (SELECT auth.caller_org()) AND m.person_id = p_person
    ), accounts AS (
        SELECT a.actor_id, a.provider, a.login, a.display_name, a.emails, a.is_bot,
               a.first_seen_at, a.last_seen_at, l.method, l.confidence
        FROM identity.links l JOIN core.actors a USING (org_id, actor_id)
        WHERE l.org_id = (SELECT auth.caller_org()) AND l.person_id = p_person
    ), tenure AS (
        SELECT coalesce((SELECT min(since) FROM teams), (SELECT min(first_seen_at) FROM accounts))
               AS since,
               CASE WHEN EXISTS (SELECT FROM teams) THEN 'team membership'
                    WHEN EXISTS (SELECT FROM accounts) THEN 'first account activity' END
               AS source
    )
    SELECT jsonb_build_object(
        'person_id', p.person_id, 'display_name', p.display_name,
        'primary_email', p.primary_email, 'is_bot', p.is_bot,
        'accounts', coalesce((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.provider, a.actor_id)
                              FROM accounts a), '[]'),
        'teams', coalesce((SELECT jsonb_agg(to_jsonb(t) ORDER BY t.since, t.slug)
                           FROM teams t), '[]'),
        'current_teams', coalesce((SELECT jsonb_agg(t.slug ORDER BY t.slug) FROM teams t
                                   WHERE t.since <= now()
                                     AND (t.until IS NULL OR t.until > now())), '[]'),
        'tenure', CASE WHEN tn.since IS NOT NULL THEN jsonb_build_object(
                      'since', tn.since, 'days', floor(extract(epoch FROM now() - tn.since) / 86400),
                      'source', tn.source) END)
    FROM identity.persons p, tenure tn
    WHERE p.org_id = (SELECT auth.caller_org()) AND p.person_id = p_person
$$;

-- The persons an email, login or name names (a JSON array: usually one; several when the
-- name is shared), each with accounts, teams and tenure. Emails match any account's
-- address or the same mailbox (identity.canonical_email); logins any account's login;
-- names a person's or an account's display name, without regard to case. Persons merged
-- into another resolve to the survivor.
CREATE OR REPLACE FUNCTION api.resolve_person(p_by text, p_value text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_org   uuid := (SELECT auth.caller_org());
    v_found jsonb;
BEGIN
    IF p_by IS NULL OR p_by NOT IN ('email', 'login', 'name') THEN
        RAISE EXCEPTION 'resolve a person by email, login or name, not %', p_by
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_value IS NULL OR btrim(p_value) = '' THEN
        RAISE EXCEPTION 'the % to resolve is empty', p_by USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH RECURSIVE hit (person_id) AS (
        SELECT l.person_id
        FROM core.actors a JOIN identity.links l USING (org_id, actor_id)
        WHERE a.org_id = v_org AND (
              (p_by = 'email' AND lower(btrim(p_value)) = ANY (a.emails))
           OR (p_by = 'login' AND lower(a.login) = lower(btrim(p_value)))
           OR (p_by = 'name' AND lower(a.display_name) = lower(btrim(p_value))))
        UNION
        SELECT l.person_id
        FROM identity.keys k JOIN identity.links l USING (org_id, actor_id)
        WHERE p_by = 'email' AND k.org_id = v_org AND k.kind = 'email'
          AND k.value = identity.canonical_email(btrim(p_value))
        UNION
        SELECT p.person_id FROM identity.persons p
        WHERE p.org_id = v_org AND (
              (p_by = 'email' AND lower(p.primary_email) = lower(btrim(p_value)))
           OR (p_by = 'name' AND lower(p.display_name) = lower(btrim(p_value))))
    ), live (person_id, depth) AS (
        SELECT h.person_id, 0 FROM hit h
        UNION ALL
        SELECT p.merged_into, l.depth + 1
        FROM live l JOIN identity.persons p ON p.org_id = v_org AND p.person_id = l.person_id
        WHERE p.merged_into IS NOT NULL AND l.depth < 32
    )
    SELECT jsonb_agg(api._person(x.person_id) ORDER BY x.person_id) INTO v_found
    FROM (SELECT DISTINCT l.person_id FROM live l
          JOIN identity.persons p ON p.org_id = v_org AND p.person_id = l.person_id
          WHERE p.merged_into IS NULL AND api._person_visible(l.person_id)) x;
    IF v_found IS NULL THEN
        RAISE EXCEPTION 'no person with % %', p_by, p_value USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_found;
END
$$;

-- The teams the caller may read as a tree, depth first: each with its parent, depth
-- (0 at the top of what is shown), its path of slugs and how many people are on it now.
-- With a team: that team and everything under it.
CREATE OR REPLACE FUNCTION api.team_tree(p_team text DEFAULT NULL)
RETURNS TABLE (team_id uuid, slug text, name text, parent_slug text, depth int, path text,
               members_now bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_root uuid;
BEGIN
    IF p_team IS NOT NULL THEN
        v_root := (api._team(p_team)).team_id;
    END IF;
    RETURN QUERY
    WITH RECURSIVE tree AS (
        SELECT t.team_id, t.slug, t.name, t.parent_id, 0 AS depth, t.slug::text AS path
        FROM api.teams t
        WHERE CASE WHEN v_root IS NOT NULL THEN t.team_id = v_root
                   -- the tops of what the caller reads: teams whose parent it cannot read
                   ELSE t.parent_id IS NULL
                        OR NOT EXISTS (SELECT FROM api.teams p WHERE p.team_id = t.parent_id)
              END
        UNION ALL
        SELECT c.team_id, c.slug, c.name, c.parent_id, tree.depth + 1, tree.path || '/' || c.slug
        FROM api.teams c JOIN tree ON c.parent_id = tree.team_id
    )
    SELECT tree.team_id, tree.slug, tree.name, p.slug, tree.depth, tree.path,
           (SELECT count(DISTINCT m.person_id) FROM auth.team_memberships m
            WHERE m.org_id = (SELECT auth.caller_org()) AND m.team_id = tree.team_id
              AND m.during @> now())
    FROM tree LEFT JOIN api.teams p ON p.team_id = tree.parent_id
    ORDER BY tree.path;
END
$$;

-- Who was on a team at a moment (now by default), by name, a page at a time (`cursor`
-- of a row continues after it).
CREATE OR REPLACE FUNCTION api.team_members(p_team text, p_at timestamptz DEFAULT NULL,
                                            p_after text DEFAULT NULL,
                                            p_limit int DEFAULT 100)
RETURNS TABLE (person_id uuid, display_name text, primary_email text, role text,
               since timestamptz, until timestamptz, cursor text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_team  api.teams;
    v_after record;
BEGIN
    IF p_team IS NULL OR btrim(p_team) = '' THEN
        RAISE EXCEPTION 'a team is required (see team_tree)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- (1001: a page of the interfaces' largest, 1000, and the row that tells whether
    -- more follow)
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1001 THEN
        RAISE EXCEPTION 'limit must be 1 to 1001, not %', p_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_team := api._team(p_team);
    v_after := api._cursor_position(p_after);
    RETURN QUERY
    SELECT p.person_id, p.display_name, p.primary_email, m.role, lower(m.during),
           upper(m.during), api._cursor(NULL, lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id)
    FROM auth.team_memberships m
    JOIN identity.persons p ON p.org_id = m.org_id AND p.person_id = m.person_id
    WHERE m.org_id = (SELECT auth.caller_org()) AND m.team_id = v_team.team_id
      AND m.during @> coalesce(p_at, now())
      AND (v_after.id IS NULL
           OR lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id > v_after.id)
    ORDER BY lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id
    LIMIT p_limit;
END
$$;

-- The persons the caller may see, by name, a page at a time: optionally those on a team
-- (or a team under it) now, and those whose name, email or an account's login contains
-- a text. Each with its current teams. `cursor` of a row continues after it.
CREATE OR REPLACE FUNCTION api.list_people(p_team text DEFAULT NULL, p_query text DEFAULT NULL,
                                           p_after text DEFAULT NULL, p_limit int DEFAULT 100)
RETURNS TABLE (person_id uuid, display_name text, primary_email text, is_bot boolean,
               teams text[], cursor text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_org   uuid := (SELECT auth.caller_org());
    v_teams uuid[];
    v_after record;
    v_like  text;
BEGIN
    -- (1001: a page of the interfaces' largest, 1000, and the row that tells whether
    -- more follow)
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1001 THEN
        RAISE EXCEPTION 'limit must be 1 to 1001, not %', p_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_team IS NOT NULL THEN
        v_teams := ARRAY(SELECT t.team_id FROM api.team_tree(p_team) t);
    END IF;
    IF p_query IS NOT NULL AND btrim(p_query) <> '' THEN
        v_like := '%' || replace(replace(replace(lower(btrim(p_query)), '\', '\\'), '%', '\%'),
                                 '_', '\_') || '%';
    END IF;
    v_after := api._cursor_position(p_after);
    RETURN QUERY
    SELECT p.person_id, p.display_name, p.primary_email, p.is_bot,
           ARRAY(SELECT DISTINCT t.slug FROM auth.team_memberships m
                 JOIN api.teams t ON t.team_id = m.team_id
                 WHERE m.org_id = v_org AND m.person_id = p.person_id AND m.during @> now()
                 ORDER BY 1),
           api._cursor(NULL, lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id)
    FROM identity.persons p
    WHERE p.org_id = v_org AND p.merged_into IS NULL
      AND api._person_visible(p.person_id)
      AND (v_teams IS NULL OR EXISTS (
               SELECT FROM auth.team_memberships m
               WHERE m.org_id = v_org AND m.person_id = p.person_id
                 AND m.team_id = ANY (v_teams) AND m.during @> now()))
      AND (v_like IS NULL OR lower(p.display_name) LIKE v_like
           OR lower(p.primary_email) LIKE v_like
           OR EXISTS (SELECT FROM identity.links l JOIN core.actors a USING (org_id, actor_id)
                      WHERE l.org_id = v_org AND l.person_id = p.person_id
                        AND lower(a.login) LIKE v_like))
      AND (v_after.id IS NULL
           OR lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id > v_after.id)
    ORDER BY lower(coalesce(p.display_name, '')) || E'\x01' || p.person_id
    LIMIT p_limit;
END
$$;

-- The persons with these ids the caller may see, each as api._person's JSON, with the
-- id asked for: an id of a person merged into another answers with the survivor (as
-- resolve_person does); an id of no person the caller may see (another org's, outside a
-- team token's teams, none at all) is simply absent.
CREATE OR REPLACE FUNCTION api.get_people(p_ids uuid[])
RETURNS TABLE (asked uuid, person jsonb)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE live (asked, person_id, depth) AS (
        SELECT p.person_id, p.person_id, 0 FROM identity.persons p
        WHERE p.org_id = (SELECT auth.caller_org()) AND p.person_id = ANY (p_ids)
        UNION ALL
        SELECT l.asked, p.merged_into, l.depth + 1
        FROM live l JOIN identity.persons p
             ON p.org_id = (SELECT auth.caller_org()) AND p.person_id = l.person_id
        WHERE p.merged_into IS NOT NULL AND l.depth < 32
    )
    SELECT l.asked, api._person(l.person_id)
    FROM live l JOIN identity.persons p
         ON p.org_id = (SELECT auth.caller_org()) AND p.person_id = l.person_id
    WHERE p.merged_into IS NULL AND api._person_visible(l.person_id)
    ORDER BY l.asked
$$;

-- The person (api._person's JSON) each of these accounts (actor ids) is linked to, for
-- the persons the caller may see; accounts of nobody it may see are absent.
CREATE OR REPLACE FUNCTION api.people_of_actors(p_actors text[])
RETURNS TABLE (actor_id text, person jsonb)
LANGUAGE sql STABLE AS $$
    WITH linked AS (
        SELECT l.actor_id, l.person_id FROM identity.links l
        WHERE l.org_id = (SELECT auth.caller_org()) AND l.actor_id = ANY (p_actors)
    )
    SELECT linked.actor_id, g.person
    FROM linked
    JOIN api.get_people(ARRAY(SELECT DISTINCT person_id FROM linked)) g
      ON g.asked = linked.person_id
    ORDER BY linked.actor_id
$$;
