"""Settings, read once from the environment. docs/configuration.md lists every variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from qdx.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its default."""

    database_url: str | None
    home: Path
    host: str
    port: int
    pg_port: int
    public_url: str
    jwt_issuer: str
    jwt_audience: str
    log_level: str
    log_format: str
    pool_max_size: int
    worker_concurrency: int
    allowed_hosts: tuple[str, ...]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from the environment (or the mapping given)."""
        env = dict(os.environ if env is None else env)
        host = env.get("QDX_HOST", "127.0.0.1")
        port = _int(env, "QDX_PORT", 8000)
        public_url = env.get("QDX_PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
        log_format = env.get("QDX_LOG_FORMAT", "auto")
        if log_format not in ("auto", "json", "text"):
            raise InvalidInput(f"QDX_LOG_FORMAT must be auto, json or text, got {log_format!r}")
        pg_port = _int(env, "QDX_PG_PORT", 5433)
        if pg_port == 5432:
            raise InvalidInput(
                "QDX_PG_PORT must not be 5432: that port belongs to the machine's own PostgreSQL"
            )
        hosts = env.get("QDX_ALLOWED_HOSTS", "")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(env.get("QDX_HOME", ".qdx")).expanduser().absolute(),
            host=host,
            port=port,
            pg_port=pg_port,
            public_url=public_url,
            jwt_issuer=env.get("QDX_JWT_ISSUER", public_url),
            jwt_audience=env.get("QDX_JWT_AUDIENCE", public_url),
            log_level=env.get("QDX_LOG_LEVEL", "INFO").upper(),
            log_format=log_format,
            pool_max_size=_int(env, "QDX_POOL_MAX_SIZE", 10),
            worker_concurrency=_int(env, "QDX_WORKER_CONCURRENCY", 4),
            allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        )
