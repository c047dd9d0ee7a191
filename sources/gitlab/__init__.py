"""GitLab project / group webhooks: merge requests, pushes, notes, pipelines, jobs,
deployments and releases, all on one endpoint."""

from web.webhooks.locate import BodyHash, Field, Header, Join
from web.webhooks.schemes import AnyOf, StandardWebhooks, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="gitlab",
    title="GitLab (incl. CI pipelines, jobs, deployments)",
    # The classic secret token is echoed verbatim in X-Gitlab-Token; newer GitLab can also
    # sign with a Standard Webhooks signing token (webhook-id / -timestamp / -signature).
    auth=AnyOf((Token("X-Gitlab-Token"), StandardWebhooks())),
    # Idempotency-Key (GitLab 17.4+) is the same on automatic and manual retries; the event
    # UUID identifies the event on older versions; a body hash is the last resort.
    delivery_id=(Header("Idempotency-Key"), Header("X-Gitlab-Event-UUID"), BodyHash()),
    # object_kind plus whichever action/status the kind carries: merge_request.merge,
    # pipeline.success, build.failed (jobs), deployment.success, release.create, push.
    event_type=(
        Join(
            (
                Field("object_kind"),
                Field("object_attributes.action"),
                Field("object_attributes.status"),
                Field("action"),
                Field("status"),
                Field("build_status"),
            )
        ),
        Header("X-Gitlab-Event"),
    ),
    setup=(
        "Project (or group) → Settings → Webhooks → Add new webhook: URL = the endpoint URL, "
        "Secret token = the endpoint secret (sent back in X-Gitlab-Token). Where your GitLab "
        "offers a Signing token (Standard Webhooks, behind the webhook_signing_token feature "
        "flag), it can be used as well: it must be a `whsec_<base64 of 32 bytes>` value, so "
        "create the endpoint with it (`qdx source add <org> gitlab --secret whsec_…`) and "
        "paste that value as both Secret token and Signing token. Triggers: Push events, "
        "Tag push events, Comments, Merge request events, Pipeline events, Job events, "
        "Deployment events, Releases events. Keep SSL verification on."
    ),
    notes=(
        "X-Gitlab-Token is a plain shared secret: it proves the sender knows the secret but "
        "does not bind the body, so use HTTPS. Deliveries from GitLab before 17.4 carry no "
        "Idempotency-Key: they are keyed by X-Gitlab-Event-UUID, else by a body hash. The "
        "Standard Webhooks signing token is confirmed from GitLab MR !230944 / !231325 "
        "(feature-flagged when checked); its availability on a given instance is not."
    ),
)
