-- scope_enter --
-- Run the rest of the transaction as qdx_app, within the caller's org and teams.
SELECT set_config('role', 'qdx_app', true),
       set_config('qdx.org_id', %(org_id)s, true),
       set_config('qdx.team_ids', %(team_ids)s, true)
