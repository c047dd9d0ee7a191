-- An org's rules mapping vendor environment names to classes (core.environment_class).

-- Recompute the environment class of an org's deploys after its rules changed; returns
-- how many deploys changed class.
CREATE OR REPLACE FUNCTION core.reclassify_deploys(p_org_id uuid)
RETURNS int LANGUAGE sql AS $$
    WITH changed AS (
        UPDATE core.deploys d
        SET environment_class = core.environment_class(d.org_id, d.environment)
        WHERE d.org_id = p_org_id
          AND d.environment_class IS DISTINCT FROM core.environment_class(d.org_id, d.environment)
        RETURNING 1
    )
    SELECT count(*)::int FROM changed
$$;

-- Add a rule (a case-insensitive regular expression) at a position (default: last), moving
-- later rules down; returns the rule's position and how many deploys changed class.
CREATE OR REPLACE FUNCTION core.add_environment_rule(p_org text, p_pattern text, p_class text,
                                                     p_position int DEFAULT NULL)
RETURNS TABLE (rule_position int, reclassified int) LANGUAGE plpgsql AS $$
DECLARE
    v_org_id uuid := auth.org_id(p_org);
    v_position int;
BEGIN
    BEGIN
        PERFORM '' ~* p_pattern;
    EXCEPTION WHEN invalid_regular_expression THEN
        RAISE EXCEPTION 'bad pattern %: %', quote_literal(p_pattern), SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
    END;
    SELECT coalesce(max(r.position), 0) + 1 INTO v_position
    FROM core.environment_rules r WHERE r.org_id = v_org_id;
    IF p_position IS NOT NULL THEN
        IF p_position < 1 THEN
            RAISE EXCEPTION 'a rule position is 1 or more, got %', p_position
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_position := least(p_position, v_position);
        -- Make room, last first (the primary key is checked row by row).
        UPDATE core.environment_rules r SET position = -(r.position + 1)
        WHERE r.org_id = v_org_id AND r.position >= v_position;
        UPDATE core.environment_rules r SET position = -r.position
        WHERE r.org_id = v_org_id AND r.position < 0;
    END IF;
    INSERT INTO core.environment_rules (org_id, position, pattern, class)
    VALUES (v_org_id, v_position, p_pattern, p_class);
    RETURN QUERY SELECT v_position, core.reclassify_deploys(v_org_id);
END $$;

-- Remove an org's rule at a position, moving later rules up; returns how many deploys
-- changed class.
CREATE OR REPLACE FUNCTION core.remove_environment_rule(p_org text, p_position int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_org_id uuid := auth.org_id(p_org);
BEGIN
    DELETE FROM core.environment_rules r WHERE r.org_id = v_org_id AND r.position = p_position;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'org % has no environment rule at position %', quote_literal(p_org),
            p_position USING ERRCODE = 'no_data_found';
    END IF;
    UPDATE core.environment_rules r SET position = -(r.position - 1)
    WHERE r.org_id = v_org_id AND r.position > p_position;
    UPDATE core.environment_rules r SET position = -r.position
    WHERE r.org_id = v_org_id AND r.position < 0;
    RETURN core.reclassify_deploys(v_org_id);
END $$;
