"""Asana webhooks on a project (or workspace): task and story events. The secret is not
chosen by us: Asana hands it over in the `X-Hook-Secret` handshake when the webhook is
created, and signs every later delivery with it."""

from web.webhooks.handshakes import AsanaHookSecret
from web.webhooks.locate import AllOf, BodyHash, Const, Field, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="asana",
    title="Asana",
    auth=Hmac("X-Hook-Signature"),
    # Asana sends no event or delivery id. A delivery is keyed on its first event: the
    # resource, the action, the event's own timestamp and (for `changed`) the field that
    # changed; a heartbeat (empty `events`) or anything else falls back to the body hash.
    delivery_id=(
        AllOf(
            (
                Field("events[0].resource.gid"),
                Field("events[0].action"),
                Field("events[0].created_at"),
                Field("events[0].change.field"),
            )
        ),
        AllOf(
            (
                Field("events[0].resource.gid"),
                Field("events[0].action"),
                Field("events[0].created_at"),
            )
        ),
        BodyHash(),
    ),
    event_type=(
        Join((Field("events[0].resource.resource_type"), Field("events[0].action"))),
        Const("heartbeat"),
    ),
    setup=(
        "Run `qdx source add ORG asana` (the printed secret is replaced by Asana's). Then "
        "create the webhook with Asana's API, e.g. `POST https://app.asana.com/api/1.0/webhooks` "
        'with `{"data": {"resource": "<project gid>", "target": "<endpoint URL>", '
        '"filters": [{"resource_type": "task"}, {"resource_type": "story", '
        '"action": "added"}]}}`. Asana immediately POSTs `X-Hook-Secret` to the endpoint; it '
        "is echoed back and kept as the endpoint's secret, and the webhook becomes active."
    ),
    handshakes=(AsanaHookSecret(),),
    notes=(
        "Confirmed: the `X-Hook-Secret` handshake (developers.asana.com establish-a-webhook) "
        "and `X-Hook-Signature` = hex HMAC-SHA256 of the body with that secret (Asana's own "
        "devrel-examples webhooks-nodejs/index.js). Asana delivers at most once and retries "
        "for up to 24 h; whether a retry repeats the body byte for byte (the body-hash "
        "fallback relies on it) is unconfirmed. Events are compact: the task itself "
        "(completed_at, assignee, section) must be fetched from the API. Heartbeats (empty "
        "`events`) are stored as `heartbeat` and de-duplicate to one. A delivery with several "
        "events is keyed and typed on its first event. The handshake is answered before "
        "authentication (it carries no signature) and replaces the endpoint's secret."
    ),
)
