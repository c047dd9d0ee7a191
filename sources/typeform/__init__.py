"""Typeform webhooks: a form response (developer-experience and pulse surveys) posted as
soon as it is submitted."""

from web.webhooks.locate import Field
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="typeform",
    title="Typeform",
    auth=Hmac("Typeform-Signature", prefix="sha256=", encoding="base64"),
    delivery_id=(Field("event_id"), Field("form_response.token")),
    event_type=(Field("event_type"),),
    setup=(
        "Run `qdx source add ORG typeform`. In Typeform, open the form → Connect → Webhooks "
        "→ Add a webhook: URL = the endpoint URL; then Edit → Secret = the endpoint secret "
        "(or `PUT /forms/<form_id>/webhooks/<tag>` with `url`, `secret`, `enabled: true`). "
        "Turn the webhook on: Typeform creates it switched off."
    ),
    notes=(
        "Confirmed: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>` "
        "(hookdeck webhook-skills, trigger.dev docs) and the body's `event_id` (\"unique ID "
        'for the webhook, assigned by Typeform") and `event_type` (Azure connectors SDK '
        "typings). Unconfirmed: that `event_id` stays the same when Typeform retries; the "
        "response `token` is the fallback key. No timestamp is signed, so a captured "
        "delivery can be replayed; the dedup key absorbs exact replays."
    ),
)
