"""Bearer tokens for the read interfaces: who calls, in which org and teams, with which
role. 401 when the token is missing or not acceptable, 403 when it is valid but does not
allow the request; both with a WWW-Authenticate header (RFC 6750)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
import psycopg
from psycopg_pool import PoolTimeout, TooManyRequests
from starlette.requests import Request

from db.audit import Reader
from db.scope import Scope
from web.tokens import LEEWAY, Claims, InvalidToken, verify_token
from web.webhooks.keys import KeyRing

REALM = "quantum-dx"
# Which roles may do what (people data and SQL for analyst and up).
RANK = {"viewer": 0, "analyst": 1, "admin": 2, "service": 1}


class Refused(Exception):
    """A request refused before it reads anything: status, error code, message."""

    def __init__(self, status: int, error: str, message: str, *, challenge: str | None = None,
                 retry_after: int | None = None):  # fmt: skip
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.challenge = challenge
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        out = {"WWW-Authenticate": self.challenge} if self.challenge else {}
        if self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        return out


def _challenge(error: str | None = None, description: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    return "Bearer " + ", ".join(parts)


def unauthorized(message: str, *, token_given: bool) -> Refused:
    return Refused(401, "unauthorized", message,
                   challenge=_challenge("invalid_token", message) if token_given
                   else _challenge())  # fmt: skip


def forbidden(message: str) -> Refused:
    return Refused(403, "forbidden", message, challenge=_challenge("insufficient_scope", message))


@dataclass(frozen=True)
class Caller:
    """A verified caller."""

    claims: Claims

    @property
    def org_id(self) -> UUID:
        return self.claims.org_id

    @property
    def team_ids(self) -> tuple[UUID, ...]:
        return self.claims.team_ids

    @property
    def role(self) -> str:
        return self.claims.role

    def at_least(self, role: str, what: str) -> None:
        """Refuse (403) unless the caller's role is `role` or above."""
        if RANK[self.role] < RANK[role]:
            raise forbidden(f"{what} needs the {role} role or above; this token is {self.role}")

    def scope(self) -> Scope:
        """What the caller may read: its org and teams (db.scope)."""
        return Scope(self.org_id, self.team_ids)

    def reader(self) -> Reader:
        """The caller as the audit log records it."""
        return Reader(
            self.org_id,
            self.claims.subject,
            self.role,
            {"org": str(self.org_id), "teams": [str(t) for t in self.team_ids]},
        )


@dataclass(frozen=True)
class _Verified:
    """A token that passed verify_token: its caller, the key that verified it and until
    when verify_token would accept it."""

    caller: Caller
    kid: str
    key: object
    until: float


# Verified tokens a web process remembers (REST, GraphQL, SQL, CSV and MCP share one
# Authenticator): a signature check costs about 0.23 ms, a tenth of an MCP call's CPU.
TOKEN_CACHE = 4096


class Authenticator:
    """Verifies the bearer token of a request against the org's signing keys.

    With `cache` > 0 it remembers that many tokens it verified (least recently used
    first out), keyed by the whole token text: a token seen for the first time, or
    differing by one character, is verified in full. A remembered token is accepted
    again without its signature check only while verify_token would still accept it:
    before its expiry (plus the same leeway) and while the key ring still holds the
    very key that verified it (a key retired and dropped from the ring refuses its
    tokens, remembered or not). Nothing that failed is remembered."""

    def __init__(self, keys: KeyRing, audience: str, issuer: str, *, cache: int = 0) -> None:
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
        self.cache_size = cache
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def _remembered(self, token: str) -> Caller | None:
        hit = self._verified.get(token)
        if hit is None:
            return None
        if time.time() >= hit.until or self.keys.keys.get(hit.kid) is not hit.key:
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return hit.caller

    def _remember(self, token: str, caller: Caller, keys: dict[str, Any]) -> None:
        kid = str(jwt.get_unverified_header(token).get("kid"))
        until = (caller.claims.expires_at + LEEWAY).timestamp()
        self._verified[token] = _Verified(caller, kid, keys.get(kid), until)
        while len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)

    async def caller(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized("a token is required: Authorization: Bearer <token>",
                               token_given=False)  # fmt: skip
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header must be: Bearer <token>",
                               token_given=True)  # fmt: skip
        token = token.strip()
        if self.cache_size and (known := self._remembered(token)) is not None:
            return known
        try:
            keys = await self.keys.for_token(token)
        except InvalidToken as exc:
            raise unauthorized(str(exc), token_given=True) from None
        except (PoolTimeout, TooManyRequests, psycopg.Error):
            raise Refused(503, "unavailable", "the database is unavailable; retry shortly",
                          retry_after=5) from None  # fmt: skip
        try:
            claims = verify_token(token, keys, audience=self.audience, issuer=self.issuer)
        except InvalidToken as exc:
            raise unauthorized(str(exc), token_given=True) from None
        caller = Caller(claims)
        if self.cache_size:
            self._remember(token, caller, keys)
        return caller
