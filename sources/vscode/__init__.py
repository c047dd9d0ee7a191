"""VS Code telemetry from the Quantum.DX extension, uploaded in batches."""

from web.webhooks.locate import Field
from web.webhooks.source import BatchSource

SOURCE = BatchSource(
    name="vscode",
    title="VS Code (Quantum.DX extension)",
    record_id=(Field("id"),),
    event_type=(Field("type"),),
    setup=(
        "Issue a service token for the org (`qdx client create ORG ide-telemetry`, then "
        "`qdx token issue ORG --client ide-telemetry --ttl 24h`) and configure the extension "
        "with the batch URL `/ingest/vscode/<endpoint id>/batch` and that token. Each line is "
        'one record: {"id": uuid, "type": "coding.session" | "ai.suggestion.shown" | '
        '"ai.suggestion.accepted" | ..., "ts": RFC 3339, "user": {"email": ...}, ...}.'
    ),
)
