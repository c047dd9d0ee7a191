-- claim_ingest --
-- Claim a batch of ingest messages (SKIP LOCKED, hidden for the visibility timeout), with each one's org; dead-letter the exhausted.
SELECT c.msg_id, c.read_ct, (q.message->>'org_id')::uuid AS org_id
FROM core.claim_ingest(%(qty)s, %(vt)s, %(max_attempts)s) c
JOIN pgmq.q_ingest q ON q.msg_id = c.msg_id
ORDER BY c.msg_id

-- apply_ingest --
-- Normalize the events of claimed messages and archive the messages.
SELECT status, events FROM core.apply_ingest(%(msg_ids)s)

-- defer_ingest --
-- Record a batch's transient error and hide its messages for an exponential back-off.
SELECT core.defer_ingest(%(msg_ids)s, %(error)s)

-- ingest_backlog --
-- Messages waiting in the ingest queue and the age of the oldest.
SELECT queued, oldest_age FROM core.ingest_backlog()

-- replay_bounds --
-- The chunks of an org's log for a replay: the last event of each.
SELECT received_at, event_id, events
FROM core.replay_bounds(%(org_id)s, %(since)s, %(source)s, %(chunk)s)

-- replay_range --
-- Normalize again an org's events between two bounds, recomputing their canonical rows.
SELECT status, events
FROM core.replay_range(%(org_id)s, %(since)s, %(source)s, %(after_received_at)s,
                       %(after_event_id)s, %(until_received_at)s, %(until_event_id)s)

-- failed_events --
-- An org's events that failed, are retrying or were given up, newest first.
SELECT o.event_id, o.source, o.event_type, o.status, o.attempts, o.reason, o.received_at,
       o.updated_at
FROM core.event_outcomes o JOIN auth.orgs g ON g.org_id = o.org_id
WHERE g.slug = %(org)s AND o.status IN ('failed', 'retrying', 'dead')
ORDER BY o.updated_at DESC, o.event_id
LIMIT %(limit)s

-- event_outcome_counts --
-- An org's events per source and outcome.
SELECT o.source, o.status, count(*)
FROM core.event_outcomes o JOIN auth.orgs g ON g.org_id = o.org_id
WHERE g.slug = %(org)s
GROUP BY o.source, o.status ORDER BY o.source, o.status

-- lock_org_for_replay --
-- Hold an org's replay lock for this session: running batches of its events finish first, new ones wait.
SELECT pg_advisory_lock(core.org_lock_key(auth.org_id(%(org)s), 'replay')), auth.org_id(%(org)s)

-- unlock_org_for_replay --
-- Release the session's replay lock on an org.
SELECT pg_advisory_unlock(core.org_lock_key(%(org_id)s, 'replay'))

-- org_exists --
-- Raise NotFound for an unknown org slug.
SELECT auth.org_id(%(org)s)

-- prune_ingest_archive --
-- Delete archived ingest messages older than the retention (the events stay in raw.events).
DELETE FROM pgmq.a_ingest WHERE archived_at < now() - make_interval(days => %(days)s)

-- add_environment_rule --
-- Add an org's environment rule at a position (default last) and reclassify its deploys.
SELECT rule_position, reclassified
FROM core.add_environment_rule(%(org)s, %(pattern)s, %(class)s, %(position)s)

-- remove_environment_rule --
-- Remove an org's environment rule and reclassify its deploys.
SELECT core.remove_environment_rule(%(org)s, %(position)s)

-- environment_rules --
-- An org's environment rules in order.
SELECT r.position, r.pattern, r.class
FROM core.environment_rules r WHERE r.org_id = auth.org_id(%(org)s)
ORDER BY r.position
