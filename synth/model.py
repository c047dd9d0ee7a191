"""A seeded synthetic engineering organisation and its history.

`History(seed, size, days).events()` yields what happened, in time order: pull requests
(pushes, CI runs and jobs, reviews, then a merge or a close), deploys of merged work through
staging and production (some failing, some rolled back), PagerDuty incidents (some within
hours after a production deploy of the service they name), Jira issues moving through their
statuses with their keys in PR titles and branches, sprints, and Slack messages.

Everything is drawn from one `random.Random` seeded by the arguments (never the global
one): the same arguments give the same history. The org grows with `size`, so a day of a
large history looks like a day of a large company, not a small team typing faster.

Memory stays bounded as the size grows: the history is built one day at a time and only
events not yet due (the next few days of them) are held.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

# -- tunables -------------------------------------------------------------------------------

WORK_START, WORK_END = 9, 18  # local hours of a working day
WEEKEND_ACTIVITY = 0.06  # weekend PRs, relative to a weekday
# Deliveries that one pull request brings on average (its pushes, CI, reviews, issue,
# staging deploy, its share of production deploys, incidents, sprints and messages);
# measured over many seeds, so `size` is met within a few percent.
DELIVERIES_PER_PR = 27.5
PRS_PER_PERSON_DAY = 0.6  # on a working day
TEAM_SIZE = 7
CI_FAILURE = 0.12  # a pull request's CI run fails
MAIN_CI_FAILURE = 0.04
STAGING_FAILURE = 0.03
PRODUCTION_FAILURE = 0.05
ABANDONED = 0.07  # pull requests closed without merging
LINKED_ISSUE = 0.85  # pull requests that name a Jira issue
REVIEW_MEDIAN_MIN = 150.0  # working minutes to a review (lognormal)
DEPLOY_CAUSES_INCIDENT = 0.08  # successful production deploys followed by an incident
ROLLBACK = 0.5  # deploy-caused incidents fixed by rolling back
BACKGROUND_INCIDENTS = 0.012  # per service and day, unrelated to deploys
PRODUCTION_WINDOWS = (10.5, 14.0, 16.5)  # local hours of the production deploy trains
SPRINT_DAYS = 14
SPRINT_EPOCH = date(2020, 1, 6)  # a Monday: sprints start every second Monday from it

# -- names ----------------------------------------------------------------------------------

FIRST = (
    "Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jun",
    "Kemal", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zofia", "Amara", "Bruno", "Carmen", "Deniz",
    "Emeka", "Freya", "Goran", "Helga", "Ines", "Jonas", "Kaito", "Leila", "Marek", "Noor",
)  # fmt: skip
LAST = (
    "Kowalski", "Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Silva", "Novak",
    "Schmidt", "Rossi", "Yilmaz", "Andersen", "Fischer", "Petrov", "Costa", "Nakamura",
    "Dubois", "Horvat", "Mensah", "Kaur", "Ibrahim", "Larsen", "Popescu", "Weber", "Garcia",
    "Nguyen", "Oliveira", "Sato", "Varga", "Wojcik", "Zhang", "Brennan", "Eriksen", "Hoang",
)  # fmt: skip
LEAF_TEAMS = (  # (team, the group it belongs to)
    ("payments", "product"), ("infrastructure", "platform"), ("growth", "product"),
    ("identity", "platform"), ("mobile", "product"), ("search", "product"),
    ("reliability", "platform"), ("billing", "product"), ("notifications", "platform"),
    ("onboarding", "product"), ("developer-tools", "platform"), ("catalog", "product"),
    ("messaging", "product"), ("analytics", "data"), ("insights", "data"),
)  # fmt: skip
SERVICE_KINDS = ("api", "worker", "web", "gateway", "sync")
TIMEZONES = (1.0, 1.0, 1.0, 0.0, 2.0, -5.0, -8.0, 5.5)  # team offsets from UTC, hours
VERBS = {
    "feature": ("Add", "Support", "Introduce", "Expose", "Allow"),
    "fix": ("Fix", "Handle", "Guard against", "Correct", "Stop"),
    "chore": ("Refactor", "Bump", "Clean up", "Simplify", "Remove"),
}
NOUNS = (
    "retry on timeouts", "pagination in list endpoint", "rate limiting",
    "audit log entries", "currency rounding", "webhook signature check",
    "cache invalidation", "null user locale", "duplicate emails", "slow query on dashboard",
    "feature flag for new flow", "deprecated client", "CSV export", "session expiry",
    "search ranking", "dark mode", "metrics for queue depth", "flaky integration test",
    "dependency versions", "error pages", "bulk import", "idempotency keys",
    "timezone handling", "password reset flow",
)  # fmt: skip
SYMPTOMS = (
    "error rate above 5%", "p99 latency above 2s", "5xx responses spiking",
    "health check failing", "queue backlog growing", "CPU saturation", "elevated timeouts",
)  # fmt: skip
FILES = (
    "src/handlers.py", "src/models.py", "src/service.py", "tests/test_service.py",
    "src/api/routes.py", "src/db/queries.sql", "README.md", "src/config.py",
)  # fmt: skip

# Jira statuses: (id, name, category id, category key)
TODO = ("10000", "To Do", 2, "new")
IN_PROGRESS = ("3", "In Progress", 4, "indeterminate")
IN_REVIEW = ("10001", "In Review", 4, "indeterminate")
DONE = ("10002", "Done", 3, "done")
Status = tuple[str, str, int, str]


# -- the organisation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A team of the tree; leaf teams have people, repos and a Jira project."""

    index: int
    slug: str
    name: str
    parent: str | None
    tz: float = 0.0  # hours from UTC
    jira_key: str | None = None
    pagerduty_id: str = ""
    escalation_policy_id: str = ""
    slack_channel: str = ""


@dataclass(frozen=True)
class Person:
    """One engineer and the accounts they have in each tool."""

    index: int
    name: str
    team: str
    tz: float
    github_login: str
    github_id: int
    git_name: str  # what their commits say
    work_email: str
    personal_email: str | None
    noreply_email: str
    commit_email: str  # the address their git is configured with
    jira_account_id: str
    pagerduty_id: str
    slack_id: str


@dataclass(frozen=True)
class Bot:
    """A machine account (GitHub Actions deploys to staging)."""

    github_login: str
    github_id: int


ACTIONS_BOT = Bot("github-actions[bot]", 41898282)


@dataclass(eq=False)
class Repo:
    """A repository, deployed as the service of the same name."""

    index: int
    name: str
    repo_id: int
    team: str
    pagerduty_service_id: str
    main_sha: str
    prod_sha: str
    pr_numbers: int = 0
    run_numbers: int = 0
    unshipped: list[Merge] = field(default_factory=list)
    frozen_until: datetime | None = None  # no production deploys until then (after a rollback)

    @property
    def service(self) -> str:
        return self.name


@dataclass(frozen=True)
class Org:
    slug: str
    name: str
    domain: str
    github_id: int
    teams: tuple[Team, ...]
    people: tuple[Person, ...]
    repos: tuple[Repo, ...]
    channels: dict[str, str]  # Slack channel name -> id
    slack_team_id: str

    @cached_property
    def _teams(self) -> dict[str, Team]:
        return {t.slug: t for t in self.teams}

    @cached_property
    def _members(self) -> dict[str, list[Person]]:
        found: dict[str, list[Person]] = {}
        for person in self.people:
            found.setdefault(person.team, []).append(person)
        return found

    def team(self, slug: str) -> Team:
        return self._teams[slug]

    def members(self, team: str) -> list[Person]:
        return self._members.get(team, [])

    @cached_property
    def _repos(self) -> dict[str, list[Repo]]:
        found: dict[str, list[Repo]] = {}
        for repo in self.repos:
            found.setdefault(repo.team, []).append(repo)
        return found

    def repos_of(self, team: str) -> list[Repo]:
        return self._repos.get(team, [])

    def on_call(self, team: str, at: datetime) -> Person:
        """Who carries the team's pager that week."""
        members = self.members(team)
        return members[(at.isocalendar().week + self.team(team).index) % len(members)]


# -- what happens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: Person
    email: str
    at: datetime
    files: tuple[str, ...]


@dataclass(eq=False)
class Issue:
    issue_id: int
    key: str
    project: Team
    summary: str
    kind: str  # Story, Bug, Task
    priority: str
    reporter: Person
    assignee: Person
    created_at: datetime
    sprint: Sprint | None


@dataclass(eq=False)
class PullRequest:
    pr_id: int
    number: int
    repo: Repo
    author: Person
    title: str
    branch: str
    base_sha: str
    opened_at: datetime
    issue: Issue | None
    additions: int
    deletions: int
    changed_files: int
    labels: tuple[str, ...]
    pushes: list[tuple[datetime, str, int]] = field(default_factory=list)  # at, head sha, commits
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_sha: str | None = None

    def head_at(self, at: datetime) -> tuple[str, int]:
        """The head sha and number of commits as of a moment."""
        sha, count = self.pushes[0][1], self.pushes[0][2]
        for pushed, head, commits in self.pushes:
            if pushed <= at:
                sha, count = head, commits
        return sha, count


@dataclass(eq=False)
class WorkflowRun:
    run_id: int
    number: int
    repo: Repo
    name: str
    event: str  # pull_request or push
    branch: str
    sha: str
    pr: PullRequest | None
    actor: Person
    created_at: datetime
    started_at: datetime
    completed_at: datetime
    conclusion: str
    jobs: list[Job] = field(default_factory=list)


@dataclass(eq=False)
class Job:
    job_id: int
    run: WorkflowRun
    name: str
    started_at: datetime
    completed_at: datetime
    conclusion: str


@dataclass(eq=False)
class Deploy:
    deploy_id: int
    status_ids: tuple[int, int]
    repo: Repo
    environment: str
    sha: str
    creator: Person | Bot
    created_at: datetime
    started_at: datetime
    finished_at: datetime
    state: str  # success or failure
    prs: tuple[PullRequest, ...]
    description: str
    rollback_of: Deploy | None = None


@dataclass(eq=False)
class Incident:
    incident_id: str
    number: int
    key: str
    repo: Repo
    title: str
    urgency: str
    priority: str
    created_at: datetime
    assignee: Person
    caused_by: Deploy | None


@dataclass(eq=False)
class Sprint:
    sprint_id: int
    project: Team
    name: str
    start: datetime
    end: datetime


@dataclass(eq=False)
class Merge:
    """Merged work waiting for a production deploy."""

    pr: PullRequest
    merged_at: datetime
    sha: str
    staged_at: datetime | None  # when a staging deploy with it succeeded


@dataclass(frozen=True)
class Event:
    """Something that happened at a moment."""

    at: datetime


@dataclass(frozen=True)
class Pushed(Event):
    repo: Repo
    pusher: Person
    branch: str
    before: str
    after: str
    commits: tuple[Commit, ...]
    created: bool


@dataclass(frozen=True)
class PullRequestChanged(Event):
    pr: PullRequest
    action: str  # opened, synchronize, closed


@dataclass(frozen=True)
class Reviewed(Event):
    review_id: int
    pr: PullRequest
    reviewer: Person
    state: str  # approved, changes_requested, commented


@dataclass(frozen=True)
class RunChanged(Event):
    run: WorkflowRun
    action: str  # requested, completed


@dataclass(frozen=True)
class JobCompleted(Event):
    job: Job


@dataclass(frozen=True)
class DeploymentCreated(Event):
    deploy: Deploy


@dataclass(frozen=True)
class DeploymentStatusChanged(Event):
    deploy: Deploy
    status_id: int
    state: str  # in_progress, success, failure


@dataclass(frozen=True)
class IncidentChanged(Event):
    incident: Incident
    action: str  # triggered, acknowledged, resolved
    agent: Person | None


@dataclass(frozen=True)
class IssueCreated(Event):
    issue: Issue


@dataclass(frozen=True)
class IssueTransitioned(Event):
    issue: Issue
    before: Status
    after: Status
    actor: Person
    changelog_id: int


@dataclass(frozen=True)
class SprintChanged(Event):
    sprint: Sprint
    action: str  # started, closed


@dataclass(frozen=True)
class MessagePosted(Event):
    person: Person
    channel: str
    text: str


# -- time -------------------------------------------------------------------------------------


def _working(local: datetime) -> bool:
    return local.weekday() < 5 and WORK_START <= local.hour < WORK_END


def _next_start(local: datetime) -> datetime:
    """The start of the next working day at or after a local time outside working hours."""
    day = local.date()
    if local.hour >= WORK_START:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(WORK_START), UTC)


def add_working(at: datetime, minutes: float, tz: float) -> datetime:
    """`at` plus a number of working minutes of someone in time zone `tz` (hours)."""
    offset = timedelta(hours=tz)
    local = at + offset
    remaining = min(minutes, 60 * 9 * 30)  # a month of working days at most
    while True:
        if not _working(local):
            local = _next_start(local)
        day_end = local.replace(hour=WORK_END, minute=0, second=0, microsecond=0)
        available = (day_end - local).total_seconds() / 60
        if remaining <= available:
            return local + timedelta(minutes=remaining) - offset
        remaining -= available
        local = day_end


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


# -- the history ------------------------------------------------------------------------------


class History:
    """A synthetic org and a generator of its history over `days` days before `end`."""

    def __init__(
        self,
        seed: int = 0,
        size: int = 10_000,
        days: int = 90,
        end: date | None = None,
        org_slug: str = "demo",
    ) -> None:
        if size < 1 or days < 1:
            raise ValueError("size and days must be at least 1")
        self.end = end or datetime.now(UTC).date()
        self.start = self.end - timedelta(days=days)
        self.days = days
        self.size = size
        # Seeds every random stream of this history (the emitter's ids, the arrival order).
        self.key = f"{seed}:{size}:{days}:{self.start.isoformat()}:{org_slug}"
        self.rng = random.Random(f"qdx-synth:{self.key}")  # noqa: S311 (reproducible, not secret)
        self._ids = 0
        self._seq = 0
        self._told = False
        self._due: list[tuple[datetime, int, Event]] = []
        working_days = sum(
            1.0 if (self.start + timedelta(days=d)).weekday() < 5 else WEEKEND_ACTIVITY
            for d in range(days)
        )
        people = max(4, round(size / DELIVERIES_PER_PR / (working_days * PRS_PER_PERSON_DAY)))
        self.org = self._organisation(org_slug, people)
        # Sprints and incidents unrelated to any change come with the org, not with its
        # pull requests: take them off the size first.
        projects = sum(1 for t in self.org.teams if t.jira_key)
        turns = sum(
            1 for d in range(days) if ((self.start - SPRINT_EPOCH).days + d) % SPRINT_DAYS == 0
        )
        background = 5 * len(self.org.repos) * days * BACKGROUND_INCIDENTS  # 3 PagerDuty, 2 Slack
        overhead = 2 * projects * turns + background
        prs = max(size - overhead, size / 5) / DELIVERIES_PER_PR
        self.pr_rate = prs / (people * working_days)  # per person and working day
        self._issue_ids = 10_000
        self._issue_numbers: dict[str, int] = {}
        self._incident_number = 0

    # -- ids --------------------------------------------------------------------------------

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _code(self, prefix: str, length: int, alphabet: str) -> str:
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    # -- the organisation -------------------------------------------------------------------

    def _organisation(self, slug: str, headcount: int) -> Org:
        rng = self.rng
        upper = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        leaves = max(1, math.ceil(headcount / TEAM_SIZE))
        leaf_specs = [
            (f"{name}-{n // len(LEAF_TEAMS) + 1}" if n >= len(LEAF_TEAMS) else name, group)
            for n in range(leaves)
            for name, group in [LEAF_TEAMS[n % len(LEAF_TEAMS)]]
        ]
        teams: list[Team] = [Team(0, "engineering", "Engineering", None)]
        groups = sorted({group for _, group in leaf_specs}) if leaves > 2 else []
        for group in groups:
            teams.append(Team(len(teams), group, group.title(), "engineering"))
        keys: set[str] = set()
        for name, group in leaf_specs:
            key = re.sub(r"[^A-Z]", "", name.upper())[:3]
            while key in keys:
                key = key[:2] + rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            keys.add(key)
            teams.append(
                Team(
                    index=len(teams),
                    slug=name,
                    name=name.replace("-", " ").title(),
                    parent=group if groups else "engineering",
                    tz=rng.choice(TIMEZONES),
                    jira_key=key,
                    pagerduty_id=self._code("P", 6, upper),
                    escalation_policy_id=self._code("P", 6, upper),
                    slack_channel=self._code("C0", 9, upper),
                )
            )
        leaf_teams = [t for t in teams if t.jira_key]
        domain = f"{slug}.example"
        people: list[Person] = []
        logins: set[str] = set()
        github_ids: set[int] = set()
        for index in range(headcount):
            team = leaf_teams[index % len(leaf_teams)]
            first, last = rng.choice(FIRST), rng.choice(LAST)
            login = rng.choice(
                (f"{first}-{last}", f"{first}{last[0]}", f"{first[0]}{last}", f"{first}-dev")
            ).lower()
            base, n = login, 1
            while login in logins:
                n += 1
                login = f"{base}{n}"
            logins.add(login)
            github_id = rng.randrange(1_000_000, 190_000_000)
            while github_id in github_ids:
                github_id += 1
            github_ids.add(github_id)
            mailbox = f"{first}.{last}".lower() + (str(n) if n > 1 else "")
            personal = (
                f"{first.lower()}{last[0].lower()}{rng.randint(1, 99)}@"
                + rng.choice(("mail.example", "fastmail.example", "proton.example"))
                if rng.random() < 0.4
                else None
            )
            noreply = f"{github_id}+{login}@users.noreply.github.com"
            commit_email = rng.choices(
                (f"{mailbox}@{domain}", noreply, personal or noreply), weights=(65, 20, 15)
            )[0]
            people.append(
                Person(
                    index=index,
                    name=f"{first} {last}",
                    team=team.slug,
                    tz=team.tz,
                    github_login=login,
                    github_id=github_id,
                    git_name=f"{first} {last}" if rng.random() < 0.8 else login,
                    work_email=f"{mailbox}@{domain}",
                    personal_email=personal,
                    noreply_email=noreply,
                    commit_email=commit_email,
                    jira_account_id=f"{rng.getrandbits(96):024x}",
                    pagerduty_id=self._code("P", 6, upper),
                    slack_id=self._code("U0", 9, upper),
                )
            )
        repos: list[Repo] = []
        for team in leaf_teams:
            kinds = rng.sample(SERVICE_KINDS, rng.choice((1, 2, 2, 3)))
            for kind in kinds:
                sha = self._sha()
                repos.append(
                    Repo(
                        index=len(repos),
                        name=f"{team.slug}-{kind}",
                        repo_id=rng.randrange(100_000_000, 900_000_000),
                        team=team.slug,
                        pagerduty_service_id=self._code("P", 6, upper),
                        main_sha=sha,
                        prod_sha=sha,
                    )
                )
        channels = {name: self._code("C0", 9, upper) for name in ("deploys", "incidents")}
        for team in leaf_teams:
            channels[f"team-{team.slug}"] = team.slack_channel
        return Org(
            slug=slug,
            name=f"{slug.replace('-', ' ').title()} Inc.",
            domain=domain,
            github_id=rng.randrange(10_000_000, 99_000_000),
            teams=tuple(teams),
            people=tuple(people),
            repos=tuple(repos),
            channels=channels,
            slack_team_id=self._code("T0", 9, upper),
        )

    # -- the timeline -----------------------------------------------------------------------

    def _at(self, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self._due, (event.at, self._seq, event))

    def events(self) -> Iterator[Event]:
        """Everything that happened, in time order (ties in the order it was planned).
        A history is told once: planning it changes it."""
        if self._told:
            raise RuntimeError("a History yields its events once: make a new one")
        self._told = True
        end = datetime.combine(self.end, time(), UTC)
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            day_start = datetime.combine(day, time(), UTC)
            self._plan_day(day, day_start)
            next_day = day_start + timedelta(days=1)
            while self._due and self._due[0][0] < min(next_day, end):
                yield heapq.heappop(self._due)[2]
        self._due.clear()  # what would happen after `end` has not happened yet

    def _plan_day(self, day: date, day_start: datetime) -> None:
        rng = self.rng
        for team in self.org.teams:
            if team.jira_key:
                self._sprints(team, day, day_start)
        factor = 1.0 if day.weekday() < 5 else WEEKEND_ACTIVITY
        for person in self.org.people:
            for _ in range(_poisson(rng, self.pr_rate * factor)):
                local_hour = min(19.5, max(8.0, rng.choice((10.5, 15.0)) + rng.gauss(0, 1.4)))
                opened = day_start + timedelta(hours=local_hour - person.tz)
                self._pull_request(person, max(opened, day_start), day_start)
        for repo in self.org.repos:
            self._production_trains(repo, day, day_start)
            if rng.random() < BACKGROUND_INCIDENTS:
                self._incident(repo, day_start + timedelta(seconds=rng.randrange(86_400)))

    # -- sprints and issues -----------------------------------------------------------------

    def _sprint_of(self, project: Team, day: date) -> Sprint:
        number = (day - SPRINT_EPOCH).days // SPRINT_DAYS
        start_day = SPRINT_EPOCH + timedelta(days=number * SPRINT_DAYS)
        offset = timedelta(hours=WORK_START - project.tz)
        start = datetime.combine(start_day, time(), UTC) + offset
        return Sprint(
            sprint_id=project.index * 10_000 + number,
            project=project,
            name=f"{project.jira_key} Sprint {number}",
            start=start,
            end=start + timedelta(days=SPRINT_DAYS) - timedelta(minutes=30),
        )

    def _sprints(self, project: Team, day: date, day_start: datetime) -> None:
        if (day - SPRINT_EPOCH).days % SPRINT_DAYS != 0:
            return
        sprint = self._sprint_of(project, day)
        previous = self._sprint_of(project, day - timedelta(days=1))
        self._at(SprintChanged(max(previous.end, day_start), previous, "closed"))
        self._at(SprintChanged(max(sprint.start, day_start), sprint, "started"))

    def _issue(self, author: Person, summary: str, kind: str, created: datetime) -> Issue:
        project = self.org.team(author.team)
        key = project.jira_key or "ENG"
        self._issue_numbers[key] = self._issue_numbers.get(key, 0) + 1
        self._issue_ids += 1
        members = self.org.members(author.team)
        return Issue(
            issue_id=self._issue_ids,
            key=f"{key}-{self._issue_numbers[key]}",
            project=project,
            summary=summary,
            kind={"feature": "Story", "fix": "Bug", "chore": "Task"}[kind],
            priority=self.rng.choices(("High", "Medium", "Low"), weights=(2, 6, 2))[0],
            reporter=self.rng.choice(members),
            assignee=author,
            created_at=created,
            sprint=self._sprint_of(project, created.date()),
        )

    def _transition(
        self, issue: Issue, at: datetime, before: Status, after: Status, actor: Person
    ) -> None:
        self._at(IssueTransitioned(at, issue, before, after, actor, self._id()))

    # -- pull requests ----------------------------------------------------------------------

    def _commits(
        self, author: Person, count: int, start: datetime, end: datetime, message: str
    ) -> tuple[Commit, ...]:
        rng = self.rng
        span = max(0.0, (end - start).total_seconds())
        moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
        email = author.commit_email
        if rng.random() < 0.15:  # another machine, another configured address
            email = rng.choice([e for e in (author.work_email, author.personal_email) if e])
        return tuple(
            Commit(
                sha=self._sha(),
                message=message
                if i == 0
                else rng.choice(("Address review", "Fix tests", "Tidy up", "More cases")),
                author=author,
                email=email,
                at=at,
                files=tuple(rng.sample(FILES, rng.randint(1, 3))),
            )
            for i, at in enumerate(moments)
        )

    def _push(self, pr: PullRequest, at: datetime, commits: tuple[Commit, ...]) -> None:
        before = pr.pushes[-1][1] if pr.pushes else "0" * 40
        total = (pr.pushes[-1][2] if pr.pushes else 0) + len(commits)
        pr.pushes.append((at, commits[-1].sha, total))
        self._at(
            Pushed(
                at,
                pr.repo,
                pr.author,
                pr.branch,
                before,
                commits[-1].sha,
                commits,
                created=not before.strip("0"),
            )
        )

    def _pull_request(self, author: Person, opened: datetime, day_start: datetime) -> None:
        rng = self.rng
        own = self.org.repos_of(author.team)
        repo = rng.choice(own) if own and rng.random() < 0.85 else rng.choice(self.org.repos)
        kind = rng.choices(("feature", "fix", "chore"), weights=(55, 30, 15))[0]
        summary = f"{rng.choice(VERBS[kind])} {rng.choice(NOUNS)}"
        started = max(day_start, opened - _minutes(rng.lognormvariate(math.log(120), 0.8)))
        issue = None
        if rng.random() < LINKED_ISSUE:
            created = max(day_start, started - _minutes(rng.lognormvariate(math.log(240), 1.0)))
            issue = self._issue(author, summary, kind, created)
            self._at(IssueCreated(created, issue))
            self._transition(issue, started, TODO, IN_PROGRESS, author)
        words = re.sub(r"[^a-z0-9]+", "-", summary.lower()).strip("-")
        repo.pr_numbers += 1
        pr = PullRequest(
            pr_id=rng.randrange(1_000_000_000, 3_000_000_000),
            number=repo.pr_numbers,
            repo=repo,
            author=author,
            title=f"{issue.key}: {summary}" if issue else summary,
            branch=f"{author.github_login}/{issue.key.lower() + '-' if issue else ''}{words}",
            base_sha=repo.main_sha,
            opened_at=opened,
            issue=issue,
            additions=int(rng.lognormvariate(math.log(60), 1.1)) + 1,
            deletions=int(rng.lognormvariate(math.log(15), 1.2)),
            changed_files=rng.randint(1, 12),
            labels=(kind,) if rng.random() < 0.5 else (),
        )
        pushed = max(started, opened - timedelta(seconds=rng.randint(60, 600)))
        self._push(
            pr, pushed, self._commits(author, rng.choice((1, 1, 2, 3)), started, pushed, pr.title)
        )
        self._at(PullRequestChanged(opened, pr, "opened"))
        if issue:
            self._transition(issue, opened + timedelta(seconds=20), IN_PROGRESS, IN_REVIEW, author)
        team = self.org.team(author.team)
        if rng.random() < 0.3:
            url = f"https://github.com/{self.org.slug}/{repo.name}/pull/{pr.number}"
            self._at(
                MessagePosted(
                    opened + _minutes(rng.uniform(1, 20)),
                    author,
                    f"team-{team.slug}",
                    f"Could someone review {url}?",
                )
            )
        run = self._ci(repo, pr, "pull_request", pr.branch, pr.pushes[-1][1], opened, author)
        teammates = [p for p in self.org.members(author.team) if p is not author]
        reviewers = rng.sample(teammates, min(2, len(teammates))) or [
            rng.choice([p for p in self.org.people if p is not author])
        ]
        needed = 2 if len(reviewers) > 1 and rng.random() < 0.2 else 1
        approvals, rounds, ready = 0, 0, run.completed_at
        while approvals < needed:
            rounds += 1
            if run.conclusion != "success" and rounds < 6:
                fixed = add_working(ready, rng.lognormvariate(math.log(45), 0.8), author.tz)
                run = self._revise(pr, fixed, "Fix failing tests")
                ready = run.completed_at
                continue
            reviewer = reviewers[rounds % len(reviewers)]
            wait = rng.lognormvariate(math.log(REVIEW_MEDIAN_MIN / (1 + rounds / 2)), 1.1)
            at = add_working(ready, wait, reviewer.tz)
            if rounds >= 6:
                state = "approved"
            elif rounds == 1:
                state = rng.choices(("approved", "changes_requested", "commented"), (65, 25, 10))[0]
            else:
                state = rng.choices(("approved", "changes_requested", "commented"), (85, 10, 5))[0]
            self._at(Reviewed(at, self._id(), pr, reviewer, state))
            if state == "changes_requested":
                fixed = add_working(at, rng.lognormvariate(math.log(90), 0.9), author.tz)
                run = self._revise(pr, fixed, "Address review")
                ready = run.completed_at
            elif state == "approved":
                approvals += 1
                ready = max(at, run.completed_at)
            else:
                ready = at
        if rng.random() < ABANDONED:
            pr.closed_at = add_working(ready, rng.lognormvariate(math.log(600), 1.0), author.tz)
            self._at(PullRequestChanged(pr.closed_at, pr, "closed"))
            if issue:
                self._transition(issue, pr.closed_at + _minutes(5), IN_REVIEW, TODO, author)
            return
        self._merge(pr, add_working(ready, rng.lognormvariate(math.log(40), 1.0), author.tz))

    def _revise(self, pr: PullRequest, at: datetime, message: str) -> WorkflowRun:
        rng = self.rng
        commits = self._commits(
            pr.author, rng.choice((1, 1, 2)), at - _minutes(rng.uniform(5, 40)), at, message
        )
        self._push(pr, at, commits)
        self._at(PullRequestChanged(at + timedelta(seconds=2), pr, "synchronize"))
        return self._ci(pr.repo, pr, "pull_request", pr.branch, commits[-1].sha, at, pr.author)

    def _merge(self, pr: PullRequest, merged: datetime) -> None:
        rng, repo, author = self.rng, pr.repo, pr.author
        pr.merged_at = pr.closed_at = merged
        squash = Commit(
            self._sha(), f"{pr.title} (#{pr.number})", author, author.commit_email, merged, ()
        )
        pr.merge_sha = squash.sha
        self._at(PullRequestChanged(merged, pr, "closed"))
        if pr.issue:
            self._transition(
                pr.issue, merged + _minutes(rng.uniform(1, 15)), IN_REVIEW, DONE, author
            )
        before, repo.main_sha = repo.main_sha, squash.sha
        self._at(
            Pushed(
                merged + timedelta(seconds=1),
                repo,
                author,
                "main",
                before,
                squash.sha,
                (squash,),
                created=False,
            )
        )
        run = self._ci(
            repo,
            None,
            "push",
            "main",
            squash.sha,
            merged + timedelta(seconds=2),
            author,
            failure=MAIN_CI_FAILURE,
        )
        merge = Merge(pr, merged, squash.sha, None)
        if run.conclusion == "success":
            at = run.completed_at + timedelta(seconds=rng.randint(30, 240))
            staging = self._deploy(
                repo, "staging", squash.sha, ACTIONS_BOT, at, STAGING_FAILURE, (pr,)
            )
            if staging.state == "success":
                merge.staged_at = staging.finished_at
        repo.unshipped.append(merge)

    # -- CI ---------------------------------------------------------------------------------

    def _ci(
        self,
        repo: Repo,
        pr: PullRequest | None,
        event: str,
        branch: str,
        sha: str,
        at: datetime,
        actor: Person,
        failure: float = CI_FAILURE,
    ) -> WorkflowRun:
        rng = self.rng
        repo.run_numbers += 1
        created = at + timedelta(seconds=rng.randint(2, 20))
        started = created + timedelta(seconds=rng.randint(5, 90))
        run = WorkflowRun(
            self._id(),
            repo.run_numbers,
            repo,
            "CI",
            event,
            branch,
            sha,
            pr,
            actor,
            created,
            started,
            started,
            "success",
        )
        failing = rng.choice(("test", "test", "lint", "build")) if rng.random() < failure else None
        for name, median in (("lint", 1.5), ("test", 6.0), ("build", 3.5)):
            begun = started + timedelta(seconds=rng.randint(2, 40))
            done = begun + _minutes(rng.lognormvariate(math.log(median), 0.35))
            conclusion = "failure" if name == failing else "success"
            run.jobs.append(Job(self._id(), run, name, begun, done, conclusion))
        run.completed_at = max(job.completed_at for job in run.jobs) + timedelta(seconds=3)
        run.conclusion = "failure" if failing else "success"
        self._at(RunChanged(created, run, "requested"))
        for job in run.jobs:
            self._at(JobCompleted(job.completed_at, job))
        self._at(RunChanged(run.completed_at, run, "completed"))
        return run

    # -- deploys ----------------------------------------------------------------------------

    def _deploy(
        self,
        repo: Repo,
        environment: str,
        sha: str,
        creator: Person | Bot,
        at: datetime,
        failure: float,
        prs: tuple[PullRequest, ...],
        description: str = "",
        rollback_of: Deploy | None = None,
    ) -> Deploy:
        rng = self.rng
        started = at + timedelta(seconds=rng.randint(5, 40))
        median = 7.0 if environment == "production" else 4.0
        deploy = Deploy(
            deploy_id=self._id(),
            status_ids=(self._id(), self._id()),
            repo=repo,
            environment=environment,
            sha=sha,
            creator=creator,
            created_at=at,
            started_at=started,
            finished_at=started + _minutes(rng.lognormvariate(math.log(median), 0.4)),
            state="failure" if rng.random() < failure else "success",
            prs=prs,
            description=description or f"Deploy {sha[:7]} to {environment}",
            rollback_of=rollback_of,
        )
        self._at(DeploymentCreated(at, deploy))
        self._at(DeploymentStatusChanged(started, deploy, deploy.status_ids[0], "in_progress"))
        self._at(
            DeploymentStatusChanged(deploy.finished_at, deploy, deploy.status_ids[1], deploy.state)
        )
        return deploy

    def _production_trains(self, repo: Repo, day: date, day_start: datetime) -> None:
        rng = self.rng
        team = self.org.team(repo.team)
        if day.weekday() >= 5:
            return
        for hour in PRODUCTION_WINDOWS:
            at = day_start + timedelta(hours=hour - team.tz, minutes=rng.uniform(-15, 15))
            at = max(at, day_start)
            if repo.frozen_until and at < repo.frozen_until:
                continue
            ready = [m for m in repo.unshipped if m.staged_at and m.staged_at <= at]
            if not ready:
                continue
            head = max(ready, key=lambda m: m.merged_at)
            shipped = [m for m in repo.unshipped if m.merged_at <= head.merged_at]
            numbers = ", ".join(f"#{m.pr.number}" for m in shipped)
            deployer = head.pr.author
            deploy = self._deploy(
                repo,
                "production",
                head.sha,
                deployer,
                at,
                PRODUCTION_FAILURE,
                tuple(m.pr for m in shipped),
            )
            self._at(
                MessagePosted(
                    at + timedelta(seconds=rng.randint(5, 60)),
                    deployer,
                    "deploys",
                    f"Deploying {repo.service} {head.sha[:7]} to production ({numbers})",
                )
            )
            if deploy.state != "success":
                continue
            previous, repo.prod_sha = repo.prod_sha, head.sha
            repo.unshipped = [m for m in repo.unshipped if m not in shipped]
            if rng.random() < DEPLOY_CAUSES_INCIDENT:
                delay = min(300.0, rng.lognormvariate(math.log(35), 0.9))
                self._incident(
                    repo, deploy.finished_at + _minutes(delay), deploy, previous, shipped
                )

    # -- incidents --------------------------------------------------------------------------

    def _incident(
        self,
        repo: Repo,
        at: datetime,
        caused_by: Deploy | None = None,
        previous_sha: str | None = None,
        shipped: list[Merge] | None = None,
    ) -> None:
        rng = self.rng
        on_call = self.org.on_call(repo.team, at)
        self._incident_number += 1
        urgency = "high" if caused_by or rng.random() < 0.6 else "low"
        incident = Incident(
            incident_id=self._code("Q", 13, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"),
            number=self._incident_number,
            key=f"{rng.getrandbits(128):032x}",
            repo=repo,
            title=f"{repo.service} {rng.choice(SYMPTOMS)}",
            urgency=urgency,
            priority=rng.choice(("P1", "P2")) if urgency == "high" else rng.choice(("P3", "P4")),
            created_at=at,
            assignee=on_call,
            caused_by=caused_by,
        )
        asleep = not _working(at + timedelta(hours=on_call.tz))
        acked = at + _minutes(rng.lognormvariate(math.log(12 if asleep else 4), 0.8))
        if caused_by and previous_sha and rng.random() < ROLLBACK:
            rollback = self._deploy(
                repo,
                "production",
                previous_sha,
                on_call,
                acked + _minutes(rng.lognormvariate(math.log(10), 0.5)),
                0.0,
                (),
                description=f"Rollback of {caused_by.sha[:7]}",
                rollback_of=caused_by,
            )
            resolved = rollback.finished_at + _minutes(rng.uniform(2, 15))
            # The rolled-back work ships again with the next train after the fix.
            repo.prod_sha = previous_sha
            repo.frozen_until = resolved + timedelta(hours=1)
            for merge in shipped or []:
                merge.staged_at = repo.frozen_until
                repo.unshipped.append(merge)
        else:
            resolved = acked + _minutes(rng.lognormvariate(math.log(45), 1.0))
        self._at(IncidentChanged(at, incident, "triggered", None))
        self._at(IncidentChanged(acked, incident, "acknowledged", on_call))
        self._at(IncidentChanged(resolved, incident, "resolved", on_call))
        self._at(
            MessagePosted(
                acked + _minutes(rng.uniform(1, 4)),
                on_call,
                "incidents",
                f"Looking into: {incident.title}",
            )
        )
        self._at(
            MessagePosted(
                resolved + _minutes(rng.uniform(0, 5)),
                on_call,
                "incidents",
                f"Resolved: {incident.title}",
            )
        )


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
