-- The metrics API: what GraphQL, REST, SQL users and the MCP servers call, so they all
-- return the same numbers. Errors are raised with SQLSTATE 22023 (a parameter is wrong)
-- or P0002 (what it names does not exist) and a message that says what is allowed.

-- Every metric: its unit, which way is better, what it is made of, its definition and
-- version, the compatibility modes and the benchmark report years it can be tiered by.
CREATE OR REPLACE FUNCTION api.list_metrics()
RETURNS TABLE (metric text, unit text, better text, unit_of text, version int,
               definition text, modes text[], benchmark_years int[])
LANGUAGE sql STABLE AS $$
    SELECT d.metric, d.unit, d.better, d.unit_of, d.version, d.definition,
           ARRAY['default', 'devlake', 'fourkeys', 'middleware'],
           ARRAY(SELECT DISTINCT b.report_year FROM metrics.benchmarks b
                 WHERE b.metric = d.metric ORDER BY 1)
    FROM metrics.definitions d
    ORDER BY d.metric
$$;

-- A metric over a window, per period: its value in the metric's unit, how many units it
-- was computed from, and the benchmark tier with the report year the tier comes from.
--   metric       a name from api.list_metrics()
--   scope        {"org": ..., "team": ..., "repo": ..., "service": ..., "environment": ...,
--                 "person": ..., "benchmark": 2023}
--   time_window  30d, 12w, 2026-Q3, 2026-09, 2026-07-01..2026-09-30
--   granularity  window (one row), day, week, month, quarter
--   aggregation  median, p75, p90, mean (durations; counts and rates ignore it)
--   mode         default, devlake, fourkeys, middleware
CREATE OR REPLACE FUNCTION api.get_metric(metric text, scope jsonb,
                                          time_window text DEFAULT '90d',
                                          granularity text DEFAULT 'window',
                                          aggregation text DEFAULT 'median',
                                          mode text DEFAULT 'default')
RETURNS TABLE (metric_name text, period_start timestamptz, period_end timestamptz,
               value float8, unit text, sample_size bigint, tier text, tier_year int,
               aggregated_by text, compatibility_mode text, version int)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_variable
DECLARE
    v_scope   record;
    v_def     metrics.definitions;
    v_range   tstzrange;
    v_year    int;
    v_agg     text := coalesce(aggregation, 'median');
    v_mode    text := coalesce(mode, 'default');
    v_gran    text := coalesce(granularity, 'window');
    v_kind    text;
    v_starts  timestamptz[];
    v_ends    timestamptz[];
    v_aggregate text;
BEGIN
    SELECT * INTO v_def FROM metrics.definitions d WHERE d.metric = get_metric.metric;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no metric % (metrics: %)', metric,
            (SELECT string_agg(d.metric, ', ' ORDER BY d.metric) FROM metrics.definitions d)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_agg NOT IN ('median', 'p75', 'p90', 'mean') THEN
        RAISE EXCEPTION 'no aggregation % (aggregations: median, p75, p90, mean)', v_agg
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_scope := metrics.resolve_scope(scope);
    v_range := metrics.parse_window(coalesce(time_window, '90d'), v_scope.tz);
    v_year := CASE WHEN scope ? 'benchmark' THEN v_scope.benchmark_year
                   WHEN v_mode = 'fourkeys' THEN 2019
                   ELSE v_scope.benchmark_year END;
    v_kind := CASE WHEN v_def.metric IN ('deployment_frequency', 'merged_changes') THEN 'count'
                   WHEN v_def.metric IN ('change_failure_rate', 'deployment_rework_rate') THEN 'rate'
                   WHEN v_def.metric = 'diffs_per_engineer' THEN 'per_engineer'
                   ELSE 'duration' END;
    -- The middleware mode aggregates durations by their mean, as Middleware does.
    IF v_mode = 'middleware' AND v_kind = 'duration' AND v_agg = 'median' THEN
        v_agg := 'mean';
    END IF;

    SELECT array_agg(p.period_start ORDER BY p.period_start),
           array_agg(p.period_end ORDER BY p.period_start)
    INTO v_starts, v_ends
    FROM metrics.periods(v_range, v_gran, v_scope.tz) p;
    -- Only the aggregate asked for is computed.
    v_aggregate := CASE
        WHEN v_kind = 'count' THEN 'NULL::float8'
        WHEN v_kind = 'rate' OR v_agg = 'mean' THEN 'avg(s.value)'
        WHEN v_kind = 'per_engineer' THEN 'count(DISTINCT s.who)::float8'
        ELSE format('%s(%s) WITHIN GROUP (ORDER BY s.value)',
                    CASE WHEN v_mode = 'devlake' THEN 'percentile_disc' ELSE 'percentile_cont' END,
                    CASE v_agg WHEN 'p75' THEN '0.75' WHEN 'p90' THEN '0.9' ELSE '0.5' END)
    END;

    -- One pass over the samples: each goes to its period by binary search over the
    -- periods' starts (whole days, ISO weeks, months or quarters of the org's time zone,
    -- the first clipped to the window).
    RETURN QUERY EXECUTE format($q$
        WITH g AS (
            SELECT width_bucket(s.at, $10) AS k, count(*) AS n, %1$s AS agg,
                   %2$s AS days_per_week
            FROM (%3$s) s
            GROUP BY 1
        ), v AS (
            SELECT p.period_start, p.period_end, coalesce(g.n, 0) AS n, g.days_per_week,
                   CASE %4$L
                       WHEN 'count' THEN coalesce(g.n, 0)::float8
                       WHEN 'rate' THEN CASE WHEN g.n > 0 THEN g.agg
                                             WHEN $9 = 'middleware' THEN 0 END
                       WHEN 'per_engineer' THEN
                           g.n / nullif(g.agg, 0)
                           / (extract(epoch FROM p.period_end - p.period_start) / 604800.0)
                       ELSE g.agg
                   END AS value
            FROM unnest($10, $11) WITH ORDINALITY AS p (period_start, period_end, k)
            LEFT JOIN g ON g.k = p.k
        )
        SELECT %5$L::text, v.period_start, v.period_end, v.value, %6$L::text, v.n, t.tier,
               CASE WHEN t.tier IS NOT NULL THEN %7$s END, %8$L::text, $9, %9$s
        FROM v CROSS JOIN LATERAL (
            SELECT CASE WHEN %5$L <> 'deployment_frequency' THEN
                            metrics.tier_of(%5$L, %7$s, v.value)
                        WHEN %10$L <> 'day' THEN
                            metrics.tier_of(%5$L, %7$s, coalesce(v.days_per_week, 0))
                   END AS tier
        ) t
        ORDER BY v.period_start$q$,
        v_aggregate,
        CASE WHEN v_def.metric = 'deployment_frequency' AND v_gran <> 'day'
             THEN 'metrics.deployment_days_per_week(array_agg(s.at), ($10)[width_bucket(s.at, $10)],'
                  ' ($11)[width_bucket(s.at, $10)], $12)'
             ELSE 'NULL::float8' END,
        metrics.samples_sql(v_def.metric, v_mode, v_scope.team_id IS NOT NULL,
                            v_scope.repo_id IS NOT NULL, v_scope.service IS NOT NULL,
                            v_scope.environment IS NOT NULL, v_scope.person_id IS NOT NULL),
        v_kind, v_def.metric, v_def.unit, v_year,
        CASE WHEN v_kind = 'duration' THEN v_agg
             WHEN v_kind = 'rate' THEN 'ratio'
             WHEN v_kind = 'per_engineer' THEN 'per_engineer_week'
             ELSE 'count' END,
        v_def.version, v_gran)
    USING v_scope.org_id, lower(v_range), upper(v_range), v_scope.team_id, v_scope.repo_id,
          v_scope.service, v_scope.environment, v_scope.person_id, v_mode, v_starts, v_ends,
          v_scope.tz;
END
$$;

-- The units behind a metric over a window: each change, deployment, incident (or, for
-- the fourkeys lead time, commit) with its value, what it was computed from, the rows
-- it is linked to and the rule of each link, and the raw events behind it (lineage).
CREATE OR REPLACE FUNCTION api.explain_metric(metric text, scope jsonb,
                                              time_window text DEFAULT '90d',
                                              mode text DEFAULT 'default')
RETURNS TABLE (at timestamptz, value float8, entity text, entity_id text, detail jsonb,
               links jsonb, event_ids uuid[])
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_variable
DECLARE
    v_scope record;
    v_range tstzrange;
    v_mode  text := coalesce(mode, 'default');
BEGIN
    IF NOT EXISTS (SELECT FROM metrics.definitions d WHERE d.metric = explain_metric.metric) THEN
        RAISE EXCEPTION 'no metric % (see api.list_metrics())', metric
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_scope := metrics.resolve_scope(scope);
    v_range := metrics.parse_window(coalesce(time_window, '90d'), v_scope.tz);
    RETURN QUERY
    SELECT s.at, s.value, s.entity, s.unit_id,
           CASE s.entity
               WHEN 'change' THEN (SELECT to_jsonb(u) - 'org_id' FROM metrics.change_units u
                                   WHERE u.org_id = v_scope.org_id AND u.change_id = s.unit_id)
               WHEN 'deploy' THEN (SELECT to_jsonb(u) - 'org_id' FROM metrics.deploy_units u
                                   WHERE u.org_id = v_scope.org_id AND u.deploy_id = s.unit_id)
               WHEN 'incident' THEN (SELECT to_jsonb(u) - 'org_id' FROM metrics.incident_units u
                                     WHERE u.org_id = v_scope.org_id AND u.incident_id = s.unit_id)
               ELSE (SELECT jsonb_build_object('sha', c.sha, 'repo_id', c.repo_id,
                                               'authored_at', c.authored_at)
                     FROM core.commits c
                     WHERE c.org_id = v_scope.org_id AND c.commit_id = s.unit_id)
           END,
           CASE s.entity
               WHEN 'change' THEN (
                   SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'entity', 'deploy', 'id', u.deploy_id, 'rule', u.deploy_rule)), '[]')
                   FROM metrics.change_units u
                   WHERE u.org_id = v_scope.org_id AND u.change_id = s.unit_id
                     AND u.deploy_id IS NOT NULL)
               WHEN 'deploy' THEN (
                   SELECT coalesce(jsonb_agg(x.j ORDER BY x.j->>'entity', x.j->>'id'), '[]') FROM (
                       SELECT jsonb_build_object('entity', l.cause_kind, 'id', l.cause_id,
                                                 'relation', 'failure', 'rule', l.rule,
                                                 'recovered_at', l.recovered_at) AS j
                       FROM metrics.failure_links l
                       WHERE l.org_id = v_scope.org_id AND l.mode = v_mode
                         AND l.deploy_id = s.unit_id
                       UNION ALL
                       SELECT jsonb_build_object('entity', 'incident', 'id', r.incident_id,
                                                 'relation', 'rework', 'rule', r.rule)
                       FROM metrics.rework_links r
                       WHERE r.org_id = v_scope.org_id AND r.deploy_id = s.unit_id
                       UNION ALL
                       SELECT jsonb_build_object('entity', 'change', 'id', u.change_id,
                                                 'relation', 'shipped', 'rule', u.deploy_rule)
                       FROM metrics.change_units u
                       WHERE u.org_id = v_scope.org_id AND u.deploy_id = s.unit_id) x)
               WHEN 'incident' THEN (
                   SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'entity', 'deploy', 'id', l.deploy_id, 'relation', 'failure',
                              'rule', l.rule) ORDER BY l.deploy_id), '[]')
                   FROM metrics.failure_links l
                   WHERE l.org_id = v_scope.org_id AND l.mode = v_mode
                     AND l.cause_kind = 'incident' AND l.cause_id = s.unit_id)
               ELSE '[]'::jsonb
           END,
           ARRAY(SELECT DISTINCT l.event_id FROM core.lineage l
                 WHERE l.org_id = v_scope.org_id AND l.entity = s.entity
                   AND l.entity_id = s.unit_id ORDER BY 1)
    FROM metrics.samples(metric, v_scope.org_id, lower(v_range), upper(v_range), v_mode,
                         v_scope.team_id, v_scope.repo_id, v_scope.service,
                         v_scope.environment, v_scope.person_id) s
    ORDER BY s.at, s.unit_id;
END
$$;
