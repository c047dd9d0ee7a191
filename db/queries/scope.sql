-- scope_enter --
-- Run the rest of the transaction as qdx_app, within the caller's org and teams.
SELECT set_config('role', 'qdx_app', true),
       set_config('qdx.org_id', %(org_id)s, true),
       set_config('qdx.team_ids', %(team_ids)s, true)

-- worker_enter --
-- Run the rest of the transaction as qdx_worker, for one org's rows ('' : the SQL sets the org itself, per group of a batch).
SELECT set_config('role', 'qdx_worker', true),
       set_config('qdx.org_id', %(org_id)s, true),
       set_config('qdx.team_ids', '', true)

-- scope_current --
-- The role and scope settings in effect (to restore them after a nested worker block).
SELECT current_setting('role') AS role,
       coalesce(current_setting('qdx.org_id', true), '') AS org_id,
       coalesce(current_setting('qdx.team_ids', true), '') AS team_ids

-- scope_restore --
-- Put back the role and scope settings a nested worker block found.
SELECT set_config('role', %(role)s, true),
       set_config('qdx.org_id', %(org_id)s, true),
       set_config('qdx.team_ids', %(team_ids)s, true)

-- worker_session --
-- Make qdx_worker the role of this session (a dedicated pool's connections: every statement on them is the services' tenant work, each setting its org).
SET ROLE qdx_worker
