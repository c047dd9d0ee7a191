-- Webhook endpoints: where a source of an org delivers, and the secrets that verify it.

-- Add an endpoint for a source of an org, with its secret.
CREATE OR REPLACE FUNCTION auth.add_webhook_endpoint(p_org text, p_source text, p_secret text,
                                                     p_name text DEFAULT 'default')
RETURNS auth.webhook_endpoints LANGUAGE plpgsql AS $$
DECLARE
    v_endpoint auth.webhook_endpoints;
BEGIN
    INSERT INTO auth.webhook_endpoints (org_id, source, name, secret)
    VALUES (auth.org_id(p_org), p_source, coalesce(nullif(p_name, ''), 'default'), p_secret)
    RETURNING * INTO v_endpoint;
    RETURN v_endpoint;
END $$;

-- Replace an endpoint's secret; the old one keeps verifying for p_grace (rotation).
CREATE OR REPLACE FUNCTION auth.rotate_webhook_secret(p_org text, p_endpoint_id uuid,
                                                      p_secret text,
                                                      p_grace interval DEFAULT '7 days')
RETURNS auth.webhook_endpoints LANGUAGE plpgsql AS $$
DECLARE
    v_endpoint auth.webhook_endpoints;
BEGIN
    IF p_grace < interval '0' OR p_grace > interval '90 days' THEN
        RAISE EXCEPTION 'grace period % is outside 0 to 90 days', p_grace
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE auth.webhook_endpoints
    SET previous_secret = secret,
        previous_secret_expires_at = now() + p_grace,
        secret = p_secret,
        rotated_at = now()
    WHERE org_id = auth.org_id(p_org) AND endpoint_id = p_endpoint_id
    RETURNING * INTO v_endpoint;
    IF v_endpoint.endpoint_id IS NULL THEN
        RAISE EXCEPTION 'unknown endpoint % in org %', p_endpoint_id, quote_literal(p_org)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_endpoint;
END $$;

-- The secrets that verify a delivery to an endpoint now (current, then previous while
-- its grace period lasts); no row for an unknown or disabled endpoint.
CREATE OR REPLACE FUNCTION auth.endpoint_secrets(p_endpoint_id uuid)
RETURNS TABLE (org_id uuid, source text, secrets text[])
LANGUAGE sql STABLE AS $$
    SELECT e.org_id, e.source,
           CASE WHEN e.previous_secret IS NOT NULL AND e.previous_secret_expires_at > now()
                THEN ARRAY[e.secret, e.previous_secret]
                ELSE ARRAY[e.secret] END
    FROM auth.webhook_endpoints e
    WHERE e.endpoint_id = p_endpoint_id AND e.disabled_at IS NULL
$$;

-- Adopt a secret a vendor handed us in a handshake (Asana's X-Hook-Secret) as the endpoint's
-- secret. Only once, within a day of the endpoint's creation and before any rotation:
-- otherwise anyone who learned the URL could replace the secret and sign forgeries.
-- Returns whether the secret was adopted (true also when it already is the secret).
CREATE OR REPLACE FUNCTION auth.adopt_webhook_secret(p_endpoint_id uuid, p_secret text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM auth.webhook_endpoints
               WHERE endpoint_id = p_endpoint_id AND secret = p_secret) THEN
        RETURN true;
    END IF;
    UPDATE auth.webhook_endpoints
    SET secret = p_secret, rotated_at = now()
    WHERE endpoint_id = p_endpoint_id AND rotated_at IS NULL
      AND created_at > now() - interval '1 day' AND length(p_secret) >= 16;
    RETURN FOUND;
END $$;
