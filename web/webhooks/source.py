"""What a source declares: the data the generic receiver needs, nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from web.webhooks.handshakes import Handshake
from web.webhooks.locate import Locator
from web.webhooks.schemes import Scheme

JSON = ("application/json",)
JSON_OR_FORM = ("application/json", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Source:
    """A vendor's webhook deliveries: how they are verified, keyed and typed.

    delivery_id: tried in order; the first found is the de-duplication key (a vendor id or
    a documented substitute such as a body hash). event_type: tried in order.
    setup: how to configure the vendor side; notes: what else a user must know (what the
    vendor does not sign, which facts are unconfirmed); both go to docs/sources.md.
    """

    name: str
    title: str
    auth: Scheme
    delivery_id: tuple[Locator, ...]
    event_type: tuple[Locator, ...]
    setup: str
    handshakes: tuple[Handshake, ...] = ()
    content_types: tuple[str, ...] = JSON
    notes: str = ""
    # True for vendors whose notifications carry no body (Google push: all in headers).
    empty_body: bool = False


NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-seq", "text/plain")


@dataclass(frozen=True)
class BatchSource:
    """A source that uploads records in batches of newline-delimited JSON to
    `POST /ingest/{source}/{endpoint_id}/batch`, authenticated by a service token.

    record_id / event_type: locators over one record (a line); the record id is the
    de-duplication key.
    """

    name: str
    title: str
    record_id: tuple[Locator, ...]
    event_type: tuple[Locator, ...]
    setup: str
    notes: str = ""
