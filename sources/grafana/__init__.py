"""Grafana Alerting webhook contact point: alert groups firing and resolved."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field, Header
from web.webhooks.schemes import AnyOf, Basic, Bearer, Hmac
from web.webhooks.source import Source

SIGNATURE = "X-Grafana-Alerting-Signature"

SOURCE = Source(
    name="grafana",
    title="Grafana Alerting",
    auth=AnyOf(
        (
            # HMAC signing (Grafana 11.6+) with the timestamp header we ask for: signs
            # "<unix seconds>:<body>".
            Hmac(
                SIGNATURE,
                message="{timestamp}:{body}",
                timestamp=Header("X-Grafana-Alerting-Timestamp"),
            ),
            # HMAC signing without a timestamp header: the body alone. Grafana's code
            # falls back to X-Grafana-Alert-Signature when the Header field is empty.
            Hmac(SIGNATURE),
            Hmac("X-Grafana-Alert-Signature"),
            # Or no signing: the Authorization header (Bearer) or Basic auth.
            Bearer(),
            Basic(),
        )
    ),
    # As for Alertmanager: no delivery id, and a repeat notification's `values` change on
    # every evaluation, so only the body hash never merges two different notifications.
    delivery_id=(BodyHash(),),
    event_type=(AllOf((Const("alert"), Field("status")), sep="."),),
    setup=(
        "Grafana → Alerting → Contact points → Add contact point → Integration: Webhook. "
        "URL = the endpoint URL, HTTP method POST; Optional settings → HMAC Signature: "
        "Secret = the endpoint secret, Header = `X-Grafana-Alerting-Signature`, Timestamp "
        "header = `X-Grafana-Alerting-Timestamp` (Grafana 11.6+; on older versions set "
        "Authorization header credentials = the endpoint secret, scheme Bearer, or Basic "
        "auth with the secret as password). Leave Custom Payload empty and Max Alerts 0. "
        "Point a notification policy at the contact point."
    ),
    notes=(
        "Confirmed in Grafana's source (grafana/alerting http/hmac.go and its test, "
        "receivers/webhook/v1/config.go): hex HMAC-SHA256 with no prefix over the body, or "
        "over `<unix seconds>:<body>` when a timestamp header name is set (the name is "
        "free; we ask for `X-Grafana-Alerting-Timestamp`); the Header field's placeholder "
        "is `X-Grafana-Alerting-Signature` but an empty field signs into "
        "`X-Grafana-Alert-Signature`, so both are accepted; Basic auth and the "
        "Authorization header are mutually exclusive. Only the timestamped HMAC protects "
        "against replays beyond the de-duplication key. Payload (stored sample): "
        "Alertmanager's shape plus `orgId`, `title`, `state`, `message`, per-alert "
        "`values`, `dashboardURL`, `panelURL`."
    ),
)
