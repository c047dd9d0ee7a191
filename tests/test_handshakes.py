"""Each vendor's challenge handshake, sent exactly as the vendor sends it: answered as the
vendor requires, never stored, and (where the handshake is answered after authentication)
refused when it is unsigned or signed with the wrong secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from qdx.settings import Settings
from tests.webhook_helpers import Endpoint, counts, load_samples, make_endpoint, signed_request
from web.app import create_app
from web.webhooks.registry import all_sources
from web.webhooks.source import Source


@pytest.fixture
def http(database: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings.from_env({}), database)) as client:
        yield client


def source(name: str) -> Source:
    return all_sources()[name]


def signed(
    src: Source, secret: str, body: bytes, content_type: str
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a request the vendor signs with `secret`."""
    request = src.auth.sign(body, secret, time.time())
    return {"Content-Type": content_type, **request.headers}, request.body


def wrong_secret(database: str, src: Source) -> str:
    """The signing secret of another org's endpoint: a valid credential, but not this one's."""
    return make_endpoint(database, src, org="other").signing_secret


def post_signed(
    http: TestClient, endpoint: Endpoint, name: str, secret: str, payload: object
) -> Any:
    headers, body = signed(source(name), secret, json.dumps(payload).encode(), "application/json")
    return http.post(endpoint.path(name), headers=headers, content=body)


# Slack ---------------------------------------------------------------------------------


SLACK_CHALLENGE = {
    "token": "invented0legacy0token0x",
    "challenge": "qDxCh4llengeF0rSlackUrlVerif1cation7x9K2mP",
    "type": "url_verification",
}


def test_slack_url_verification_returns_the_challenge(http: TestClient, database: str) -> None:
    slack = source("slack")
    endpoint = make_endpoint(database, slack)
    reply = post_signed(http, endpoint, "slack", endpoint.signing_secret, SLACK_CHALLENGE)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"challenge": SLACK_CHALLENGE["challenge"]}
    assert counts(database) == (0, 0, 0)


def test_slack_url_verification_is_refused_unsigned_or_wrongly_signed(
    http: TestClient, database: str
) -> None:
    slack = source("slack")
    endpoint = make_endpoint(database, slack)
    path = endpoint.path("slack")
    unsigned = http.post(path, json=SLACK_CHALLENGE)
    assert unsigned.status_code == 401
    wrong = post_signed(http, endpoint, "slack", wrong_secret(database, slack), SLACK_CHALLENGE)
    assert wrong.status_code == 401
    assert "challenge" not in wrong.text
    assert counts(database) == (0, 0, 0)


# Zoom ----------------------------------------------------------------------------------


ZOOM_PLAIN = "qDxPla1nT0ken4Zoom9w"
ZOOM_VALIDATION = {
    "payload": {"plainToken": ZOOM_PLAIN},
    "event_ts": 1793613600000,
    "event": "endpoint.url_validation",
}


def test_zoom_url_validation_returns_plain_and_encrypted_token(
    http: TestClient, database: str
) -> None:
    zoom = source("zoom")
    endpoint = make_endpoint(database, zoom)
    reply = post_signed(http, endpoint, "zoom", endpoint.signing_secret, ZOOM_VALIDATION)
    assert reply.status_code == 200, reply.text
    # encryptedToken = hex HMAC-SHA256 of the plainToken with the Secret Token.
    expected = hmac.new(endpoint.secret.encode(), ZOOM_PLAIN.encode(), hashlib.sha256).hexdigest()
    assert reply.json() == {"plainToken": ZOOM_PLAIN, "encryptedToken": expected}
    assert counts(database) == (0, 0, 0)


def test_zoom_url_validation_is_refused_unsigned_or_wrongly_signed(
    http: TestClient, database: str
) -> None:
    zoom = source("zoom")
    endpoint = make_endpoint(database, zoom)
    unsigned = http.post(endpoint.path("zoom"), json=ZOOM_VALIDATION)
    assert unsigned.status_code == 401
    # Answering a forged validation would hand out HMAC(secret, attacker's plainToken).
    wrong = post_signed(http, endpoint, "zoom", wrong_secret(database, zoom), ZOOM_VALIDATION)
    assert wrong.status_code == 401
    assert "encryptedToken" not in wrong.text
    assert counts(database) == (0, 0, 0)


# Microsoft Graph -----------------------------------------------------------------------


def test_graph_validation_token_is_echoed_as_plain_text(http: TestClient, database: str) -> None:
    graph = source("microsoft_graph")
    endpoint = make_endpoint(database, graph)
    token = "Validation: reachability check for subscription, Request-Id: 7e3f0c21 & more"
    # Graph POSTs with the token URL-encoded in the query, an empty body, no clientState.
    reply = http.post(
        endpoint.path("microsoft_graph"),
        params={"validationToken": token},
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == token  # URL-decoded, verbatim
    assert counts(database) == (0, 0, 0)


def test_graph_notification_with_a_wrong_client_state_is_refused(
    http: TestClient, database: str
) -> None:
    graph = source("microsoft_graph")
    endpoint = make_endpoint(database, graph)
    sample = next(s for s in load_samples("microsoft_graph") if s.name == "event.updated")
    headers, query, body = signed_request(graph, sample, wrong_secret(database, graph))
    reply = http.post(endpoint.path("microsoft_graph"), headers=headers, params=query, content=body)
    assert reply.status_code == 401
    assert counts(database) == (0, 0, 0)


# Asana ---------------------------------------------------------------------------------


def test_asana_hook_secret_is_echoed_and_then_signs_deliveries(
    http: TestClient, database: str
) -> None:
    asana = source("asana")
    endpoint = make_endpoint(database, asana)
    path = endpoint.path("asana")
    handed = "4f1a9c0e7b2d6e8a3c5f0b1d2e4a6c8e9f0a1b3c5d7e9f1a2b4c6d8e0f2a4c6e"
    # The handshake POST carries the secret and nothing to sign.
    reply = http.post(path, headers={"X-Hook-Secret": handed, "Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Hook-Secret"] == handed
    assert counts(database) == (0, 0, 0)

    # From now on Asana signs with the handed secret, and such a delivery is accepted.
    sample = next(s for s in load_samples("asana") if s.name == "task.changed")
    headers, query, body = signed_request(asana, sample, handed)
    accepted = http.post(path, headers=headers, params=query, content=body)
    assert accepted.status_code == 202, accepted.text
    assert counts(database) == (1, 1, 1)
    # A secret nobody handed over does not verify.
    headers, query, body = signed_request(asana, sample, "not-the-handed-secret")
    refused = http.post(path, headers=headers, params=query, content=body)
    assert refused.status_code == 401
    assert counts(database) == (1, 1, 1)
    # Nobody who learns the URL can hand over a secret of their own afterwards.
    hijack = http.post(path, headers={"X-Hook-Secret": "attacker-chosen-secret-0123456789"})
    assert hijack.status_code == 401
    headers, query, body = signed_request(asana, sample, "attacker-chosen-secret-0123456789")
    assert http.post(path, headers=headers, params=query, content=body).status_code == 401
    # Asana repeating the handshake with the same secret is still answered.
    assert http.post(path, headers={"X-Hook-Secret": handed}).status_code == 200


# Okta ----------------------------------------------------------------------------------


def test_okta_verification_get_returns_the_challenge(http: TestClient, database: str) -> None:
    okta = source("okta")
    endpoint = make_endpoint(database, okta)
    challenge = "qDx-okta-challenge_7Hn2Vb9Lm4Ks1Pq8"
    reply = http.get(
        endpoint.path("okta"),
        headers={
            "Accept": "application/json",
            "User-Agent": "Okta-Integrations",
            "X-Okta-Verification-Challenge": challenge,
            "Authorization": endpoint.signing_secret,
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"verification": challenge}
    assert counts(database) == (0, 0, 0)


def test_okta_verification_is_refused_without_the_shared_secret(
    http: TestClient, database: str
) -> None:
    okta = source("okta")
    endpoint = make_endpoint(database, okta)
    challenge = {"X-Okta-Verification-Challenge": "qDx-okta-challenge_7Hn2Vb9Lm4Ks1Pq8"}
    missing = http.get(endpoint.path("okta"), headers=challenge)
    assert missing.status_code == 401
    wrong = http.get(
        endpoint.path("okta"),
        headers={**challenge, "Authorization": wrong_secret(database, okta)},
    )
    assert wrong.status_code == 401
    assert "verification" not in wrong.text
    assert counts(database) == (0, 0, 0)


# Google Calendar -----------------------------------------------------------------------


GOOGLE_SYNC = {
    "X-Goog-Channel-ID": "4f0b6c1e-8d2a-4b7e-9f3c-5a1d2e6b7c80",
    "X-Goog-Channel-Expiration": "Wed, 04 Nov 2026 18:00:00 GMT",
    "X-Goog-Resource-ID": "ret08u3rv24htgh289g",
    "X-Goog-Resource-URI": (
        "https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json"
    ),
    "X-Goog-Resource-State": "sync",
    "X-Goog-Message-Number": "1",
}


def test_google_channel_sync_is_acknowledged(http: TestClient, database: str) -> None:
    google = source("google_calendar")
    endpoint = make_endpoint(database, google)
    # No body, the channel token in X-Goog-Channel-Token.
    reply = http.post(
        endpoint.path("google_calendar"),
        headers={**GOOGLE_SYNC, "X-Goog-Channel-Token": endpoint.signing_secret},
    )
    assert reply.status_code == 200, reply.text
    assert reply.content == b""
    assert counts(database) == (0, 0, 0)


def test_google_channel_sync_is_refused_without_the_channel_token(
    http: TestClient, database: str
) -> None:
    google = source("google_calendar")
    endpoint = make_endpoint(database, google)
    path = endpoint.path("google_calendar")
    assert http.post(path, headers=GOOGLE_SYNC).status_code == 401
    wrong = {**GOOGLE_SYNC, "X-Goog-Channel-Token": wrong_secret(database, google)}
    assert http.post(path, headers=wrong).status_code == 401
    assert counts(database) == (0, 0, 0)


# Discord -------------------------------------------------------------------------------


DISCORD_PING = {
    "app_permissions": "562949953601536",
    "application_id": "1290011122233344455",
    "id": "1301234567890000001",
    "token": "aW50ZXJhY3Rpb246cGluZzppbnZlbnRlZA",
    "type": 1,
    "user": {"id": "1290077766655544433", "username": "ana.dev"},
    "version": 1,
}


def test_discord_ping_gets_a_pong(http: TestClient, database: str) -> None:
    discord = source("discord")
    endpoint = make_endpoint(database, discord)
    reply = post_signed(http, endpoint, "discord", endpoint.signing_secret, DISCORD_PING)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"type": 1}
    assert counts(database) == (0, 0, 0)


def test_discord_ping_is_refused_unsigned_or_wrongly_signed(
    http: TestClient, database: str
) -> None:
    # Discord itself sends badly signed PINGs when the URL is saved and expects a 401.
    discord = source("discord")
    endpoint = make_endpoint(database, discord)
    unsigned = http.post(endpoint.path("discord"), json=DISCORD_PING)
    assert unsigned.status_code == 401
    wrong = post_signed(http, endpoint, "discord", wrong_secret(database, discord), DISCORD_PING)
    assert wrong.status_code == 401
    assert counts(database) == (0, 0, 0)
