-- Incremental refresh: what changed is marked (metrics.dirty) by the writers of core,
-- identity and team memberships; metrics.refresh turns the marks into the units to
-- recompute and recomputes exactly those. metrics.rebuild marks everything and runs the
-- same refresh, so both paths store the same values.

-- Record that (kind, key) changed from p_since on.
CREATE OR REPLACE FUNCTION metrics.mark(p_org uuid, p_kind text, p_key text,
                                        p_since timestamptz DEFAULT '-infinity')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO metrics.dirty (org_id, kind, key, since)
    VALUES (p_org, p_kind, coalesce(p_key, ''), coalesce(p_since, '-infinity'));
$$;

-- Whether recomputing n rows of a table changes it so much that the next statements
-- would be planned wrong without new statistics (a rebuild, a new org's first refresh):
-- over a thousand rows and over a fifth of what the statistics say it holds.
CREATE OR REPLACE FUNCTION metrics.is_large(p_rows int, p_table regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_rows > 1000
       AND p_rows > 0.2 * greatest((SELECT reltuples FROM pg_class WHERE oid = p_table), 0)
$$;

-- Recompute the org's units that the pending marks reach. Returns what it did.
CREATE OR REPLACE FUNCTION metrics.refresh(p_org uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_state    metrics.state;
    v_seq      bigint;
    v_count    bigint;
    v_window   interval;
    v_deploys  text[];
    v_changes  text[];
    v_deploys2 text[];
    v_incidents text[];
    v_reverts  text[];
BEGIN
    -- One refresh of an org at a time; marks made meanwhile wait for the next one.
    PERFORM pg_advisory_xact_lock(core.org_lock_key(p_org, 'metrics'));

    SELECT * INTO v_state FROM metrics.state WHERE org_id = p_org FOR UPDATE;
    IF NOT FOUND OR v_state.version <> metrics.engine_version() THEN
        -- First refresh of this org, or the units were computed by another engine
        -- version: recompute them all.
        INSERT INTO metrics.state (org_id, version) VALUES (p_org, metrics.engine_version())
        ON CONFLICT (org_id) DO UPDATE SET version = excluded.version;
        PERFORM metrics.mark_all(p_org, NULL);
    END IF;

    -- Persons whose accounts identity resolution moved since the last refresh.
    SELECT coalesce(max(seq), 0) INTO v_seq FROM identity.person_changes WHERE org_id = p_org;
    IF v_seq > coalesce(v_state.person_seq, 0) THEN
        PERFORM metrics.mark(p_org, 'person', pc.person_id::text)
        FROM (SELECT DISTINCT person_id FROM identity.person_changes
              WHERE org_id = p_org AND seq > coalesce(v_state.person_seq, 0)) pc;
    END IF;

    -- Claim the marks: exactly those read here are deleted (a writer's mark committed
    -- meanwhile stays for the next refresh).
    CREATE TEMP TABLE IF NOT EXISTS metrics_marks (
        kind text, key text, since timestamptz
    ) ON COMMIT DROP;
    TRUNCATE metrics_marks;
    WITH claimed AS (
        DELETE FROM metrics.dirty WHERE org_id = p_org RETURNING kind, key, since
    )
    INSERT INTO metrics_marks
    SELECT kind, key, min(since) FROM claimed GROUP BY kind, key;
    GET DIAGNOSTICS v_count = ROW_COUNT;

    IF v_count = 0 THEN
        UPDATE metrics.state SET person_seq = v_seq WHERE org_id = p_org;
        RETURN jsonb_build_object('marks', 0);
    END IF;
    IF EXISTS (SELECT FROM metrics_marks WHERE kind = 'org') THEN
        PERFORM metrics.mark_all(p_org, NULL);
        WITH claimed AS (
            DELETE FROM metrics.dirty WHERE org_id = p_org RETURNING kind, key, since
        )
        INSERT INTO metrics_marks SELECT kind, key, since FROM claimed;
    END IF;

    SELECT coalesce((SELECT incident_window FROM metrics.settings WHERE org_id = p_org),
                    interval '72 hours') INTO v_window;

    -- A person's accounts are the accounts whose changes move with them.
    INSERT INTO metrics_marks
    SELECT 'actor', l.actor_id, '-infinity'
    FROM metrics_marks m
    JOIN identity.links l ON l.org_id = p_org AND l.person_id = m.key::uuid
    WHERE m.kind = 'person';
    ANALYZE metrics_marks;

    -- 1. Deployments: those of a marked service or repository from the mark on, as core
    --    has them now and as the units had them.
    --    (Each mark is read by its own index range scan: LATERAL ... OFFSET 0 keeps the
    --    planner from joining a few hundred marks to whole tables by hash.)
    SELECT array_agg(DISTINCT x.deploy_id) INTO v_deploys FROM (
        SELECT d.deploy_id FROM metrics_marks m
        CROSS JOIN LATERAL (
            SELECT d.deploy_id FROM core.deploys d
            WHERE d.org_id = p_org AND d.service = m.key AND d.finished_at >= m.since
            OFFSET 0) d
        WHERE m.kind = 'service'
        UNION ALL
        SELECT d.deploy_id FROM metrics_marks m
        JOIN core.deploys d ON d.org_id = p_org AND d.service IS NULL AND d.finished_at >= m.since
        WHERE m.kind = 'service' AND m.key = ''
        UNION ALL
        SELECT d.deploy_id FROM metrics_marks m
        CROSS JOIN LATERAL (
            SELECT d.deploy_id FROM core.deploys d
            WHERE d.org_id = p_org AND d.repo_id = m.key AND d.finished_at >= m.since
            OFFSET 0) d
        WHERE m.kind = 'repo'
        UNION ALL
        SELECT u.deploy_id FROM metrics_marks m
        CROSS JOIN LATERAL (
            SELECT u.deploy_id FROM metrics.deploy_units u
            WHERE u.org_id = p_org AND u.service = m.key AND u.finished_at >= m.since
            OFFSET 0) u
        WHERE m.kind = 'service'
        UNION ALL
        SELECT u.deploy_id FROM metrics_marks m
        JOIN metrics.deploy_units u
          ON u.org_id = p_org AND u.service IS NULL AND u.finished_at >= m.since
        WHERE m.kind = 'service' AND m.key = ''
        UNION ALL
        SELECT u.deploy_id FROM metrics_marks m
        CROSS JOIN LATERAL (
            SELECT u.deploy_id FROM metrics.deploy_units u
            WHERE u.org_id = p_org AND u.repo_id = m.key AND u.finished_at >= m.since
            OFFSET 0) u
        WHERE m.kind = 'repo'
    ) x;
    v_deploys := coalesce(v_deploys, '{}');
    PERFORM metrics.put_deploys(p_org, v_deploys);
    -- A large recomputation (a rebuild, a new org) changes the tables the next steps look
    -- up row by row: re-sample them first, or their plans assume they are still empty.
    -- (A rebuild's marks cover every repository and service at once.)
    IF metrics.is_large(cardinality(v_deploys), 'metrics.deploy_units') THEN
        ANALYZE metrics.deploy_units, metrics.deploy_commits;
    END IF;

    -- 2. Changes. A new or changed deployment of a repository changes what was shipped
    --    first after the deployments of that repository that finished before it (their
    --    shipped_until bounds it); a marked repository's changes from its mark on; an
    --    account's changes (its person or teams moved); the changes the recomputed
    --    deployments had shipped, and those whose merge commit they name.
    CREATE TEMP TABLE IF NOT EXISTS metrics_regions (repo_id text, since timestamptz)
        ON COMMIT DROP;
    TRUNCATE metrics_regions;
    INSERT INTO metrics_regions
    SELECT r.repo_id,
           coalesce((SELECT u.shipped_until FROM metrics.deploy_units u
                     WHERE u.org_id = p_org AND u.repo_id = r.repo_id
                       AND u.shipped_until IS NOT NULL AND u.finished_at < r.since
                     ORDER BY u.shipped_until DESC LIMIT 1), '-infinity')
    FROM (
        SELECT y.repo_id, min(y.since) AS since FROM (
            SELECT m.key AS repo_id, m.since FROM metrics_marks m WHERE m.kind = 'repo'
            UNION ALL
            SELECT d.repo_id, least(d.finished_at, d.started_at)
            FROM unnest(v_deploys) AS i (id)
            JOIN core.deploys d ON d.org_id = p_org AND d.deploy_id = i.id
            WHERE d.repo_id IS NOT NULL
        ) y GROUP BY y.repo_id
    ) r;
    -- (a mark's own time bounds it too: a change merged at or after it is recomputed)
    UPDATE metrics_regions g SET since = least(g.since, m.since)
    FROM metrics_marks m WHERE m.kind = 'repo' AND m.key = g.repo_id;
    ANALYZE metrics_regions;

    -- (Each region is read by its own index range scan: LATERAL ... OFFSET 0 keeps the
    -- planner from joining a handful of regions to whole tables by hash.)
    SELECT array_agg(DISTINCT x.change_id) INTO v_changes FROM (
        SELECT c.change_id FROM metrics_regions g
        CROSS JOIN LATERAL (
            SELECT c.change_id FROM core.changes c
            WHERE c.org_id = p_org AND c.repo_id = g.repo_id AND c.merged_at >= g.since
            OFFSET 0) c
        UNION ALL
        SELECT c.change_id FROM metrics_marks m
        JOIN core.changes c ON c.org_id = p_org AND c.repo_id IS NULL
        WHERE m.kind = 'repo' AND m.key = '' AND c.merged_at IS NOT NULL
        UNION ALL
        SELECT u.change_id FROM metrics_regions g
        CROSS JOIN LATERAL (
            SELECT u.change_id FROM metrics.change_units u
            WHERE u.org_id = p_org AND u.repo_id = g.repo_id AND u.merged_at >= g.since
            OFFSET 0) u
        UNION ALL
        SELECT c.change_id FROM metrics_marks m
        JOIN core.changes c ON c.org_id = p_org AND c.author_id = m.key
        WHERE m.kind = 'actor' AND c.merged_at IS NOT NULL
        UNION ALL
        SELECT u.change_id FROM metrics_marks m
        JOIN metrics.change_units u ON u.org_id = p_org AND u.author_id = m.key
        WHERE m.kind = 'actor'
        UNION ALL
        SELECT m.key FROM metrics_marks m WHERE m.kind = 'change'
        UNION ALL
        SELECT u.change_id FROM unnest(v_deploys) AS i (id)
        CROSS JOIN LATERAL (
            SELECT u.change_id FROM metrics.change_units u
            WHERE u.org_id = p_org AND u.deploy_id = i.id OFFSET 0) u
        UNION ALL
        SELECT c.change_id FROM unnest(v_deploys) AS i (id)
        JOIN metrics.deploy_commits dc ON dc.org_id = p_org AND dc.deploy_id = i.id
        JOIN core.changes c ON c.org_id = p_org AND c.merge_commit_sha = dc.sha
    ) x;
    v_changes := coalesce(v_changes, '{}');

    -- The deployments whose shipped changes move: before and after.
    SELECT array_agg(DISTINCT x.id) INTO v_deploys2 FROM (
        SELECT unnest(v_deploys) AS id
        UNION ALL
        SELECT u.deploy_id FROM unnest(v_changes) AS i (id)
        JOIN metrics.change_units u ON u.org_id = p_org AND u.change_id = i.id
        WHERE u.deploy_id IS NOT NULL
    ) x;
    PERFORM metrics.put_changes(p_org, v_changes);
    IF metrics.is_large(cardinality(v_changes), 'metrics.change_units') THEN
        ANALYZE metrics.change_units, metrics.change_teams;
    END IF;
    SELECT array_agg(DISTINCT x.id) INTO v_deploys2 FROM (
        SELECT unnest(coalesce(v_deploys2, '{}')) AS id
        UNION ALL
        SELECT u.deploy_id FROM unnest(v_changes) AS i (id)
        JOIN metrics.change_units u ON u.org_id = p_org AND u.change_id = i.id
        WHERE u.deploy_id IS NOT NULL
    ) x;
    v_deploys2 := coalesce(v_deploys2, '{}');
    PERFORM metrics.put_deploy_teams(p_org, v_deploys2);

    -- 3. Incidents: those of a marked service from the mark on (less the window, for
    --    rollbacks after them), and those attributed, reworked or named through a
    --    deployment or change recomputed above.
    SELECT array_agg(DISTINCT x.incident_id) INTO v_incidents FROM (
        SELECT ci.incident_id FROM metrics_marks m
        JOIN core.incidents ci ON ci.org_id = p_org AND ci.service = m.key
         AND ci.opened_at >= m.since - v_window
        WHERE m.kind = 'service'
        UNION ALL
        SELECT ci.incident_id FROM metrics_marks m
        JOIN core.incidents ci ON ci.org_id = p_org AND ci.service IS NULL
        WHERE m.kind = 'service' AND m.key = ''
        UNION ALL
        SELECT iu.incident_id FROM metrics_marks m
        JOIN metrics.incident_units iu ON iu.org_id = p_org
         AND iu.service = m.key AND iu.opened_at >= m.since - v_window
        WHERE m.kind = 'service'
        UNION ALL
        SELECT iu.incident_id FROM metrics_marks m
        JOIN metrics.incident_units iu ON iu.org_id = p_org AND iu.service IS NULL
        WHERE m.kind = 'service' AND m.key = ''
        UNION ALL
        SELECT l.cause_id FROM unnest(v_deploys2) AS i (id)
        JOIN metrics.failure_links l ON l.org_id = p_org AND l.deploy_id = i.id
        WHERE l.cause_kind = 'incident'
        UNION ALL
        SELECT rl.incident_id FROM unnest(v_deploys2) AS i (id)
        JOIN metrics.rework_links rl ON rl.org_id = p_org AND rl.deploy_id = i.id
        UNION ALL
        SELECT ci.incident_id FROM core.incidents ci
        CROSS JOIN LATERAL unnest(ci.links) AS l (token)
        JOIN (
            SELECT 'deploy:' || id AS token FROM unnest(v_deploys2) AS i (id)
            UNION ALL
            SELECT 'commit:' || sha FROM unnest(v_deploys2) AS i (id)
            JOIN core.deploys d ON d.org_id = p_org AND d.deploy_id = i.id
            CROSS JOIN unnest(d.commit_sha || d.commit_shas) AS sha
            WHERE sha IS NOT NULL
            UNION ALL
            SELECT 'change:' || id FROM unnest(v_changes) AS i (id)
            UNION ALL
            SELECT 'change:' || c.url FROM unnest(v_changes) AS i (id)
            JOIN core.changes c ON c.org_id = p_org AND c.change_id = i.id
            WHERE c.url IS NOT NULL
            UNION ALL
            SELECT 'commit:' || c.merge_commit_sha FROM unnest(v_changes) AS i (id)
            JOIN core.changes c ON c.org_id = p_org AND c.change_id = i.id
            WHERE c.merge_commit_sha IS NOT NULL
        ) t ON t.token = l.token
        WHERE ci.org_id = p_org AND cardinality(ci.links) > 0
    ) x;
    v_incidents := coalesce(v_incidents, '{}');
    PERFORM metrics.put_incidents(p_org, v_incidents);
    IF metrics.is_large(cardinality(v_incidents), 'metrics.incident_units') THEN
        ANALYZE metrics.incident_units;
    END IF;

    -- 4. Rework, then failures (whose recovery a remediating deployment can end).
    PERFORM metrics.put_rework(p_org, v_deploys2);
    SELECT array_agg(DISTINCT x.id) INTO v_incidents FROM (
        SELECT unnest(v_incidents) AS id
        UNION ALL
        SELECT rl.incident_id FROM unnest(v_deploys2) AS i (id)
        JOIN metrics.rework_links rl ON rl.org_id = p_org AND rl.deploy_id = i.id
    ) x;
    v_incidents := coalesce(v_incidents, '{}');
    SELECT array_agg(DISTINCT x.id) INTO v_reverts FROM (
        SELECT unnest(v_changes) AS id
        UNION ALL
        SELECT l.cause_id FROM unnest(v_deploys2) AS i (id)
        JOIN metrics.failure_links l ON l.org_id = p_org AND l.deploy_id = i.id
        WHERE l.cause_kind = 'revert'
    ) x;
    PERFORM metrics.put_failures(p_org, v_incidents, v_deploys2, coalesce(v_reverts, '{}'));

    UPDATE metrics.state SET person_seq = v_seq, refreshed_at = now() WHERE org_id = p_org;
    RETURN jsonb_build_object('marks', v_count,
                              'deploys', cardinality(v_deploys2),
                              'changes', cardinality(v_changes),
                              'incidents', cardinality(v_incidents));
END
$$;

-- Mark everything of an org from p_since on (from the beginning when NULL).
CREATE OR REPLACE FUNCTION metrics.mark_all(p_org uuid, p_since timestamptz)
RETURNS void LANGUAGE sql AS $$
    SELECT metrics.mark(p_org, k.kind, k.key, coalesce(p_since, '-infinity'))
    FROM (
        SELECT DISTINCT 'repo' AS kind, coalesce(repo_id, '') AS key
        FROM core.changes WHERE org_id = p_org
        UNION
        SELECT DISTINCT 'repo', repo_id FROM core.deploys
        WHERE org_id = p_org AND repo_id IS NOT NULL
        UNION
        SELECT DISTINCT 'service', coalesce(service, '') FROM core.deploys WHERE org_id = p_org
        UNION
        SELECT DISTINCT 'service', coalesce(service, '') FROM core.incidents
        WHERE org_id = p_org
        UNION
        SELECT DISTINCT 'repo', coalesce(repo_id, '') FROM metrics.change_units
        WHERE org_id = p_org
        UNION
        SELECT DISTINCT 'service', coalesce(service, '') FROM metrics.deploy_units
        WHERE org_id = p_org
        UNION
        SELECT DISTINCT 'service', coalesce(service, '') FROM metrics.incident_units
        WHERE org_id = p_org
    ) k;
$$;

-- Recompute an org's units from p_since on (everything when NULL): the same refresh as
-- the incremental path, over every repository and service.
CREATE OR REPLACE FUNCTION metrics.rebuild(p_org uuid, p_since timestamptz DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(core.org_lock_key(p_org, 'metrics'));
    PERFORM metrics.mark_all(p_org, p_since);
    UPDATE metrics.state SET rebuilt_at = now() WHERE org_id = p_org;
    RETURN metrics.refresh(p_org);
END
$$;

-- Orgs whose units are behind: pending marks, identity changes not yet taken into
-- account, no refresh yet while core has rows, or units of another engine version.
CREATE OR REPLACE FUNCTION metrics.pending_orgs()
RETURNS TABLE (org_id uuid, reason text) LANGUAGE sql STABLE AS $$
    SELECT d.org_id, 'marks' FROM metrics.dirty d GROUP BY d.org_id
    UNION
    SELECT s.org_id, 'identity' FROM metrics.state s
    WHERE EXISTS (SELECT FROM identity.person_changes pc
                  WHERE pc.org_id = s.org_id AND pc.seq > s.person_seq)
    UNION
    SELECT s.org_id, 'version' FROM metrics.state s WHERE s.version <> metrics.engine_version()
    UNION
    SELECT o.org_id, 'new' FROM auth.orgs o
    WHERE NOT EXISTS (SELECT FROM metrics.state s WHERE s.org_id = o.org_id)
      AND (EXISTS (SELECT FROM core.changes c WHERE c.org_id = o.org_id)
           OR EXISTS (SELECT FROM core.deploys d WHERE d.org_id = o.org_id)
           OR EXISTS (SELECT FROM core.incidents i WHERE i.org_id = o.org_id))
$$;
