"""Short-lived signed tokens (JWT, EdDSA) that scope a caller to an org, teams and a role.

The signing key is generated on first use and kept in the database (auth.signing_keys);
it is never logged or printed. Tokens carry iss, aud, sub, org, teams, role, iat, exp, jti.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from db.queries import QUERIES
from db.tenancy import Conn, api_client_scope, resolve_scope
from qdx.errors import InvalidInput

ROLES = ("viewer", "analyst", "admin", "service")
ALGORITHM = "EdDSA"
MAX_TTL = timedelta(hours=24)
LEEWAY = timedelta(seconds=30)
_TTL = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_REQUIRED = ["iss", "aud", "sub", "org", "teams", "role", "iat", "exp", "jti"]


class InvalidToken(Exception):
    """A token that must not be accepted; the message says why, without echoing it."""


@dataclass(frozen=True)
class Claims:
    """What a verified token grants."""

    issuer: str
    audience: str
    subject: str
    org_id: UUID
    team_ids: tuple[UUID, ...]
    role: str
    issued_at: datetime
    expires_at: datetime
    jti: UUID


def parse_ttl(text: str) -> timedelta:
    """'15m', '1h', '90s', '1h30m' -> timedelta; positive and at most 24h."""
    match = _TTL.match(text.strip())
    if not text.strip() or match is None:
        raise InvalidInput(
            f"bad ttl {text!r}: use hours, minutes and seconds such as 15m, 1h, 1h30m"
        )
    parts = {k: int(v) for k, v in match.groupdict(default="0").items()}
    ttl = timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    if ttl <= timedelta(0):
        raise InvalidInput(f"bad ttl {text!r}: it must be longer than zero")
    if ttl > MAX_TTL:
        raise InvalidInput(f"bad ttl {text!r}: tokens live at most 24h")
    return ttl


def new_signing_key() -> dict[str, str]:
    """A fresh signing key: kid, algorithm, private and public key (PEM)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"kid": uuid.uuid4().hex, "algorithm": ALGORITHM, "private_key": pem,
            "public_key": public.decode()}  # fmt: skip


def rotate_signing_key(conn: Conn, min_age: timedelta = timedelta(0)) -> tuple[str, bool]:
    """Make a new key sign tokens from now on, unless the active one is younger than
    min_age; the retired key verifies what it signed for another day. Returns the active
    kid and whether it is new."""
    params = new_signing_key()
    row = conn.execute(QUERIES["rotate_signing_key"], {**params, "min_age": min_age}).fetchone()
    assert row is not None
    return str(row[0]), row[0] == params["kid"]


def _active_key(conn: Conn) -> tuple[str, Ed25519PrivateKey]:
    row = conn.execute(QUERIES["active_signing_key"]).fetchone()
    if row is None:
        # Another process may have stored a key first: the function returns the winner.
        row = conn.execute(QUERIES["ensure_signing_key"], new_signing_key()).fetchone()
        assert row is not None
    kid, _algorithm, pem_text = row
    key = serialization.load_pem_private_key(pem_text.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return kid, key


def issue_token(
    conn: Conn,
    *,
    org: str,
    teams: list[str],
    role: str,
    ttl: timedelta,
    subject: str,
    issuer: str,
    audience: str,
    now: datetime | None = None,
    client: str | None = None,
) -> tuple[str, Claims]:
    """Sign a token for an org (and teams) with a role; returns it and its claims.

    With `client`, the token is for that API client of the org: its role and teams are
    the client's, its subject `client:<id>`; `role` and `subject` are then ignored.
    """
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise InvalidInput("a token lives longer than zero and at most 24h")
    if client is not None:
        if teams:
            raise InvalidInput("a client's token carries the client's own teams: drop --team")
        org_id, client_id, role, team_ids = api_client_scope(conn, org, client)
        subject = f"client:{client_id}"
    else:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        org_id, team_ids = resolve_scope(conn, org, teams)
    kid, key = _active_key(conn)
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = Claims(
        issuer=issuer,
        audience=audience,
        subject=subject,
        org_id=org_id,
        team_ids=tuple(team_ids),
        role=role,
        issued_at=issued,
        expires_at=issued + ttl,
        jti=uuid.uuid4(),
    )
    payload = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "org": str(org_id),
        "teams": [str(t) for t in team_ids],
        "role": role,
        "iat": int(issued.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": str(claims.jti),
    }
    token = jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid})
    return token, claims


def load_public_key(pem: str) -> Ed25519PublicKey:
    """A stored public key."""
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


def verification_keys(conn: Conn) -> dict[str, Ed25519PublicKey]:
    """Public keys by kid, for verifying tokens."""
    return {
        kid: load_public_key(pem) for kid, _alg, pem in conn.execute(QUERIES["verification_keys"])
    }


def verify_token(
    token: str,
    keys: dict[str, Ed25519PublicKey],
    *,
    audience: str,
    issuer: str,
) -> Claims:
    """Check signature, expiry, issuer and audience; returns the claims or raises InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise InvalidToken("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("token not signed with EdDSA")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidToken("token signed by an unknown key")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token from another issuer") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad token signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"token lacks the claim {exc.claim!r}") from None
    except jwt.PyJWTError:
        raise InvalidToken("invalid token") from None
    if payload["role"] not in ROLES:
        raise InvalidToken("token has an unknown role")
    try:
        org_id = UUID(str(payload["org"]))
        team_ids = tuple(UUID(str(t)) for t in payload["teams"])
        jti = UUID(str(payload["jti"]))
    except (ValueError, TypeError):
        raise InvalidToken("token has malformed org, teams or jti") from None
    return Claims(
        issuer=payload["iss"],
        audience=audience,
        subject=str(payload["sub"]),
        org_id=org_id,
        team_ids=team_ids,
        role=payload["role"],
        issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        jti=jti,
    )
