-- BambooHR (webhooks): the employees that HR changes name, as accounts. Only accounts are
-- modelled so far. Job title, department, manager, hire and termination dates and
-- employment status are not.
--
-- Event types used (both payload formats that BambooHR can post as JSON):
-- - Event-based (the recommended one): `employee.created`, `employee.updated`,
--   `employee.deleted`. The body is `{type, timestamp, data: {companyId, employeeId,
--   changedFields}}` and carries the employee id only, no field values.
-- - Field-based (also called "Global", deprecated but still supported): the body is
--   `{employees: [{id, action, timestamp, changedFields, fields}]}`. The receiver types it
--   `employee.<action of the first employee>`: `employee.Created`, `employee.Updated`,
--   `employee.Deleted`. Every employee of the array is read. `fields` holds the values of
--   the webhook's "post fields", keyed by BambooHR's English field name ("First Name") or
--   by the alias the admin gave it. For Created and Deleted it is empty. The names
--   recognised are the default names and the API names: First Name / firstName, Last
--   Name / lastName, Preferred Name / preferredName, Work Email / workEmail, Employee # /
--   employeeNumber. A value is the bare string that the documentation shows, or
--   `{"value": ...}`, which is how an older sample of ours writes it.
-- Required fields: event-based `data.employeeId`; field-based `employees` (an array) and
-- `employees[].id`.
--
-- Ids: actor `bamboohr:<employee id>`, BambooHR's internal id (`data.employeeId`,
-- `employees[].id`, the one in /v1/employees/{id}). The columns:
-- - display_name = "<Preferred Name, else First Name> <Last Name>". It is stated only when
--   both parts are posted, so a delivery carrying one of them does not blank the other.
-- - emails = [Work Email]. Home Email is deliberately not read. It is private contact data
--   that the employee never gave to a work tool, it would be shown wherever accounts are
--   listed, and a household address shared by two employees would let identity
--   resolution merge two people on it.
-- - employee_id = the company-assigned employee number ("Employee #", API
--   `employeeNumber`) when the payload carries it. Otherwise it is left unstated, and the
--   internal id is never used in its place. This is the number that other systems (SCIM
--   enterprise `employeeNumber`, Okta profiles) hold for the person. Stating the internal
--   id when the number is absent would make the value flip with each delivery, because
--   Created and Deleted deliveries carry no fields at all.
-- - is_bot = false; no login.
-- Observed at the change time the payload states (`timestamp`, `employees[].timestamp`),
-- else at the event's arrival (`received_at`).

-- The value of the first of these BambooHR fields that a field-based payload carries
-- (non-empty): a bare value or {"value": ...}.
CREATE OR REPLACE FUNCTION core.bamboohr_field(p_fields jsonb, VARIADIC p_names text[])
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT v
    FROM unnest(p_names) WITH ORDINALITY AS k(name, n),
         LATERAL (SELECT nullif(btrim(CASE jsonb_typeof(p_fields->k.name)
                                          WHEN 'object' THEN p_fields->k.name->>'value'
                                          WHEN 'string' THEN p_fields->>k.name
                                          WHEN 'number' THEN p_fields->>k.name END), '')
                  AS v) x
    WHERE v IS NOT NULL
    ORDER BY n LIMIT 1
$$;

-- BambooHR deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_bamboohr(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e, e.payload AS p, e.payload ? 'employees' AS field_based
        FROM unnest(p_events) e
        WHERE lower(e.event_type) IN ('employee.created', 'employee.updated',
                                      'employee.deleted')
    ), checked AS (
        SELECT e.*, CASE
            WHEN NOT field_based THEN core.missing(p, 'data.employeeId')
            WHEN jsonb_typeof(p->'employees') IS DISTINCT FROM 'array' THEN 'employees'
            WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p->'employees') x
                         WHERE nullif(x->>'id', '') IS NULL) THEN 'employees[].id'
            END AS lacks
        FROM e
    ), employees AS (
        -- One row per employee the delivery names, with its posted fields ({} when none).
        SELECT checked.e, p->'data'->>'employeeId' AS id, '{}'::jsonb AS f,
               coalesce(core.ts(p->>'timestamp'), (checked.e).received_at) AS at
        FROM checked WHERE lacks IS NULL AND NOT field_based
        UNION ALL
        SELECT checked.e, x->>'id',
               CASE WHEN jsonb_typeof(x->'fields') = 'object' THEN x->'fields'
                    ELSE '{}' END,
               coalesce(core.ts(x->>'timestamp'), (checked.e).received_at)
        FROM checked, jsonb_array_elements(p->'employees') x
        WHERE lacks IS NULL AND field_based
    ), named AS (
        SELECT employees.*,
               coalesce(core.bamboohr_field(f, 'Preferred Name', 'preferredName'),
                        core.bamboohr_field(f, 'First Name', 'firstName')) AS given,
               core.bamboohr_field(f, 'Last Name', 'lastName') AS family,
               core.bamboohr_field(f, 'Work Email', 'workEmail') AS email,
               core.bamboohr_field(f, 'Employee #', 'employeeNumber') AS number
        FROM employees
    ), merged AS (
        -- Each employee once per delivery (a field-based batch may list one employee
        -- twice): every attribute from the latest change in the delivery that posts it.
        SELECT (array_agg(e))[1] AS e, id, max(at) AS at,
               (array_agg(given || ' ' || family ORDER BY at DESC, given, family)
                    FILTER (WHERE given IS NOT NULL AND family IS NOT NULL))[1] AS name,
               (array_agg(email ORDER BY at DESC, email)
                    FILTER (WHERE email IS NOT NULL))[1] AS email,
               (array_agg(number ORDER BY at DESC, number)
                    FILTER (WHERE number IS NOT NULL))[1] AS number
        FROM named
        GROUP BY (e).event_id, id
    )
    SELECT core.failure(e, format('%s lacks %s', (e).event_type, lacks))
    FROM checked WHERE lacks IS NOT NULL

    UNION ALL
    SELECT core.directory_account(e, 'bamboohr', id, NULL, name, ARRAY[email], NULL, number,
                                  false, at)
    FROM merged
$$;
