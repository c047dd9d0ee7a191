-- The stored units of the metrics engine, recomputed from the canonical model for given
-- ids: each put_* function deletes the units of its ids and inserts what core says of
-- them now, so calling it twice changes nothing and calling it for an id that no longer
-- qualifies (a deploy that turned out to fail) removes its unit.

-- Seconds from a to b; NULL when either is unknown or b comes before a.
CREATE OR REPLACE FUNCTION metrics.span(a timestamptz, b timestamptz) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN b >= a THEN extract(epoch FROM b - a)::float8 END
$$;

-- Each team of an org with itself and every ancestor: a change counts once for each.
CREATE OR REPLACE FUNCTION metrics.team_ancestors(p_org uuid)
RETURNS TABLE (team_id uuid, ancestor_id uuid) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up (team_id, ancestor_id, parent_id, depth) AS (
        SELECT t.team_id, t.team_id, t.parent_id, 0 FROM auth.teams t WHERE t.org_id = p_org
        UNION ALL
        SELECT up.team_id, p.team_id, p.parent_id, up.depth + 1
        FROM up JOIN auth.teams p ON p.org_id = p_org AND p.team_id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT DISTINCT up.team_id, up.ancestor_id FROM up
$$;

-- Successful production deployments. shipped_until is the merge time of the change whose
-- merge commit the deploy ships (else its start), never after the deploy finished: it
-- ships the changes merged up to then, as core.deploy_changes says. A start recorded
-- after the finish (clock skew, a status event out of order) is taken as the finish.
CREATE OR REPLACE FUNCTION metrics.put_deploys(p_org uuid, p_ids text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM metrics.deploy_units u
    WHERE u.org_id = p_org AND u.deploy_id = ANY (p_ids);

    DELETE FROM metrics.deploy_commits u
    WHERE u.org_id = p_org AND u.deploy_id = ANY (p_ids);

    INSERT INTO metrics.deploy_units (org_id, deploy_id, service, repo_id, environment,
                                      started_at, finished_at, shipped_until, commit_sha,
                                      commit_shas, is_rollback, is_hotfix)
    SELECT d.org_id, d.deploy_id, d.service, d.repo_id, d.environment,
           least(d.started_at, d.finished_at), d.finished_at,
           CASE WHEN d.repo_id IS NOT NULL AND d.kind <> 'release' THEN
               least(coalesce((SELECT max(c.merged_at) FROM core.changes c
                               WHERE c.org_id = d.org_id AND c.merge_commit_sha = d.commit_sha
                                 AND c.repo_id = d.repo_id),
                              d.started_at, d.finished_at),
                     d.finished_at)
           END,
           d.commit_sha,
           ARRAY(SELECT DISTINCT x FROM unnest(d.commit_sha || d.commit_shas) AS x
                 WHERE x IS NOT NULL ORDER BY x),
           d.is_rollback, d.is_hotfix
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN core.deploys d ON d.org_id = p_org AND d.deploy_id = i.id
    WHERE d.status = 'success' AND d.environment_class = 'production'
      AND d.finished_at IS NOT NULL;

    INSERT INTO metrics.deploy_commits (org_id, sha, finished_at, deploy_id)
    SELECT DISTINCT u.org_id, sha, u.finished_at, u.deploy_id
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN metrics.deploy_units u ON u.org_id = p_org AND u.deploy_id = i.id
    CROSS JOIN unnest(u.commit_shas) AS sha;
$$;

-- Merged changes, with their phases and the first production deployment that shipped
-- them: the earliest-finishing of the deployments of their repository whose
-- shipped_until is at or after their merge (a change merged into a branch other than the
-- default branch ships with none of these) and the deployments that name their merge
-- commit, whatever their repository (a deploy of several repositories' artifacts, a
-- GitOps sync of a revision). Deploy units must be current first.
CREATE OR REPLACE FUNCTION metrics.put_changes(p_org uuid, p_ids text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM metrics.change_units u
    WHERE u.org_id = p_org AND u.change_id = ANY (p_ids);

    DELETE FROM metrics.change_teams t
    WHERE t.org_id = p_org AND t.change_id = ANY (p_ids);

    WITH inserted AS (
    INSERT INTO metrics.change_units (
        org_id, change_id, repo_id, author_id, person_id, is_bot, was_draft,
        first_commit_at, opened_at, ready_at, first_response_at, first_comment_at,
        first_review_at, approved_at, merged_at, deploy_id, deploy_rule, deployed_at,
        service, environment, coding_s, pickup_s, review_s, rework_s, merge_s, deploy_s,
        cycle_s, lead_time_s)
    SELECT c.org_id, c.change_id, c.repo_id, c.author_id, ap.person_id,
           coalesce(ap.is_bot, a.is_bot, false),
           c.ready_at IS NULL OR c.ready_at > c.opened_at,
           c.first_commit_at, c.opened_at, c.ready_at, c.first_response_at,
           fc.first_comment_at, c.first_review_at, c.approved_at, c.merged_at,
           dep.deploy_id,
           CASE WHEN dep.deploy_id IS NULL THEN NULL
                WHEN c.merge_commit_sha = ANY (dep.commit_shas) THEN 'commit'
                ELSE 'merge_order' END,
           dep.finished_at, dep.service, dep.environment,
           p.coding_s, p.pickup_s, p.review_s,
           metrics.span(c.first_review_at, c.approved_at),
           metrics.span(c.approved_at, c.merged_at),
           p.deploy_s,
           CASE WHEN num_nonnulls(p.coding_s, p.pickup_s, p.review_s, p.deploy_s) > 0 THEN
               coalesce(p.coding_s, 0) + coalesce(p.pickup_s, 0) + coalesce(p.review_s, 0)
               + coalesce(p.deploy_s, 0)
           END,
           metrics.span(c.first_commit_at, dep.finished_at)
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN core.changes c ON c.org_id = p_org AND c.change_id = i.id
    LEFT JOIN identity.account_persons ap ON ap.org_id = c.org_id AND ap.actor_id = c.author_id
    LEFT JOIN core.actors a ON a.org_id = c.org_id AND a.actor_id = c.author_id
    LEFT JOIN core.repos r ON r.org_id = c.org_id AND r.repo_id = c.repo_id
    LEFT JOIN LATERAL (
        SELECT min(rv.submitted_at) AS first_comment_at
        FROM core.reviews rv
        WHERE rv.org_id = c.org_id AND rv.change_id = c.change_id
          AND (rv.kind = 'comment' OR rv.state = 'commented')
          AND rv.reviewer_id IS DISTINCT FROM c.author_id
          AND NOT EXISTS (SELECT FROM core.actors ra
                          WHERE ra.org_id = rv.org_id AND ra.actor_id = rv.reviewer_id
                            AND ra.is_bot)
    ) fc ON true
    LEFT JOIN LATERAL (
        SELECT x.* FROM (
            SELECT du.deploy_id, du.commit_sha, du.commit_shas, du.finished_at, du.service,
                   du.environment
            FROM metrics.deploy_units du
            WHERE du.org_id = c.org_id AND du.repo_id = c.repo_id
              AND du.finished_at >= c.merged_at AND du.shipped_until >= c.merged_at
              AND (r.default_branch IS NULL OR c.base_branch IS NULL
                   OR c.base_branch = r.default_branch)
            ORDER BY du.finished_at, du.deploy_id
            LIMIT 1
        ) x
        UNION ALL
        SELECT du.deploy_id, du.commit_sha, du.commit_shas, du.finished_at, du.service,
               du.environment
        FROM (
            SELECT dc.deploy_id FROM metrics.deploy_commits dc
            WHERE dc.org_id = c.org_id AND dc.sha = c.merge_commit_sha
              AND dc.finished_at >= c.merged_at
            ORDER BY dc.finished_at, dc.deploy_id
            LIMIT 1
        ) y
        JOIN metrics.deploy_units du ON du.org_id = c.org_id AND du.deploy_id = y.deploy_id
        ORDER BY 4, 1
        LIMIT 1
    ) dep ON true
    CROSS JOIN LATERAL (
        SELECT metrics.span(c.first_commit_at, coalesce(c.ready_at, c.opened_at)) AS coding_s,
               metrics.span(coalesce(c.ready_at, c.opened_at), c.first_response_at) AS pickup_s,
               metrics.span(c.first_response_at, c.merged_at) AS review_s,
               metrics.span(c.merged_at, dep.finished_at) AS deploy_s
    ) p
    WHERE c.state = 'merged' AND c.merged_at IS NOT NULL
    RETURNING org_id, change_id, person_id, author_id, is_bot, merged_at, deployed_at,
              coding_s, pickup_s, review_s, deploy_s, cycle_s, lead_time_s
    )
    -- (from the rows just inserted: the table's statistics do not know them yet)
    INSERT INTO metrics.change_teams (org_id, team_id, merged_at, change_id, deployed_at,
                                      is_bot, who, coding_s, pickup_s, review_s, deploy_s,
                                      cycle_s, lead_time_s)
    SELECT DISTINCT ON (ta.ancestor_id, u.change_id)
           u.org_id, ta.ancestor_id, u.merged_at, u.change_id, u.deployed_at, u.is_bot,
           coalesce(u.person_id::text, u.author_id), u.coding_s, u.pickup_s, u.review_s,
           u.deploy_s, u.cycle_s, u.lead_time_s
    FROM inserted u
    JOIN auth.team_memberships m
      ON m.org_id = u.org_id AND m.person_id = u.person_id AND m.during @> u.merged_at
    JOIN metrics.team_ancestors(p_org) ta ON ta.team_id = m.team_id;
$$;

-- How many changes each deployment shipped first, and the teams it counts for: those of
-- those changes (with their ancestors).
CREATE OR REPLACE FUNCTION metrics.put_deploy_teams(p_org uuid, p_ids text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM metrics.deploy_teams t
    WHERE t.org_id = p_org AND t.deploy_id = ANY (p_ids);

    UPDATE metrics.deploy_units u
    SET changes = (SELECT count(*) FROM metrics.change_units c
                   WHERE c.org_id = u.org_id AND c.deploy_id = u.deploy_id)
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    WHERE u.org_id = p_org AND u.deploy_id = i.id;

    INSERT INTO metrics.deploy_teams (org_id, team_id, finished_at, deploy_id)
    SELECT DISTINCT u.org_id, ct.team_id, u.finished_at, u.deploy_id
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN metrics.deploy_units u ON u.org_id = p_org AND u.deploy_id = i.id
    JOIN metrics.change_units c ON c.org_id = u.org_id AND c.deploy_id = u.deploy_id
    JOIN metrics.change_teams ct ON ct.org_id = c.org_id AND ct.change_id = c.change_id;
$$;

-- Incidents (alerts are not incidents).
CREATE OR REPLACE FUNCTION metrics.put_incidents(p_org uuid, p_ids text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM metrics.incident_units u
    WHERE u.org_id = p_org AND u.incident_id = ANY (p_ids);

    INSERT INTO metrics.incident_units (org_id, incident_id, service, severity, title,
                                        opened_at, resolved_at, restore_s)
    SELECT ci.org_id, ci.incident_id, ci.service, ci.severity, ci.title, ci.opened_at,
           ci.resolved_at, metrics.span(ci.opened_at, ci.resolved_at)
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN core.incidents ci ON ci.org_id = p_org AND ci.incident_id = i.id
    WHERE ci.kind = 'incident' AND ci.opened_at IS NOT NULL;
$$;

-- Hotfix and rollback deployments made while an incident of their service was open.
CREATE OR REPLACE FUNCTION metrics.put_rework(p_org uuid, p_ids text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM metrics.rework_links l
    WHERE l.org_id = p_org AND l.deploy_id = ANY (p_ids);

    INSERT INTO metrics.rework_links (org_id, deploy_id, incident_id, rule)
    SELECT d.org_id, d.deploy_id, iu.incident_id, 'open_incident'
    FROM (SELECT DISTINCT id FROM unnest(p_ids) AS i (id)) i
    JOIN metrics.deploy_units d ON d.org_id = p_org AND d.deploy_id = i.id
    JOIN metrics.incident_units iu
      ON iu.org_id = d.org_id AND iu.service = d.service
     AND iu.opened_at <= coalesce(d.started_at, d.finished_at)
     AND (iu.resolved_at IS NULL OR iu.resolved_at >= coalesce(d.started_at, d.finished_at))
    WHERE d.is_hotfix OR d.is_rollback;
$$;

-- The deployment a rollback deployment undoes: the latest earlier deployment of the same
-- service that was not itself a rollback.
CREATE OR REPLACE FUNCTION metrics.rolled_back(p_org uuid, p_service text, p_before timestamptz,
                                               p_rollback text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT du.deploy_id FROM metrics.deploy_units du
    WHERE du.org_id = p_org AND du.service = p_service AND du.finished_at < p_before
      AND du.deploy_id <> p_rollback AND NOT du.is_rollback
    ORDER BY du.finished_at DESC, du.deploy_id DESC
    LIMIT 1
$$;

-- Failures attributed to deployments, for every attribution mode:
-- - default: an incident goes to (1) the deployments it names, explicitly or through a
--   commit or change they shipped; else (2) the deployment a rollback of its service
--   undid, when the rollback started while the incident was open, within the window;
--   else (3) the latest deployment of its service that finished before it opened, within
--   the window. Rollback deployments and merged reverts are failures of what they undo.
-- - devlake: an incident goes to the latest deployment of its service that finished
--   before it opened, however long before.
-- - middleware: the same, at or before it opened.
-- - fourkeys: only what the incident names (its root cause).
-- recovered_at: the incident's resolution or the finish of the first deployment
-- remediating it (rework), whichever came first; a rollback's finish; a revert's
-- deployment. Incident, rework and change units must be current first.
CREATE OR REPLACE FUNCTION metrics.put_failures(p_org uuid, p_incidents text[],
                                                p_rollbacks text[], p_reverts text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_window interval;
BEGIN
    SELECT coalesce((SELECT incident_window FROM metrics.settings WHERE org_id = p_org),
                    interval '72 hours') INTO v_window;

    DELETE FROM metrics.failure_links l
    WHERE l.org_id = p_org AND l.cause_kind = 'incident' AND l.cause_id = ANY (p_incidents);
    DELETE FROM metrics.failure_links l
    WHERE l.org_id = p_org AND l.cause_kind = 'rollback' AND l.cause_id = ANY (p_rollbacks);
    DELETE FROM metrics.failure_links l
    WHERE l.org_id = p_org AND l.cause_kind = 'revert' AND l.cause_id = ANY (p_reverts);

    WITH inc AS (
        SELECT iu.incident_id, iu.service, iu.opened_at, iu.resolved_at,
               least(iu.resolved_at,
                     (SELECT min(d.finished_at) FROM metrics.rework_links rl
                      JOIN metrics.deploy_units d
                        ON d.org_id = rl.org_id AND d.deploy_id = rl.deploy_id
                      WHERE rl.org_id = iu.org_id AND rl.incident_id = iu.incident_id))
                   AS recovered_at,
               ci.links
        FROM (SELECT DISTINCT id FROM unnest(p_incidents) AS i (id)) i
        JOIN metrics.incident_units iu ON iu.org_id = p_org AND iu.incident_id = i.id
        JOIN core.incidents ci ON ci.org_id = iu.org_id AND ci.incident_id = iu.incident_id
    ), tokens AS (
        SELECT inc.incident_id, split_part(t.token, ':', 1) AS kind,
               substr(t.token, length(split_part(t.token, ':', 1)) + 2) AS value
        FROM inc, unnest(inc.links) AS t (token)
    ), named AS (
        SELECT tk.incident_id, du.deploy_id
        FROM tokens tk JOIN metrics.deploy_units du
          ON du.org_id = p_org AND tk.kind = 'deploy' AND du.deploy_id = tk.value
        UNION
        SELECT tk.incident_id, dc.deploy_id
        FROM tokens tk JOIN metrics.deploy_commits dc
          ON dc.org_id = p_org AND tk.kind = 'commit' AND dc.sha = lower(tk.value)
        UNION
        SELECT tk.incident_id, cu.deploy_id
        FROM tokens tk JOIN core.changes c
          ON c.org_id = p_org AND tk.kind = 'commit' AND c.merge_commit_sha = lower(tk.value)
        JOIN metrics.change_units cu ON cu.org_id = c.org_id AND cu.change_id = c.change_id
        WHERE cu.deploy_id IS NOT NULL
        UNION
        SELECT tk.incident_id, cu.deploy_id
        FROM tokens tk JOIN metrics.change_units cu
          ON cu.org_id = p_org AND tk.kind = 'change' AND cu.change_id = tk.value
        WHERE cu.deploy_id IS NOT NULL
        UNION
        SELECT tk.incident_id, cu.deploy_id
        FROM tokens tk JOIN core.changes c
          ON c.org_id = p_org AND tk.kind = 'change' AND c.url = tk.value
        JOIN metrics.change_units cu ON cu.org_id = c.org_id AND cu.change_id = c.change_id
        WHERE cu.deploy_id IS NOT NULL
    ), by_rollback AS (
        SELECT inc.incident_id, rb.target AS deploy_id
        FROM inc
        CROSS JOIN LATERAL (
            SELECT metrics.rolled_back(p_org, r.service, coalesce(r.started_at, r.finished_at),
                                       r.deploy_id) AS target
            FROM metrics.deploy_units r
            WHERE r.org_id = p_org AND r.service = inc.service AND r.is_rollback
              AND r.finished_at >= inc.opened_at
              AND coalesce(r.started_at, r.finished_at)
                  BETWEEN inc.opened_at
                      AND least(inc.opened_at + v_window, coalesce(inc.resolved_at, 'infinity'))
            ORDER BY r.finished_at, r.deploy_id
            LIMIT 1
        ) rb
        WHERE rb.target IS NOT NULL
    ), prior AS (
        SELECT inc.incident_id,
               (SELECT du.deploy_id FROM metrics.deploy_units du
                WHERE du.org_id = p_org AND du.service = inc.service
                  AND du.finished_at < inc.opened_at
                ORDER BY du.finished_at DESC, du.deploy_id DESC LIMIT 1) AS strictly_before,
               (SELECT du.deploy_id FROM metrics.deploy_units du
                WHERE du.org_id = p_org AND du.service = inc.service
                  AND du.finished_at <= inc.opened_at
                ORDER BY du.finished_at DESC, du.deploy_id DESC LIMIT 1) AS at_or_before,
               (SELECT du.deploy_id FROM metrics.deploy_units du
                WHERE du.org_id = p_org AND du.service = inc.service
                  AND du.finished_at < inc.opened_at
                  AND du.finished_at >= inc.opened_at - v_window
                ORDER BY du.finished_at DESC, du.deploy_id DESC LIMIT 1) AS in_window
        FROM inc
    ), links AS (
        SELECT 'default' AS mode, n.incident_id, n.deploy_id, 'explicit' AS rule FROM named n
        UNION ALL
        SELECT 'default', b.incident_id, b.deploy_id, 'rollback' FROM by_rollback b
        WHERE NOT EXISTS (SELECT FROM named n WHERE n.incident_id = b.incident_id)
        UNION ALL
        SELECT 'default', p.incident_id, p.in_window, 'window' FROM prior p
        WHERE p.in_window IS NOT NULL
          AND NOT EXISTS (SELECT FROM named n WHERE n.incident_id = p.incident_id)
          AND NOT EXISTS (SELECT FROM by_rollback b WHERE b.incident_id = p.incident_id)
        UNION ALL
        SELECT 'devlake', p.incident_id, p.strictly_before, 'latest_prior' FROM prior p
        WHERE p.strictly_before IS NOT NULL
        UNION ALL
        SELECT 'middleware', p.incident_id, p.at_or_before, 'latest_prior' FROM prior p
        WHERE p.at_or_before IS NOT NULL
        UNION ALL
        SELECT 'fourkeys', n.incident_id, n.deploy_id, 'explicit' FROM named n
    )
    INSERT INTO metrics.failure_links (org_id, mode, cause_kind, cause_id, deploy_id, rule,
                                       opened_at, recovered_at)
    SELECT p_org, l.mode, 'incident', l.incident_id, l.deploy_id, l.rule, inc.opened_at,
           inc.recovered_at
    FROM links l JOIN inc ON inc.incident_id = l.incident_id;

    -- Rollback deployments: a failure of the deployment they undo, over when they finish.
    INSERT INTO metrics.failure_links (org_id, mode, cause_kind, cause_id, deploy_id, rule,
                                       opened_at, recovered_at)
    SELECT p_org, 'default', 'rollback', r.deploy_id, t.target, 'rollback',
           coalesce(r.started_at, r.finished_at), r.finished_at
    FROM (SELECT DISTINCT id FROM unnest(p_rollbacks) AS i (id)) i
    JOIN metrics.deploy_units r ON r.org_id = p_org AND r.deploy_id = i.id AND r.is_rollback
    CROSS JOIN LATERAL (
        SELECT metrics.rolled_back(p_org, r.service, coalesce(r.started_at, r.finished_at),
                                   r.deploy_id) AS target
    ) t
    WHERE t.target IS NOT NULL;

    -- Merged reverts (titled `Revert "<title>"`): a failure of the deployment that shipped
    -- the latest earlier change of that title in the same repository, over when the
    -- revert is deployed.
    INSERT INTO metrics.failure_links (org_id, mode, cause_kind, cause_id, deploy_id, rule,
                                       opened_at, recovered_at)
    SELECT p_org, 'default', 'revert', rv.change_id, target.deploy_id, 'rollback',
           rv.merged_at, rv.deployed_at
    FROM (SELECT DISTINCT id FROM unnest(p_reverts) AS i (id)) i
    JOIN metrics.change_units rv ON rv.org_id = p_org AND rv.change_id = i.id
    JOIN core.changes rc ON rc.org_id = rv.org_id AND rc.change_id = rv.change_id
    CROSS JOIN LATERAL (
        SELECT cu.deploy_id FROM core.changes o
        JOIN metrics.change_units cu ON cu.org_id = o.org_id AND cu.change_id = o.change_id
        WHERE o.org_id = rc.org_id AND o.repo_id = rc.repo_id AND o.state = 'merged'
          AND md5(o.title) = md5(substring(rc.title FROM '^Revert "(.+)"$'))
          AND o.title = substring(rc.title FROM '^Revert "(.+)"$')
          AND o.merged_at < rc.merged_at
        ORDER BY o.merged_at DESC, o.change_id DESC
        LIMIT 1
    ) target
    WHERE rc.title ~ '^Revert ".+"$' AND target.deploy_id IS NOT NULL;
END
$$;
