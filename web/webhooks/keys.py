"""Token verification keys for the web process, loaded from the database and cached."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg_pool import AsyncConnectionPool

from db.queries import QUERIES
from web.tokens import InvalidToken, load_public_key
from web.webhooks.receiver import DB_WAIT

REFRESH_AT_MOST_EVERY = 10.0


class KeyRing:
    """Public keys by kid; reloaded when a token names a kid not seen yet (at most every
    REFRESH_AT_MOST_EVERY seconds, so garbage kids cannot hammer the database)."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.loaded_at = float("-inf")

    async def for_token(self, token: str) -> dict[str, Ed25519PublicKey]:
        """The keys to verify this token with."""
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        if kid not in self.keys and time.monotonic() - self.loaded_at > REFRESH_AT_MOST_EVERY:
            async with self.pool.connection(timeout=DB_WAIT) as conn:
                cursor = await conn.execute(QUERIES["verification_keys"])
                rows = await cursor.fetchall()
            self.keys = {kid: load_public_key(pem) for kid, _alg, pem in rows}
            self.loaded_at = time.monotonic()
        return self.keys
