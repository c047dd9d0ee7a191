-- The incidents API: what the MCP server quantum-incidents (and later GraphQL and REST)
-- call. Incidents are read through api.incidents and deployments through api.deploys,
-- so a team-scoped caller sees the incidents attributed to its teams' deployments only,
-- and one it may not see does not exist for it. Errors: SQLSTATE 22023 (a parameter is
-- wrong, with what is allowed) or P0002 (what it names does not exist).

-- The severities a severity expression selects: SEV1 is the most severe, so ">=SEV2"
-- (at least as severe as SEV2) is SEV1 and SEV2, "<SEV3" is SEV4 and SEV5, "SEV2" or
-- "=SEV2" is SEV2 alone; NULL or empty selects every severity (NULL returned).
CREATE OR REPLACE FUNCTION api._severities(p_expression text)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    m  text[];
    n  int;
BEGIN
    IF p_expression IS NULL OR btrim(p_expression) = '' THEN
        RETURN NULL;
    END IF;
    m := regexp_match(upper(p_expression), '^\s*(>=|<=|>|<|=)?\s*SEV\s*([1-5])\s*$');
    IF m IS NULL THEN
        RAISE EXCEPTION 'severity % is not a severity expression: use SEV1 to SEV5 (SEV1 is the most severe), optionally after >=, >, <=, < or = (">=SEV2" is SEV1 and SEV2)',
            p_expression USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n := m[2]::int;
    -- "more severe" is a smaller number
    RETURN ARRAY(SELECT 'SEV' || s FROM generate_series(1, 5) s
                 WHERE CASE coalesce(m[1], '=')
                           WHEN '>=' THEN s <= n WHEN '>' THEN s < n
                           WHEN '<=' THEN s >= n WHEN '<' THEN s > n
                           ELSE s = n END
                 ORDER BY s);
END
$$;

-- A moment from text: an ISO date or time, or an age such as 30d, 12h or 8w before now.
CREATE OR REPLACE FUNCTION api._since(p_since text, p_name text DEFAULT 'since')
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    m text[];
BEGIN
    IF p_since IS NULL OR btrim(p_since) = '' THEN
        RETURN NULL;
    END IF;
    m := regexp_match(btrim(p_since), '^([0-9]{1,5})\s*([hdw])$');
    IF m IS NOT NULL THEN
        RETURN now() - (m[1] || CASE m[2] WHEN 'h' THEN ' hours' WHEN 'd' THEN ' days'
                                          ELSE ' weeks' END)::interval;
    END IF;
    BEGIN
        RETURN btrim(p_since)::timestamptz;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
        RAISE EXCEPTION '% % is neither an ISO date or time (2026-07-01, 2026-07-01T12:00:00Z) nor an age (12h, 30d, 8w)',
            p_name, p_since USING ERRCODE = 'invalid_parameter_value';
    END;
END
$$;

-- An opaque page cursor for a position (a time and an id), and back.
CREATE OR REPLACE FUNCTION api._cursor(p_at timestamptz, p_id text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(convert_to(jsonb_build_array(p_at, p_id)::text, 'UTF8'), 'hex')
$$;

CREATE OR REPLACE FUNCTION api._cursor_position(p_cursor text, OUT at timestamptz,
                                                OUT id text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v jsonb;
BEGIN
    IF p_cursor IS NULL OR p_cursor = '' THEN
        RETURN;
    END IF;
    BEGIN
        v := convert_from(decode(p_cursor, 'hex'), 'UTF8')::jsonb;
        at := (v->>0)::timestamptz;
        id := v->>1;
    EXCEPTION WHEN OTHERS THEN
        v := NULL;
    END;
    IF v IS NULL OR jsonb_typeof(v) <> 'array' OR id IS NULL THEN
        RAISE EXCEPTION 'cursor is not one this API gave' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A page of incidents, newest opened first, for the MCP tool search_incidents: severity
-- expression, since (a date, a time or an age: api._since), service, status and a text
-- in the title; `cursor` of a row continues after it. The same rows, in the same order,
-- as api.list_incidents (REST and GraphQL) for the same filters: it is that function.
CREATE OR REPLACE FUNCTION api.search_incidents(p_severity text DEFAULT NULL,
                                                p_since text DEFAULT NULL,
                                                p_service text DEFAULT NULL,
                                                p_status text DEFAULT NULL,
                                                p_text text DEFAULT NULL,
                                                p_after text DEFAULT NULL,
                                                p_limit int DEFAULT 50)
RETURNS TABLE (incident_id text, title text, severity text, status text, service text,
               kind text, provider text, url text, opened_at timestamptz,
               acknowledged_at timestamptz, mitigated_at timestamptz,
               resolved_at timestamptz, cursor text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_after record := api._cursor_position(p_after);
BEGIN
    RETURN QUERY
    SELECT l.incident_id, l.title, l.severity, l.status, l.service, l.kind, l.provider,
           l.url, l.opened_at, l.acknowledged_at, l.mitigated_at, l.resolved_at,
           api._cursor(l.listed_at, l.incident_id)
    FROM api.list_incidents(p_service => p_service, p_severity => p_severity,
                            p_status => p_status, p_since => api._since(p_since),
                            p_after_at => v_after.at, p_after_id => v_after.id,
                            p_limit => p_limit, p_text => p_text) l;
END
$$;

-- Why a failure is attributed to a deployment, in words, from the link's rule.
CREATE OR REPLACE FUNCTION api._attribution_why(p_rule text, p_window interval)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_rule
        WHEN 'explicit' THEN 'the incident names this deployment, a commit it deployed or a change it shipped'
        WHEN 'rollback' THEN 'a rollback of its service started while the incident was open and undid this deployment'
        WHEN 'window' THEN 'the latest deployment of the incident''s service that finished before it opened, within '
                           || coalesce(p_window::text, 'the attribution window')
        WHEN 'latest_prior' THEN 'the latest deployment of the incident''s service before it opened'
        ELSE p_rule END
$$;

-- One incident: its fields, its timeline (opened, acknowledged, mitigated, resolved), how
-- long it took to restore, and the deployments it is attributed to (by the default
-- attribution) with the rule and why.
CREATE OR REPLACE FUNCTION api.get_incident(p_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_inc    api.incidents;
    v_window interval;
BEGIN
    IF p_id IS NULL OR btrim(p_id) = '' THEN
        RAISE EXCEPTION 'an incident id is required (see search_incidents)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_inc FROM api.incidents i WHERE i.incident_id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no incident %', p_id USING ERRCODE = 'no_data_found';
    END IF;
    SELECT s.incident_window INTO v_window FROM metrics.settings s
    WHERE s.org_id = (SELECT auth.caller_org());
    v_window := coalesce(v_window, interval '72 hours');
    RETURN (to_jsonb(v_inc) || jsonb_build_object(
        'timeline', coalesce((
            SELECT jsonb_agg(jsonb_build_object('at', e.at, 'event', e.event) ORDER BY e.at, e.n)
            FROM (VALUES (1, 'opened', v_inc.opened_at),
                         (2, 'acknowledged', v_inc.acknowledged_at),
                         (3, 'mitigated', v_inc.mitigated_at),
                         (4, 'resolved', v_inc.resolved_at)) e (n, event, at)
            WHERE e.at IS NOT NULL), '[]'),
        'restore_hours', (SELECT u.restore_s / 3600.0 FROM metrics.incident_units u
                          WHERE u.org_id = (SELECT auth.caller_org())
                            AND u.incident_id = v_inc.incident_id),
        'attributed_to', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'deploy_id', l.deploy_id, 'rule', l.rule,
                       'why', api._attribution_why(l.rule, v_window),
                       'service', d.service, 'environment', d.environment,
                       'status', d.status, 'commit_sha', d.commit_sha,
                       'finished_at', d.finished_at, 'url', d.url,
                       'recovered_at', l.recovered_at) ORDER BY l.deploy_id)
            FROM metrics.failure_links l
            JOIN api.deploys d ON d.deploy_id = l.deploy_id
            WHERE l.org_id = (SELECT auth.caller_org()) AND l.mode = 'default'
              AND l.cause_kind = 'incident' AND l.cause_id = v_inc.incident_id), '[]')));
END
$$;

-- Time to restore over a window, for the org or a team ({"org": ..., "team": ...}): one
-- row for all incidents (severity 'all'), then one per severity, from the same units as
-- api.get_metric('time_to_restore'), so the medians agree.
CREATE OR REPLACE FUNCTION api.recovery_stats(p_scope jsonb, p_window text DEFAULT '90d')
RETURNS TABLE (severity text, incidents bigint, median_hours float8, p90_hours float8,
               mean_hours float8, max_hours float8)
LANGUAGE sql STABLE AS $$
    WITH units AS (
        SELECT e.value, coalesce(e.detail->>'severity', 'unknown') AS severity
        FROM api.explain_metric('time_to_restore', p_scope, p_window) e
    )
    SELECT CASE WHEN grouping(u.severity) = 1 THEN 'all' ELSE u.severity END, count(u.value),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY u.value),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY u.value), avg(u.value), max(u.value)
    FROM units u
    GROUP BY GROUPING SETS ((), (u.severity))
    ORDER BY grouping(u.severity) = 0, 1
$$;
