"""Building signed deliveries for tests: an org, an endpoint, and a vendor's request."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg

from qdx.settings import PROJECT_ROOT
from web.webhooks.source import Source


@dataclass(frozen=True)
class Sample:
    """A fixture delivery of ours: the vendor's headers (no credentials) and the body."""

    source: str
    name: str
    headers: dict[str, str]
    body: bytes
    content_type: str


def load_samples(source: str) -> list[Sample]:
    """Every sample under sources/<source>/samples/."""
    samples = []
    for path in sorted((PROJECT_ROOT / "sources" / source / "samples").glob("*.json")):
        spec = json.loads(path.read_text())
        if "form" in spec:
            body = urlencode(spec["form"]).encode()
            content_type = "application/x-www-form-urlencoded"
        elif spec.get("body") is None:  # vendors that notify with headers only
            body = b""
            content_type = spec.get("content_type", "")
        else:
            body = json.dumps(spec["body"]).encode()
            content_type = spec.get("content_type", "application/json")
        samples.append(Sample(source, path.stem, spec.get("headers", {}), body, content_type))
    return samples


@dataclass(frozen=True)
class Endpoint:
    """An endpoint created for a test and the secret its vendor signs with."""

    org_id: Any
    endpoint_id: str
    secret: str  # stored on the endpoint
    signing_secret: str  # what the vendor holds (differs for Ed25519: the private key)

    def path(self, source: str) -> str:
        return f"/webhooks/{source}/{self.endpoint_id}"


def make_endpoint(conninfo: str, source: Source, org: str = "acme") -> Endpoint:
    """An org (created if missing) with an endpoint for the source."""
    secret, signing = source.auth.credentials()
    with psycopg.connect(conninfo) as conn:
        if not conn.execute("SELECT 1 FROM auth.orgs WHERE slug = %s", (org,)).fetchone():
            conn.execute("SELECT auth.create_org(%s)", (org,))
        row = conn.execute(
            "SELECT org_id, endpoint_id FROM auth.add_webhook_endpoint(%s, %s, %s, %s)",
            (org, source.name, secret, f"t{time.monotonic_ns()}"),
        ).fetchone()
    assert row is not None
    return Endpoint(row[0], str(row[1]), secret, signing)


def signed_request(
    source: Source, sample: Sample, signing_secret: str, now: float | None = None
) -> tuple[dict[str, str], dict[str, str], bytes]:
    """Headers, query and body of the sample as the vendor would send it, signed."""
    signed = source.auth.sign(sample.body, signing_secret, time.time() if now is None else now)
    content_type = {"Content-Type": sample.content_type} if sample.content_type else {}
    headers = {**content_type, **sample.headers, **signed.headers}
    return headers, signed.query, signed.body


def counts(conninfo: str) -> tuple[int, int, int]:
    """Rows in raw.deliveries, raw.events and messages on the ingest queue."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM raw.deliveries), (SELECT count(*) FROM raw.events),"
            " (SELECT count(*) FROM pgmq.q_ingest)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
