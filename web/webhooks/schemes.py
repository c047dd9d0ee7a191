"""How a source proves a delivery is authentic. Each scheme verifies (constant-time) against
every secret the endpoint accepts now (current and, during rotation, previous), and can
sign a body the same way, for tests, the demo and the load generator."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from web.webhooks.delivery import Delivery, Rejected, malformed, unauthorized
from web.webhooks.locate import Field, Header, Locator


@dataclass
class Signed:
    """What a signer adds to a request: headers, query parameters, and the body to send."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


class Scheme(Protocol):
    """A way of proving authenticity."""

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        """Return when a secret verifies the delivery; raise 401 otherwise."""

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        """Make a request this scheme accepts with `secret` (the signing side's secret)."""

    def secret_headers(self) -> tuple[str, ...]:
        """Headers that carry the secret itself: never stored."""

    @property
    def binds_body(self) -> bool:
        """True when a changed body fails verification (signatures); False for schemes
        that only present a secret (tokens, Basic auth)."""

    def describe(self) -> str:
        """One line for docs/sources.md."""

    def credentials(self) -> tuple[str, str]:
        """A fresh (endpoint secret, signing secret) pair, for tests and the demo."""


def _equal(a: bytes | str, b: bytes | str) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def _new_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _symmetric() -> tuple[str, str]:
    secret = _new_secret()
    return secret, secret


def check_timestamp(raw: str | None, now: float, tolerance: int, millis: bool = False) -> int:
    """Parse a Unix timestamp and refuse one outside now ± tolerance (replay protection)."""
    if raw is None:
        raise unauthorized("the delivery has no timestamp")
    try:
        value = float(raw)
    except ValueError:
        raise unauthorized("the delivery's timestamp is not a number") from None
    seconds = value / 1000 if millis else value
    if abs(now - seconds) > tolerance:
        raise unauthorized(f"the delivery's timestamp is more than {tolerance}s from now")
    return int(value)


def _render(template: str, values: dict[str, bytes]) -> bytes:
    """Fill {body}, {timestamp}, {id} in a message template, byte-exact."""
    out = b""
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        out += values[piece] if i % 2 else piece.encode()
    return out


@dataclass(frozen=True)
class Hmac:
    """HMAC over the raw body, or over a template of timestamp and body.

    header: where the signature is; prefix: text before the digest (`sha256=`, `v1=`);
    encoding: hex or base64; message: `{body}`, `{timestamp}.{body}`, `v0:{timestamp}:{body}`;
    timestamp: where the timestamp is (a header or body field), checked within tolerance;
    many: separator when the header may hold several signatures (any one may match);
    kv: the timestamp and signature keys when the header is `t=..,sig=..` pairs.
    """

    binds_body = True

    header: str
    prefix: str = ""
    encoding: str = "hex"
    digest: str = "sha256"
    message: str = "{body}"
    timestamp: Locator | None = None
    tolerance: int = 300
    millis: bool = False
    many: str | None = None
    kv: tuple[str, str] | None = None

    def _candidates(self, delivery: Delivery) -> tuple[list[bytes], str | None]:
        raw = delivery.header(self.header)
        if not raw:
            raise unauthorized(f"missing signature header {self.header}")
        timestamp = None
        if self.kv is not None:
            pairs = dict(p.strip().split("=", 1) for p in raw.split(",") if "=" in p)
            timestamp = pairs.get(self.kv[0])
            values = [pairs.get(self.kv[1], "")]
        elif self.many is not None:
            values = [v.strip() for v in raw.split(self.many)]
        else:
            values = [raw.strip()]
        digests = []
        for value in values:
            if not value.startswith(self.prefix):
                continue
            text = value[len(self.prefix) :]
            try:
                digests.append(
                    bytes.fromhex(text)
                    if self.encoding == "hex"
                    else base64.b64decode(text, validate=True)
                )
            except (ValueError, binascii.Error):
                continue
        if not digests:
            raise unauthorized(f"malformed signature in {self.header}")
        if self.timestamp is not None:
            timestamp = self.timestamp.find(delivery)
        return digests, timestamp

    def _mac(self, secret: str, body: bytes, timestamp: str | None) -> bytes:
        # The usual message is the body alone: no copy of it (one C call, OpenSSL's HMAC).
        message = (
            body
            if self.message == "{body}"
            else _render(self.message, {"body": body, "timestamp": (timestamp or "").encode()})
        )
        return hmac.digest(secret.encode(), message, self.digest)

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        digests, timestamp = self._candidates(delivery)
        if self.timestamp is not None or self.kv is not None:
            check_timestamp(timestamp, now, self.tolerance, self.millis)
        for secret in secrets:
            expected = self._mac(secret, delivery.body, timestamp)
            if any(_equal(expected, d) for d in digests):
                return
        raise unauthorized(f"the signature in {self.header} does not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        signed = Signed(body=body)
        timestamp = str(int(now * 1000) if self.millis else int(now))
        if isinstance(self.timestamp, Header):
            signed.headers[self.timestamp.name] = timestamp
        elif isinstance(self.timestamp, Field):
            payload = json.loads(body)
            payload[self.timestamp.path] = int(timestamp)
            signed.body = json.dumps(payload).encode()
        uses_ts = self.timestamp is not None or self.kv is not None
        mac = self._mac(secret, signed.body, timestamp if uses_ts else None)
        text = mac.hex() if self.encoding == "hex" else base64.b64encode(mac).decode()
        if self.kv is not None:
            signed.headers[self.header] = f"{self.kv[0]}={timestamp},{self.kv[1]}={text}"
        else:
            signed.headers[self.header] = self.prefix + text
        return signed

    def secret_headers(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        over = "the raw body" if self.message == "{body}" else f"`{self.message}`"
        ts = ""
        if self.timestamp is not None:
            ts = f"; timestamp from {self.timestamp.describe()} within {self.tolerance}s"
        elif self.kv is not None:
            ts = f"; timestamp from `{self.kv[0]}=` in the header within {self.tolerance}s"
        return (
            f"HMAC-{self.digest.upper()} of {over}, {self.encoding}, in `{self.header}`"
            + (f" after `{self.prefix}`" if self.prefix else "")
            + ts
        )

    def credentials(self) -> tuple[str, str]:
        return _symmetric()


@dataclass(frozen=True)
class Token:
    """A shared secret sent verbatim in a header (after an optional prefix)."""

    binds_body = False

    header: str
    prefix: str = ""

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        value = delivery.header(self.header)
        if value is None or not value.startswith(self.prefix):
            raise unauthorized(f"missing token header {self.header}")
        token = value[len(self.prefix) :].strip()
        # Compare with every secret: the time taken says nothing about which matched.
        matches = [_equal(token, s) for s in secrets]
        if not any(matches):
            raise unauthorized(f"the token in {self.header} does not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        return Signed(body=body, headers={self.header: self.prefix + secret})

    def secret_headers(self) -> tuple[str, ...]:
        return (self.header.lower(),)

    def describe(self) -> str:
        return f"shared secret in header `{self.header}`" + (
            f" after `{self.prefix}`" if self.prefix else ""
        )

    def credentials(self) -> tuple[str, str]:
        return _symmetric()


def Bearer() -> Token:
    """`Authorization: Bearer <secret>`."""
    return Token("Authorization", "Bearer ")


@dataclass(frozen=True)
class Basic:
    """HTTP Basic auth whose password is the endpoint secret (any user name)."""

    binds_body = False

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        value = delivery.header("Authorization") or ""
        if not value.startswith("Basic "):
            raise unauthorized("missing Basic credentials in Authorization")
        try:
            decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise unauthorized("malformed Basic credentials") from None
        password = decoded.split(":", 1)[1] if ":" in decoded else ""
        if not any([_equal(password, s) for s in secrets]):
            raise unauthorized("the Basic credentials do not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        token = base64.b64encode(f"qdx:{secret}".encode()).decode()
        return Signed(body=body, headers={"Authorization": f"Basic {token}"})

    def secret_headers(self) -> tuple[str, ...]:
        return ("authorization",)

    def describe(self) -> str:
        return "HTTP Basic auth: any user name, the endpoint secret as password"

    def credentials(self) -> tuple[str, str]:
        return _symmetric()


@dataclass(frozen=True)
class QueryToken:
    """The secret as a query parameter of the endpoint URL (for vendors that sign nothing
    and send no custom header)."""

    binds_body = False

    param: str = "token"

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        token = delivery.query.get(self.param)
        if not token:
            raise unauthorized(f"missing ?{self.param}= in the endpoint URL")
        if not any([_equal(token, s) for s in secrets]):
            raise unauthorized(f"the ?{self.param}= token does not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        return Signed(body=body, query={self.param: secret})

    def secret_headers(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return f"secret in the URL: `?{self.param}=<secret>`"

    def credentials(self) -> tuple[str, str]:
        return _symmetric()


def _standard_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:])
        except (ValueError, binascii.Error):
            return secret.encode()
    return secret.encode()


@dataclass(frozen=True)
class StandardWebhooks:
    """Standard Webhooks / Svix: `webhook-id`, `webhook-timestamp` and `webhook-signature`
    (`v1,<base64>` entries, space-separated) over `{id}.{timestamp}.{body}`; a `whsec_`
    secret is base64-decoded. The `svix-` header names are accepted too."""

    binds_body = True

    tolerance: int = 300

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        def get(name: str) -> str | None:
            return delivery.header(f"webhook-{name}") or delivery.header(f"svix-{name}")

        msg_id, timestamp, signatures = get("id"), get("timestamp"), get("signature")
        if not msg_id or not signatures:
            raise unauthorized("missing webhook-id or webhook-signature")
        check_timestamp(timestamp, now, self.tolerance)
        offered = []
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version == "v1":
                try:
                    offered.append(base64.b64decode(value, validate=True))
                except (ValueError, binascii.Error):
                    continue
        message = f"{msg_id}.{timestamp}.".encode() + delivery.body
        for secret in secrets:
            expected = hmac.new(_standard_key(secret), message, hashlib.sha256).digest()
            if any(_equal(expected, o) for o in offered):
                return
        raise unauthorized("the webhook-signature does not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        import uuid

        msg_id = f"msg_{uuid.uuid4().hex}"
        timestamp = str(int(now))
        mac = hmac.new(
            _standard_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256
        ).digest()
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        }
        return Signed(body=body, headers=headers)

    def secret_headers(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return (
            "Standard Webhooks (Svix): HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, "
            f"base64 `v1,` entries in `webhook-signature`; timestamp within {self.tolerance}s"
        )

    def credentials(self) -> tuple[str, str]:
        secret = "whsec_" + base64.b64encode(_new_secret().encode()[:24]).decode()
        return secret, secret


@dataclass(frozen=True)
class Ed25519:
    """Ed25519 signature (hex) over `timestamp + body`; the endpoint secret is the vendor's
    public key in hex."""

    binds_body = True

    signature_header: str
    timestamp_header: str
    tolerance: int = 300

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        signature = delivery.header(self.signature_header)
        timestamp = delivery.header(self.timestamp_header)
        if not signature or not timestamp:
            raise unauthorized(f"missing {self.signature_header} or {self.timestamp_header}")
        check_timestamp(timestamp, now, self.tolerance)
        try:
            sig = bytes.fromhex(signature)
        except ValueError:
            raise unauthorized(f"malformed signature in {self.signature_header}") from None
        for secret in secrets:
            try:
                key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(secret))
                key.verify(sig, timestamp.encode() + delivery.body)
                return
            except (ValueError, InvalidSignature):
                continue
        raise unauthorized(f"the signature in {self.signature_header} does not verify")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        timestamp = str(int(now))
        sig = key.sign(timestamp.encode() + body).hex()
        return Signed(
            body=body, headers={self.signature_header: sig, self.timestamp_header: timestamp}
        )

    def secret_headers(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return (
            f"Ed25519 over `{self.timestamp_header}` + body, hex in `{self.signature_header}`; "
            "the endpoint secret is the application's public key (hex)"
        )

    def credentials(self) -> tuple[str, str]:
        from cryptography.hazmat.primitives import serialization

        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return public.hex(), raw.hex()


@dataclass(frozen=True)
class BodyToken:
    """The secret inside the body: every item of the list at `items` carries it in `key`
    (Microsoft Graph's `value[].clientState`)."""

    binds_body = False

    items: str = "value"
    key: str = "clientState"

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        payload = delivery.payload
        entries = payload.get(self.items) if isinstance(payload, dict) else None
        if not isinstance(entries, list) or not entries:
            raise malformed(f"the body has no `{self.items}` list")
        for entry in entries:
            state = entry.get(self.key) if isinstance(entry, dict) else None
            if not isinstance(state, str) or not any([_equal(state, s) for s in secrets]):
                raise unauthorized(f"`{self.items}[].{self.key}` does not match")

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        payload: Any = json.loads(body)
        for entry in payload.get(self.items, []):
            entry[self.key] = secret
        return Signed(body=json.dumps(payload).encode())

    def secret_headers(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return f"the endpoint secret in every `{self.items}[].{self.key}` of the body"

    def credentials(self) -> tuple[str, str]:
        return _symmetric()


@dataclass(frozen=True)
class AnyOf:
    """Several schemes a vendor may be configured with; one must verify. Signs with the first."""

    schemes: tuple[Scheme, ...]

    def verify(self, delivery: Delivery, secrets: list[str], now: float) -> None:
        failures: list[Rejected] = []
        for scheme in self.schemes:
            try:
                scheme.verify(delivery, secrets, now)
                return
            except Rejected as exc:
                failures.append(exc)
        # Report the scheme the sender evidently used (its credentials were present but
        # wrong) rather than the absence of another scheme's header.
        present = [f for f in failures if not f.message.startswith("missing")]
        raise (present or failures)[0]

    def sign(self, body: bytes, secret: str, now: float) -> Signed:
        return self.schemes[0].sign(body, secret, now)

    @property
    def binds_body(self) -> bool:
        return all(s.binds_body for s in self.schemes)

    def secret_headers(self) -> tuple[str, ...]:
        return tuple(h for s in self.schemes for h in s.secret_headers())

    def describe(self) -> str:
        return " or ".join(s.describe() for s in self.schemes)

    def credentials(self) -> tuple[str, str]:
        return self.schemes[0].credentials()
