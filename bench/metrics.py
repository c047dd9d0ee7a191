"""`python -m bench.metrics`: the metrics engine over an org's two years of history, against
the bare database in the same run.

On a throwaway embedded server (durable settings, as `make run` runs it), one org's
canonical history is generated (deterministic, `--seed`) and written with COPY straight
into the core tables (no webhooks): `--repos` repositories each deployed as a service,
`--changes` pull requests (merged with realistic phase times, drafts, bot authors, reverts,
some closed, some still open at the head), their reviews, `--deploys` deployments
(production ones ship the merge commit of a change; staging, failed, cancelled, rollbacks
and hotfixes), `--incidents` incidents per service (some naming a deploy or a commit),
actors, identity persons and links, and a tree of teams (`--groups` x `--teams`/`--groups`)
with time-versioned memberships (a few people move team mid-history).

Measured:
- load: the COPY into core (indexes, and the metrics mark triggers, whose own time is
  reported apart) vs the bare COPY of the same rows into unindexed temp copies;
- rebuild: `metrics.rebuild(org, NULL)` after VACUUM ANALYZE, on empty units, cancelled
  after `--rebuild-timeout` seconds (then tried once more with enable_nestloop = off; with
  no units at all, the phases below are skipped and say so);
- incremental: `--rounds` rounds of ~`--events` new canonical rows at the head of history
  (changes merged, some by update of open ones; deploys; incidents; reviews), upserted in
  `--batches` transactions as normalization writes them, then `metrics.refresh(org)`; vs
  the bare COPY of those rows. Then the stored units (every metrics table with an org_id
  and a primary key) are compared with what a second, timed, full rebuild stores: they
  must be equal, a difference is printed loudly with examples;
- reads: `api.get_metric` over a 90-day team window (metrics, teams incl. a parent team,
  and granularities window/week rotated) vs a bare `percentile_cont` over a temp table
  holding that team's window of lead times.
Also: peak RSS of the server's processes per phase, the load average as each phase starts,
and whether the engine's functions and tables in the server changed during the run (on a
shared machine another process may write its own SQL into a server it finds). `--profile`
adds the slowest statements inside each rebuild and refresh (pg_stat_statements),
`--explain-ms N` logs their plans to the server log (keep it with `--keep`), `--end` makes
a run's history again. Prints a table and writes bench/results/metrics.json.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.types.json import Jsonb

from db.embedded import EmbeddedPostgres
from db.migrate import migrate

RESULTS = Path(__file__).parent / "results"
N = "\\N"
DAY = 86400.0
HOUR = 3600.0
SLUG = "bench-metrics"

CHANGE_COLS = (
    "org_id, change_id, provider, repo_id, number, external_id, title, state, is_draft,"
    " author_id, url, base_branch, head_branch, head_sha, merge_commit_sha, opened_at,"
    " first_commit_at, ready_at, first_response_at, first_review_at, approved_at, merged_at,"
    " closed_at, merged_by_id, additions, deletions, files_changed, commits_count, updated_at"
)
REVIEW_COLS = "org_id, review_id, provider, change_id, reviewer_id, kind, state, submitted_at"
DEPLOY_COLS = (
    "org_id, deploy_id, provider, kind, repo_id, service, environment, environment_class,"
    " status, status_vendor, ref, commit_sha, commit_shas, is_rollback, is_hotfix, actor_id,"
    " description, started_at, finished_at"
)
INCIDENT_COLS = (
    "org_id, incident_id, provider, kind, external_id, title, severity, status, service, url,"
    " links, opened_at, acknowledged_at, resolved_at"
)
# table -> (columns, primary key constraint)
CANONICAL = {
    "changes": (CHANGE_COLS, "changes_pkey"),
    "reviews": (REVIEW_COLS, "reviews_pkey"),
    "deploys": (DEPLOY_COLS, "deploys_pkey"),
    "incidents": (INCIDENT_COLS, "incidents_pkey"),
}
READ_METRICS = ("change_lead_time", "deployment_frequency", "change_failure_rate", "pr_cycle_time")


def ts(s: float | None) -> str:
    """COPY text of a moment given in epoch seconds (whole seconds, UTC)."""
    if s is None:
        return N
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(int(s)))


def opt(v: object) -> str:
    return N if v is None else str(v)


def during(lo: str, hi: str = "") -> str:
    """COPY text of a tstzrange [lo, hi) (open-ended without hi)."""
    return f'["{lo}","{hi}")' if hi else f'["{lo}",)'


def boolean(v: bool) -> str:
    return "t" if v else "f"


def lognormal(rng: random.Random, median: float, sigma: float, cap: float = 30 * DAY) -> float:
    return min(rng.lognormvariate(math.log(median), sigma), cap)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- the org's history ------------------------------------------------------------------


def change_id(repo: int, number: int) -> str:
    return f"github:pr:{700000 + repo}:{number}"


def next_change(numbers: list[int], repo: int) -> tuple[int, str]:
    """The next change number of a repository (taken) and that change's id."""
    number = numbers[repo]
    numbers[repo] += 1
    return number, change_id(repo, number)


@dataclass
class Sizes:
    changes: int
    deploys: int
    incidents: int
    repos: int
    teams: int
    groups: int
    people: int
    bots: int
    days: int
    events: int
    rounds: int
    batches: int


@dataclass
class Person:
    person_id: uuid.UUID
    actors: list[str]
    is_bot: bool
    team: int  # leaf team index (current)


@dataclass
class OpenChange:
    change_id: str
    repo: int
    number: int
    author: str
    opened: float
    first_commit: float | None
    draft: bool
    title: str


@dataclass
class ProdDeploy:
    deploy_id: str
    repo: int
    started: float
    finished: float
    sha: str | None


@dataclass
class Head:
    """What generating history left for the events at its head."""

    merged: list[tuple[list[float], list[str]]]  # per repo: main-branch merge times, shas
    numbers: list[int]  # per repo: next change number
    open_changes: list[OpenChange]
    prod: list[list[ProdDeploy]]  # per repo
    unresolved: list[tuple[str, int, float]]  # (incident_id, repo, opened)
    next_deploy: int = 0
    next_incident: int = 0


@dataclass
class Batch:
    """One normalization transaction's worth of canonical rows (COPY text lines)."""

    rows: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in CANONICAL})


class History:
    """An org's canonical history, written as COPY text files."""

    def __init__(self, sizes: Sizes, seed: int, end: float, org: uuid.UUID, out: Path) -> None:
        self.sizes = sizes
        self.rng = random.Random(seed)  # noqa: S311 (reproducible, not secret)
        self.end = end
        self.start = end - sizes.days * DAY
        self.org = str(org)
        self.out = out
        self.counts: dict[str, int] = {}
        r = sizes.repos
        self.repo_ids = [f"github:{700000 + i}" for i in range(r)]
        self.repo_names = [f"acme/svc-{i:03d}" for i in range(r)]
        self.repo_team = [i % sizes.teams for i in range(r)]
        weights = [1 / (i + 1) ** 0.7 for i in range(r)]
        total = sum(weights)
        self.repo_share = [w / total for w in weights]
        self.repo_cum: list[float] = []
        acc = 0.0
        for w in self.repo_share:
            acc += w
            self.repo_cum.append(acc)
        self.persons: list[Person] = []
        self.members: list[list[int]] = [[] for _ in range(sizes.teams)]  # humans per team
        self.bots: list[int] = []
        self.moves: list[tuple[int, int, int, float]] = []  # person, from team, to team, at
        self.team_slugs: list[str] = []  # leaf teams
        self.group_slugs: list[str] = []

    # -- helpers -------------------------------------------------------------------------

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def moment(self, lo: float, hi: float) -> float:
        """A time in [lo, hi), weekends four times rarer than weekdays."""
        rng = self.rng
        while True:
            t = lo + rng.random() * (hi - lo)
            if (int(t // DAY) + 3) % 7 < 5 or rng.random() < 0.25:
                return t

    def pick_repo(self) -> int:
        return min(bisect.bisect_left(self.repo_cum, self.rng.random()), self.sizes.repos - 1)

    def author_for(self, repo: int) -> tuple[str, bool, int]:
        """(actor id, is bot, person index) of a change's author in a repository."""
        rng = self.rng
        if self.bots and rng.random() < 0.07:
            p = rng.choice(self.bots)
            return self.persons[p].actors[0], True, p
        team = self.members[self.repo_team[repo]]
        p = rng.choice(team) if team and rng.random() < 0.8 else rng.randrange(self.sizes.people)
        person = self.persons[p]
        alt = len(person.actors) > 1 and rng.random() < 0.3
        return person.actors[1 if alt else 0], False, p

    def reviewer_for(self, repo: int, author: int) -> str:
        team = self.members[self.repo_team[repo]]
        for _ in range(4):
            p = self.rng.choice(team) if team else self.rng.randrange(self.sizes.people)
            if p != author:
                return self.persons[p].actors[0]
        return self.persons[(author + 1) % self.sizes.people].actors[0]

    def file(self, name: str) -> Path:
        return self.out / f"{name}.copy"

    # -- people and teams ----------------------------------------------------------------

    def write_people(self) -> None:
        rng, s = self.rng, self.sizes
        per_group = math.ceil(s.teams / s.groups)
        self.group_slugs = [f"group-{g + 1}" for g in range(s.groups)]
        self.team_slugs = [f"team-{t // per_group + 1}-{t % per_group + 1}" for t in range(s.teams)]
        self.team_uuid = {slug: uuid.UUID(int=rng.getrandbits(128), version=4)
                          for slug in self.group_slugs + self.team_slugs}  # fmt: skip
        with self.file("teams").open("w") as f:
            for g in self.group_slugs:
                f.write(f"{self.org}\t{self.team_uuid[g]}\t{g}\t{g.title()}\t{N}\n")
            for t, slug in enumerate(self.team_slugs):
                parent = self.team_uuid[self.group_slugs[t // per_group]]
                f.write(f"{self.org}\t{self.team_uuid[slug]}\t{slug}\t{slug.title()}\t{parent}\n")
        for i in range(s.people):
            actors = [f"github:u{i}"]
            if rng.random() < 0.1:
                actors.append(f"gitlab:u{i}")
            self.persons.append(Person(uuid.UUID(int=rng.getrandbits(128), version=4), actors,
                                       False, i % s.teams))  # fmt: skip
            self.members[i % s.teams].append(i)
        for b in range(s.bots):
            self.bots.append(len(self.persons))
            self.persons.append(Person(uuid.UUID(int=rng.getrandbits(128), version=4),
                                       [f"github:bot{b}[bot]"], True, -1))  # fmt: skip
        seen = ts(self.start - 30 * DAY)
        joined = ts(self.start - 30 * DAY)
        with (
            self.file("actors").open("w") as fa,
            self.file("persons").open("w") as fp,
            self.file("links").open("w") as fl,
            self.file("memberships").open("w") as fm,
        ):
            for i, p in enumerate(self.persons):
                name = f"Bot {i}" if p.is_bot else f"Person {i}"
                fp.write(f"{self.org}\t{p.person_id}\t{name}\t{N}\t{boolean(p.is_bot)}\n")
                for a in p.actors:
                    provider, login = a.split(":", 1)
                    email = "{}" if p.is_bot else f"{{p{i}@acme.example}}"
                    fa.write(f"{self.org}\t{a}\t{provider}\t{login}\t{login}\t{name}\t{email}\t"
                             f"{boolean(p.is_bot)}\t{seen}\t{ts(self.end)}\n")  # fmt: skip
                    fl.write(f"{self.org}\t{a}\t{p.person_id}\texplicit\t1\tbench\t{seen}\n")
                if p.is_bot:
                    continue
                team = self.team_uuid[self.team_slugs[p.team]]
                if s.teams > 1 and rng.random() < 0.05:
                    # moves to another team mid-history
                    to = (p.team + 1 + rng.randrange(s.teams - 1)) % s.teams
                    at = self.start + (0.2 + 0.6 * rng.random()) * (self.end - self.start)
                    moved = self.team_uuid[self.team_slugs[to]]
                    fm.write(
                        f"{self.org}\t{team}\t{p.person_id}\t{during(joined, ts(at))}\tmember\n"
                    )
                    fm.write(f"{self.org}\t{moved}\t{p.person_id}\t{during(ts(at))}\tmember\n")
                    self.moves.append((i, p.team, to, at))
                else:
                    role = "lead" if rng.random() < 0.08 else "member"
                    fm.write(f"{self.org}\t{team}\t{p.person_id}\t{during(joined)}\t{role}\n")
        with self.file("repos").open("w") as f:
            for i in range(s.repos):
                f.write(f"{self.org}\t{self.repo_ids[i]}\tgithub\t{700000 + i}\t"
                        f"{self.repo_names[i]}\tmain\tt\t{seen}\t{ts(self.end)}\n")  # fmt: skip

    # -- changes -------------------------------------------------------------------------

    def phases(self, merged: float, bot: bool) -> dict[str, float | None]:
        """Phase times of a change merged at `merged`, computed backwards."""
        rng = self.rng
        if bot:
            responded = rng.random() < 0.5
            merge_s = lognormal(rng, 20 * 60, 1.2)
            pickup = lognormal(rng, 6 * HOUR, 1.2)
            approved = merged - merge_s if responded else None
            bot_response = approved - 60 if approved is not None else None
            ready = (bot_response if bot_response is not None else merged) - pickup
            return {"first_commit": ready - 30, "opened": ready, "ready": ready,
                    "first_response": bot_response, "first_review": bot_response,
                    "approved": approved}  # fmt: skip
        draft = lognormal(rng, 20 * HOUR, 1.0) if rng.random() < 0.15 else 0.0
        coding = lognormal(rng, 5 * HOUR, 1.3)
        if rng.random() < 0.92:
            merge_s = lognormal(rng, 40 * 60, 1.5)
            rework = 0.0 if rng.random() < 0.7 else lognormal(rng, 6 * HOUR, 1.2)
            gap = 0.0 if rng.random() < 0.6 else lognormal(rng, HOUR, 1.0)
            approved_at: float | None = merged - merge_s
            first_review = merged - merge_s - rework
            if rng.random() < 0.1:
                approved_at = None  # merged on a comment, without an approval
            first_response: float | None = first_review - gap
            first_review_at: float | None = first_review
            ready = first_review - gap - lognormal(rng, 2.5 * HOUR, 1.4)
        else:  # merged without review
            approved_at = first_response = first_review_at = None
            ready = merged - lognormal(rng, 3 * HOUR, 1.3)
        opened = ready - draft
        first_commit = opened - coding if rng.random() < 0.95 else None
        return {"first_commit": first_commit, "opened": opened, "ready": ready,
                "first_response": first_response, "first_review": first_review_at,
                "approved": approved_at}  # fmt: skip

    def change_line(self, change_id: str, repo: int, number: int, title: str, state: str,
                    draft: bool, author: str, base: str, merge_sha: str | None,
                    ph: dict[str, float | None], merged: float | None,
                    closed: float | None) -> str:  # fmt: skip
        rng = self.rng
        opened = ph["opened"]
        assert opened is not None
        updated = merged or closed or opened
        additions = int(lognormal(rng, 60, 1.5, 50000))
        return "\t".join((
            self.org, change_id, "github", self.repo_ids[repo], str(number), str(number), title,
            state, boolean(draft), author,
            f"https://github.example/{self.repo_names[repo]}/pull/{number}", base,
            f"feature/{number}", self.sha(), opt(merge_sha), ts(opened), ts(ph["first_commit"]),
            ts(ph["ready"]), ts(ph["first_response"]), ts(ph["first_review"]),
            ts(ph["approved"]), ts(merged), ts(closed if closed is not None else merged),
            author if merged is not None else N, str(additions),
            str(int(additions * rng.random())), str(1 + int(lognormal(rng, 3, 1.0, 500))),
            str(1 + int(lognormal(rng, 2, 1.0, 200))), ts(updated),
        )) + "\n"  # fmt: skip

    def review_lines(self, change_id: str, repo: int, author: int,
                     ph: dict[str, float | None]) -> list[str]:  # fmt: skip
        out = []
        if ph["first_response"] is not None:
            kind, state = ("comment", "commented") if self.rng.random() < 0.5 else (
                "review", "changes_requested")  # fmt: skip
            who = self.reviewer_for(repo, author)
            out.append(f"{self.org}\t{change_id}:r1\tgithub\t{change_id}\t{who}\t{kind}\t"
                       f"{state}\t{ts(ph['first_response'])}\n")  # fmt: skip
        if ph["approved"] is not None:
            who = self.reviewer_for(repo, author)
            out.append(f"{self.org}\t{change_id}:r2\tgithub\t{change_id}\t{who}\treview\t"
                       f"approved\t{ts(ph['approved'])}\n")  # fmt: skip
        return out

    def write_changes(self) -> Head:
        rng, s = self.rng, self.sizes
        open_count = max(2 * self.updates_per_round() * s.rounds, s.changes // 500, 10)
        body = max(s.changes - open_count, 1)
        per_repo = [int(body * w) for w in self.repo_share]
        per_repo[0] += body - sum(per_repo)
        merged_main: list[tuple[list[float], list[str]]] = []
        numbers: list[int] = []
        opens: list[OpenChange] = []
        n_changes = n_reviews = 0
        with self.file("changes").open("w") as fc, self.file("reviews").open("w") as fr:
            for repo in range(s.repos):
                times = sorted(self.moment(self.start, self.end) for _ in range(per_repo[repo]))
                m_times: list[float] = []
                m_shas: list[str] = []
                titles: list[str] = []
                for k, t in enumerate(times):
                    number = k + 1
                    cid = change_id(repo, number)
                    author, bot, p = self.author_for(repo)
                    if rng.random() < 0.05:  # closed without merging
                        ph = self.phases(t, bot)
                        fc.write(self.change_line(cid, repo, number, f"Try {number}",
                                                  "closed", False, author, "main", None, ph,
                                                  None, t))  # fmt: skip
                        n_changes += 1
                        continue
                    if titles and not bot and rng.random() < 0.01:
                        title = f'Revert "{rng.choice(titles[-50:])}"'
                    else:
                        title = f"{'Bump deps' if bot else 'Change'} {repo}-{number}"
                        titles.append(title)
                    base = "main" if rng.random() < 0.98 else "release/1.x"
                    sha = self.sha()
                    ph = self.phases(t, bot)
                    fc.write(self.change_line(cid, repo, number, title, "merged", False,
                                              author, base, sha, ph, t, None))  # fmt: skip
                    for line in self.review_lines(cid, repo, p, ph):
                        fr.write(line)
                        n_reviews += 1
                    n_changes += 1
                    if base == "main":
                        m_times.append(t)
                        m_shas.append(sha)
                merged_main.append((m_times, m_shas))
                numbers.append(len(times) + 1)
            # still open at the head: opened over the last two weeks
            for _ in range(open_count):
                repo = self.pick_repo()
                number, cid = next_change(numbers, repo)
                author, bot, p = self.author_for(repo)
                opened = self.end - rng.random() * 14 * DAY
                draft = rng.random() < 0.2
                first_commit = opened - lognormal(rng, 5 * HOUR, 1.3)
                title = f"Change {repo}-{number}"
                ph = {
                    "first_commit": first_commit, "opened": opened,
                    "ready": None if draft else opened, "first_response": None,
                    "first_review": None, "approved": None,
                }  # fmt: skip
                fc.write(self.change_line(cid, repo, number, title, "open", draft,
                                          author, "main", None, ph, None, None))  # fmt: skip
                opens.append(OpenChange(cid, repo, number, author, opened, first_commit,
                                        draft, title))  # fmt: skip
                n_changes += 1
        self.counts["changes"] = n_changes
        self.counts["reviews"] = n_reviews
        return Head(merged_main, numbers, opens, [[] for _ in range(s.repos)], [])

    # -- deploys and incidents -----------------------------------------------------------

    def latest_sha(self, head: Head, repo: int, at: float) -> str | None:
        times, shas = head.merged[repo]
        i = bisect.bisect_right(times, at)
        return shas[i - 1] if i else None

    def deploy_line(self, head: Head, repo: int, started: float, finished: float,
                    environment: str, status: str, sha: str | None, *,
                    rollback: bool = False, hotfix: bool = False,
                    also: tuple[str, ...] = ()) -> tuple[str, str]:  # fmt: skip
        head.next_deploy += 1
        deploy_id = f"github:deploy:{head.next_deploy}"
        env_class = "production" if environment == "production" else "staging"
        vendor = {"success": "success", "failure": "failure", "cancelled": "inactive"}[status]
        description = "rollback" if rollback else ("hotfix" if hotfix else "deploy")
        actor = self.persons[self.rng.choice(self.members[self.repo_team[repo]] or [0])]
        line = "\t".join((
            self.org, deploy_id, "github", "deployment", self.repo_ids[repo],
            self.repo_names[repo], environment, env_class, status, vendor, "main", opt(sha),
            "{" + ",".join(also) + "}", boolean(rollback), boolean(hotfix), actor.actors[0],
            description, ts(started), ts(finished),
        )) + "\n"  # fmt: skip
        if status == "success" and environment == "production":
            head.prod[repo].append(ProdDeploy(deploy_id, repo, started, finished, sha))
        return deploy_id, line

    def incident_line(self, head: Head, repo: int | None, opened: float,
                      resolved: float | None, kind: str, links: list[str]) -> str:  # fmt: skip
        head.next_incident += 1
        incident_id = f"pagerduty:P{head.next_incident:07d}"
        sev = self.rng.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (1, 4, 10, 10))[0]
        service = self.repo_names[repo] if repo is not None else None
        acked = opened + min(lognormal(self.rng, 300, 1.0), (resolved or opened + 600) - opened)
        array = "{" + ",".join(f'"{token}"' for token in links) + "}"
        if resolved is None and kind == "incident" and repo is not None:
            head.unresolved.append((incident_id, repo, opened))
        return "\t".join((
            self.org, incident_id, "pagerduty", kind, incident_id.split(":")[1],
            f"{service or 'unknown'} degraded", sev, "resolved" if resolved else "acknowledged",
            opt(service), f"https://pagerduty.example/incidents/{incident_id}", array, ts(opened),
            ts(acked), ts(resolved),
        )) + "\n"  # fmt: skip

    def write_deploys_and_incidents(self, head: Head) -> None:
        rng, s = self.rng, self.sizes
        remediations = int(0.22 * s.incidents)
        regular = max(s.deploys - remediations, s.repos)
        per_repo = [max(int(regular * w), 1) for w in self.repo_share]
        lines: list[str] = []
        for repo in range(s.repos):
            for started in sorted(self.moment(self.start, self.end) for _ in range(per_repo[repo])):
                finished = started + lognormal(rng, 7 * 60, 0.6, 3 * HOUR)
                sha = self.latest_sha(head, repo, started)
                x = rng.random()
                env, status = (("production", "success") if x < 0.70 else
                               ("staging", "success") if x < 0.92 else
                               ("production", "failure") if x < 0.97 else
                               ("production", "cancelled"))  # fmt: skip
                also: tuple[str, ...] = ()
                if env == "production" and rng.random() < 0.02:
                    # a release of several repositories' artifacts: names their commits too
                    others = (rng.randrange(s.repos) for _ in range(2))
                    shas = (self.latest_sha(head, o, started) for o in others if o != repo)
                    also = tuple(x for x in shas if x)
                line = self.deploy_line(head, repo, started, finished, env, status, sha, also=also)
                lines.append(line[1])
        everything = [d for per in head.prod for d in per]
        incident_lines: list[str] = []
        for _ in range(s.incidents):
            cause = rng.choice(everything)
            opened = cause.finished + lognormal(rng, 5 * HOUR, 1.5, 20 * DAY)
            while opened >= self.end:
                cause = rng.choice(everything)
                opened = cause.finished + lognormal(rng, 5 * HOUR, 1.5, 20 * DAY)
            kind = "alert" if rng.random() < 0.08 else "incident"
            resolved: float | None = opened + lognormal(rng, 1.5 * HOUR, 1.3, 10 * DAY)
            if opened > self.end - 7 * DAY and rng.random() < 0.3:
                resolved = None
            links = []
            x = rng.random()
            if x < 0.15:
                links.append(f"deploy:{cause.deploy_id}")
            elif x < 0.25 and cause.sha:
                links.append(f"commit:{cause.sha}")
            repo = cause.repo
            service = None if rng.random() < 0.01 else repo
            incident_lines.append(self.incident_line(head, service, opened, resolved, kind, links))
            remediated = rng.random() < 0.25
            if kind == "incident" and resolved is not None and service is not None and remediated:
                started = opened + (0.2 + 0.6 * rng.random()) * (resolved - opened)
                finished = started + lognormal(rng, 6 * 60, 0.5, HOUR)
                prod = head.prod[repo]
                if rng.random() < 0.4:
                    i = next((k for k, d in enumerate(prod) if d.deploy_id == cause.deploy_id), 0)
                    sha = prod[i - 1].sha if i > 0 else cause.sha
                    lines.append(self.deploy_line(head, repo, started, finished, "production",
                                                  "success", sha, rollback=True)[1])  # fmt: skip
                else:
                    lines.append(self.deploy_line(head, repo, started, finished, "production",
                                                  "success", self.latest_sha(head, repo, started),
                                                  hotfix=True)[1])  # fmt: skip
        for per in head.prod:
            per.sort(key=lambda d: d.finished)
        with self.file("deploys").open("w") as f:
            f.writelines(lines)
        with self.file("incidents").open("w") as f:
            f.writelines(incident_lines)
        self.counts["deploys"] = len(lines)
        self.counts["incidents"] = len(incident_lines)

    # -- the head: new events ------------------------------------------------------------

    def updates_per_round(self) -> int:
        return int(0.15 * self.sizes.events)

    def head_round(self, head: Head, k: int) -> list[Batch]:
        """~`events` canonical rows in the hour after the history (round k), in batches."""
        rng, s = self.rng, self.sizes
        lo = self.end + k * HOUR + 60
        span = 50 * 60.0
        timed: list[tuple[float, str, str]] = []  # (time, table, line)
        e = s.events
        # changes: merged by update of open ones, new merged ones, new open ones
        updates = min(self.updates_per_round(), len(head.open_changes))
        new_merged = int(0.45 * e)
        new_open = int(0.05 * e)
        merges: list[tuple[float, int, str, str]] = []  # (t, repo, change_id, sha)
        for _ in range(updates):
            oc = head.open_changes.pop(rng.randrange(len(head.open_changes)))
            t = lo + rng.random() * span
            sha = self.sha()
            ph = self.phases(t, False)
            # keep what the open change already said about itself
            opened = min(oc.opened, t - 120)
            ph["opened"] = opened
            ph["first_commit"] = oc.first_commit
            for key in ("ready", "first_response", "first_review", "approved"):
                v = ph[key]
                if v is not None and v < opened:
                    ph[key] = opened
            timed.append((t, "changes", self.change_line(
                oc.change_id, oc.repo, oc.number, oc.title, "merged", False, oc.author,
                "main", sha, ph, t, None)))  # fmt: skip
            merges.append((t, oc.repo, oc.change_id, sha))
        reviews = 0
        for _ in range(new_merged):
            repo = self.pick_repo()
            number, cid = next_change(head.numbers, repo)
            author, bot, p = self.author_for(repo)
            t = lo + rng.random() * span
            sha = self.sha()
            ph = self.phases(t, bot)
            timed.append((t, "changes", self.change_line(
                cid, repo, number, f"Change {repo}-{number}", "merged",
                False, author, "main", sha, ph, t, None)))  # fmt: skip
            merges.append((t, repo, cid, sha))
            if reviews < int(0.10 * e):
                for line in self.review_lines(cid, repo, p, ph)[-1:]:
                    timed.append((t, "reviews", line))
                    reviews += 1
        for _ in range(new_open):
            repo = self.pick_repo()
            number, cid = next_change(head.numbers, repo)
            author, _, _ = self.author_for(repo)
            t = lo + rng.random() * span
            ph = {"first_commit": t - 3 * HOUR, "opened": t, "ready": t, "first_response": None,
                  "first_review": None, "approved": None}  # fmt: skip
            timed.append((t, "changes", self.change_line(
                cid, repo, number, f"Change {repo}-{number}", "open", False, author,
                "main", None, ph, None, None)))  # fmt: skip
            head.open_changes.append(OpenChange(cid, repo, number, author, t, t - 3 * HOUR,
                                                False, f"Change {repo}-{number}"))  # fmt: skip
        merges.sort()
        for t, repo, _, sha in merges:
            head.merged[repo][0].append(t)
            head.merged[repo][1].append(sha)
        # deploys: production ones ship the latest merge of their repository
        incidents_new = int(0.04 * e)
        resolutions = min(int(0.01 * e), len(head.unresolved))
        deploys = int(0.25 * e)
        for _ in range(deploys - incidents_new // 4):
            repo = self.pick_repo()
            started = lo + rng.random() * span
            finished = started + lognormal(rng, 7 * 60, 0.6, 20 * 60)
            x = rng.random()
            env, status = (("production", "success") if x < 0.65 else
                           ("staging", "success") if x < 0.90 else
                           ("production", "failure"))  # fmt: skip
            _, line = self.deploy_line(head, repo, started, finished, env, status,
                                       self.latest_sha(head, repo, started))  # fmt: skip
            timed.append((finished, "deploys", line))
        # incidents after recent production deploys, some remediated by a rollback/hotfix
        recent = [d for per in head.prod for d in per[-3:] if d.finished > self.end - 2 * DAY]
        recent = recent or [d for per in head.prod for d in per[-1:]]
        for i in range(incidents_new):
            cause = rng.choice(recent)
            opened = max(cause.finished, lo) + rng.random() * 20 * 60
            resolved = opened + lognormal(rng, 20 * 60, 0.8, 2 * HOUR)
            links = [f"deploy:{cause.deploy_id}"] if rng.random() < 0.2 else []
            line = self.incident_line(head, cause.repo, opened, resolved, "incident", links)
            timed.append((opened, "incidents", line))
            if i % 4 == 0:
                started = opened + 0.5 * (resolved - opened)
                _, line = self.deploy_line(head, cause.repo, started, started + 300,
                                           "production", "success",
                                           self.latest_sha(head, cause.repo, started),
                                           rollback=i % 8 == 0, hotfix=i % 8 != 0)  # fmt: skip
                timed.append((started + 300, "deploys", line))
        for _ in range(resolutions):
            incident_id, repo, opened = head.unresolved.pop(rng.randrange(len(head.unresolved)))
            resolved = lo + rng.random() * span
            timed.append((resolved, "incidents", "\t".join((
                self.org, incident_id, "pagerduty", "incident", incident_id.split(":")[1],
                f"{self.repo_names[repo]} degraded", "SEV3", "resolved", self.repo_names[repo],
                f"https://pagerduty.example/incidents/{incident_id}", "{}", ts(opened),
                ts(opened + 300), ts(resolved))) + "\n"))  # fmt: skip
        timed.sort(key=lambda x: x[0])
        batches = [Batch() for _ in range(s.batches)]
        for i, (_, table, line) in enumerate(timed):
            batches[i * s.batches // len(timed)].rows[table].append(line)
        return batches


# --- measuring ---------------------------------------------------------------------------


class RssSampler:
    """Peak resident memory of the server's processes, per phase (sampled every 0.2 s)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.phase = "setup"
        self.peaks: dict[str, dict[str, float]] = {}
        self.loadavg: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def load(self) -> None:
        """Note the machine's load average as a phase starts (other work skews timings)."""
        self.loadavg[self.phase] = round(os.getloadavg()[0], 2)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                rss = []
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss.append(p.memory_info().rss)
            except psutil.Error:
                continue
            peak = self.peaks.setdefault(self.phase, {"max_process_mb": 0.0, "sum_mb": 0.0})
            peak["max_process_mb"] = max(peak["max_process_mb"], max(rss, default=0) / 2**20)
            peak["sum_mb"] = max(peak["sum_mb"], sum(rss) / 2**20)


Conn = psycopg.Connection[Any]


def copy_file(conn: Conn, table: str, columns: str, path: Path) -> None:
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy, path.open("rb") as f:
        while block := f.read(1 << 20):
            copy.write(block)


def copy_lines(conn: Conn, table: str, columns: str, lines: list[str]) -> None:
    if lines:
        with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write("".join(lines).encode())


def settle(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def trigger_seconds(conn: Conn) -> float:
    """Seconds the metrics mark triggers took in the current transaction."""
    row = conn.execute(
        "SELECT coalesce(sum(total_time), 0) / 1000 FROM pg_stat_xact_user_functions"
        " WHERE schemaname = 'metrics' AND funcname LIKE 'on\\_%'"
    ).fetchone()
    return float(row[0]) if row else 0.0


def stored_tables(conn: Conn) -> dict[str, str]:
    """The metrics tables holding an org's units and links (what incremental == rebuild
    compares), each with its primary key columns to order rows by."""
    rows = conn.execute(
        "SELECT c.relname, string_agg(a.attname, ', ' ORDER BY k.ord) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        " WHERE n.nspname = 'metrics' AND c.relkind = 'r'"
        "   AND c.relname NOT IN ('dirty', 'state', 'settings', 'definitions', 'benchmarks')"
        "   AND EXISTS (SELECT FROM pg_attribute x WHERE x.attrelid = c.oid"
        "               AND x.attname = 'org_id')"
        " GROUP BY c.relname ORDER BY 1"
    ).fetchall()
    conn.commit()
    return {str(name): str(order) for name, order in rows}


def stored_hashes(conn: Conn, org: uuid.UUID) -> dict[str, tuple[int, str]]:
    out = {}
    for table, order in stored_tables(conn).items():
        row = conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY {order})), '')"
            f" FROM metrics.{table} t WHERE org_id = %s",
            (org,),
        ).fetchone()
        assert row is not None
        out[table] = (int(row[0]), str(row[1]))
    return out


def snapshot(conn: Conn, org: uuid.UUID) -> None:
    for table in stored_tables(conn):
        conn.execute(f"DROP TABLE IF EXISTS snap_{table}")
        conn.execute(
            f"CREATE TEMP TABLE snap_{table} AS SELECT t::text AS row FROM metrics.{table} t"
            " WHERE org_id = %s",
            (org,),
        )


def differences(conn: Conn, org: uuid.UUID, table: str) -> dict[str, Any]:
    """Rows only the incremental path stored, and rows only the rebuild stored."""
    only_inc = conn.execute(
        f"SELECT row FROM snap_{table} EXCEPT ALL"
        f" SELECT t::text FROM metrics.{table} t WHERE org_id = %s",
        (org,),
    ).fetchall()
    only_rebuild = conn.execute(
        f"SELECT t::text FROM metrics.{table} t WHERE org_id = %s EXCEPT ALL"
        f" SELECT row FROM snap_{table}",
        (org,),
    ).fetchall()
    return {
        "only_incremental": len(only_inc), "only_rebuild": len(only_rebuild),
        "examples_incremental": [r[0] for r in only_inc[:5]],
        "examples_rebuild": [r[0] for r in only_rebuild[:5]],
    }  # fmt: skip


def upsert(conn: Conn, table: str, lines: list[str]) -> None:
    """Write canonical rows as normalization does: one upsert statement per table."""
    if not lines:
        return
    columns, pkey = CANONICAL[table]
    names = [c.strip() for c in columns.split(",")]
    conn.execute(f"TRUNCATE stage_{table}")
    copy_lines(conn, f"stage_{table}", columns, lines)
    sets = ", ".join(f"{c} = excluded.{c}" for c in names if c not in ("org_id",))
    conn.execute(
        f"INSERT INTO core.{table} AS t ({columns}) SELECT {columns} FROM stage_{table}"
        f" ON CONFLICT ON CONSTRAINT {pkey} DO UPDATE SET {sets}"
        " WHERE (t.*) IS DISTINCT FROM (excluded.*)"
    )


def latencies(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(samples, 0.5) * 1000, "p95_ms": percentile(samples, 0.95) * 1000,
            "max_ms": max(samples) * 1000, "calls": len(samples)}  # fmt: skip


# --- the run -----------------------------------------------------------------------------


def explain(conn: Conn, min_ms: int | None) -> None:
    """Log the plans of engine statements slower than min_ms to the server log."""
    if min_ms is None:
        return
    conn.execute("LOAD 'auto_explain'")
    conn.execute(f"SET auto_explain.log_min_duration = {int(min_ms)}")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_analyze = on")
    conn.execute("SET auto_explain.log_buffers = on")
    conn.commit()


def rebuild(conn: Conn, org: uuid.UUID, timeout_s: float, setting: str = "") -> dict[str, Any]:
    """metrics.rebuild(org, NULL) in its own transaction, cancelled after timeout_s (0: none)."""
    conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
    if setting:
        conn.execute(f"SET {setting}")
    conn.commit()
    profile_reset(conn)
    started = time.perf_counter()
    try:
        row = conn.execute("SELECT metrics.rebuild(%s, NULL)", (org,)).fetchone()
        conn.commit()
    except psycopg.errors.QueryCanceled:
        conn.rollback()
        seconds = time.perf_counter() - started
        print(f"  rebuild cancelled after {seconds:.0f}s", flush=True)
        out: dict[str, Any] = {"seconds": None, "timed_out": True, "cancelled_after_s": seconds}
    else:
        seconds = time.perf_counter() - started
        result = row[0] if row else None
        print(f"  rebuild {seconds:.1f}s {result}", flush=True)
        out = {"seconds": seconds, "timed_out": False, "result": result}
    finally:
        conn.execute("RESET statement_timeout")
        if setting:
            conn.execute(f"RESET {setting.split('=')[0].strip()}")
        conn.commit()
    if setting:
        out["setting"] = setting
    out["statements"] = profile_top(conn)
    return out


PROFILE = {"on": False}


def profiled(server: EmbeddedPostgres, conninfo: str) -> Any:
    """Restart the server with pg_stat_statements tracking nested statements (--profile)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.max = 20000")
    server.stop()
    info, _ = server.start()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    PROFILE["on"] = True
    return info


def profile_reset(conn: Conn) -> None:
    if PROFILE["on"]:
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.commit()


def profile_top(conn: Conn, n: int = 25) -> list[dict[str, Any]] | None:
    """The nested statements that took longest since profile_reset (--profile)."""
    if not PROFILE["on"]:
        return None
    rows = conn.execute(
        "SELECT total_exec_time, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 240)"
        " FROM pg_stat_statements WHERE NOT toplevel ORDER BY total_exec_time DESC LIMIT %s",
        (n,),
    ).fetchall()
    conn.commit()
    return [{"ms": round(float(ms), 1), "calls": calls, "rows": nrows, "query": q}
            for ms, calls, nrows, q in rows]  # fmt: skip


def fingerprint(conn: Conn) -> str:
    """A digest of the functions and tables of the engine as the server has them."""
    row = conn.execute(
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        " SELECT p.oid::regprocedure::text || ':' || md5(p.prosrc) AS x FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname IN ('metrics', 'api', 'core', 'identity', 'auth')"
        " UNION ALL"
        " SELECT c.oid::regclass::text || ':' || count(a.attnum) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname IN ('metrics', 'core') GROUP BY c.oid) f"
    ).fetchone()
    conn.commit()
    return str(row[0]) if row else ""


class Guard:
    """Checks that nobody changed the engine in the server during the run (on a shared
    machine, another process may apply its own SQL to a server it finds)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.digest = fingerprint(conn)
        self.changed: list[str] = []

    def check(self, phase: str) -> None:
        if fingerprint(self.conn) != self.digest:
            self.changed.append(phase)
            print("!" * 78, flush=True)
            print(f"THE ENGINE IN THE SERVER CHANGED DURING THE RUN (noticed after {phase}):"
                  " something else wrote functions or tables; figures from here on are not"
                  " of the engine under test", flush=True)  # fmt: skip
            print("!" * 78, flush=True)
            self.digest = fingerprint(self.conn)


def engine_state() -> dict[str, str]:
    """The commit and the uncommitted changes of the engine the figures are of."""
    root = Path(__file__).parent.parent

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    diff = git("diff", "HEAD", "--", "sql", "migrations")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_sql_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16]
        if diff else "",
        "uncommitted_files": git("diff", "HEAD", "--name-only", "--", "sql", "migrations"),
    }  # fmt: skip


def parse() -> tuple[Sizes, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0,
        help="multiplies the default changes, deploys and incidents (0.05: 50k changes)",
    )  # fmt: skip
    parser.add_argument("--changes", type=int, help="pull requests (default 1,000,000 x scale)")
    parser.add_argument("--deploys", type=int, help="deployments (default 100,000 x scale)")
    parser.add_argument("--incidents", type=int, help="incidents (default 10,000 x scale)")
    parser.add_argument("--repos", type=int, default=100, help="repositories (one service each)")
    parser.add_argument("--teams", type=int, default=20, help="leaf teams")
    parser.add_argument("--groups", type=int, default=4, help="parent teams over the leaf teams")
    parser.add_argument("--people", type=int, help="engineers (default changes / 650)")
    parser.add_argument("--bots", type=int, default=5, help="bot accounts")
    parser.add_argument("--days", type=int, default=730, help="days of history")
    parser.add_argument("--events", type=int, default=1000, help="new rows per incremental round")
    parser.add_argument("--rounds", type=int, default=3, help="incremental rounds")
    parser.add_argument("--batches", type=int, default=4, help="transactions per round")
    parser.add_argument("--calls", type=int, default=200, help="api.get_metric calls timed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", help="when the history ends (ISO timestamp; default: four"
                        " hours ago, on the hour): give a run's end to make it again")  # fmt: skip
    parser.add_argument("--rebuild-timeout", type=float, default=900,
                        help="seconds before the first rebuild is cancelled")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="pg_stat_statements: the slowest statements inside each rebuild"
                        " and refresh, in the results")  # fmt: skip
    parser.add_argument("--explain-ms", type=int,
                        help="log plans of engine statements slower than this to the server log"
                        " (keep it with --keep)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the server's directory")
    a = parser.parse_args()
    changes = a.changes or int(1_000_000 * a.scale)
    sizes = Sizes(
        changes=changes, deploys=a.deploys or int(100_000 * a.scale),
        incidents=a.incidents or int(10_000 * a.scale), repos=a.repos, teams=a.teams,
        groups=min(a.groups, a.teams), people=a.people or max(40, changes // 650),
        bots=a.bots, days=a.days, events=a.events, rounds=a.rounds, batches=a.batches,
    )  # fmt: skip
    return sizes, a


def load(conn: Conn, hist: History, org: uuid.UUID, results: dict[str, Any]) -> None:
    """History into core with COPY (per table, one transaction each), and the same
    change/review/deploy/incident rows into unindexed temp copies (bare)."""
    bare: dict[str, float] = {}
    for table in CANONICAL:
        conn.execute(f"CREATE TEMP TABLE bare_{table} (LIKE core.{table} INCLUDING DEFAULTS)")
        conn.execute(f"CREATE TEMP TABLE stage_{table} (LIKE core.{table} INCLUDING DEFAULTS)")
        conn.commit()
    for table, (columns, _) in CANONICAL.items():
        started = time.perf_counter()
        copy_file(conn, f"bare_{table}", columns, hist.file(table))
        conn.commit()
        bare[table] = time.perf_counter() - started
    conn.execute("SET track_functions = 'pl'")
    small = {
        "teams": ("auth.teams", "org_id, team_id, slug, name, parent_id"),
        "persons": ("identity.persons", "org_id, person_id, display_name, primary_email, is_bot"),
        "actors": ("core.actors", "org_id, actor_id, provider, external_id, login, display_name,"
                   " emails, is_bot, first_seen_at, last_seen_at"),
        "links": ("identity.links", "org_id, actor_id, person_id, method, confidence, decided_by,"
                  " decided_at, op_id"),
        "memberships": ("auth.team_memberships", "org_id, team_id, person_id, during, role"),
        "repos": ("core.repos", "org_id, repo_id, provider, external_id, full_name,"
                  " default_branch, is_private, first_seen_at, last_seen_at"),
    }  # fmt: skip
    started = time.perf_counter()
    row = conn.execute(
        "INSERT INTO identity.operations (org_id, kind, performed_by, reason)"
        " VALUES (%s, 'resolve', 'bench', 'bench.metrics') RETURNING op_id",
        (org,),
    ).fetchone()
    assert row is not None
    op_id = row[0]
    for name, (table, columns) in small.items():
        path = hist.file(name)
        if name == "links":
            lines = [f"{ln}\t{op_id}\n" for ln in path.read_text().splitlines()]
            copy_lines(conn, table, columns, lines)
        else:
            copy_file(conn, table, columns, path)
    conn.commit()
    results["load_people_s"] = time.perf_counter() - started
    core: dict[str, dict[str, float]] = {}
    for table, (columns, _) in CANONICAL.items():
        started = time.perf_counter()
        copy_file(conn, f"core.{table}", columns, hist.file(table))
        copying = time.perf_counter() - started
        trig = trigger_seconds(conn)
        started = time.perf_counter()
        conn.commit()
        seconds = copying + time.perf_counter() - started
        core[table] = {"seconds": seconds, "triggers_s": trig, "bare_s": bare[table],
                       "ratio_to_bare": seconds / bare[table]}  # fmt: skip
        print(f"  {table:<10} {hist.counts[table]:>10,} rows: core {seconds:7.2f}s "
              f"(mark triggers {trig:5.2f}s), bare {bare[table]:6.2f}s", flush=True)  # fmt: skip
    conn.execute("SET track_functions = 'none'")
    marks = conn.execute("SELECT count(*) FROM metrics.dirty WHERE org_id = %s", (org,)).fetchone()
    conn.commit()
    total_core = sum(v["seconds"] for v in core.values())
    total_bare = sum(bare.values())
    results["load"] = {"tables": core, "core_s": total_core, "bare_s": total_bare,
                       "ratio_to_bare": total_core / total_bare,
                       "triggers_s": sum(v["triggers_s"] for v in core.values()),
                       "marks_left": marks[0] if marks else None}  # fmt: skip


def run_rounds(conn: Conn, hist: History, head: Head, org: uuid.UUID,
               sampler: RssSampler) -> list[dict[str, Any]]:  # fmt: skip
    rounds = []
    for k in range(hist.sizes.rounds):
        batches = hist.head_round(head, k)
        counts = {t: sum(len(b.rows[t]) for b in batches) for t in CANONICAL}
        bare = 0.0
        for b in batches:
            started = time.perf_counter()
            for table, (columns, _) in CANONICAL.items():
                copy_lines(conn, f"bare_{table}", columns, b.rows[table])
            conn.commit()
            bare += time.perf_counter() - started
        sampler.phase = "incremental writes"
        sampler.load()
        write = 0.0
        for b in batches:
            started = time.perf_counter()
            for table in CANONICAL:
                upsert(conn, table, b.rows[table])
            conn.commit()
            write += time.perf_counter() - started
        marks = conn.execute(
            "SELECT count(*) FROM metrics.dirty WHERE org_id = %s", (org,)
        ).fetchone()
        conn.commit()
        sampler.phase = "incremental refresh"
        sampler.load()
        profile_reset(conn)
        started = time.perf_counter()
        row = conn.execute("SELECT metrics.refresh(%s)", (org,)).fetchone()
        conn.commit()
        seconds = time.perf_counter() - started
        assert row is not None
        rounds.append({"rows": counts, "events": sum(counts.values()), "write_s": write,
                       "bare_s": bare, "marks": marks[0] if marks else None,
                       "refresh_s": seconds, "ratio_to_bare": seconds / bare,
                       "refresh": row[0], "statements": profile_top(conn)})  # fmt: skip
        print(f"  round {k + 1}: {sum(counts.values())} rows {counts} written in {write:.2f}s; "
              f"refresh {seconds * 1000:.0f} ms {row[0]}; bare COPY {bare * 1000:.1f} ms",
              flush=True)  # fmt: skip
    return rounds


def reads(conn: Conn, hist: History, org: uuid.UUID, calls: int) -> dict[str, Any]:
    """api.get_metric over a 90-day team window vs a bare percentile over a temp table."""
    leaf = hist.team_slugs
    parent = hist.group_slugs[min(1, len(hist.group_slugs) - 1)]
    teams = list(dict.fromkeys([leaf[0], leaf[len(leaf) // 2], leaf[-1], parent]))
    combos = [(m, t, g) for g in ("window", "week") for t in teams for m in READ_METRICS]
    query = "SELECT * FROM api.get_metric(%s, %s, '90d', %s)"

    def call(m: str, t: str, g: str) -> float:
        started = time.perf_counter()
        conn.execute(query, (m, Jsonb({"org": SLUG, "team": t}), g)).fetchall()
        return time.perf_counter() - started

    for m, t, g in combos:  # warm up: plans, caches
        call(m, t, g)
    by: dict[str, list[float]] = {}
    samples = []
    for i in range(calls):
        m, t, g = combos[i % len(combos)]
        s = call(m, t, g)
        samples.append(s)
        by.setdefault(f"{m}/{g}", []).append(s)
        by.setdefault("parent team" if t in hist.group_slugs else "leaf team", []).append(s)
    conn.commit()
    # bare: the same windows' lead times, in plain temp tables
    sizes = {}
    for k, t in enumerate(teams):
        conn.execute(f"DROP TABLE IF EXISTS bare_window_{k}")
        conn.execute(
            f"CREATE TEMP TABLE bare_window_{k} AS SELECT u.lead_time_s / 3600.0 AS v"
            " FROM metrics.change_teams ct JOIN metrics.change_units u"
            "   ON u.org_id = ct.org_id AND u.change_id = ct.change_id"
            " JOIN auth.teams tm ON tm.org_id = ct.org_id AND tm.team_id = ct.team_id"
            " WHERE ct.org_id = %s AND tm.slug = %s"
            "   AND ct.deployed_at >= now() - interval '90 days' AND ct.deployed_at < now()"
            "   AND u.lead_time_s IS NOT NULL",
            (org, t),
        )
        row = conn.execute(f"SELECT count(*) FROM bare_window_{k}").fetchone()
        sizes[t] = row[0] if row else 0
    conn.commit()
    bare = []
    median = "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM bare_window_{}"
    for i in range(len(teams) * 2):
        conn.execute(median.format(i % len(teams))).fetchall()
    for i in range(calls):
        started = time.perf_counter()
        conn.execute(median.format(i % len(teams))).fetchall()
        bare.append(time.perf_counter() - started)
    conn.commit()
    out: dict[str, Any] = {
        "teams": teams, "window_rows_lead_time": sizes, "all": latencies(samples),
        "by": {k: latencies(v) for k, v in sorted(by.items())}, "bare": latencies(bare),
    }  # fmt: skip
    out["ratio_p50_to_bare"] = out["all"]["p50_ms"] / out["bare"]["p50_ms"]
    out["ratio_p95_to_bare"] = out["all"]["p95_ms"] / out["bare"]["p95_ms"]
    return out


def build(conn: Conn, org: uuid.UUID, results: dict[str, Any], sampler: RssSampler,
          timeout_s: float) -> None:  # fmt: skip
    """The first full rebuild (empty units), cancelled after timeout_s; when it does not
    finish, once more with enable_nestloop = off (also cancelled after timeout_s)."""
    sampler.phase = "rebuild"
    sampler.load()
    print(f"rebuild (timeout {timeout_s:.0f}s) ...", flush=True)
    results["rebuild"] = rebuild(conn, org, timeout_s)
    if results["rebuild"]["timed_out"]:
        print("!" * 78, flush=True)
        print(f"REBUILD DID NOT FINISH within {timeout_s:.0f}s; once more with"
              " enable_nestloop = off, to have units to go on with", flush=True)  # fmt: skip
        print("!" * 78, flush=True)
        sampler.phase = "rebuild, enable_nestloop = off"
        sampler.load()
        results["rebuild_nestloop_off"] = rebuild(conn, org, timeout_s, "enable_nestloop = off")
    units = conn.execute(
        "SELECT (SELECT count(*) FROM metrics.change_units WHERE org_id = %(o)s),"
        " (SELECT count(*) FROM metrics.change_units WHERE org_id = %(o)s"
        "    AND deploy_id IS NOT NULL),"
        " (SELECT count(*) FROM metrics.change_teams WHERE org_id = %(o)s),"
        " (SELECT count(*) FROM metrics.deploy_units WHERE org_id = %(o)s),"
        " (SELECT count(*) FROM metrics.incident_units WHERE org_id = %(o)s),"
        " (SELECT count(*) FROM metrics.failure_links WHERE org_id = %(o)s),"
        " (SELECT count(*) FROM metrics.rework_links WHERE org_id = %(o)s)",
        {"o": org},
    ).fetchone()
    conn.commit()
    assert units is not None
    results["units"] = dict(zip(("change_units", "changes_deployed", "change_teams",
                                 "deploy_units", "incident_units", "failure_links",
                                 "rework_links"), units, strict=True))  # fmt: skip
    print(f"  units: {results['units']}", flush=True)
    # as autovacuum would after a bulk write
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE metrics.change_units, metrics.change_teams,"
                 " metrics.deploy_units, metrics.deploy_teams, metrics.incident_units,"
                 " metrics.failure_links, metrics.rework_links, metrics.dirty")  # fmt: skip
    conn.autocommit = False


def verify(conn: Conn, org: uuid.UUID, results: dict[str, Any], sampler: RssSampler) -> None:
    """The stored units after the incremental refreshes vs a full rebuild's (timed)."""
    print("incremental == rebuild? ...", flush=True)
    sampler.phase = "verify"
    sampler.load()
    before = stored_hashes(conn, org)
    snapshot(conn, org)
    conn.commit()
    sampler.phase = "rebuild (over existing units)"
    sampler.load()
    results["rebuild_again"] = rebuild(conn, org, 0)
    after = stored_hashes(conn, org)
    mismatches = {}
    for table in before.keys() | after.keys():
        if before.get(table) != after.get(table):
            mismatches[table] = {"incremental": before[table], "rebuild": after[table],
                                 **differences(conn, org, table)}  # fmt: skip
    conn.commit()
    results["incremental_equals_rebuild"] = not mismatches
    results["verify"] = {"tables": {t: n for t, (n, _) in before.items()},
                         "mismatches": mismatches}  # fmt: skip
    if mismatches:
        print("!" * 78, flush=True)
        print("MISMATCH: units after the incremental refreshes differ from a rebuild:",
              flush=True)  # fmt: skip
        print(json.dumps(mismatches, indent=2, default=str), flush=True)
        print("!" * 78, flush=True)
    else:
        print(f"  equal: {results['verify']['tables']}", flush=True)


def main() -> None:
    sizes, args = parse()
    home = Path(tempfile.mkdtemp(prefix="qdx-bench-"))
    server = EmbeddedPostgres(home, port=55000 + uuid.uuid4().int % 5000, listen=None)
    results: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "sizes": sizes.__dict__, "seed": args.seed, "engine": engine_state(),
    }  # fmt: skip
    if args.end:
        end = datetime.fromisoformat(args.end).timestamp()
    else:
        end = (time.time() // HOUR) * HOUR - 4 * HOUR
    results["end"] = datetime.fromtimestamp(end, UTC).isoformat()
    org_rng = random.Random(args.seed)  # noqa: S311 (reproducible, not secret)
    org = uuid.UUID(int=org_rng.getrandbits(128), version=4)
    data = home / "data"
    data.mkdir()
    hist = History(sizes, args.seed, end, org, data)
    print(f"generating {sizes.changes:,} changes, {sizes.deploys:,} deploys, "
          f"{sizes.incidents:,} incidents over {sizes.days} days ...", flush=True)  # fmt: skip
    started = time.perf_counter()
    hist.write_people()
    head = hist.write_changes()
    hist.write_deploys_and_incidents(head)
    results["generate_s"] = time.perf_counter() - started
    results["rows"] = dict(hist.counts, people=sizes.people, moves=len(hist.moves))
    print(f"  {results['generate_s']:.1f}s: {hist.counts}", flush=True)
    info, _ = server.start()
    conninfo = info.conninfo()
    sampler = RssSampler(info.pid)
    sampler.start()
    try:
        migrate(conninfo)
        if args.profile:
            info = profiled(server, conninfo)
            sampler.root = psutil.Process(info.pid)
        with psycopg.connect(conninfo) as conn:
            settings = conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version',"
                " 'shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_parallel_workers',"
                " 'max_parallel_workers_per_gather', 'fsync', 'synchronous_commit')"
            ).fetchall()
            results["machine"]["postgresql"] = {n: f"{s}{u or ''}" for n, s, u in settings}
            conn.execute(
                "INSERT INTO auth.orgs (org_id, slug, name, timezone) VALUES (%s, %s, %s,"
                " 'Europe/Berlin')",
                (org, SLUG, "Bench Metrics"),
            )
            conn.commit()
            explain(conn, args.explain_ms)
            guard = Guard(conn)
            print("loading ...", flush=True)
            sampler.phase = "load"
            sampler.load()
            load(conn, hist, org, results)
            guard.check("load")
            print(f"  load: core {results['load']['core_s']:.1f}s, bare "
                  f"{results['load']['bare_s']:.1f}s", flush=True)  # fmt: skip
            sampler.phase = "settle"
            sampler.load()
            seconds, _ = timed(lambda: settle(conninfo))
            results["settle_s"] = seconds

            build(conn, org, results, sampler, args.rebuild_timeout)
            guard.check("rebuild")
            if results["units"]["change_units"]:
                print(f"incremental: {sizes.rounds} rounds of ~{sizes.events} rows ...",
                      flush=True)  # fmt: skip
                results["incremental"] = run_rounds(conn, hist, head, org, sampler)
                guard.check("incremental")
                verify(conn, org, results, sampler)
                guard.check("verify")
                conn.autocommit = True
                conn.execute("VACUUM ANALYZE")
                conn.autocommit = False
                sampler.phase = "get_metric"
                sampler.load()
                print(f"api.get_metric x {args.calls} ...", flush=True)
                results["get_metric"] = reads(conn, hist, org, args.calls)
                guard.check("get_metric")
            else:
                print("!" * 78, flush=True)
                print("NO UNITS: the rebuild did not finish; incremental refresh, the"
                      " incremental == rebuild check and api.get_metric are not measured",
                      flush=True)  # fmt: skip
                print("!" * 78, flush=True)
            sizes_mb = conn.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) / 1048576.0"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname IN ('core', 'metrics') AND c.relkind = 'r'"
                " ORDER BY 2 DESC"
            ).fetchall()
            results["table_mb"] = {f"{name}": round(float(mb), 1) for name, mb in sizes_mb}
            results["engine_changed_during_run_after"] = guard.changed
            conn.commit()
    except BaseException as e:
        results["error"] = repr(e)
        raise
    finally:
        sampler.stop()
        server.stop()
        if args.keep:
            print(f"kept {home}", flush=True)
        else:
            shutil.rmtree(home, ignore_errors=True)
        results["peak_rss_mb"] = sampler.peaks
        results["loadavg_1min_at_phase_start"] = sampler.loadavg
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "metrics.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report(results)


def report(r: dict[str, Any]) -> None:
    s = r["sizes"]
    rows = r["rows"]
    print()
    print(f"{rows['changes']:,} changes, {rows['reviews']:,} reviews, {rows['deploys']:,} deploys,"
          f" {rows['incidents']:,} incidents; {s['repos']} repos, {s['teams']} teams in "
          f"{s['groups']} groups, {s['people']:,} people; {r['machine']['cpus']} cpus")  # fmt: skip
    print(f"{'measure':<44} {'figure':>12} {'bare':>12} {'vs bare':>9} {'target':>10}")

    def line(name: str, fig: str, bare: str, ratio: float | None, target: str = "") -> None:
        rs = f"{ratio:9.1f}x" if ratio is not None else ""
        print(f"{name:<44} {fig:>12} {bare:>12} {rs:>10} {target:>10}")

    load = r["load"]
    line("load: COPY into core (indexes, triggers)", f"{load['core_s']:.1f} s",
         f"{load['bare_s']:.1f} s", load["ratio_to_bare"])  # fmt: skip
    line("  of which mark triggers", f"{load['triggers_s']:.1f} s", "", None)
    bare_load = load["bare_s"]

    def rebuilt(name: str, rb: dict[str, Any] | None) -> None:
        if rb is None:
            return
        if rb["timed_out"]:
            fig = f"> {rb['cancelled_after_s']:.0f} s"
            line(name, fig, f"{bare_load:.1f} s", rb["cancelled_after_s"] / bare_load, "< 300 s")
        else:
            fig = f"{rb['seconds']:.1f} s"
            line(name, fig, f"{bare_load:.1f} s", rb["seconds"] / bare_load, "< 300 s")

    rebuilt("full rebuild (empty units)", r["rebuild"])
    rebuilt("  same, enable_nestloop = off", r.get("rebuild_nestloop_off"))
    rebuilt("full rebuild (over existing units)", r.get("rebuild_again"))
    for k, inc in enumerate(r.get("incremental", [])):
        line(f"incremental refresh, round {k + 1} ({inc['events']} rows)",
             f"{inc['refresh_s'] * 1000:.0f} ms", f"{inc['bare_s'] * 1000:.1f} ms",
             inc["ratio_to_bare"], "< 500 ms")  # fmt: skip
    gm = r.get("get_metric")
    if gm:
        line("api.get_metric 90d team window, p50", f"{gm['all']['p50_ms']:.1f} ms",
             f"{gm['bare']['p50_ms']:.2f} ms", gm["ratio_p50_to_bare"])  # fmt: skip
        line("api.get_metric 90d team window, p95", f"{gm['all']['p95_ms']:.1f} ms",
             f"{gm['bare']['p95_ms']:.2f} ms", gm["ratio_p95_to_bare"], "< 20 ms")  # fmt: skip
        for k, v in gm["by"].items():
            line(f"  {k} p50/p95", f"{v['p50_ms']:.1f}/{v['p95_ms']:.1f}", "", None)
    if r.get("engine_changed_during_run_after"):
        print(
            "THE ENGINE IN THE SERVER CHANGED DURING THE RUN, noticed after: "
            + ", ".join(r["engine_changed_during_run_after"])
        )
    if "incremental_equals_rebuild" in r:
        same = r["incremental_equals_rebuild"]
        print(f"incremental == rebuild: {'yes' if same else 'NO, MISMATCH (see verify)'}")
    else:
        print("incremental == rebuild: not checked (no units)")
    for phase, peak in r["peak_rss_mb"].items():
        print(f"peak RSS {phase:<34} backend {peak['max_process_mb']:6.0f} MB,"
              f" all processes {peak['sum_mb']:6.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
