"""Challenge handshakes: requests a vendor sends to prove the endpoint is ours, answered as
each vendor requires and never stored. `before_auth` ones come unsigned by design; the
rest are answered only after the delivery verified (an unverified Zoom validation would
make us an HMAC oracle for forged signatures)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from starlette.responses import JSONResponse, PlainTextResponse, Response

from web.webhooks.delivery import Delivery, malformed


@dataclass
class Answer:
    """A handshake's response, and a secret the vendor handed us to keep (Asana)."""

    response: Response
    new_secret: str | None = None


class Handshake(Protocol):
    """Recognizes a handshake request and answers it."""

    @property
    def before_auth(self) -> bool:
        """True when the vendor sends it unsigned, so it is answered before verification."""

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None: ...

    def describe(self) -> str: ...


def _payload_dict(delivery: Delivery) -> dict[str, object]:
    if delivery.method != "POST" or not delivery.body:
        return {}
    payload = delivery.payload
    return payload if isinstance(payload, dict) else {}


@dataclass(frozen=True)
class SlackUrlVerification:
    """Slack Events API: `{"type": "url_verification", "challenge": ...}` -> the challenge."""

    before_auth: bool = False

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        payload = _payload_dict(delivery)
        if payload.get("type") != "url_verification":
            return None
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise malformed("url_verification without a challenge")
        return Answer(JSONResponse({"challenge": challenge}))

    def describe(self) -> str:
        return "answers Slack's `url_verification` with its `challenge`"


@dataclass(frozen=True)
class ZoomUrlValidation:
    """Zoom: `endpoint.url_validation` -> plainToken and hex HMAC-SHA256(secret, plainToken)."""

    before_auth: bool = False

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        payload = _payload_dict(delivery)
        if payload.get("event") != "endpoint.url_validation":
            return None
        inner = payload.get("payload")
        plain = inner.get("plainToken") if isinstance(inner, dict) else None
        if not isinstance(plain, str):
            raise malformed("endpoint.url_validation without payload.plainToken")
        digest = hmac.new(secrets[0].encode(), plain.encode(), hashlib.sha256).hexdigest()
        return Answer(JSONResponse({"plainToken": plain, "encryptedToken": digest}))

    def describe(self) -> str:
        return "answers Zoom's `endpoint.url_validation` (plainToken + encryptedToken)"


@dataclass(frozen=True)
class GraphValidation:
    """Microsoft Graph subscription: `?validationToken=...` -> the token as text/plain."""

    before_auth: bool = True

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        token = delivery.query.get("validationToken")
        if token is None:
            return None
        return Answer(PlainTextResponse(token))

    def describe(self) -> str:
        return "answers Microsoft Graph's `validationToken` as text/plain"


@dataclass(frozen=True)
class AsanaHookSecret:
    """Asana: the first request carries `X-Hook-Secret`; echo it back and keep it as the
    endpoint's signing secret."""

    before_auth: bool = True

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        secret = delivery.header("X-Hook-Secret")
        if not secret:
            return None
        response = Response(status_code=200, headers={"X-Hook-Secret": secret})
        return Answer(response, new_secret=secret)

    def describe(self) -> str:
        return "echoes Asana's `X-Hook-Secret` and keeps it as the endpoint secret"


@dataclass(frozen=True)
class OktaVerification:
    """Okta event hooks: a GET with `X-Okta-Verification-Challenge` -> {"verification": ...}."""

    before_auth: bool = False

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        challenge = delivery.header("X-Okta-Verification-Challenge")
        if delivery.method != "GET" or not challenge:
            return None
        return Answer(JSONResponse({"verification": challenge}))

    def describe(self) -> str:
        return "answers Okta's one-time verification GET"


@dataclass(frozen=True)
class GoogleChannelSync:
    """Google Calendar push: the `sync` message that opens a channel -> 200, nothing stored."""

    before_auth: bool = False

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        if delivery.header("X-Goog-Resource-State") != "sync":
            return None
        return Answer(Response(status_code=200))

    def describe(self) -> str:
        return "acknowledges Google's channel `sync` message"


@dataclass(frozen=True)
class DiscordPing:
    """Discord interactions: PING (`{"type": 1}`) -> `{"type": 1}`."""

    before_auth: bool = False

    def answer(self, delivery: Delivery, secrets: list[str]) -> Answer | None:
        if _payload_dict(delivery).get("type") != 1:
            return None
        return Answer(JSONResponse({"type": 1}))

    def describe(self) -> str:
        return "answers Discord's PING with a PONG"
