"""Atlassian Statuspage webhook subscriptions: incident updates and component status
changes of a status page (yours or a vendor's)."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field
from web.webhooks.schemes import QueryToken
from web.webhooks.source import Source

SOURCE = Source(
    name="statuspage",
    title="Atlassian Statuspage",
    # Statuspage signs nothing and sends no custom header: the secret is in the URL.
    auth=QueryToken("token"),
    # A component update has its own id; an incident is identified by its id and the time
    # it was last updated.
    delivery_id=(
        Field("component_update.id"),
        AllOf((Field("incident.id"), Field("incident.updated_at"))),
        BodyHash(),
    ),
    # The payload has no type field: the top-level key says which kind it is.
    event_type=(
        AllOf((Const("incident"), Field("incident.status")), sep="."),
        AllOf((Const("component"), Field("component_update.new_status")), sep="."),
    ),
    setup=(
        "On the status page to follow (Statuspage → Subscribers → Options → Settings → "
        "enable Webhook, then Subscribers → Webhook → Add subscriber; or 'Subscribe to "
        "updates' → webhook on a vendor's public status page): Endpoint URL = the endpoint "
        "URL followed by `?token=<endpoint secret>`, plus a contact email. Statuspage then "
        "sends every incident update and component status change."
    ),
    notes=(
        "Nothing is signed: anyone who learns the URL (it appears in Statuspage's subscriber "
        "list and may be logged by proxies) can post to it; rotate the secret if it leaks. "
        "Confirmed: payloads carry `meta`, `page` and either `incident` or "
        "`component_update` + `component`, with no type field; 2xx within 30 s is required "
        "(support.atlassian.com 'Enable webhook notifications', Statuspage AsyncAPI "
        "description). Not confirmed: that `incident.updated_at` changes on every incident "
        "webhook (the body hash covers any that lack it)."
    ),
)
