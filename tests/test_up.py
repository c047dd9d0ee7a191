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


def test_second_up_reuses_the_running_database(home: Path) -> None:
    pg_port = free_port()
    first_port, second_port = free_port(), free_port()
    first = start_up(home, first_port, pg_port)
    second = None
    try:
        wait_ready(first_port, first)
        owner = postgres_processes(home)
        second = start_up(home, second_port, pg_port)
        wait_ready(second_port, second)
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=30)
        assert second.returncode == 0
        # The second process attached; stopping it leaves the server it did not start.
        assert {p.pid for p in postgres_processes(home)} >= {owner[0].pid}
        assert status(f"http://127.0.0.1:{first_port}/readyz") == 200
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
        assert first.returncode == 0
        assert postgres_processes(home) == []
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
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
