-- The person graph: what the resolver reads (scope, accounts, rule edges, candidate
-- pairs, decisions) and the one function that writes links (identity.apply), keeping
-- the history an undo needs.

-- The accounts whose links may change when the seed accounts are resolved: everything
-- connected to a seed through shared keys or through a person (all accounts of every
-- person involved), transitively. Grown a frontier at a time in a keyed temporary table:
-- each step is two index joins, whatever the size of the org (planned for each frontier:
-- a plan cached for a 3-account frontier is quadratic for a 3,000-account one).
CREATE OR REPLACE FUNCTION identity.scope(p_org uuid, p_seed text[])
RETURNS text[] LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_frontier text[];
    v_all text[];
BEGIN
    DROP TABLE IF EXISTS _qdx_scope;
    CREATE TEMP TABLE _qdx_scope (actor_id text PRIMARY KEY) ON COMMIT DROP;
    INSERT INTO _qdx_scope
    SELECT DISTINCT a.actor_id FROM unnest(p_seed) s(actor_id)
    JOIN core.actors a ON a.org_id = p_org AND a.actor_id = s.actor_id;
    SELECT array_agg(actor_id) INTO v_frontier FROM _qdx_scope;
    WHILE v_frontier IS NOT NULL LOOP
        WITH reached AS (
            -- LATERAL lookups, one index probe per frontier account and key: a new
            -- org's rows are not in the statistics yet, and a plan that scans the org
            -- for every probe is quadratic.
            SELECT n.actor_id
            FROM unnest(v_frontier) f(actor_id)
            CROSS JOIN LATERAL (
                SELECT k2.actor_id
                FROM identity.keys k1
                CROSS JOIN LATERAL (
                    SELECT k.actor_id FROM identity.keys k
                    WHERE k.org_id = p_org AND k.kind = k1.kind AND k.value = k1.value
                ) k2
                WHERE k1.org_id = p_org AND k1.actor_id = f.actor_id AND k1.kind <> 'block'
                UNION ALL
                SELECT l2.actor_id
                FROM identity.links l1
                CROSS JOIN LATERAL (
                    SELECT l.actor_id FROM identity.links l
                    WHERE l.org_id = p_org AND l.person_id = l1.person_id
                ) l2
                WHERE l1.org_id = p_org AND l1.actor_id = f.actor_id
            ) n
        ), added AS (
            INSERT INTO _qdx_scope SELECT actor_id FROM reached
            ON CONFLICT (actor_id) DO NOTHING
            RETURNING actor_id
        )
        SELECT array_agg(actor_id) INTO v_frontier FROM added;
    END LOOP;
    SELECT coalesce(array_agg(actor_id ORDER BY actor_id), '{}') INTO v_all FROM _qdx_scope;
    DROP TABLE _qdx_scope;
    RETURN v_all;
END
$$;

-- Accounts sharing a blocking key with any of these: the matcher's candidates.
CREATE OR REPLACE FUNCTION identity.block_neighbors(p_org uuid, p_actors text[])
RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT n.actor_id), '{}')
    FROM (SELECT DISTINCT unnest(p_actors) AS actor_id) s
    JOIN identity.keys k1 ON k1.org_id = p_org AND k1.actor_id = s.actor_id AND k1.kind = 'block'
    CROSS JOIN LATERAL (
        SELECT k.actor_id FROM identity.keys k
        WHERE k.org_id = p_org AND k.kind = 'block' AND k.value = k1.value
    ) n
$$;

-- What the resolver knows of each account: its actor row, whether it is an automation,
-- its current link and pin, and where it worked (repository and UTC day, for co-activity:
-- the matcher compares both the days and the months).
CREATE OR REPLACE FUNCTION identity.load_accounts(p_org uuid, p_actors text[])
RETURNS TABLE (actor_id text, provider text, login text, display_name text, emails text[],
               is_automation boolean, sso_subject text, employee_id text, person_id uuid,
               method text, pinned_to uuid, activity text[])
LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT DISTINCT unnest(p_actors) AS actor_id
    ), a AS (
        SELECT a.* FROM s JOIN core.actors a ON a.org_id = p_org AND a.actor_id = s.actor_id
    ), act AS (
        SELECT x.actor_id, array_agg(DISTINCT x.repo_id || '|'
                                  || to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD')) AS activity
        FROM (
            SELECT c.author_id AS actor_id, c.repo_id, c.authored_at AS at
            FROM s JOIN core.commits c ON c.org_id = p_org AND c.author_id = s.actor_id
            WHERE c.repo_id IS NOT NULL
            UNION ALL
            SELECT c.author_id, c.repo_id, c.opened_at
            FROM s JOIN core.changes c ON c.org_id = p_org AND c.author_id = s.actor_id
            WHERE c.repo_id IS NOT NULL
            UNION ALL
            SELECT r.reviewer_id, c.repo_id, r.submitted_at
            FROM s JOIN core.reviews r ON r.org_id = p_org AND r.reviewer_id = s.actor_id
            JOIN core.changes c ON c.org_id = r.org_id AND c.change_id = r.change_id
            WHERE c.repo_id IS NOT NULL
        ) x
        WHERE x.at IS NOT NULL
        GROUP BY x.actor_id
    )
    SELECT a.actor_id, a.provider, a.login, a.display_name, a.emails,
           identity.is_automation(a.is_bot, a.login, a.display_name, a.emails),
           a.sso_subject, identity.canonical_employee_id(a.employee_id), l.person_id, l.method,
           d.person_id,
           coalesce(act.activity, '{}')
    FROM a
    LEFT JOIN identity.links l ON l.org_id = p_org AND l.actor_id = a.actor_id
    LEFT JOIN identity.decisions d
        ON d.org_id = p_org AND d.actor_id = a.actor_id AND d.kind = 'pin'
       AND d.revoked_by IS NULL
    LEFT JOIN act ON act.actor_id = a.actor_id
    ORDER BY a.actor_id
$$;

-- Pairs of these accounts that a deterministic rule links: they share a key. Each pair
-- once per rule, with the key as evidence.
-- (A self-join on key values: hash it, whatever the statistics of a freshly loaded org
-- say; a nested loop here is quadratic.)
CREATE OR REPLACE FUNCTION identity.rule_edges(p_org uuid, p_actors text[])
RETURNS TABLE (a text, b text, method text, strength int, key text)
LANGUAGE sql STABLE SET enable_nestloop = off AS $$
    WITH s AS (
        SELECT DISTINCT unnest(p_actors) AS actor_id
    ), k AS (
        SELECT k.kind, k.value, k.actor_id
        FROM s JOIN identity.keys k ON k.org_id = p_org AND k.actor_id = s.actor_id
        WHERE k.kind <> 'block'
    )
    SELECT DISTINCT ON (k1.actor_id, k2.actor_id, r.method)
           k1.actor_id, k2.actor_id, r.method, r.strength, k1.kind || ':' || k1.value
    FROM k k1
    JOIN k k2 ON k2.kind = k1.kind AND k2.value = k1.value AND k2.actor_id > k1.actor_id
    CROSS JOIN LATERAL identity.rule_of(k1.kind) r
    ORDER BY k1.actor_id, k2.actor_id, r.method, k1.kind, k1.value
$$;

-- Pairs of these accounts that share a blocking key: what the matcher scores.
CREATE OR REPLACE FUNCTION identity.block_pairs(p_org uuid, p_actors text[])
RETURNS TABLE (a text, b text) LANGUAGE sql STABLE SET enable_nestloop = off AS $$
    WITH s AS (
        SELECT DISTINCT unnest(p_actors) AS actor_id
    ), k AS (
        SELECT k.value, k.actor_id
        FROM s JOIN identity.keys k ON k.org_id = p_org AND k.actor_id = s.actor_id
        WHERE k.kind = 'block'
    )
    SELECT DISTINCT k1.actor_id, k2.actor_id
    FROM k k1 JOIN k k2 ON k2.value = k1.value AND k2.actor_id > k1.actor_id
$$;

-- An admin's 'apart' decisions among these accounts.
CREATE OR REPLACE FUNCTION identity.apart_pairs(p_org uuid, p_actors text[])
RETURNS TABLE (a text, b text) LANGUAGE sql STABLE AS $$
    SELECT d.actor_id, d.other_actor_id
    FROM identity.decisions d
    WHERE d.org_id = p_org AND d.kind = 'apart' AND d.revoked_by IS NULL
      AND d.actor_id IN (SELECT unnest(p_actors))
      AND d.other_actor_id IN (SELECT unnest(p_actors))
$$;

-- A person's name, main address and bot flag, from its accounts: the name and address
-- the directory (HR, SSO) states when there is one, else the most common ones.
CREATE OR REPLACE FUNCTION identity.refresh_persons(p_org uuid, p_persons uuid[])
RETURNS void LANGUAGE sql AS $$
    WITH acc AS (
        SELECT l.person_id, a.*,
               CASE WHEN a.provider IN ('bamboohr', 'okta', 'entra', 'workday') THEN 0
                    ELSE 1 END AS rank
        FROM identity.links l
        JOIN core.actors a ON a.org_id = l.org_id AND a.actor_id = l.actor_id
        WHERE l.org_id = p_org AND l.person_id = ANY(p_persons)
    ), names AS (
        SELECT DISTINCT ON (person_id) person_id, display_name
        FROM acc WHERE display_name IS NOT NULL AND display_name <> coalesce(login, '')
        GROUP BY person_id, display_name
        ORDER BY person_id, min(rank), count(*) DESC, length(display_name) DESC, display_name
    ), mails AS (
        SELECT DISTINCT ON (person_id) person_id, e AS email
        FROM acc, unnest(acc.emails) e
        WHERE identity.canonical_email(e) IS NOT NULL
        GROUP BY person_id, e
        ORDER BY person_id, min(rank), count(*) DESC, e
    ), bots AS (
        SELECT person_id,
               bool_or(identity.is_automation(is_bot, login, display_name, emails)) AS is_bot
        FROM acc GROUP BY person_id
    )
    UPDATE identity.persons p
    SET display_name = n.display_name, primary_email = m.email,
        is_bot = coalesce(b.is_bot, false), updated_at = now()
    FROM unnest(p_persons) AS x(person_id)
    LEFT JOIN names n USING (person_id)
    LEFT JOIN mails m USING (person_id)
    LEFT JOIN bots b USING (person_id)
    WHERE p.org_id = p_org AND p.person_id = x.person_id
      AND (p.display_name, p.primary_email, p.is_bot)
          IS DISTINCT FROM (n.display_name, m.email, coalesce(b.is_bot, false))
$$;

-- Move a person's team memberships to another (the survivor of a merge), joining
-- overlapping spans. Returns what an undo needs: both persons' memberships before.
CREATE OR REPLACE FUNCTION identity.move_memberships(p_org uuid, p_from uuid, p_into uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_before jsonb;
BEGIN
    SELECT jsonb_agg(to_jsonb(m) ORDER BY m.team_id, m.person_id, lower(m.during))
    INTO v_before
    FROM auth.team_memberships m
    WHERE m.org_id = p_org AND m.person_id IN (p_from, p_into)
      AND m.team_id IN (SELECT team_id FROM auth.team_memberships
                        WHERE org_id = p_org AND person_id = p_from);
    IF v_before IS NULL THEN
        RETURN NULL;
    END IF;
    WITH gone AS (
        DELETE FROM auth.team_memberships m
        WHERE m.org_id = p_org AND m.person_id IN (p_from, p_into)
          AND m.team_id IN (SELECT (r->>'team_id')::uuid FROM jsonb_array_elements(v_before) r)
        RETURNING m.team_id, m.during, m.role
    )
    INSERT INTO auth.team_memberships (org_id, team_id, person_id, during, role)
    SELECT p_org, g.team_id, p_into, r.during,
           CASE WHEN bool_or(g.role = 'lead') THEN 'lead' ELSE 'member' END
    FROM (SELECT team_id, unnest(range_agg(during)) AS during FROM gone GROUP BY team_id) r
    JOIN gone g ON g.team_id = r.team_id AND g.during && r.during
    GROUP BY g.team_id, r.during;
    RETURN jsonb_build_object('persons', jsonb_build_array(p_from, p_into), 'before', v_before);
END
$$;

-- Put memberships back as identity.move_memberships found them.
CREATE OR REPLACE FUNCTION identity.restore_memberships(p_org uuid, p_saved jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Two statements: the rows must be gone before the exclusion constraint checks the
    -- restored ones.
    DELETE FROM auth.team_memberships m
    WHERE m.org_id = p_org
      AND m.person_id IN (SELECT jsonb_array_elements_text(p_saved->'persons')::uuid)
      AND m.team_id IN (SELECT (r->>'team_id')::uuid
                        FROM jsonb_array_elements(p_saved->'before') r);
    INSERT INTO auth.team_memberships (org_id, team_id, person_id, during, role)
    SELECT p_org, (r->>'team_id')::uuid, (r->>'person_id')::uuid, (r->>'during')::tstzrange,
           r->>'role'
    FROM jsonb_array_elements(p_saved->'before') r;
END
$$;

-- Write the links of the accounts in the temporary table _qdx_links (actor_id,
-- person_id, method, confidence, evidence) under operation p_op: a history row for every
-- account whose person or method changes, persons left without accounts folded into the
-- person that took them (memberships follow), persons' names refreshed, and every touched
-- person logged for the metrics to re-attribute. Returns how many links changed.
CREATE OR REPLACE FUNCTION identity.write_links(p_org uuid, p_op bigint, p_by text)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_changed int;
    v_touched uuid[];
    v_saved jsonb := '[]';
    r record;
BEGIN
    INSERT INTO identity.link_changes (org_id, op_id, actor_id, before, after)
    SELECT p_org, p_op, n.actor_id,
           CASE WHEN l.actor_id IS NOT NULL THEN jsonb_build_object(
               'person_id', l.person_id, 'method', l.method, 'confidence', l.confidence,
               'decided_by', l.decided_by, 'decided_at', l.decided_at, 'op_id', l.op_id,
               'evidence', l.evidence) END,
           jsonb_build_object('person_id', n.person_id, 'method', n.method,
                              'confidence', n.confidence, 'evidence', n.evidence)
    FROM _qdx_links n
    LEFT JOIN identity.links l ON l.org_id = p_org AND l.actor_id = n.actor_id
    WHERE (l.person_id, l.method) IS DISTINCT FROM (n.person_id, n.method);
    GET DIAGNOSTICS v_changed = ROW_COUNT;

    INSERT INTO identity.links AS t (org_id, actor_id, person_id, method, confidence,
                                     decided_by, decided_at, op_id, evidence)
    SELECT p_org, n.actor_id, n.person_id, n.method, n.confidence, p_by, clock_timestamp(),
           p_op, coalesce(n.evidence, '{}')
    FROM _qdx_links n
    ORDER BY n.actor_id
    ON CONFLICT ON CONSTRAINT links_pkey DO UPDATE SET
        person_id = excluded.person_id, method = excluded.method,
        confidence = excluded.confidence, evidence = excluded.evidence,
        decided_by = CASE WHEN (t.person_id, t.method) IS DISTINCT FROM
                               (excluded.person_id, excluded.method)
                          THEN excluded.decided_by ELSE t.decided_by END,
        decided_at = CASE WHEN (t.person_id, t.method) IS DISTINCT FROM
                               (excluded.person_id, excluded.method)
                          THEN excluded.decided_at ELSE t.decided_at END,
        op_id = CASE WHEN (t.person_id, t.method) IS DISTINCT FROM
                          (excluded.person_id, excluded.method)
                     THEN excluded.op_id ELSE t.op_id END
    WHERE (t.person_id, t.method, t.confidence, t.evidence)
          IS DISTINCT FROM (excluded.person_id, excluded.method, excluded.confidence,
                            excluded.evidence);

    IF v_changed = 0 THEN
        RETURN 0;
    END IF;

    SELECT array_agg(DISTINCT p) INTO v_touched
    FROM (SELECT (c.before->>'person_id')::uuid AS p FROM identity.link_changes c
          WHERE c.org_id = p_org AND c.op_id = p_op
          UNION ALL
          SELECT (c.after->>'person_id')::uuid FROM identity.link_changes c
          WHERE c.org_id = p_org AND c.op_id = p_op) x
    WHERE p IS NOT NULL;

    -- Persons left with no account: folded into the person that took most of them.
    FOR r IN
        SELECT DISTINCT ON (old) old, new
        FROM (SELECT (c.before->>'person_id')::uuid AS old, (c.after->>'person_id')::uuid AS new
              FROM identity.link_changes c
              WHERE c.org_id = p_org AND c.op_id = p_op AND c.before IS NOT NULL) x
        WHERE old <> new
          AND NOT EXISTS (SELECT 1 FROM identity.links l
                          WHERE l.org_id = p_org AND l.person_id = x.old)
        GROUP BY old, new
        ORDER BY old, count(*) DESC, new
    LOOP
        UPDATE identity.persons SET merged_into = r.new, updated_at = now()
        WHERE org_id = p_org AND person_id = r.old;
        v_saved := v_saved || jsonb_build_array(jsonb_build_object(
            'person_id', r.old, 'memberships', identity.move_memberships(p_org, r.old, r.new)));
    END LOOP;
    -- A person that gets accounts again is no longer folded into another.
    UPDATE identity.persons p SET merged_into = NULL, updated_at = now()
    WHERE p.org_id = p_org AND p.person_id = ANY(v_touched) AND p.merged_into IS NOT NULL
      AND EXISTS (SELECT 1 FROM identity.links l
                  WHERE l.org_id = p_org AND l.person_id = p.person_id);
    IF v_saved <> '[]' THEN
        UPDATE identity.operations SET detail = detail || jsonb_build_object('folded', v_saved)
        WHERE org_id = p_org AND op_id = p_op;
    END IF;

    PERFORM identity.refresh_persons(p_org, v_touched);
    INSERT INTO identity.person_changes (org_id, person_id, op_id)
    SELECT p_org, p, p_op FROM unnest(v_touched) p ORDER BY p;
    RETURN v_changed;
END
$$;

-- Apply a resolution computed by the resolver: p_assign is a JSON array of
-- {actor_id, person_id | cluster, method, confidence, evidence}; accounts of one new
-- cluster (person_id null) get one new person. p_reviews lists the pairs scored into the
-- review band ({a, b, probability, evidence}). Returns the operation's id, or NULL when
-- nothing changed.
CREATE OR REPLACE FUNCTION identity.apply(p_org uuid, p_by text, p_assign jsonb,
                                          p_reviews jsonb DEFAULT '[]')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_op bigint;
    v_changed int;
    v_reviews int;
BEGIN
    INSERT INTO identity.operations (org_id, kind, performed_by)
    VALUES (p_org, 'resolve', p_by) RETURNING op_id INTO v_op;

    DROP TABLE IF EXISTS _qdx_links;
    CREATE TEMP TABLE _qdx_links ON COMMIT DROP AS
    SELECT x.actor_id, x.person_id, x.cluster, x.method, x.confidence, x.evidence
    FROM jsonb_to_recordset(p_assign)
        AS x(actor_id text, person_id uuid, cluster int, method text, confidence real,
             evidence jsonb);

    WITH fresh AS (
        SELECT c.cluster, gen_random_uuid() AS person_id
        FROM (SELECT DISTINCT cluster FROM _qdx_links WHERE person_id IS NULL) c
    ), made AS (
        INSERT INTO identity.persons (org_id, person_id)
        SELECT p_org, person_id FROM fresh
    )
    UPDATE _qdx_links l SET person_id = f.person_id
    FROM fresh f WHERE l.person_id IS NULL AND l.cluster = f.cluster;

    v_changed := identity.write_links(p_org, v_op, p_by);

    INSERT INTO identity.review_queue AS q (org_id, actor_id, other_actor_id, probability,
                                            evidence, op_id)
    SELECT p_org, least(r.a, r.b), greatest(r.a, r.b), r.probability, r.evidence, v_op
    FROM jsonb_to_recordset(p_reviews) AS r(a text, b text, probability real, evidence jsonb)
    ON CONFLICT ON CONSTRAINT review_queue_pkey DO UPDATE SET
        probability = excluded.probability, evidence = excluded.evidence,
        status = CASE WHEN q.status = 'obsolete' THEN 'pending' ELSE q.status END
    WHERE q.status IN ('pending', 'obsolete')
      AND (q.probability, q.evidence, q.status) IS DISTINCT FROM
          (excluded.probability, excluded.evidence, 'pending');
    GET DIAGNOSTICS v_reviews = ROW_COUNT;

    -- Pending pairs whose accounts are now one person, or no longer in the band.
    UPDATE identity.review_queue q SET status = 'obsolete'
    WHERE q.org_id = p_org AND q.status = 'pending'
      AND q.actor_id IN (SELECT actor_id FROM _qdx_links)
      AND (EXISTS (SELECT 1 FROM identity.links l1 JOIN identity.links l2
                       ON l2.org_id = l1.org_id AND l2.person_id = l1.person_id
                   WHERE l1.org_id = p_org AND l1.actor_id = q.actor_id
                     AND l2.actor_id = q.other_actor_id)
           OR NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(p_reviews) AS r(a text, b text)
                          WHERE least(r.a, r.b) = q.actor_id
                            AND greatest(r.a, r.b) = q.other_actor_id));

    IF v_changed = 0 AND v_reviews = 0 THEN
        DELETE FROM identity.operations WHERE org_id = p_org AND op_id = v_op;
        RETURN NULL;
    END IF;
    UPDATE identity.operations
    SET detail = detail || jsonb_build_object('links_changed', v_changed, 'reviews', v_reviews)
    WHERE org_id = p_org AND op_id = v_op;
    RETURN v_op;
END
$$;
