"""The integrations Quantum.DX receives from, one line each.

Each name becomes a folder here (its signature scheme, delivery-id and event-type
locations, handshake, normalize.sql and samples) as its receiver is built; until then a
name only lets `qdx source add` create the endpoint a vendor will deliver to.
"""

SOURCES: tuple[str, ...] = (
    "github",
    "gitlab",
    "bitbucket_cloud",
    "azure_devops",
    "gerrit",
    "jira",
    "linear",
    "asana",
    "shortcut",
    "clickup",
    "circleci",
    "buildkite",
    "jenkins",
    "argocd",
    "flux",
    "spinnaker",
    "pagerduty",
    "opsgenie",
    "incident_io",
    "firehydrant",
    "statuspage",
    "sentry",
    "datadog",
    "alertmanager",
    "grafana",
    "slack",
    "microsoft_graph",
    "discord",
    "google_calendar",
    "zoom",
    "okta",
    "typeform",
    "tally",
    "bamboohr",
    # Batch uploads (POST /ingest/{source}/{endpoint_id}/batch, newline-delimited JSON).
    "vscode",
    "jetbrains",
    "cursor",
)
