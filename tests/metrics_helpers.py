"""Hand-built metric scenarios: canonical rows written straight into core (as
normalization leaves them), persons and teams, then the metrics refresh and api reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[Any]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
# A window holding every scenario (TO included).
WINDOW_DEFAULT = "2026-01-01..2026-06-30"


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """A moment relative to T0."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class World:
    """One org's canonical rows, written as a test describes them."""

    def __init__(self, conn: Conn, slug: str = "acme", timezone: str = "UTC") -> None:
        self.conn = conn
        self.slug = slug
        row = conn.execute(
            "INSERT INTO auth.orgs (slug, name, timezone) VALUES (%s, %s, %s) RETURNING org_id",
            (slug, slug.title(), timezone),
        ).fetchone()
        assert row is not None
        self.org: UUID = row[0]
        self._op: int | None = None
        self.teams: dict[str, UUID] = {}

    # --- people and teams -------------------------------------------------------------

    def person(self, name: str, *actors: str, bot: bool = False) -> UUID:
        """A person owning these accounts (created in core.actors when missing)."""
        if self._op is None:
            row = self.conn.execute(
                "INSERT INTO identity.operations (org_id, kind, performed_by)"
                " VALUES (%s, 'link', 'test') RETURNING op_id",
                (self.org,),
            ).fetchone()
            assert row is not None
            self._op = row[0]
        row = self.conn.execute(
            "INSERT INTO identity.persons (org_id, display_name, is_bot) VALUES (%s, %s, %s)"
            " RETURNING person_id",
            (self.org, name, bot),
        ).fetchone()
        assert row is not None
        person: UUID = row[0]
        for actor in actors:
            self.actor(actor, name, bot=bot)
            self.conn.execute(
                "INSERT INTO identity.links (org_id, actor_id, person_id, method, confidence,"
                " decided_by, decided_at, op_id) VALUES (%s, %s, %s, 'explicit', 1, 'test',"
                " now(), %s) ON CONFLICT (org_id, actor_id) DO UPDATE SET person_id ="
                " excluded.person_id",
                (self.org, actor, person, self._op),
            )
        return person

    def move_account(self, actor: str, person: UUID) -> None:
        """Re-link an account to another person, as identity resolution logs it."""
        assert self._op is not None
        self.conn.execute(
            "UPDATE identity.links SET person_id = %s WHERE org_id = %s AND actor_id = %s",
            (person, self.org, actor),
        )
        self.conn.execute(
            "INSERT INTO identity.person_changes (org_id, person_id, op_id) VALUES (%s, %s, %s)",
            (self.org, person, self._op),
        )

    def actor(self, actor: str, name: str | None = None, bot: bool = False) -> None:
        self.conn.execute(
            "INSERT INTO core.actors (org_id, actor_id, provider, external_id, login,"
            " display_name, is_bot, first_seen_at, last_seen_at)"
            " VALUES (%s, %s, split_part(%s, ':', 1), split_part(%s, ':', 2), %s, %s, %s,"
            " %s, %s) ON CONFLICT DO NOTHING",
            (self.org, actor, actor, actor, actor.split(":")[-1], name, bot, T0, T0),
        )

    def team(self, slug: str, parent: str | None = None) -> UUID:
        row = self.conn.execute(
            "INSERT INTO auth.teams (org_id, slug, name, parent_id) VALUES (%s, %s, %s, %s)"
            " RETURNING team_id",
            (self.org, slug, slug.title(), self.teams.get(parent) if parent else None),
        ).fetchone()
        assert row is not None
        team: UUID = row[0]
        self.teams[slug] = team
        return team

    def member(self, team: str, person: UUID, since: datetime,
               until: datetime | None = None) -> None:  # fmt: skip
        self.conn.execute(
            "SELECT identity.add_membership(%s, %s, %s, %s, %s)",
            (self.org, team, person, since, until),
        )

    # --- canonical rows ---------------------------------------------------------------

    def repo(self, repo_id: str = "github:1", name: str = "acme/api",
             default_branch: str = "main") -> str:  # fmt: skip
        self.conn.execute(
            "INSERT INTO core.repos (org_id, repo_id, provider, external_id, full_name,"
            " default_branch, first_seen_at, last_seen_at) VALUES (%s, %s, 'github', %s, %s,"
            " %s, %s, %s) ON CONFLICT DO NOTHING",
            (self.org, repo_id, repo_id.split(":")[-1], name, default_branch, T0, T0),
        )
        return repo_id

    def change(
        self,
        change_id: str,
        *,
        author: str = "github:dev",
        repo: str = "github:1",
        first_commit: datetime | None = None,
        opened: datetime | None = None,
        ready: datetime | None = None,
        first_response: datetime | None = None,
        first_review: datetime | None = None,
        approved: datetime | None = None,
        merged: datetime | None = None,
        merge_sha: str | None = None,
        base: str = "main",
        head: str | None = None,
        title: str | None = None,
        state: str | None = None,
    ) -> str:
        opened = opened or first_commit or merged or T0
        self.conn.execute(
            "INSERT INTO core.changes (org_id, change_id, provider, repo_id, title, state,"
            " is_draft, author_id, url, base_branch, head_branch, merge_commit_sha, opened_at,"
            " first_commit_at, ready_at, first_response_at, first_review_at, approved_at,"
            " merged_at, updated_at) VALUES (%s, %s, 'github', %s, %s, %s, false, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self.org, change_id, repo, title or change_id,
                state or ("merged" if merged else "open"), author,
                f"https://example.test/{change_id}", base, head or f"branch-{change_id}",
                merge_sha, opened, first_commit, ready or opened, first_response,
                first_review, approved, merged, merged or opened,
            ),
        )  # fmt: skip
        return change_id

    def update_change(self, change_id: str, **columns: Any) -> None:
        sets = ", ".join(f"{name} = %s" for name in columns)
        self.conn.execute(
            f"UPDATE core.changes SET {sets} WHERE org_id = %s AND change_id = %s",
            (*columns.values(), self.org, change_id),
        )

    def review(self, review_id: str, change_id: str, reviewer: str, submitted: datetime,
               kind: str = "comment", state: str = "commented") -> None:  # fmt: skip
        self.conn.execute(
            "INSERT INTO core.reviews (org_id, review_id, provider, change_id, reviewer_id,"
            " kind, state, submitted_at) VALUES (%s, %s, 'github', %s, %s, %s, %s, %s)",
            (self.org, review_id, change_id, reviewer, kind, state, submitted),
        )

    def commit(self, sha: str, *, repo: str = "github:1", branch: str,
               authored: datetime) -> None:  # fmt: skip
        self.conn.execute(
            "INSERT INTO core.commits (org_id, commit_id, provider, repo_id, sha, authored_at,"
            " branches) VALUES (%s, %s, 'github', %s, %s, %s, %s)",
            (self.org, f"{repo}:{sha}", repo, sha, authored, [branch]),
        )

    def deploy(
        self,
        deploy_id: str,
        finished: datetime | None,
        *,
        service: str = "api",
        repo: str | None = "github:1",
        commit: str | None = None,
        started: datetime | None = None,
        environment: str = "production",
        environment_class: str = "production",
        status: str = "success",
        rollback: bool = False,
        hotfix: bool = False,
        shas: tuple[str, ...] = (),
    ) -> str:
        self.conn.execute(
            "INSERT INTO core.deploys (org_id, deploy_id, provider, repo_id, service,"
            " environment, environment_class, status, commit_sha, commit_shas, is_rollback,"
            " is_hotfix, started_at, finished_at) VALUES (%s, %s, 'github', %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s)",
            (
                self.org, deploy_id, repo, service, environment, environment_class, status,
                commit, list(shas), rollback, hotfix, started or finished, finished,
            ),
        )  # fmt: skip
        return deploy_id

    def update_deploy(self, deploy_id: str, **columns: Any) -> None:
        sets = ", ".join(f"{name} = %s" for name in columns)
        self.conn.execute(
            f"UPDATE core.deploys SET {sets} WHERE org_id = %s AND deploy_id = %s",
            (*columns.values(), self.org, deploy_id),
        )

    def incident(self, incident_id: str, opened: datetime, resolved: datetime | None = None,
                 *, service: str | None = "api", links: tuple[str, ...] = (),
                 kind: str = "incident", severity: str = "SEV2") -> str:  # fmt: skip
        self.conn.execute(
            "INSERT INTO core.incidents (org_id, incident_id, provider, kind, external_id,"
            " title, severity, status, service, links, opened_at, resolved_at) VALUES (%s, %s,"
            " 'pagerduty', %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self.org, incident_id, kind, incident_id, f"{service} is down", severity,
                "resolved" if resolved else "triggered", service, list(links), opened,
                resolved,
            ),
        )  # fmt: skip
        return incident_id

    # --- the engine -------------------------------------------------------------------

    def refresh(self) -> dict[str, Any]:
        row = self.conn.execute("SELECT metrics.refresh(%s)", (self.org,)).fetchone()
        assert row is not None
        result: dict[str, Any] = row[0]
        return result

    def rebuild(self, since: datetime | None = None) -> dict[str, Any]:
        row = self.conn.execute("SELECT metrics.rebuild(%s, %s)", (self.org, since)).fetchone()
        assert row is not None
        result: dict[str, Any] = row[0]
        return result

    def scope(self, **extra: Any) -> Jsonb:
        return Jsonb({"org": self.slug, **extra})

    def series(self, metric: str, window: str, *, granularity: str = "window",
               aggregation: str = "median", mode: str = "default",
               **scope: Any) -> list[dict[str, Any]]:  # fmt: skip
        cur = self.conn.execute(
            "SELECT * FROM api.get_metric(%s, %s, %s, %s, %s, %s)",
            (metric, self.scope(**scope), window, granularity, aggregation, mode),
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def value(self, metric: str, window: str = WINDOW_DEFAULT, **kw: Any) -> float | None:
        rows = self.series(metric, window, **kw)
        assert len(rows) == 1, rows
        value: float | None = rows[0]["value"]
        return value

    def explain(self, metric: str, window: str = WINDOW_DEFAULT, mode: str = "default",
                **scope: Any) -> list[dict[str, Any]]:  # fmt: skip
        cur = self.conn.execute(
            "SELECT * FROM api.explain_metric(%s, %s, %s, %s)",
            (metric, self.scope(**scope), window, mode),
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def stored(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored unit and link of the org, ordered: what incremental == rebuild
        compares."""
        tables = {
            "change_units": "change_id",
            "change_teams": "team_id, merged_at, change_id",
            "deploy_units": "deploy_id",
            "deploy_teams": "team_id, finished_at, deploy_id",
            "incident_units": "incident_id",
            "failure_links": "mode, cause_kind, cause_id, deploy_id",
            "rework_links": "deploy_id, incident_id",
        }
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table, order in tables.items():
            out[table] = [
                tuple(json.dumps(v, default=str) if isinstance(v, dict) else v for v in row)
                for row in self.conn.execute(
                    f"SELECT * FROM metrics.{table} WHERE org_id = %s ORDER BY {order}",
                    (self.org,),
                ).fetchall()
            ]
        return out


def acme_with_teams(conn: Conn) -> World:
    """The org the serving tests share: acme with eng > platform > data and payments, Ana
    on data and Ben on payments (github:ana, github:ben) since 60 days before T0, and
    its repository github:1."""
    acme = World(conn, "acme")
    acme.team("eng")
    acme.team("platform", parent="eng")
    acme.team("data", parent="platform")
    acme.team("payments")
    acme.member("data", acme.person("Ana", "github:ana"), at(-60))
    acme.member("payments", acme.person("Ben", "github:ben"), at(-60))
    acme.repo()
    return acme
