-- audit_record --
-- Append a read to its org's audit log (returns its sequence number).
SELECT audit.record(%(org_id)s::uuid, %(principal)s::text, %(role)s::text, %(scope)s::jsonb,
                    %(interface)s::text, %(operation)s::text, %(arguments)s::jsonb,
                    %(statement)s::text, %(rows)s::bigint, %(duration_ms)s::numeric,
                    %(outcome)s::text)

-- audit_verify --
-- Recompute an org's chain: rows checked, head, and the first broken row if any.
SELECT * FROM audit.verify(auth.org_id(%(org)s))

-- audit_tail --
-- The last rows of an org's audit log, newest last.
SELECT * FROM (
    SELECT seq, at, principal, role, scope, interface, operation, arguments, statement,
           row_count, duration_ms, outcome
    FROM audit.read_log WHERE org_id = auth.org_id(%(org)s)
    ORDER BY seq DESC LIMIT %(limit)s
) t ORDER BY seq
