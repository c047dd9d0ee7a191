"""Zoom webhooks (event subscriptions of a Zoom Marketplace app): meetings starting and
ending and participants joining and leaving."""

from web.webhooks.handshakes import ZoomUrlValidation
from web.webhooks.locate import AllOf, BodyHash, Field, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="zoom",
    title="Zoom (meetings)",
    auth=Hmac(
        "x-zm-signature",
        prefix="v0=",
        message="v0:{timestamp}:{body}",
        timestamp=Header("x-zm-request-timestamp"),
        tolerance=300,
    ),
    # Zoom documents no delivery id: the event, the meeting instance (uuid), the
    # participant for participant events, and the event's millisecond timestamp.
    delivery_id=(
        AllOf(
            (
                Field("event"),
                Field("payload.object.uuid"),
                Field("payload.object.participant.user_id"),
                Field("event_ts"),
            )
        ),
        AllOf((Field("event"), Field("payload.object.uuid"), Field("event_ts"))),
        BodyHash(),
    ),
    event_type=(Field("event"),),
    setup=(
        "Zoom generates the secret: in marketplace.zoom.us → your app (General or "
        "Server-to-Server OAuth) → Features → Access, copy the Secret Token and create the "
        "endpoint with it: `qdx source add ORG zoom --secret <Secret Token>`. Then Event "
        "Subscriptions → add one, Event notification endpoint URL = the endpoint URL, press "
        "Validate (answered automatically), and add the events meeting.started, "
        "meeting.ended, meeting.participant_joined, meeting.participant_left."
    ),
    handshakes=(ZoomUrlValidation(),),
    notes=(
        "Confirmed: `x-zm-signature: v0=<hex HMAC-SHA256>` of `v0:{x-zm-request-timestamp}:"
        "{body}` with the Secret Token, and that `endpoint.url_validation` is itself signed "
        "and verified before being answered (zoom/webhook-sample index.js); Zoom re-validates "
        "the URL every 72 h. Unconfirmed: the payload paths `payload.object.uuid` and "
        "`payload.object.participant.user_id` and that a retry repeats `event_ts`; without "
        "them the key falls back to the body hash."
    ),
)
