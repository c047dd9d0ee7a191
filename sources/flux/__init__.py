"""Flux notification-controller events (Kustomization / HelmRelease / sources) through a
`generic-hmac` Provider."""

from web.webhooks.locate import AllOf, BodyHash, Field, Header, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="flux",
    title="Flux (notification-controller)",
    # generic-hmac: `X-Signature: sha256=<hex HMAC of the body>` keyed with the secret's token.
    auth=Hmac("X-Signature", prefix="sha256="),
    # Flux events carry no id: the object's uid, the reason and the event's timestamp
    # identify one; its retries resend the same body, so the body hash is a safe fallback.
    delivery_id=(
        AllOf((Field("involvedObject.uid"), Field("reason"), Field("timestamp"))),
        BodyHash(),
    ),
    event_type=(Join((Field("involvedObject.kind"), Field("reason"))), Header("Gotk-Component")),
    setup=(
        "kubectl -n flux-system create secret generic qdx-webhook "
        "--from-literal=token=<endpoint secret> --from-literal=address=<endpoint URL>; "
        "then a Provider (notification.toolkit.fluxcd.io/v1beta3) `type: generic-hmac`, "
        "`secretRef: {name: qdx-webhook}`, and an Alert with `providerRef: {name: qdx}`, "
        "`eventSeverity: info` and `eventSources` for the Kustomizations and HelmReleases "
        "that deploy (kind: Kustomization / HelmRelease, name: '*')."
    ),
    notes=(
        "Confirmed (fluxcd/notification-controller docs/spec/v1beta3/providers.md): "
        "generic-hmac sends `X-Signature: sha256=<hex>` over the body keyed with the "
        "Secret's `token`; Gotk-Component names the controller. No timestamp is signed and "
        "events have no id: the key is (involvedObject.uid, reason, timestamp), and "
        "timestamp has one-second resolution. The deployed revision is in "
        'metadata["<group>/revision"], a key with dots that a dotted Field path cannot '
        "name, so it is not part of the key."
    ),
)
