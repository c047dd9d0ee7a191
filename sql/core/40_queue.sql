-- Draining the pgmq queue `ingest` and replaying the event log.
--
-- A worker claims a batch in one transaction (pgmq's SKIP LOCKED read, which hides the
-- messages for the visibility timeout and counts the attempt) and applies it in a second.
-- A crash or error during the apply rolls it back: the messages come back when their
-- timeout ends, and normalization is idempotent, so nothing is lost or applied twice.

-- Claim up to p_qty messages for p_vt seconds. Messages already read more than
-- p_max_attempts times are dead-lettered (archived, outcome `dead` with the last error)
-- instead of returned.
CREATE OR REPLACE FUNCTION core.claim_ingest(p_qty int, p_vt int, p_max_attempts int)
RETURNS TABLE (msg_id bigint, read_ct int) LANGUAGE plpgsql AS $$
DECLARE
    v_dead bigint[];
BEGIN
    IF p_qty < 1 OR p_vt < 1 OR p_max_attempts < 1 THEN
        RAISE EXCEPTION 'batch size, visibility timeout and attempts must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_claimed (
        msg_id bigint, read_ct int, message jsonb) ON COMMIT DELETE ROWS;
    TRUNCATE _qdx_claimed;
    INSERT INTO _qdx_claimed
    SELECT m.msg_id, m.read_ct, m.message FROM pgmq.read('ingest', p_vt, p_qty) m;

    WITH dead AS (
        SELECT c.msg_id, c.read_ct, (c.message->>'org_id')::uuid AS org_id,
               (c.message->>'event_id')::uuid AS event_id,
               (c.message->>'received_at')::timestamptz AS received_at
        FROM _qdx_claimed c WHERE c.read_ct > p_max_attempts
    ), recorded AS (
        INSERT INTO core.event_outcomes AS t (org_id, event_id, source, event_type, received_at,
                                              status, reason, attempts)
        SELECT e.org_id, e.event_id, e.source, e.event_type, e.received_at, 'dead',
               format('gave up after %s attempts', d.read_ct - 1), d.read_ct - 1
        FROM dead d
        JOIN raw.events e ON e.org_id = d.org_id AND e.received_at = d.received_at
                         AND e.event_id = d.event_id
        ON CONFLICT ON CONSTRAINT event_outcomes_pkey DO UPDATE SET
            status = 'dead',
            reason = excluded.reason || coalesce(': ' || t.reason, ''),
            attempts = excluded.attempts, updated_at = now()
    )
    SELECT coalesce(array_agg(d.msg_id), '{}') INTO v_dead FROM dead d;
    IF cardinality(v_dead) > 0 THEN
        PERFORM pgmq.archive('ingest', v_dead);
    END IF;

    RETURN QUERY SELECT c.msg_id, c.read_ct FROM _qdx_claimed c
                 WHERE c.read_ct <= p_max_attempts ORDER BY c.msg_id;
END $$;

-- Normalize the events of claimed messages and archive the messages, in the caller's
-- transaction. Returns the count per outcome. Under the worker role the transaction has
-- set one org (the normalizer applies a batch per org): every message must be of that
-- org and its event visible, or nothing is applied (a message archived unread would be
-- an event lost).
CREATE OR REPLACE FUNCTION core.apply_ingest(p_msg_ids bigint[])
RETURNS TABLE (status text, events bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_org_ids uuid[];
    v_event_ids uuid[];
    v_received_at timestamptz[];
    v_org uuid := auth.caller_org();
    v_events core.inbound[];
BEGIN
    SELECT array_agg((q.message->>'org_id')::uuid), array_agg((q.message->>'event_id')::uuid),
           array_agg((q.message->>'received_at')::timestamptz)
    INTO v_org_ids, v_event_ids, v_received_at
    FROM pgmq.q_ingest q WHERE q.msg_id = ANY (p_msg_ids);
    IF v_org IS NOT NULL
       AND EXISTS (SELECT FROM unnest(v_org_ids) o WHERE o IS DISTINCT FROM v_org) THEN
        RAISE EXCEPTION 'ingest messages of another org than the transaction''s'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- A replay of an org holds its lock exclusively: wait for it rather than interleave.
    PERFORM pg_advisory_xact_lock_shared(core.org_lock_key(o, 'replay'))
    FROM (SELECT DISTINCT unnest(v_org_ids) AS o ORDER BY 1) orgs;
    v_events := core.inbound_events(v_org_ids, v_event_ids, v_received_at);
    IF cardinality(v_events) <> coalesce(cardinality(v_event_ids), 0) THEN
        RAISE EXCEPTION '% of % ingest messages name an event this transaction cannot read',
            coalesce(cardinality(v_event_ids), 0) - cardinality(v_events),
            coalesce(cardinality(v_event_ids), 0)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY SELECT * FROM core.normalize_events(v_events);
    PERFORM pgmq.archive('ingest', p_msg_ids);
END $$;

-- A batch could not be applied (a transient error): record the error on its events and
-- hide the messages for an exponential back-off (5 s doubling per attempt, at most 10 min).
CREATE OR REPLACE FUNCTION core.defer_ingest(p_msg_ids bigint[], p_error text)
RETURNS void LANGUAGE sql AS $$
    WITH m AS (
        SELECT q.msg_id, q.read_ct, (q.message->>'org_id')::uuid AS org_id,
               (q.message->>'event_id')::uuid AS event_id,
               (q.message->>'received_at')::timestamptz AS received_at
        FROM pgmq.q_ingest q WHERE q.msg_id = ANY (p_msg_ids)
    ), backoff AS (
        UPDATE pgmq.q_ingest q
        SET vt = clock_timestamp() + make_interval(secs => least(600, 5 * 2 ^ (m.read_ct - 1)))
        FROM m WHERE q.msg_id = m.msg_id
    )
    INSERT INTO core.event_outcomes AS t (org_id, event_id, source, event_type, received_at,
                                          status, reason, attempts)
    SELECT e.org_id, e.event_id, e.source, e.event_type, e.received_at, 'retrying',
           left(p_error, 2000), m.read_ct
    FROM m JOIN raw.events e ON e.org_id = m.org_id AND e.received_at = m.received_at
                            AND e.event_id = m.event_id
    ORDER BY e.org_id, e.event_id
    ON CONFLICT ON CONSTRAINT event_outcomes_pkey DO UPDATE SET
        status = 'retrying', reason = excluded.reason, attempts = excluded.attempts,
        updated_at = now()
$$;

-- Messages waiting in the ingest queue (visible now or later) and the oldest one's age.
CREATE OR REPLACE FUNCTION core.ingest_backlog()
RETURNS TABLE (queued bigint, oldest_age interval) LANGUAGE sql STABLE AS $$
    SELECT count(*), clock_timestamp() - min(q.enqueued_at) FROM pgmq.q_ingest q
$$;


-- The chunks of an org's log (optionally from a time, of one source) for a replay: the
-- last (received_at, event_id) of every p_chunk events, in log order, the last event
-- included. Chunk k is the events after bound k-1 up to bound k.
CREATE OR REPLACE FUNCTION core.replay_bounds(p_org_id uuid, p_since timestamptz,
                                              p_source text, p_chunk int)
RETURNS TABLE (received_at timestamptz, event_id uuid, events bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.received_at, x.event_id, x.n FROM (
        SELECT r.received_at, r.event_id,
               row_number() OVER (ORDER BY r.received_at, r.event_id) AS n,
               count(*) OVER () AS total
        FROM raw.events r
        WHERE r.org_id = p_org_id AND r.received_at >= coalesce(p_since, '-infinity')
          AND (p_source IS NULL OR r.source = p_source)) x
    WHERE x.n % p_chunk = 0 OR x.n = x.total
    ORDER BY x.n
$$;

-- Normalize again an org's events after one bound up to another (NULL: from the start,
-- to the end), recomputing every canonical row they speak of (written only where it
-- differs). Returns the count per outcome.
CREATE OR REPLACE FUNCTION core.replay_range(
    p_org_id uuid, p_since timestamptz, p_source text,
    p_after_received_at timestamptz, p_after_event_id uuid,
    p_until_received_at timestamptz, p_until_event_id uuid)
RETURNS TABLE (status text, events bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_org_ids uuid[];
    v_event_ids uuid[];
    v_received_at timestamptz[];
BEGIN
    SELECT array_agg(r.org_id), array_agg(r.event_id), array_agg(r.received_at)
    INTO v_org_ids, v_event_ids, v_received_at
    FROM raw.events r
    WHERE r.org_id = p_org_id
      AND r.received_at >= coalesce(p_since, '-infinity')
      AND (p_source IS NULL OR r.source = p_source)
      AND (p_after_received_at IS NULL
           OR (r.received_at, r.event_id) > (p_after_received_at, p_after_event_id))
      AND (p_until_received_at IS NULL
           OR (r.received_at, r.event_id) <= (p_until_received_at, p_until_event_id));
    IF v_event_ids IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT n.status, n.events FROM core.normalize_events(
        core.inbound_events(v_org_ids, v_event_ids, v_received_at), true) n;
END $$;

DROP FUNCTION IF EXISTS core.begin_replay(uuid, timestamptz, text);
DROP FUNCTION IF EXISTS core.replay_events(uuid, timestamptz, text, timestamptz, uuid, int);
