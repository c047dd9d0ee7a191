"""Google Calendar push notifications: a channel opened with `events.watch` on a calendar
posts a bodiless notification here whenever its events change; the changes themselves
are fetched with `events.list` and the channel's sync token."""

from web.webhooks.handshakes import GoogleChannelSync
from web.webhooks.locate import AllOf, Const, Header
from web.webhooks.schemes import Token
from web.webhooks.source import Source

SOURCE = Source(
    name="google_calendar",
    title="Google Calendar (push notifications)",
    auth=Token("X-Goog-Channel-Token"),
    # Message numbers increase per channel, so channel + number identifies a notification.
    delivery_id=(AllOf((Header("X-Goog-Channel-ID"), Header("X-Goog-Message-Number"))),),
    event_type=(AllOf((Const("calendar"), Header("X-Goog-Resource-State")), sep="."),),
    setup=(
        "Run `qdx source add ORG google_calendar`. For each calendar to watch, call "
        "`POST https://www.googleapis.com/calendar/v3/calendars/<calendarId>/events/watch` "
        '(OAuth, calendar read scope) with `{"id": "<new UUID>", "type": "web_hook", '
        '"address": "<endpoint URL>", "token": "<endpoint secret>"}`. Google then sends a '
        "`sync` message (acknowledged automatically) and, on every change, a notification "
        "without a body. Channels expire (see `expiration`): call watch again before then."
    ),
    handshakes=(GoogleChannelSync(),),
    empty_body=True,
    notes=(
        "Google signs nothing: the channel `token` comes back verbatim in "
        "`X-Goog-Channel-Token` (no timestamp, so a captured notification can be replayed; "
        "the channel + message-number key absorbs exact replays). Notifications have no "
        "body: everything is in the headers, which are stored with the event. Confirmed: "
        "the `token` set in the watch request is delivered "
        "with every notification and the channel id is echoed in `X-Goog-Channel-ID` "
        "(developers.google.com calendar push guide, channel resource). Unconfirmed: the "
        "exact resource-state values and that `X-Goog-Message-Number` is unique per channel."
    ),
)
