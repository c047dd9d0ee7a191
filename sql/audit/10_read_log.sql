-- The audit log of reads (migration 0008): appended by audit.record, checked by
-- audit.verify. Rows are chained per org by SHA-256; see the migration for the model.

-- Where every org's chain starts.
CREATE OR REPLACE FUNCTION audit.genesis() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
$$;

-- The hash of a row: SHA-256 of the previous row's hash and the row's content in a
-- canonical form (a JSON array: jsonb prints keys and numbers one way; the time as
-- microseconds since the epoch, whatever the session's time zone or date style).
CREATE OR REPLACE FUNCTION audit.digest(p_prev bytea, r audit.read_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(p_prev || convert_to(jsonb_build_array(
        r.org_id, r.seq, (extract(epoch FROM r.at) * 1000000)::bigint, r.principal, r.role,
        r.scope, r.interface, r.operation, r.arguments, r.statement, r.row_count,
        r.duration_ms, r.outcome)::text, 'UTF8'))
$$;

-- Append one read to an org's log; returns its sequence number. It takes the org's
-- chain head FOR UPDATE until the transaction ends: call it in a short transaction of
-- its own (or as the last statement of a short one), never before a long read.
--   interface  graphql, rest, sql, export, mcp, cli
--   outcome    ok, denied, invalid or error, optionally followed by a space and detail
CREATE OR REPLACE FUNCTION audit.record(
    p_org uuid, p_principal text, p_role text, p_scope jsonb, p_interface text,
    p_operation text, p_arguments jsonb DEFAULT NULL, p_statement text DEFAULT NULL,
    p_rows bigint DEFAULT NULL, p_duration_ms numeric DEFAULT NULL,
    p_outcome text DEFAULT 'ok')
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_head audit.heads;
    v_row  audit.read_log;
BEGIN
    IF p_org IS NULL OR p_principal IS NULL OR p_interface IS NULL OR p_operation IS NULL THEN
        RAISE EXCEPTION 'audit.record needs an org, a principal, an interface and an operation'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit.heads (org_id, seq, hash) VALUES (p_org, 0, audit.genesis())
    ON CONFLICT (org_id) DO NOTHING;
    SELECT * INTO v_head FROM audit.heads h WHERE h.org_id = p_org FOR UPDATE;
    v_row.org_id := p_org;
    v_row.seq := v_head.seq + 1;
    v_row.at := date_trunc('microseconds', clock_timestamp());
    v_row.principal := p_principal;
    v_row.role := p_role;
    v_row.scope := coalesce(p_scope, '{}');
    v_row.interface := p_interface;
    v_row.operation := p_operation;
    v_row.arguments := p_arguments;
    v_row.statement := p_statement;
    v_row.row_count := p_rows;
    v_row.duration_ms := round(p_duration_ms, 3);
    v_row.outcome := coalesce(p_outcome, 'ok');
    v_row.prev_hash := v_head.hash;
    v_row.hash := audit.digest(v_head.hash, v_row);
    INSERT INTO audit.read_log SELECT v_row.*;
    UPDATE audit.heads h SET seq = v_row.seq, hash = v_row.hash WHERE h.org_id = p_org;
    RETURN v_row.seq;
END
$$;
REVOKE ALL ON FUNCTION audit.record(uuid, text, text, jsonb, text, text, jsonb, text, bigint,
                                    numeric, text) FROM PUBLIC;

-- Recompute an org's chain. `problem` is NULL when every row is intact and the chain
-- ends where the head says; otherwise it names the first row that is not: altered (its
-- content no longer gives its hash), missing (a gap in the sequence), out of chain (its
-- previous hash is not the previous row's), or rows missing at the end.
CREATE OR REPLACE FUNCTION audit.verify(p_org uuid)
RETURNS TABLE (rows_checked bigint, head_seq bigint, head_hash text, bad_seq bigint,
               problem text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_head audit.heads;
    v_last audit.read_log;
    v_n    bigint;
BEGIN
    SELECT * INTO v_head FROM audit.heads h WHERE h.org_id = p_org;
    SELECT count(*) INTO v_n FROM audit.read_log l WHERE l.org_id = p_org;
    rows_checked := v_n;
    head_seq := coalesce(v_head.seq, 0);
    head_hash := encode(coalesce(v_head.hash, audit.genesis()), 'hex');
    SELECT x.bad, x.problem INTO bad_seq, problem FROM (
        SELECT l.seq,
               CASE WHEN l.seq <> coalesce(lag(l.seq) OVER w, 0) + 1
                    THEN coalesce(lag(l.seq) OVER w, 0) + 1 ELSE l.seq END AS bad,
               CASE WHEN l.seq <> coalesce(lag(l.seq) OVER w, 0) + 1 THEN
                        format('row %s is missing (row %s follows row %s)',
                               coalesce(lag(l.seq) OVER w, 0) + 1, l.seq,
                               coalesce(lag(l.seq) OVER w, 0))
                    WHEN l.prev_hash <> coalesce(lag(l.hash) OVER w, audit.genesis()) THEN
                        format('row %s is out of chain: its previous hash is not row %s''s',
                               l.seq, l.seq - 1)
                    WHEN audit.digest(l.prev_hash, l) <> l.hash THEN
                        format('row %s was altered: its content does not give its hash', l.seq)
               END AS problem
        FROM audit.read_log l WHERE l.org_id = p_org
        WINDOW w AS (ORDER BY l.seq)
    ) x WHERE x.problem IS NOT NULL ORDER BY x.seq LIMIT 1;
    IF problem IS NULL THEN
        SELECT * INTO v_last FROM audit.read_log l WHERE l.org_id = p_org
        ORDER BY l.seq DESC LIMIT 1;
        IF coalesce(v_last.seq, 0) <> head_seq THEN
            bad_seq := coalesce(v_last.seq, 0) + 1;
            problem := format('rows %s to %s are missing at the end (the log ends at row %s)',
                              coalesce(v_last.seq, 0) + 1, head_seq, coalesce(v_last.seq, 0));
        ELSIF coalesce(v_last.hash, audit.genesis()) <> coalesce(v_head.hash, audit.genesis()) THEN
            bad_seq := head_seq;
            problem := format('row %s is not the row the head recorded', head_seq);
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
