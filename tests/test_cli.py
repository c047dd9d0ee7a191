"""Tenancy commands: orgs, teams, sources, tokens; bad input is one line and exit 2."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from qdx.cli import main
from qdx.settings import Settings
from web.tokens import verification_keys, verify_token


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith("{")]  # JSON log lines aside
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("qdx: error: ")
    return lines[0]


def test_org_create_list_and_duplicate(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "org", "create", "acme", "--name", "Acme Inc", "--timezone", "Europe/Berlin"
    )
    assert code == 0
    assert out.startswith("created org acme (")
    assert "Europe/Berlin" in out
    code, out, _ = run(capsys, "org", "list")
    assert code == 0
    assert re.match(r"acme\s+Acme Inc\s+Europe/Berlin\s+teams=0 endpoints=0", out)
    code, _, err = run(capsys, "org", "create", "acme")
    assert code == 2
    assert one_line_error(err) == "qdx: error: an org with this slug already exists"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["org", "create", "Bad Slug"], "a slug is 1-63 characters"),
        (["org", "create", "-x"], None),  # argparse refuses an option-like slug
        (["org", "create", "ok", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["team", "create", "nope", "platform"], "unknown org 'nope'"),
        (["source", "add", "nope", "github"], "unknown org 'nope'"),
        (["source", "add", "acme", "myspace"], "unknown source 'myspace'"),
        (["token", "issue", "nope"], "unknown org 'nope'"),
    ],
)
def test_bad_input_is_refused(
    qdx_env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None
) -> None:
    main(["org", "create", "acme"])
    capsys.readouterr()
    if message is None:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        return
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in one_line_error(err)


def test_team_tree(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "acme"])
    assert main(["team", "create", "acme", "eng", "--name", "Engineering"]) == 0
    assert main(["team", "create", "acme", "platform", "--parent", "eng"]) == 0
    assert main(["team", "create", "acme", "data", "--parent", "platform"]) == 0
    assert main(["team", "create", "acme", "sales"]) == 0
    out = capsys.readouterr().out
    assert "created team platform under eng in acme" in out
    code, out, _ = run(capsys, "team", "list", "acme")
    assert code == 0
    assert out.splitlines() == ["eng  (Engineering)", "  platform", "    data", "sales"]
    code, _, err = run(capsys, "team", "create", "acme", "eng")
    assert code == 2
    assert "a team with this slug already exists" in one_line_error(err)
    code, _, err = run(capsys, "team", "create", "acme", "x", "--parent", "ghost")
    assert code == 2
    assert "unknown team 'ghost' in org 'acme'" in one_line_error(err)


def test_same_team_slug_in_two_orgs(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "a"])
    main(["org", "create", "b"])
    assert main(["team", "create", "a", "platform"]) == 0
    assert main(["team", "create", "b", "platform"]) == 0


def test_source_add_prints_url_and_secret(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "acme"])
    capsys.readouterr()
    code, out, err = run(capsys, "source", "add", "acme", "github")
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:8000/webhooks/github/{fields['endpoint']}", fields["url"]
    )
    assert len(fields["secret"]) >= 32
    assert fields["secret"] not in err  # printed for the user, never logged
    with psycopg.connect(qdx_env) as conn:
        row = conn.execute("SELECT secrets FROM auth.endpoint_secrets(%s)", (fields["endpoint"],))
        assert row.fetchone() == ([fields["secret"]],)
    # A second endpoint of the same source needs a name of its own.
    code, _, err = run(capsys, "source", "add", "acme", "github")
    assert code == 2
    assert "already has an endpoint of that name" in one_line_error(err)
    code, out, _ = run(capsys, "source", "add", "acme", "github", "--name", "enterprise",
                       "--secret", "s" * 20)  # fmt: skip
    assert code == 0
    assert "secret    " + "s" * 20 in out
    code, _, err = run(capsys, "source", "add", "acme", "gitlab", "--secret", "short")
    assert code == 2
    assert "at least 16 characters" in one_line_error(err)
    code, out, _ = run(capsys, "source", "list", "acme")
    assert code == 0
    assert len(out.splitlines()) == 2
    assert "secret" not in out


def test_source_rotate_keeps_previous_secret_during_grace(
    qdx_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["org", "create", "acme"])
    main(["source", "add", "acme", "pagerduty", "--secret", "old-secret-0123456789"])
    out = capsys.readouterr().out
    endpoint = next(ln.split()[1] for ln in out.splitlines() if ln.startswith("endpoint "))
    code, out, _ = run(
        capsys, "source", "rotate", "acme", endpoint, "--secret", "new-secret-0123456789"
    )
    assert code == 0
    assert "keeps verifying until" in out
    with psycopg.connect(qdx_env) as conn:
        row = conn.execute("SELECT secrets FROM auth.endpoint_secrets(%s)", (endpoint,)).fetchone()
        assert row == (["new-secret-0123456789", "old-secret-0123456789"],)
    assert (
        main(
            [
                "source",
                "rotate",
                "acme",
                endpoint,
                "--secret",
                "newer-secret-0123456789",
                "--grace",
                "0d",
            ]
        )
        == 0
    )
    with psycopg.connect(qdx_env) as conn:
        row = conn.execute("SELECT secrets FROM auth.endpoint_secrets(%s)", (endpoint,)).fetchone()
        assert row == (["newer-secret-0123456789"],)
    capsys.readouterr()
    code, _, err = run(capsys, "source", "rotate", "acme", "not-a-uuid")
    assert code == 2
    assert "bad endpoint id" in one_line_error(err)
    code, _, err = run(capsys, "source", "rotate", "acme", "6f1c1c8e-0000-4000-8000-000000000000")
    assert code == 2
    assert "unknown endpoint" in one_line_error(err)


def test_token_issue_verifies(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "acme"])
    main(["team", "create", "acme", "platform"])
    capsys.readouterr()
    code, out, err = run(
        capsys, "token", "issue", "acme", "--team", "platform", "--role", "analyst", "--ttl", "1h"
    )
    assert code == 0
    token = out.strip()
    assert token.count(".") == 2
    assert token not in err
    assert token.split(".")[2] not in err
    settings = Settings.from_env()
    with psycopg.connect(qdx_env) as conn:
        keys = verification_keys(conn)
        row = conn.execute(
            "SELECT o.org_id, t.team_id FROM auth.orgs o JOIN auth.teams t USING (org_id)"
        ).fetchone()
    assert row is not None
    claims = verify_token(token, keys, audience=settings.jwt_audience, issuer=settings.jwt_issuer)
    assert (claims.org_id, claims.team_ids, claims.role) == (row[0], (row[1],), "analyst")
    assert (claims.expires_at - claims.issued_at).total_seconds() == 3600
    assert claims.subject.startswith("cli:")


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        ("0m", "longer than zero"),
        ("25h", "at most 24h"),
        ("soon", "bad ttl 'soon'"),
        ("", "bad ttl"),
    ],
)
def test_token_bad_ttl(
    qdx_env: str, capsys: pytest.CaptureFixture[str], ttl: str, message: str
) -> None:
    main(["org", "create", "acme"])
    capsys.readouterr()
    code, out, err = run(capsys, "token", "issue", "acme", "--ttl", ttl)
    assert code == 2
    assert out == ""
    assert message in one_line_error(err)


def test_token_unknown_team(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "acme"])
    capsys.readouterr()
    code, _, err = run(capsys, "token", "issue", "acme", "--team", "ghost")
    assert code == 2
    assert "unknown team 'ghost' in org 'acme'" in one_line_error(err)


def test_unmigrated_database_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    code, _, err = run(capsys, "org", "create", "acme")
    assert code == 2
    assert "run `qdx migrate`" in one_line_error(err)


def test_signing_key_is_created_once(conn: psycopg.Connection[Any]) -> None:
    from web.tokens import issue_token

    conn.execute("SELECT auth.create_org('keys')")
    kwargs: dict[str, Any] = {"org": "keys", "teams": [], "role": "viewer", "subject": "t",
                              "issuer": "i", "audience": "a"}  # fmt: skip
    from datetime import timedelta

    issue_token(conn, ttl=timedelta(minutes=1), **kwargs)
    issue_token(conn, ttl=timedelta(minutes=1), **kwargs)
    assert conn.execute("SELECT count(*) FROM auth.signing_keys").fetchone() == (1,)


def test_db_status_reports_migration_state(
    qdx_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    empty_database: str,
) -> None:  # fmt: skip
    code, out, _ = run(capsys, "db", "status")
    assert code == 0
    assert out.splitlines() == ["reachable: DATABASE_URL", "migrated"]
    monkeypatch.setenv("DATABASE_URL", empty_database)
    code, out, _ = run(capsys, "db", "status")
    assert code == 4
    assert "not migrated: schema at revision (empty)" in out


def test_api_clients_and_their_tokens(qdx_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "acme"])
    main(["team", "create", "acme", "platform"])
    capsys.readouterr()
    code, out, _ = run(
        capsys, "client", "create", "acme", "ci-bot", "--role", "service", "--team", "platform"
    )
    assert code == 0
    assert out.startswith("created API client ci-bot (")
    client_id = out.split("(")[1].split(",")[0]
    code, _, err = run(capsys, "client", "create", "acme", "ci-bot")
    assert code == 2
    assert "an API client with this name already exists" in one_line_error(err)
    code, _, err = run(capsys, "client", "create", "acme", "x", "--team", "ghost")
    assert code == 2
    assert "unknown team 'ghost'" in one_line_error(err)

    code, out, _ = run(capsys, "token", "issue", "acme", "--client", "ci-bot", "--ttl", "5m")
    assert code == 0
    settings = Settings.from_env()
    with psycopg.connect(qdx_env) as conn:
        keys = verification_keys(conn)
        aud, iss = settings.jwt_audience, settings.jwt_issuer
        claims = verify_token(out.strip(), keys, audience=aud, issuer=iss)
        platform = conn.execute("SELECT team_id FROM auth.teams WHERE slug = 'platform'").fetchone()
    assert platform is not None
    assert (claims.role, claims.team_ids, claims.subject) == (
        "service",
        (platform[0],),
        f"client:{client_id}",
    )

    code, _, err = run(capsys, "token", "issue", "acme", "--client", "ci-bot", "--role", "admin")
    assert code == 2
    assert "drop --role" in one_line_error(err)
    code, _, err = run(capsys, "token", "issue", "acme", "--client", "nobody")
    assert code == 2
    assert "unknown API client 'nobody' in org 'acme'" in one_line_error(err)

    code, out, _ = run(capsys, "client", "revoke", "acme", "ci-bot")
    assert code == 0
    assert "revoked API client ci-bot" in out
    code, _, err = run(capsys, "token", "issue", "acme", "--client", "ci-bot")
    assert code == 2
    assert "API client 'ci-bot' was revoked on" in one_line_error(err)
    code, out, _ = run(capsys, "client", "list", "acme")
    assert code == 0
    assert re.match(r"ci-bot\s+service\s+platform\s+revoked \d{4}-", out)
