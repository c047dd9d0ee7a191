"""PagerDuty v3 webhook subscriptions: incident lifecycle (triggered, acknowledged,
escalated, resolved, reopened, priority changes)."""

from web.webhooks.locate import Field, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="pagerduty",
    title="PagerDuty (v3 webhooks)",
    # During a secret rotation PagerDuty sends one `v1=` signature per secret.
    auth=Hmac("X-PagerDuty-Signature", prefix="v1=", many=","),
    delivery_id=(Header("X-Webhook-Id"), Field("event.id")),
    event_type=(Field("event.event_type"),),
    setup=(
        "PagerDuty → Integrations → Generic Webhooks (v3) → New Webhook (or POST "
        "/webhook_subscriptions). Webhook URL = the endpoint URL; scope = the account, a "
        "team or a service; event subscription: incident.triggered, incident.acknowledged, "
        "incident.unacknowledged, incident.escalated, incident.reassigned, "
        "incident.resolved, incident.reopened, incident.priority_updated, "
        "incident.responder.added. PagerDuty shows the signing secret once, after saving: "
        "make it the endpoint secret with `qdx source rotate ORG ENDPOINT --secret <it>`."
    ),
    notes=(
        "Confirmed (PagerDuty developer-docs 04-Signatures.md and 02-Behavior.md): one or "
        "more comma-separated `v1=<hex HMAC-SHA256 of the raw body>` values, any match "
        "passes; `X-Webhook-Id` is repeated on every retry and retries run for up to 48 h; "
        "`event.id`, `event.event_type`, `event.occurred_at` in the body (stored samples). "
        "A non-429 4xx makes PagerDuty drop the delivery, so a wrong secret loses events "
        "rather than delaying them."
    ),
)
