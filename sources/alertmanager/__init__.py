"""Prometheus Alertmanager webhook receiver: alert groups firing and resolved."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field
from web.webhooks.schemes import AnyOf, Basic, Bearer
from web.webhooks.source import Source

SOURCE = Source(
    name="alertmanager",
    title="Prometheus Alertmanager",
    # Alertmanager signs nothing; its http_config sends a bearer token or Basic auth.
    auth=AnyOf((Bearer(), Basic())),
    # No delivery id. The body hash is the key: Alertmanager retries the same bytes, and
    # any change to the group (an alert joins, resolves, or its annotations change) is a
    # new notification worth keeping. groupKey + status + alerts[0] would be stable across
    # repeat notifications but would also swallow a notification in which a second alert
    # joins the group, so it is not used.
    delivery_id=(BodyHash(),),
    event_type=(AllOf((Const("alert"), Field("status")), sep="."),),
    setup=(
        "In alertmanager.yml add a receiver `- name: qdx` with `webhook_configs: [{url: "
        "<endpoint URL>, send_resolved: true, http_config: {authorization: {type: Bearer, "
        "credentials: <endpoint secret>}}}]` (or `http_config: {basic_auth: {username: qdx, "
        "password: <endpoint secret>}}`), and route the alerts that count (e.g. severity "
        "critical / page) to it, with `continue: true` if they also go elsewhere. Leave "
        "`max_alerts` at 0 so no alert is truncated."
    ),
    notes=(
        "Nothing is signed: the bearer token or Basic password only proves knowledge of "
        "the secret and does not bind the body. Confirmed (Alertmanager configuration "
        'docs, `<webhook_config>`): JSON `version: "4"`, `groupKey`, `truncatedAlerts`, '
        "`status`, `alerts[]` with `fingerprint`, `startsAt`, `endsAt`; auth only through "
        "`http_config`. Repeat notifications (every `repeat_interval`) with an unchanged "
        "body are de-duplicated; those whose annotations changed, and copies from an HA "
        "peer with a different `externalURL`, are stored again; normalisation keys each "
        "alert on (fingerprint, startsAt, status)."
    ),
)
