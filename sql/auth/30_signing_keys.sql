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
