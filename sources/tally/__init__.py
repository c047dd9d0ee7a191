"""Tally webhooks: a form submission (surveys, check-ins) posted when it is received."""

from web.webhooks.locate import Field
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="tally",
    title="Tally",
    auth=Hmac("Tally-Signature", encoding="base64"),
    delivery_id=(Field("eventId"), Field("data.responseId")),
    event_type=(Field("eventType"),),
    setup=(
        "Run `qdx source add ORG tally`. In Tally, open the form → Integrations → Webhooks → "
        "Connect: Endpoint URL = the endpoint URL, Signing secret = the endpoint secret (or "
        "`POST https://api.tally.so/webhooks` with `formId`, `url`, `signingSecret`)."
    ),
    notes=(
        "Confirmed: `Tally-Signature` = base64 HMAC-SHA256 of the raw body with the signing "
        "secret, no prefix and no timestamp (hookdeck, as recorded in the reference; several "
        "public receivers do the same), and `signingSecret` on POST /webhooks "
        "(developers.tally.so). Unconfirmed: that `eventId` is the same on Tally's retries; "
        "`data.responseId` is the fallback key. Without a signed timestamp a captured "
        "delivery can be replayed; the dedup key absorbs exact replays."
    ),
)
