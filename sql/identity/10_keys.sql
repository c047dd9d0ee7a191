-- Identity keys: what identifies an account, derived from its core.actors row. Two
-- accounts that share a key are the same person by that key's rule (identity.rule_of).

-- Local parts of mailboxes shared by a role rather than owned by one person: made only of
-- role words (dev@, platform-team@, mobile.dev@, no-reply@, ci@ ...). Kept in step with
-- workers/identity/names.py ROLE_WORDS (a test compares them).
CREATE OR REPLACE FUNCTION identity.role_words()
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[
        'noreply', 'no-reply', 'donotreply', 'do-not-reply', 'root', 'admin', 'administrator',
        'git', 'ci', 'cd', 'build', 'builds', 'builder', 'jenkins', 'deploy', 'deployer',
        'deploys', 'release', 'releases', 'devops', 'ops', 'sre', 'oncall', 'on-call',
        'alerts', 'alert', 'team', 'teams', 'dev', 'devs', 'developer', 'developers',
        'engineering', 'eng', 'info', 'support', 'help', 'hello', 'contact', 'security', 'bot',
        'bots', 'automation', 'github', 'gitlab', 'bitbucket', 'notifications', 'notification',
        'postmaster', 'webmaster', 'hostmaster', 'abuse', 'it', 'hr', 'office', 'all',
        'everyone', 'platform', 'infra', 'infrastructure', 'mobile', 'ios', 'android',
        'backend', 'frontend', 'web', 'data', 'qa', 'test', 'tests', 'api', 'core', 'app',
        'apps', 'product', 'design', 'staff', 'shared', 'group', 'list', 'mail', 'noc'
    ]
$$;

CREATE OR REPLACE FUNCTION identity.is_role_mailbox(p_local text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(lower(p_local) ~ '^(no-?reply|do-?not-?reply)'
                    OR (array_remove(regexp_split_to_array(lower(p_local), '[-_.+]+'), '')
                            <@ identity.role_words()
                        AND lower(p_local) ~ '[a-z]'), false)
$$;

-- An email address as the same mailbox is spelled everywhere: case-folded, the plus-tag
-- dropped (user+tag@ delivers to user@ at Google, Microsoft, Apple, Fastmail, Proton and
-- most company servers), and Gmail's dots removed (Gmail ignores them; googlemail.com is
-- gmail.com). NULL when the address identifies nobody: not an address, a host-local one
-- (a laptop's default `user@host.local`), a forge's noreply address (decoded separately
-- by identity.noreply_account) or a role mailbox that many people write as (dev@, team@,
-- noreply@, ci@ ...).
CREATE OR REPLACE FUNCTION identity.canonical_email(p_email text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH a AS (
        SELECT lower(trim(p_email)) AS e
    ), parts AS (
        SELECT split_part(e, '@', 1) AS local0,
               CASE split_part(e, '@', 2) WHEN 'googlemail.com' THEN 'gmail.com'
                    ELSE split_part(e, '@', 2) END AS domain
        FROM a WHERE e ~ '^[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+$'
    ), c AS (
        SELECT CASE WHEN domain = 'gmail.com'
                    THEN replace(regexp_replace(local0, '\+.*$', ''), '.', '')
                    ELSE regexp_replace(local0, '\+.*$', '') END AS local, domain
        FROM parts
    )
    SELECT local || '@' || domain FROM c
    WHERE local <> ''
      AND domain !~ '(^|\.)(local|localdomain|localhost|lan|home|internal|invalid)$'
      AND domain !~ '(^|\.)noreply\.'
      AND NOT identity.is_role_mailbox(local)
$$;

-- The account a forge's noreply address names: GitHub `<id>+<login>@users.noreply.github.com`
-- is `github:<id>`, the older `<login>@users.noreply.github.com` is GitHub's `<login>`
-- (returned as `github-login:<login>`), GitLab `<id>-<username>@users.noreply.gitlab.com`
-- is `gitlab:<id>`. NULL for any other address.
CREATE OR REPLACE FUNCTION identity.noreply_account(p_email text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN e ~ '^[0-9]+\+[^@]+@users\.noreply\.github\.com$'
            THEN 'github:' || split_part(e, '+', 1)
        WHEN e ~ '^[^@+]+@users\.noreply\.github\.com$'
            THEN 'github-login:' || split_part(e, '@', 1)
        WHEN e ~ '^[0-9]+-[^@]+@users\.noreply\.gitlab\.com$'
            THEN 'gitlab:' || split_part(e, '-', 1)
    END
    FROM (SELECT lower(trim(p_email)) AS e) a
$$;

-- Whether an account is an automation rather than a person: what the vendor says
-- (core.actors.is_bot), a bot's login or name (core.is_bot: `[bot]`, dependabot, ...),
-- or the marks of a CI or service account that vendors present as a user: a service
-- login (`svc-deploy`, `ci_runner`), a name that says so ("Jenkins CI", "Deploy Robot",
-- "GitHub Actions"), or a role mailbox as its only address and no login.
CREATE OR REPLACE FUNCTION identity.is_automation(p_is_bot boolean, p_login text, p_name text,
                                                  p_emails text[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p_is_bot, false)
        OR core.is_bot(p_login) OR core.is_bot(p_name)
        OR coalesce(lower(p_login) ~ '^(svc|ci|cd|build|deploy|jenkins|automation|robot)[-_.]'
                    OR lower(p_login) ~ '[-_.](svc|ci|bot|robot|automation|deployer)$', false)
        OR coalesce(p_name ~* '\m(bot|robot|automation|service account)\M'
                    OR p_name ~ '\m(CI|CD|CI/CD)\M'
                    OR lower(trim(p_name)) IN ('jenkins', 'github actions', 'gitlab ci',
                                               'circleci', 'buildkite', 'teamcity',
                                               'travis ci', 'github', 'gitlab', 'bitbucket'),
                    false)
        OR (cardinality(p_emails) > 0 AND p_login IS NULL
            AND NOT EXISTS (SELECT 1 FROM unnest(p_emails) e
                            WHERE NOT identity.is_role_mailbox(split_part(e, '@', 1))))
$$;

-- An employee number as HR systems and directories each format it: "001337", "1337" and
-- " 1337" are one number; other ids are compared case-insensitively.
CREATE OR REPLACE FUNCTION identity.canonical_employee_id(p_id text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^[0-9]+$' THEN coalesce(NULLIF(ltrim(t, '0'), ''), '0')
                ELSE NULLIF(lower(t), '') END
    FROM (SELECT trim(p_id) AS t) x
$$;

-- The rule a shared key stands for, and its strength (1 is strongest; an admin's pin is 0).
CREATE OR REPLACE FUNCTION identity.rule_of(p_kind text)
RETURNS TABLE (method text, strength int) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT m, s FROM (VALUES ('sso', 'sso', 1), ('employee', 'employee', 1),
                             ('account', 'noreply', 2), ('email', 'email', 3),
                             ('shared_login', 'shared_login', 4)) v(kind, m, s)
    WHERE v.kind = p_kind
$$;

-- The keys of some accounts, as their actor rows state them now (the matcher's blocking
-- keys, kind 'block', are written by the resolver and left alone here).
CREATE OR REPLACE FUNCTION identity.account_keys(p_org uuid, p_actors text[])
RETURNS TABLE (actor_id text, kind text, value text) LANGUAGE sql STABLE AS $$
    WITH a AS (
        SELECT a.* FROM (SELECT DISTINCT unnest(p_actors) AS actor_id) s
        JOIN core.actors a ON a.org_id = p_org AND a.actor_id = s.actor_id
    )
    SELECT DISTINCT k.actor_id, k.kind, k.value FROM (
        SELECT a.actor_id, 'account' AS kind, a.actor_id AS value FROM a
        UNION ALL
        SELECT a.actor_id, 'account', 'github-login:' || lower(a.login)
        FROM a WHERE a.provider = 'github' AND a.login IS NOT NULL
        UNION ALL
        SELECT a.actor_id, 'account', identity.noreply_account(e)
        FROM a, unnest(a.emails) e WHERE identity.noreply_account(e) IS NOT NULL
        UNION ALL
        SELECT a.actor_id, 'email', identity.canonical_email(e)
        FROM a, unnest(a.emails) e WHERE identity.canonical_email(e) IS NOT NULL
        UNION ALL
        SELECT a.actor_id, 'sso', a.sso_subject FROM a WHERE a.sso_subject IS NOT NULL
        UNION ALL
        SELECT a.actor_id, 'employee', identity.canonical_employee_id(a.employee_id)
        FROM a WHERE identity.canonical_employee_id(a.employee_id) IS NOT NULL
        UNION ALL
        SELECT a.actor_id, 'shared_login', g.name || ':' || lower(a.login)
        FROM a JOIN identity.login_groups g
            ON g.org_id = p_org AND a.provider = ANY(g.providers)
        WHERE a.login IS NOT NULL
    ) k
$$;

-- Rewrite the (non-block) keys of some accounts from their actor rows.
CREATE OR REPLACE FUNCTION identity.refresh_keys(p_org uuid, p_actors text[])
RETURNS void LANGUAGE sql AS $$
    WITH n AS MATERIALIZED (
        SELECT * FROM identity.account_keys(p_org, p_actors)
    ), gone AS (
        DELETE FROM identity.keys k
        USING (SELECT DISTINCT unnest(p_actors) AS actor_id) s
        WHERE k.org_id = p_org AND k.actor_id = s.actor_id AND k.kind <> 'block'
          AND NOT EXISTS (SELECT 1 FROM n WHERE n.actor_id = k.actor_id AND n.kind = k.kind
                                           AND n.value = k.value)
    )
    INSERT INTO identity.keys (org_id, kind, value, actor_id)
    SELECT p_org, n.kind, n.value, n.actor_id FROM n
    ORDER BY 2, 3, 4
    ON CONFLICT ON CONSTRAINT keys_pkey DO NOTHING
$$;

-- Replace the matcher's blocking keys of some accounts (computed in Python: they need
-- transliteration and nickname tables).
CREATE OR REPLACE FUNCTION identity.set_block_keys(p_org uuid, p_keys jsonb)
RETURNS void LANGUAGE sql AS $$
    WITH k AS MATERIALIZED (
        SELECT key AS actor_id, jsonb_array_elements_text(value) AS value
        FROM jsonb_each(p_keys)
    ), gone AS (
        DELETE FROM identity.keys t
        USING (SELECT jsonb_object_keys(p_keys) AS actor_id) s
        WHERE t.org_id = p_org AND t.kind = 'block' AND t.actor_id = s.actor_id
          AND NOT EXISTS (SELECT 1 FROM k WHERE k.actor_id = t.actor_id AND k.value = t.value)
    )
    INSERT INTO identity.keys (org_id, kind, value, actor_id)
    SELECT p_org, 'block', value, actor_id FROM k
    ORDER BY 3, 4
    ON CONFLICT ON CONSTRAINT keys_pkey DO NOTHING
$$;
