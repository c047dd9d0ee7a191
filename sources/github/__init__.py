"""GitHub repository / organization / App webhooks, including Actions (workflow_run,
workflow_job), deployments and releases: one transport for all."""

from web.webhooks.locate import AllOf, Field, Header, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="github",
    title="GitHub (incl. Actions, deployments)",
    auth=Hmac("X-Hub-Signature-256", prefix="sha256="),
    # The delivery GUID is shared by every hook subscribed to the event and reused on
    # redelivery: key on (hook id, GUID), the GUID alone when the hook id is absent.
    delivery_id=(
        AllOf((Header("X-GitHub-Hook-ID"), Header("X-GitHub-Delivery"))),
        Header("X-GitHub-Delivery"),
    ),
    event_type=(Join((Header("X-GitHub-Event"), Field("action"))),),
    setup=(
        "Repository or organization Settings → Webhooks → Add webhook (or the GitHub App's "
        "webhook): Payload URL = the endpoint URL, Content type = application/json, Secret = "
        "the endpoint secret, events: Pull requests, Pull request reviews, Pushes, Workflow "
        "runs, Workflow jobs, Deployments, Deployment statuses, Check suites, Releases."
    ),
)
