"""What every request to an MCP server passes before the SDK sees it.

1. DNS-rebinding protection: the Host must be this deployment's (QDX_PUBLIC_URL),
   loopback or one of QDX_MCP_ALLOWED_HOSTS (else 421), and an Origin, when a browser
   sends one, this deployment's, loopback or one of QDX_MCP_ALLOWED_ORIGINS (else 403).
2. OAuth resource server (RFC 6750, RFC 9728): a bearer token from `qdx token issue` in
   the Authorization header, verified on every request (EdDSA signature by a known key,
   issuer, audience = this deployment, expiry); a token in the query string is refused.
   401 answers carry `WWW-Authenticate: Bearer ... resource_metadata="<the server's
   protected-resource metadata>"`.
3. The verified caller goes to the tools in the ASGI scope (`qdx.caller`), and as the
   SDK's authenticated user (its principal: org, role, teams and subject), to which the
   SDK binds SSE sessions: a message for another caller's session is answered like one
   for no session. The token itself goes no further.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from qdx.settings import Settings
from web.api.auth import REALM, Authenticator, Caller, Refused

CALLER = "qdx.caller"
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
                    "http://127.0.0.1", "http://localhost", "http://[::1]")  # fmt: skip
# Query parameters that would carry a token (RFC 6750 §2.3 allows one; the MCP
# authorization spec forbids it).
TOKEN_PARAMETERS = ("access_token", "token", "bearer", "authorization", "jwt")


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The Host and Origin values the MCP servers accept."""
    public = urlsplit(settings.public_url)
    resource = urlsplit(settings.mcp_resource_url)
    hosts = {public.netloc, resource.netloc, *LOOPBACK_HOSTS, *settings.mcp_allowed_hosts}
    origins = {f"{public.scheme}://{public.netloc}", f"{resource.scheme}://{resource.netloc}",
               *LOOPBACK_ORIGINS, *settings.mcp_allowed_origins}  # fmt: skip
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=sorted(h for h in hosts if h),
                                     allowed_origins=sorted(o for o in origins if o))  # fmt: skip


def _allowed(value: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if value == pattern or (pattern.endswith(":*") and value.startswith(pattern[:-1])
                                and value[len(pattern) - 1:].isdigit()):  # fmt: skip
            return True
    return False


def metadata_url(settings: Settings, server: str) -> str:
    """Where a server's protected-resource metadata is (RFC 9728 §3.1: the well-known
    path inserted before the resource's path)."""
    base = urlsplit(settings.mcp_resource_url)
    return f"{base.scheme}://{base.netloc}/.well-known/oauth-protected-resource{base.path}/mcp/{server}"


def resource_url(settings: Settings, server: str) -> str:
    """A server's resource identifier: the URL clients connect to."""
    return f"{settings.mcp_resource_url}/mcp/{server}"


class Gate:
    """The checks above, in front of one MCP server's ASGI app."""

    def __init__(self, app: ASGIApp, settings: Settings, server: str,
                 auth: Authenticator) -> None:  # fmt: skip
        self.app = app
        self.auth = auth
        self.security = transport_security(settings)
        self.metadata = metadata_url(settings, server)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = request.headers.get("host", "")
        if not _allowed(host, self.security.allowed_hosts):
            await _answer(send, 421, "misdirected", f"this server does not answer for host "
                          f"{host or '(none)'}: set QDX_PUBLIC_URL or add it to "
                          "QDX_MCP_ALLOWED_HOSTS")  # fmt: skip
            return
        origin = request.headers.get("origin")
        if origin and not _allowed(origin, self.security.allowed_origins):
            await _answer(send, 403, "forbidden_origin", f"requests from origin {origin} are "
                          "refused (DNS-rebinding protection): add it to "
                          "QDX_MCP_ALLOWED_ORIGINS to allow it")  # fmt: skip
            return
        given = sorted({k.lower() for k, _ in parse_qsl(scope.get("query_string", b"").decode(
            "latin-1"))} & set(TOKEN_PARAMETERS))  # fmt: skip
        if given:
            await _answer(send, 400, "invalid_request", f"tokens are not accepted in the query "
                          f"string ({', '.join(given)}): send Authorization: Bearer <token>",
                          challenge=self._challenge("invalid_request",
                                                    "token in the query string"))  # fmt: skip
            return
        try:
            caller = await self.auth.caller(request)
        except Refused as exc:
            challenge = None
            if exc.status == 401:
                given_token = "authorization" in request.headers
                challenge = self._challenge("invalid_token" if given_token else None,
                                            exc.message if given_token else None)  # fmt: skip
            await _answer(send, exc.status, exc.error, exc.message, challenge=challenge,
                          headers=exc.headers() if exc.status != 401 else None)  # fmt: skip
            return
        scope[CALLER] = caller
        scope["user"] = AuthenticatedUser(_principal(caller))
        scope["auth"] = AuthCredentials([])
        await self.app(scope, receive, send)

    def _challenge(self, error: str | None, description: str | None) -> str:
        parts = [f'realm="{REALM}"', f'resource_metadata="{self.metadata}"']
        if error:
            parts.append(f'error="{error}"')
        if description:
            parts.append('error_description="{}"'.format(description.replace('"', "'")))
        return "Bearer " + ", ".join(parts)


def _principal(caller: Caller) -> AccessToken:
    claims = caller.claims
    teams = ",".join(str(t) for t in caller.team_ids)
    return AccessToken(token="", client_id=f"{caller.org_id}|{caller.role}|{teams}",
                       scopes=[], expires_at=int(claims.expires_at.timestamp()),
                       resource=claims.audience, subject=claims.subject,
                       claims={"iss": claims.issuer})  # fmt: skip


async def _answer(send: Send, status: int, error: str, message: str, *,
                  challenge: str | None = None, headers: dict[str, str] | None = None,
                  ) -> None:  # fmt: skip
    body = json.dumps({"error": error, "message": message}).encode()
    raw: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"),
                                      (b"content-length", str(len(body)).encode())]  # fmt: skip
    out: dict[str, Any] = dict(headers or {})
    if challenge:
        out["WWW-Authenticate"] = challenge
    raw += [(k.lower().encode(), v.encode()) for k, v in out.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
