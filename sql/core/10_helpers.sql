-- Helpers shared by every source's normalizer (sources/*/normalize.sql).

-- Merge jsonb objects left to right (later keys win); ordered by vendor time it gives
-- each attribute the value of the latest statement that carried it.
CREATE OR REPLACE AGGREGATE core.jsonb_merge(jsonb) (
    SFUNC = jsonb_concat,
    STYPE = jsonb,
    INITCOND = '{}'
);

-- A raw body as JSON, or NULL when it is not a JSON document.
CREATE OR REPLACE FUNCTION core.parse_json(p_body bytea)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    IF p_body = ''::bytea THEN
        RETURN NULL;
    END IF;
    RETURN convert_from(p_body, 'UTF8')::jsonb;
EXCEPTION WHEN data_exception OR character_not_in_repertoire OR untranslatable_character THEN
    RETURN NULL;
END $$;

-- A vendor timestamp (ISO 8601 or the forms PostgreSQL reads); NULL when empty.
CREATE OR REPLACE FUNCTION core.ts(p_value text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT NULLIF(btrim(p_value), '')::timestamptz
$$;

-- A Unix time in seconds or milliseconds (told apart by magnitude); NULL when empty.
CREATE OR REPLACE FUNCTION core.ts_epoch(p_value numeric)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT to_timestamp(CASE WHEN p_value > 100000000000 THEN p_value / 1000 ELSE p_value END)
$$;

-- The first line of a message, without trailing whitespace.
CREATE OR REPLACE FUNCTION core.first_line(p_text text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT NULLIF(rtrim(split_part(p_text, E'\n', 1), E' \t\r'), '')
$$;

-- Whether an account is an automation: a vendor's bot type, a `[bot]` login, or one of
-- the well-known dependency and CI bots.
CREATE OR REPLACE FUNCTION core.is_bot(p_login text, p_type text DEFAULT NULL)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(lower(p_type) IN ('bot', 'app', 'app_user', 'service', 'integration'),
                    false)
        OR coalesce(p_login ~* '(\[bot\]|-bot|_bot|^bot-)$'
                    OR p_login ~* '^(project|group)_[0-9]+_bot'
                    OR lower(p_login) IN ('dependabot', 'renovate', 'github-actions',
                                          'snyk-bot', 'greenkeeper', 'codecov', 'sonarcloud',
                                          'mergify', 'project_bot', 'ghost'), false)
$$;

-- An account in a tool as an actor snapshot, `<provider>:<id>`: what every source states
-- about the accounts its events name. The email is kept only when it looks like one. One
-- expression, so that the planner inlines it (it runs for every account of every event).
CREATE OR REPLACE FUNCTION core.account(p_event core.inbound, p_provider text, p_id text,
                                        p_login text, p_name text, p_email text,
                                        p_is_bot boolean, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'actor', p_provider || ':' || p_id, p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', p_provider, 'external_id', p_id, 'login', p_login,
                   'display_name', p_name,
                   'emails', CASE WHEN p_email ~ '^[^@\s]+@[^@\s]+$'
                                  THEN jsonb_build_array(lower(p_email)) END,
                   'is_bot', coalesce(p_is_bot, false))))::core.fact
$$;

-- An account as a directory states it (an SSO provider, an HR system, a chat workspace's
-- profile): every email it lists, and the SSO subject and HR employee number it carries,
-- which identity resolution links on.
CREATE OR REPLACE FUNCTION core.directory_account(p_event core.inbound, p_provider text,
                                                  p_id text, p_login text, p_name text,
                                                  p_emails text[], p_sso_subject text,
                                                  p_employee_id text, p_is_bot boolean,
                                                  p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'actor', p_provider || ':' || p_id, p_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', p_provider, 'external_id', p_id, 'login', p_login,
                   'display_name', p_name,
                   'emails', (SELECT jsonb_agg(DISTINCT lower(e))
                              FROM unnest(p_emails) AS e WHERE e ~ '^[^@\s]+@[^@\s]+$'),
                   'sso_subject', NULLIF(p_sso_subject, ''),
                   'employee_id', NULLIF(p_employee_id, ''),
                   'is_bot', coalesce(p_is_bot, false))))::core.fact
$$;

-- A commit author as a git identity, `git:<lower-cased email>` (callers skip authors
-- without an email).
CREATE OR REPLACE FUNCTION core.git_author(p_event core.inbound, p_name text, p_email text,
                                           p_is_bot boolean, p_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT core.account(p_event, 'git', lower(p_email), NULL, p_name, p_email,
                        coalesce(p_is_bot, false) OR core.is_bot(p_name), p_at)
$$;

-- A commit of a push payload as GitHub and GitLab send it ({id, message, timestamp,
-- author: {name, email}}), on a branch (NULL for a tag) of a repository.
CREATE OR REPLACE FUNCTION core.pushed_commit(p_event core.inbound, p_provider text,
                                              p_repo_id text, p_commit jsonb, p_branch text,
                                              p_pushed_at timestamptz)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'commit', p_repo_id || ':' || (p_commit->>'id'), p_pushed_at,
               jsonb_strip_nulls(jsonb_build_object(
                   'provider', p_provider, 'repo_id', p_repo_id, 'sha', p_commit->>'id',
                   'author_id', 'git:' || lower(p_commit->'author'->>'email'),
                   'author_name', p_commit->'author'->>'name',
                   'author_email', p_commit->'author'->>'email',
                   'authored_at', p_commit->>'timestamp',
                   'message', core.first_line(p_commit->>'message'),
                   'branch', p_branch, 'pushed_at', p_pushed_at)))::core.fact
$$;

-- Work-item keys (Jira / Linear style, e.g. PLAT-123) mentioned in any of the texts,
-- distinct and sorted.
CREATE OR REPLACE FUNCTION core.work_item_keys(VARIADIC p_texts text[])
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(DISTINCT m[1] ORDER BY m[1]), '{}')
    FROM unnest(p_texts) AS t(txt),
         regexp_matches(coalesce(txt, ''), '(?:^|[^A-Za-z0-9])([A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,6})(?![0-9])', 'g') AS m
$$;

-- SEV1..SEV5 from a rank where 1 is the most severe; NULL when unknown.
CREATE OR REPLACE FUNCTION core.severity(p_rank int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_rank IS NULL THEN NULL ELSE 'SEV' || least(greatest(p_rank, 1), 5) END
$$;

-- The rank (1 = most severe) of a vendor's severity name: the number in it (SEV2, P3,
-- sev-1, "2"), else the usual words (critical/page/fatal, high/error/major,
-- warning/medium/minor, low/info, debug/none/trivial); NULL when neither.
CREATE OR REPLACE FUNCTION core.severity_rank(p_name text)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(substring(p_name FROM '[0-9]+')::int, CASE
        WHEN p_name ~* '\m(critical|crit|page|fatal|emergency|disaster|blocker)\M' THEN 1
        WHEN p_name ~* '\m(high|error|err|major)\M' THEN 2
        WHEN p_name ~* '\m(warning|warn|medium|moderate|minor)\M' THEN 3
        WHEN p_name ~* '\m(low|info|informational|notice)\M' THEN 4
        WHEN p_name ~* '\m(debug|none|trivial)\M' THEN 5 END)
$$;

-- Host and path (without `.git`) of a git remote URL (https, ssh or scp-like), or NULL
-- when it is not one.
CREATE OR REPLACE FUNCTION core.git_remote(p_url text)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r[2] IS NOT NULL THEN ARRAY[lower(r[1]), r[2]] END
    FROM (SELECT regexp_match(btrim(p_url),
        '^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]+@)?([^/:@]+)(?::[0-9]+)?[:/]+(.+?)(?:\.git)?/*$',
        'i') AS r) x
$$;

-- The class of a vendor environment name: the org's own rules in order, then the
-- built-in ones (pre-production names before production ones, so `preprod` is staging).
CREATE OR REPLACE FUNCTION core.environment_class(p_org_id uuid, p_name text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT r.class FROM core.environment_rules r
         WHERE r.org_id = p_org_id AND p_name ~* r.pattern
         ORDER BY r.position LIMIT 1),
        CASE
            WHEN p_name IS NULL THEN 'other'
            WHEN p_name ~* '(^|[^a-z])(pre-?prod(uction)?|stag(e|ing)?|stg|uat)([^a-z]|$)'
                THEN 'staging'
            WHEN p_name ~* '(^|[^a-z])(prod(uction)?|prd|live)([^a-z]|$)' THEN 'production'
            WHEN p_name ~* '(^|[^a-z])(test(ing)?|qa|ci|sandbox)([^a-z]|$)' THEN 'test'
            WHEN p_name ~* '(^|[^a-z])(dev(elopment)?|local|review|preview)([^a-z]|$)' THEN 'dev'
            ELSE 'other'
        END)
$$;

-- The first of the dotted paths missing (absent or null) from a document, or NULL when
-- all are there: how a normalizer says which documented field a payload lacks.
CREATE OR REPLACE FUNCTION core.missing(p_doc jsonb, VARIADIC p_paths text[])
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_path text;
    v_value jsonb;
BEGIN
    -- A loop, not a set-returning query: this runs once per event in every normalizer.
    FOREACH v_path IN ARRAY p_paths LOOP
        v_value := p_doc #> string_to_array(v_path, '.');
        IF v_value IS NULL OR v_value = 'null'::jsonb THEN
            RETURN v_path;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- {p_as: p_doc->p_key} when the document has the key (its value may be null: a stated
-- null), else {}: for attributes whose absence means "not said" and null means "none".
CREATE OR REPLACE FUNCTION core.stated(p_doc jsonb, p_key text, p_as text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_doc ? p_key
                THEN jsonb_build_object(coalesce(p_as, p_key), p_doc->p_key)
                ELSE '{}'::jsonb END
$$;

-- A failure fact: the event violates its documented shape.
CREATE OR REPLACE FUNCTION core.failure(p_event core.inbound, p_reason text)
RETURNS core.fact LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_event.event_id, 'failed', '', p_event.received_at,
               jsonb_build_object('reason', p_reason))::core.fact
$$;

-- An object without its empty-string values: a vendor's "" says nothing.
CREATE OR REPLACE FUNCTION core.drop_empty(p_attrs jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_attrs @? '$.* ? (@ == "")'
                THEN (SELECT coalesce(jsonb_object_agg(k, v), '{}')
                      FROM jsonb_each(p_attrs) AS x(k, v) WHERE v <> '""'::jsonb)
                ELSE p_attrs END
$$;
