"""Opsgenie outgoing Webhook integration: alert create / acknowledge / close / escalate."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field
from web.webhooks.schemes import AnyOf, Basic, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="opsgenie",
    title="Opsgenie",
    # Opsgenie signs nothing: the integration's custom header (or Basic credentials in
    # the Authorization header) proves the sender knows the endpoint secret.
    auth=AnyOf((Token("X-Qdx-Token"), Basic())),
    # No delivery id: an alert, the action and the alert's update time (nanoseconds)
    # identify the event.
    delivery_id=(
        AllOf((Field("alert.alertId"), Field("action"), Field("alert.updatedAt"))),
        BodyHash(),
    ),
    event_type=(AllOf((Const("alert"), Field("action")), sep="."),),
    setup=(
        "Opsgenie → Settings → Integrations → Add integration → Webhook. Webhook URL = the "
        "endpoint URL; custom headers: `X-Qdx-Token` = the endpoint secret; tick 'Add "
        "Alert Description to Payload' and 'Add Alert Details to Payload'; alert actions "
        "to forward: Create, Acknowledge, UnAcknowledge, Close, Escalate, AssignOwnership, "
        "UpdatePriority. Turn the integration on and save."
    ),
    notes=(
        "Nothing is signed: the X-Qdx-Token header (or Basic auth) only proves knowledge "
        "of the secret and does not bind the body. Confirmed: payload fields `action`, "
        "`alert.alertId`, `alert.createdAt` (ms), `alert.updatedAt` (ns), "
        "`alertFlowContext.requestId` (stored samples). Custom headers on the outgoing "
        "Webhook integration are described by third parties (Harness AI SRE guide), not "
        "confirmed from Atlassian's page; Basic auth support is not confirmed."
    ),
)
