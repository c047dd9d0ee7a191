-- Named queries of the MCP servers (web/mcp_server/): each reads one api function, in
-- the caller's scope (db.scope).

-- mcp_search_incidents --
-- A page of incidents, newest first (api.search_incidents), one more than asked.
SELECT * FROM api.search_incidents(%(severity)s, %(since)s, %(service)s, %(status)s, %(text)s,
                                   %(cursor)s, %(limit)s)

-- mcp_get_incident --
-- One incident with its timeline and attributed deployments (api.get_incident).
SELECT api.get_incident(%(id)s)

-- mcp_recovery_stats --
-- Time to restore over a window, overall and by severity (api.recovery_stats).
SELECT * FROM api.recovery_stats(%(scope)s, %(window)s)

-- mcp_resolve_person --
-- The persons an email, login or name names (api.resolve_person).
SELECT api.resolve_person(%(by)s, %(value)s)

-- mcp_team_tree --
-- The caller's teams as a tree, or one team's subtree (api.team_tree).
SELECT * FROM api.team_tree(%(team)s)

-- mcp_team_members --
-- A page of a team's members at a moment (api.team_members), one more than asked.
SELECT * FROM api.team_members(%(team)s, %(at)s, %(cursor)s, %(limit)s)

-- mcp_list_tables --
-- What run_sql can read (api.list_tables).
SELECT * FROM api.list_tables()

-- mcp_describe_table --
-- The columns of one of those (api.describe_table).
SELECT * FROM api.describe_table(%(name)s)
