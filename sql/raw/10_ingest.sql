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
