"""The synthetic organisation: reproducible, about the size asked for, in each vendor's
format (every delivery accepted by the real receiver), with retries, reordering and
deploy-caused incidents; and `qdx demo` streaming it into a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from qdx.cli import main
from qdx.settings import Settings
from synth.emit import SOURCES, Delivery, deliveries
from synth.model import History, add_working
from tests.helpers import free_port
from tests.test_crash import wait_ready
from tests.webhook_helpers import make_endpoint
from web.app import create_app
from web.webhooks.registry import all_sources

END = date(2026, 3, 2)


def emitted(size: int, seed: int = 1, days: int = 30, **options: Any) -> list[Delivery]:
    return list(deliveries(History(seed=seed, size=size, days=days, end=END), **options))


def payloads(items: list[Delivery], event_type: str) -> Iterator[dict[str, Any]]:
    for d in items:
        if d.event_type == event_type and not d.duplicate:
            yield json.loads(d.body)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_same_seed_gives_the_same_deliveries() -> None:
    first, again = emitted(600, seed=7), emitted(600, seed=7)
    assert [(d.delivery_id, d.headers, d.body, d.duplicate) for d in first] == [
        (d.delivery_id, d.headers, d.body, d.duplicate) for d in again
    ]
    other = emitted(600, seed=8)
    assert {d.delivery_id for d in first}.isdisjoint({d.delivery_id for d in other})


@pytest.mark.parametrize("size", [3_000, 30_000])
def test_the_size_is_met_roughly(size: int) -> None:
    distinct = sum(
        1 for d in deliveries(History(seed=2, size=size, days=90, end=END)) if not d.duplicate
    )
    assert 0.8 * size <= distinct <= 1.2 * size


def test_retries_repeat_an_earlier_delivery_and_arrival_is_shuffled() -> None:
    items = emitted(5_000, duplicate_rate=0.05, reorder_window=16)
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    for d in items:
        key = (d.source, d.delivery_id)
        if d.duplicate:
            assert key in seen, "a retry arrived before its first delivery"
            duplicates += 1
        else:
            assert key not in seen, "two distinct deliveries share an id"
            seen.add(key)
    assert 0.03 * len(seen) < duplicates < 0.07 * len(seen)
    retried = next(d for d in items if d.duplicate and d.source == "jira")
    assert retried.headers["X-Atlassian-Webhook-Retry"] == "1"
    moments = [d.occurred_at for d in items if not d.duplicate]
    assert moments != sorted(moments)
    in_order = emitted(5_000, duplicate_rate=0.0, reorder_window=0)
    assert [d.occurred_at for d in in_order] == sorted(d.occurred_at for d in in_order)
    assert not any(d.duplicate for d in in_order)


def test_the_org_has_people_with_several_accounts() -> None:
    history = History(seed=3, size=20_000, days=30, end=END)
    org = history.org
    assert len(org.people) >= 8
    assert any(t.parent is None for t in org.teams)
    assert any(t.parent not in (None, "engineering") for t in org.teams)  # a deeper tree
    for person in org.people:
        assert person.github_login
        assert person.github_id
        assert person.jira_account_id
        assert person.pagerduty_id.startswith("P")
        assert person.slack_id.startswith("U")
        assert person.work_email.endswith(f"@{org.domain}")
    assert any(p.personal_email for p in org.people)
    assert len({p.github_login for p in org.people}) == len(org.people)
    # Commits come from more than the work address.
    items = list(deliveries(history))
    emails = {c["author"]["email"] for p in payloads(items, "push") for c in p["commits"]}
    assert any(e.endswith("noreply.github.com") for e in emails)
    assert any(e.endswith(f"@{org.domain}") for e in emails)


def test_pull_requests_name_their_issues_and_follow_working_hours() -> None:
    items = emitted(20_000, days=60)
    issue_keys = {p["issue"]["key"] for p in payloads(items, "jira:issue_created")}
    opened = list(payloads(items, "pull_request.opened"))
    linked = [p for p in opened if p["pull_request"]["title"].split(":")[0] in issue_keys]
    assert len(linked) > 0.6 * len(opened)
    assert all(
        p["pull_request"]["title"].split(":")[0].lower() in p["pull_request"]["head"]["ref"]
        for p in linked
    )
    weekdays = sum(1 for p in opened if parse(p["pull_request"]["created_at"]).weekday() < 5)
    assert weekdays > 0.9 * len(opened)
    merged = [p for p in payloads(items, "pull_request.closed") if p["pull_request"]["merged"]]
    closed = list(payloads(items, "pull_request.closed"))
    assert 0.8 * len(closed) < len(merged) < len(closed)
    states = Counter(p["review"]["state"] for p in payloads(items, "pull_request_review.submitted"))
    assert set(states) == {"approved", "changes_requested", "commented"}
    conclusions = Counter(p["workflow_run"]["conclusion"] for p in payloads(
        items, "workflow_run.completed"))  # fmt: skip
    assert conclusions["failure"] > 0
    assert conclusions["success"] > 5 * conclusions["failure"]
    environments = Counter(
        (p["deployment"]["environment"], p["deployment_status"]["state"])
        for p in payloads(items, "deployment_status.created")
    )
    assert environments["staging", "success"] > environments["production", "success"] > 0
    assert environments["production", "failure"] > 0
    transitions = Counter(
        (p["changelog"]["items"][0]["fromString"], p["changelog"]["items"][0]["toString"])
        for p in payloads(items, "jira:issue_updated")
    )
    assert transitions["In Review", "Done"] > 0
    assert transitions["To Do", "In Progress"] > 0


def test_some_incidents_start_hours_after_a_production_deploy_of_their_service() -> None:
    items = emitted(40_000, days=90)
    deployed: dict[str, list[datetime]] = {}
    rollbacks = 0
    for p in payloads(items, "deployment_status.created"):
        if (p["deployment"]["environment"], p["deployment_status"]["state"]) == (
            "production", "success",
        ):  # fmt: skip
            deployed.setdefault(p["repository"]["name"], []).append(
                parse(p["deployment_status"]["created_at"])
            )
            rollbacks += "rollback_of" in p["deployment"]["payload"]
    after_deploy = unrelated = 0
    for p in payloads(items, "incident.triggered"):
        data = p["event"]["data"]
        started = parse(data["created_at"])
        assert data["title"].startswith(data["service"]["summary"])
        if any(
            timedelta(0) < started - at < timedelta(hours=6)
            for at in deployed.get(data["service"]["summary"], [])
        ):
            after_deploy += 1
        else:
            unrelated += 1
    assert after_deploy >= 3
    assert unrelated >= 1
    assert rollbacks >= 1


def test_working_minutes_skip_nights_and_weekends() -> None:
    friday_evening = datetime(2026, 2, 27, 17, 30, tzinfo=UTC)
    assert add_working(friday_evening, 60, 0) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    # A reviewer eight hours behind UTC starts at 17:00 UTC.
    assert add_working(datetime(2026, 3, 2, 12, tzinfo=UTC), 30, -8) == datetime(
        2026, 3, 2, 17, 30, tzinfo=UTC
    )


def test_every_delivery_is_accepted_by_the_real_receiver(database: str) -> None:
    items = emitted(300, days=30, duplicate_rate=0.05)
    assert {d.source for d in items} == set(SOURCES)
    sources = all_sources()
    endpoints = {name: make_endpoint(database, sources[name]) for name in SOURCES}
    answers: Counter[tuple[bool, int]] = Counter()
    with TestClient(create_app(Settings.from_env({}), database)) as http:
        for d in items:
            endpoint = endpoints[d.source]
            signed = sources[d.source].auth.sign(d.body, endpoint.signing_secret, time.time())
            reply = http.post(
                endpoint.path(d.source),
                headers={"Content-Type": d.content_type, **d.headers, **signed.headers},
                params=signed.query,
                content=signed.body,
            )
            answers[d.duplicate, reply.status_code] += 1
            assert reply.status_code == (200 if d.duplicate else 202), (d.event_type, reply.text)
    assert answers[True, 200] > 0
    with psycopg.connect(database) as conn:
        stored = conn.execute("SELECT source, count(*) FROM raw.events GROUP BY 1").fetchall()
    assert dict(stored) == dict(Counter(d.source for d in items if not d.duplicate))


def test_qdx_demo_streams_into_a_running_server(
    qdx_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {**os.environ, "QDX_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "qdx", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    argv = ["demo", "acme", "--events", "400", "--days", "20", "--seed", "5",
            "--url", f"http://127.0.0.1:{port}"]  # fmt: skip
    try:
        wait_ready(port, server)
        assert main(argv) == 0
        first = capsys.readouterr().out
        assert main(argv) == 0  # again: the same endpoints, every delivery a duplicate
        second = capsys.readouterr().out
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = list(deliveries(History(seed=5, size=400, days=20, org_slug="acme")))
    distinct = sum(1 for d in expected if not d.duplicate)
    with psycopg.connect(qdx_env) as conn:
        events = conn.execute("SELECT count(*) FROM raw.events").fetchone()
        endpoints = conn.execute("SELECT count(*) FROM auth.webhook_endpoints").fetchone()
        teams = conn.execute("SELECT count(*) FROM auth.teams").fetchone()
    assert events == (distinct,)
    assert endpoints == (len(SOURCES),)
    assert teams is not None
    assert teams[0] >= 2
    assert f"{len(expected)} deliveries" in first
    assert f" {distinct} accepted, {len(expected) - distinct} duplicates" in first
    assert f" 0 accepted, {len(expected)} duplicates" in second
    assert " 0 errors" in first
    assert " 0 errors" in second


def test_qdx_demo_without_a_server_is_one_line(
    qdx_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("synth.demo.READY_WITHIN", 0.5)
    code = main(["demo", "acme", "--events", "50", "--url", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "qdx: error: " in err
    assert "start the server with `qdx up`" in err
    assert "Traceback" not in err
