"""`qdx up` end to end: a real process, a real embedded server, real signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import free_port


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="qdx-up-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_up(home: Path, port: int, pg_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(QDX_HOME=str(home), QDX_LOG_FORMAT="json")
    return subprocess.Popen(
        [sys.executable, "-m", "qdx", "up", "--port", str(port), "--pg-port", str(pg_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_ready(port: int, proc: subprocess.Popen[str], within: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if proc.poll() is not None:
            pytest.fail(f"qdx up exited early: {proc.communicate()}")
        if status(f"http://127.0.0.1:{port}/readyz") == 200:
            assert status(f"http://127.0.0.1:{port}/healthz") == 200
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail("qdx up was not ready within 30 s")


def postgres_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and any(
            str(home) in part for part in cmdline
        ):
            found.append(proc)
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_serves_and_stops_cleanly(home: Path, sig: signal.Signals) -> None:
    port, pg_port = free_port(), free_port()
    proc = start_up(home, port, pg_port)
    try:
        wait_ready(port, proc)
        assert postgres_processes(home)  # the embedded server runs from this home
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Quantum.DX" in out
    assert f"http://127.0.0.1:{port}" in out
    assert "Traceback" not in err
    assert postgres_processes(home) == []
    assert status(f"http://127.0.0.1:{port}/healthz") is None


@pytest.mark.parametrize("owner_stops_first", [False, True])
def test_second_up_shares_the_running_database(home: Path, owner_stops_first: bool) -> None:
    pg_port = free_port()
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(start_up(home, ports[0], pg_port))
        wait_ready(ports[0], procs[0])
        server_pid = postgres_processes(home)[0].pid
        procs.append(start_up(home, ports[1], pg_port))
        wait_ready(ports[1], procs[1])
        first, last = (0, 1) if owner_stops_first else (1, 0)
        procs[first].send_signal(signal.SIGINT)
        procs[first].communicate(timeout=30)
        assert procs[first].returncode == 0
        # The server outlives whichever process leaves first...
        assert server_pid in {p.pid for p in postgres_processes(home)}
        assert status(f"http://127.0.0.1:{ports[last]}/readyz") == 200
        # ...and stops with the last one.
        procs[last].send_signal(signal.SIGINT)
        procs[last].communicate(timeout=30)
        assert procs[last].returncode == 0
        assert postgres_processes(home) == []
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_taken_http_port_is_a_one_line_error(home: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_up(home, port, free_port())
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"qdx: error: cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
    assert postgres_processes(home) == []


def test_concurrent_commands_share_an_on_demand_server(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(QDX_HOME=str(home), QDX_LOG_FORMAT="json", QDX_PG_PORT=str(free_port()))
    cmds = [["migrate"], ["migrate"], ["migrate"], ["org", "list"]]
    procs = [
        subprocess.Popen([sys.executable, "-m", "qdx", *cmd], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for cmd in cmds
    ]  # fmt: skip
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    # `org list` may run before the schema exists; it then says so in one line.
    assert codes[:3] == [0, 0, 0], results
    assert codes[3] in (0, 2), results[3]
    assert all("Traceback" not in err for _, err in results)
    # The last one out stopped the server that the first one started.
    assert postgres_processes(home) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_several_http_processes_share_the_port_and_all_stop(
    home: Path, sig: signal.Signals
) -> None:
    port, pg_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(QDX_HOME=str(home), QDX_LOG_FORMAT="json")
    cmd = [sys.executable, "-m", "qdx", "up", "--port", str(port), "--pg-port", str(pg_port),
           "--processes", "3", "--no-worker"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(port, proc)
        children = [
            c.pid for c in psutil.Process(proc.pid).children() if c.name().startswith("python")
        ]
        assert len(children) == 2
        # Many requests on fresh connections are answered (by whichever process accepts).
        assert {status(f"http://127.0.0.1:{port}/healthz") for _ in range(30)} == {200}
        # SIGTERM goes to the parent only (a service manager); SIGINT as from a terminal.
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert not [pid for pid in children if psutil.pid_exists(pid) and
                psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    assert postgres_processes(home) == []
