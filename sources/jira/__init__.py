"""Jira Cloud and Jira Data Center admin webhooks: issues (with status transitions in the
changelog), sprints, worklogs."""

from web.webhooks.locate import AllOf, BodyHash, Field, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

IDENTIFIER = Header("X-Atlassian-Webhook-Identifier")

SOURCE = Source(
    name="jira",
    title="Jira (Cloud and Data Center)",
    auth=Hmac("X-Hub-Signature", prefix="sha256="),
    # The identifier is unique within one Jira site and kept on retries. Paired with the
    # issue's (or sprint's) `self` URL, which names the site, so two sites of one org
    # cannot collide; the identifier alone for other events. Data Center may not send the
    # header: then (event, issue id, event timestamp), and a body hash last.
    delivery_id=(
        AllOf((IDENTIFIER, Field("issue.self"))),
        AllOf((IDENTIFIER, Field("sprint.self"))),
        IDENTIFIER,
        AllOf((Field("webhookEvent"), Field("issue.id"), Field("timestamp"))),
        BodyHash(),
    ),
    event_type=(Field("webhookEvent"),),
    setup=(
        "As a Jira administrator: Jira settings → System → WebHooks → Create a WebHook "
        "(Data Center: Administration → System → WebHooks). URL = the endpoint URL, Secret = "
        "the endpoint secret (Cloud: paste it instead of generating one), optional JQL to "
        "limit projects, events: Issue created / updated / deleted, Worklog created / "
        "updated, Sprint started / closed (and created / updated if you plan sprints in "
        "Jira). Webhooks registered by Connect or OAuth 2.0 apps are not signed with a "
        "secret and are refused: register an admin webhook."
    ),
    notes=(
        "Confirmed: admin webhooks saved with a secret carry `X-Hub-Signature: "
        "sha256=<hex HMAC-SHA256 of the raw body>` on Cloud (hookdeck and trigger.dev Jira "
        "guides, n8n PR #8822 citing developer.atlassian.com #secure-admin-webhooks) and on "
        "Data Center 10 (Atlassian 'Managing webhooks' page); `X-Atlassian-Webhook-"
        "Identifier` is unique within the site and unchanged across retries (jira.js "
        "WebhookHeaders docs); Cloud retries on 408/409/425/429/5xx and timeouts for up to "
        "about 30 minutes (Atlassian developer community announcement). Not confirmed: that "
        "Data Center sends `X-Atlassian-Webhook-Identifier` (hence the fallbacks). Jira "
        "sends no timestamp header, so replays are stopped only by the de-duplication key."
    ),
)
