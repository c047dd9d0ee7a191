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

    RETURN QUERY
    WITH smp AS MATERIALIZED (
        SELECT s.at, s.value, s.who
        FROM metrics.samples(v_def.metric, v_scope.org_id, lower(v_range), upper(v_range),
                             v_mode, v_scope.team_id, v_scope.repo_id, v_scope.service,
                             v_scope.environment, v_scope.person_id) s
    ), agg AS (
        SELECT p.period_start, p.period_end, a.n, a.times,
               CASE v_kind
                   WHEN 'count' THEN a.n::float8
                   WHEN 'rate' THEN CASE WHEN a.n > 0 THEN a.mean
                                         WHEN v_mode = 'middleware' THEN 0 END
                   WHEN 'per_engineer' THEN
                       a.n / nullif(a.who, 0)::float8
                       / (extract(epoch FROM p.period_end - p.period_start) / 604800.0)
                   ELSE CASE v_agg
                       WHEN 'mean' THEN a.mean
                       WHEN 'median' THEN CASE WHEN v_mode = 'devlake' THEN a.disc[1] ELSE a.cont[1] END
                       WHEN 'p75' THEN CASE WHEN v_mode = 'devlake' THEN a.disc[2] ELSE a.cont[2] END
                       ELSE CASE WHEN v_mode = 'devlake' THEN a.disc[3] ELSE a.cont[3] END
                   END
               END AS value
        FROM metrics.periods(v_range, v_gran, v_scope.tz) p
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, avg(s.value) AS mean, count(DISTINCT s.who) AS who,
                   percentile_cont(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY s.value) AS cont,
                   percentile_disc(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY s.value) AS disc,
                   CASE WHEN v_def.metric = 'deployment_frequency'
                        THEN array_agg(s.at) END AS times
            FROM smp s WHERE s.at >= p.period_start AND s.at < p.period_end
        ) a
    ), tiered AS (
        SELECT agg.*,
               CASE WHEN v_def.metric = 'deployment_frequency' THEN
                        CASE WHEN v_gran <> 'day' THEN
                            metrics.tier_of(v_def.metric, v_year,
                                metrics.deployment_days_per_week(coalesce(agg.times, '{}'),
                                    agg.period_start, agg.period_end, v_scope.tz))
                        END
                    ELSE metrics.tier_of(v_def.metric, v_year, agg.value)
               END AS tier
        FROM agg
    )
    SELECT v_def.metric, t.period_start, t.period_end, t.value, v_def.unit, t.n, t.tier,
           CASE WHEN t.tier IS NOT NULL THEN v_year END,
           CASE WHEN v_kind = 'duration' THEN v_agg
                WHEN v_kind = 'rate' THEN 'ratio'
                WHEN v_kind = 'per_engineer' THEN 'per_engineer_week'
                ELSE 'count' END,
           v_mode, v_def.version
    FROM tiered t
    ORDER BY t.period_start;
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
