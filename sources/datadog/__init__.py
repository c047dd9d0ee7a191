"""Datadog Webhooks integration: monitor notifications (triggered, warn, recovered), with
a payload template of ours."""

from web.webhooks.locate import AllOf, BodyHash, Field, Join
from web.webhooks.schemes import AnyOf, Basic, Token
from web.webhooks.source import Source

# The body is whatever the webhook's payload template says: this is the template we ask
# for (Datadog fills the $VARIABLES). `id` is the notification event's id.
TEMPLATE = (
    '{"id": "$ID", "event_type": "$EVENT_TYPE", "alert_transition": "$ALERT_TRANSITION", '
    '"alert_id": "$ALERT_ID", "alert_cycle_key": "$ALERT_CYCLE_KEY", '
    '"aggreg_key": "$AGGREG_KEY", "alert_status": "$ALERT_STATUS", '
    '"alert_priority": "$ALERT_PRIORITY", "alert_type": "$ALERT_TYPE", '
    '"alert_scope": "$ALERT_SCOPE", '
    '"title": "$EVENT_TITLE", "date": "$DATE", "last_updated": "$LAST_UPDATED", '
    '"hostname": "$HOSTNAME", "tags": "$TAGS", "link": "$LINK", '
    '"org": {"id": "$ORG_ID", "name": "$ORG_NAME"}}'
)

SOURCE = Source(
    name="datadog",
    title="Datadog (monitor webhooks)",
    # Datadog signs nothing: a custom header (or Basic auth) carries the secret.
    auth=AnyOf((Token("X-Qdx-Token"), Basic())),
    # `id` ($ID) with our template or Datadog's default payload; else the alert cycle,
    # the transition and the event time.
    delivery_id=(
        Field("id"),
        AllOf((Field("alert_cycle_key"), Field("alert_transition"), Field("date"))),
        BodyHash(),
    ),
    event_type=(Join((Field("event_type"), Field("alert_transition"))),),
    setup=(
        "Datadog → Integrations → Webhooks. First add a custom variable `QDX_SECRET` = the "
        "endpoint secret, marked secure (hidden). Then New webhook: Name = e.g. `qdx`, URL = "
        'the endpoint URL; Custom Headers = `{"X-Qdx-Token": "$QDX_SECRET"}` (or a Basic '
        "auth method with any user name and the endpoint secret as password); leave 'Encode as "
        f"form' off; Payload = `{TEMPLATE}`. Then add `@webhook-qdx` to the message of "
        "every monitor whose alerts should count (or to a notification rule)."
    ),
    notes=(
        "Nothing is signed: the X-Qdx-Token header (or Basic auth) only proves knowledge "
        "of the secret and does not bind the body. The body is the user's template: the "
        "keys above are our contract, not Datadog's. Confirmed (docs.datadoghq.com "
        "Webhooks): custom headers in JSON, a custom payload with $-variables "
        "($AGGREG_KEY, $ALERT_CYCLE_KEY, $ALERT_ID, $ALERT_STATUS, …), custom variables "
        "usable in headers (DataDog/Miscellany webhooks README), retries only on 5xx "
        "or connection errors, up to 5 times, 15 s timeout. Not confirmed: that $ID is the "
        "same on those retries (assumed: the same notification is re-sent)."
    ),
)
