"""`qdx demo` and `qdx up --demo`: an org with the synthetic history's teams and one webhook
endpoint per source, then the history streamed through the real endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from db import tenancy
from qdx.errors import UserError
from synth.emit import SOURCES, deliveries
from synth.model import History
from synth.stream import Summary, Target, stream, wait_ready
from web.webhooks.delivery import Delivery as Received
from web.webhooks.delivery import Rejected
from web.webhooks.registry import all_sources
from web.webhooks.schemes import Scheme

ENDPOINT_NAME = "demo"
READY_WITHIN = 30.0  # seconds to wait for the server's /readyz


@dataclass(frozen=True)
class Plan:
    """What a demo run sends: the history and where each source's deliveries go."""

    history: History
    targets: dict[str, Target]


def _signs(scheme: Scheme, secret: str) -> bool:
    """True when the endpoint's stored secret is also what a vendor signs with (shared
    secrets, as HMAC schemes use; not a public key)."""
    signed = scheme.sign(b"{}", secret, time.time())
    request = Received(
        "POST",
        {k.lower(): v for k, v in signed.headers.items()},
        signed.query,
        signed.body,
        "application/json",
    )
    try:
        scheme.verify(request, [secret], time.time())
    except Rejected:
        return False
    return True


def prepare(conn: psycopg.Connection[Any], history: History, base_url: str) -> Plan:
    """Create the history's org (when missing), its teams (those missing) and an endpoint
    named `demo` per source (reusing one that exists); in the caller's transaction."""
    org = history.org.slug
    if org not in {row[0] for row in tenancy.list_orgs(conn)}:
        tenancy.create_org(conn, org, history.org.name)
    existing = {row.slug for row in tenancy.team_tree(conn, org)}
    for team in history.org.teams:  # parents come before their children
        if team.slug not in existing:
            tenancy.create_team(conn, org, team.slug, team.name, team.parent)
    targets = {}
    for name in SOURCES:
        scheme = all_sources()[name].auth
        found = tenancy.endpoint_secret(conn, org, name, ENDPOINT_NAME)
        if found is None:
            secret, signing = scheme.credentials()
            endpoint_id = tenancy.add_endpoint(conn, org, name, secret, ENDPOINT_NAME).endpoint_id
        else:
            endpoint_id, secret = found
            signing = secret
            if not _signs(scheme, secret):
                raise UserError(
                    f"the {name} endpoint named {ENDPOINT_NAME!r} of {org} holds a secret the "
                    "demo cannot sign with: remove it or use another org"
                )
        url = f"{base_url.rstrip('/')}/webhooks/{name}/{endpoint_id}"
        targets[name] = Target(name, url, signing, scheme)
    return Plan(history, targets)


async def run(
    plan: Plan,
    base_url: str,
    *,
    duplicate_rate: float = 0.02,
    reorder_window: int = 16,
    concurrency: int = 16,
    ready_within: float | None = None,
) -> Summary:
    """Wait for the server to be ready, then stream the plan's deliveries to it."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        await wait_ready(client, base_url.rstrip("/"), ready_within or READY_WITHIN)
    return await stream(
        deliveries(plan.history, duplicate_rate, reorder_window),
        plan.targets,
        concurrency=concurrency,
    )
