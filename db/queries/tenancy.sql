-- create_org --
-- Create an org.
SELECT org_id, slug, name, timezone FROM auth.create_org(%(slug)s, %(name)s, %(timezone)s)

-- list_orgs --
-- Every org with its number of teams and endpoints.
SELECT o.slug, o.name, o.timezone,
       (SELECT count(*) FROM auth.teams t WHERE t.org_id = o.org_id),
       (SELECT count(*) FROM auth.webhook_endpoints e WHERE e.org_id = o.org_id)
FROM auth.orgs o ORDER BY o.slug

-- create_team --
-- Create a team, optionally under a parent.
SELECT t.team_id, t.slug, t.name, p.slug
FROM auth.create_team(%(org)s, %(slug)s, %(name)s, %(parent)s) t
LEFT JOIN auth.teams p ON p.org_id = t.org_id AND p.team_id = t.parent_id

-- team_tree --
-- An org's teams in tree order.
SELECT slug, name, parent_slug, depth FROM auth.team_tree(%(org)s)

-- add_webhook_endpoint --
-- Add a webhook endpoint for a source of an org.
SELECT endpoint_id, source, name FROM auth.add_webhook_endpoint(%(org)s, %(source)s, %(secret)s, %(name)s)

-- rotate_webhook_secret --
-- Give an endpoint a new secret; the old one verifies until the grace period ends.
SELECT endpoint_id, source, name, previous_secret_expires_at
FROM auth.rotate_webhook_secret(%(org)s, %(endpoint_id)s, %(secret)s, %(grace)s)

-- list_webhook_endpoints --
-- An org's webhook endpoints (never their secrets).
SELECT e.endpoint_id, e.source, e.name, e.created_at, e.rotated_at,
       e.previous_secret_expires_at > now(), e.disabled_at
FROM auth.webhook_endpoints e
WHERE e.org_id = auth.org_id(%(org)s)
ORDER BY e.source, e.name

-- resolve_scope --
-- An org's id and the ids of the named teams (raises for an unknown org or team).
SELECT auth.org_id(%(org)s),
       coalesce(array_agg(auth.team_id(auth.org_id(%(org)s), slug) ORDER BY ord), '{}')
FROM unnest(%(teams)s::text[]) WITH ORDINALITY AS t(slug, ord)

-- active_signing_key --
-- The key that signs new tokens, if one exists yet.
SELECT kid, algorithm, private_key FROM auth.signing_keys WHERE retired_at IS NULL

-- ensure_signing_key --
-- Store a new active key unless one exists; returns the active key.
SELECT kid, algorithm, private_key
FROM auth.ensure_signing_key(%(kid)s, %(algorithm)s, %(private_key)s, %(public_key)s)

-- rotate_signing_key --
-- Retire the active key and make a new one active (unless the active one is younger than min_age).
SELECT kid, created_at, retired_at IS NULL AS active
FROM auth.rotate_signing_key(%(kid)s, %(algorithm)s, %(private_key)s, %(public_key)s,
                             %(min_age)s::interval)

-- verification_keys --
-- Public keys that may have signed a token still valid (retired keys for a day).
SELECT kid, algorithm, public_key FROM auth.signing_keys
WHERE retired_at IS NULL OR retired_at > now() - interval '24 hours'

-- create_api_client --
-- Create a service account with a role and team scope.
SELECT client_id, name, role FROM auth.create_api_client(%(org)s, %(name)s, %(role)s, %(teams)s)

-- revoke_api_client --
-- Revoke a service account.
SELECT client_id, name, revoked_at FROM auth.revoke_api_client(%(org)s, %(name)s)

-- list_api_clients --
-- An org's service accounts with their roles and team slugs.
SELECT c.name, c.role,
       coalesce((SELECT array_agg(t.slug ORDER BY t.slug) FROM auth.teams t
                 WHERE t.org_id = c.org_id AND t.team_id = ANY (c.team_ids)), '{}'),
       c.created_at, c.revoked_at
FROM auth.api_clients c
WHERE c.org_id = auth.org_id(%(org)s)
ORDER BY c.name

-- api_client_scope --
-- The org, client id, role and team ids a token for an API client carries.
SELECT org_id, client_id, role, team_ids FROM auth.api_client_scope(%(org)s, %(name)s)

-- webhook_endpoint_secret --
-- The id and current secret of an org's named endpoint for a source (the demo signs with it).
SELECT e.endpoint_id, e.secret
FROM auth.webhook_endpoints e
WHERE e.org_id = auth.org_id(%(org)s) AND e.source = %(source)s AND e.name = %(name)s
  AND e.disabled_at IS NULL

-- sql_role_create --
-- Create a direct-SQL login role bound to an org (and teams); the password as a verifier.
SELECT role_name, created_at FROM auth.create_sql_role(
    %(org)s, %(name)s, %(teams)s, %(verifier)s, %(connection_limit)s, %(statement_timeout)s,
    %(idle_timeout)s, %(by)s)

-- sql_role_drop --
-- Drop an org's direct-SQL login role; returns how many of its sessions were ended.
SELECT auth.drop_sql_role(%(org)s, %(name)s)

-- sql_role_rotate --
-- Set a new password (a SCRAM verifier) on an org's direct-SQL login role.
SELECT role_name, password_set_at FROM auth.rotate_sql_role_password(%(org)s, %(name)s, %(verifier)s)

-- sql_role_list --
-- An org's direct-SQL login roles with their team slugs.
SELECT r.role_name, r.created_at, r.created_by, r.password_set_at,
       ARRAY(SELECT t.slug FROM auth.teams t
             WHERE t.org_id = r.org_id AND t.team_id = ANY (r.team_ids) ORDER BY t.slug) AS teams,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.role_name) AS sessions
FROM auth.sql_roles r WHERE r.org_id = auth.org_id(%(org)s) ORDER BY r.role_name

-- scope_role_name --
-- The name of a scope's login role (the SQL endpoint derives its password from it).
SELECT auth.scope_role_name(%(org_id)s, %(team_ids)s)

-- scope_role --
-- The login role the SQL endpoint runs a scope's statements as (made on first use).
SELECT auth.ensure_scope_role(%(org_id)s, %(team_ids)s, %(verifier)s)

-- server_secret --
-- The server's secret for a purpose, made on first use (owner-only table).
WITH made AS (
    INSERT INTO auth.server_secrets (purpose, secret) VALUES (%(purpose)s, %(secret)s)
    ON CONFLICT (purpose) DO NOTHING RETURNING secret
)
SELECT secret FROM made UNION ALL
SELECT secret FROM auth.server_secrets WHERE purpose = %(purpose)s
LIMIT 1
