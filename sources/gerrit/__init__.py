"""Gerrit Code Review events (patchset-created, change-merged, comment-added,
ref-updated...) posted by the `webhooks` plugin: the stream-events JSON over HTTP."""

from web.webhooks.locate import AllOf, BodyHash, Field
from web.webhooks.schemes import AnyOf, QueryToken, Token
from web.webhooks.source import Source

SOURCE = Source(
    name="gerrit",
    title="Gerrit (webhooks plugin)",
    # The plugin signs nothing and sets no configurable header: the secret rides in the
    # URL. A reverse proxy in front of Gerrit may instead add an X-Qdx-Token header.
    auth=AnyOf((QueryToken("token"), Token("X-Qdx-Token"))),
    # Gerrit events carry no id. Synthesized from the fields that identify one event
    # (eventCreatedOn is in seconds, so comment-added also takes the author).
    delivery_id=(
        AllOf(
            (
                Field("type"),
                Field("change.number"),
                Field("patchSet.number"),
                Field("author.username"),
                Field("eventCreatedOn"),
            )
        ),
        AllOf(
            (
                Field("type"),
                Field("change.number"),
                Field("patchSet.number"),
                Field("eventCreatedOn"),
            )
        ),
        AllOf(
            (
                Field("type"),
                Field("refUpdate.project"),
                Field("refUpdate.refName"),
                Field("refUpdate.newRev"),
            )
        ),
        BodyHash(),
    ),
    event_type=(Field("type"),),
    setup=(
        "Install the `webhooks` plugin. In the project's refs/meta/config branch (or via "
        "PUT /config/server/webhooks~projects/<project>/remotes/qdx) add to webhooks.config:\n"
        "  ```ini\n"
        '  [remote "qdx"]\n'
        "    url = <endpoint URL>?token=<endpoint secret>\n"
        "    event = patchset-created\n    event = change-merged\n    event = comment-added\n"
        "    event = change-abandoned\n    event = ref-updated\n    sslVerify = true\n"
        "  ```\n\n  "
        "The configuration is inherited, so set it on a parent project (e.g. All-Projects) "
        "to cover every repository. Alternatively terminate at a reverse proxy that adds "
        "`X-Qdx-Token: <endpoint secret>`."
    ),
    notes=(
        "Unsigned: the plugin posts plain JSON (Content-Type application/json) with no "
        "signature and no documented way to add a header (checked in "
        "GerritCodeReview/plugins_webhooks HttpSession.java and config.md; a `header` key "
        "read by RemoteConfig in some versions is undocumented and not relied on), so the "
        "secret is in the URL query: keep the URL out of logs and use HTTPS. Events have no "
        "id: the key is (type, change number, patch set, author, eventCreatedOn), (type, "
        "change number, patch set, eventCreatedOn), or (type, project, ref, new revision) for "
        "ref-updated, else a body hash. eventCreatedOn has one-second resolution, so two "
        "identical events in the same second are stored once."
    ),
)
