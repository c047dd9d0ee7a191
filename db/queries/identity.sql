-- identity_lock --
-- Wait for the advisory lock that serializes identity resolution of one org.
SELECT pg_advisory_xact_lock(core.org_lock_key(%(org_id)s, 'identity'))

-- identity_try_lock --
-- Take the identity resolution lock of one org if it is free.
SELECT pg_try_advisory_xact_lock(core.org_lock_key(%(org_id)s, 'identity'))

-- identity_pending_take --
-- An org's oldest pending accounts (with the time they were queued, to delete exactly those).
SELECT actor_id, queued_at FROM identity.pending WHERE org_id = %(org_id)s
ORDER BY queued_at, actor_id LIMIT %(limit)s

-- identity_pending_done --
-- Delete the pending rows a resolution took, unless they were queued again meanwhile.
DELETE FROM identity.pending p
USING unnest(%(actors)s::text[], %(queued)s::timestamptz[]) AS t(actor_id, queued_at)
WHERE p.org_id = %(org_id)s AND p.actor_id = t.actor_id AND p.queued_at = t.queued_at

-- identity_pending_orgs --
-- The orgs with accounts waiting to be resolved.
SELECT DISTINCT org_id FROM identity.pending ORDER BY org_id

-- identity_all_actors --
-- Every account of an org.
SELECT actor_id FROM core.actors WHERE org_id = %(org_id)s ORDER BY actor_id

-- identity_refresh_keys --
-- Rewrite the identifying keys of some accounts from their actor rows.
SELECT identity.refresh_keys(%(org_id)s, %(actors)s)

-- identity_set_block_keys --
-- Replace the matcher's blocking keys of some accounts ({actor_id: [key, ...]}).
SELECT identity.set_block_keys(%(org_id)s, %(keys)s::jsonb)

-- identity_load_accounts --
-- What the resolver knows of some accounts.
SELECT * FROM identity.load_accounts(%(org_id)s, %(actors)s)

-- identity_scope --
-- The accounts a resolution of the seeds may change (with the seeds' matcher candidates).
SELECT identity.scope(%(org_id)s,
                      %(actors)s || identity.block_neighbors(%(org_id)s, %(actors)s))

-- identity_rule_edges --
-- Pairs of the accounts that a deterministic rule links.
SELECT a, b, method, strength, key FROM identity.rule_edges(%(org_id)s, %(actors)s)

-- identity_block_pairs --
-- Pairs of the accounts that share a blocking key.
SELECT a, b FROM identity.block_pairs(%(org_id)s, %(actors)s)

-- identity_apart_pairs --
-- An admin's 'apart' decisions among the accounts.
SELECT a, b FROM identity.apart_pairs(%(org_id)s, %(actors)s)

-- identity_apply --
-- Write a resolution as one operation; its id, or NULL when nothing changed.
SELECT identity.apply(%(org_id)s, %(by)s, %(assign)s::jsonb, %(reviews)s::jsonb)

-- identity_operation --
-- One operation of the person graph.
SELECT op_id, kind, performed_by, performed_at, reason, detail, undoes, undone_by
FROM identity.operations WHERE org_id = %(org_id)s AND op_id = %(op_id)s

-- identity_latest_model --
-- The matcher parameters last estimated for an org.
SELECT params FROM identity.matcher_models WHERE org_id = %(org_id)s
ORDER BY model_id DESC LIMIT 1

-- identity_store_model --
-- Store newly estimated matcher parameters.
INSERT INTO identity.matcher_models (org_id, pairs, params)
VALUES (%(org_id)s, %(pairs)s, %(params)s::jsonb)

-- identity_actor_count --
-- How many accounts an org has.
SELECT count(*) FROM core.actors WHERE org_id = %(org_id)s

-- people_find --
-- The persons a text (person id, account id, email or login) names.
SELECT person_id, matched_by FROM identity.find_persons(auth.org_id(%(org)s), %(who)s)

-- people_person_of --
-- The one person a text names (an error when none or several).
SELECT identity.person_of(auth.org_id(%(org)s), %(who)s)

-- people_detail --
-- A person with every account and why it is linked, teams over time and operations.
SELECT identity.person_detail(auth.org_id(%(org)s), %(person_id)s)

-- people_merge --
-- Merge the second person into the first (an admin's operation).
SELECT identity.merge(auth.org_id(%(org)s), %(into)s, %(from)s, %(by)s, %(reason)s)

-- people_split --
-- Move some accounts of a person to a new person (an admin's operation).
SELECT identity.split(auth.org_id(%(org)s), %(person_id)s, %(actors)s, %(by)s, %(reason)s)

-- people_link --
-- Pin an account to a person (an admin's operation).
SELECT identity.link(auth.org_id(%(org)s), %(actor_id)s, %(person_id)s, %(by)s, %(reason)s)

-- people_undo --
-- Undo an admin's operation.
SELECT identity.undo(auth.org_id(%(org)s), %(op_id)s, %(by)s, %(reason)s)

-- people_review_list --
-- Pending review pairs, most probable first, with both accounts.
SELECT q.actor_id, a.display_name, a.login, a.emails, q.other_actor_id, b.display_name,
       b.login, b.emails, q.probability, q.evidence
FROM identity.review_queue q
JOIN core.actors a ON a.org_id = q.org_id AND a.actor_id = q.actor_id
JOIN core.actors b ON b.org_id = q.org_id AND b.actor_id = q.other_actor_id
WHERE q.org_id = auth.org_id(%(org)s) AND q.status = 'pending'
ORDER BY q.probability DESC, q.actor_id, q.other_actor_id
LIMIT %(limit)s

-- people_review_decide --
-- Accept or reject a review pair.
SELECT identity.review(auth.org_id(%(org)s), %(a)s, %(b)s, %(accept)s, %(by)s)

-- people_login_group_set --
-- Declare providers whose logins come from one identity provider.
INSERT INTO identity.login_groups (org_id, name, providers)
VALUES (auth.org_id(%(org)s), %(name)s, %(providers)s)
ON CONFLICT ON CONSTRAINT login_groups_pkey DO UPDATE SET providers = excluded.providers

-- people_login_group_accounts --
-- Queue the accounts of some providers for resolution (their keys changed).
INSERT INTO identity.pending (org_id, actor_id)
SELECT org_id, actor_id FROM core.actors
WHERE org_id = auth.org_id(%(org)s) AND provider = ANY(%(providers)s)
ON CONFLICT ON CONSTRAINT pending_pkey DO UPDATE SET queued_at = clock_timestamp()

-- people_stats --
-- Persons, accounts by link method, and pending work of an org.
SELECT (SELECT count(*) FROM identity.persons p
        WHERE p.org_id = o AND p.merged_into IS NULL AND NOT p.is_bot
          AND EXISTS (SELECT 1 FROM identity.links l
                      WHERE l.org_id = o AND l.person_id = p.person_id)) AS people,
       (SELECT count(*) FROM identity.persons p
        WHERE p.org_id = o AND p.merged_into IS NULL AND p.is_bot) AS bots,
       (SELECT jsonb_object_agg(method, n) FROM (
            SELECT method, count(*) AS n FROM identity.links WHERE org_id = o
            GROUP BY method) m) AS methods,
       (SELECT count(*) FROM identity.pending WHERE org_id = o) AS pending,
       (SELECT count(*) FROM identity.review_queue
        WHERE org_id = o AND status = 'pending') AS reviews
FROM auth.org_id(%(org)s) AS o

-- team_add_member --
-- Put a person on a team for a span of time.
SELECT identity.add_membership(auth.org_id(%(org)s), %(team)s, %(person_id)s, %(from)s,
                               %(to)s, %(role)s)

-- team_end_member --
-- End a person's open membership of a team.
SELECT identity.end_membership(auth.org_id(%(org)s), %(team)s, %(person_id)s, %(at)s)

-- team_members_at --
-- A team's members at a moment.
SELECT person_id, display_name, primary_email, role, since, until
FROM identity.team_members_at(auth.org_id(%(org)s), %(team)s, %(at)s)

-- identity_stale_tables --
-- The tables identity resolution joins whose statistics lag their changes by more than
-- a thousand rows. Absolute, not autovacuum's share of the table: in a table shared by
-- many orgs a new org's rows are a small share, and until they are sampled the planner
-- takes the org for one row and scans all of it for every probe.
SELECT quote_ident(schemaname) || '.' || quote_ident(relname)
FROM pg_stat_user_tables
WHERE (schemaname, relname) IN (('core', 'actors'), ('identity', 'keys'),
                                ('identity', 'links'), ('identity', 'persons'))
  AND n_mod_since_analyze > 1000
ORDER BY 1
