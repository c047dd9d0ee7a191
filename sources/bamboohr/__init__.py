"""BambooHR webhooks: employees created, updated (monitored fields) and deleted, for the
people directory (teams, managers, start and leave dates)."""

from web.webhooks.locate import AllOf, BodyHash, Const, Field, Header
from web.webhooks.schemes import Hmac
from web.webhooks.source import Source

SOURCE = Source(
    name="bamboohr",
    title="BambooHR",
    auth=Hmac(
        "X-BambooHR-Signature",
        message="{body}{timestamp}",
        timestamp=Header("X-BambooHR-Timestamp"),
        tolerance=300,
    ),
    # BambooHR sends no event id. Event-based payloads: type + employee + event timestamp;
    # field-based payloads: the first employee's id, action and timestamp; else the body.
    delivery_id=(
        AllOf((Field("type"), Field("data.employeeId"), Field("timestamp"))),
        AllOf(
            (
                Field("employees[0].id"),
                Field("employees[0].action"),
                Field("employees[0].timestamp"),
            )
        ),
        BodyHash(),
    ),
    event_type=(
        Field("type"),
        AllOf((Const("employee"), Field("employees[0].action")), sep="."),
    ),
    setup=(
        "BambooHR generates the secret: Account Settings → Webhooks → Add Webhook, choose "
        "Event-Based (recommended), format JSON, URL = the endpoint URL, events "
        "employee.created, employee.updated (monitor Job Title, Department, Division, "
        "Reporting to, Status, Hire Date, Work Email) and employee.deleted; under Private "
        "Key press Generate and create the endpoint with that key: `qdx source add ORG "
        "bamboohr --secret <private key>`. Pick JSON, not Form Post: form-encoded payloads "
        "are refused (415)."
    ),
    notes=(
        "Confirmed: `X-BambooHR-Signature` = hex HMAC-SHA256 of the raw body followed by "
        "`X-BambooHR-Timestamp`, with the webhook's private key (documentation.bamboohr.com "
        "webhooks; nango.dev, which also rejects timestamps over 5 min old), and the "
        "event-based payload `type`/`timestamp`/`data.{companyId, employeeId, "
        "changedFields}` (documentation.bamboohr.com event-based-webhooks). Unconfirmed: that "
        "`X-BambooHR-Timestamp` is Unix seconds (the receiver refuses anything but a "
        "number: if BambooHR sends ISO 8601, every delivery is refused as 401), and the "
        "field-based payload paths. Two updates of one employee within the same second "
        "share a key, so the second is answered as a duplicate; the worker re-reads the "
        "employee from the API anyway."
    ),
)
