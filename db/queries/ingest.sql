-- endpoint_secrets --
-- The org, source and currently valid secrets of a webhook endpoint.
SELECT org_id, source, secrets FROM auth.endpoint_secrets(%(endpoint_id)s)

-- adopt_webhook_secret --
-- Keep a secret a vendor handed us in a handshake.
SELECT auth.adopt_webhook_secret(%(endpoint_id)s, %(secret)s)

-- accept_event --
-- Claim a delivery key, store the event and queue it (one transaction).
SELECT event_id, is_new
FROM raw.accept_event(%(org_id)s, %(endpoint_id)s, %(source)s, %(delivery_key)s,
                      %(event_type)s, %(content_type)s, %(headers)s, %(body)s)

-- ensure_event_partitions --
-- Create the monthly partitions of raw.events from this month on (moving default-partition rows), then give the new ones row-level security.
WITH made AS (SELECT count(*) AS n FROM raw.ensure_event_partitions(current_date, %(months)s))
SELECT made.n, auth.secure_tenant_tables() FROM made

-- accept_events --
-- Store a batch of deliveries in one statement (raw.accept_events), rows in input order; positional arrays in group.COLUMNS order, then the bodies' sha256.
SELECT event_id, is_new FROM raw.accept_events(%b, %b, %b, %b, %b, %b, %b, %b, %b) ORDER BY ord
