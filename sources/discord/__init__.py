"""Discord interactions endpoint: slash commands and message components of a Discord app,
posted by Discord and signed with the application's Ed25519 key."""

from web.webhooks.handshakes import DiscordPing
from web.webhooks.locate import AllOf, Const, Field
from web.webhooks.schemes import Ed25519
from web.webhooks.source import Source

SOURCE = Source(
    name="discord",
    title="Discord (interactions endpoint)",
    auth=Ed25519("X-Signature-Ed25519", "X-Signature-Timestamp"),
    delivery_id=(Field("id"),),
    # Interaction types are numbers: 2 application command, 3 message component,
    # 4 autocomplete, 5 modal submit.
    event_type=(AllOf((Const("interaction"), Field("type")), sep="."),),
    setup=(
        "Discord Developer Portal → your application → General Information: copy the Public "
        "Key (hex) and create the endpoint with it: `qdx source add ORG discord --secret "
        "<Public Key>`. Then set Interactions Endpoint URL = the endpoint URL and save; "
        "Discord sends a signed PING (answered automatically) and also probes with bad "
        "signatures, which are refused. Do not use this endpoint as the app's Webhook Events "
        "URL: those payloads use a different envelope."
    ),
    handshakes=(DiscordPing(),),
    notes=(
        "Low value for engineering metrics; optional. Confirmed: Ed25519 over "
        "`X-Signature-Timestamp` + raw body with the app's public key, and PING type 1 "
        'answered with `{"type": 1}` (discord-interactions-js); Webhook Events use PING '
        "type 0 (discord-api-types). Unconfirmed: that Discord never retries an "
        "interaction (the interaction `id`, a snowflake, is the key either way) and that it "
        "probes the URL with bad signatures. Limitation: the receiver answers a stored "
        'interaction with `202 {"status": "accepted"}`, which '
        'is not an interaction response, so the Discord user sees "This interaction '
        'failed" even though the event was stored. Webhook Events (a separate Discord '
        "feature) mark real events with type 1, so pointing them here would answer them as "
        "PINGs and store nothing. Each interaction body carries its interaction `token` "
        "(usable to answer as the app); it is stored with the body."
    ),
)
