-- The event log: accepting deliveries exactly once, and keeping partitions ahead.

-- Accept one delivery: claim its key, store the event and queue it for normalization, in
-- the caller's transaction. Returns the event id and whether it was new; a key already
-- claimed (a retry, or a concurrent copy that committed first) returns the first id.
CREATE OR REPLACE FUNCTION raw.accept_event(
    p_org_id uuid, p_endpoint_id uuid, p_source text, p_delivery_key text,
    p_event_type text, p_content_type text, p_headers jsonb, p_body bytea)
RETURNS TABLE (event_id uuid, is_new boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_now timestamptz := clock_timestamp();
    v_existing uuid;
BEGIN
    INSERT INTO raw.deliveries (org_id, source, delivery_key, event_id, received_at)
    VALUES (p_org_id, p_source, p_delivery_key, v_event_id, v_now)
    ON CONFLICT ON CONSTRAINT deliveries_pkey DO NOTHING;
    IF NOT FOUND THEN
        SELECT d.event_id INTO v_existing FROM raw.deliveries d
        WHERE d.org_id = p_org_id AND d.source = p_source AND d.delivery_key = p_delivery_key;
        RETURN QUERY SELECT v_existing, false;
        RETURN;
    END IF;
    INSERT INTO raw.events (org_id, received_at, event_id, endpoint_id, source, event_type,
                            delivery_key, content_type, headers, body, body_sha256)
    VALUES (p_org_id, v_now, v_event_id, p_endpoint_id, p_source, p_event_type,
            p_delivery_key, p_content_type, p_headers, p_body, sha256(p_body));
    PERFORM pgmq.send('ingest', jsonb_build_object(
        'event_id', v_event_id, 'org_id', p_org_id, 'source', p_source,
        'received_at', v_now));
    RETURN QUERY SELECT v_event_id, true;
END $$;

-- Accept a batch of deliveries (the group committer's) in one call: the same outcome as
-- raw.accept_event for each in input order, in the caller's transaction, but with one
-- statement per step and org for the whole batch (one round trip, one queue insert, no
-- per-row function calls). The caller orders the batch by key: one lock order for every
-- batch. The deliveries of each org are stored with that org set for the transaction
-- (qdx.org_id), so under the worker role (qdx_worker) row-level security admits only
-- that org's rows in each statement: a delivery can only land in its own org.
-- p_body_sha256: each body's sha256, computed by the caller from the same bytes (this
-- server's own sha256, built without OpenSSL, costs about 5x the CPU of Python's).
-- Returns one row per input: its 1-based position, the event id (the first one
-- for a key already claimed, in an earlier transaction or earlier in this batch) and
-- whether it is new.
CREATE OR REPLACE FUNCTION raw.accept_events(
    p_org_id uuid[], p_endpoint_id uuid[], p_source text[], p_delivery_key text[],
    p_event_type text[], p_content_type text[], p_headers jsonb[], p_body bytea[],
    p_body_sha256 bytea[])
RETURNS TABLE (ord int, event_id uuid, is_new boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_n int := coalesce(cardinality(p_delivery_key), 0);
    v_ids uuid[];
    v_org uuid;
    v_new int[];
    v_all_new int[] := '{}';
    v_ord int[] := '{}';
    v_event_ids uuid[] := '{}';
BEGIN
    IF v_n = 0 THEN
        RETURN;
    END IF;
    IF array_position(p_org_id, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'every delivery needs an org' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_ids := ARRAY(SELECT gen_random_uuid() FROM generate_series(1, v_n));
    FOR v_org IN SELECT DISTINCT o FROM unnest(p_org_id) AS o ORDER BY 1 LOOP
        PERFORM set_config('qdx.org_id', v_org::text, true);
        -- ON CONFLICT DO NOTHING also skips a second copy of a key within this batch.
        WITH claimed AS (
            INSERT INTO raw.deliveries AS d (org_id, source, delivery_key, event_id,
                                             received_at)
            SELECT p_org_id[i], p_source[i], p_delivery_key[i], v_ids[i], v_now
            FROM generate_series(1, v_n) AS i
            WHERE p_org_id[i] = v_org
            ORDER BY i
            ON CONFLICT ON CONSTRAINT deliveries_pkey DO NOTHING
            RETURNING d.event_id
        )
        SELECT array_agg(n.i ORDER BY n.i) INTO v_new
        FROM claimed c JOIN unnest(v_ids) WITH ORDINALITY AS n(id, i) ON n.id = c.event_id;
        IF v_new IS NOT NULL THEN
            INSERT INTO raw.events (org_id, received_at, event_id, endpoint_id, source,
                                    event_type, delivery_key, content_type, headers, body,
                                    body_sha256)
            SELECT p_org_id[i], v_now, v_ids[i], p_endpoint_id[i], p_source[i],
                   p_event_type[i], p_delivery_key[i], p_content_type[i], p_headers[i],
                   p_body[i], p_body_sha256[i]
            FROM unnest(v_new) AS i;
            v_all_new := v_all_new || v_new;
        END IF;
        -- A statement of its own: it sees keys that a concurrent transaction committed
        -- while this one waited on them.
        SELECT v_ord || array_agg(i ORDER BY i),
               v_event_ids || array_agg(CASE WHEN i = ANY (v_new) THEN v_ids[i] ELSE (
                   SELECT d.event_id FROM raw.deliveries d
                   WHERE d.org_id = v_org AND d.source = p_source[i]
                     AND d.delivery_key = p_delivery_key[i]) END ORDER BY i)
        INTO v_ord, v_event_ids
        FROM generate_series(1, v_n) AS i
        WHERE p_org_id[i] = v_org;
    END LOOP;
    -- What pgmq.send_batch('ingest', ...) does, as a static statement: send_batch builds
    -- and plans its INSERT anew on every call (EXECUTE format(...)).
    INSERT INTO pgmq.q_ingest (vt, message)
    SELECT clock_timestamp(),
           jsonb_build_object('event_id', v_ids[i], 'org_id', p_org_id[i],
                              'source', p_source[i], 'received_at', v_now)
    FROM unnest(v_all_new) AS i
    ORDER BY i;
    RETURN QUERY
    SELECT r.i, r.event_id, r.i = ANY (v_all_new)
    FROM unnest(v_ord, v_event_ids) AS r(i, event_id)
    ORDER BY r.i;
END $$;

-- The name of the monthly partition of raw.events that holds a day.
CREATE OR REPLACE FUNCTION raw.event_partition_name(p_day date)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'events_' || to_char(p_day, 'YYYY"m"MM')
$$;

-- Create the monthly partitions of raw.events from the month of p_from for p_months
-- months ahead; rows the default partition caught for such a month move into it.
-- Returns the partitions created. Safe to run concurrently (it takes a lock).
CREATE OR REPLACE FUNCTION raw.ensure_event_partitions(p_from date, p_months int DEFAULT 3)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_start date;
    v_end date;
    v_name text;
    v_ddl text;
BEGIN
    IF p_months < 0 OR p_months > 120 THEN
        RAISE EXCEPTION 'months ahead must be between 0 and 120, got %', p_months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('raw.ensure_event_partitions'));
    FOR i IN 0 .. p_months LOOP
        v_start := (date_trunc('month', p_from) + make_interval(months => i))::date;
        v_end := (v_start + interval '1 month')::date;
        v_name := raw.event_partition_name(v_start);
        CONTINUE WHEN to_regclass(format('raw.%I', v_name)) IS NOT NULL;
        v_ddl := format('CREATE TABLE raw.%I PARTITION OF raw.events FOR VALUES FROM (%L) TO (%L)',
                        v_name, v_start, v_end);
        IF EXISTS (SELECT 1 FROM raw.events_default
                   WHERE received_at >= v_start AND received_at < v_end) THEN
            -- A partition cannot be attached over rows the default partition holds:
            -- take them out, attach, put them back through the parent.
            CREATE TEMP TABLE _qdx_moved ON COMMIT DROP AS
                SELECT * FROM raw.events_default
                WHERE received_at >= v_start AND received_at < v_end;
            DELETE FROM raw.events_default WHERE received_at >= v_start AND received_at < v_end;
            EXECUTE v_ddl;
            INSERT INTO raw.events SELECT * FROM _qdx_moved;
            DROP TABLE _qdx_moved;
        ELSE
            EXECUTE v_ddl;
        END IF;
        RETURN NEXT v_name;
    END LOOP;
END $$;
