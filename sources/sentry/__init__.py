"""Sentry Integration Platform webhooks (internal or public integration): issues created /
resolved / assigned / ignored, metric and issue alerts."""

from web.webhooks.locate import Field, Header, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="sentry",
    title="Sentry",
    auth=Hmac("Sentry-Hook-Signature"),
    delivery_id=(Header("Request-ID"),),
    event_type=(Join((Header("Sentry-Hook-Resource"), Field("action"))),),
    setup=(
        "Sentry → Settings → Developer Settings → Custom Integrations → Create New "
        "Integration → Internal Integration. Webhook URL = the endpoint URL; permissions: "
        "Issue & Event = Read; webhooks: issue (created, resolved, assigned, ignored, "
        "unresolved); enable 'Alert Rule Action' to send issue and metric alerts to it. "
        "Save, then copy the integration's Client Secret and make it the endpoint secret with "
        "`qdx source rotate ORG ENDPOINT --secret <it>`."
    ),
    notes=(
        "Confirmed (docs.sentry.io Integration Platform webhooks): `Sentry-Hook-Signature` "
        "is the hex HMAC-SHA256 of the body with the integration's Client Secret; "
        "`Request-ID` is a unique id per request; `Sentry-Hook-Resource` names the resource "
        "(installation, event_alert, issue, metric_alert, error, comment) and the body's "
        "`action` the change. Sentry signs the JSON it sends, so the raw bytes verify. "
        "`Sentry-Hook-Timestamp` is not covered by the signature, so it is not used for "
        "replay protection. Not confirmed: whether Sentry retries and keeps `Request-ID`."
    ),
)
