-- Time-versioned team membership and attribution: history counts for the team a person
-- was on when it happened.

-- Each account's person, and whether that person is an automation (kept out of people
-- metrics). What metrics join canonical rows through.
CREATE OR REPLACE VIEW identity.account_persons WITH (security_invoker = true) AS
    SELECT l.org_id, l.actor_id, l.person_id, p.is_bot, l.method, l.confidence
    FROM identity.links l
    JOIN identity.persons p ON p.org_id = l.org_id AND p.person_id = l.person_id;

-- Put a person on a team from p_from until p_to (open-ended when NULL). A span that
-- overlaps one the person already has on that team is refused.
CREATE OR REPLACE FUNCTION identity.add_membership(p_org uuid, p_team text, p_person uuid,
                                                   p_from timestamptz,
                                                   p_to timestamptz DEFAULT NULL,
                                                   p_role text DEFAULT 'member')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_team uuid;
BEGIN
    SELECT team_id INTO v_team FROM auth.teams WHERE org_id = p_org AND slug = p_team;
    IF v_team IS NULL THEN
        RAISE EXCEPTION 'no team % in this organization', p_team USING ERRCODE = 'no_data_found';
    END IF;
    IF p_to IS NOT NULL AND p_to <= p_from THEN
        RAISE EXCEPTION 'a membership ends after it starts (% .. %)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO auth.team_memberships (org_id, team_id, person_id, during, role)
    VALUES (p_org, v_team, p_person, tstzrange(p_from, p_to, '[)'), p_role);
EXCEPTION WHEN exclusion_violation THEN
    RAISE EXCEPTION 'person % is already on team % for part of % .. %', p_person, p_team,
        p_from, coalesce(p_to::text, 'now') USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- End a person's open membership of a team at p_at.
CREATE OR REPLACE FUNCTION identity.end_membership(p_org uuid, p_team text, p_person uuid,
                                                   p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth.team_memberships m SET during = tstzrange(lower(m.during), p_at, '[)')
    FROM auth.teams t
    WHERE t.org_id = p_org AND t.slug = p_team AND m.org_id = p_org
      AND m.team_id = t.team_id AND m.person_id = p_person
      AND m.during @> p_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'person % is not on team % at %', p_person, p_team, p_at
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- The teams an account's person was on at a moment.
CREATE OR REPLACE FUNCTION identity.teams_at(p_org uuid, p_actor text, p_at timestamptz)
RETURNS TABLE (team_id uuid, slug text, person_id uuid) LANGUAGE sql STABLE AS $$
    SELECT m.team_id, t.slug, l.person_id
    FROM identity.links l
    JOIN auth.team_memberships m ON m.org_id = l.org_id AND m.person_id = l.person_id
    JOIN auth.teams t ON t.org_id = m.org_id AND t.team_id = m.team_id
    WHERE l.org_id = p_org AND l.actor_id = p_actor AND m.during @> p_at
    ORDER BY t.slug
$$;

-- The members of a team at a moment.
CREATE OR REPLACE FUNCTION identity.team_members_at(p_org uuid, p_team text, p_at timestamptz)
RETURNS TABLE (person_id uuid, display_name text, primary_email text, role text,
               since timestamptz, until timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT p.person_id, p.display_name, p.primary_email, m.role, lower(m.during),
           upper(m.during)
    FROM auth.teams t
    JOIN auth.team_memberships m ON m.org_id = t.org_id AND m.team_id = t.team_id
    JOIN identity.persons p ON p.org_id = m.org_id AND p.person_id = m.person_id
    WHERE t.org_id = p_org AND t.slug = p_team AND m.during @> p_at
    ORDER BY p.display_name, p.person_id
$$;
