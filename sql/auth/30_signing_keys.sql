-- Token signing keys of this deployment.

-- Store a newly generated key as the active one unless another process stored one first;
-- returns the active key either way.
CREATE OR REPLACE FUNCTION auth.ensure_signing_key(p_kid text, p_algorithm text,
                                                   p_private_key text, p_public_key text)
RETURNS auth.signing_keys LANGUAGE plpgsql AS $$
DECLARE
    v_key auth.signing_keys;
BEGIN
    INSERT INTO auth.signing_keys (kid, algorithm, private_key, public_key)
    VALUES (p_kid, p_algorithm, p_private_key, p_public_key)
    ON CONFLICT DO NOTHING;
    SELECT * INTO STRICT v_key FROM auth.signing_keys WHERE retired_at IS NULL;
    RETURN v_key;
END $$;

-- Retire the active key (it still verifies the tokens it signed for a day: see the
-- verification_keys query) and make the given one active, unless the active key is younger
-- than p_min_age (then nothing changes). Returns the active key.
CREATE OR REPLACE FUNCTION auth.rotate_signing_key(p_kid text, p_algorithm text,
                                                   p_private_key text, p_public_key text,
                                                   p_min_age interval DEFAULT '0')
RETURNS auth.signing_keys LANGUAGE plpgsql AS $$
DECLARE
    v_key auth.signing_keys;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('qdx signing key rotation'));
    SELECT * INTO v_key FROM auth.signing_keys WHERE retired_at IS NULL;
    IF v_key.kid IS NOT NULL AND v_key.created_at > now() - p_min_age THEN
        RETURN v_key;
    END IF;
    UPDATE auth.signing_keys SET retired_at = now() WHERE retired_at IS NULL;
    INSERT INTO auth.signing_keys (kid, algorithm, private_key, public_key)
    VALUES (p_kid, p_algorithm, p_private_key, p_public_key)
    RETURNING * INTO v_key;
    RETURN v_key;
END $$;
