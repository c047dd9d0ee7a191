-- Links between canonical rows that no single event states: derived on read, so they
-- follow every change of the rows they come from.

-- The changes each successful deploy shipped. For a deploy of a repository (deploys with
-- no repository, such as GitOps syncs of an application, link nothing here), the changes
-- merged into the repository's default branch after what the previous successful deploy
-- of the same service and environment shipped, up to what this one ships: the change
-- whose merge commit is the deploy's commit (rule `commit`), and those merged before it
-- (rule `merge_order`). When no change has the deploy's commit as its merge commit, the
-- deploy ships what was merged before it started (rule `merge_order`).
CREATE OR REPLACE VIEW core.deploy_changes WITH (security_invoker = true) AS
WITH deployed AS (
    SELECT d.org_id, d.deploy_id, d.service, d.environment, d.repo_id, d.commit_sha,
           d.started_at, d.finished_at, r.default_branch,
           coalesce((SELECT max(c.merged_at) FROM core.changes c
                     WHERE c.org_id = d.org_id AND c.repo_id = d.repo_id
                       AND c.merge_commit_sha = d.commit_sha),
                    d.started_at, d.finished_at) AS shipped_until
    FROM core.deploys d
    LEFT JOIN core.repos r ON r.org_id = d.org_id AND r.repo_id = d.repo_id
    WHERE d.status = 'success' AND d.repo_id IS NOT NULL AND d.kind <> 'release'
), bounded AS (
    SELECT deployed.*,
           lag(shipped_until) OVER (PARTITION BY org_id, service, environment
                                    ORDER BY shipped_until, finished_at, deploy_id)
               AS shipped_after
    FROM deployed
)
SELECT b.org_id, b.deploy_id, c.change_id,
       CASE WHEN c.merge_commit_sha = b.commit_sha THEN 'commit' ELSE 'merge_order' END
           AS rule
FROM bounded b
JOIN core.changes c
  ON c.org_id = b.org_id AND c.repo_id = b.repo_id AND c.state = 'merged'
 AND c.merged_at <= b.shipped_until
 AND (b.shipped_after IS NULL OR c.merged_at > b.shipped_after)
 AND (b.default_branch IS NULL OR c.base_branch IS NULL OR c.base_branch = b.default_branch);

-- Where each canonical row came from: the raw events that stated it (for accounts and
-- repositories, the first event that showed each distinct version of them).
CREATE OR REPLACE VIEW core.lineage WITH (security_invoker = true) AS
SELECT f.org_id, f.entity, f.entity_id, f.event_id, f.observed_at
FROM core.facts f
UNION ALL
SELECT s.org_id, s.entity, s.entity_id, s.first_event_id, s.first_observed_at
FROM core.snapshots s;
