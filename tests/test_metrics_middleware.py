"""Middleware's published test scenarios, ported as our own tests of the `middleware` mode.

The facts and expected numbers come from Middleware's test suite
(middlewarehq/middleware, backend/analytics_server/tests/...); the tests are written for
our engine and read every number through api.get_metric (and api.explain_metric where the
rows behind a number matter). Translations from Middleware's model to ours:

- "now - 2d" becomes a fixed moment relative to NOW (tests.metrics_helpers.at), and every
  window is an explicit FROM..TO (dates: TO included; timestamps: TO excluded).
- Middleware reports the change failure rate in percent; we report a ratio (50 % == 0.5).
- A deployment is a successful production deploy here. Middleware's change failure rate
  counts every workflow run of the interval in its denominator, whatever its status; every
  deployment in these scenarios succeeded, so the numbers agree.
- Middleware matches incidents to deployments with no regard to service; we match within a
  service. All deployments and incidents below are of the one service "api".
- Durations: DORA metrics in hours, PR phases in minutes (Middleware: seconds).
- Trend buckets are ISO weeks (Monday) of the org's time zone (UTC here), clipped to the
  window; Middleware's buckets are whole Monday weeks.
- PR phase facts (ready for review, first response, first review, first approval) are what
  normalization derives from reviews into core.changes; the tests set them directly on the
  change, as the facts the Middleware scenario describes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.metrics_helpers import Conn, World, at

MODE = "middleware"
# "now" of the now-relative Middleware scenarios: a Thursday, 2026-03-12 09:00 UTC.
NOW = at(days=10)
# A window holding every now-relative scenario (dates, TO included).
WINDOW = "2026-02-01..2026-03-31"

H = 3600.0  # seconds per hour


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def between(start: datetime, end: datetime) -> str:
    """A FROM..TO window of timestamps (TO excluded)."""
    return f"{start.isoformat()}..{end.isoformat()}"


def ago(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """Middleware's `now - x`, as a fixed moment."""
    return NOW - timedelta(days=days, hours=hours, minutes=minutes)


def row(w: World, metric: str, window: str = WINDOW, *, mode: str = MODE,
        **kw: Any) -> dict[str, Any]:  # fmt: skip
    """The single window row of a metric."""
    rows = w.series(metric, window, mode=mode, **kw)
    assert len(rows) == 1, rows
    return rows[0]


def weekly(w: World, metric: str, window: str, *, mode: str = MODE,
           **kw: Any) -> list[tuple[str, float | None, int]]:  # fmt: skip
    """(period start date, value, sample size) per week of the window."""
    return [
        (r["period_start"].astimezone(UTC).date().isoformat(), r["value"], r["sample_size"])
        for r in w.series(metric, window, granularity="week", mode=mode, **kw)
    ]


def failures(w: World, window: str = WINDOW, mode: str = MODE) -> dict[str, list[str]]:
    """Each deployment of the window with the incidents attributed to it in the mode."""
    return {
        r["entity_id"]: sorted(
            link["id"]
            for link in r["links"]
            if link["relation"] == "failure" and link["entity"] == "incident"
        )
        for r in w.explain("change_failure_rate", window, mode=mode)
    }


def approx_rows(
    expected: list[tuple[str, float | None, int]],
) -> list[tuple[str, Any, int]]:
    return [(d, None if v is None else pytest.approx(v), n) for d, v, n in expected]


# --- change failure rate (Middleware tests/service/Incidents/test_change_failure_rate.py) --


def test_cfr_no_incidents_no_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_no_incidents_no_
    deployments. No deployments: the rate is 0 (not undefined) over 0 deployments."""
    w = World(conn)
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == 0
    assert r["sample_size"] == 0


def test_cfr_deployments_without_incidents(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_no_incidents_and_
    some_deployments. Deployments without incidents: rate 0 over both deployments."""
    w = World(conn)
    w.deploy("d1", ago(days=2))
    w.deploy("d2", ago(hours=6))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == 0
    assert r["sample_size"] == 2
    assert failures(w) == {"d1": [], "d2": []}


def test_cfr_incident_without_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_deployment_incidents_count_map_returns_
    empty_dict_when_given_some_incidents_no_deployments (and the mapper test of that name).
    An incident with no deployment to attribute it to: rate 0, no division by zero."""
    w = World(conn)
    w.incident("i1", ago(days=3))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == 0
    assert r["sample_size"] == 0
    assert failures(w) == {}


def test_cfr_incident_between_two_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_one_incidents_bw_
    two_deployments and test_deployment_incident_mapper.py::...one_incidents_bw_two_
    deployments. The incident goes to the latest deployment at or before it (D1): one of two
    deployments failed, 50 % == 0.5."""
    w = World(conn)
    w.deploy("d1", ago(days=2))
    w.deploy("d2", ago(hours=6))
    w.incident("i1", ago(days=1))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == pytest.approx(0.5)
    assert r["sample_size"] == 2
    assert failures(w) == {"d1": ["i1"], "d2": []}


def test_cfr_incident_before_first_deployment(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_one_incidents_bef_
    two_deployments and the mapper's ...one_incidents_bef_two_deployments. An incident
    opened before any deployment is attributed to none: rate 0 over two deployments."""
    w = World(conn)
    w.deploy("d1", ago(days=2))
    w.deploy("d2", ago(hours=6))
    w.incident("i1", ago(days=3))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == 0
    assert r["sample_size"] == 2
    assert failures(w) == {"d1": [], "d2": []}


def test_cfr_incident_after_last_deployment(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_one_incidents_after_
    two_deployments and the mapper's ...one_incidents_after_two_deployments. An incident
    after the last deployment belongs to it (D2): 0.5."""
    w = World(conn)
    w.deploy("d1", ago(days=2))
    w.deploy("d2", ago(hours=6))
    w.incident("i1", ago(hours=1))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == pytest.approx(0.5)
    assert r["sample_size"] == 2
    assert failures(w) == {"d1": [], "d2": ["i1"]}


def test_cfr_multiple_incidents_multiple_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_multi_incidents_
    multi_deployments. I0 precedes every deployment and is dropped; D5 has three incidents
    and counts once; D1 and D6 have none: 4 failed of 6 deployments (Middleware: 66.67 %)."""
    w = World(conn)
    w.incident("i0", ago(days=10))
    w.deploy("d1", ago(days=7))
    w.deploy("d2", ago(days=6))
    w.incident("i1", ago(days=5))
    w.deploy("d3", ago(days=4))
    w.incident("i2", ago(days=3))
    w.deploy("d4", ago(days=2))
    w.incident("i3", ago(hours=20))
    w.deploy("d5", ago(hours=6))
    w.incident("i4", ago(hours=4))
    w.incident("i5", ago(hours=2))
    w.incident("i6", ago(hours=1))
    w.deploy("d6", ago(minutes=30))
    w.refresh()
    r = row(w, "change_failure_rate")
    assert r["value"] == pytest.approx(4 / 6)
    assert r["sample_size"] == 6
    assert failures(w) == {
        "d1": [],
        "d2": ["i1"],
        "d3": ["i2"],
        "d4": ["i3"],
        "d5": ["i4", "i5", "i6"],
        "d6": [],
    }


def test_cfr_mapper_multiple_incidents_multiple_deployments(conn: Conn) -> None:
    """Ports test_deployment_incident_mapper.py::...multi_incidents_multi_deployments. Each
    incident goes to the latest deployment at or before it: {D0: -, D1: I0, D2: I1, D3: I2,
    D4: I3}, so 4 of 5 deployments failed."""
    w = World(conn)
    w.deploy("d0", ago(days=7))
    w.deploy("d1", ago(days=6))
    w.deploy("d2", ago(days=4))
    w.deploy("d3", ago(days=2))
    w.deploy("d4", ago(hours=6))
    w.incident("i0", ago(days=5))
    w.incident("i1", ago(days=3))
    w.incident("i2", ago(hours=20))
    w.incident("i3", ago(hours=1))
    w.refresh()
    assert failures(w) == {"d0": [], "d1": ["i0"], "d2": ["i1"], "d3": ["i2"], "d4": ["i3"]}
    r = row(w, "change_failure_rate")
    assert r["value"] == pytest.approx(4 / 5)
    assert r["sample_size"] == 5


def test_cfr_incident_at_the_deployment_instant_belongs_to_it(conn: Conn) -> None:
    """The boundary of Middleware's mapping rule (get_deployment_incidents_map: a deployment
    owns the incidents from its own time, inclusive, to the next deployment's, exclusive; no
    Middleware test pins it). An incident opened at the very instant D2 finished is D2's."""
    w = World(conn)
    w.deploy("d1", ago(days=2))
    w.deploy("d2", ago(days=1))
    w.incident("i1", ago(days=1))
    w.refresh()
    assert failures(w) == {"d1": [], "d2": ["i1"]}
    assert row(w, "change_failure_rate")["value"] == pytest.approx(0.5)


# Weekly trends: Middleware's interval 2024-01-02 00:00 -> 2024-01-17 00:00 (or -> 01-24).
# Our weeks are the ISO weeks of the window clipped to it, so the first week starts on
# Tuesday 01-02 (Middleware's key: Monday 01-01); each row is keyed by its clipped start.
CFR_WINDOW_3W = between(ts(2024, 1, 2), ts(2024, 1, 17))
CFR_WINDOW_4W = between(ts(2024, 1, 2), ts(2024, 1, 24))


def test_cfr_weekly_no_incidents_no_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_weekly_change_failure_rate_for_no_incidents_
    no_deployments. Empty weeks are still there, each 0 over 0 deployments."""
    w = World(conn)
    w.refresh()
    assert weekly(w, "change_failure_rate", CFR_WINDOW_3W) == [
        ("2024-01-02", 0, 0),
        ("2024-01-08", 0, 0),
        ("2024-01-15", 0, 0),
    ]


def test_cfr_weekly_deployments_without_incidents(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_weekly_change_failure_rate_for_no_incidents_
    and_some_deployments. One deployment a week, none failed."""
    w = World(conn)
    w.deploy("d1", ts(2024, 1, 4))
    w.deploy("d2", ts(2024, 1, 10))
    w.deploy("d3", ts(2024, 1, 16, 22))
    w.refresh()
    assert weekly(w, "change_failure_rate", CFR_WINDOW_3W) == [
        ("2024-01-02", 0, 1),
        ("2024-01-08", 0, 1),
        ("2024-01-15", 0, 1),
    ]


def test_cfr_weekly_incidents_without_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_weekly_change_failure_rate_for_incidents_
    and_no_deployments. Incidents alone never make a failure rate: every week 0 over 0."""
    w = World(conn)
    to = ts(2024, 1, 17)
    for n, back in enumerate(
        (timedelta(days=14), timedelta(days=10), timedelta(days=7), timedelta(days=3),
         timedelta(hours=2), timedelta(hours=1))
    ):  # fmt: skip
        w.incident(f"i{n}", to - back)
    w.refresh()
    assert weekly(w, "change_failure_rate", CFR_WINDOW_3W) == [
        ("2024-01-02", 0, 0),
        ("2024-01-08", 0, 0),
        ("2024-01-15", 0, 0),
    ]


def test_cfr_weekly_incidents_and_deployments(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_weekly_change_failure_rate_for_incidents_
    and_deployments. A deployment counts in the week it finished; I0 precedes every
    deployment; W1: D2 failed of D1, D2 (0.5); W2 empty; W3: D3 and D5 failed of D3..D6
    (0.5); W4 (Monday 01-22 to the window's end, 01-24) empty."""
    w = World(conn)
    w.incident("i0", ts(2024, 1, 2, 10))
    w.deploy("d1", ts(2024, 1, 2, 12))
    w.deploy("d2", ts(2024, 1, 3))
    w.incident("i1", ts(2024, 1, 3, 4))
    w.incident("i2", ts(2024, 1, 3, 5))
    w.deploy("d3", ts(2024, 1, 18))
    w.incident("i3", ts(2024, 1, 19))
    w.incident("i4", ts(2024, 1, 19))
    w.deploy("d4", ts(2024, 1, 20))
    w.deploy("d5", ts(2024, 1, 21, 18))
    w.incident("i5", ts(2024, 1, 21, 21))
    w.incident("i6", ts(2024, 1, 21, 22))
    w.deploy("d6", ts(2024, 1, 21, 23, 30))
    w.refresh()
    assert weekly(w, "change_failure_rate", CFR_WINDOW_4W) == approx_rows(
        [
            ("2024-01-02", 0.5, 2),
            ("2024-01-08", 0, 0),
            ("2024-01-15", 0.5, 4),
            ("2024-01-22", 0, 0),
        ]
    )
    assert failures(w, CFR_WINDOW_4W) == {
        "d1": [],
        "d2": ["i1", "i2"],
        "d3": ["i3", "i4"],
        "d4": [],
        "d5": ["i5", "i6"],
        "d6": [],
    }


# --- time to restore (Middleware tests/service/Incidents/test_mean_time_to_recovery.py) -----


def test_mttr_no_incidents(conn: Conn) -> None:
    """Ports test_mean_time_to_recovery.py::test_get_incidents_mean_time_to_recovery_for_no_
    incidents. No incidents: no value (None) from 0 incidents."""
    w = World(conn)
    w.refresh()
    r = row(w, "time_to_restore", "2024-01-01..2024-01-31")
    assert r["value"] is None
    assert r["sample_size"] == 0


def test_mttr_is_the_mean_of_recovery_times(conn: Conn) -> None:
    """Ports test_mean_time_to_recovery.py::test_get_incidents_mean_time_to_recovery_for_
    incidents. Incidents opened 2024-01-01 00:00 and resolved after 100, 300, 800 s: mean
    400 s; with a fourth after 90 s: mean 322.5 s. In hours, unrounded. An unresolved
    incident (Middleware reads RESOLVED incidents only) is not counted."""
    opened = ts(2024, 1, 1)
    window = "2024-01-01..2024-01-31"

    three = World(conn, slug="three")
    for n, secs in enumerate((100, 300, 800)):
        three.incident(f"i{n}", opened, opened + timedelta(seconds=secs))
    three.refresh()
    r = row(three, "time_to_restore", window)
    assert r["value"] == pytest.approx(400 / H)
    assert r["sample_size"] == 3
    assert r["aggregated_by"] == "mean"

    four = World(conn, slug="four")
    for n, secs in enumerate((100, 300, 800, 90)):
        four.incident(f"i{n}", opened, opened + timedelta(seconds=secs))
    four.incident("open", opened)
    four.refresh()
    r = row(four, "time_to_restore", window)
    assert r["value"] == pytest.approx(322.5 / H)
    assert r["sample_size"] == 4


def test_mttr_weekly_no_incidents(conn: Conn) -> None:
    """Ports test_mean_time_to_recovery.py (the trend test misnamed test_get_deployment_
    incidents_count_map_returns_empty_dict_when_given_some_incidents_no_deployments).
    Interval 2024-01-01 00:00 -> 2024-01-15 00:00:20: three weeks, each None from 0."""
    w = World(conn)
    w.refresh()
    window = between(ts(2024, 1, 1), ts(2024, 1, 15) + timedelta(seconds=20))
    assert weekly(w, "time_to_restore", window) == [
        ("2024-01-01", None, 0),
        ("2024-01-08", None, 0),
        ("2024-01-15", None, 0),
    ]


def test_mttr_weekly_trend(conn: Conn) -> None:
    """Ports test_mean_time_to_recovery.py (the trend test misnamed test_get_change_failure_
    rate_for_one_incidents_bw_two_deployments). W1: 100, 100, 400 s -> mean 200 s from 3;
    W2: none; W3: four of 100 s -> 100 s from 4; W4: none. Middleware's interval ends at
    Monday 2024-01-22 00:00 inclusive, which opens W4; our window 2024-01-01..2024-01-22
    includes that day, so W4 is the single day 01-22."""
    w = World(conn)
    for n, (opened, secs) in enumerate(
        [
            (ts(2024, 1, 1, 10), 100),
            (ts(2024, 1, 2, 4), 100),
            (ts(2024, 1, 2, 5), 400),
            (ts(2024, 1, 17), 100),
            (ts(2024, 1, 19), 100),
            (ts(2024, 1, 19), 100),
            (ts(2024, 1, 18), 100),
        ]
    ):
        w.incident(f"i{n}", opened, opened + timedelta(seconds=secs))
    w.refresh()
    assert weekly(w, "time_to_restore", "2024-01-01..2024-01-22") == approx_rows(
        [
            ("2024-01-01", 200 / H, 3),
            ("2024-01-08", None, 0),
            ("2024-01-15", 100 / H, 4),
            ("2024-01-22", None, 0),
        ]
    )


def test_mttr_weekly_buckets_by_resolution(conn: Conn) -> None:
    """The bucketing rule of Middleware's _get_incidents_mean_time_to_recovery_trends (weeks
    of the resolved date; its tests use recoveries too short to cross a week). An incident
    opened Sunday 2024-01-07 23:00 and resolved Monday 01-08 01:00 counts in the week of
    01-08. (The default mode counts it where it opened: see the default-mode test below.)"""
    w = World(conn)
    w.incident("i1", ts(2024, 1, 7, 23), ts(2024, 1, 8, 1))
    w.refresh()
    assert weekly(w, "time_to_restore", "2024-01-01..2024-01-14") == approx_rows(
        [("2024-01-01", None, 0), ("2024-01-08", 2.0, 1)]
    )


# --- deployment frequency (Middleware tests/service/deployments/test_deployment_frequency.py)
#
# Middleware returns (total, average per day, per week, per month), the averages being the
# total floor-divided by the number of day/week/month buckets. api.get_metric has no such
# floor averages, so they are not ported: the tests assert the window total and the counts
# per week or month, which the averages are computed from.

DEPLOYS_ACROSS_WEEKS = [
    ts(2024, 1, 2, 12),
    ts(2024, 1, 3),
    ts(2024, 1, 18),
    ts(2024, 1, 20),
    ts(2024, 1, 21, 18),
    ts(2024, 1, 21, 23, 30),
]


def test_deployment_frequency_no_deployments(conn: Conn) -> None:
    """Ports test_deployment_frequency.py::test_deployment_frequency_for_no_deployments and
    test_weekly_deployment_frequency_trends_for_no_deployments. Nothing deployed: total 0,
    and 0 in each of the three weeks."""
    w = World(conn)
    w.refresh()
    window = between(ts(2024, 1, 2), ts(2024, 1, 17))
    assert row(w, "deployment_frequency", window)["value"] == 0
    assert weekly(w, "deployment_frequency", window) == [
        ("2024-01-02", 0, 0),
        ("2024-01-08", 0, 0),
        ("2024-01-15", 0, 0),
    ]


def test_deployment_frequency_across_days(conn: Conn) -> None:
    """Ports test_deployment_frequency.py::test_deployment_frequency_for_deployments_across_
    days. Three deployments in 2024-01-02 00:00 -> 01-05 00:00; one on 01-25 is outside:
    total 3 (Middleware's floor averages 0/day, 3/week, 3/month are not ported)."""
    w = World(conn)
    for n, finished in enumerate(
        [ts(2024, 1, 2, 12), ts(2024, 1, 3), ts(2024, 1, 4), ts(2024, 1, 25)]
    ):
        w.deploy(f"d{n}", finished)
    # A failed deploy is not a deployment (Middleware counts SUCCESS runs only).
    w.deploy("failed", ts(2024, 1, 3, 12), status="failure")
    w.refresh()
    r = row(w, "deployment_frequency", between(ts(2024, 1, 2), ts(2024, 1, 5)))
    assert r["value"] == 3
    assert r["sample_size"] == 3


def test_deployment_frequency_across_weeks(conn: Conn) -> None:
    """Ports test_deployment_frequency.py::test_deployment_frequency_for_deployments_across_
    weeks and test_weekly_deployment_frequency_trends_for_deployments. Six deployments in
    2024-01-02 -> 01-23: total 6; per week W1 2, W2 0, W3 4, W4 0 (the weekly counts behind
    Middleware's 6 // 4 weeks = 1 per week, not ported)."""
    w = World(conn)
    for n, finished in enumerate(DEPLOYS_ACROSS_WEEKS):
        w.deploy(f"d{n}", finished)
    w.refresh()
    window = between(ts(2024, 1, 2), ts(2024, 1, 23))
    assert row(w, "deployment_frequency", window)["value"] == 6
    assert weekly(w, "deployment_frequency", window) == [
        ("2024-01-02", 2, 2),
        ("2024-01-08", 0, 0),
        ("2024-01-15", 4, 4),
        ("2024-01-22", 0, 0),
    ]


def test_deployment_frequency_across_months(conn: Conn) -> None:
    """Ports test_deployment_frequency.py::test_deployment_frequency_for_deployments_across_
    months. Thirteen deployments in 2024-01-02 -> 03-31 00:00: total 13; per month January
    6, February 3, March 4 (Middleware's 13 // 3 months = 4 per month, 13 // 13 weeks = 1
    per week, not ported)."""
    w = World(conn)
    finished = [
        *DEPLOYS_ACROSS_WEEKS,
        ts(2024, 2, 1, 0, 30),
        ts(2024, 2, 3),
        ts(2024, 2, 4),
        ts(2024, 3, 28),
        ts(2024, 3, 29),
        ts(2024, 3, 30),
        ts(2024, 3, 30),
    ]
    for n, moment in enumerate(finished):
        w.deploy(f"d{n}", moment)
    w.refresh()
    window = between(ts(2024, 1, 2), ts(2024, 3, 31))
    assert row(w, "deployment_frequency", window)["value"] == 13
    months = [
        (r["period_start"].astimezone(UTC).date().isoformat(), r["value"])
        for r in w.series("deployment_frequency", window, granularity="month", mode=MODE)
    ]
    assert months == [("2024-01-02", 6), ("2024-02-01", 3), ("2024-03-01", 4)]


# --- PR phases (Middleware tests/service/code/sync/test_etl_code_analytics.py) --------------
#
# Our phases, middleware mode (minutes): pr_pickup_time = first response - ready (else
# opened), Middleware's first_response_time; pr_review_time = rework (first review -> first
# approval) + merge (first approval -> merged); pr_cycle_time = merged - ready (else opened).
# A phase Middleware stores as -1/None counts 0. Only merged changes have phases here.

T1 = at(days=-14)  # a PR's creation time (2026-02-16 09:00)


def pr(
    w: World,
    change_id: str,
    *,
    ready: datetime | None = None,
    response: datetime | None = None,
    review: datetime | None = None,
    approved: datetime | None = None,
    merged: datetime,
    author: str = "github:dev",
) -> str:
    """A merged PR opened at T1 with the phase facts normalization derives from its events."""
    return w.change(
        change_id,
        author=author,
        opened=T1,
        ready=ready,
        first_response=response,
        first_review=review,
        approved=approved,
        merged=merged,
    )


def phases(w: World, change_id: str) -> dict[str, Any]:
    """The stored phases of a change (explain's detail)."""
    for r in w.explain("pr_review_time", WINDOW, mode=MODE):
        if r["entity_id"] == change_id:
            detail: dict[str, Any] = r["detail"]
            return detail
    raise AssertionError(f"{change_id} is not explained")


def minutes(w: World, metric: str) -> tuple[Any, int]:
    """(value, sample size) of a PR phase over WINDOW."""
    r = row(w, metric)
    return r["value"], r["sample_size"]


def test_pr_first_response_time(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_first_review_tat_for_
    first_review. One (approving) review an hour after creation: first response 3600 s."""
    w = World(conn)
    hour = T1 + timedelta(hours=1)
    pr(w, "pr1", response=hour, review=hour, approved=hour, merged=T1 + timedelta(hours=2))
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(60.0), 1)


def test_pr_without_reviews_counts_zero(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_minus1_first_review_tat_
    for_no_reviews and ...returns_merge_time_minus1_for_merged_pr_without_review (and
    ...rework_time_minus1_for_merged_prs_without_reviews). A PR merged 30 min after creation
    with no review has no first response, rework or merge time (Middleware -1/None, which
    its averages count as 0): pickup 0 and review 0, still counted; cycle 30 min."""
    w = World(conn)
    pr(w, "pr1", merged=T1 + timedelta(minutes=30))
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (0, 1)
    assert minutes(w, "pr_review_time") == (0, 1)
    assert minutes(w, "pr_cycle_time") == (pytest.approx(30.0), 1)


def test_pr_rework_time(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_rework_time. Changes
    requested +1h, a comment +2h, approval +3h, merged +3h: rework 7200 s (first review to
    first approval), merge 0 s; review time 120 min."""
    w = World(conn)
    one, three = T1 + timedelta(hours=1), T1 + timedelta(hours=3)
    pr(w, "pr1", response=one, review=one, approved=three, merged=three)
    w.refresh()
    assert minutes(w, "pr_review_time") == (pytest.approx(120.0), 1)
    split = phases(w, "pr1")
    assert (split["rework_s"], split["merge_s"]) == (7200, 0)


def test_pr_rework_time_zero_when_first_review_approves(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_rework_time_0_for_
    approved_prs. The first review (+1h) approves: rework 0; merged at +2h: merge 3600 s."""
    w = World(conn)
    one = T1 + timedelta(hours=1)
    pr(w, "pr1", response=one, review=one, approved=one, merged=T1 + timedelta(hours=2))
    w.refresh()
    assert minutes(w, "pr_review_time") == (pytest.approx(60.0), 1)
    split = phases(w, "pr1")
    assert (split["rework_s"], split["merge_s"]) == (0, 3600)


def test_pr_rework_time_to_first_approval(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_rework_time_as_per_first_
    approved_prs. Changes requested +1h, approved +2h and again +3h: the first approval
    counts, rework 3600 s; merged +4h: merge 7200 s."""
    w = World(conn)
    pr(w, "pr1", response=T1 + timedelta(hours=1), review=T1 + timedelta(hours=1),
       approved=T1 + timedelta(hours=2), merged=T1 + timedelta(hours=4))  # fmt: skip
    w.refresh()
    split = phases(w, "pr1")
    assert (split["rework_s"], split["merge_s"]) == (3600, 7200)
    assert minutes(w, "pr_review_time") == (pytest.approx(180.0), 1)


def test_pr_cycle_time_from_creation(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_returns_cycle_time_for_merged_pr
    and test_cycle_time_falls_back_to_created_at_when_no_ready_for_review. Created t1,
    merged t1+1d, never a draft: cycle 86400 s = 1440 min."""
    w = World(conn)
    pr(w, "pr1", merged=T1 + timedelta(days=1))
    w.refresh()
    assert minutes(w, "pr_cycle_time") == (pytest.approx(1440.0), 1)


def test_pr_cycle_time_from_ready_for_review(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_cycle_time_uses_ready_for_review_when_available.
    Ready for review 2h after creation, merged a day after that: cycle 86400 s."""
    w = World(conn)
    ready = T1 + timedelta(hours=2)
    pr(w, "pr1", ready=ready, merged=ready + timedelta(days=1))
    w.refresh()
    assert minutes(w, "pr_cycle_time") == (pytest.approx(1440.0), 1)


def test_pr_cycle_time_from_earliest_ready_for_review(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_cycle_time_uses_earliest_ready_for_review_when_
    multiple. Ready events at +1h and +3h (normalization keeps the earliest, +1h), merged
    +1d: cycle 82800 s = 1380 min."""
    w = World(conn)
    pr(w, "pr1", ready=T1 + timedelta(hours=1), merged=T1 + timedelta(days=1))
    w.refresh()
    assert minutes(w, "pr_cycle_time") == (pytest.approx(1380.0), 1)


def test_pr_first_response_from_ready_for_review(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_first_response_time_uses_ready_for_review_when_
    available. Ready +2h, review +3h: first response 3600 s."""
    w = World(conn)
    three = T1 + timedelta(hours=3)
    pr(w, "pr1", ready=T1 + timedelta(hours=2), response=three, review=three,
       merged=T1 + timedelta(hours=5))  # fmt: skip
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(60.0), 1)


def test_pr_first_response_from_creation_without_ready(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_first_response_time_falls_back_to_created_at_
    when_no_ready_for_review. Review +3h, no draft: first response 10800 s = 180 min."""
    w = World(conn)
    three = T1 + timedelta(hours=3)
    pr(w, "pr1", response=three, review=three, merged=T1 + timedelta(hours=5))
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(180.0), 1)


def test_pr_draft_workflow(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_cycle_time_ready_for_review_with_draft_pr_
    workflow. Ready at +2d, review 4h later, merged a day after ready: cycle 86400 s, first
    response 14400 s."""
    w = World(conn)
    ready = T1 + timedelta(days=2)
    review = ready + timedelta(hours=4)
    pr(w, "pr1", ready=ready, response=review, review=review, merged=ready + timedelta(days=1))
    w.refresh()
    assert minutes(w, "pr_cycle_time") == (pytest.approx(1440.0), 1)
    assert minutes(w, "pr_pickup_time") == (pytest.approx(240.0), 1)


def test_pr_phases_with_ready_review_and_approval(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_pr_performance_includes_review_and_ready_for_
    review_events, as merged upstream in #661 (first response from ready for review; the
    intermediate variant measured it from creation, 7200 s). Created t1, ready +1h, changes
    requested +2h, approved +3h, merged +4h: cycle 10800 s, first response 3600 s, rework
    3600 s, merge 3600 s."""
    w = World(conn)
    two = T1 + timedelta(hours=2)
    pr(w, "pr1", ready=T1 + timedelta(hours=1), response=two, review=two,
       approved=T1 + timedelta(hours=3), merged=T1 + timedelta(hours=4))  # fmt: skip
    w.refresh()
    assert minutes(w, "pr_cycle_time") == (pytest.approx(180.0), 1)
    assert minutes(w, "pr_pickup_time") == (pytest.approx(60.0), 1)
    assert minutes(w, "pr_review_time") == (pytest.approx(120.0), 1)
    split = phases(w, "pr1")
    assert (split["rework_s"], split["merge_s"]) == (3600, 3600)


def test_pr_review_before_ready_for_review_counts_zero(conn: Conn) -> None:
    """The case raised in the review thread of Middleware #661 (no Middleware test asserts
    it; its code gives -3600 s): a review an hour before ready for review. Our decision: a
    negative first response is no first response, counted 0."""
    w = World(conn)
    one = T1 + timedelta(hours=1)
    pr(w, "pr1", ready=T1 + timedelta(hours=2), response=one, review=one,
       merged=T1 + timedelta(hours=5))  # fmt: skip
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (0, 1)
    assert minutes(w, "pr_cycle_time") == (pytest.approx(180.0), 1)


def test_pr_bot_review_ignored(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_create_pr_metrics_filters_bot_events. A bot
    (core.actors.is_bot) comments at +1h, a human approves at +2h, merged +3h: the first
    response is the human's, 7200 s; rework 0, merge 3600 s. The bot's comment is not a
    first comment either (first_comment_at, which the engine derives from the reviews)."""
    w = World(conn)
    w.actor("github:test-bot[bot]", "test-bot", bot=True)
    w.actor("github:human_user", "Human")
    two = T1 + timedelta(hours=2)
    w.review("r-bot", "pr1", "github:test-bot[bot]", T1 + timedelta(hours=1))
    w.review("r-human", "pr1", "github:human_user", two, kind="review", state="approved")
    pr(w, "pr1", response=two, review=two, approved=two, merged=T1 + timedelta(hours=3))
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(120.0), 1)
    assert minutes(w, "pr_review_time") == (pytest.approx(60.0), 1)
    assert phases(w, "pr1")["first_comment_at"] is None


def test_pr_only_bot_reviews(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_create_pr_metrics_no_human_first_response_time
    and ...no_human_rework_time. Only a bot comments, requests changes and approves: no
    first response and no rework (Middleware None), counted 0."""
    w = World(conn)
    w.actor("github:test-bot[bot]", "test-bot", bot=True)
    w.review("r1", "pr1", "github:test-bot[bot]", T1 + timedelta(hours=1))
    w.review("r2", "pr1", "github:test-bot[bot]", T1 + timedelta(hours=2), kind="review",
             state="changes_requested")  # fmt: skip
    w.review("r3", "pr1", "github:test-bot[bot]", T1 + timedelta(hours=3), kind="review",
             state="approved")  # fmt: skip
    pr(w, "pr1", merged=T1 + timedelta(hours=4))
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (0, 1)
    assert minutes(w, "pr_review_time") == (0, 1)
    assert phases(w, "pr1")["first_comment_at"] is None


def test_pr_human_comment_is_a_response(conn: Conn) -> None:
    """Ports test_etl_code_analytics.py::test_create_pr_metrics_no_bot_first_response_time and
    ...no_bot_rework_time. A human's COMMENTED review at +1h is the first response (3600 s);
    with changes requested +1h and approval +2h, rework is 3600 s."""
    w = World(conn)
    one = T1 + timedelta(hours=1)
    pr(w, "pr1", response=one, review=one, approved=T1 + timedelta(hours=2),
       merged=T1 + timedelta(hours=2))  # fmt: skip
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(60.0), 1)
    assert phases(w, "pr1")["rework_s"] == 3600


# --- lead time (Middleware tests/service/code/test_lead_time_service.py) --------------------
#
# Middleware averages each phase over the PRs (None counting 0) and sums the averages; the
# sum of the means is the mean of the per-PR sums, which is our middleware change_lead_time.

START = at(days=-28)  # 2026-02-02 09:00


def shipped(w: World, change_id: str, day: int, *, coding: float, pickup: float | None,
            rework: float | None, merge: float, deploy: float,
            author: str = "github:dev") -> None:  # fmt: skip
    """A PR started on START + day whose phases last these hours, deployed `deploy` hours
    after its merge (its own deploy). pickup None: never reviewed; rework None: never
    approved (its merge phase then has no start either and counts 0)."""
    first_commit = START + timedelta(days=day)
    opened = first_commit + timedelta(hours=coding)
    response = opened + timedelta(hours=pickup) if pickup is not None else None
    approved = (
        response + timedelta(hours=rework) if response is not None and rework is not None
        else None
    )  # fmt: skip
    merged = (approved or response or opened) + timedelta(hours=merge)
    w.change(change_id, author=author, first_commit=first_commit, opened=opened,
             first_response=response, first_review=response, approved=approved,
             merged=merged)  # fmt: skip
    w.deploy(f"deploy-{change_id}", merged + timedelta(hours=deploy))


def test_lead_time_mean_of_two(conn: Conn) -> None:
    """Ports test_lead_time_service.py::test_get_avg_time_for_multiple_lead_time_metrics_
    returns_correct_average. First responses of 1 h and 2 h: mean 1.5 h (90 min); the lead
    times (1 h coding + response + 1 h deploy) average 3.5 h."""
    w = World(conn)
    shipped(w, "pr1", 0, coding=1, pickup=1, rework=None, merge=0, deploy=1)
    shipped(w, "pr2", 1, coding=1, pickup=2, rework=None, merge=0, deploy=1)
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(90.0), 2)
    lead = row(w, "change_lead_time")
    assert (lead["value"], lead["sample_size"]) == (pytest.approx(3.5), 2)
    assert lead["aggregated_by"] == "mean"


def test_lead_time_missing_phases_count_zero(conn: Conn) -> None:
    """The None-as-0 rule of Middleware's LeadTimeService (mhq/service/code/lead_time.py; its
    test_get_avg_time_for_different_lead_time_metrics_given_returns_correct_average averages
    1 and 3 to 2). Two reviewed PRs (first response 1 h and 3 h) and one never reviewed nor
    approved: its response, rework and merge count 0 and it still counts, so the mean first
    response is 4/3 h; lead times 6 h, 6 h and 3 h (2 h coding + 1 h deploy): mean 5 h."""
    w = World(conn)
    shipped(w, "pr1", 0, coding=1, pickup=1, rework=2, merge=1, deploy=1)
    shipped(w, "pr2", 1, coding=1, pickup=3, rework=0, merge=1, deploy=1)
    shipped(w, "pr3", 2, coding=2, pickup=None, rework=None, merge=5, deploy=1)
    w.refresh()
    assert minutes(w, "pr_pickup_time") == (pytest.approx(80.0), 3)
    assert minutes(w, "pr_review_time") == (pytest.approx(80.0), 3)
    assert minutes(w, "pr_coding_time") == (pytest.approx(80.0), 3)
    lead = row(w, "change_lead_time")
    assert (lead["value"], lead["sample_size"]) == (pytest.approx(5.0), 3)


def test_lead_time_only_deployed_prs(conn: Conn) -> None:
    """The PR selection of Middleware's LeadTimeService for workflow-deployment repos: only
    PRs already matched to a deployment (merge_to_deploy not null) make lead time. A PR
    merged after the last deployment is left out."""
    w = World(conn)
    shipped(w, "pr1", 0, coding=1, pickup=1, rework=1, merge=1, deploy=1)
    w.change("pr2", first_commit=START + timedelta(days=3),
             merged=START + timedelta(days=3, hours=2))  # fmt: skip
    w.refresh()
    lead = row(w, "change_lead_time")
    assert (lead["value"], lead["sample_size"]) == (pytest.approx(5.0), 1)


def test_lead_time_weighted_average_per_team(conn: Conn) -> None:
    """Ports test_lead_time_service.py::test_get_weighted_avg_lead_time_metrics_returns_
    correct_average and test_get_teams_avg_lead_time_metrics_returns_correct_values. Four
    groups of 1, 2, 3 and 4 PRs with first commit to open 1, 2, 3, 4 h and first response
    4, 3, 2, 1 h, each with rework 10 h, merge 1 h, merge to deploy 1 h. Team 1 (all ten
    PRs): coding 3 h, first response 2 h, lead time 3 + 2 + 10 + 1 + 1 = 17 h, 10 PRs.
    Team 2 (the first two groups, three PRs): coding 5/3 h, first response 10/3 h, 3 PRs."""
    w = World(conn)
    w.team("team1")
    w.team("team2")
    day = 0
    for group in (1, 2, 3, 4):
        person = w.person(f"Dev {group}", f"github:dev{group}")
        w.member("team1", person, START - timedelta(days=30))
        if group <= 2:
            w.member("team2", person, START - timedelta(days=30))
        for n in range(group):
            shipped(w, f"pr{group}-{n}", day, coding=group, pickup=5 - group, rework=10,
                    merge=1, deploy=1, author=f"github:dev{group}")  # fmt: skip
            day += 1
    w.refresh()

    def team(metric: str, slug: str) -> tuple[Any, int]:
        r = row(w, metric, team=slug)
        return r["value"], r["sample_size"]

    assert team("pr_coding_time", "team1") == (pytest.approx(3 * 60.0), 10)
    assert team("pr_pickup_time", "team1") == (pytest.approx(2 * 60.0), 10)
    assert team("pr_review_time", "team1") == (pytest.approx(11 * 60.0), 10)
    assert team("pr_deploy_time", "team1") == (pytest.approx(60.0), 10)
    assert team("change_lead_time", "team1") == (pytest.approx(17.0), 10)

    assert team("pr_coding_time", "team2") == (pytest.approx(5 / 3 * 60), 3)
    assert team("pr_pickup_time", "team2") == (pytest.approx(10 / 3 * 60), 3)
    assert team("pr_review_time", "team2") == (pytest.approx(11 * 60.0), 3)
    assert team("pr_deploy_time", "team2") == (pytest.approx(60.0), 3)
    assert team("change_lead_time", "team2") == (pytest.approx(17.0), 3)


# --- where our default differs ---------------------------------------------------------------


def test_default_mode_drops_incident_beyond_window(conn: Conn) -> None:
    """Ports test_change_failure_rate.py::test_get_change_failure_rate_for_one_incidents_bw_
    two_deployments with D1 moved back to now-6d: the incident (now-1d) comes five days after
    D1. Middleware attributes it to D1 however long ago D1 ran (0.5); our default attributes
    an incident only to a deployment within 72 h before it, so no deployment failed (0)."""
    w = World(conn)
    w.deploy("d1", ago(days=6))
    w.deploy("d2", ago(hours=6))
    w.incident("i1", ago(days=1))
    w.refresh()
    assert row(w, "change_failure_rate")["value"] == pytest.approx(0.5)
    assert failures(w) == {"d1": ["i1"], "d2": []}
    default = row(w, "change_failure_rate", mode="default")
    assert (default["value"], default["sample_size"]) == (0, 2)
    assert failures(w, mode="default") == {"d1": [], "d2": []}


def test_default_mode_time_to_restore_is_median_at_opening(conn: Conn) -> None:
    """Ports test_mean_time_to_recovery.py::test_get_incidents_mean_time_to_recovery_for_
    incidents (100, 300, 800 s) and its resolved-date trend bucketing. Middleware: mean
    400 s; our default: median 300 s. An incident opened Sunday 2024-01-07 23:00 and
    resolved Monday 01-08 01:00 (7200 s) counts in the week it was resolved in middleware
    mode and in the week it opened in the default mode, where week 1 then holds 100, 300,
    800 and 7200 s (median 550 s)."""
    w = World(conn)
    opened = ts(2024, 1, 1)
    for n, secs in enumerate((100, 300, 800)):
        w.incident(f"i{n}", opened, opened + timedelta(seconds=secs))
    w.incident("late", ts(2024, 1, 7, 23), ts(2024, 1, 8, 1))
    w.refresh()
    window = "2024-01-01..2024-01-14"
    week1 = between(ts(2024, 1, 1), ts(2024, 1, 7, 12))
    assert row(w, "time_to_restore", week1)["value"] == pytest.approx(400 / H)
    default = row(w, "time_to_restore", week1, mode="default")
    assert (default["value"], default["aggregated_by"]) == (pytest.approx(300 / H), "median")
    assert weekly(w, "time_to_restore", window) == approx_rows(
        [("2024-01-01", 400 / H, 3), ("2024-01-08", 2.0, 1)]
    )
    assert weekly(w, "time_to_restore", window, mode="default") == approx_rows(
        [("2024-01-01", 550 / H, 4), ("2024-01-08", None, 0)]
    )
