"""Jenkins build notifications from the Notification plugin (tikal): QUEUED, STARTED,
COMPLETED and FINALIZED phases of every build of the jobs that enable it."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field, Join
from web.webhooks.schemes import AnyOf, Basic, QueryToken
from web.webhooks.source import Source

SOURCE = Source(
    name="jenkins",
    title="Jenkins (Notification plugin)",
    # The plugin signs nothing. It turns user info in the endpoint URL into Basic auth
    # (https://qdx:<secret>@host/...); a ?token= in the URL works too.
    auth=AnyOf((Basic(), QueryToken("token"))),
    # No id: a build is (job URL, build number) and each phase is sent once per build.
    delivery_id=(
        AllOf((Field("build.full_url"), Field("build.phase"))),
        AllOf((Field("url"), Field("build.number"), Field("build.phase"))),
        BodyHash(),
    ),
    event_type=(Join((Const("build"), Field("build.phase"))),),
    setup=(
        "Install the Notification plugin. In each job (or with the `notifyEndpoints` "
        "pipeline step): Job Notifications → Add Endpoint: Format = JSON, Protocol = HTTP, "
        "Event = All Events, URL = the endpoint URL with the secret as the password, e.g. "
        "https://qdx:<endpoint secret>@<host>/webhooks/jenkins/<endpoint id> (the plugin "
        "sends it as HTTP Basic auth), or the endpoint URL + `?token=<endpoint secret>`. "
        "Log = 0 lines. Set Jenkins' root URL so builds carry full_url."
    ),
    notes=(
        "Unsigned: Basic auth or the URL token only prove knowledge of the secret, so use "
        "HTTPS. Confirmed in jenkinsci/notification-plugin Protocol.java: HTTP posts "
        "`application/json;charset=UTF-8` (or XML, which is refused here: pick JSON) and URL "
        "user info becomes an `Authorization: Basic` header; never form-encoded. Builds "
        "have no event id: the key is (build full_url, phase), else (job url, number, "
        "phase). Event types read build.QUEUED / build.STARTED / build.COMPLETED / "
        "build.FINALIZED; COMPLETED and FINALIZED both fire for each build."
    ),
)
