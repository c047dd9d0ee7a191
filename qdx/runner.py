"""Running the web server and the workers in one process until a signal stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Coroutine, Generator
from typing import Any

import uvicorn

from qdx.errors import UserError
from qdx.settings import Settings
from web.app import create_app
from workers.app import run_worker

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind the HTTP socket up front, so a taken port is a clear error, not a crash."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port} ({exc.strerror}): "
            "choose another with --port or QDX_PORT"
        ) from None
    sock.set_inheritable(True)
    return sock


async def run(
    settings: Settings,
    conninfo: str,
    *,
    web: bool = True,
    worker: bool = True,
    sock: socket.socket | None = None,
) -> None:
    """Serve HTTP and/or run the workers until SIGINT/SIGTERM, then stop both cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    jobs: dict[str, Coroutine[Any, Any, None]] = {}
    server: _Server | None = None
    if web:
        config = uvicorn.Config(
            create_app(settings, conninfo),
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
        server = _Server(config)
        jobs["web"] = server.serve(sockets=[sock or bind(settings.host, settings.port)])
    if worker:
        jobs["worker"] = run_worker(conninfo, concurrency=settings.worker_concurrency)
    tasks = {asyncio.create_task(coro, name=name): name for name, coro in jobs.items()}
    stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait(), name="signal")
    try:
        waited: list[asyncio.Task[Any]] = [*tasks, stopper]
        done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        ended = [name for task, name in tasks.items() if task in done]
        if ended:
            log.error("stopping: a component ended on its own", extra={"component": ended[0]})
    finally:
        log.info("stopping")
        if server is not None:
            server.should_exit = True
        for task, name in tasks.items():
            if name == "worker":
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for result in results:
        if isinstance(result, Exception):
            raise result
