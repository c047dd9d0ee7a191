"""Normalization as a whole: bad input isolated, retries and dead letters, concurrent
workers, order independence, replay."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from synth.emit import Delivery, Emitter
from synth.model import History
from tests.normalize_helpers import (
    accept,
    canonical_state,
    make_org,
    normalize,
    sample,
)
from tests.test_normalize_contract import row_versions
from tests.webhook_helpers import Sample
from workers.replay import replay

END = date(2026, 10, 1)
EXAMPLES = itertools.count()


def history(seed: int, size: int) -> list[Delivery]:
    """A small synthetic org's deliveries in the order things happened (no retries)."""
    h = History(seed=seed, size=size, days=5, end=END)
    return list(Emitter(h.org, h.key).render(h.events()))


def as_sample(d: Delivery) -> Sample:
    return Sample(d.source, d.event_type, d.headers, d.body, d.content_type)


def tables(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "outcomes"}


def with_body(s: Sample, change: dict[str, Any]) -> Sample:
    """A sample whose JSON body has some top-level or nested values replaced."""
    body = json.loads(s.body)
    for path, value in change.items():
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return replace(s, body=json.dumps(body).encode())


def outcomes(conn: psycopg.Connection[Any], org_id: UUID) -> dict[UUID, tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT event_id, status, reason FROM core.event_outcomes WHERE org_id = %s", (org_id,)
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_bad_events_are_isolated_and_the_rest_of_the_batch_applies(database: str) -> None:
    opened = sample("github", "pull_request.opened")
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        good, _ = accept(conn, org, endpoint, opened)
        lacking, _ = accept(conn, org, endpoint, with_body(opened, {"pull_request.number": None}),
                            delivery_key="k-lacking")  # fmt: skip
        # A value that cannot be cast fails inside the set-based query: the batch is then
        # retried one event at a time and only this one fails.
        uncastable = with_body(opened, {"pull_request.additions": "many"})
        bad_cast, _ = accept(conn, org, endpoint, uncastable, delivery_key="k-cast")
        not_json, _ = accept(conn, org, endpoint, replace(opened, body=b"{not json"),
                             delivery_key="k-json", event_type="pull_request.opened")  # fmt: skip
        ignored, _ = accept(conn, org, endpoint, sample("github", "issues.opened"))
        no_normalizer, _ = accept(conn, org, endpoint, sample("zoom", "meeting.started"))

        progress = normalize(database)
        assert progress.batches == 1
        assert progress.deferred == 0
        found = outcomes(conn, org)
        assert found[good] == ("normalized", None)
        assert found[lacking] == ("failed", "pull_request.opened lacks pull_request.number")
        assert found[bad_cast][0] == "failed"
        assert "invalid input syntax for type integer" in (found[bad_cast][1] or "")
        assert found[not_json] == ("failed", "body is not a JSON document")
        assert found[ignored] == ("ignored", "nothing in issues.opened is used by the model")
        assert found[no_normalizer] == ("ignored", "no normalizer for zoom")
        state = canonical_state(conn, org)
        assert [c["change_id"] for c in state["changes"]] == ["github:700100#42"]
        assert state["changes"][0]["additions"] == 48  # the failed copies contributed nothing
        queued = conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone()
        assert queued == (0,)  # every message archived: failures stay replayable from raw


def test_a_form_encoded_body_is_ignored_and_a_body_that_is_not_its_json_fails(
    database: str,
) -> None:
    # Whether a body that is not JSON broke its format is told by the stored content type,
    # not by the source or the body's look.
    slash = sample("slack", "slash_command")
    message = sample("slack", "event_callback.message")
    assert slash.content_type == "application/x-www-form-urlencoded"
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")

        def stored(s: Sample, key: str, event_type: str) -> UUID:
            return accept(conn, org, endpoint, s, delivery_key=key, event_type=event_type)[0]

        command = "slash_command./incident"
        form = stored(slash, "k-form", command)
        charset = "Application/X-WWW-Form-Urlencoded; charset=utf-8"
        with_charset = stored(replace(slash, content_type=charset), "k-charset", command)
        not_json = stored(replace(message, body=b"{not json"), "k-json", "event_callback.message")
        form_as_json = stored(replace(slash, content_type="application/json"), "k-ct", command)
        good, _ = accept(conn, org, endpoint, message)

        progress = normalize(database)
        assert progress.deferred == 0
        found = outcomes(conn, org)
        unused = ("ignored", "form-encoded body: not used by the slack normalizer")
        assert found[form] == unused
        assert found[with_charset] == unused
        assert found[not_json] == ("failed", "body is not a JSON document")
        assert found[form_as_json] == ("failed", "body is not a JSON document")
        assert found[good] == ("normalized", None)


TRANSIENT = """
CREATE FUNCTION core.normalize_flaky(p_events core.inbound[]) RETURNS SETOF core.fact
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = 'deadlock_detected';
END $$;
"""


def test_transient_errors_back_off_then_dead_letter(database: str) -> None:
    from workers.normalizer import NormalizerConfig, Progress, drain_batch

    config = NormalizerConfig(batch_size=10, visibility_timeout=30, max_attempts=2)

    async def one_batch() -> Progress:
        progress = Progress()
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as aconn:
            await drain_batch(aconn, config, progress)
        return progress

    import asyncio

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(TRANSIENT)
        org, endpoint = make_org(conn, "acme")
        event, _ = accept(conn, org, endpoint, replace(sample("github", "push"), source="flaky"),
                          delivery_key="flaky-1", event_type="push")  # fmt: skip

        for attempt in (1, 2):
            progress = asyncio.run(one_batch())
            assert progress.deferred == 1
            status, reason, attempts = conn.execute(
                "SELECT status, reason, attempts FROM core.event_outcomes WHERE event_id = %s",
                (event,),
            ).fetchone() or (None, None, None)
            assert (status, reason, attempts) == ("retrying", "simulated deadlock", attempt)
            hidden = conn.execute(
                "SELECT extract(epoch FROM vt - clock_timestamp()) FROM pgmq.q_ingest"
            ).fetchone()
            assert hidden is not None
            # 5 s, then 10 s: exponential back-off instead of the 30 s visibility timeout.
            assert 5 * 2 ** (attempt - 1) - 2 < float(hidden[0]) <= 5 * 2 ** (attempt - 1)
            conn.execute("UPDATE pgmq.q_ingest SET vt = clock_timestamp()")  # skip the wait

        progress = asyncio.run(one_batch())  # the third read: given up
        assert progress.deferred == 0
        row = conn.execute(
            "SELECT status, reason FROM core.event_outcomes WHERE event_id = %s", (event,)
        ).fetchone()
        assert row == ("dead", "gave up after 2 attempts: simulated deadlock")
        assert conn.execute("SELECT count(*) FROM pgmq.q_ingest").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pgmq.a_ingest").fetchone() == (1,)


def test_two_workers_claim_disjoint_batches(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        for d in history(seed=1, size=80)[:40]:
            accept(conn, org, endpoint, as_sample(d))
    with psycopg.connect(database) as a, psycopg.connect(database) as b:
        claim = "SELECT msg_id FROM core.claim_ingest(15, 30, 5)"
        first = {r[0] for r in a.execute(claim).fetchall()}  # a's transaction still open
        second = {r[0] for r in b.execute(claim).fetchall()}  # SKIP LOCKED passes a's rows
        a.commit()
        b.commit()
        third = {r[0] for r in a.execute(claim).fetchall()}  # hidden by a's and b's reads
        a.commit()
    assert len(first) == len(second) == 15
    assert len(third) == 10
    assert not first & second
    assert not third & (first | second)


def test_concurrent_batches_on_the_same_rows_wait_instead_of_deadlocking(database: str) -> None:
    deliveries = [d for d in history(seed=2, size=120) if d.source == "github"][:60]
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        for d in deliveries:
            accept(conn, org, endpoint, as_sample(d))
        ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.q_ingest ORDER BY msg_id")]
        conn.execute("UPDATE pgmq.q_ingest SET read_ct = 1")
    # Interleaved halves: both batches touch the same repos, accounts and changes.
    halves = [ids[0::2], ids[1::2]]
    errors: list[BaseException] = []
    a = psycopg.connect(database)
    b = psycopg.connect(database)
    try:
        a.execute("SELECT count(*) FROM core.apply_ingest(%s)", (halves[0],))  # holds its locks

        def second() -> None:
            try:
                b.execute("SELECT count(*) FROM core.apply_ingest(%s)", (halves[1],))
                b.commit()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # b waits for a's rows...
        a.commit()
        thread.join(30)
        assert not thread.is_alive()
        assert errors == []  # ...and then applies: no deadlock, no error
    finally:
        a.close()
        b.close()
    with psycopg.connect(database, autocommit=True) as conn:
        concurrent = tables(canonical_state(conn, org))
        other, other_endpoint = make_org(conn, "other")
        for d in deliveries:
            accept(conn, other, other_endpoint, as_sample(d))
        normalize(database, batch_size=1)
        assert concurrent == tables(canonical_state(conn, other))
        assert concurrent["changes"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_any_order_with_duplicates_gives_the_in_order_state(
    database: str, seed: int, data: st.DataObject
) -> None:
    deliveries = history(seed, 150)[:60]
    assume(len(deliveries) >= 10)
    order = data.draw(st.permutations(range(len(deliveries))))
    duplicated = data.draw(st.lists(st.integers(0, len(deliveries) - 1), max_size=10))
    batch = data.draw(st.integers(1, 25))
    example = next(EXAMPLES)
    with psycopg.connect(database, autocommit=True) as conn:
        in_order, e1 = make_org(conn, f"in-order-{example}")
        for d in deliveries:
            accept(conn, in_order, e1, as_sample(d))
        normalize(database, batch_size=1)

        shuffled, e2 = make_org(conn, f"shuffled-{example}")
        for i in order:
            accept(conn, shuffled, e2, as_sample(deliveries[i]))
            if i in duplicated:
                # The same content again under another delivery id (a vendor's re-send),
                # and the same delivery again (a retry: de-duplicated at the edge).
                accept(conn, shuffled, e2, as_sample(deliveries[i]), delivery_key=f"re-{i}")
                accept(conn, shuffled, e2, as_sample(deliveries[i]))
        normalize(database, batch_size=batch)

        expected = canonical_state(conn, in_order)
        assert expected["changes"]
        assert tables(canonical_state(conn, shuffled)) == tables(expected)


def test_replay_gives_the_incremental_state_and_writes_nothing_twice(database: str) -> None:
    deliveries = history(seed=4, size=200)
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        for d in deliveries:
            accept(conn, org, endpoint, as_sample(d))
        normalize(database, batch_size=50)
        incremental = canonical_state(conn, org)
        versions = row_versions(conn, org)
        # Damage a row the way an older refresh function could have left it.
        conn.execute("UPDATE core.changes SET title = 'stale' WHERE org_id = %s", (org,))

    seen: list[int] = []

    def watch(_progress: object) -> None:
        # Between chunks, another session still sees every row: nothing was taken away.
        with psycopg.connect(database) as reader:
            row = reader.execute(
                "SELECT count(*) FROM core.changes WHERE org_id = %s", (org,)
            ).fetchone()
            seen.append(row[0] if row else 0)

    result = replay(database, "acme", chunk=37, workers=2, progress=watch)
    assert result.events == result.total == len(deliveries)
    assert len(seen) == -(-len(deliveries) // 37)
    assert set(seen) == {len(incremental["changes"])}

    with psycopg.connect(database, autocommit=True) as conn:
        assert canonical_state(conn, org) == incremental  # repaired, identical
        repaired = row_versions(conn, org)
        assert repaired["facts"] == versions["facts"]  # the facts did not move
        replay(database, "acme", chunk=500, workers=1)
        assert row_versions(conn, org) == repaired  # a second replay writes no row


def test_replay_of_one_source_since_a_date(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        accept(conn, org, endpoint, sample("github", "pull_request.opened"))
        accept(conn, org, endpoint, sample("jira", "jira_issue_created"))
        normalize(database)
    only_github = replay(database, "acme", source="github")
    none_yet = replay(database, "acme", since=datetime(2100, 1, 1, tzinfo=UTC))
    assert only_github.total == 1
    assert dict(only_github.outcomes) == {"normalized": 1}
    assert none_yet.total == 0
    assert none_yet.events == 0


@pytest.mark.parametrize("missing", ["nope"])
def test_replay_of_an_unknown_org_is_refused(database: str, missing: str) -> None:
    from qdx.errors import NotFound

    with pytest.raises(NotFound, match="unknown org"):
        replay(database, missing)


def test_the_archive_of_normalized_messages_is_pruned_by_age(database: str) -> None:
    from db.queries import QUERIES

    with psycopg.connect(database, autocommit=True) as conn:
        org, endpoint = make_org(conn, "acme")
        accept(conn, org, endpoint, sample("github", "pull_request.opened"))
        normalize(database)
        conn.execute(QUERIES["prune_ingest_archive"], {"days": 7})
        assert conn.execute("SELECT count(*) FROM pgmq.a_ingest").fetchone() == (1,)
        conn.execute("UPDATE pgmq.a_ingest SET archived_at = now() - interval '8 days'")
        conn.execute(QUERIES["prune_ingest_archive"], {"days": 7})
        assert conn.execute("SELECT count(*) FROM pgmq.a_ingest").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.events").fetchone() == (1,)


POISON = """
CREATE FUNCTION core.normalize_poison(p_events core.inbound[]) RETURNS SETOF core.fact
LANGUAGE sql STABLE AS $$
    SELECT ROW(e.event_id, 'pipeline_run', 'poison:' || (e.payload->>'n'), e.received_at,
               jsonb_build_object('provider', 'poison',
                                  'status', e.payload->>'status'))::core.fact
    FROM unnest(p_events) e
$$;
"""


def test_a_value_the_model_refuses_costs_only_its_own_event(database: str) -> None:
    """A normalizer that lets through a value a canonical table refuses (here a status its
    CHECK constraint does not know) fails the batch's transaction; the worker splits the
    batch until the culprit is alone: the others are normalized, it alone is deferred."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(POISON)
        org, endpoint = make_org(conn, "acme")
        events = []
        for n in range(7):
            body = json.dumps({"n": n, "status": "sideways" if n == 4 else "success"})
            s = Sample("poison", f"e{n}", {}, body.encode(), "application/json")
            events.append(accept(conn, org, endpoint, s, delivery_key=f"p{n}", event_type="run")[0])
        progress = normalize(database)
        assert progress.outcomes["normalized"] == 6
        assert progress.deferred == 1
        found = outcomes(conn, org)
        assert found[events[4]][0] == "retrying"
        assert "pipeline_runs_status_check" in (found[events[4]][1] or "")
        assert {found[e][0] for i, e in enumerate(events) if i != 4} == {"normalized"}
        runs = conn.execute("SELECT count(*) FROM core.pipeline_runs WHERE org_id = %s", (org,))
        assert runs.fetchone() == (6,)
