"""Tokens verify only when signed by our key, unexpired, for this audience and issuer."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qdx.errors import InvalidInput
from web.tokens import InvalidToken, issue_token, parse_ttl, verification_keys, verify_token

AUD = "https://qdx.example.test"
ISS = "https://qdx.example.test"


@pytest.fixture
def issued(conn: psycopg.Connection[Any]) -> tuple[str, dict[str, Any]]:
    conn.execute("SELECT auth.create_org('tok')")
    token, _ = issue_token(
        conn, org="tok", teams=[], role="viewer", ttl=timedelta(minutes=15),
        subject="tester", issuer=ISS, audience=AUD,
    )  # fmt: skip
    return token, verification_keys(conn)


def test_valid_token_verifies(issued: tuple[str, dict[str, Any]]) -> None:
    token, keys = issued
    claims = verify_token(token, keys, audience=AUD, issuer=ISS)
    assert claims.role == "viewer"
    assert claims.subject == "tester"
    assert claims.team_ids == ()


def test_expired_token_is_refused(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT auth.create_org('tok')")
    token, claims = issue_token(
        conn, org="tok", teams=[], role="admin", ttl=timedelta(minutes=15), subject="t",
        issuer=ISS, audience=AUD, now=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    assert claims.expires_at < datetime.now(UTC)
    with pytest.raises(InvalidToken, match="token expired"):
        verify_token(token, verification_keys(conn), audience=AUD, issuer=ISS)


def test_token_signed_by_another_key_is_refused(issued: tuple[str, dict[str, Any]]) -> None:
    token, keys = issued
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        payload, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header["kid"]}
    )
    with pytest.raises(InvalidToken, match="bad token signature"):
        verify_token(forged, keys, audience=AUD, issuer=ISS)


def test_tampered_claims_are_refused(issued: tuple[str, dict[str, Any]]) -> None:
    token, keys = issued
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "admin"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="bad token signature"):
        verify_token(f"{head}.{body}.{sig}", keys, audience=AUD, issuer=ISS)


def test_unsigned_and_foreign_algorithms_are_refused(issued: tuple[str, dict[str, Any]]) -> None:
    token, keys = issued
    payload = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none")
    with pytest.raises(InvalidToken, match="not signed with EdDSA"):
        verify_token(unsigned, keys, audience=AUD, issuer=ISS)
    hs = jwt.encode(payload, "a-shared-secret-of-32-bytes-long!", algorithm="HS256")
    with pytest.raises(InvalidToken, match="not signed with EdDSA"):
        verify_token(hs, keys, audience=AUD, issuer=ISS)


def test_wrong_audience_or_issuer_is_refused(issued: tuple[str, dict[str, Any]]) -> None:
    token, keys = issued
    with pytest.raises(InvalidToken, match="another audience"):
        verify_token(token, keys, audience="https://other.example.test", issuer=ISS)
    with pytest.raises(InvalidToken, match="another issuer"):
        verify_token(token, keys, audience=AUD, issuer="https://other.example.test")


def test_unknown_key_and_garbage_are_refused(issued: tuple[str, dict[str, Any]]) -> None:
    token, _ = issued
    with pytest.raises(InvalidToken, match="unknown key"):
        verify_token(token, {}, audience=AUD, issuer=ISS)
    with pytest.raises(InvalidToken, match="malformed token"):
        verify_token("not-a-token", {}, audience=AUD, issuer=ISS)


def test_role_must_be_known(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT auth.create_org('tok')")
    with pytest.raises(InvalidInput, match="unknown role 'root'"):
        issue_token(conn, org="tok", teams=[], role="root", ttl=timedelta(minutes=1),
                    subject="t", issuer=ISS, audience=AUD)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15m", timedelta(minutes=15)), ("1h30m", timedelta(minutes=90)), ("24h", timedelta(hours=24)),
     ("90s", timedelta(seconds=90))],
)  # fmt: skip
def test_parse_ttl(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


def test_key_rotation(conn: psycopg.Connection[Any]) -> None:
    """A rotated-out key still verifies what it signed for a day, then no more; new
    tokens name the new key; a rotation younger than its minimum age changes nothing."""
    from web.tokens import rotate_signing_key

    conn.execute("SELECT auth.create_org('rot')")

    def issue() -> str:
        token, _ = issue_token(conn, org="rot", teams=[], role="viewer",
                               ttl=timedelta(minutes=15), subject="t", issuer=ISS,
                               audience=AUD)  # fmt: skip
        return token

    old = issue()
    old_kid = jwt.get_unverified_header(old)["kid"]
    assert rotate_signing_key(conn, min_age=timedelta(days=7)) == (old_kid, False)
    kid, new = rotate_signing_key(conn)
    assert new
    assert kid != old_kid
    fresh = issue()
    assert jwt.get_unverified_header(fresh)["kid"] == kid
    keys = verification_keys(conn)
    assert set(keys) == {old_kid, kid}
    assert verify_token(old, keys, audience=AUD, issuer=ISS).subject == "t"
    conn.execute("UPDATE auth.signing_keys SET retired_at = now() - interval '25 hours'"
                 " WHERE kid = %s", (old_kid,))  # fmt: skip
    keys = verification_keys(conn)
    assert set(keys) == {kid}
    with pytest.raises(InvalidToken, match="unknown key"):
        verify_token(old, keys, audience=AUD, issuer=ISS)
    assert verify_token(fresh, keys, audience=AUD, issuer=ISS).subject == "t"
