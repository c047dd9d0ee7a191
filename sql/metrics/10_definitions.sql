-- What each metric is, and the benchmark tiers it is compared with: data, so a definition
-- change is a new version and a report year is a new set of rows.

-- The version of the stored units. Bump it when a change here or in 20_units.sql changes
-- what is stored: the next refresh of each org then rebuilds its units from scratch.
CREATE OR REPLACE FUNCTION metrics.engine_version() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;

INSERT INTO metrics.definitions (metric, unit, better, version, unit_of, definition) VALUES
('deployment_frequency', 'deployments', 'higher', 1, 'deploy',
 'Successful deployments to a production-class environment (one per service and vendor deploy id), counted per period; the tier uses the median over the window''s ISO weeks of days with at least one deployment.'),
('change_lead_time', 'hours', 'lower', 1, 'change',
 'Per merged change: first commit authored (from the change''s own commits, so squash merges keep it) to the finish of the first successful production deployment that shipped it.'),
('change_failure_rate', 'ratio', 'lower', 1, 'deploy',
 'Deployments with at least one attributed failure divided by deployments. Failures: incidents, attributed by (1) an explicit link (the incident names the deploy, commit or change), (2) the deployment a rollback of its service undid while it was open, within the window, (3) the latest deployment of its service that finished before it opened, within the window (72 h by default); and rollbacks and reverts themselves.'),
('failed_deployment_recovery_time', 'hours', 'lower', 1, 'deploy',
 'Per failed deployment: its finish to the end of its last attributed failure (the incident''s resolution, or an earlier remediating hotfix or rollback deployment; a rollback''s finish; a revert''s deployment).'),
('time_to_restore', 'hours', 'lower', 1, 'incident',
 'Per incident: opened to resolved, whatever caused it.'),
('deployment_rework_rate', 'ratio', 'lower', 1, 'deploy',
 'Deployments that were unplanned because of a production incident (hotfix or rollback deployments that started while an incident of their service was open) divided by deployments.'),
('pr_cycle_time', 'minutes', 'lower', 1, 'change',
 'Per merged change by a human author: coding + pickup + review + deploy, the phases that are present.'),
('pr_coding_time', 'minutes', 'lower', 1, 'change',
 'First commit authored to ready for review (opened, for a change that was never a draft).'),
('pr_pickup_time', 'minutes', 'lower', 1, 'change',
 'Ready for review (else opened) to the first review or comment by someone other than the author and not a bot.'),
('pr_review_time', 'minutes', 'lower', 1, 'change',
 'First response to merged; split into rework (first review to first approval) and merge (first approval to merged) in explain.'),
('pr_deploy_time', 'minutes', 'lower', 1, 'change',
 'Merged to the finish of the first successful production deployment that shipped the change.'),
('merged_changes', 'changes', 'higher', 1, 'change',
 'Changes merged in the period, by human authors.'),
('diffs_per_engineer', 'changes per engineer per week', 'higher', 1, 'change',
 'Changes merged by human authors per week, divided by the number of distinct people who authored them in the period.')
ON CONFLICT (metric) DO UPDATE SET
    unit = excluded.unit, better = excluded.better, version = excluded.version,
    unit_of = excluded.unit_of, definition = excluded.definition;

-- Benchmark sets of the DORA reports, as commonly encoded: lower <= value < upper.
-- Deployment frequency is measured in deployment days per week (median over the weeks),
-- lead and recovery times in hours, failure rates as ratios. Cells a report defines with
-- overlapping or out-of-order ranges are encoded so that the best matching tier wins and
-- the label says what the report printed.
DELETE FROM metrics.benchmarks;
INSERT INTO metrics.benchmarks (report_year, metric, tier, rank, lower_bound, upper_bound, measure, label)
SELECT y, m, t, r, lo, hi, me, l FROM (VALUES
 -- 2019 (Accelerate State of DevOps 2019; also the Four Keys dashboard's set)
 (2019, 'deployment_frequency', 'elite', 1, 5.0, NULL, 'deployment days per week', 'on demand (multiple deploys per day)'),
 (2019, 'deployment_frequency', 'high', 2, 1.0, 5.0, 'deployment days per week', 'between once per day and once per week'),
 (2019, 'deployment_frequency', 'medium', 3, 0.230769, 1.0, 'deployment days per week', 'between once per week and once per month'),
 (2019, 'deployment_frequency', 'low', 4, NULL, 0.230769, 'deployment days per week', 'between once per month and once every six months'),
 (2019, 'change_lead_time', 'elite', 1, NULL, 24, 'hours', 'less than one day'),
 (2019, 'change_lead_time', 'high', 2, 24, 168, 'hours', 'between one day and one week'),
 (2019, 'change_lead_time', 'medium', 3, 168, 720, 'hours', 'between one week and one month'),
 (2019, 'change_lead_time', 'low', 4, 720, NULL, 'hours', 'between one month and six months'),
 (2019, 'change_failure_rate', 'elite', 1, NULL, 0.15000001, 'ratio', '0-15% (elite, high and medium share this range)'),
 (2019, 'change_failure_rate', 'low', 4, 0.15000001, NULL, 'ratio', '46-60%'),
 (2019, 'time_to_restore', 'elite', 1, NULL, 1, 'hours', 'less than one hour'),
 (2019, 'time_to_restore', 'high', 2, 1, 24, 'hours', 'less than one day (high and medium share this range)'),
 (2019, 'time_to_restore', 'low', 4, 24, NULL, 'hours', 'between one week and one month'),
 -- 2021
 (2021, 'deployment_frequency', 'elite', 1, 5.0, NULL, 'deployment days per week', 'on demand (multiple deploys per day)'),
 (2021, 'deployment_frequency', 'high', 2, 0.230769, 5.0, 'deployment days per week', 'between once per week and once per month'),
 (2021, 'deployment_frequency', 'medium', 3, 0.038462, 0.230769, 'deployment days per week', 'between once per month and once every six months'),
 (2021, 'deployment_frequency', 'low', 4, NULL, 0.038462, 'deployment days per week', 'fewer than once per six months'),
 (2021, 'change_lead_time', 'elite', 1, NULL, 1, 'hours', 'less than one hour'),
 (2021, 'change_lead_time', 'high', 2, 1, 168, 'hours', 'between one day and one week'),
 (2021, 'change_lead_time', 'medium', 3, 168, 4380, 'hours', 'between one month and six months'),
 (2021, 'change_lead_time', 'low', 4, 4380, NULL, 'hours', 'more than six months'),
 (2021, 'change_failure_rate', 'elite', 1, NULL, 0.15000001, 'ratio', '0-15%'),
 (2021, 'change_failure_rate', 'high', 2, 0.15000001, 0.30000001, 'ratio', '16-30% (high, medium and low share this range)'),
 (2021, 'change_failure_rate', 'low', 4, 0.30000001, NULL, 'ratio', 'above 30% (not a published cell)'),
 (2021, 'time_to_restore', 'elite', 1, NULL, 1, 'hours', 'less than one hour'),
 (2021, 'time_to_restore', 'high', 2, 1, 24, 'hours', 'less than one day'),
 (2021, 'time_to_restore', 'medium', 3, 24, 168, 'hours', 'between one day and one week'),
 (2021, 'time_to_restore', 'low', 4, 168, NULL, 'hours', 'more than six months'),
 -- 2023
 (2023, 'deployment_frequency', 'elite', 1, 5.0, NULL, 'deployment days per week', 'on demand'),
 (2023, 'deployment_frequency', 'high', 2, 1.0, 5.0, 'deployment days per week', 'between once per day and once per week'),
 (2023, 'deployment_frequency', 'medium', 3, 0.230769, 1.0, 'deployment days per week', 'between once per week and once per month'),
 (2023, 'deployment_frequency', 'low', 4, NULL, 0.230769, 'deployment days per week', 'less than once per month'),
 (2023, 'change_lead_time', 'elite', 1, NULL, 24, 'hours', 'less than one day'),
 (2023, 'change_lead_time', 'high', 2, 24, 168, 'hours', 'between one day and one week'),
 (2023, 'change_lead_time', 'medium', 3, 168, 720, 'hours', 'between one week and one month'),
 (2023, 'change_lead_time', 'low', 4, 720, NULL, 'hours', 'more than one month'),
 (2023, 'change_failure_rate', 'elite', 1, NULL, 0.05000001, 'ratio', '5%'),
 (2023, 'change_failure_rate', 'high', 2, 0.05000001, 0.10000001, 'ratio', '10%'),
 (2023, 'change_failure_rate', 'medium', 3, 0.10000001, 0.15000001, 'ratio', '15%'),
 (2023, 'change_failure_rate', 'low', 4, 0.15000001, NULL, 'ratio', '64%'),
 (2023, 'failed_deployment_recovery_time', 'elite', 1, NULL, 1, 'hours', 'less than one hour'),
 (2023, 'failed_deployment_recovery_time', 'high', 2, 1, 24, 'hours', 'less than one day'),
 (2023, 'failed_deployment_recovery_time', 'medium', 3, 24, 168, 'hours', 'between one day and one week'),
 (2023, 'failed_deployment_recovery_time', 'low', 4, 168, NULL, 'hours', 'between one month and six months'),
 -- 2024
 (2024, 'deployment_frequency', 'elite', 1, 5.0, NULL, 'deployment days per week', 'on demand'),
 (2024, 'deployment_frequency', 'high', 2, 1.0, 5.0, 'deployment days per week', 'between once per day and once per week'),
 (2024, 'deployment_frequency', 'medium', 3, 0.230769, 1.0, 'deployment days per week', 'between once per week and once per month'),
 (2024, 'deployment_frequency', 'low', 4, NULL, 0.230769, 'deployment days per week', 'between once per month and once every six months'),
 (2024, 'change_lead_time', 'elite', 1, NULL, 24, 'hours', 'less than one day'),
 (2024, 'change_lead_time', 'high', 2, 24, 168, 'hours', 'between one day and one week'),
 (2024, 'change_lead_time', 'medium', 3, 168, 720, 'hours', 'between one week and one month'),
 (2024, 'change_lead_time', 'low', 4, 720, NULL, 'hours', 'between one month and six months'),
 (2024, 'change_failure_rate', 'elite', 1, NULL, 0.05000001, 'ratio', '5%'),
 (2024, 'change_failure_rate', 'high', 2, 0.05000001, 0.20000001, 'ratio', '20% (the report''s medium cluster, 10%, lies inside this range)'),
 (2024, 'change_failure_rate', 'low', 4, 0.20000001, NULL, 'ratio', '40%'),
 (2024, 'failed_deployment_recovery_time', 'elite', 1, NULL, 1, 'hours', 'less than one hour'),
 (2024, 'failed_deployment_recovery_time', 'high', 2, 1, 24, 'hours', 'less than one day (high and medium share this range)'),
 (2024, 'failed_deployment_recovery_time', 'low', 4, 24, NULL, 'hours', 'between one week and one month')
) AS v (y, m, t, r, lo, hi, me, l);

-- The recovery tiers of one report apply to both recovery metrics: the 2019 and 2021
-- reports call it time to restore, the 2023 and 2024 reports failed deployment recovery
-- time.
INSERT INTO metrics.benchmarks (report_year, metric, tier, rank, lower_bound, upper_bound, measure, label)
SELECT report_year,
       CASE metric WHEN 'time_to_restore' THEN 'failed_deployment_recovery_time'
                   ELSE 'time_to_restore' END,
       tier, rank, lower_bound, upper_bound, measure, label
FROM metrics.benchmarks
WHERE metric IN ('time_to_restore', 'failed_deployment_recovery_time');

-- The tier of a value in one report year's set (NULL when the set has no cell for it).
CREATE OR REPLACE FUNCTION metrics.tier_of(p_metric text, p_year int, p_value float8)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT b.tier FROM metrics.benchmarks b
    WHERE b.report_year = p_year AND b.metric = p_metric AND p_value IS NOT NULL
      AND (b.lower_bound IS NULL OR p_value >= b.lower_bound)
      AND (b.upper_bound IS NULL OR p_value < b.upper_bound)
    ORDER BY b.rank LIMIT 1
$$;
