-- API clients: service accounts of an org that are issued tokens with a fixed role and scope.

-- Create an API client with a role and, optionally, a team scope (team slugs).
CREATE OR REPLACE FUNCTION auth.create_api_client(p_org text, p_name text, p_role text,
                                                  p_teams text[] DEFAULT '{}')
RETURNS auth.api_clients LANGUAGE plpgsql AS $$
DECLARE
    v_org_id uuid := auth.org_id(p_org);
    v_client auth.api_clients;
BEGIN
    INSERT INTO auth.api_clients (org_id, name, role, team_ids)
    VALUES (v_org_id, p_name, p_role,
            ARRAY(SELECT auth.team_id(v_org_id, t) FROM unnest(p_teams) AS t))
    RETURNING * INTO v_client;
    RETURN v_client;
END $$;

-- Revoke an API client: no new token is issued for it.
CREATE OR REPLACE FUNCTION auth.revoke_api_client(p_org text, p_name text)
RETURNS auth.api_clients LANGUAGE plpgsql AS $$
DECLARE
    v_client auth.api_clients;
BEGIN
    UPDATE auth.api_clients SET revoked_at = coalesce(revoked_at, now())
    WHERE org_id = auth.org_id(p_org) AND name = p_name
    RETURNING * INTO v_client;
    IF v_client.client_id IS NULL THEN
        RAISE EXCEPTION 'unknown API client % in org %', quote_literal(p_name),
            quote_literal(p_org) USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_client;
END $$;

-- The scope a token for an API client carries; refuses unknown and revoked clients.
CREATE OR REPLACE FUNCTION auth.api_client_scope(p_org text, p_name text)
RETURNS TABLE (org_id uuid, client_id uuid, role text, team_ids uuid[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_client auth.api_clients;
BEGIN
    SELECT * INTO v_client FROM auth.api_clients c
    WHERE c.org_id = auth.org_id(p_org) AND c.name = p_name;
    IF v_client.client_id IS NULL THEN
        RAISE EXCEPTION 'unknown API client % in org %', quote_literal(p_name),
            quote_literal(p_org) USING ERRCODE = 'no_data_found';
    END IF;
    IF v_client.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'API client % was revoked on %', quote_literal(p_name),
            to_char(v_client.revoked_at, 'YYYY-MM-DD') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT v_client.org_id, v_client.client_id, v_client.role, v_client.team_ids;
END $$;
