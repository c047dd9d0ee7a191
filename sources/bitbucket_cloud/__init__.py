"""Bitbucket Cloud repository webhooks: pushes, pull requests and commit statuses."""

from web.webhooks.locate import BodyHash, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="bitbucket_cloud",
    title="Bitbucket Cloud",
    # Sent only when the webhook has a secret (unlike GitHub's header of this name, SHA-256).
    auth=Hmac("X-Hub-Signature", prefix="sha256="),
    delivery_id=(Header("X-Request-UUID"), BodyHash()),
    event_type=(Header("X-Event-Key"),),
    setup=(
        "Repository settings → Workflow → Webhooks → Add webhook: URL = the endpoint URL, "
        "Secret = the endpoint secret (required: without it Bitbucket sends no signature "
        "and every delivery is refused), Status = Active, Triggers: Repository Push, Pull "
        "Request Created, Updated, Approved, Approval removed, Merged, Declined, Comment "
        "created, and Build status created / updated."
    ),
    notes=(
        "X-Request-UUID is documented as 'the UUID of the request'; that Bitbucket keeps it "
        "across its automatic retries (X-Attempt-Number) is not confirmed by Atlassian's "
        "docs, so a retry might be stored twice. Without X-Request-UUID the body hash is "
        "the key. X-Hook-UUID names the webhook, not the delivery."
    ),
)
