"""Shortcut (formerly Clubhouse) outgoing webhooks: story and epic create / update /
delete, including workflow-state changes."""

from web.webhooks.locate import AllOf, BodyHash, Field
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="shortcut",
    title="Shortcut",
    auth=Hmac("Payload-Signature"),
    delivery_id=(Field("id"), BodyHash()),
    # One event can list several actions (the story and, say, a branch); the first is the
    # one `primary_id` names.
    event_type=(AllOf((Field("actions[0].entity_type"), Field("actions[0].action")), sep="."),),
    setup=(
        "Shortcut → Settings → Integrations → Webhooks → Add New Webhook (or POST "
        "/api/v3/integrations/webhook with `webhook_url` and `secret`). Payload URL = the "
        "endpoint URL, Secret = the endpoint secret. A webhook without a secret sends no "
        "signature and is refused. Shortcut sends every story and epic change; there is no "
        "event filter to set."
    ),
    notes=(
        "Confirmed: a webhook created with a secret sends `Payload-Signature`, an HMAC "
        "hexdigest of the payload (help.shortcut.com 'Registering Outgoing Webhooks (API)'; "
        "the older `Clubhouse-Signature` header was retired in November 2021, "
        "developer.shortcut.com webhook v1); the body's `id` (event UUID), `changed_at`, "
        "`primary_id`, `member_id` and `actions[]` with `entity_type`, `action`, `changes` "
        "(developer.shortcut.com webhook v1 example). Not confirmed: that the HMAC digest "
        "is SHA-256 (the pages say only 'HMAC hexdigest'), and that retries keep the body "
        "`id`."
    ),
)
