"""Cursor usage events (the team admin usage export), uploaded in batches."""

from web.webhooks.locate import AllOf, Field, Join
from web.webhooks.source import BatchSource

SOURCE = BatchSource(
    name="cursor",
    title="Cursor (team usage export)",
    record_id=(
        Field("id"),
        AllOf((Field("userEmail"), Field("timestamp"), Field("model"), Field("kind"))),
    ),
    event_type=(Join((Field("kind"),)),),
    setup=(
        "Export the team's usage events from Cursor's admin API as JSON, one event per line, "
        "and POST them with a service token to `/ingest/cursor/<endpoint id>/batch`; repeated "
        "exports of overlapping periods are de-duplicated."
    ),
    notes=(
        "The export's field names (userEmail, timestamp, model, kind) are recalled, not "
        "confirmed against Cursor's documentation; without an `id`, a record is keyed on those "
        "four fields."
    ),
)
