"""Running the web server and the workers in one process until a signal stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

import uvicorn

from qdx.errors import UserError
from qdx.settings import Settings
from web.app import create_app
from workers.app import run_worker
from workers.identity.resolver import run_resolver
from workers.normalizer import NormalizerConfig, run_normalizer

log = logging.getLogger(__name__)


def http_protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol sending each response in one write (web/server.py),
    or uvicorn's own choice where httptools is missing."""
    try:
        from web.server import JoinedWritesHttpToolsProtocol
    except ImportError:
        return "auto"
    return JoinedWritesHttpToolsProtocol


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
    # Accepted connections inherit this: without it, a response written in two parts waits
    # for the client's delayed ACK (Nagle), about 40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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


def spawn_web_processes(settings: Settings, conninfo: str, sock: socket.socket | None) -> list[int]:
    """Fork settings.web_processes - 1 extra HTTP-only processes on the same socket (the
    kernel spreads connections); returns their pids. Python runs one request at a time
    per process: on several cores, several processes answer more webhooks."""
    children: list[int] = []
    if sock is None:
        return children
    for _ in range(settings.web_processes - 1):
        pid = os.fork()
        if pid == 0:  # the child serves until SIGINT/SIGTERM, then leaves at once
            code = 0
            try:
                run_loop(run(settings, conninfo, web=True, worker=False, sock=sock))
            except BaseException:
                log.exception("web process failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    return children


def stop_processes(pids: list[int], timeout: float = 30.0) -> None:
    """Ask forked processes to stop (SIGTERM), wait for them, kill the ones that linger."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    pids.clear()


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion on uvloop when it is installed (it comes with
    uvicorn[standard]), else on asyncio's own loop."""
    factory = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # a platform without uvloop
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(coro)


async def run(
    settings: Settings,
    conninfo: str,
    *,
    web: bool = True,
    worker: bool = True,
    sock: socket.socket | None = None,
    alongside: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve HTTP and/or run the workers until SIGINT/SIGTERM, then stop both cleanly.

    `alongside` (e.g. the demo stream) starts once the HTTP server serves; its end, or its
    failure (logged), stops nothing; it is cancelled once the server has stopped."""
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
            http=http_protocol(),
        )
        server = _Server(config)
        jobs["web"] = server.serve(sockets=[sock or bind(settings.host, settings.port)])
    if worker:
        jobs["worker"] = run_worker(conninfo, concurrency=settings.worker_concurrency)
        batches = NormalizerConfig(
            batch_size=settings.normalize_batch,
            visibility_timeout=settings.normalize_visibility_timeout,
        )
        for i in range(settings.normalize_workers):
            jobs[f"normalizer-{i}"] = run_normalizer(conninfo, batches, name=f"normalizer-{i}")
        jobs["identity"] = run_resolver(conninfo)
    tasks = {asyncio.create_task(coro, name=name): name for name, coro in jobs.items()}
    stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait(), name="signal")
    extra = None
    if alongside is not None:
        extra = asyncio.create_task(_once_serving(server, alongside), name="alongside")
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
            if name != "web":
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if extra is not None:
            # Only now: the server answered every request it had begun reading, so none
            # is cut off halfway; what the job sends meanwhile is refused and retried.
            extra.cancel()
            await asyncio.gather(extra, return_exceptions=True)
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for result in results:
        if isinstance(result, Exception):
            raise result


async def _once_serving(server: _Server | None, job: Callable[[], Awaitable[None]]) -> None:
    """Run a job once the server accepts connections; log (not raise) its failure."""
    while server is not None and not server.started:
        await asyncio.sleep(0.05)
    try:
        await job()
    except Exception:
        log.exception("a job run alongside the server failed")
