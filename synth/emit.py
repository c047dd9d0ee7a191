"""The synthetic history as vendor webhook deliveries: the body and headers each vendor sends
(GitHub, PagerDuty v3, Jira, Slack Events API), unsigned; `stream` signs them when it sends.

`deliveries(...)` is a generator over a `History`: memory does not grow with `size`. It
models how vendors really deliver: a share of deliveries arrive twice with the same
delivery id (a retry after a lost answer, with the vendor's retry headers), and arrival
order is shuffled within a small window.
"""

from __future__ import annotations

import heapq
import json
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from synth import model
from synth.model import Bot, Event, History, Org, Person

SOURCES = ("github", "jira", "pagerduty", "slack")
HOOK_ID = "421337001"  # the org's one GitHub webhook
JSON_CONTENT = "application/json"
# What a vendor adds when it sends a delivery again.
RETRY_HEADERS = {
    "jira": {"X-Atlassian-Webhook-Retry": "1"},
    "slack": {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
}


@dataclass(frozen=True)
class Delivery:
    """One HTTP request a vendor makes, before signing."""

    source: str
    event_type: str  # for reports: pull_request.opened, incident.triggered, jira:issue_created
    delivery_id: str  # the vendor's id of this delivery (the same on a retry)
    headers: dict[str, str]
    body: bytes
    occurred_at: datetime
    duplicate: bool = False  # a planned retry of a delivery sent before
    content_type: str = JSON_CONTENT


def deliveries(
    history: History, duplicate_rate: float = 0.02, reorder_window: int = 16
) -> Iterator[Delivery]:
    """The history's deliveries in arrival order: about `history.size` distinct ones, plus
    `duplicate_rate` of them sent again, shuffled within `reorder_window`."""
    return arrival(
        Emitter(history.org, history.key).render(history.events()),
        random.Random(f"qdx-synth-arrival:{history.key}"),  # noqa: S311 (reproducible, not secret)
        duplicate_rate,
        reorder_window,
    )


def arrival(
    items: Iterable[Delivery], rng: random.Random, duplicate_rate: float, window: int
) -> Iterator[Delivery]:
    """Deliveries as they arrive: each leaves a buffer of `window` at random, and with
    probability `duplicate_rate` is sent once more, a little later (never before itself)."""
    buffer: list[Delivery] = []
    retries: list[tuple[int, int, Delivery]] = []  # (due position, tiebreak, delivery)
    position = 0

    def release(delivery: Delivery) -> Iterator[Delivery]:
        nonlocal position
        position += 1
        yield delivery
        if not delivery.duplicate and rng.random() < duplicate_rate:
            again = replace(
                delivery,
                duplicate=True,
                headers={**delivery.headers, **RETRY_HEADERS.get(delivery.source, {})},
            )
            heapq.heappush(retries, (position + rng.randint(1, 4 * window + 8), position, again))
        while retries and retries[0][0] <= position:
            yield from release(heapq.heappop(retries)[2])

    for item in items:
        buffer.append(item)
        if len(buffer) > window:
            pick = rng.randrange(len(buffer))
            buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
            yield from release(buffer.pop())
    rng.shuffle(buffer)
    for item in buffer:
        yield from release(item)
    while retries:
        yield from release(heapq.heappop(retries)[2])


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _jira_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class Emitter:
    """Renders timeline events as deliveries in each vendor's documented format."""

    def __init__(self, org: Org, key: str) -> None:
        self.org = org
        self.rng = random.Random(f"qdx-synth-ids:{key}")  # noqa: S311 (reproducible, not secret)
        self.github = f"https://github.com/{org.slug}"
        self.jira = f"https://{org.slug}.atlassian.net"
        self.pagerduty = f"https://{org.slug}.pagerduty.com"
        self.slack_app = "A0" + self._alnum(9)
        self.slack_bot = "U0" + self._alnum(9)
        self.subscription = "P" + self._alnum(6)
        self._renderers: dict[type[Event], Callable[[Any], Delivery]] = {
            model.Pushed: self._push,
            model.PullRequestChanged: self._pull_request,
            model.Reviewed: self._review,
            model.RunChanged: self._workflow_run,
            model.JobCompleted: self._workflow_job,
            model.DeploymentCreated: self._deployment,
            model.DeploymentStatusChanged: self._deployment_status,
            model.IncidentChanged: self._incident,
            model.IssueCreated: self._issue_created,
            model.IssueTransitioned: self._issue_transitioned,
            model.SprintChanged: self._sprint,
            model.MessagePosted: self._message,
        }

    def render(self, events: Iterable[Event]) -> Iterator[Delivery]:
        for event in events:
            yield self._renderers[type(event)](event)

    # -- ids --------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _alnum(self, length: int) -> str:
        return "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(length))

    # -- GitHub -----------------------------------------------------------------------------

    def _github(self, event: str, payload: dict[str, Any], at: datetime) -> Delivery:
        delivery_id = self._uuid()
        headers = {
            "User-Agent": "GitHub-Hookshot/7c1e3a9",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": HOOK_ID,
            "X-GitHub-Hook-Installation-Target-Type": "organization",
            "X-GitHub-Hook-Installation-Target-ID": str(self.org.github_id),
        }
        action = payload.get("action")
        event_type = f"{event}.{action}" if action else event
        return Delivery("github", event_type, delivery_id, headers, _body(payload), at)

    def _user(self, who: Person | Bot) -> dict[str, Any]:
        bot = isinstance(who, Bot)
        return {
            "login": who.github_login,
            "id": who.github_id,
            "type": "Bot" if bot else "User",
            "html_url": f"https://github.com/{who.github_login}",
            "site_admin": False,
        }

    def _repository(self, repo: model.Repo) -> dict[str, Any]:
        return {
            "id": repo.repo_id,
            "name": repo.name,
            "full_name": f"{self.org.slug}/{repo.name}",
            "private": True,
            "owner": {"login": self.org.slug, "id": self.org.github_id, "type": "Organization"},
            "html_url": f"{self.github}/{repo.name}",
            "default_branch": "main",
        }

    def _envelope(self, repo: model.Repo, sender: Person | Bot) -> dict[str, Any]:
        return {
            "repository": self._repository(repo),
            "organization": {"login": self.org.slug, "id": self.org.github_id},
            "sender": self._user(sender),
        }

    def _pr_object(self, pr: model.PullRequest, at: datetime) -> dict[str, Any]:
        head, commits = pr.head_at(at)
        merged = pr.merged_at is not None and pr.merged_at <= at
        closed = pr.closed_at is not None and pr.closed_at <= at
        full_name = f"{self.org.slug}/{pr.repo.name}"
        return {
            "id": pr.pr_id,
            "number": pr.number,
            "html_url": f"{self.github}/{pr.repo.name}/pull/{pr.number}",
            "state": "closed" if closed else "open",
            "locked": False,
            "title": pr.title,
            "body": f"Closes {pr.issue.key}" if pr.issue else None,
            "user": self._user(pr.author),
            "created_at": _iso(pr.opened_at),
            "updated_at": _iso(at),
            "closed_at": _iso(pr.closed_at) if closed and pr.closed_at else None,
            "merged_at": _iso(pr.merged_at) if merged and pr.merged_at else None,
            "merge_commit_sha": pr.merge_sha if merged else None,
            "draft": False,
            "merged": merged,
            "merged_by": self._user(pr.author) if merged else None,
            "head": {
                "label": f"{self.org.slug}:{pr.branch}",
                "ref": pr.branch,
                "sha": head,
                "repo": {"id": pr.repo.repo_id, "full_name": full_name},
            },
            "base": {
                "label": f"{self.org.slug}:main",
                "ref": "main",
                "sha": pr.base_sha,
                "repo": {"id": pr.repo.repo_id, "full_name": full_name},
            },
            "labels": [{"name": name} for name in pr.labels],
            "commits": commits,
            "additions": pr.additions,
            "deletions": pr.deletions,
            "changed_files": pr.changed_files,
            "author_association": "MEMBER",
        }

    def _pull_request(self, e: model.PullRequestChanged) -> Delivery:
        payload = {
            "action": e.action,
            "number": e.pr.number,
            "pull_request": self._pr_object(e.pr, e.at),
        }
        if e.action == "synchronize":
            heads = [sha for pushed, sha, _ in e.pr.pushes if pushed <= e.at]
            payload["before"], payload["after"] = heads[-2], heads[-1]
        payload.update(self._envelope(e.pr.repo, e.pr.author))
        return self._github("pull_request", payload, e.at)

    def _review(self, e: model.Reviewed) -> Delivery:
        pr = e.pr
        body = {
            "approved": "LGTM",
            "changes_requested": "A few things to fix first.",
            "commented": "Left some questions.",
        }[e.state]
        payload = {
            "action": "submitted",
            "review": {
                "id": e.review_id,
                "user": self._user(e.reviewer),
                "body": body,
                "commit_id": pr.head_at(e.at)[0],
                "submitted_at": _iso(e.at),
                "state": e.state,
                "html_url": f"{self.github}/{pr.repo.name}/pull/{pr.number}"
                f"#pullrequestreview-{e.review_id}",
                "author_association": "MEMBER",
            },
            "pull_request": self._pr_object(pr, e.at),
            **self._envelope(pr.repo, e.reviewer),
        }
        return self._github("pull_request_review", payload, e.at)

    def _commit(self, commit: model.Commit, repo: model.Repo) -> dict[str, Any]:
        author = {
            "name": commit.author.git_name,
            "email": commit.email,
            "username": commit.author.github_login,
        }
        return {
            "id": commit.sha,
            "tree_id": f"{self.rng.getrandbits(160):040x}",
            "distinct": True,
            "message": commit.message,
            "timestamp": _iso(commit.at),
            "url": f"{self.github}/{repo.name}/commit/{commit.sha}",
            "author": author,
            "committer": author
            if commit.files
            else {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [],
            "removed": [],
            "modified": list(commit.files),
        }

    def _push(self, e: model.Pushed) -> Delivery:
        commits = [self._commit(c, e.repo) for c in e.commits]
        payload = {
            "ref": f"refs/heads/{e.branch}",
            "before": e.before,
            "after": e.after,
            "created": e.created,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"{self.github}/{e.repo.name}/compare/{e.before[:12]}...{e.after[:12]}",
            "commits": commits,
            "head_commit": commits[-1],
            "pusher": {"name": e.pusher.github_login, "email": e.pusher.commit_email},
            **self._envelope(e.repo, e.pusher),
        }
        return self._github("push", payload, e.at)

    def _run_object(self, run: model.WorkflowRun, completed: bool) -> dict[str, Any]:
        pulls = []
        if run.pr is not None:
            pulls.append(
                {
                    "id": run.pr.pr_id,
                    "number": run.pr.number,
                    "head": {"ref": run.branch, "sha": run.sha},
                    "base": {"ref": "main", "sha": run.pr.base_sha},
                }
            )
        return {
            "id": run.run_id,
            "name": run.name,
            "workflow_id": 90_000_000 + run.repo.index,
            "path": ".github/workflows/ci.yml",
            "head_branch": run.branch,
            "head_sha": run.sha,
            "run_number": run.number,
            "run_attempt": 1,
            "event": run.event,
            "status": "completed" if completed else "queued",
            "conclusion": run.conclusion if completed else None,
            "created_at": _iso(run.created_at),
            "run_started_at": _iso(run.started_at),
            "updated_at": _iso(run.completed_at if completed else run.created_at),
            "actor": self._user(run.actor),
            "triggering_actor": self._user(run.actor),
            "pull_requests": pulls,
            "html_url": f"{self.github}/{run.repo.name}/actions/runs/{run.run_id}",
        }

    def _workflow_run(self, e: model.RunChanged) -> Delivery:
        run = e.run
        payload = {
            "action": e.action,
            "workflow_run": self._run_object(run, e.action == "completed"),
            "workflow": {
                "id": 90_000_000 + run.repo.index,
                "name": run.name,
                "path": ".github/workflows/ci.yml",
            },
            **self._envelope(run.repo, run.actor),
        }
        return self._github("workflow_run", payload, e.at)

    def _workflow_job(self, e: model.JobCompleted) -> Delivery:
        job, run = e.job, e.job.run
        payload = {
            "action": "completed",
            "workflow_job": {
                "id": job.job_id,
                "run_id": run.run_id,
                "run_attempt": 1,
                "workflow_name": run.name,
                "head_branch": run.branch,
                "head_sha": run.sha,
                "name": job.name,
                "status": "completed",
                "conclusion": job.conclusion,
                "created_at": _iso(run.started_at),
                "started_at": _iso(job.started_at),
                "completed_at": _iso(job.completed_at),
                "labels": ["ubuntu-latest"],
                "runner_name": f"GitHub Actions {job.job_id % 97}",
                "runner_group_name": "GitHub Actions",
                "steps": [
                    {
                        "name": "Set up job",
                        "status": "completed",
                        "conclusion": "success",
                        "number": 1,
                        "started_at": _iso(job.started_at),
                        "completed_at": _iso(job.started_at),
                    },
                    {
                        "name": f"Run {job.name}",
                        "status": "completed",
                        "conclusion": job.conclusion,
                        "number": 2,
                        "started_at": _iso(job.started_at),
                        "completed_at": _iso(job.completed_at),
                    },
                ],
                "html_url": f"{self.github}/{run.repo.name}/actions/runs/{run.run_id}"
                f"/job/{job.job_id}",
            },
            **self._envelope(run.repo, run.actor),
        }
        return self._github("workflow_job", payload, e.at)

    def _deployment_object(self, deploy: model.Deploy) -> dict[str, Any]:
        production = deploy.environment == "production"
        return {
            "id": deploy.deploy_id,
            "sha": deploy.sha,
            "ref": "main",
            "task": "deploy",
            "payload": {"pull_requests": [pr.number for pr in deploy.prs]}
            | ({"rollback_of": deploy.rollback_of.deploy_id} if deploy.rollback_of else {}),
            "original_environment": deploy.environment,
            "environment": deploy.environment,
            "description": deploy.description,
            "creator": self._user(deploy.creator),
            "created_at": _iso(deploy.created_at),
            "updated_at": _iso(deploy.created_at),
            "transient_environment": False,
            "production_environment": production,
        }

    def _deployment(self, e: model.DeploymentCreated) -> Delivery:
        payload = {
            "action": "created",
            "deployment": self._deployment_object(e.deploy),
            **self._envelope(e.deploy.repo, e.deploy.creator),
        }
        return self._github("deployment", payload, e.at)

    def _deployment_status(self, e: model.DeploymentStatusChanged) -> Delivery:
        deploy = e.deploy
        url = f"{self.github}/{deploy.repo.name}/actions/runs/{deploy.deploy_id}"
        payload = {
            "action": "created",
            "deployment_status": {
                "id": e.status_id,
                "state": e.state,
                "creator": self._user(deploy.creator),
                "description": {
                    "in_progress": "Deploying",
                    "success": "Deployed",
                    "failure": "Deploy failed",
                }[e.state],
                "environment": deploy.environment,
                "target_url": url,
                "log_url": url,
                "created_at": _iso(e.at),
                "updated_at": _iso(e.at),
            },
            "deployment": self._deployment_object(deploy),
            **self._envelope(deploy.repo, deploy.creator),
        }
        return self._github("deployment_status", payload, e.at)

    # -- PagerDuty --------------------------------------------------------------------------

    def _reference(self, kind: str, path: str, ident: str, summary: str) -> dict[str, Any]:
        return {
            "html_url": f"{self.pagerduty}/{path}/{ident}",
            "id": ident,
            "self": f"https://api.pagerduty.com/{path}/{ident}",
            "summary": summary,
            "type": f"{kind}_reference",
        }

    def _incident(self, e: model.IncidentChanged) -> Delivery:
        incident = e.incident
        team = self.org.team(incident.repo.team)
        status = {"triggered": "triggered", "acknowledged": "acknowledged", "resolved": "resolved"}[
            e.action
        ]
        assignee = incident.assignee
        event = {
            "id": self._alnum(26),
            "event_type": f"incident.{e.action}",
            "resource_type": "incident",
            "occurred_at": _iso_ms(e.at),
            "agent": self._reference("user", "users", e.agent.pagerduty_id, e.agent.name)
            if e.agent
            else None,
            "client": None if e.agent else {"name": "Datadog"},
            "data": {
                "id": incident.incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident.incident_id}",
                "html_url": f"{self.pagerduty}/incidents/{incident.incident_id}",
                "number": incident.number,
                "status": status,
                "incident_key": incident.key,
                "created_at": _iso(incident.created_at),
                "title": incident.title,
                "urgency": incident.urgency,
                "service": self._reference(
                    "service", "services", incident.repo.pagerduty_service_id, incident.repo.service
                ),
                "assignees": [
                    self._reference("user", "users", assignee.pagerduty_id, assignee.name)
                ],
                "escalation_policy": self._reference(
                    "escalation_policy",
                    "escalation_policies",
                    team.escalation_policy_id,
                    f"{team.name} on-call",
                ),
                "teams": [self._reference("team", "teams", team.pagerduty_id, team.name)],
                "priority": self._reference(
                    "priority", "priorities", f"PPR{incident.priority}", incident.priority
                ),
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
        webhook_id = self._uuid()
        headers = {
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-Webhook-Id": webhook_id,
            "X-Webhook-Subscription": self.subscription,
        }
        return Delivery(
            "pagerduty", f"incident.{e.action}", webhook_id, headers, _body({"event": event}), e.at
        )

    # -- Jira -------------------------------------------------------------------------------

    def _jira(self, payload: dict[str, Any], at: datetime) -> Delivery:
        identifier = self._uuid()
        headers = {
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": identifier,
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        return Delivery("jira", payload["webhookEvent"], identifier, headers, _body(payload), at)

    def _jira_user(self, person: Person) -> dict[str, Any]:
        return {
            "self": f"{self.jira}/rest/api/2/user?accountId={person.jira_account_id}",
            "accountId": person.jira_account_id,
            "displayName": person.name,
            "emailAddress": person.work_email,
            "active": True,
            "timeZone": "UTC",
            "accountType": "atlassian",
        }

    def _sprint_object(self, sprint: model.Sprint, state: str) -> dict[str, Any]:
        return {
            "id": sprint.sprint_id,
            "self": f"{self.jira}/rest/agile/1.0/sprint/{sprint.sprint_id}",
            "state": state,
            "name": sprint.name,
            "startDate": _iso_ms(sprint.start),
            "endDate": _iso_ms(sprint.end),
            "originBoardId": sprint.project.index,
            "goal": f"Ship what {sprint.project.name} planned",
        }

    def _issue_object(
        self, issue: model.Issue, status: model.Status, at: datetime
    ) -> dict[str, Any]:
        sid, name, category, key = status
        project = issue.project
        return {
            "id": str(issue.issue_id),
            "self": f"{self.jira}/rest/api/2/issue/{issue.issue_id}",
            "key": issue.key,
            "fields": {
                "summary": issue.summary,
                "created": _jira_time(issue.created_at),
                "updated": _jira_time(at),
                "resolutiondate": _jira_time(at) if key == "done" else None,
                "issuetype": {
                    "id": {"Story": "10001", "Bug": "10004", "Task": "10002"}[issue.kind],
                    "name": issue.kind,
                },
                "project": {
                    "id": str(10_000 + project.index),
                    "key": project.jira_key,
                    "name": project.name,
                },
                "priority": {
                    "id": {"High": "2", "Medium": "3", "Low": "4"}[issue.priority],
                    "name": issue.priority,
                },
                "status": {"id": sid, "name": name, "statusCategory": {"id": category, "key": key}},
                "assignee": self._jira_user(issue.assignee),
                "reporter": self._jira_user(issue.reporter),
                "customfield_10020": [self._sprint_object(issue.sprint, "active")]
                if issue.sprint
                else None,
            },
        }

    def _issue_created(self, e: model.IssueCreated) -> Delivery:
        payload = {
            "timestamp": int(e.at.timestamp() * 1000),
            "webhookEvent": "jira:issue_created",
            "issue_event_type_name": "issue_created",
            "user": self._jira_user(e.issue.reporter),
            "issue": self._issue_object(e.issue, model.TODO, e.at),
        }
        return self._jira(payload, e.at)

    def _issue_transitioned(self, e: model.IssueTransitioned) -> Delivery:
        items: list[dict[str, str | None]] = [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": e.before[0],
                "fromString": e.before[1],
                "to": e.after[0],
                "toString": e.after[1],
            }
        ]
        if e.after == model.DONE:
            items.append(
                {
                    "field": "resolution",
                    "fieldtype": "jira",
                    "fieldId": "resolution",
                    "from": None,
                    "fromString": None,
                    "to": "10000",
                    "toString": "Done",
                }
            )
        payload = {
            "timestamp": int(e.at.timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": self._jira_user(e.actor),
            "issue": self._issue_object(e.issue, e.after, e.at),
            "changelog": {"id": str(e.changelog_id), "items": items},
        }
        return self._jira(payload, e.at)

    def _sprint(self, e: model.SprintChanged) -> Delivery:
        sprint = self._sprint_object(e.sprint, "closed" if e.action == "closed" else "active")
        if e.action == "closed":
            sprint["completeDate"] = _iso_ms(e.at)
        payload = {
            "timestamp": int(e.at.timestamp() * 1000),
            "webhookEvent": f"sprint_{e.action}",
            "sprint": sprint,
        }
        return self._jira(payload, e.at)

    # -- Slack ------------------------------------------------------------------------------

    def _message(self, e: model.MessagePosted) -> Delivery:
        ts = f"{e.at.timestamp():.6f}"
        event_id = "Ev0" + self._alnum(9)
        team = self.org.slack_team_id
        payload = {
            "token": "synthetic0verification0token",
            "team_id": team,
            "context_team_id": team,
            "api_app_id": self.slack_app,
            "event": {
                "type": "message",
                "user": e.person.slack_id,
                "text": e.text,
                "ts": ts,
                "channel": self.org.channels[e.channel],
                "channel_type": "channel",
                "event_ts": ts,
                "client_msg_id": self._uuid(),
            },
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(e.at.timestamp()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.slack_bot,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + self._alnum(22),
        }
        headers = {"User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        return Delivery("slack", "event_callback.message", event_id, headers, _body(payload), e.at)
