-- Normalization: raw events through their source's normalizer into facts, snapshots,
-- outcomes and recomputed canonical rows.
--
-- A source takes part by defining core.normalize_<source>(core.inbound[]) RETURNS SETOF
-- core.fact in sources/<source>/normalize.sql; nothing here names a source.

-- An advisory lock key per org and purpose: 'replay' (held exclusively by a replay of the
-- org, shared by the batches that touch it) and 'refresh' (held by the one transaction
-- recomputing the org's canonical rows).
CREATE OR REPLACE FUNCTION core.org_lock_key(p_org_id uuid, p_purpose text)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT ('x' || left(md5('qdx.' || p_purpose || ':' || p_org_id::text), 16))::bit(64)::bigint
$$;

-- The raw events with these ids as normalizers see them (body parsed, with the content
-- type it was stored with).
CREATE OR REPLACE FUNCTION core.inbound_events(p_org_ids uuid[], p_event_ids uuid[],
                                               p_received_at timestamptz[])
RETURNS core.inbound[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(ROW(e.org_id, e.event_id, e.received_at, e.source, e.event_type,
                                  e.body_sha256, e.headers, core.parse_json(e.body),
                                  e.content_type)::core.inbound
                              ORDER BY e.received_at, e.event_id), '{}')
    FROM unnest(p_org_ids, p_event_ids, p_received_at) AS k(org_id, event_id, received_at)
    JOIN raw.events e
      ON e.org_id = k.org_id AND e.received_at = k.received_at AND e.event_id = k.event_id
$$;

-- Run one source's normalizer over its events. Should the set-based call fail, each event
-- is tried alone and the ones that still fail are marked failed with the error, so one
-- malformed payload never holds back the others. Transient errors (deadlock,
-- serialization, lock or statement timeout) are raised: the caller retries the batch.
CREATE OR REPLACE FUNCTION core._run_normalizer(p_source text, p_events core.inbound[])
RETURNS core.fact[] LANGUAGE plpgsql AS $$
DECLARE
    v_sql text := format('SELECT coalesce(array_agg(f), ''{}'') FROM core.%I($1) f',
                         'normalize_' || p_source);
    v_facts core.fact[];
    v_all core.fact[] := '{}';
    v_event core.inbound;
BEGIN
    BEGIN
        EXECUTE v_sql INTO v_facts USING p_events;
        RETURN v_facts;
    EXCEPTION
        WHEN transaction_rollback OR lock_not_available OR query_canceled THEN RAISE;
        WHEN OTHERS THEN NULL;  -- isolate the culprit below
    END;
    FOREACH v_event IN ARRAY p_events LOOP
        BEGIN
            EXECUTE v_sql INTO v_facts USING ARRAY[v_event];
            v_all := v_all || v_facts;
        EXCEPTION
            WHEN transaction_rollback OR lock_not_available OR query_canceled THEN RAISE;
            WHEN OTHERS THEN
                v_all := v_all || ROW(v_event.event_id, 'failed', '', v_event.received_at,
                                      jsonb_build_object('reason', SQLERRM))::core.fact;
        END;
    END LOOP;
    RETURN v_all;
END $$;

-- Normalize a batch of events (any orgs and sources): store what each says, record each
-- event's outcome and recompute the canonical rows whose facts changed (with
-- p_refresh_all, every row the events speak of: a replay also repairs rows computed by an
-- older version of the refresh functions). Normalizing an event again with the same
-- result writes nothing. Returns the count per outcome.
DROP FUNCTION IF EXISTS core.normalize_events(core.inbound[]);
CREATE OR REPLACE FUNCTION core.normalize_events(p_events core.inbound[],
                                                 p_refresh_all boolean DEFAULT false)
RETURNS TABLE (status text, events bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_source text;
    v_touched core.entity_ref[];
BEGIN
    -- Working sets of this call, in temporary tables (analyzed below) rather than arrays:
    -- joining arrays plans as nested loops, quadratic in the batch size. A session that ran
    -- an older version of this function may hold _qdx_events without its last column.
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = to_regclass('pg_temp._qdx_events') AND attname = 'form') THEN
        DROP TABLE IF EXISTS pg_temp._qdx_events;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_events (
        org_id uuid, event_id uuid, source text, event_type text, received_at timestamptz,
        tiebreak bytea, parsed boolean, form boolean) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_said (
        event_id uuid, entity text, entity_id text, observed_at timestamptz, attrs jsonb)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_facts (
        org_id uuid, event_id uuid, entity text, entity_id text, observed_at timestamptz,
        tiebreak bytea, attrs jsonb) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_touched (
        org_id uuid, entity text, entity_id text) ON COMMIT DELETE ROWS;
    TRUNCATE _qdx_events, _qdx_said, _qdx_facts, _qdx_touched;

    -- A body that is not JSON fails its source's normalizer, unless it is declared
    -- form-encoded: a documented format (slash commands, interactions) no normalizer reads.
    INSERT INTO _qdx_events
    SELECT e.org_id, e.event_id, e.source, e.event_type, e.received_at, e.tiebreak,
           e.payload IS NOT NULL,
           coalesce(btrim(split_part(lower(e.content_type), ';', 1))
                    = 'application/x-www-form-urlencoded', false)
    FROM unnest(p_events) e;

    FOR v_source IN SELECT DISTINCT e.source FROM _qdx_events e ORDER BY 1 LOOP
        CONTINUE WHEN v_source !~ '^[a-z][a-z0-9_]*$'
            OR to_regprocedure(format('core.normalize_%s(core.inbound[])', v_source)) IS NULL;
        INSERT INTO _qdx_said
        SELECT f.event_id, f.entity, f.entity_id, f.observed_at, f.attrs
        FROM unnest(core._run_normalizer(v_source, ARRAY(
            SELECT e FROM unnest(p_events) e
            WHERE e.source = v_source AND e.payload IS NOT NULL))) f
        WHERE f.entity IS NOT NULL;
    END LOOP;
    ANALYZE _qdx_events, _qdx_said;

    -- What the batch says, one row per (event, entity); an event's several statements
    -- about one entity are merged. Failed events contribute nothing.
    INSERT INTO _qdx_facts
    SELECT e.org_id, f.event_id, f.entity, f.entity_id, min(f.observed_at), e.tiebreak,
           core.jsonb_merge(core.drop_empty(f.attrs) ORDER BY f.attrs)
    FROM _qdx_said f
    JOIN _qdx_events e ON e.event_id = f.event_id
    WHERE f.entity <> 'failed'
      AND NOT EXISTS (SELECT 1 FROM _qdx_said x
                      WHERE x.event_id = f.event_id AND x.entity = 'failed')
    GROUP BY e.org_id, f.event_id, f.entity, f.entity_id, e.tiebreak;
    ANALYZE _qdx_facts;

    -- Facts these events made before and make no longer (a replay after a normalizer
    -- changed, or an event that now fails).
    WITH gone AS (
        DELETE FROM core.facts t
        USING _qdx_events e
        WHERE t.org_id = e.org_id AND t.event_id = e.event_id
          AND NOT EXISTS (SELECT 1 FROM _qdx_facts n
                          WHERE n.org_id = t.org_id AND n.event_id = t.event_id
                            AND n.entity = t.entity AND n.entity_id = t.entity_id)
        RETURNING t.org_id, t.entity, t.entity_id
    )
    INSERT INTO _qdx_touched SELECT * FROM gone;

    WITH written AS (
        INSERT INTO core.facts AS t (org_id, entity, entity_id, event_id, observed_at,
                                     tiebreak, attrs)
        SELECT org_id, entity, entity_id, event_id, observed_at, tiebreak, attrs
        FROM _qdx_facts WHERE entity NOT IN ('actor', 'repo')
        ORDER BY org_id, entity, entity_id, event_id
        ON CONFLICT ON CONSTRAINT facts_pkey DO UPDATE SET
            observed_at = excluded.observed_at, tiebreak = excluded.tiebreak,
            attrs = excluded.attrs
        WHERE (t.observed_at, t.tiebreak, t.attrs)
              IS DISTINCT FROM (excluded.observed_at, excluded.tiebreak, excluded.attrs)
        RETURNING t.org_id, t.entity, t.entity_id
    )
    INSERT INTO _qdx_touched SELECT * FROM written;

    -- Snapshots are content-addressed: a known content only widens its time span.
    WITH written AS (
        INSERT INTO core.snapshots AS t (org_id, entity, entity_id, digest, attrs,
                                         first_observed_at, last_observed_at, first_event_id)
        SELECT org_id, entity, entity_id, md5(attrs::text)::uuid, attrs, min(observed_at),
               max(observed_at),
               (array_agg(event_id ORDER BY observed_at, event_id))[1]
        FROM _qdx_facts WHERE entity IN ('actor', 'repo')
        GROUP BY org_id, entity, entity_id, attrs
        ORDER BY org_id, entity, entity_id, md5(attrs::text)::uuid
        ON CONFLICT ON CONSTRAINT snapshots_pkey DO UPDATE SET
            first_observed_at = least(t.first_observed_at, excluded.first_observed_at),
            last_observed_at = greatest(t.last_observed_at, excluded.last_observed_at),
            first_event_id = CASE
                WHEN (excluded.first_observed_at, excluded.first_event_id)
                     < (t.first_observed_at, t.first_event_id)
                THEN excluded.first_event_id ELSE t.first_event_id END
        WHERE excluded.first_observed_at < t.first_observed_at
           OR excluded.last_observed_at > t.last_observed_at
           OR (excluded.first_observed_at = t.first_observed_at
               AND excluded.first_event_id < t.first_event_id)
        RETURNING t.org_id, t.entity, t.entity_id
    )
    INSERT INTO _qdx_touched SELECT * FROM written;

    IF p_refresh_all THEN
        INSERT INTO _qdx_touched SELECT org_id, entity, entity_id FROM _qdx_facts;
    END IF;
    v_touched := ARRAY(SELECT DISTINCT ROW(org_id, entity, entity_id)::core.entity_ref
                       FROM _qdx_touched);
    -- A canonical row is computed from every fact about it, its neighbours' included; two
    -- transactions recomputing one org at once could each miss the other's new facts. So
    -- recomputing is serialized per org (normalizers and fact writes above run in
    -- parallel), and each statement below sees what the previous holder committed.
    PERFORM pg_advisory_xact_lock(core.org_lock_key(o, 'refresh'))
    FROM (SELECT DISTINCT e.org_id AS o FROM _qdx_events e ORDER BY 1) orgs;
    PERFORM core.refresh(v_touched);

    -- Outcomes: normalized (it said something), failed (with the reason) or ignored.
    RETURN QUERY
    WITH failed AS (
        SELECT x.event_id, string_agg(DISTINCT x.attrs->>'reason', '; ') AS reason
        FROM _qdx_said x WHERE x.entity = 'failed' GROUP BY x.event_id
    ), said AS (
        SELECT DISTINCT x.event_id FROM _qdx_facts x
    ), normalizers AS (
        SELECT s.source,
               to_regprocedure(format('core.normalize_%s(core.inbound[])', s.source)) AS fn
        FROM (SELECT DISTINCT e.source FROM _qdx_events e) s
    ), outcome AS (
        SELECT e.org_id, e.event_id, e.source, e.event_type, e.received_at,
               CASE WHEN fl.reason IS NOT NULL
                         OR (NOT e.parsed AND NOT e.form AND n.fn IS NOT NULL)
                        THEN 'failed'
                    WHEN sd.event_id IS NOT NULL THEN 'normalized'
                    ELSE 'ignored' END AS status,
               CASE WHEN fl.reason IS NOT NULL THEN fl.reason
                    WHEN n.fn IS NULL THEN 'no normalizer for ' || e.source
                    WHEN NOT e.parsed AND e.form
                        THEN 'form-encoded body: not used by the ' || e.source
                             || ' normalizer'
                    WHEN NOT e.parsed THEN 'body is not a JSON document'
                    WHEN sd.event_id IS NULL
                        THEN 'nothing in ' || e.event_type || ' is used by the model'
               END AS reason
        FROM _qdx_events e
        JOIN normalizers n ON n.source = e.source
        LEFT JOIN failed fl ON fl.event_id = e.event_id
        LEFT JOIN said sd ON sd.event_id = e.event_id
    ), written AS (
        INSERT INTO core.event_outcomes AS t (org_id, event_id, source, event_type, received_at,
                                              status, reason)
        SELECT o.org_id, o.event_id, o.source, o.event_type, o.received_at, o.status, o.reason
        FROM outcome o
        ORDER BY o.org_id, o.event_id
        ON CONFLICT ON CONSTRAINT event_outcomes_pkey DO UPDATE SET
            status = excluded.status, reason = excluded.reason, updated_at = now()
        WHERE (t.status, t.reason) IS DISTINCT FROM (excluded.status, excluded.reason)
    )
    SELECT o.status, count(*) FROM outcome o GROUP BY o.status ORDER BY o.status;
END $$;
