"""CircleCI outbound webhooks: workflow-completed and job-completed."""

from web.webhooks.locate import Field, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="circleci",
    title="CircleCI",
    # `circleci-signature: v1=<hex>`; several comma-separated versions may appear.
    auth=Hmac("circleci-signature", prefix="v1=", many=","),
    # CircleCI's docs: requests may be duplicated, dedupe on the payload's `id`.
    delivery_id=(Field("id"),),
    event_type=(Field("type"), Header("circleci-event-type")),
    setup=(
        "Project Settings → Webhooks → Add Webhook: Webhook name = Quantum.DX, URL = the "
        "endpoint URL, Certificate validation on, Secret token = the endpoint secret, "
        "events: Workflow Completed and Job Completed. (Or POST /api/v2/webhook with "
        "`signing-secret` = the endpoint secret.)"
    ),
    notes=(
        "Confirmed: the circleci-signature header and that only `v1` = hex HMAC-SHA256 of "
        "the raw body with the secret token is sent (CircleCI support answer on "
        "discuss.circleci.com); `id` is the dedup key (CircleCI webhooks reference). The "
        "signature has no timestamp, so replay protection relies on the dedup key."
    ),
)
