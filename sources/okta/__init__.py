"""Okta event hooks: directory changes (users created, deactivated, added to groups) pushed
from the Okta System Log."""

from web.webhooks.handshakes import OktaVerification
from web.webhooks.locate import Field
from web.webhooks.schemes import Token
from web.webhooks.source import Source

SOURCE = Source(
    name="okta",
    title="Okta (event hooks)",
    auth=Token("Authorization"),
    # The System Log event's uuid first; then the hook delivery's own eventId.
    delivery_id=(Field("data.events[0].uuid"), Field("eventId")),
    event_type=(Field("data.events[0].eventType"),),
    setup=(
        "Run `qdx source add ORG okta`. Okta Admin Console → Workflow → Event Hooks → Create "
        "Event Hook: Endpoint URL = the endpoint URL, Authentication field = `Authorization`, "
        "Authentication secret = the endpoint secret exactly (no `Bearer ` prefix); events: "
        "user.lifecycle.create, user.lifecycle.activate, user.lifecycle.deactivate, "
        "user.lifecycle.suspend, user.account.update_profile, group.user_membership.add, "
        "group.user_membership.remove. Save, then Verify (the verification GET is answered "
        "automatically)."
    ),
    handshakes=(OktaVerification(),),
    notes=(
        "Okta signs nothing: the shared secret comes back in the `Authorization` header you "
        "configure (never stored). It does not cover the body and has no timestamp, so a "
        "captured delivery can be replayed or altered; exact replays are absorbed by the "
        "dedup key. Confirmed: the one-time verification GET carries the configured "
        "`Authorization` header and `X-Okta-Verification-Challenge`, answered "
        '`{"verification": ...}` (support.okta.com "Unable to verify event hook"), so it is '
        "answered only after auth. Unconfirmed: that `data.events[].uuid` and `eventId` are "
        "the same on Okta's retry. A delivery with several events is keyed and typed on its "
        "first event."
    ),
)
