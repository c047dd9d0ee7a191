"""Settings, read once from the environment. docs/configuration.md lists every variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from qdx.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _str(env: dict[str, str], name: str, default: str) -> str:
    """A variable's value; set but empty counts as unset."""
    value = env.get(name, "").strip()
    return value or default


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = _str(env, name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, got {value}")
    return value


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated variable's values, blanks dropped."""
    return tuple(v.strip() for v in env.get(name, "").split(",") if v.strip())


def default_public_url(host: str, port: int) -> str:
    """Where this process is reached when QDX_PUBLIC_URL is not set."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (listening everywhere; reached on loopback)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
    web_processes: int
    normalize_workers: int
    normalize_batch: int
    normalize_visibility_timeout: int
    # The MCP servers: the base URL of their resource identifiers (RFC 9728), and the
    # Host and Origin values they accept besides their own address and loopback.
    mcp_resource_url: str = ""
    mcp_allowed_hosts: tuple[str, ...] = ()
    mcp_allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from the environment (or the mapping given)."""
        env = dict(os.environ if env is None else env)
        host = _str(env, "QDX_HOST", "127.0.0.1")
        port = _int(env, "QDX_PORT", 8000)
        public_url = _str(env, "QDX_PUBLIC_URL", default_public_url(host, port)).rstrip("/")
        log_format = _str(env, "QDX_LOG_FORMAT", "auto")
        if log_format not in ("auto", "json", "text"):
            raise InvalidInput(f"QDX_LOG_FORMAT must be auto, json or text, got {log_format!r}")
        log_level = _str(env, "QDX_LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise InvalidInput(
                f"QDX_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
            )
        pg_port = _int(env, "QDX_PG_PORT", 5433)
        if pg_port == 5432:
            raise InvalidInput(
                "QDX_PG_PORT must not be 5432: that port belongs to the machine's own PostgreSQL"
            )
        return cls(
            database_url=_str(env, "DATABASE_URL", "") or None,
            home=Path(_str(env, "QDX_HOME", ".qdx")).expanduser().absolute(),
            host=host,
            port=port,
            pg_port=pg_port,
            public_url=public_url,
            jwt_issuer=_str(env, "QDX_JWT_ISSUER", public_url),
            jwt_audience=_str(env, "QDX_JWT_AUDIENCE", public_url),
            log_level=log_level,
            log_format=log_format,
            pool_max_size=_int(env, "QDX_POOL_MAX_SIZE", 10),
            worker_concurrency=_int(env, "QDX_WORKER_CONCURRENCY", 4),
            web_processes=_int(env, "QDX_WEB_PROCESSES", 1),
            normalize_workers=_int(env, "QDX_NORMALIZE_WORKERS", 2),
            normalize_batch=_int(env, "QDX_NORMALIZE_BATCH", 1000),
            normalize_visibility_timeout=_int(env, "QDX_NORMALIZE_VISIBILITY_TIMEOUT", 60),
            mcp_resource_url=_str(env, "QDX_MCP_RESOURCE_URL", public_url).rstrip("/"),
            mcp_allowed_hosts=_list(env, "QDX_MCP_ALLOWED_HOSTS"),
            mcp_allowed_origins=_list(env, "QDX_MCP_ALLOWED_ORIGINS"),
        )
