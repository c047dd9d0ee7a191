"""compose.yaml, the Dockerfile and docs/configuration.md agree with the code.

Docker cannot run where this is tested, so the production files are checked against the
code instead: every `qdx` command they run is one the parser accepts, every variable they
set is one `qdx/settings.py` reads and docs/configuration.md lists, the database is
PostgreSQL 16 or newer with pgvector, no password is written down, and the health checks
of the built services pass against a real, migrated database and fail against an empty one.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from starlette.testclient import TestClient

from db.connect import MIN_SERVER_VERSION
from qdx.cli import _apply_overrides, build_parser, cmd_migrate, cmd_serve, cmd_worker
from qdx.errors import UserError
from qdx.settings import Settings
from web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
CONFIGURATION = ROOT / "docs" / "configuration.md"
SETTINGS_SOURCE = ROOT / "qdx" / "settings.py"

# The variables `qdx` reads: DATABASE_URL and every QDX_*.
QDX_VARIABLE = re.compile(r"QDX_[A-Z0-9_]+|DATABASE_URL")
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}.
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)
# Values given to the variables compose requires, to build the environment a service sees.
SAMPLE_ENV = {"POSTGRES_PASSWORD": "sample0password1hex", "QDX_PUBLIC_URL": "https://qdx.test"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$", re.IGNORECASE)
# user:password@ in a URL; the password may be an interpolation with spaces in its message.
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(?P<password>\$\{[^}]*\}|[^@\s]+)@")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what a container's server must listen on)


# -- reading the files -----------------------------------------------------------------------


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve compose's ${...} forms (and $$) the way compose does; KeyError if required."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        missing = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and missing:
            raise KeyError(f"{name} is required: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return value or ""

    return INTERPOLATION.sub(one, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    assert isinstance(data.get("services"), dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def built(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from ./Dockerfile."""
    found = {name: svc for name, svc in services(compose).items() if "build" in svc}
    assert found, "no service of compose.yaml builds the Dockerfile"
    for name, svc in found.items():
        context = svc["build"] if isinstance(svc["build"], str) else svc["build"]["context"]
        assert (ROOT / context).resolve() == ROOT, f"{name} builds from {context}, not ."
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as written (list or mapping form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def as_argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, rest = whole.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_json(keyword: str) -> list[str]:
    values = [rest for kw, rest in dockerfile() if kw == keyword]
    assert len(values) == 1, f"the Dockerfile needs exactly one {keyword}"
    parsed = json.loads(values[0])
    assert isinstance(parsed, list), f"{keyword} must be in exec (JSON) form"
    return [str(p) for p in parsed]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile():
        if keyword != "ENV":
            continue
        tokens = shlex.split(rest)
        if tokens and "=" not in tokens[0]:  # legacy form: ENV NAME value
            env[tokens[0]] = " ".join(tokens[1:])
        else:
            for token in tokens:
                key, _, value = token.partition("=")
                env[key] = value
    return env


def settings_variables() -> set[str]:
    """Every variable name written as a string in qdx/settings.py."""
    tree = ast.parse(SETTINGS_SOURCE.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and QDX_VARIABLE.fullmatch(node.value)
    }


def documented_variables() -> set[str]:
    """Variables with a row of their own in a table of docs/configuration.md."""
    rows = re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", CONFIGURATION.read_text(), re.MULTILINE)
    return set(rows)


def qdx_argv(service: dict[str, Any]) -> list[str] | None:
    """The arguments given to `qdx` by a service, or None when it does not run qdx."""
    if "entrypoint" in service:
        entry = as_argv(service["entrypoint"])
    elif "build" in service:
        entry = dockerfile_json("ENTRYPOINT")
    else:
        return None
    if not entry or Path(entry[0]).name != "qdx":
        return None
    command = as_argv(service["command"]) if "command" in service else dockerfile_json("CMD")
    return entry[1:] + command


def parse(argv: list[str], where: str) -> argparse.Namespace:
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `qdx {' '.join(argv)}` is not a command qdx accepts")


def service_env(service: dict[str, Any]) -> dict[str, str]:
    """The environment `qdx` sees in a built service: image ENV, then compose's values."""
    env = dockerfile_env()
    env.update({k: interpolate(v, SAMPLE_ENV) for k, v in environment(service).items()})
    return env


def healthcheck_python(service: dict[str, Any]) -> str:
    """The code of a `python -c CODE` health check."""
    test = as_argv(service["healthcheck"]["test"])
    assert test[0] == "CMD", "a python health check runs without a shell (CMD form)"
    assert test[1:3] == ["python", "-c"], f"not a python -c health check: {test}"
    return test[3]


# -- commands --------------------------------------------------------------------------------


def test_dockerfile_runs_qdx_and_its_default_command_parses() -> None:
    assert dockerfile_json("ENTRYPOINT") == ["qdx"]
    args = parse(dockerfile_json("CMD"), "Dockerfile CMD")
    assert args.handler is cmd_serve
    assert args.host == ALL_INTERFACES
    assert any(kw == "USER" and rest not in ("root", "0") for kw, rest in dockerfile())
    assert any(
        kw == "RUN" and re.search(r"pip install\b.*\s-e\s+\.", rest) for kw, rest in dockerfile()
    )


def test_every_qdx_command_in_compose_parses(compose: dict[str, Any]) -> None:
    ran = {}
    for name, service in services(compose).items():
        argv = qdx_argv(service)
        if argv is not None:
            ran[name] = parse(argv, f"compose.yaml service {name}").handler
    assert ran == {"migrate": cmd_migrate, "app": cmd_serve, "worker": cmd_worker}


# -- variables -------------------------------------------------------------------------------


def read_probe(name: str) -> bool:
    """True when setting `name` changes what Settings.from_env returns."""
    default = Settings.from_env({})
    for probe in ("12345", "json", "debug", "probe-value"):
        try:
            if Settings.from_env({name: probe}) != default:
                return True
        except UserError:
            continue
    return False


def test_settings_variables_are_found_and_really_read() -> None:
    names = settings_variables()
    # The extractor must see the variables everybody knows, or it proves nothing.
    assert {"DATABASE_URL", "QDX_HOME", "QDX_PUBLIC_URL", "QDX_LOG_FORMAT"} <= names
    unread = sorted(n for n in names if not read_probe(n))
    assert not unread, f"named in qdx/settings.py but not read by Settings.from_env: {unread}"


def test_every_variable_settings_reads_is_documented() -> None:
    missing = sorted(settings_variables() - documented_variables())
    assert not missing, f"docs/configuration.md has no row for {missing}"


def test_documentation_lists_no_variable_that_settings_does_not_read() -> None:
    extra = sorted(
        n for n in documented_variables() - settings_variables() if QDX_VARIABLE.fullmatch(n)
    )
    assert not extra, f"docs/configuration.md documents variables qdx does not read: {extra}"


def test_command_line_overrides_are_documented() -> None:
    setting_names = {f.name for f in fields(Settings)} | {"concurrency"}
    options: set[str] = set()
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.dest in setting_names:
                options.update(o for o in action.option_strings if o.startswith("--"))
    assert {"--host", "--port", "--pg-port", "--concurrency"} <= options
    rows = re.findall(r"^\|\s*`(--[a-z-]+)", CONFIGURATION.read_text(), re.MULTILINE)
    missing = sorted(options - set(rows))
    assert not missing, f"docs/configuration.md has no row for {missing}"


def test_variables_set_for_qdx_are_read_and_documented(compose: dict[str, Any]) -> None:
    named = set(QDX_VARIABLE.findall(COMPOSE.read_text())) | set(
        QDX_VARIABLE.findall(DOCKERFILE.read_text())
    )
    for service in built(compose).values():
        named |= {k for k in environment(service) if QDX_VARIABLE.fullmatch(k)}
    named |= {k for k in dockerfile_env() if QDX_VARIABLE.fullmatch(k)}
    assert {"DATABASE_URL", "QDX_PUBLIC_URL", "QDX_LOG_FORMAT"} <= named
    assert not sorted(named - settings_variables()), "set but never read by qdx/settings.py"
    assert not sorted(named - documented_variables()), "set but not in docs/configuration.md"


def test_built_services_get_a_valid_configuration(compose: dict[str, Any]) -> None:
    for name, service in built(compose).items():
        env = service_env(service)
        settings = Settings.from_env(env)  # raises on a value qdx refuses
        assert settings.database_url, (
            f"{name} has no DATABASE_URL: it would start an embedded server"
        )
        assert settings.public_url == SAMPLE_ENV["QDX_PUBLIC_URL"], name
        assert settings.log_format == "json", name


def test_database_url_points_at_the_postgres_service(compose: dict[str, Any]) -> None:
    postgres = services(compose)["postgres"]
    pg_env = {k: interpolate(v, SAMPLE_ENV) for k, v in environment(postgres).items()}
    for name, service in built(compose).items():
        url = urlsplit(service_env(service)["DATABASE_URL"])
        assert url.scheme in ("postgresql", "postgres"), name
        assert url.hostname == "postgres", f"{name}: DATABASE_URL must name the postgres service"
        assert (url.port or 5432) == 5432, name
        assert url.username == pg_env.get("POSTGRES_USER", "postgres"), name
        assert unquote(url.password or "") == pg_env["POSTGRES_PASSWORD"], name
        assert url.path.lstrip("/") == pg_env.get("POSTGRES_DB", url.username), name
        depends = service.get("depends_on") or {}
        assert "postgres" in depends or "migrate" in depends, f"{name} must wait for the database"


# -- the database and secrets ----------------------------------------------------------------


def test_postgres_is_16_or_newer_with_pgvector(compose: dict[str, Any]) -> None:
    image = services(compose)["postgres"]["image"]
    match = re.fullmatch(r"pgvector/pgvector:pg(?P<major>\d+)(?:[.-][\w.-]+)?", image)
    assert match, f"{image} is not the pgvector image"
    assert int(match["major"]) * 10000 >= MIN_SERVER_VERSION
    assert int(match["major"]) >= 16


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    else:
        yield path, node


def test_no_password_is_written_in_compose(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                match = INTERPOLATION.fullmatch(value)
                assert match, f"{name}.{key} must come from a variable, not be written here"
                assert match["op"] in (":?", "?"), f"{name}.{key} must be required (no default)"
    checked = 0
    for where, value in walk(compose):
        for url in URL_PASSWORD.finditer(str(value)):
            checked += 1
            assert INTERPOLATION.fullmatch(url["password"]), f"{where}: literal password in a URL"
    assert checked, "expected DATABASE_URL's password to be checked"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(environment(services(compose)["postgres"])["POSTGRES_PASSWORD"], {})


# -- health and order ------------------------------------------------------------------------


def test_every_service_has_a_healthcheck_but_the_one_shot_migrate(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if name == "migrate":
            assert "healthcheck" not in service
            assert str(service.get("restart", "no")) == "no", "migrate runs once"
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    postgres_test = " ".join(as_argv(services(compose)["postgres"]["healthcheck"]["test"]))
    assert "pg_isready" in postgres_test
    for name in ("app", "worker"):
        depends = services(compose)[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_app_listens_where_its_port_and_healthcheck_point(compose: dict[str, Any]) -> None:
    app = services(compose)["app"]
    argv = qdx_argv(app)
    assert argv is not None
    settings = _apply_overrides(parse(argv, "app"), Settings.from_env(service_env(app)))
    assert settings.host == ALL_INTERFACES, "the app must listen beyond the container's loopback"
    published = {str(p).rsplit(":", 1)[-1].split("/")[0] for p in app.get("ports", [])}
    assert published == {str(settings.port)}
    exposed = {rest.split("/")[0] for kw, rest in dockerfile() if kw == "EXPOSE"}
    assert str(settings.port) in exposed
    code = healthcheck_python(app)
    urls = re.findall(r"https?://[^'\"\s]+", code)
    assert len(urls) == 1
    assert urlsplit(urls[0]).port == settings.port
    assert urlsplit(urls[0]).path == "/readyz"


def run_app_healthcheck(code: str, conninfo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the app's health check code with urlopen answered by the real app in-process."""
    asked: list[str] = []
    with TestClient(create_app(Settings.from_env({}), conninfo)) as http:

        def urlopen(url: str, timeout: float | None = None) -> Any:
            asked.append(url)
            response = http.get(urlsplit(url).path)
            if response.status_code >= 400:
                raise urllib.error.HTTPError(url, response.status_code, "", None, None)  # type: ignore[arg-type]
            return response

        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        try:
            exec(compile(code, "<app healthcheck>", "exec"), {})  # noqa: S102
        finally:
            monkeypatch.undo()
    assert len(asked) == 1


def test_app_healthcheck_passes_when_ready(
    compose: dict[str, Any], database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_app_healthcheck(healthcheck_python(services(compose)["app"]), database, monkeypatch)


def test_app_healthcheck_fails_until_migrated(
    compose: dict[str, Any], empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = healthcheck_python(services(compose)["app"])
    with pytest.raises(urllib.error.HTTPError) as failed:
        run_app_healthcheck(code, empty_database, monkeypatch)
    assert failed.value.code == 503


def run_worker_healthcheck(argv: list[str], conninfo: str, cwd: Path) -> int:
    env = {**os.environ, "DATABASE_URL": conninfo}
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=60)
    return done.returncode


def test_worker_healthcheck_against_real_databases(
    compose: dict[str, Any], database: str, empty_database: str, tmp_path: Path
) -> None:
    test = as_argv(services(compose)["worker"]["healthcheck"]["test"])
    assert test[:2] == ["CMD", "qdx"], "the worker's health is `qdx db status`"
    parse(test[2:], "worker healthcheck")
    argv = [sys.executable, "-m", "qdx", *test[2:]]
    assert run_worker_healthcheck(argv, database, tmp_path) == 0
    assert run_worker_healthcheck(argv, empty_database, tmp_path) != 0


def test_clickhouse_is_present_and_unused(compose: dict[str, Any]) -> None:
    clickhouse = services(compose)["clickhouse"]
    assert clickhouse["image"].startswith("clickhouse/clickhouse-server")
    assert clickhouse.get("volumes"), "clickhouse keeps its data in a volume"
    for name, service in services(compose).items():
        # docs/operations.md says nothing reads it yet: update both when the mirror lands.
        assert "clickhouse" not in (service.get("depends_on") or {}), name
        assert "clickhouse" not in json.dumps(environment(service)), name
