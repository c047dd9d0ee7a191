"""Microsoft Graph change notifications: Teams chat/channel messages and Outlook calendar
events, one subscription per resource, all posted to this endpoint."""

from web.webhooks.handshakes import GraphValidation
from web.webhooks.locate import AllOf, BodyHash, Const, Field
from web.webhooks.schemes import BodyToken
from web.webhooks.source import Source

SOURCE = Source(
    name="microsoft_graph",
    title="Microsoft Graph (Teams, Outlook calendar)",
    auth=BodyToken("value", "clientState"),
    # Graph has no delivery id. Its optional notification `id` comes first. The key one
    # would build next is subscriptionId + changeType + resource + resourceData.@odata.etag,
    # but `Field` splits paths on dots, so `@odata.etag` cannot be addressed; the body hash
    # stands in for the etag (it contains it, so successive updates of one resource stay
    # distinct). Lifecycle notifications have lifecycleEvent instead of changeType.
    delivery_id=(
        AllOf((Field("value[0].subscriptionId"), Field("value[0].id"))),
        AllOf(
            (
                Field("value[0].subscriptionId"),
                Field("value[0].changeType"),
                Field("value[0].resource"),
                BodyHash(),
            )
        ),
        AllOf((Field("value[0].subscriptionId"), Field("value[0].lifecycleEvent"), BodyHash())),
        BodyHash(),
    ),
    event_type=(
        Field("value[0].changeType"),
        AllOf((Const("lifecycle"), Field("value[0].lifecycleEvent")), sep="."),
    ),
    setup=(
        "Run `qdx source add ORG microsoft_graph`. With an Entra app that has the needed "
        "Graph permissions (ChannelMessage.Read.All / Chat.Read.All for Teams, "
        "Calendars.Read for Outlook), create a subscription per resource: `POST "
        'https://graph.microsoft.com/v1.0/subscriptions` with `{"changeType": '
        '"created,updated,deleted", "notificationUrl": "<endpoint URL>", '
        '"lifecycleNotificationUrl": "<endpoint URL>", "resource": '
        '"/users/{id}/events" (or "/chats/getAllMessages", '
        '"/teams/{id}/channels/getAllMessages"), "expirationDateTime": "...", '
        '"clientState": "<endpoint secret>"}`. Graph validates the URL with a '
        "`validationToken`, answered automatically. Renew subscriptions before they expire "
        "(about 3 days for calendar events, 1 h for chat messages without resource data)."
    ),
    handshakes=(GraphValidation(),),
    notes=(
        "Graph signs nothing: authenticity is the `clientState` secret inside every "
        "`value[]` item (no timestamp, so a captured notification can be replayed; the "
        "dedup key absorbs exact replays). Rich notifications (`includeResourceData`) carry "
        "`validationTokens` JWTs and encrypted content that are not checked here, so do not "
        "subscribe with resource data. Confirmed (learn.microsoft.com changeNotification): "
        "`changeType` and `lifecycleEvent` are mutually exclusive, `id` is an optional unique "
        "notification id, `clientState` is echoed in each notification. Unconfirmed: whether "
        "`id` is present and identical on Graph's retries, and whether a retry repeats the "
        "body byte for byte (the body-hash key relies on it). The entity (event vs "
        "chatMessage) is only in `resourceData.@odata.type`, which `Field` cannot address "
        "either, so the event type is just created/updated/deleted; the worker reads the "
        "entity from `resource`. A batch is keyed and typed on its first notification. The "
        "validation handshake is answered before authentication, as Graph sends it unsigned."
    ),
)
