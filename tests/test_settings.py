"""Settings from the environment: defaults, empty values, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdx.cli import _apply_overrides, build_parser
from qdx.errors import InvalidInput
from qdx.settings import Settings


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.pg_port, s.database_url) == ("127.0.0.1", 8000, 5433, None)
    assert s.public_url == s.jwt_audience == s.jwt_issuer == "http://127.0.0.1:8000"
    assert s.home == Path(".qdx").absolute()
    assert (s.normalize_workers, s.normalize_batch, s.normalize_visibility_timeout) == (2, 1000, 60)


def test_empty_values_count_as_unset() -> None:
    env = {name: "" for name in ("DATABASE_URL", "QDX_HOME", "QDX_HOST", "QDX_PORT",
                                 "QDX_PUBLIC_URL", "QDX_LOG_LEVEL", "QDX_LOG_FORMAT")}  # fmt: skip
    assert Settings.from_env(env) == Settings.from_env({})


def test_listening_everywhere_is_reached_on_loopback() -> None:
    s = Settings.from_env({"QDX_HOST": "0.0.0.0", "QDX_PORT": "9000"})  # noqa: S104
    assert s.public_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QDX_LOG_LEVEL": "loud"}, "QDX_LOG_LEVEL must be one of"),
        ({"QDX_PORT": "http"}, "QDX_PORT must be an integer"),
        ({"QDX_POOL_MAX_SIZE": "0"}, "QDX_POOL_MAX_SIZE must be at least 1"),
        ({"QDX_WORKER_CONCURRENCY": "-2"}, "QDX_WORKER_CONCURRENCY must be at least 1"),
        ({"QDX_NORMALIZE_WORKERS": "0"}, "QDX_NORMALIZE_WORKERS must be at least 1"),
        ({"QDX_NORMALIZE_BATCH": "lots"}, "QDX_NORMALIZE_BATCH must be an integer"),
        ({"QDX_NORMALIZE_VISIBILITY_TIMEOUT": "0"}, "must be at least 1"),
        ({"QDX_PG_PORT": "5432"}, "must not be 5432"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Settings.from_env(env)


def test_flags_move_derived_urls_but_not_explicit_ones() -> None:
    args = build_parser().parse_args(["serve", "--port", "9001"])
    moved = _apply_overrides(args, Settings.from_env({}))
    assert moved.public_url == moved.jwt_audience == "http://127.0.0.1:9001"
    explicit = Settings.from_env({"QDX_PUBLIC_URL": "https://qdx.example.test"})
    kept = _apply_overrides(args, explicit)
    assert kept.port == 9001
    assert kept.public_url == "https://qdx.example.test"


def test_mcp_settings() -> None:
    s = Settings.from_env({"QDX_PUBLIC_URL": "https://dx.example.com/"})
    assert s.mcp_resource_url == "https://dx.example.com"
    assert (s.mcp_allowed_hosts, s.mcp_allowed_origins) == ((), ())
    s = Settings.from_env({"QDX_MCP_RESOURCE_URL": "https://mcp.example.com/",
                           "QDX_MCP_ALLOWED_HOSTS": "a.example, b.example:8443,",
                           "QDX_MCP_ALLOWED_ORIGINS": "https://a.example"})  # fmt: skip
    assert s.mcp_resource_url == "https://mcp.example.com"
    assert s.mcp_allowed_hosts == ("a.example", "b.example:8443")
    assert s.mcp_allowed_origins == ("https://a.example",)
