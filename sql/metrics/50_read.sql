-- Reading metrics: windows, scopes, the per-unit samples of a metric and their
-- aggregation. The api schema (sql/api/) exposes these to every interface.

-- A window in an org's time zone: `30d`, `12w` (ending now), `2026-Q3`, `2026-09`, or
-- `FROM..TO` with ISO dates (TO included) or ISO timestamps (TO excluded).
CREATE OR REPLACE FUNCTION metrics.parse_window(p_window text, p_tz text,
                                                p_now timestamptz DEFAULT now())
RETURNS tstzrange LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_w    text := btrim(coalesce(p_window, ''));
    m      text[];
    v_from timestamptz;
    v_to   timestamptz;
BEGIN
    IF v_w ~ '^[0-9]{1,4}d$' THEN
        v_from := p_now - make_interval(days => left(v_w, -1)::int);
        v_to := p_now;
    ELSIF v_w ~ '^[0-9]{1,3}w$' THEN
        v_from := p_now - make_interval(weeks => left(v_w, -1)::int);
        v_to := p_now;
    ELSIF v_w ~ '^[0-9]{4}-Q[1-4]$' THEN
        m := regexp_match(v_w, '^([0-9]{4})-Q([1-4])$');
        v_from := make_timestamp(m[1]::int, (m[2]::int - 1) * 3 + 1, 1, 0, 0, 0) AT TIME ZONE p_tz;
        v_to := (make_timestamp(m[1]::int, (m[2]::int - 1) * 3 + 1, 1, 0, 0, 0)
                 + interval '3 months') AT TIME ZONE p_tz;
    ELSIF v_w ~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        m := regexp_match(v_w, '^([0-9]{4})-([0-9]{2})$');
        v_from := make_timestamp(m[1]::int, m[2]::int, 1, 0, 0, 0) AT TIME ZONE p_tz;
        v_to := (make_timestamp(m[1]::int, m[2]::int, 1, 0, 0, 0) + interval '1 month')
                AT TIME ZONE p_tz;
    ELSIF v_w ~ '^[^.]+\.\.[^.]+$' THEN
        m := regexp_match(v_w, '^([^.]+)\.\.([^.]+)$');
        BEGIN
            IF m[1] ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
                v_from := m[1]::date::timestamp AT TIME ZONE p_tz;
            ELSE
                v_from := m[1]::timestamptz;
            END IF;
            IF m[2] ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
                v_to := (m[2]::date + 1)::timestamp AT TIME ZONE p_tz;
            ELSE
                v_to := m[2]::timestamptz;
            END IF;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format
                       OR invalid_text_representation THEN
            RAISE EXCEPTION 'window %: FROM and TO must be ISO dates (2026-07-01) or timestamps',
                p_window USING ERRCODE = 'invalid_parameter_value';
        END;
    ELSE
        RAISE EXCEPTION 'window % is not understood: use 30d, 12w, 2026-Q3, 2026-09 or FROM..TO with ISO dates',
            coalesce(p_window, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_to <= v_from THEN
        RAISE EXCEPTION 'window % ends before it starts', p_window
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN tstzrange(v_from, v_to, '[)');
END
$$;

-- A scope: {"org": slug or id (required), "team": slug, "repo": id or full name,
-- "service": name, "environment": name, "person": id, "benchmark": report year}.
CREATE OR REPLACE FUNCTION metrics.resolve_scope(p_scope jsonb,
    OUT org_id uuid, OUT tz text, OUT team_id uuid, OUT repo_id text, OUT service text,
    OUT environment text, OUT person_id uuid, OUT benchmark_year int)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_unknown text;
BEGIN
    IF p_scope IS NULL OR jsonb_typeof(p_scope) <> 'object' THEN
        RAISE EXCEPTION 'scope must be a JSON object such as {"org": "acme", "team": "platform"}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO v_unknown FROM jsonb_object_keys(p_scope) k
    WHERE k NOT IN ('org', 'team', 'repo', 'service', 'environment', 'person', 'benchmark');
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'scope has unknown keys (%): allowed are org, team, repo, service, environment, person, benchmark',
            v_unknown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_scope->>'org' IS NULL THEN
        RAISE EXCEPTION 'scope names no org' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT o.org_id, o.timezone INTO org_id, tz FROM auth.orgs o
    WHERE o.slug = p_scope->>'org' OR o.org_id::text = p_scope->>'org';
    IF org_id IS NULL THEN
        RAISE EXCEPTION 'no org %', p_scope->>'org' USING ERRCODE = 'no_data_found';
    END IF;
    IF p_scope ? 'team' THEN
        SELECT t.team_id INTO team_id FROM auth.teams t
        WHERE t.org_id = resolve_scope.org_id
          AND (t.slug = p_scope->>'team' OR t.team_id::text = p_scope->>'team'
               OR lower(t.name) = lower(p_scope->>'team'));
        IF team_id IS NULL THEN
            RAISE EXCEPTION 'no team % in org %', p_scope->>'team', p_scope->>'org'
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    IF p_scope ? 'repo' THEN
        SELECT r.repo_id INTO repo_id FROM core.repos r
        WHERE r.org_id = resolve_scope.org_id
          AND (r.repo_id = p_scope->>'repo' OR lower(r.full_name) = lower(p_scope->>'repo'))
        ORDER BY (r.repo_id = p_scope->>'repo') DESC LIMIT 1;
        IF repo_id IS NULL THEN
            RAISE EXCEPTION 'no repository % in org %', p_scope->>'repo', p_scope->>'org'
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    service := p_scope->>'service';
    environment := p_scope->>'environment';
    IF p_scope ? 'person' THEN
        BEGIN
            person_id := (p_scope->>'person')::uuid;
        EXCEPTION WHEN invalid_text_representation THEN
            RAISE EXCEPTION 'scope person must be a person id (uuid), not %', p_scope->>'person'
                USING ERRCODE = 'invalid_parameter_value';
        END;
    END IF;
    IF p_scope ? 'benchmark' THEN
        benchmark_year := (p_scope->>'benchmark')::int;
        IF NOT EXISTS (SELECT FROM metrics.benchmarks b WHERE b.report_year = benchmark_year) THEN
            RAISE EXCEPTION 'no benchmark set for report year % (there are: %)', benchmark_year,
                (SELECT string_agg(DISTINCT b.report_year::text, ', ') FROM metrics.benchmarks b)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSE
        SELECT coalesce((SELECT s.benchmark_year FROM metrics.settings s
                         WHERE s.org_id = resolve_scope.org_id), 2024)
        INTO benchmark_year;
    END IF;
END
$$;

-- The query of the per-unit values of a metric in a range: one row per change,
-- deployment or incident (for the fourkeys lead time, per deployment and commit), with
-- the time it counts at, its value in the metric's unit, and who it is by (for diffs per
-- engineer). Its parameters: $1 org, $2 from, $3 to, $4 team, $5 repo, $6 service,
-- $7 environment, $8 person, $9 mode; the flags say which dimensions are given.
CREATE OR REPLACE FUNCTION metrics.samples_sql(
    p_metric text, p_mode text, p_team boolean DEFAULT false, p_repo boolean DEFAULT false,
    p_service boolean DEFAULT false, p_environment boolean DEFAULT false,
    p_person boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_of    text;
    v_axis  text;
    v_value text;
    v_from  text;
    v_where text := '';
    v_who   text;
    v_min   text;
BEGIN
    SELECT d.unit_of INTO v_of FROM metrics.definitions d WHERE d.metric = p_metric;
    IF v_of IS NULL THEN
        RAISE EXCEPTION 'no metric % (see api.list_metrics())', p_metric
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_mode NOT IN ('default', 'devlake', 'fourkeys', 'middleware') THEN
        RAISE EXCEPTION 'no mode % (modes: default, devlake, fourkeys, middleware)', p_mode
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_person AND v_of <> 'change' THEN
        RAISE EXCEPTION 'a person scope applies to change metrics only, not to %', p_metric
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- minutes from seconds; devlake rounds each value up to whole minutes
    v_min := CASE WHEN p_mode = 'devlake' THEN 'ceil((%s) / 60.0)' ELSE '(%s) / 60.0' END;

    IF p_metric = 'change_lead_time' AND p_mode = 'fourkeys' THEN
        -- Four Keys: every commit of a change a deployment shipped, deployment finish minus
        -- commit time, values of zero or less ignored.
        v_where := concat_ws(' AND ', 'd.org_id = $1', 'd.finished_at >= $2',
                             'd.finished_at < $3',
                             CASE WHEN p_repo THEN 'd.repo_id = $5' END,
                             CASE WHEN p_service THEN 'd.service = $6' END,
                             CASE WHEN p_environment THEN 'd.environment = $7' END,
                             CASE WHEN p_person THEN 'u.person_id = $8' END,
                             CASE WHEN p_team THEN
                                 'EXISTS (SELECT FROM metrics.deploy_teams t WHERE t.org_id = d.org_id'
                                 ' AND t.team_id = $4 AND t.deploy_id = d.deploy_id)' END);
        RETURN format($q$
            SELECT d.finished_at AS at,
                   extract(epoch FROM d.finished_at - cm.authored_at)::float8 / 3600 AS value,
                   'commit'::text AS entity, cm.commit_id AS unit_id,
                   coalesce(u.person_id::text, u.author_id) AS who
            FROM metrics.deploy_units d
            JOIN metrics.change_units u ON u.org_id = d.org_id AND u.deploy_id = d.deploy_id
            JOIN core.changes c ON c.org_id = u.org_id AND c.change_id = u.change_id
            JOIN core.commits cm ON cm.org_id = c.org_id AND cm.repo_id = c.repo_id
             AND c.head_branch = ANY (cm.branches) AND cm.authored_at <= c.merged_at
            WHERE %s AND d.finished_at > cm.authored_at$q$, v_where);
    END IF;

    IF v_of = 'change' THEN
        v_axis := CASE WHEN p_metric = 'change_lead_time' AND p_mode <> 'middleware'
                       THEN 'deployed_at' ELSE 'merged_at' END;
        v_value := CASE p_metric
            WHEN 'change_lead_time' THEN CASE p_mode
                WHEN 'devlake' THEN 'ceil(u.lead_time_s / 60.0) / 60.0'
                -- Middleware: the sum of the phases of a deployed change, a missing phase
                -- counting 0 (its lead time is the sum of the phase means).
                WHEN 'middleware' THEN
                    'CASE WHEN u.deploy_s IS NOT NULL THEN (coalesce(metrics.span(u.first_commit_at,'
                    ' coalesce(u.ready_at, u.opened_at)), 0) + coalesce(u.pickup_s, 0)'
                    ' + coalesce(u.rework_s, 0) + coalesce(u.merge_s, 0) + floor(u.deploy_s)) / 3600.0 END'
                ELSE 'u.lead_time_s / 3600.0' END
            WHEN 'pr_cycle_time' THEN CASE p_mode
                -- DevLake: coding from first commit to opened, pickup to the first
                -- comment, review to merged, deploy; each in whole minutes rounded up.
                WHEN 'devlake' THEN
                    'CASE WHEN num_nonnulls(metrics.span(u.first_commit_at, u.opened_at),'
                    ' metrics.span(u.opened_at, u.first_comment_at),'
                    ' metrics.span(u.first_comment_at, u.merged_at), u.deploy_s) > 0 THEN'
                    ' coalesce(ceil(metrics.span(u.first_commit_at, u.opened_at) / 60.0), 0)'
                    ' + coalesce(ceil(metrics.span(u.opened_at, u.first_comment_at) / 60.0), 0)'
                    ' + coalesce(ceil(metrics.span(u.first_comment_at, u.merged_at) / 60.0), 0)'
                    ' + coalesce(ceil(u.deploy_s / 60.0), 0) END'
                WHEN 'middleware' THEN
                    'metrics.span(coalesce(u.ready_at, u.opened_at), u.merged_at) / 60.0'
                ELSE format(v_min, 'u.cycle_s') END
            WHEN 'pr_coding_time' THEN CASE p_mode
                WHEN 'devlake' THEN format(v_min, 'metrics.span(u.first_commit_at, u.opened_at)')
                WHEN 'middleware' THEN
                    'coalesce(metrics.span(u.first_commit_at, coalesce(u.ready_at, u.opened_at)), 0) / 60.0'
                ELSE format(v_min, 'u.coding_s') END
            WHEN 'pr_pickup_time' THEN CASE p_mode
                WHEN 'devlake' THEN format(v_min, 'metrics.span(u.opened_at, u.first_comment_at)')
                WHEN 'middleware' THEN 'coalesce(u.pickup_s, 0) / 60.0'
                ELSE format(v_min, 'u.pickup_s') END
            WHEN 'pr_review_time' THEN CASE p_mode
                WHEN 'devlake' THEN format(v_min, 'metrics.span(u.first_comment_at, u.merged_at)')
                WHEN 'middleware' THEN '(coalesce(u.rework_s, 0) + coalesce(u.merge_s, 0)) / 60.0'
                ELSE format(v_min, 'u.review_s') END
            WHEN 'pr_deploy_time' THEN CASE p_mode
                WHEN 'middleware' THEN 'floor(u.deploy_s) / 60.0'
                ELSE format(v_min, 'u.deploy_s') END
            ELSE '1::float8' END;
        v_where := concat_ws(' AND ',
            CASE WHEN p_team
                 THEN format('t.org_id = $1 AND t.team_id = $4 AND t.%1$I >= $2 AND t.%1$I < $3', v_axis)
                 ELSE format('u.org_id = $1 AND u.%1$I >= $2 AND u.%1$I < $3', v_axis) END,
            CASE WHEN p_metric <> 'change_lead_time' THEN 'NOT u.is_bot' END,
            CASE WHEN p_repo THEN 'u.repo_id = $5' END,
            CASE WHEN p_service THEN 'u.service = $6' END,
            CASE WHEN p_environment THEN 'u.environment = $7' END,
            CASE WHEN p_person THEN 'u.person_id = $8' END);
        v_who := 'coalesce(u.person_id::text, u.author_id)';
        IF NOT p_team THEN
            v_from := 'metrics.change_units u';
        ELSIF p_mode IN ('default', 'fourkeys')
              AND NOT (p_repo OR p_service OR p_environment OR p_person) THEN
            -- A team's rows carry the default values: no lookup of each change.
            v_from := 'metrics.change_teams t CROSS JOIN LATERAL (SELECT t.*) u';
            v_who := 'u.who';
        ELSE
            v_from := 'metrics.change_teams t CROSS JOIN LATERAL (SELECT * FROM'
                      ' metrics.change_units u WHERE u.org_id = t.org_id'
                      ' AND u.change_id = t.change_id OFFSET 0) u';
        END IF;
        RETURN format(
            'SELECT s.at, s.value, ''change''::text AS entity, s.change_id AS unit_id, s.who FROM ('
            'SELECT u.%I AS at, (%s)::float8 AS value, u.change_id,'
            ' %s AS who FROM %s WHERE %s) s'
            ' WHERE s.value IS NOT NULL', v_axis, v_value, v_who, v_from, v_where);

    ELSIF v_of = 'deploy' THEN
        v_value := CASE p_metric
            WHEN 'change_failure_rate' THEN
                '(EXISTS (SELECT FROM metrics.failure_links l WHERE l.org_id = d.org_id'
                ' AND l.mode = $9 AND l.deploy_id = d.deploy_id))::int::float8'
            WHEN 'deployment_rework_rate' THEN
                '(EXISTS (SELECT FROM metrics.rework_links l WHERE l.org_id = d.org_id'
                ' AND l.deploy_id = d.deploy_id))::int::float8'
            WHEN 'failed_deployment_recovery_time' THEN
                '(SELECT CASE WHEN bool_and(l.recovered_at IS NOT NULL)'
                ' THEN metrics.span(d.finished_at, max(l.recovered_at)) / 3600.0 END'
                ' FROM metrics.failure_links l WHERE l.org_id = d.org_id AND l.mode = $9'
                ' AND l.deploy_id = d.deploy_id HAVING count(*) > 0)'
            ELSE '1::float8' END;
        v_where := concat_ws(' AND ',
            CASE WHEN p_team
                 THEN 't.org_id = $1 AND t.team_id = $4 AND t.finished_at >= $2 AND t.finished_at < $3'
                 ELSE 'd.org_id = $1 AND d.finished_at >= $2 AND d.finished_at < $3' END,
            CASE WHEN p_repo THEN 'd.repo_id = $5' END,
            CASE WHEN p_service THEN 'd.service = $6' END,
            CASE WHEN p_environment THEN 'd.environment = $7' END);
        v_from := CASE
            WHEN p_team AND NOT (p_repo OR p_service OR p_environment) THEN
                -- (a team's rows carry what the values need: no lookup of each deployment)
                'metrics.deploy_teams t CROSS JOIN LATERAL'
                ' (SELECT t.org_id, t.deploy_id, t.finished_at) d'
            WHEN p_team THEN
                'metrics.deploy_teams t JOIN metrics.deploy_units d'
                ' ON d.org_id = t.org_id AND d.deploy_id = t.deploy_id'
            ELSE 'metrics.deploy_units d' END;
        RETURN format(
            'SELECT s.at, s.value, ''deploy''::text AS entity, s.deploy_id AS unit_id,'
            ' NULL::text AS who FROM ('
            'SELECT d.finished_at AS at, (%s) AS value, d.deploy_id FROM %s WHERE %s) s'
            ' WHERE s.value IS NOT NULL', v_value, v_from, v_where);

    ELSE
        -- Incidents count where they opened (Middleware: where they were resolved). A
        -- team, repository or environment scope reaches them through the deployment they
        -- are attributed to in the mode.
        v_axis := CASE WHEN p_mode = 'middleware' THEN 'resolved_at' ELSE 'opened_at' END;
        v_value := CASE WHEN p_mode = 'fourkeys' THEN 'floor(i.restore_s / 3600.0)'
                        ELSE 'i.restore_s / 3600.0' END;
        v_where := concat_ws(' AND ',
            format('i.org_id = $1 AND i.%1$I >= $2 AND i.%1$I < $3', v_axis),
            CASE WHEN p_service THEN 'i.service = $6' END,
            CASE WHEN (p_team OR p_repo OR p_environment) THEN
                concat('EXISTS (SELECT FROM metrics.failure_links l JOIN metrics.deploy_units d'
                       ' ON d.org_id = l.org_id AND d.deploy_id = l.deploy_id',
                       ' WHERE l.org_id = i.org_id AND l.mode = $9 AND l.cause_kind = ''incident'''
                       ' AND l.cause_id = i.incident_id',
                       CASE WHEN p_repo THEN ' AND d.repo_id = $5' END,
                       CASE WHEN p_environment THEN ' AND d.environment = $7' END,
                       CASE WHEN p_team THEN
                           ' AND EXISTS (SELECT FROM metrics.deploy_teams t WHERE t.org_id = d.org_id'
                           ' AND t.team_id = $4 AND t.deploy_id = d.deploy_id)' END,
                       ')') END);
        RETURN format(
            'SELECT i.%I AS at, (%s)::float8 AS value, ''incident''::text AS entity,'
            ' i.incident_id AS unit_id, NULL::text AS who'
            ' FROM metrics.incident_units i WHERE %s AND i.restore_s IS NOT NULL',
            v_axis, v_value, v_where);
    END IF;
END
$$;

-- The per-unit values of a metric in a range (the rows of metrics.samples_sql).
CREATE OR REPLACE FUNCTION metrics.samples(
    p_metric text, p_org uuid, p_from timestamptz, p_to timestamptz, p_mode text,
    p_team uuid DEFAULT NULL, p_repo text DEFAULT NULL, p_service text DEFAULT NULL,
    p_environment text DEFAULT NULL, p_person uuid DEFAULT NULL)
RETURNS TABLE (at timestamptz, value float8, entity text, unit_id text, who text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE metrics.samples_sql(p_metric, p_mode, p_team IS NOT NULL,
        p_repo IS NOT NULL, p_service IS NOT NULL, p_environment IS NOT NULL,
        p_person IS NOT NULL)
    USING p_org, p_from, p_to, p_team, p_repo, p_service, p_environment, p_person, p_mode;
END
$$;

-- The periods of a window: day, week (ISO, from Monday), month, quarter in the org's time
-- zone, clipped to the window; or the whole window.
CREATE OR REPLACE FUNCTION metrics.periods(p_range tstzrange, p_granularity text, p_tz text)
RETURNS TABLE (period_start timestamptz, period_end timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_step interval;
BEGIN
    IF p_granularity = 'window' THEN
        RETURN QUERY SELECT lower(p_range), upper(p_range);
        RETURN;
    END IF;
    v_step := CASE p_granularity WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '1 week'
                                 WHEN 'month' THEN interval '1 month'
                                 WHEN 'quarter' THEN interval '3 months' END;
    IF v_step IS NULL THEN
        RAISE EXCEPTION 'no granularity % (granularities: day, week, month, quarter, window)',
            p_granularity USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT greatest(s AT TIME ZONE p_tz, lower(p_range)),
           least((s + v_step) AT TIME ZONE p_tz, upper(p_range))
    FROM generate_series(date_trunc(p_granularity, lower(p_range) AT TIME ZONE p_tz),
                         (upper(p_range) - interval '1 microsecond') AT TIME ZONE p_tz,
                         v_step) AS s;
END
$$;

-- Deployment days per week: the median over the ISO weeks that overlap a period of the
-- number of days (in the org's time zone) with at least one deployment.
CREATE OR REPLACE FUNCTION metrics.deployment_days_per_week(p_times timestamptz[],
    p_start timestamptz, p_end timestamptz, p_tz text)
RETURNS float8 LANGUAGE sql STABLE AS $$
    WITH days AS (
        SELECT DISTINCT (t AT TIME ZONE p_tz)::date AS day FROM unnest(p_times) AS t
    ), weeks AS (
        SELECT date_trunc('week', day::timestamp) AS week, count(*)::float8 AS days
        FROM days GROUP BY 1
    )
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(k.days, 0))
    FROM generate_series(date_trunc('week', p_start AT TIME ZONE p_tz),
                         (p_end - interval '1 microsecond') AT TIME ZONE p_tz,
                         interval '1 week') AS w
    LEFT JOIN weeks k ON k.week = w
$$;
