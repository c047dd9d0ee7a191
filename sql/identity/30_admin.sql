-- An admin's operations on the person graph: merge, split, link, review decisions and
-- undo. Each is one operation with its link history; the pins and 'apart' decisions it
-- makes are standing decisions that the resolver never overrides. Automatic resolution
-- is not undone this way (it follows from the data): override it with these.

-- The persons a text names: a person id, an account id (`github:123`), an email of an
-- account (as written, or the same mailbox by identity.canonical_email), or a login.
-- Persons folded into another resolve to the survivor.
CREATE OR REPLACE FUNCTION identity.find_persons(p_org uuid, p_who text)
RETURNS TABLE (person_id uuid, matched_by text) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE hit AS (
        SELECT p.person_id, 'person id' AS matched_by FROM identity.persons p
        WHERE p.org_id = p_org
          AND p_who ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
          AND p.person_id = p_who::uuid
        UNION ALL
        SELECT l.person_id, 'account ' || a.actor_id
        FROM core.actors a JOIN identity.links l USING (org_id, actor_id)
        WHERE a.org_id = p_org
          AND (a.actor_id = p_who
               OR lower(p_who) = ANY(a.emails)
               OR lower(a.login) = lower(p_who))
        UNION ALL
        SELECT l.person_id, 'account ' || k.actor_id || ' (same mailbox)'
        FROM identity.keys k JOIN identity.links l USING (org_id, actor_id)
        WHERE k.org_id = p_org AND k.kind = 'email'
          AND k.value = identity.canonical_email(p_who)
    ), live(person_id, matched_by, depth) AS (
        SELECT h.person_id, h.matched_by, 0 FROM hit h
        UNION ALL
        SELECT p.merged_into, l.matched_by, l.depth + 1
        FROM live l JOIN identity.persons p ON p.org_id = p_org AND p.person_id = l.person_id
        WHERE p.merged_into IS NOT NULL AND l.depth < 32
    )
    SELECT DISTINCT ON (l.person_id) l.person_id, l.matched_by
    FROM live l JOIN identity.persons p ON p.org_id = p_org AND p.person_id = l.person_id
    WHERE p.merged_into IS NULL
    ORDER BY l.person_id, l.matched_by
$$;

-- The one person a text names, or a clear error.
CREATE OR REPLACE FUNCTION identity.person_of(p_org uuid, p_who text)
RETURNS uuid LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_ids uuid[];
BEGIN
    SELECT array_agg(person_id ORDER BY person_id) INTO v_ids
    FROM identity.find_persons(p_org, p_who);
    IF v_ids IS NULL THEN
        RAISE EXCEPTION 'no person matches %', p_who USING ERRCODE = 'no_data_found';
    ELSIF cardinality(v_ids) > 1 THEN
        RAISE EXCEPTION '% matches % persons (%): name one by its person id', p_who,
            cardinality(v_ids), array_to_string(v_ids, ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v_ids[1];
END
$$;

-- Start an admin operation.
CREATE OR REPLACE FUNCTION identity.begin_op(p_org uuid, p_kind text, p_by text,
                                             p_reason text, p_detail jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO identity.operations (org_id, kind, performed_by, reason, detail)
    VALUES (p_org, p_kind, p_by, p_reason, p_detail) RETURNING op_id
$$;

-- Pin accounts to a person under an operation (an earlier pin of the same account is
-- revoked by it), and stage their explicit links in _qdx_links.
CREATE OR REPLACE FUNCTION identity.pin(p_org uuid, p_op bigint, p_actors text[],
                                        p_person uuid, p_evidence jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE identity.decisions SET revoked_by = p_op
    WHERE org_id = p_org AND kind = 'pin' AND revoked_by IS NULL AND actor_id = ANY(p_actors);
    INSERT INTO identity.decisions (org_id, kind, actor_id, person_id, op_id)
    SELECT p_org, 'pin', a, p_person, p_op FROM unnest(p_actors) a ORDER BY a;
    CREATE TEMP TABLE IF NOT EXISTS _qdx_links (actor_id text, person_id uuid, cluster int,
                                                method text, confidence real, evidence jsonb)
        ON COMMIT DROP;
    INSERT INTO _qdx_links (actor_id, person_id, method, confidence, evidence)
    SELECT a, p_person, 'explicit', 1, p_evidence FROM unnest(p_actors) a;
END
$$;

CREATE OR REPLACE FUNCTION identity.accounts_of(p_org uuid, p_person uuid)
RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(actor_id ORDER BY actor_id), '{}') FROM identity.links
    WHERE org_id = p_org AND person_id = p_person
$$;

-- Finish an admin operation: write the staged links.
CREATE OR REPLACE FUNCTION identity.finish_op(p_org uuid, p_op bigint, p_by text)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM identity.write_links(p_org, p_op, p_by);
    DROP TABLE _qdx_links;
    RETURN p_op;
END
$$;

-- Merge: two persons are one. Every account of both is pinned to the survivor.
CREATE OR REPLACE FUNCTION identity.merge(p_org uuid, p_into uuid, p_from uuid, p_by text,
                                          p_reason text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_op bigint;
BEGIN
    IF p_into = p_from THEN
        RAISE EXCEPTION 'both name the same person %', p_into USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DROP TABLE IF EXISTS _qdx_links;
    v_op := identity.begin_op(p_org, 'merge', p_by, p_reason,
                              jsonb_build_object('into', p_into, 'from', p_from));
    PERFORM identity.pin(p_org, v_op,
                         identity.accounts_of(p_org, p_into) || identity.accounts_of(p_org, p_from),
                         p_into, jsonb_build_object('operation', v_op, 'merged', p_from));
    RETURN identity.finish_op(p_org, v_op, p_by);
END
$$;

-- Split: these accounts of a person are someone else. They are pinned to a new person
-- and the person's other accounts to it, so no rule joins them again.
CREATE OR REPLACE FUNCTION identity.split(p_org uuid, p_person uuid, p_actors text[],
                                          p_by text, p_reason text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_op bigint;
    v_all text[] := identity.accounts_of(p_org, p_person);
    v_new uuid;
    v_stray text[];
BEGIN
    SELECT array_agg(a) INTO v_stray FROM unnest(p_actors) a WHERE a <> ALL(v_all);
    IF v_stray IS NOT NULL THEN
        RAISE EXCEPTION 'not accounts of person %: %', p_person, v_stray
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF cardinality(p_actors) = 0 OR v_all <@ p_actors THEN
        RAISE EXCEPTION 'a split moves some of a person''s accounts, not none or all'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DROP TABLE IF EXISTS _qdx_links;
    INSERT INTO identity.persons (org_id) VALUES (p_org) RETURNING person_id INTO v_new;
    v_op := identity.begin_op(p_org, 'split', p_by, p_reason,
                              jsonb_build_object('person', p_person, 'new_person', v_new,
                                                 'accounts', to_jsonb(p_actors)));
    PERFORM identity.pin(p_org, v_op, p_actors, v_new,
                         jsonb_build_object('operation', v_op, 'split_from', p_person));
    PERFORM identity.pin(p_org, v_op,
                         ARRAY(SELECT a FROM unnest(v_all) a WHERE a <> ALL(p_actors)),
                         p_person, jsonb_build_object('operation', v_op, 'split', v_new));
    RETURN identity.finish_op(p_org, v_op, p_by);
END
$$;

-- Link: this account is this person (pinned).
CREATE OR REPLACE FUNCTION identity.link(p_org uuid, p_actor text, p_person uuid, p_by text,
                                         p_reason text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_op bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM identity.links WHERE org_id = p_org AND actor_id = p_actor) THEN
        RAISE EXCEPTION 'no account % (or it is not resolved yet)', p_actor
            USING ERRCODE = 'no_data_found';
    END IF;
    DROP TABLE IF EXISTS _qdx_links;
    v_op := identity.begin_op(p_org, 'link', p_by, p_reason,
                              jsonb_build_object('account', p_actor, 'person', p_person));
    PERFORM identity.pin(p_org, v_op, ARRAY[p_actor], p_person,
                         jsonb_build_object('operation', v_op));
    RETURN identity.finish_op(p_org, v_op, p_by);
END
$$;

-- A review decision on a pair the matcher was unsure of: accept merges the two
-- accounts' persons; reject keeps the two accounts apart for good.
CREATE OR REPLACE FUNCTION identity.review(p_org uuid, p_a text, p_b text, p_accept boolean,
                                           p_by text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_op bigint;
    v_pa uuid;
    v_pb uuid;
BEGIN
    PERFORM 1 FROM identity.review_queue
    WHERE org_id = p_org AND actor_id = least(p_a, p_b) AND other_actor_id = greatest(p_a, p_b)
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no review of % and %', p_a, p_b USING ERRCODE = 'no_data_found';
    END IF;
    SELECT person_id INTO v_pa FROM identity.links WHERE org_id = p_org AND actor_id = p_a;
    SELECT person_id INTO v_pb FROM identity.links WHERE org_id = p_org AND actor_id = p_b;
    IF p_accept AND v_pa IS DISTINCT FROM v_pb THEN
        v_op := identity.merge(p_org, v_pb, v_pa, p_by, format('review: %s is %s', p_a, p_b));
        UPDATE identity.operations SET kind = 'review' WHERE org_id = p_org AND op_id = v_op;
    ELSE
        v_op := identity.begin_op(p_org, 'review', p_by,
                                  format('review: %s is %s %s', p_a,
                                         CASE WHEN p_accept THEN '' ELSE 'not' END, p_b));
        IF NOT p_accept THEN
            INSERT INTO identity.decisions (org_id, kind, actor_id, other_actor_id, op_id)
            VALUES (p_org, 'apart', least(p_a, p_b), greatest(p_a, p_b), v_op);
            INSERT INTO identity.pending (org_id, actor_id)
            VALUES (p_org, p_a), (p_org, p_b) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    UPDATE identity.review_queue
    SET status = CASE WHEN p_accept THEN 'accepted' ELSE 'rejected' END, op_id = v_op
    WHERE org_id = p_org AND actor_id = least(p_a, p_b) AND other_actor_id = greatest(p_a, p_b);
    RETURN v_op;
END
$$;

-- Undo an admin operation: its links go back to what they were, its pins and 'apart'
-- decisions are revoked (and pins it replaced come back), persons it folded are restored
-- with their memberships. Refused when a later operation changed one of its accounts:
-- undo that one first.
CREATE OR REPLACE FUNCTION identity.undo(p_org uuid, p_op bigint, p_by text,
                                         p_reason text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_target identity.operations;
    v_later bigint;
    v_op bigint;
    f jsonb;
BEGIN
    SELECT * INTO v_target FROM identity.operations WHERE org_id = p_org AND op_id = p_op
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no operation %', p_op USING ERRCODE = 'no_data_found';
    ELSIF v_target.kind = 'resolve' THEN
        RAISE EXCEPTION 'operation % is automatic resolution, which follows from the data: '
                        'override it with qdx people split or link instead', p_op
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF v_target.undone_by IS NOT NULL THEN
        RAISE EXCEPTION 'operation % was already undone by operation %', p_op, v_target.undone_by
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT min(c2.op_id) INTO v_later
    FROM identity.link_changes c1
    JOIN identity.link_changes c2
        ON c2.org_id = c1.org_id AND c2.actor_id = c1.actor_id AND c2.op_id > c1.op_id
    JOIN identity.operations o ON o.org_id = c2.org_id AND o.op_id = c2.op_id
    WHERE c1.org_id = p_org AND c1.op_id = p_op AND o.undone_by IS NULL AND o.kind <> 'undo';
    IF v_later IS NOT NULL THEN
        RAISE EXCEPTION 'operation % changed accounts of operation % since: undo % first',
            v_later, p_op, v_later USING ERRCODE = 'invalid_parameter_value';
    END IF;

    DROP TABLE IF EXISTS _qdx_links;
    v_op := identity.begin_op(p_org, 'undo', p_by, p_reason);
    UPDATE identity.operations SET undoes = p_op WHERE org_id = p_org AND op_id = v_op;
    UPDATE identity.operations SET undone_by = v_op WHERE org_id = p_org AND op_id = p_op;
    UPDATE identity.decisions SET revoked_by = v_op
    WHERE org_id = p_org AND op_id = p_op AND revoked_by IS NULL;
    UPDATE identity.decisions SET revoked_by = NULL
    WHERE org_id = p_org AND revoked_by = p_op;
    UPDATE identity.review_queue SET status = 'pending', op_id = NULL
    WHERE org_id = p_org AND op_id = p_op AND status IN ('accepted', 'rejected');

    CREATE TEMP TABLE _qdx_links ON COMMIT DROP AS
    SELECT c.actor_id, (c.before->>'person_id')::uuid AS person_id, NULL::int AS cluster,
           c.before->>'method' AS method, (c.before->>'confidence')::real AS confidence,
           c.before->'evidence' AS evidence
    FROM identity.link_changes c
    WHERE c.org_id = p_org AND c.op_id = p_op AND c.before IS NOT NULL;
    PERFORM identity.write_links(p_org, v_op, p_by);
    DROP TABLE _qdx_links;

    FOR f IN SELECT jsonb_array_elements(coalesce(v_target.detail->'folded', '[]')) LOOP
        IF f->'memberships' <> 'null' THEN
            PERFORM identity.restore_memberships(p_org, f->'memberships');
        END IF;
    END LOOP;
    RETURN v_op;
END
$$;

-- Everything known about a person, as JSON: the person, every linked account with why it
-- is linked (method, confidence, evidence, who decided and when), teams over time, and
-- the operations that touched it.
CREATE OR REPLACE FUNCTION identity.person_detail(p_org uuid, p_person uuid)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'person_id', p.person_id, 'display_name', p.display_name,
        'primary_email', p.primary_email, 'is_bot', p.is_bot, 'created_at', p.created_at,
        'accounts', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'actor_id', a.actor_id, 'provider', a.provider, 'login', a.login,
                       'display_name', a.display_name, 'emails', to_jsonb(a.emails),
                       'method', l.method, 'confidence', l.confidence,
                       'evidence', l.evidence, 'decided_by', l.decided_by,
                       'decided_at', l.decided_at, 'operation', l.op_id,
                       'pinned', EXISTS (SELECT 1 FROM identity.decisions d
                                         WHERE d.org_id = l.org_id AND d.actor_id = l.actor_id
                                           AND d.kind = 'pin' AND d.revoked_by IS NULL))
                   ORDER BY l.method, a.provider, a.actor_id)
            FROM identity.links l JOIN core.actors a USING (org_id, actor_id)
            WHERE l.org_id = p_org AND l.person_id = p.person_id), '[]'),
        'teams', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'team', t.slug, 'role', m.role, 'from', lower(m.during),
                       'to', upper(m.during)) ORDER BY lower(m.during), t.slug)
            FROM auth.team_memberships m JOIN auth.teams t USING (org_id, team_id)
            WHERE m.org_id = p_org AND m.person_id = p.person_id), '[]'),
        'operations', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'op_id', o.op_id, 'kind', o.kind, 'by', o.performed_by,
                       'at', o.performed_at, 'reason', o.reason, 'undone_by', o.undone_by)
                   ORDER BY o.op_id)
            FROM identity.operations o
            WHERE o.org_id = p_org AND o.op_id IN (
                SELECT c.op_id FROM identity.person_changes c
                WHERE c.org_id = p_org AND c.person_id = p.person_id)), '[]'))
    FROM identity.persons p WHERE p.org_id = p_org AND p.person_id = p_person
$$;
