"""Slack: the Events API (messages, mentions, reactions) and, on the same endpoint, slash
commands and interactivity, which Slack posts form-encoded."""

from web.webhooks.handshakes import SlackUrlVerification
from web.webhooks.locate import AllOf, BodyHash, Const, Field, Header, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import JSON_OR_FORM, Source

SOURCE = Source(
    name="slack",
    title="Slack (Events API, slash commands, interactivity)",
    auth=Hmac(
        "X-Slack-Signature",
        prefix="v0=",
        message="v0:{timestamp}:{body}",
        timestamp=Header("X-Slack-Request-Timestamp"),
        tolerance=300,
    ),
    # Events API callbacks carry `event_id`, the same on Slack's retries. Slash commands and
    # interactions have no event id but a per-invocation `trigger_id` (Slack does not retry
    # them). Anything else (e.g. `app_rate_limited`) is keyed on the body.
    delivery_id=(Field("event_id"), Field("trigger_id"), BodyHash()),
    event_type=(
        Join((Field("type"), Field("event.type"))),
        AllOf((Const("slash_command"), Field("command")), sep="."),
    ),
    setup=(
        "Slack generates the secret: create the endpoint with the app's Signing Secret "
        "(api.slack.com/apps → your app → Basic Information → App Credentials) as "
        "`qdx source add ORG slack --secret <Signing Secret>`. Event Subscriptions → Enable "
        "Events, Request URL = the endpoint URL (Slack sends a signed `url_verification`, answered "
        "automatically), Subscribe to bot events: message.channels, message.groups, "
        "app_mention, reaction_added, channel_created. Optionally Slash Commands and "
        "Interactivity & Shortcuts → Request URL = the same endpoint URL."
    ),
    handshakes=(SlackUrlVerification(),),
    content_types=JSON_OR_FORM,
    notes=(
        "Confirmed: signature scheme and the 300 s window (slack_sdk/bolt); Bolt verifies the "
        "signature before answering `url_verification`, so the challenge is answered only "
        "after auth. Unconfirmed (vendor docs not in the stored corpus): that `event_id` is "
        "identical on retries (`X-Slack-Retry-Num`), and whether Slack signs the "
        "`ssl_check=1` probe it sends to slash-command URLs (Bolt answers it before "
        "verifying); unsigned, it gets a 401, which does not affect event delivery. Slack "
        "must get an answer within 3 s or it retries. Bodies still carry Slack's deprecated "
        "verification `token` field; it is stored with the body (it is not used here)."
    ),
)
