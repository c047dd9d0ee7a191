"""`qdx replay` and `qdx events`: replaying an org's log and seeing what became of events."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from tests.normalize_helpers import accept, make_org, normalize, sample
from tests.test_cli import run


def stored(conninfo: str) -> None:
    """An org `acme` with one good, one malformed and one ignored event, normalized."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        accept(conn, org, endpoint, sample("github", "pull_request.opened"))
        accept(conn, org, endpoint, replace(sample("github", "push"), body=b"[]"),
               delivery_key="broken", event_type="push")  # fmt: skip
        accept(conn, org, endpoint, sample("github", "issues.opened"))
    normalize(conninfo)


def test_replay_reports_progress_and_outcomes(
    qdx_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stored(qdx_env)
    code, out, err = run(capsys, "replay", "acme", "--chunk", "2", "--workers", "1")
    assert code == 0
    assert out.strip().startswith("replayed 3 events of acme in ")
    assert out.strip().endswith(": 1 failed, 1 ignored, 1 normalized")
    assert "replayed 2/3 events" in err
    assert "replayed 3/3 events" in err

    code, out, _ = run(capsys, "replay", "acme", "--source", "github", "--since", "2100-01-01")
    assert code == 0
    assert out.strip().startswith("replayed 0 events of acme")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("replay", "nope"), "unknown org 'nope'"),
        (("replay", "acme", "--since", "yesterday"), "bad --since 'yesterday'"),
        (("replay", "acme", "--source", "myspace"), "unknown source 'myspace'"),
        (("replay", "acme", "--chunk", "0"), "--chunk must be at least 1"),
        (("replay", "acme", "--workers", "0"), "--workers must be at least 1"),
        (("events", "failed", "nope"), "unknown org 'nope'"),
    ],
)
def test_bad_input_is_one_clear_line(
    qdx_env: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    stored(qdx_env)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_events_failed_and_stats(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    stored(qdx_env)
    code, out, _ = run(capsys, "events", "failed", "acme")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert " failed   github/push " in lines[0]
    assert lines[1].strip() == "push lacks repository.id"

    code, out, _ = run(capsys, "events", "stats", "acme")
    assert code == 0
    assert [line.split() for line in out.splitlines()[:3]] == [
        ["github", "failed", "1"], ["github", "ignored", "1"], ["github", "normalized", "1"]
    ]  # fmt: skip
    assert "queue: 0 message(s) waiting" in out


def deploy_classes(conninfo: str) -> list[tuple[str, str]]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT environment, environment_class FROM core.deploys ORDER BY environment"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_environment_rules_reclassify_deploys(
    qdx_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(qdx_env, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        status = sample("github", "deployment_status.created")
        for n, name in enumerate(("blue", "production")):
            body = status.body.replace(b'"environment": "production"',
                                       f'"environment": "{name}"'.encode())  # fmt: skip
            body = body.replace(b'"id": 660001', f'"id": {770000 + n}'.encode())
            accept(conn, org, endpoint, replace(status, body=body), delivery_key=name)
    normalize(qdx_env)
    before = deploy_classes(qdx_env)
    assert before == [("blue", "other"), ("production", "production")]

    code, out, _ = run(capsys, "environment", "add", "acme", "^blue$", "production")
    assert code == 0
    assert out.strip() == "rule 1: /^blue$/ -> production; 1 deploy(s) reclassified"
    assert ("blue", "production") in deploy_classes(qdx_env)
    code, out, _ = run(capsys, "environment", "add", "acme", "prod", "staging", "--position", "1")
    assert code == 0
    assert out.strip() == "rule 1: /prod/ -> staging; 1 deploy(s) reclassified"
    code, out, _ = run(capsys, "environment", "list", "acme")
    assert out.splitlines()[:2] == ["  1  /prod/ -> staging", "  2  /^blue$/ -> production"]

    code, out, _ = run(capsys, "environment", "remove", "acme", "1")
    assert out.strip() == "removed rule 1; 1 deploy(s) reclassified"
    code, out, _ = run(capsys, "environment", "remove", "acme", "1")
    assert code == 0
    assert deploy_classes(qdx_env) == before

    code, _, err = run(capsys, "environment", "add", "acme", "([", "production")
    assert code == 2
    assert "bad pattern '(['" in err
    code, _, err = run(capsys, "environment", "remove", "acme", "7")
    assert code == 2
    assert "no environment rule at position 7" in err
