"""Incremental refresh == full rebuild: after random sequences of writes (new, merged and
edited changes, reviews, deploys whose status moves, incidents opened and resolved, team
moves, re-linked accounts, a team moved in the tree), arriving out of order and refreshed
at random moments, the stored units equal what a rebuild from scratch stores."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.metrics_helpers import World, at

Conn = psycopg.Connection[Any]

REPOS = {"github:1": "api", "github:2": "web"}
OPS = ("open", "merge", "merge", "edit", "review", "deploy", "deploy", "finish", "incident",
       "resolve", "team", "relink", "reparent")  # fmt: skip


class History:
    """A random stream of writes to one org's canonical rows."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.w = world
        self.rng = rng
        self.open: list[str] = []
        self.merged: list[tuple[str, str, str]] = []  # change, repo, merge sha
        self.pending: list[str] = []
        self.deploys: list[str] = []
        self.incidents: list[str] = []
        self.people: list[UUID] = []
        self.actors = [f"github:dev{i}" for i in range(5)]
        self.n = 0
        for repo, name in REPOS.items():
            world.repo(repo, f"acme/{name}")
        world.team("eng")
        world.team("web", "eng")
        world.team("api", "eng")
        world.team("ops")
        for i, actor in enumerate(self.actors):
            person = world.person(f"Dev {i}", actor)
            self.people.append(person)
            world.member(rng.choice(["web", "api", "ops"]), person, at(-60), at(rng.randint(0, 20)))
        world.person("Bot", "github:bot", bot=True)

    def when(self) -> datetime:
        return at(self.rng.uniform(0, 25), self.rng.uniform(0, 24))

    def step(self) -> str:
        self.n += 1
        n, rng, w = self.n, self.rng, self.w
        op = rng.choice(OPS)
        if op == "open" or (op == "merge" and not self.open):
            t = self.when()
            opened = t + (at(0, rng.randint(0, 5)) - at())
            change = w.change(f"c{n}", repo=rng.choice(list(REPOS)),
                              author=rng.choice([*self.actors, "github:bot"]),
                              first_commit=t, opened=opened)  # fmt: skip
            self.open.append(change)
            return "open"
        if op == "merge":
            change = self.open.pop(rng.randrange(len(self.open)))
            repo = w.conn.execute(
                "SELECT repo_id, opened_at FROM core.changes WHERE org_id = %s AND change_id = %s",
                (w.org, change),
            ).fetchone()
            assert repo is not None
            sha = f"sha{n}"
            merged = repo[1] + (at(rng.uniform(0, 3)) - at())
            responded = repo[1] + (at(0, rng.uniform(0, 20)) - at())
            w.update_change(change, state="merged", merged_at=merged, merge_commit_sha=sha,
                            first_response_at=responded if responded < merged else None,
                            approved_at=merged if rng.random() < 0.7 else None,
                            title=rng.choice([change, 'Revert "c1"', 'Revert "c2"']))  # fmt: skip
            self.merged.append((change, repo[0], sha))
            return "merge"
        if op == "edit" and self.merged:
            change, _, _ = rng.choice(self.merged)
            w.update_change(change, first_review_at=self.when(), base_branch=rng.choice(
                ["main", "main", "release"]))  # fmt: skip
            return "edit"
        if op == "review" and self.merged:
            change, _, _ = rng.choice(self.merged)
            w.review(f"r{n}", change, rng.choice(self.actors), self.when())
            return "review"
        if op in ("deploy", "finish") and (op == "deploy" or not self.pending):
            repo = rng.choice(list(REPOS))
            sha = rng.choice([s for _, r, s in self.merged if r == repo] or ["none"])
            # sometimes the artifacts of the other repository ship with it
            shas = tuple(
                rng.sample(
                    [s for _, r, s in self.merged if r != repo],
                    min(2, sum(r != repo for _, r, _ in self.merged)),
                )
            )
            shas = shas if rng.random() < 0.2 else ()
            finished = None if rng.random() < 0.3 else self.when()
            d = w.deploy(f"d{n}", finished, repo=repo if rng.random() < 0.9 else None,
                         service=REPOS[repo], commit=sha,
                         started=(finished or self.when()) - (at(0, 0, 20) - at()),
                         status="success" if finished and rng.random() < 0.85 else
                         ("failure" if finished else "running"),
                         environment_class=rng.choice(["production"] * 4 + ["staging"]),
                         rollback=rng.random() < 0.1, hotfix=rng.random() < 0.1,
                         shas=(sha, *shas))  # fmt: skip
            (self.deploys if finished else self.pending).append(d)
            return "deploy"
        if op == "finish":
            d = self.pending.pop(rng.randrange(len(self.pending)))
            w.update_deploy(d, status="success", finished_at=self.when())
            self.deploys.append(d)
            return "finish"
        if op == "incident" or (op == "resolve" and not self.incidents):
            links: tuple[str, ...] = ()
            if self.merged and rng.random() < 0.3:
                links = (f"commit:{rng.choice(self.merged)[2]}",)
            elif self.deploys and rng.random() < 0.2:
                links = (f"deploy:{rng.choice(self.deploys)}",)
            i = w.incident(f"i{n}", self.when(), service=rng.choice(["api", "web", None]),
                           links=links)  # fmt: skip
            self.incidents.append(i)
            return "incident"
        if op == "resolve":
            i = rng.choice(self.incidents)
            w.conn.execute(
                "UPDATE core.incidents SET status = 'resolved', resolved_at = opened_at + %s"
                " WHERE org_id = %s AND incident_id = %s",
                (at(0, rng.uniform(0, 30)) - at(), w.org, i),
            )
            return "resolve"
        if op == "team":
            person = rng.choice(self.people)
            team = rng.choice(["web", "api", "ops"])
            start = self.when()
            try:
                with w.conn.transaction():
                    w.member(team, person, start, start + (at(rng.uniform(1, 10)) - at()))
            except psycopg.errors.InvalidParameterValue:
                pass  # overlaps a span the person already has
            return "team"
        if op == "relink":
            w.move_account(rng.choice(self.actors), rng.choice(self.people))
            return "relink"
        if op == "reparent":
            w.conn.execute(
                "UPDATE auth.teams SET parent_id = %s WHERE org_id = %s AND slug = 'ops'",
                (rng.choice([None, w.teams["eng"], w.teams["web"]]), w.org),
            )
            return "reparent"
        return "nothing"


def rebuilt(w: World) -> dict[str, list[tuple[Any, ...]]]:
    """What a rebuild from scratch stores now (inside a savepoint rolled back after)."""
    with w.conn.transaction() as savepoint:
        w.conn.execute("DELETE FROM metrics.change_units WHERE org_id = %s", (w.org,))
        w.conn.execute("DELETE FROM metrics.deploy_units WHERE org_id = %s", (w.org,))
        w.rebuild()
        units = w.stored()
        raise psycopg.Rollback(savepoint)
    return units


@pytest.mark.parametrize("seed", range(12))
def test_incremental_refresh_equals_rebuild(conn: Conn, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (reproducible, not secret)
    w = World(conn, f"inc{seed}")
    history = History(w, rng)
    w.refresh()
    ops: list[str] = []
    for _ in range(140):
        ops.append(history.step())
        if rng.random() < 0.35:
            w.refresh()
            # at every refresh, not only at the end (a later write can heal a miss)
            assert rebuilt(w) == w.stored(), ops
    w.refresh()
    incremental = w.stored()
    assert rebuilt(w) == incremental, ops
    # the history exercised the engine: units of every kind and failures exist
    for table in ("change_units", "deploy_units", "incident_units", "failure_links",
                  "change_teams"):  # fmt: skip
        assert incremental[table], table


def test_rebuild_since_a_date_equals_a_full_rebuild(conn: Conn) -> None:
    rng = random.Random(99)  # noqa: S311 (reproducible, not secret)
    w = World(conn, "since")
    history = History(w, rng)
    for _ in range(120):
        history.step()
    w.rebuild()
    full = w.stored()
    w.conn.execute("DELETE FROM metrics.change_units WHERE org_id = %s AND merged_at >= %s",
                   (w.org, at(12)))  # fmt: skip
    w.rebuild(since=at(12))
    assert w.stored() == full
