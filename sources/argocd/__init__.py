"""Argo CD notifications (webhook service): application deployed, sync failed, health
degraded. The body is a template the user installs; ours is given in `setup`."""

from web.webhooks.locate import BodyHash, Field
from web.webhooks.schemes import AnyOf, Basic, Token
from web.webhooks.source import Source

_TEMPLATE = """\
  ```yaml
  # argocd-notifications-cm, under data:
  service.webhook.qdx: |
    url: <endpoint URL>
    headers:
    - name: Content-Type
      value: application/json
    - name: X-Qdx-Token
      value: $qdx-token
  template.qdx-deployed: |
    webhook:
      qdx:
        method: POST
        body: |
          {"id": "{{.app.metadata.uid}}:{{.app.status.operationState.finishedAt}}:deployed",
           "event": "app.deployed",
           "app": {"name": "{{.app.metadata.name}}", "namespace": "{{.app.metadata.namespace}}",
                   "uid": "{{.app.metadata.uid}}", "project": "{{.app.spec.project}}"},
           "destination": {"server": "{{.app.spec.destination.server}}",
                           "name": "{{.app.spec.destination.name}}",
                           "namespace": "{{.app.spec.destination.namespace}}"},
           "environment": "{{index .app.metadata.labels "environment"}}",
           "repo": "{{.app.spec.source.repoURL}}",
           "revision": "{{.app.status.operationState.syncResult.revision}}",
           "operation": {"phase": "{{.app.status.operationState.phase}}",
                         "startedAt": "{{.app.status.operationState.startedAt}}",
                         "finishedAt": "{{.app.status.operationState.finishedAt}}",
                         "initiatedBy":
                           "{{.app.status.operationState.operation.initiatedBy.username}}"},
           "sync": "{{.app.status.sync.status}}", "health": "{{.app.status.health.status}}",
           "reconciledAt": "{{.app.status.reconciledAt}}"}
  # template.qdx-sync-failed: the same body with "event": "app.sync_failed" and the id
  #   ending in ":sync_failed".
  # template.qdx-health-degraded: the same body with "event": "app.health_degraded" and
  #   "id": "{{.app.metadata.uid}}:{{.app.status.reconciledAt}}:health_degraded".
  # trigger.on-deployed, trigger.on-sync-failed, trigger.on-health-degraded: the catalog
  #   triggers, sending [qdx-deployed], [qdx-sync-failed], [qdx-health-degraded].
  ```"""

SOURCE = Source(
    name="argocd",
    title="Argo CD (notifications webhook)",
    # Argo CD signs nothing; its webhook service sends headers and Basic auth we choose.
    auth=AnyOf((Token("X-Qdx-Token"), Basic())),
    # Our template's `id`: application uid + the operation's finishedAt (or reconciledAt
    # for health events) + the trigger, the same on Argo CD's retries of one notification.
    delivery_id=(Field("id"), BodyHash()),
    event_type=(Field("event"),),
    setup=(
        "In argocd-notifications-secret add `qdx-token: <endpoint secret>`. In "
        "argocd-notifications-cm add the following (Content-Type must be set: Argo CD "
        "sends none by default):\n" + _TEMPLATE + "\n\n  "
        "Then subscribe applications (or set defaultTriggers): annotation "
        '`notifications.argoproj.io/subscribe.on-deployed.qdx: ""` (and on-sync-failed, '
        "on-health-degraded). Basic auth (`basicAuth: {username: qdx, password: "
        "$qdx-token}`) works instead of the header."
    ),
    notes=(
        "Confirmed (argo-cd docs, notifications/services/webhook.md): the webhook service "
        "supports `headers` and `basicAuth` and nothing signs the body; method, path and "
        "body are user templates, so the fields above are our contract, not Argo CD's. "
        "Only the token or Basic password is checked and the body is not bound to it: use "
        "HTTPS. Deliveries without our `id` field are keyed by a body hash. The template "
        "reads `.app.spec.source`; multi-source applications need `.app.spec.sources`."
    ),
)
