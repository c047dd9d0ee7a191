"""The MCP servers for AI agents, mounted in the web app: quantum-metrics, -incidents,
-people and -sql at /mcp/{server}, each over Streamable HTTP (POST /mcp/{server},
stateless, so any worker answers any request; GET and DELETE as the spec defines for a
server without sessions) and the legacy SSE transport (GET /mcp/{server}/sse, messages
to POST /mcp/{server}/messages/?session_id=...). Every request passes the gate
(web.mcp_server.gate): host and origin, then a bearer token. Every tool reads an `api`
SQL function in the caller's scope and is audited (web.mcp_server.toolbox).

GET /.well-known/oauth-protected-resource/mcp/{server} is each server's protected
resource metadata (RFC 9728)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qdx.settings import Settings
from web.api.rest import Rest
from web.api.sql import SqlEndpoint
from web.mcp_server import incidents, metrics, people, sql
from web.mcp_server.gate import Gate, resource_url, transport_security
from web.mcp_server.toolbox import ScopedServer, Toolbox

SERVERS = {
    "metrics": ("quantum-metrics", "Engineering metrics (DORA, PR cycle time, ...) by org, "
                "team, repository and service, with the units behind each value."),
    "incidents": ("quantum-incidents", "Incidents: search by severity, time, service and "
                  "status; one incident's timeline and the deployment it is attributed to; "
                  "time-to-restore statistics."),
    "people": ("quantum-people", "People and teams: who an email, login or name is, the "
               "team tree, who was on a team when. Analyst role and up."),
    "sql": ("quantum-sql", "Read-only SQL over the api views in the caller's scope, and "
            "what those views hold. Analyst role and up."),
}  # fmt: skip


class _NoStream:
    """GET /mcp/{server} answers 405: a stateless server has no stream to offer (the spec
    allows 405 for exactly that; a stream would stay open with nothing ever on it).
    POST, and DELETE (405 from the SDK: there are no sessions to end), go to the SDK."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            response = JSONResponse(
                {"error": "method_not_allowed", "message": "this server is stateless: it "
                 "offers no GET stream; send requests with POST"},
                status_code=405, headers={"Allow": "POST, DELETE"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class McpServers:
    """The four servers, bound to the web's pool and its REST and SQL reads."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool[Any], rest: Rest,
                 endpoint: SqlEndpoint) -> None:  # fmt: skip
        self.settings = settings
        auth = rest.auth
        security = transport_security(settings)
        self.servers: dict[str, ScopedServer] = {}
        self._routes: list[BaseRoute] = []
        for name, (title, instructions) in SERVERS.items():
            box = Toolbox(name, pool, rest)
            server = ScopedServer(title, box, instructions=instructions, version="1")
            if name == "metrics":
                metrics.build(box, server)
            elif name == "incidents":
                incidents.build(box, server)
            elif name == "people":
                people.build(box, server)
            else:
                sql.build(box, server, endpoint)
            # (builds the server's session manager; its ASGI app is served at
            # /mcp/{server} itself, not below a mount, which would redirect to a slash)
            server.streamable_http_app(stateless_http=True, json_response=True,
                                       transport_security=security)  # fmt: skip
            streamable = _NoStream(StreamableHTTPASGIApp(server.session_manager))
            sse = server.sse_app(sse_path="/sse", message_path="/messages/",
                                 transport_security=security)  # fmt: skip
            self.servers[name] = server
            self._routes += [
                Route(f"/mcp/{name}", Gate(streamable, settings, name, auth),
                      methods=["GET", "POST", "DELETE"]),
                Mount(f"/mcp/{name}", app=Gate(sse, settings, name, auth)),
                Route(f"/.well-known/oauth-protected-resource/mcp/{name}",
                      self._metadata(name), methods=["GET"]),
            ]  # fmt: skip

    def routes(self) -> list[BaseRoute]:
        return self._routes

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run every server's session manager (the host app's lifespan must: mounted
        apps' lifespans do not run)."""
        async with AsyncExitStack() as stack:
            for server in self.servers.values():
                await stack.enter_async_context(server.session_manager.run())
            yield

    def _metadata(self, name: str) -> Any:
        document = {
            "resource": resource_url(self.settings, name),
            "resource_name": SERVERS[name][0],
            # Tokens come from `qdx token issue`: there is no authorization server to
            # discover, so none is listed.
            "bearer_methods_supported": ["header"],
        }

        async def endpoint(request: Request) -> Response:
            return JSONResponse(document, headers={"Cache-Control": "max-age=3600"})

        return endpoint
