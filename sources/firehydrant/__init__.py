"""FireHydrant webhooks: incident changes (milestones started → acknowledged → mitigated →
resolved) and change events."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="firehydrant",
    title="FireHydrant",
    auth=Hmac("fh-signature"),
    # FireHydrant documents no delivery id and no event id: a retried delivery repeats the
    # same body, so the body hash is the key.
    delivery_id=(BodyHash(),),
    event_type=(
        Join((Field("event.resource_type"), Field("event.operation"))),
        Field("data.event"),
        AllOf((Const("incident"), Field("data.incident.current_milestone")), sep="."),
        # The envelope is unconfirmed: store an unrecognised body rather than refuse it.
        Const("unknown"),
    ),
    setup=(
        "FireHydrant → Settings → Webhooks → Add webhook (Owner permission). URL = the "
        "endpoint URL, Secret = the endpoint secret, Status = Active, event subscriptions: "
        "Incidents (and Incidents (Private) if those count), Change Events."
    ),
    notes=(
        "Confirmed: `fh-signature` is the hex HMAC-SHA256 of the raw body with the "
        'webhook\'s secret, and incident payloads are `{"data": {"incident": {id, '
        "current_milestone, milestones, severity, …}}}` (docs.firehydrant.com 'Webhooks'). "
        "Not confirmed: the envelope naming the event (`event.operation` / "
        "`event.resource_type` is recalled, `data.event` is seen in a third-party sample), "
        "so the event type falls back to `incident.<current_milestone>` and then to "
        "`unknown` (the body is kept; normalisation decides). No delivery id is "
        "documented: the key is the body hash, so a retry that re-serialises a changed "
        "incident is stored again (harmless: the incident's state is the same or newer)."
    ),
)
