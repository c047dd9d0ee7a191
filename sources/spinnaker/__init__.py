"""Spinnaker events from Echo's REST event listener: pipeline and stage starting /
complete / failed (orca:*), plus build and other events Echo routes."""

from web.webhooks.locate import AllOf, BodyHash, Field
from web.webhooks.schemes import AnyOf, Basic, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="spinnaker",
    title="Spinnaker (Echo REST events)",
    # Echo signs nothing; a REST endpoint can carry custom headers or Basic credentials.
    auth=AnyOf((Token("X-Qdx-Token"), Basic())),
    # Echo gives every event a UUID `eventId` and resends the same event object to each
    # endpoint; (type, execution, created) when it is missing; `payload.` when wrapped.
    delivery_id=(
        Field("eventId"),
        Field("payload.eventId"),
        AllOf((Field("details.type"), Field("content.execution.id"), Field("details.created"))),
        BodyHash(),
    ),
    event_type=(Field("details.type"), Field("payload.details.type")),
    setup=(
        "In echo-local.yml (Halyard: ~/.hal/<deployment>/profiles/echo-local.yml; Operator: "
        "spec.spinnakerConfig.profiles.echo):\n"
        "  ```yaml\n"
        "  rest:\n    enabled: true\n    endpoints:\n    - url: <endpoint URL>\n"
        "      wrap: false\n      headers:\n        X-Qdx-Token: <endpoint secret>\n"
        "  ```\n\n  "
        "(or `username: qdx` + `password: <endpoint secret>` for Basic auth). Echo then "
        "posts every event; the ones used are orca:pipeline:starting|complete|failed and "
        "orca:stage:complete|failed."
    ),
    notes=(
        "Confirmed in spinnaker/echo: RestConfig adds Basic auth from username/password and "
        "the `headers` map to each request; RestEventListener posts the Event "
        "(details.{source,type,created,application}, content, eventId = random UUID) or, "
        "with wrap: true, `{eventName, payload: <event>}`. Unsigned: the header or Basic "
        "password only proves knowledge of the secret, so use HTTPS. Not confirmed: that "
        "content.execution is present for every orca event type (stage events are keyed by "
        "eventId)."
    ),
)
