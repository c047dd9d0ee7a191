"""Azure DevOps service hooks (Web Hooks consumer): Repos pushes and pull requests,
Pipelines builds and runs, release deployments, Boards work items."""

from web.webhooks.locate import AllOf, BodyHash, Field
from web.webhooks.schemes import AnyOf, Basic, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="azure_devops",
    title="Azure DevOps (Repos, Pipelines, Boards)",
    # Service hooks sign nothing: the subscription carries Basic auth credentials and/or
    # custom HTTP headers, so either proves the sender knows the endpoint secret.
    auth=AnyOf((Basic(), Token("X-Qdx-Token"))),
    # (subscription, event id) like GitHub's (hook, delivery); the event id alone when an
    # older payload lacks subscriptionId.
    delivery_id=(AllOf((Field("subscriptionId"), Field("id"))), Field("id"), BodyHash()),
    event_type=(Field("eventType"),),
    setup=(
        "Project settings → Service hooks → Create subscription → Web Hooks. Trigger: one "
        "subscription per event (Code pushed, Pull request created, Pull request updated, "
        "Pull request merge attempted, Build completed, Run state changed, Release "
        "deployment completed, Work item created / updated). Action: URL = the endpoint URL; "
        "either Basic authentication username = anything (e.g. qdx) and password = the "
        "endpoint secret, or HTTP headers = `X-Qdx-Token:<endpoint secret>`. Resource "
        "details to send = All, Messages / Detailed messages = None or All. HTTPS only."
    ),
    notes=(
        "Nothing is signed: Basic auth or the X-Qdx-Token header only prove knowledge of "
        "the secret and do not bind the body. Confirmed: Basic auth on the Web Hooks "
        "consumer (Microsoft Learn 'Webhooks' page) and the payload fields subscriptionId, "
        "notificationId, id, eventType (service hook events page). Not confirmed: that "
        "Azure DevOps keeps the body `id` on its retries, and the exact syntax of the "
        "custom HTTP headers field (one `Name:value` per line is assumed)."
    ),
)
