"""The metrics engine on hand-built scenarios with known answers: each metric's default
definition, the compatibility modes, dimensions, periods, explain, and the marks that
drive the incremental refresh."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

from tests.metrics_helpers import World, at
from workers.app import make_app

Conn = psycopg.Connection[Any]
MARCH = "2026-03-01..2026-03-31"


@pytest.fixture
def w(conn: Conn) -> World:
    world = World(conn)
    world.repo()
    return world


def hours(h: float) -> Any:
    """A value in hours, compared to floating-point precision."""
    return pytest.approx(h)


# --- deployment frequency -----------------------------------------------------------------


def test_deployment_frequency_counts_successful_production_deploys_once(w: World) -> None:
    w.change("c1", first_commit=at(0), merged=at(0, 2), merge_sha="s1")
    w.change("c2", first_commit=at(0, 1), merged=at(0, 3), merge_sha="s2")
    w.deploy("d1", at(0, 4), commit="s2")  # ships both changes: one deployment
    w.deploy("d2", at(1), commit="s2", status="failure")
    w.deploy("d3", at(1, 1), commit="s2", environment="staging", environment_class="staging")
    w.deploy("d4", at(2), repo=None, service="web", commit=None)  # a GitOps sync, no repo
    w.deploy("d5", None, status="running")
    w.refresh()
    assert w.value("deployment_frequency", MARCH) == 2
    weekly = w.series("deployment_frequency", MARCH, granularity="week")
    assert [r["value"] for r in weekly] == [0, 2, 0, 0, 0, 0]
    assert w.value("deployment_frequency", MARCH, service="web") == 1


def test_deployment_frequency_tier_uses_deployment_days_per_week(w: World) -> None:
    # Weeks of March 2026 (from Monday 2 March): 5 deployment days, 1 day (3 deploys),
    # then nothing: medians over the weeks of each period.
    for day in range(5):
        w.deploy(f"a{day}", at(day, 1))
    for n in range(3):
        w.deploy(f"b{n}", at(7, n))
    w.refresh()
    week = w.series("deployment_frequency", "2026-03-02..2026-03-08")
    assert (week[0]["value"], week[0]["tier"], week[0]["tier_year"]) == (5, "elite", 2024)
    two = w.series("deployment_frequency", "2026-03-02..2026-03-15")
    assert (two[0]["value"], two[0]["tier"]) == (8, "high")  # median of 5 and 1 days = 3
    four = w.series("deployment_frequency", "2026-03-02..2026-03-29")
    assert four[0]["tier"] == "medium"  # median of 5, 1, 0, 0 = 0.5 days a week
    assert w.series("deployment_frequency", "2026-03-02..2026-03-08", benchmark=2021)[0][
        "tier_year"] == 2021  # fmt: skip
    assert w.series("deployment_frequency", "2026-03-02..2026-03-08", mode="fourkeys")[0][
        "tier_year"] == 2019  # fmt: skip


# --- lead time and PR cycle time ----------------------------------------------------------


def test_lead_time_runs_from_the_first_commit_to_the_first_production_deploy(w: World) -> None:
    # A squash merge: the merge commit is new, the first commit is the change's own.
    w.change("c1", first_commit=at(0), opened=at(0, 1), merged=at(1), merge_sha="sq1")
    w.deploy("stg", at(1, 1), commit="sq1", environment="staging", environment_class="staging")
    w.deploy("p1", at(1, 5), commit="sq1")
    w.deploy("p2", at(2), commit="sq1")  # a redeploy ships nothing new
    w.refresh()
    assert w.value("change_lead_time", MARCH) == hours(29)
    [unit] = w.explain("change_lead_time", MARCH)
    assert unit["entity_id"] == "c1"
    assert unit["links"] == [{"entity": "deploy", "id": "p1", "rule": "commit"}]


def test_a_deploy_ships_what_merged_since_the_previous_one(w: World) -> None:
    w.change("c1", first_commit=at(0), merged=at(0, 2), merge_sha="m1")
    w.change("c2", first_commit=at(0, 1), merged=at(0, 3), merge_sha="m2")
    w.deploy("p1", at(0, 4), commit="m1")  # ships c1 only
    w.change("c3", first_commit=at(0, 2), merged=at(0, 5), merge_sha="m3")
    w.change("c4", first_commit=at(0), merged=at(0, 6), merge_sha="m4", base="release")
    w.deploy("p2", at(0, 8), commit="m3")  # c2 and c3 (c4 merged into another branch)
    w.refresh()
    units = {u["entity_id"]: u for u in w.explain("change_lead_time", MARCH)}
    assert set(units) == {"c1", "c2", "c3"}
    assert units["c1"]["links"][0]["id"] == "p1"
    assert units["c2"]["links"] == [{"entity": "deploy", "id": "p2", "rule": "merge_order"}]
    assert units["c3"]["links"] == [{"entity": "deploy", "id": "p2", "rule": "commit"}]
    assert units["c2"]["value"] == hours(7)
    assert w.value("change_lead_time", MARCH, aggregation="mean") == hours((4 + 7 + 6) / 3)
    assert w.value("change_lead_time", MARCH, aggregation="p90") == hours(6.8)


def test_pr_phases_and_drafts(w: World) -> None:
    # Opened as a draft at +1h, ready at +5h, first response +7h, first review +8h,
    # approved +10h, merged +11h, deployed +13h.
    w.change("c1", first_commit=at(0), opened=at(0, 1), ready=at(0, 5),
             first_response=at(0, 7), first_review=at(0, 8), approved=at(0, 10),
             merged=at(0, 11), merge_sha="m1")  # fmt: skip
    w.deploy("p1", at(0, 13), commit="m1")
    w.refresh()
    assert w.value("pr_coding_time", MARCH) == 300  # to ready, not to opened
    assert w.value("pr_pickup_time", MARCH) == 120  # from ready, not from opened
    assert w.value("pr_review_time", MARCH) == 240
    assert w.value("pr_deploy_time", MARCH) == 120
    assert w.value("pr_cycle_time", MARCH) == 300 + 120 + 240 + 120
    [unit] = w.explain("pr_review_time", MARCH)
    assert unit["detail"]["was_draft"] is True
    assert (unit["detail"]["rework_s"], unit["detail"]["merge_s"]) == (7200, 3600)


def test_negative_phases_are_dropped_not_counted(w: World) -> None:
    # A response recorded before the change was marked ready: no pickup time.
    w.change("c1", first_commit=at(0), opened=at(0, 1), ready=at(0, 5),
             first_response=at(0, 3), merged=at(0, 6))  # fmt: skip
    w.refresh()
    assert w.series("pr_pickup_time", MARCH)[0]["sample_size"] == 0
    assert w.value("pr_review_time", MARCH) == 180


def test_bots_are_kept_out_of_pr_metrics_but_ship_changes(w: World) -> None:
    w.person("Renovate", "github:renovate", bot=True)
    w.person("Ann", "github:ann")
    w.change("bot", author="github:renovate", first_commit=at(0), merged=at(0, 1),
             merge_sha="b1")  # fmt: skip
    w.change("hum", author="github:ann", first_commit=at(0), merged=at(0, 2), merge_sha="h1")
    w.deploy("p1", at(0, 3), commit="h1")
    w.refresh()
    assert w.value("merged_changes", MARCH) == 1
    assert w.series("pr_cycle_time", MARCH)[0]["sample_size"] == 1
    assert w.series("change_lead_time", MARCH)[0]["sample_size"] == 2
    # one human change by one engineer over the 31 days of March
    assert w.value("diffs_per_engineer", MARCH) == pytest.approx(1 / (31 / 7))


def test_devlake_starts_review_at_the_first_comment_and_rounds_minutes_up(w: World) -> None:
    w.actor("github:rev")
    w.actor("github:ci", bot=True)
    w.change("c1", first_commit=at(0), opened=at(0, 0, 10, 30), merged=at(0, 3),
             first_response=at(0, 1), first_review=at(0, 1))  # fmt: skip
    w.review("r0", "c1", "github:ci", at(0, 0, 20))  # a bot's comment never counts
    w.review("r1", "c1", "github:rev", at(0, 1), kind="review", state="approved")
    w.review("r2", "c1", "github:rev", at(0, 2), kind="comment", state="commented")
    w.refresh()
    assert w.value("pr_pickup_time", MARCH) == pytest.approx(49.5)  # to the review
    assert w.value("pr_pickup_time", MARCH, mode="devlake") == 110  # to the comment, ceil
    assert w.value("pr_coding_time", MARCH, mode="devlake") == 11  # 10.5 min rounded up


def test_devlake_median_is_the_lower_median(w: World) -> None:
    for i, h in enumerate((1, 2, 3, 10)):
        w.change(f"c{i}", first_commit=at(i), opened=at(i, h), merged=at(i, 12))
    w.refresh()
    assert w.value("pr_coding_time", MARCH) == 150  # (2 + 3) / 2 hours
    assert w.value("pr_coding_time", MARCH, mode="devlake") == 120
    assert w.value("pr_coding_time", MARCH, mode="middleware") == 240  # the mean


def test_fourkeys_lead_time_is_per_deployed_commit(w: World) -> None:
    w.change("c1", first_commit=at(0), merged=at(1), merge_sha="m1", head="feat")
    w.commit("a1", branch="feat", authored=at(0))
    w.commit("a2", branch="feat", authored=at(0, 12))
    w.deploy("p1", at(1, 12), commit="m1")
    w.refresh()
    assert w.value("change_lead_time", MARCH) == hours(36)
    assert w.value("change_lead_time", MARCH, mode="fourkeys") == hours(30)  # median(36, 24)
    assert w.series("change_lead_time", MARCH, mode="fourkeys")[0]["sample_size"] == 2


# --- failures, recovery and rework --------------------------------------------------------


def test_a_deploy_with_two_incidents_fails_once(w: World) -> None:
    w.deploy("d1", at(0))
    w.deploy("d2", at(1))
    w.incident("i1", at(1, 2), at(1, 4))
    w.incident("i2", at(1, 3), at(1, 9))
    w.refresh()
    assert w.value("change_failure_rate", MARCH) == 0.5
    assert w.value("failed_deployment_recovery_time", MARCH) == hours(9)  # to the last one
    assert w.value("time_to_restore", MARCH) == hours(4)  # median of 2 h and 6 h
    [failed] = [u for u in w.explain("change_failure_rate", MARCH) if u["value"] == 1]
    assert failed["entity_id"] == "d2"
    assert [(x["id"], x["rule"]) for x in failed["links"]] == [("i1", "window"), ("i2", "window")]


def test_an_incident_with_no_deploy_in_the_window_is_not_a_deploy_failure(w: World) -> None:
    w.deploy("d1", at(0))
    w.incident("late", at(4), at(4, 1))  # 96 h after the only deploy
    w.incident("other", at(0, 5), at(0, 6), service="billing")  # no deploy of its service
    w.refresh()
    assert w.value("change_failure_rate", MARCH) == 0
    assert w.series("time_to_restore", MARCH)[0]["sample_size"] == 2  # still restored
    # DevLake and Middleware attach it to the latest prior deploy, however old.
    assert w.value("change_failure_rate", MARCH, mode="devlake") == 1
    assert w.value("change_failure_rate", MARCH, mode="middleware") == 1
    assert w.value("change_failure_rate", MARCH, mode="fourkeys") == 0


def test_explicit_links_win_over_the_time_rule(w: World) -> None:
    w.change("c1", first_commit=at(0), merged=at(0, 1), merge_sha="bad")
    w.deploy("d1", at(0, 2), commit="bad")
    w.change("c2", first_commit=at(0), merged=at(0, 3), merge_sha="good")
    w.deploy("d2", at(0, 4), commit="good")
    w.incident("i1", at(0, 5), at(0, 7), links=("commit:bad",))
    w.refresh()
    failed = {u["entity_id"]: u for u in w.explain("change_failure_rate", MARCH)}
    assert (failed["d1"]["value"], failed["d2"]["value"]) == (1, 0)
    assert [x["rule"] for x in failed["d1"]["links"] if x["relation"] == "failure"] == ["explicit"]
    assert w.value("change_failure_rate", MARCH, mode="fourkeys") == 0.5
    [incident] = w.explain("time_to_restore", MARCH)
    assert incident["links"] == [
        {"entity": "deploy", "id": "d1", "relation": "failure", "rule": "explicit"}
    ]


def test_rollbacks_and_hotfixes(w: World) -> None:
    w.deploy("d1", at(0))
    w.deploy("d2", at(1))
    w.incident("i1", at(1, 1), at(1, 6))
    w.deploy("fix", at(1, 3), hotfix=True)  # remediates i1 while it is open
    w.deploy("d3", at(2))
    w.deploy("rb", at(2, 2), rollback=True)  # undoes d3, no incident
    w.refresh()
    failed = {u["entity_id"]: u["value"] for u in w.explain("change_failure_rate", MARCH)}
    assert failed == {"d1": 0, "d2": 1, "fix": 0, "d3": 1, "rb": 0}
    assert w.value("deployment_rework_rate", MARCH) == pytest.approx(1 / 5)
    recovery = {u["entity_id"]: u["value"] for u in w.explain("failed_deployment_recovery_time",
                                                                 MARCH)}  # fmt: skip
    assert recovery == {"d2": hours(3), "d3": hours(2)}  # the hotfix, the rollback


def test_an_incident_followed_by_a_rollback_fails_the_rolled_back_deploy(w: World) -> None:
    w.deploy("d1", at(0))
    w.incident("i1", at(0, 1), at(0, 9))
    w.deploy("d2", at(0, 2))  # deployed during the incident, then rolled back
    w.deploy("rb", at(0, 3), rollback=True)
    w.refresh()
    [incident] = w.explain("time_to_restore", MARCH)
    assert incident["links"] == [
        {"entity": "deploy", "id": "d2", "relation": "failure", "rule": "rollback"}
    ]


def test_a_merged_revert_is_a_failure_of_the_reverted_deploy(w: World) -> None:
    w.change("c1", title="Add cache", first_commit=at(0), merged=at(0, 1), merge_sha="m1")
    w.deploy("d1", at(0, 2), commit="m1")
    w.change("c2", title='Revert "Add cache"', first_commit=at(0, 3), merged=at(0, 4),
             merge_sha="m2")  # fmt: skip
    w.deploy("d2", at(0, 5), commit="m2")
    w.refresh()
    failed = {u["entity_id"]: u for u in w.explain("change_failure_rate", MARCH)}
    assert (failed["d1"]["value"], failed["d2"]["value"]) == (1, 0)
    assert {"entity": "revert", "id": "c2", "relation": "failure", "rule": "rollback",
            "recovered_at": "2026-03-02T14:00:00+00:00"} in failed["d1"]["links"]  # fmt: skip


# --- dimensions and periods ---------------------------------------------------------------


def test_a_change_counts_for_the_team_its_author_was_on_when_it_merged(w: World) -> None:
    ann = w.person("Ann", "github:ann")
    w.team("eng")
    w.team("web", "eng")
    w.team("api", "eng")
    w.member("web", ann, at(-30), at(5))
    w.member("api", ann, at(5))  # moves mid-period
    w.change("c1", author="github:ann", first_commit=at(0), merged=at(1), merge_sha="m1")
    w.change("c2", author="github:ann", first_commit=at(6), merged=at(7), merge_sha="m2")
    w.deploy("p1", at(1, 1), commit="m1")
    w.deploy("p2", at(7, 2), commit="m2")
    w.refresh()
    assert w.value("merged_changes", MARCH, team="web") == 1
    assert w.value("merged_changes", MARCH, team="api") == 1
    assert w.value("merged_changes", MARCH, team="eng") == 2
    assert w.value("change_lead_time", MARCH, team="web") == hours(25)
    assert w.value("change_lead_time", MARCH, team="api") == hours(26)
    assert w.value("deployment_frequency", MARCH, team="api") == 1
    assert w.value("deployment_frequency", MARCH, team="eng") == 2


def test_a_parent_team_counts_a_change_shared_by_two_subteams_once(w: World) -> None:
    ann = w.person("Ann", "github:ann")
    bob = w.person("Bob", "github:bob")
    w.team("eng")
    w.team("web", "eng")
    w.team("api", "eng")
    w.member("web", ann, at(-30))
    w.member("api", ann, at(-30))  # on both subteams
    w.member("api", bob, at(-30))
    w.change("c1", author="github:ann", first_commit=at(0), merged=at(1))
    w.change("c2", author="github:bob", first_commit=at(0), merged=at(2))
    w.refresh()
    assert w.value("merged_changes", MARCH, team="web") == 1
    assert w.value("merged_changes", MARCH, team="api") == 2
    assert w.value("merged_changes", MARCH, team="eng") == 2
    assert w.value("pr_coding_time", MARCH, team="eng", aggregation="mean") is not None


def test_periods_follow_the_org_time_zone(conn: Conn) -> None:
    w = World(conn, "tokyo", timezone="Asia/Tokyo")
    w.repo()
    w.deploy("d1", at(-2, 14, 30))  # 28 Feb 23:30 UTC = 1 March 08:30 in Tokyo
    w.deploy("d2", at(29, 5))  # 31 March 14:00 UTC = 31 March 23:00 in Tokyo
    w.deploy("d3", at(29, 6, 30))  # 31 March 15:30 UTC = 1 April 00:30 in Tokyo
    w.refresh()
    assert w.value("deployment_frequency", "2026-03") == 2
    assert w.value("deployment_frequency", "2026-Q1") == 2
    monthly = w.series("deployment_frequency", "2026-02-01..2026-04-30", granularity="month")
    assert [(str(r["period_start"].date()), r["value"]) for r in monthly] == [
        ("2026-01-31", 0),
        ("2026-02-28", 2),
        ("2026-03-31", 1),
    ]  # local midnights, in UTC


def test_windows_and_scopes_are_checked(w: World) -> None:
    def refused(error: type[Exception], window: str = MARCH, metric: str = "merged_changes",
                match: str | None = None, **kw: Any) -> None:  # fmt: skip
        with pytest.raises(error, match=match), w.conn.transaction():  # a savepoint
            w.series(metric, window, **kw)

    for window in ("3x", "2026-13", "2026-Q5", "2026-05-01..2026-04-01", "x..y"):
        refused(psycopg.errors.InvalidParameterValue, window)
    refused(psycopg.errors.InvalidParameterValue, granularity="fortnight")
    refused(psycopg.errors.InvalidParameterValue, aggregation="p99")
    refused(psycopg.errors.InvalidParameterValue, mode="linearb")
    refused(psycopg.errors.InvalidParameterValue, match="no benchmark set", benchmark=1999)
    refused(psycopg.errors.InvalidParameterValue, match="person id", person="ann")
    refused(psycopg.errors.InvalidParameterValue, metric="lead_time", match="no metric")
    refused(psycopg.errors.NoDataFound, match="no team nope", team="nope")
    refused(psycopg.errors.NoDataFound, match="no repository", repo="acme/nope")
    refused(psycopg.errors.InvalidParameterValue, metric="deployment_frequency",
            match="person scope", person="00000000-0000-0000-0000-000000000000")  # fmt: skip
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown keys"):
        w.conn.execute("SELECT * FROM api.get_metric('merged_changes', %s)",
                       (w.scope(tem="x"),))  # fmt: skip


def test_list_metrics_names_every_metric_with_its_version(conn: Conn) -> None:
    rows = conn.execute("SELECT metric, unit, version, benchmark_years FROM api.list_metrics()")
    listed = {r[0]: r for r in rows.fetchall()}
    assert set(listed) == {
        "deployment_frequency", "change_lead_time", "change_failure_rate",
        "failed_deployment_recovery_time", "time_to_restore", "deployment_rework_rate",
        "pr_cycle_time", "pr_coding_time", "pr_pickup_time", "pr_review_time",
        "pr_deploy_time", "merged_changes", "diffs_per_engineer",
    }  # fmt: skip
    assert listed["change_failure_rate"][3] == [2019, 2021, 2023, 2024]
    assert all(r[2] >= 1 for r in listed.values())


# --- explain and lineage ------------------------------------------------------------------


def test_explain_lists_the_raw_events_behind_a_unit(w: World) -> None:
    w.incident("i1", at(0), at(0, 1))
    event = "6f1c9d2e-0000-4000-8000-000000000001"
    w.conn.execute(
        "INSERT INTO core.facts (org_id, entity, entity_id, event_id, observed_at, tiebreak,"
        " attrs) VALUES (%s, 'incident', 'i1', %s, %s, '\\x00', '{}')",
        (w.org, event, at(0)),
    )
    w.refresh()
    [unit] = w.explain("time_to_restore", MARCH)
    assert [str(e) for e in unit["event_ids"]] == [event]
    assert unit["detail"]["restore_s"] == 3600


# --- marks and the refresh job ------------------------------------------------------------


def test_writes_mark_what_they_touch(w: World) -> None:
    w.refresh()
    w.change("c1", first_commit=at(0), merged=at(1))
    w.change("open", first_commit=at(0))  # open changes do not touch metrics
    w.deploy("d1", at(2), started=at(1, 23))
    w.incident("i1", at(3))
    marks = w.conn.execute(
        "SELECT kind, key, min(since) FROM metrics.dirty WHERE org_id = %s GROUP BY 1, 2"
        " ORDER BY 1, 2",
        (w.org,),
    ).fetchall()
    assert [(k, key, s) for k, key, s in marks] == [
        ("repo", "github:1", at(1)), ("service", "api", at(1, 23)),
    ]  # fmt: skip
    w.update_change("c1", title="renamed")
    assert w.conn.execute(
        "SELECT kind, key FROM metrics.dirty WHERE org_id = %s AND kind = 'change'", (w.org,)
    ).fetchall() == [("change", "c1")]
    jobs = w.conn.execute(
        "SELECT task_name, queue_name, lock FROM procrastinate_jobs WHERE queueing_lock = %s",
        (f"metrics:{w.org}",),
    ).fetchall()
    assert jobs == [("qdx:refresh_metrics", "metrics", f"metrics:{w.org}")]
    result = w.refresh()
    assert (result["changes"], result["deploys"], result["incidents"]) == (1, 1, 1)
    assert w.refresh() == {"marks": 0}


def test_a_new_engine_version_rebuilds_on_the_next_refresh(w: World) -> None:
    w.change("c1", first_commit=at(0), merged=at(1))
    w.refresh()
    before = w.stored()
    w.conn.execute("UPDATE metrics.change_units SET coding_s = -1 WHERE org_id = %s", (w.org,))
    w.conn.execute("UPDATE metrics.state SET version = 0 WHERE org_id = %s", (w.org,))
    w.refresh()
    assert w.stored() == before


def test_the_refresh_job_runs_after_normalization_commits(database: str) -> None:
    with psycopg.connect(database) as conn:
        w = World(conn, "jobs")
        w.repo()
        w.change("c1", first_commit=at(0), merged=at(1))
        conn.commit()

    async def run_jobs() -> None:
        app = make_app(database)
        async with app.open_async():
            await app.run_worker_async(queues=["metrics"], wait=False,
                                       install_signal_handlers=False)  # fmt: skip

    time.sleep(2.2)  # the job is scheduled two seconds after the write
    asyncio.run(run_jobs())
    with psycopg.connect(database) as conn:
        status = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE task_name = 'qdx:refresh_metrics'"
        ).fetchall()
        units = conn.execute("SELECT change_id FROM metrics.change_units").fetchall()
    assert status == [("succeeded",)]
    assert units == [("c1",)]


def test_the_worked_example_of_the_metrics_docs(w: World) -> None:
    """docs/metrics.md, "Worked example": the same rows give the numbers it states."""
    w.change("c1", first_commit=at(0), opened=at(0, 2), first_response=at(0, 5),
             first_review=at(0, 5), approved=at(0, 6), merged=at(1), merge_sha="aaa")  # fmt: skip
    w.change("c2", first_commit=at(1), opened=at(1, 1), merged=at(2), merge_sha="bbb")
    w.deploy("d1", at(2, 1), commit="bbb")
    w.incident("i1", at(2, 3), at(2, 5))
    w.refresh()
    shipped = {u["entity_id"]: u["links"][0]["rule"] for u in w.explain("change_lead_time", MARCH)}
    assert shipped == {"c1": "merge_order", "c2": "commit"}
    lead = w.series("change_lead_time", MARCH)[0]
    assert (lead["value"], lead["tier"], lead["tier_year"]) == (37, "high", 2024)
    assert w.value("deployment_frequency", MARCH) == 1
    assert w.value("change_failure_rate", MARCH) == 1
    assert w.value("failed_deployment_recovery_time", MARCH) == hours(4)
    assert w.value("time_to_restore", MARCH) == hours(2)
    cycle = {u["entity_id"]: u["value"] for u in w.explain("pr_cycle_time", MARCH)}
    assert cycle == {"c1": 2940, "c2": 120}
    assert w.value("pr_cycle_time", MARCH) == 1530


def test_a_deploy_of_several_repositories_ships_each_named_change_once(w: World) -> None:
    w.repo("github:2", "acme/web")
    w.change("a1", repo="github:1", first_commit=at(0), merged=at(0, 1), merge_sha="sa")
    w.change("b1", repo="github:2", first_commit=at(0), merged=at(0, 2), merge_sha="sb")
    # One release of the platform service ships both repositories' artifacts.
    w.deploy("rel", at(0, 4), service="platform", commit="sa", shas=("sa", "sb"))
    w.deploy("sync", at(0, 6), service="gitops", repo=None, shas=("sb",))  # later: not first
    w.refresh()
    assert w.value("deployment_frequency", MARCH) == 2
    assert w.value("deployment_frequency", MARCH, service="platform") == 1
    units = {u["entity_id"]: u for u in w.explain("change_lead_time", MARCH)}
    assert {k: u["links"] for k, u in units.items()} == {
        "a1": [{"entity": "deploy", "id": "rel", "rule": "commit"}],
        "b1": [{"entity": "deploy", "id": "rel", "rule": "commit"}],
    }
    assert units["b1"]["value"] == hours(4)
    [rel] = [u for u in w.explain("deployment_frequency", MARCH) if u["entity_id"] == "rel"]
    assert rel["detail"]["changes"] == 2
