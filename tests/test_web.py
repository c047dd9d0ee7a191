"""The HTTP skeleton: health, readiness against the real schema, Prometheus metrics."""

from __future__ import annotations

from starlette.testclient import TestClient

from db.migrate import head_revision
from qdx.settings import Settings
from web.app import create_app


def client(conninfo: str) -> TestClient:
    return TestClient(create_app(Settings.from_env({}), conninfo))


def test_healthz_and_readyz_on_a_migrated_database(database: str) -> None:
    with client(database) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}


def test_readyz_is_503_until_migrated(empty_database: str) -> None:
    with client(empty_database) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == [
            f"schema at revision (empty), code expects {head_revision()}"
        ]


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    with client("host=127.0.0.1 port=1 dbname=none connect_timeout=1") as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["database unreachable"]


def test_metrics_in_prometheus_text(database: str) -> None:
    with client(database) as http:
        http.get("/healthz")
        http.get("/healthz")
        http.get("/no/such/page")
        response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'qdx_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert 'route="<unmatched>",status="404"' in text  # raw paths never become labels
    assert "qdx_db_pool_connections" in text
    assert 'qdx_build_info{version="' in text


def test_joined_writes_protocol_answers_whole_streamed_and_pipelined() -> None:
    """The serve protocol (each response in one write) loses, splits or reorders nothing:
    pipelined keep-alive requests, a streamed response and a close after an error."""
    import asyncio

    from starlette.types import Receive, Scope, Send
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from web.server import JoinedWritesHttpToolsProtocol

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"one,", b"two,", b"three"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(0.01)  # each part leaves before the next is made
            await send({"type": "http.response.body", "body": b""})
        elif scope["path"] == "/fail":
            raise RuntimeError("boom")
        else:
            body = scope["path"].encode()
            await send({"type": "http.response.start", "status": 202,
                        "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})

    async def run() -> bytes:
        config = Config(app=app, log_config=None, access_log=False, lifespan="off")
        config.load()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: JoinedWritesHttpToolsProtocol(
                config=config, server_state=ServerState(), app_state={}
            ),
            "127.0.0.1",
            0,
        )
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /fail HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 10)  # until the server closes
        writer.close()
        server.close()
        await server.wait_closed()
        return data

    data = asyncio.run(run())
    assert data.count(b"HTTP/1.1 202 Accepted") == 2
    assert data.index(b"\r\n\r\n/a") < data.index(b"\r\n\r\n/b") < data.index(b"one,")
    assert b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n" in data
    assert data.rstrip().endswith(b"Internal Server Error")
