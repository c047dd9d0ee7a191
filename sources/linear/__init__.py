"""Linear data-change webhooks: issues (state, cycle, assignee), comments, projects,
cycles."""

from web.webhooks.locate import AllOf, BodyHash, Field, Header, Join
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="linear",
    title="Linear",
    # Linear signs the raw body; its freshness is the body's `webhookTimestamp` (epoch
    # ms), accepted for a minute as Linear's guidance is reported to advise.
    auth=Hmac("Linear-Signature", timestamp=Field("webhookTimestamp"), millis=True, tolerance=60),
    # Linear-Delivery is the delivery UUID; without it, the entity, action and the time of
    # the change identify the event.
    delivery_id=(
        Header("Linear-Delivery"),
        AllOf((Field("type"), Field("action"), Field("data.id"), Field("createdAt"))),
        BodyHash(),
    ),
    event_type=(Join((Field("type"), Field("action"))),),
    setup=(
        "Linear → Settings → API → Webhooks → New webhook (workspace admin; or the OAuth "
        "application's webhook settings). URL = the endpoint URL, team = all public teams "
        "or one team, data change events: Issues, Comments, Projects, Project updates, "
        "Cycles, Issue labels. Linear generates the signing secret: copy it and make it "
        "the endpoint secret with `qdx source rotate ORG ENDPOINT --secret <it>` (or "
        "`qdx source add ORG linear --secret <it>`). The "
        "server's clock must be within 60 s of Linear's."
    ),
    notes=(
        "Confirmed: `Linear-Signature` is the hex HMAC-SHA256 of the raw body (hookdeck, "
        "trigger.dev and propstack Linear guides); the body carries `webhookTimestamp` in "
        "epoch milliseconds (stored sample) and hookdeck's guide rejects deliveries more "
        "than 60 s old; headers `Linear-Delivery` and `Linear-Event` (propstack, "
        "tonsofskills guides). Not confirmed from Linear's own page: the 60 s figure and "
        "that `Linear-Delivery` is kept when Linear retries (retries are about 10 min, "
        "30 min, then hours later, per developers.linear.app)."
    ),
)
