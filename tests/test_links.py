"""Links derived on read: the changes each deploy shipped (core.deploy_changes)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

REPO = "github:1"


def change(conn: psycopg.Connection[Any], org: uuid.UUID, number: int, merged: str | None,
           sha: str | None = None, base: str = "main") -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO core.changes (org_id, change_id, provider, repo_id, number, state,"
        " base_branch, merged_at, merge_commit_sha, updated_at)"
        " VALUES (%s, %s, 'github', %s, %s, %s, %s, %s, %s, now())",
        (org, f"{REPO}#{number}", REPO, number, "merged" if merged else "open", base, merged,
         sha),
    )  # fmt: skip


def deploy(conn: psycopg.Connection[Any], org: uuid.UUID, n: int, sha: str, started: str,
           environment: str = "production", status: str = "success") -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO core.deploys (org_id, deploy_id, provider, repo_id, service, environment,"
        " environment_class, status, commit_sha, started_at, finished_at)"
        " VALUES (%s, %s, 'github', %s, 'web', %s, 'production', %s, %s, %s,"
        " %s::timestamptz + interval '10 minutes')",
        (org, f"github:deployment:{n}", REPO, environment, status, sha, started, started),
    )


def links(conn: psycopg.Connection[Any], org: uuid.UUID) -> set[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT deploy_id, change_id, rule FROM core.deploy_changes WHERE org_id = %s", (org,)
    ).fetchall()
    return {(r[0].rsplit(":", 1)[1], r[1].rsplit("#", 1)[1], r[2]) for r in rows}


def test_each_deploy_ships_what_was_merged_since_the_previous_one(
    conn: psycopg.Connection[Any],
) -> None:
    org = uuid.uuid4()
    conn.execute(
        "INSERT INTO core.repos (org_id, repo_id, provider, external_id, default_branch,"
        " first_seen_at, last_seen_at) VALUES (%s, %s, 'github', '1', 'main', now(), now())",
        (org, REPO),
    )
    change(conn, org, 1, "2026-11-02T09:00Z", "a1")
    change(conn, org, 2, "2026-11-02T10:00Z", "a2")
    change(conn, org, 3, "2026-11-02T11:00Z", "a3")
    change(conn, org, 4, "2026-11-02T12:00Z", "a4")
    change(conn, org, 5, "2026-11-02T12:30Z", "r5", base="release-1")  # another branch
    change(conn, org, 6, None)  # still open
    deploy(conn, org, 1, "a2", "2026-11-02T10:30Z")  # ships 1 and 2 (its commit)
    deploy(conn, org, 2, "a4", "2026-11-02T13:00Z")  # ships 3 and 4
    deploy(conn, org, 3, "zz", "2026-11-02T14:00Z")  # an unknown commit: nothing new
    deploy(conn, org, 4, "a4", "2026-11-02T12:10Z", status="failure")  # not a deploy
    deploy(conn, org, 5, "a3", "2026-11-02T11:30Z", environment="staging")  # 1, 2, 3
    assert links(conn, org) == {
        ("1", "1", "merge_order"), ("1", "2", "commit"),
        ("2", "3", "merge_order"), ("2", "4", "commit"),
        ("5", "1", "merge_order"), ("5", "2", "merge_order"), ("5", "3", "commit"),
    }  # fmt: skip


def test_lineage_names_the_raw_events_behind_a_row(database: str) -> None:
    from tests.normalize_helpers import accept, make_org, normalize, sample

    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        for name in ("pull_request.opened", "pull_request_review.submitted", "issues.opened"):
            accept(conn, org, endpoint, sample("github", name))
        normalize(database)
        rows = conn.execute(
            "SELECT l.entity, l.entity_id, e.event_type FROM core.lineage l"
            " JOIN raw.events e ON e.org_id = l.org_id AND e.event_id = l.event_id"
            " WHERE l.org_id = %s ORDER BY 1, 2, 3",
            (org,),
        ).fetchall()
    assert ("change", "github:700100#42", "pull_request.opened") in rows
    assert ("change", "github:700100#42", "pull_request_review.submitted") in rows
    assert ("review", "github:review:3300001", "pull_request_review.submitted") in rows
    assert ("repo", "github:700100", "pull_request.opened") in rows
    assert not [r for r in rows if r[2] == "issues.opened"]
