-- Marks: every write to the rows metrics are computed from says what it touched, in the
-- writer's transaction, and asks for a refresh of the org (one waiting job per org, run
-- by the procrastinate worker a moment later, so a burst of batches is refreshed once).

-- The job table is cross-org housekeeping, not a tenant table: the worker role
-- (qdx_worker) writes rows that fire these marks but has no grant on it, so this runs
-- with its owner's rights (on the allow-list of tests/test_security_catalog.py). It does
-- only this insert; asking for a refresh of an org reveals and changes nothing of it.
-- (search_path: procrastinate's own triggers on the table name its objects unqualified.)
CREATE OR REPLACE FUNCTION metrics.request_refresh(p_orgs uuid[])
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    INSERT INTO public.procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock,
                                    args, scheduled_at)
    SELECT 'metrics', 'qdx:refresh_metrics', 0, 'metrics:' || o, 'metrics:' || o,
           jsonb_build_object('org_id', o::text), now() + interval '2 seconds'
    FROM (SELECT DISTINCT o FROM unnest(p_orgs) AS u (o)) x
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING;
$$;

-- Changes: a change that merged (or stopped being merged, or moved its merge commit,
-- branch or repository) marks its repository from its merge time; any other change to a
-- merged change marks that change alone.
CREATE OR REPLACE FUNCTION metrics.on_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT org_id, 'repo', coalesce(repo_id, ''), min(merged_at)
        FROM new_rows WHERE merged_at IS NOT NULL GROUP BY 1, 3;
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id))
        FROM new_rows WHERE merged_at IS NOT NULL;
    ELSE
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT y.org_id, 'repo', y.repo_id, min(y.t) FROM (
                  SELECT n.org_id, coalesce(n.repo_id, '') AS repo_id, n.merged_at AS t
                  FROM new_rows n JOIN old_rows o USING (org_id, change_id)
                  WHERE (n.merged_at, n.merge_commit_sha, n.repo_id, n.base_branch, n.state)
                        IS DISTINCT FROM
                        (o.merged_at, o.merge_commit_sha, o.repo_id, o.base_branch, o.state)
                    AND n.merged_at IS NOT NULL
                  UNION ALL
                  SELECT o.org_id, coalesce(o.repo_id, ''), o.merged_at
                  FROM new_rows n JOIN old_rows o USING (org_id, change_id)
                  WHERE (n.merged_at, n.merge_commit_sha, n.repo_id, n.base_branch, n.state)
                        IS DISTINCT FROM
                        (o.merged_at, o.merge_commit_sha, o.repo_id, o.base_branch, o.state)
                    AND o.merged_at IS NOT NULL
              ) y GROUP BY 1, 3;
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT n.org_id, 'change', n.change_id, '-infinity'
        FROM new_rows n JOIN old_rows o USING (org_id, change_id)
        WHERE n.merged_at IS NOT NULL
          AND (n.merged_at, n.merge_commit_sha, n.repo_id, n.base_branch, n.state)
              IS NOT DISTINCT FROM
              (o.merged_at, o.merge_commit_sha, o.repo_id, o.base_branch, o.state);
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id))
        FROM (SELECT org_id FROM new_rows WHERE merged_at IS NOT NULL
              UNION ALL SELECT org_id FROM old_rows WHERE merged_at IS NOT NULL) x;
    END IF;
    RETURN NULL;
END
$$;

-- Reviews and comments: the devlake mode starts review at the first comment, which need
-- not move the change's own columns.
CREATE OR REPLACE FUNCTION metrics.on_reviews() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metrics.dirty (org_id, kind, key, since)
    SELECT DISTINCT r.org_id, 'change', r.change_id, '-infinity'::timestamptz FROM new_rows r
    JOIN core.changes c ON c.org_id = r.org_id AND c.change_id = r.change_id
    WHERE c.merged_at IS NOT NULL;
    PERFORM metrics.request_refresh(array_agg(DISTINCT r.org_id))
    FROM new_rows r JOIN core.changes c ON c.org_id = r.org_id AND c.change_id = r.change_id
    WHERE c.merged_at IS NOT NULL;
    RETURN NULL;
END
$$;

-- Deployments mark their service and repository from their earliest time, before and
-- after the write.
CREATE OR REPLACE FUNCTION metrics.on_deploys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT x.org_id, x.kind, x.key, x.since
        FROM (SELECT org_id, 'service' AS kind, coalesce(service, '') AS key,
                     min(least(started_at, finished_at)) AS since
              FROM new_rows GROUP BY 1, 2, 3
              UNION ALL
              SELECT org_id, 'repo', repo_id, min(least(started_at, finished_at))
              FROM new_rows WHERE repo_id IS NOT NULL GROUP BY 1, 2, 3) x
        WHERE x.since IS NOT NULL;
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id)) FROM new_rows;
    ELSE
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT x.org_id, x.kind, x.key, min(x.since)
        FROM (SELECT org_id, 'service' AS kind, coalesce(service, '') AS key,
                     least(started_at, finished_at) AS since FROM new_rows
              UNION ALL
              SELECT org_id, 'service', coalesce(service, ''), least(started_at, finished_at)
              FROM old_rows
              UNION ALL
              SELECT org_id, 'repo', repo_id, least(started_at, finished_at) FROM new_rows
              WHERE repo_id IS NOT NULL
              UNION ALL
              SELECT org_id, 'repo', repo_id, least(started_at, finished_at) FROM old_rows
              WHERE repo_id IS NOT NULL) x
        WHERE x.since IS NOT NULL
        GROUP BY x.org_id, x.kind, x.key;
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id)) FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

-- Incidents mark their service from when they opened, before and after the write.
CREATE OR REPLACE FUNCTION metrics.on_incidents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT org_id, 'service', coalesce(service, ''), min(opened_at)
        FROM new_rows WHERE kind = 'incident' AND opened_at IS NOT NULL GROUP BY 1, 3;
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id))
        FROM new_rows WHERE kind = 'incident';
    ELSE
        INSERT INTO metrics.dirty (org_id, kind, key, since)
        SELECT y.org_id, 'service', y.service, min(y.t) FROM (
                  SELECT org_id, coalesce(service, '') AS service, opened_at AS t
                  FROM new_rows WHERE kind = 'incident' AND opened_at IS NOT NULL
                  UNION ALL
                  SELECT org_id, coalesce(service, ''), opened_at
                  FROM old_rows WHERE kind = 'incident' AND opened_at IS NOT NULL) y
        GROUP BY 1, 3;
        PERFORM metrics.request_refresh(array_agg(DISTINCT org_id))
        FROM (SELECT org_id FROM new_rows WHERE kind = 'incident'
              UNION ALL SELECT org_id FROM old_rows WHERE kind = 'incident') x;
    END IF;
    RETURN NULL;
END
$$;

-- A person's team memberships decide the teams their changes count for.
CREATE OR REPLACE FUNCTION metrics.on_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM metrics.mark(NEW.org_id, 'person', NEW.person_id::text);
        PERFORM metrics.request_refresh(ARRAY[NEW.org_id]);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM metrics.mark(OLD.org_id, 'person', OLD.person_id::text);
        PERFORM metrics.request_refresh(ARRAY[OLD.org_id]);
    END IF;
    RETURN NULL;
END
$$;

-- Moving a team in the tree changes what every ancestor counts: recompute the org.
CREATE OR REPLACE FUNCTION metrics.on_teams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM metrics.mark(OLD.org_id, 'org', '');
        PERFORM metrics.request_refresh(ARRAY[OLD.org_id]);
    ELSIF OLD.parent_id IS DISTINCT FROM NEW.parent_id THEN
        PERFORM metrics.mark(NEW.org_id, 'org', '');
        PERFORM metrics.request_refresh(ARRAY[NEW.org_id]);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER metrics_mark_insert AFTER INSERT ON core.changes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_changes();
CREATE OR REPLACE TRIGGER metrics_mark_update AFTER UPDATE ON core.changes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_changes();
CREATE OR REPLACE TRIGGER metrics_mark_insert AFTER INSERT ON core.reviews
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_reviews();
CREATE OR REPLACE TRIGGER metrics_mark_update AFTER UPDATE ON core.reviews
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_reviews();
CREATE OR REPLACE TRIGGER metrics_mark_insert AFTER INSERT ON core.deploys
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_deploys();
CREATE OR REPLACE TRIGGER metrics_mark_update AFTER UPDATE ON core.deploys
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_deploys();
CREATE OR REPLACE TRIGGER metrics_mark_insert AFTER INSERT ON core.incidents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_incidents();
CREATE OR REPLACE TRIGGER metrics_mark_update AFTER UPDATE ON core.incidents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.on_incidents();
CREATE OR REPLACE TRIGGER metrics_mark AFTER INSERT OR UPDATE OR DELETE ON auth.team_memberships
    FOR EACH ROW EXECUTE FUNCTION metrics.on_memberships();
CREATE OR REPLACE TRIGGER metrics_mark AFTER UPDATE OR DELETE ON auth.teams
    FOR EACH ROW EXECUTE FUNCTION metrics.on_teams();
