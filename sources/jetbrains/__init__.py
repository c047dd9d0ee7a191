"""JetBrains IDE telemetry from the Quantum.DX plugin, uploaded in batches."""

from web.webhooks.locate import Field
from web.webhooks.source import BatchSource

SOURCE = BatchSource(
    name="jetbrains",
    title="JetBrains IDEs (Quantum.DX plugin)",
    record_id=(Field("id"),),
    event_type=(Field("type"),),
    setup=(
        "As for VS Code: a service token and the batch URL `/ingest/jetbrains/<endpoint id>/batch` "
        "in the plugin's settings. Records have the same shape (id, type, ts, user, ide)."
    ),
)
