"""ClickUp webhooks: task created / status / assignee / update events with their history
items."""

from web.webhooks.locate import AllOf, BodyHash, Field
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="clickup",
    title="ClickUp",
    auth=Hmac("X-Signature"),
    # ClickUp sends no delivery id. A history item identifies the change; the event name
    # is part of the key because creating a task sends taskCreated and taskStatusUpdated
    # for the same change. Events without history items (taskDeleted) use a body hash.
    delivery_id=(
        AllOf((Field("webhook_id"), Field("event"), Field("history_items[0].id"))),
        BodyHash(),
    ),
    event_type=(Field("event"),),
    setup=(
        "ClickUp has no webhook screen: create the webhook with the API, POST "
        "https://api.clickup.com/api/v2/team/{team_id}/webhook with a personal or OAuth "
        'token, body `{"endpoint": <endpoint URL>, "events": ["taskCreated", '
        '"taskUpdated", "taskDeleted", "taskStatusUpdated", "taskAssigneeUpdated", '
        '"taskDueDateUpdated", "taskMoved"]}` (optionally space_id / folder_id / '
        "list_id). The response's `webhook.secret` signs every delivery: make it the "
        "endpoint secret with `qdx source rotate ORG ENDPOINT --secret <it>`."
    ),
    notes=(
        "Confirmed: `X-Signature` is the hex HMAC-SHA256 of the raw body with the "
        "`webhook.secret` returned at creation (developer.clickup.com 'Webhook signature'); "
        "task payloads carry `event`, `task_id`, `webhook_id` and `history_items[]` with "
        "`id`, `date`, `field`, `before`, `after`, `user` (developer.clickup.com 'Task "
        "webhook payloads'); failed deliveries are retried five times (ClickUp 'Webhook "
        "health'). Not confirmed: that a retry repeats the same history item id (assumed, "
        "since the retry is of the same event)."
    ),
)
