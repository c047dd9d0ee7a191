-- Named queries of the people endpoints (web/api/people.py: REST and GraphQL): each reads
-- one api function of sql/api/50_people.sql in the caller's scope (db.scope).

-- people_list --
-- A page of the persons the caller may see, by name (api.list_people), one more than asked.
SELECT person_id, display_name, primary_email, is_bot, teams AS current_teams, cursor
FROM api.list_people(%(team)s::text, %(query)s::text, %(after)s::text, %(limit)s::int)

-- people_by_ids --
-- The persons with these ids the caller may see, merged ones as their survivor (api.get_people).
SELECT asked, person FROM api.get_people(%(ids)s::uuid[])

-- people_of_actors --
-- The person each of these accounts is linked to, when the caller may see it (api.people_of_actors).
SELECT actor_id, person FROM api.people_of_actors(%(actors)s::text[])

-- people_team_tree --
-- The caller's teams as a tree, or one team's subtree (api.team_tree).
SELECT * FROM api.team_tree(%(team)s::text)

-- people_team_members --
-- A page of a team's members at a moment (api.team_members), one more than asked.
SELECT * FROM api.team_members(%(team)s::text, %(at)s::timestamptz, %(after)s::text,
                               %(limit)s::int)

-- people_teams_members --
-- A page of each of these teams' members at a moment, each after its own position
-- (api.team_members per team).
SELECT t.team AS asked_team, m.*
FROM unnest(%(teams)s::text[], %(afters)s::text[]) AS t (team, after)
CROSS JOIN LATERAL api.team_members(t.team, %(at)s::timestamptz, t.after, %(limit)s::int) m
