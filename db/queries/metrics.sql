-- metrics_refresh --
-- Recompute the units of one org that its pending marks reach; returns what it did.
SELECT metrics.refresh(%(org_id)s) AS result

-- metrics_rebuild --
-- Recompute every unit of one org (from a time on, or all of them).
SELECT metrics.rebuild(%(org_id)s, %(since)s) AS result

-- metrics_pending_orgs --
-- The orgs whose metrics are behind, and why.
SELECT DISTINCT ON (org_id) org_id, reason FROM metrics.pending_orgs() ORDER BY org_id, reason

-- metrics_org_id --
-- The id of an org by its slug (NotFound when there is none).
SELECT auth.org_id(%(slug)s)

-- metrics_list --
-- Every metric with its unit, definition, version, modes and benchmark years.
SELECT * FROM api.list_metrics()

-- metrics_get --
-- A metric over a window, per period (api.get_metric).
SELECT * FROM api.get_metric(%(metric)s, %(scope)s, %(window)s, %(granularity)s,
                             %(aggregation)s, %(mode)s)

-- metrics_explain --
-- The units behind a metric over a window (api.explain_metric).
SELECT * FROM api.explain_metric(%(metric)s, %(scope)s, %(window)s, %(mode)s)

-- metrics_status --
-- Per org (or one): stored units, pending marks, when last refreshed and rebuilt.
SELECT o.slug,
       (SELECT count(*) FROM metrics.change_units u WHERE u.org_id = o.org_id) AS changes,
       (SELECT count(*) FROM metrics.deploy_units u WHERE u.org_id = o.org_id) AS deploys,
       (SELECT count(*) FROM metrics.incident_units u WHERE u.org_id = o.org_id) AS incidents,
       (SELECT count(*) FROM metrics.dirty d WHERE d.org_id = o.org_id) AS marks,
       s.refreshed_at, s.rebuilt_at,
       coalesce(s.version = metrics.engine_version(), false) AS current
FROM auth.orgs o
LEFT JOIN metrics.state s ON s.org_id = o.org_id
WHERE %(org)s::text IS NULL OR o.slug = %(org)s
ORDER BY o.slug

-- rest_caller_team --
-- The caller's teams (and below) that a team name, slug or id names; all of them when NULL.
SELECT t.slug FROM auth.teams t
WHERE t.team_id = ANY (auth.caller_teams())
  AND (%(team)s::text IS NULL OR t.slug = %(team)s OR t.team_id::text = %(team)s
       OR lower(t.name) = lower(%(team)s))

-- rest_explain_page --
-- A page of the units behind a metric, after a position (at, entity id).
SELECT * FROM api.explain_metric(%(metric)s, %(scope)s, %(window)s, %(mode)s) e
WHERE %(after_at)s::timestamptz IS NULL OR (e.at, e.entity_id) > (%(after_at)s, %(after_id)s)
ORDER BY e.at, e.entity_id
LIMIT %(limit)s

-- graphql_teams --
-- The teams the caller may read (api.teams: a team token's subtree).
SELECT team_id, slug, name, parent_id FROM api.teams ORDER BY slug
