"""The embedded server: start, reuse, stop, crashes and clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from db.embedded import EmbeddedError, EmbeddedPostgres
from tests.helpers import free_port


@pytest.fixture
def home() -> Iterator[Path]:
    # Short path: the unix socket lives in the data directory when it fits.
    path = Path(tempfile.mkdtemp(prefix="qdx-e-"))
    try:
        yield path
    finally:
        EmbeddedPostgres(path).stop()
        shutil.rmtree(path, ignore_errors=True)


def _answers(conninfo: str) -> bool:
    with psycopg.connect(conninfo, connect_timeout=3) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def test_start_initializes_reuses_and_stops(home: Path) -> None:
    port = free_port()
    server = EmbeddedPostgres(home, port=port, listen="127.0.0.1", durable=False)
    assert not server.initialized
    info, started = server.start()
    assert started
    assert server.initialized
    assert info.port == port
    assert info.listen == "127.0.0.1"
    assert _answers(info.conninfo())  # the `qdx` database was created
    # A second start on the same data directory attaches to the running server.
    again, started_again = EmbeddedPostgres(home, port=port).start()
    assert not started_again
    assert again.pid == info.pid
    # TCP accepts password logins only: the superuser has no password.
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="qdx", connect_timeout=3
        )
    assert server.stop() is True
    assert server.status() is None
    assert server.stop() is False


def test_stale_pidfile_after_a_crash_is_handled(home: Path) -> None:
    server = EmbeddedPostgres(home, port=free_port(), listen=None, durable=False)
    info, _ = server.start()
    os.kill(info.pid, signal.SIGKILL)
    # The backends notice their postmaster died and exit; postmaster.pid stays behind.
    deadline = time.monotonic() + 15
    while server.status() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (server.pgdata / "postmaster.pid").exists()
    assert server.status() is None
    restarted, started = server.start()
    assert started
    assert restarted.pid != info.pid
    assert _answers(restarted.conninfo())


def test_pidfile_naming_a_foreign_live_process_is_stale(home: Path) -> None:
    server = EmbeddedPostgres(home, port=free_port(), listen=None, durable=False)
    server.start()
    server.stop()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        lines = ["", str(server.pgdata), "0", "5999", str(server.pgdata), "", "0 0", "ready"]
        lines[0] = str(sleeper.pid)
        (server.pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
        info, started = server.start()
        assert started
        assert info.pid != sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_taken_port_is_a_clear_error(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedPostgres(home, port=port, listen="127.0.0.1", durable=False)
        with pytest.raises(EmbeddedError, match=f"port {port} is taken"):
            server.start()
    assert server.status() is None


def test_foreign_non_empty_directory_is_refused(home: Path) -> None:
    (home / "pgdata").mkdir()
    (home / "pgdata" / "notes.txt").write_text("not a database")
    with pytest.raises(EmbeddedError, match="is not empty"):
        EmbeddedPostgres(home, port=free_port(), listen=None).start()
