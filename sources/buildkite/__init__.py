"""Buildkite Pipelines webhooks: build.* and job.* events (and ping)."""

from web.webhooks.locate import AllOf, BodyHash, Field, Header
from web.webhooks.schemes import AnyOf, Hmac, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="buildkite",
    title="Buildkite",
    # The webhook's Token is sent either as an HMAC signature (the recommended setting:
    # `timestamp=<unix>,signature=<hex>` over "<timestamp>.<body>") or verbatim.
    auth=AnyOf(
        (
            Hmac(
                "X-Buildkite-Signature", message="{timestamp}.{body}", kv=("timestamp", "signature")
            ),
            Token("X-Buildkite-Token"),
        )
    ),
    # No documented delivery id: a job event is identified by (event, job), a build event
    # by (event, build, state, the timestamp of that state); ping and others by body hash.
    delivery_id=(
        AllOf((Field("event"), Field("job.id"))),
        *(
            AllOf((Field("event"), Field("build.id"), Field("build.state"), Field(f"build.{at}")))
            for at in ("finished_at", "started_at", "created_at")
        ),
        BodyHash(),
    ),
    event_type=(Header("X-Buildkite-Event"), Field("event")),
    setup=(
        "Organization Settings → Notification Services → Add Webhook: Webhook URL = the "
        "endpoint URL, Token = the endpoint secret, sent as X-Buildkite-Signature (choose "
        "the signature, not the plain X-Buildkite-Token header), Verify TLS certificates on. "
        "Events: build.scheduled, build.running, build.failing, build.finished, "
        "job.started, job.finished. Pipelines: all (or the ones to measure)."
    ),
    notes=(
        "Confirmed from buildkite.com/docs/apis/webhooks: X-Buildkite-Event, and either "
        "X-Buildkite-Token or X-Buildkite-Signature (`timestamp=…,signature=…`, SHA-256). "
        "The signed message `<timestamp>.<body>` and hex encoding are taken from public "
        "verifier code, not from Buildkite's page. The plain token does not bind the body; "
        "prefer the signature (timestamp checked within 5 minutes). Buildkite documents no "
        "delivery id: a build that finishes again after a job retry is a new event (its "
        "finished_at changes), but a repeated build.running for the same build is stored once."
    ),
)
