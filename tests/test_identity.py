"""Identity resolution: every deterministic rule, bots, admin decisions (merge, split, link,
review) and their undo, time-versioned team attribution, and resolution as accounts
arrive through normalization."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from qdx.cli import main
from qdx.console import moment
from qdx.errors import InvalidInput
from tests.identity_helpers import Acct, add, link, make_org, partition, person_of, run, same
from tests.normalize_helpers import accept, normalize, sample
from tests.normalize_helpers import make_org as make_org_with_endpoint
from workers.identity.matcher import (
    LEVELS,
    Group,
    Model,
    coactive_pairs,
    compare,
    compare_activity,
    compare_groups,
    compare_names,
    estimate,
    population_u,
    profile,
)
from workers.identity.names import ROLE_WORDS, is_role_mailbox
from workers.identity.resolver import (
    Account,
    _surname_change,
    automation_name,
    cluster,
    host_owners,
    resolve_pending,
)

Conn = psycopg.Connection[Any]


@pytest.fixture
def org(conn: Conn) -> Any:
    return make_org(conn, "acme")


# -- deterministic rules -----------------------------------------------------------------


def test_sso_subject_links_accounts_that_share_nothing_else(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("okta:00u1", "Priya Raman", "priya@acme.io", ("priya@acme.io",),
                         sso="00u1"),
                    Acct("github:7", "nightowl", "nightowl", sso="00u1"),
                    Acct("github:8", "Someone Else", "other")])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "okta:00u1", "github:7")
    assert link(conn, org, "github:7")["method"] == "sso"
    assert not same(conn, org, "github:7", "github:8")


def test_employee_id_links_hr_and_directory(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("bamboohr:41", "Doe, Jane", emails=("jane.doe@acme.io",),
                         employee="E-41"),
                    Acct("okta:00u2", "J. Doe", "jd@acme.io", ("jd@acme.io",), sso="00u2",
                         employee="E-41")])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "bamboohr:41", "okta:00u2")
    assert link(conn, org, "bamboohr:41")["method"] == "employee"


@pytest.mark.parametrize(
    ("email", "target"),
    [
        ("583231+octocat@users.noreply.github.com", Acct("github:583231", "Mona", "octocat")),
        ("octocat@users.noreply.github.com", Acct("github:583231", "Mona", "octocat")),
        ("1234-jdoe@users.noreply.gitlab.com", Acct("gitlab:1234", "J D", "jdoe")),
    ],
)
def test_noreply_address_is_decoded_to_its_account(
    conn: Conn, org: Any, email: str, target: Acct
) -> None:
    add(conn, org, [target, Acct(f"git:{email}", "Mona Lisa", emails=(email,))])
    run(conn, org)
    assert same(conn, org, target.actor_id, f"git:{email}")
    assert link(conn, org, f"git:{email}")["method"] == "noreply"


@pytest.mark.parametrize(
    ("a", "b", "linked"),
    [
        ("Jane.Doe@Acme.io", "jane.doe@acme.io", True),  # case
        ("jane+ci@acme.io", "jane@acme.io", True),  # plus-tag
        ("j.a.n.e.doe@gmail.com", "janedoe@googlemail.com", True),  # Gmail's dots and alias
        ("jane.doe@acme.io", "janedoe@acme.io", False),  # dots matter outside Gmail
        ("dev@acme.io", "dev@acme.io", False),  # a role mailbox identifies nobody
        ("jane@Janes-MacBook-Pro.local", "jane@janes-macbook-pro.local", False),  # laptop
        ("helga.novak@demo.example", "Helga.Novak@demo.example", True),  # the demo's domain
    ],
)
def test_email_rule(conn: Conn, org: Any, a: str, b: str, linked: bool) -> None:
    add(conn, org, [Acct("git:x", "Xavier Quinn", emails=(a,)),
                    Acct("linear:u1", "Yolanda Zed", emails=(b,))])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "git:x", "linear:u1") is linked
    if linked:
        assert link(conn, org, "linear:u1")["method"] == "email"


def test_role_mailboxes_are_judged_alike_in_sql_and_python(conn: Conn) -> None:
    words = conn.execute("SELECT identity.role_words()").fetchone()
    assert words is not None
    assert frozenset(words[0]) == ROLE_WORDS
    for local in ("dev", "platform-team", "mobile.dev", "no-reply", "noreply-github", "ci",
                  "jane", "dev.patel", "team7", "_dev", "jane.doe+ci"):  # fmt: skip
        row = conn.execute("SELECT identity.is_role_mailbox(%s)", (local,)).fetchone()
        assert row == (is_role_mailbox(local),), local


def test_same_login_links_only_within_a_login_group(conn: Conn, org: Any) -> None:
    accounts = [Acct("gitlab:5", "Ana", "asilva"), Acct("jira:asilva", "A S", "asilva"),
                Acct("github:9", "Ana", "asilva")]  # fmt: skip
    add(conn, org, accounts)
    run(conn, org)
    assert not same(conn, org, "gitlab:5", "jira:asilva")
    conn.execute(
        "INSERT INTO identity.login_groups (org_id, name, providers) "
        "VALUES (%s, 'corp-ldap', '{gitlab,jira}')",
        (org,),
    )
    add(conn, org, accounts)  # queued again, as `qdx people login-group` does
    run(conn, org)
    assert same(conn, org, "gitlab:5", "jira:asilva")
    assert link(conn, org, "jira:asilva")["method"] == "shared_login"
    # GitHub's logins are its own: no rule links them (the matcher may, on its evidence).
    assert link(conn, org, "github:9")["method"] != "shared_login"
    assert "shared_login" not in str(link(conn, org, "gitlab:5")["evidence"].get("with"))


def test_a_shared_email_does_not_join_two_sso_subjects(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("okta:00ua", "Wei Zhang", "wei.zhang@acme.io", sso="00ua",
                         emails=("wei.zhang@acme.io", "platform@acme.io")),
                    Acct("okta:00ub", "Wei Zhang", "wzhang@acme.io", sso="00ub",
                         emails=("wzhang@acme.io", "platform@acme.io"))])  # fmt: skip
    run(conn, org)
    assert not same(conn, org, "okta:00ua", "okta:00ub")


def test_a_rehire_keeps_one_person_across_employee_numbers(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("bamboohr:1633", "Volkov, Dmitry", emails=("dmitry.volkov@acme.io",),
                         employee="1633"),
                    Acct("bamboohr:3989", "Volkov, Dmitry", emails=("dmitry.volkov@acme.io",),
                         employee="3989")])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "bamboohr:1633", "bamboohr:3989")


def test_employee_numbers_compare_as_numbers(conn: Conn, org: Any) -> None:
    okta = Acct("okta:00u7", "B S", "bs@acme.io", sso="00u7", employee="001337")
    add(conn, org, [Acct("bamboohr:1337", "Scott, Brian", employee="1337"), okta])
    run(conn, org)
    assert same(conn, org, "bamboohr:1337", "okta:00u7")


def test_namesakes_with_their_own_mailboxes_stay_apart(conn: Conn, org: Any) -> None:
    # The company gave the second Anjali Singh anjali.singh2@: the matcher must not join
    # them on their identical names, and an account naming neither mailbox is a question.
    add(conn, org, [Acct("okta:00ua", "Anjali Singh", "anjali.singh@acme.io",
                         ("anjali.singh@acme.io",), sso="00ua"),
                    Acct("slack:U1", "Anjali Singh", "anjali.singh", ("anjali.singh@acme.io",)),
                    Acct("okta:00ub", "Anjali Singh", "anjali.singh2@acme.io",
                         ("anjali.singh2@acme.io",), sso="00ub"),
                    Acct("google_calendar:anjali.singh2@acme.io", "Anjali Singh",
                         emails=("anjali.singh2@acme.io",)),
                    Acct("jira:5b10", "Anjali Singh")])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "okta:00ua", "slack:U1")
    assert same(conn, org, "okta:00ub", "google_calendar:anjali.singh2@acme.io")
    assert not same(conn, org, "okta:00ua", "okta:00ub")
    assert not same(conn, org, "jira:5b10", "okta:00ua")
    assert not same(conn, org, "jira:5b10", "okta:00ub")
    pending = conn.execute(
        "SELECT count(*) FROM identity.review_queue WHERE org_id = %s AND status = 'pending' "
        "AND 'jira:5b10' IN (actor_id, other_actor_id)",
        (org,),
    ).fetchone()
    assert pending is not None
    assert pending[0] >= 1


def test_nicknames_and_transliteration_link_through_the_matcher(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("okta:00u1", "William Turner", "william.turner@acme.io",
                         ("william.turner@acme.io",), sso="00u1"),
                    Acct("jira:7a", "Bill Turner"),
                    Acct("okta:00u2", "Olga Petrova", "olga.petrova@acme.io",
                         ("olga.petrova@acme.io",), sso="00u2"),
                    Acct("slack:U2", "Ольга Петрова")])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "okta:00u1", "jira:7a")
    assert link(conn, org, "jira:7a")["method"] == "matcher"
    assert same(conn, org, "okta:00u2", "slack:U2")


def test_stronger_rule_is_reported(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("okta:00u3", "Kim Lee", "kim@acme.io", ("kim@acme.io",), sso="s3"),
                    Acct("slack:U3", "Kim", "kim", ("kim@acme.io",), sso="s3")])  # fmt: skip
    run(conn, org)
    assert link(conn, org, "slack:U3")["method"] == "sso"  # not the weaker email rule
    assert link(conn, org, "slack:U3")["evidence"]["key"] == "sso:s3"


# -- bots ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bot",
    [
        Acct("github:49699333", "dependabot[bot]", "dependabot[bot]", is_bot=True),
        Acct("github:29139614", "renovate[bot]", "renovate[bot]"),
        Acct("gitlab:77", "project_77_bot_abc", "project_77_bot_abc"),
        Acct("git:ci@acme.io", "Jenkins CI", emails=("ci@acme.io",)),
        Acct("github:555", "Deploy Robot", "svc-deploy"),
    ],
)
def test_automations_are_kept_apart_from_people(conn: Conn, org: Any, bot: Acct) -> None:
    human = Acct("github:1", "Jenkins Smith", "jsmith", ("ci@acme.io",))
    add(conn, org, [bot, human])
    run(conn, org)
    assert not same(conn, org, bot.actor_id, human.actor_id)
    row = conn.execute(
        "SELECT is_bot FROM identity.account_persons WHERE org_id = %s AND actor_id = %s",
        (org, bot.actor_id),
    ).fetchone()
    assert row == (True,)
    human_row = conn.execute(
        "SELECT is_bot FROM identity.account_persons WHERE org_id = %s AND actor_id = %s",
        (org, human.actor_id),
    ).fetchone()
    assert human_row == (False,)


def test_a_bot_and_its_commit_identity_are_one_automation(conn: Conn, org: Any) -> None:
    email = "49699333+dependabot[bot]@users.noreply.github.com"
    add(conn, org, [Acct("github:49699333", "dependabot[bot]", "dependabot[bot]", is_bot=True),
                    Acct(f"git:{email}", "dependabot[bot]", emails=(email,))])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "github:49699333", f"git:{email}")


# -- admin decisions -------------------------------------------------------------------------


def _op(conn: Conn, sql: str, *args: Any) -> int:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    assert row[0] is not None
    return int(row[0])


def test_merge_and_its_undo(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "Alex Kim", "akim"), Acct("jira:q", "Sasha K")])
    run(conn, org)
    before = partition(conn, org)
    a, b = person_of(conn, org, "github:1"), person_of(conn, org, "jira:q")
    assert a != b
    op = _op(conn, "SELECT identity.merge(%s, %s, %s, 'admin', 'same person')", org, a, b)
    assert same(conn, org, "github:1", "jira:q")
    assert link(conn, org, "jira:q")["method"] == "explicit"
    merged = conn.execute("SELECT merged_into FROM identity.persons WHERE org_id = %s "
                          "AND person_id = %s", (org, b)).fetchone()  # fmt: skip
    assert merged == (a,)
    # The resolver leaves an admin's decision alone.
    add(conn, org, [Acct("jira:q", "Sasha K")])
    run(conn, org)
    assert same(conn, org, "github:1", "jira:q")
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, op)
    assert partition(conn, org) == before
    assert person_of(conn, org, "jira:q") == b
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="already undone"):
        conn.execute("SELECT identity.undo(%s, %s, 'admin')", (org, op))


def test_split_holds_against_the_rules_and_its_undo_restores(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "Sam Park", "spark", ("sam@acme.io",)),
                    Acct("git:sam@acme.io", "Sam Park", emails=("sam@acme.io",)),
                    Acct("slack:U9", "Samantha Park", emails=("sam@acme.io",))])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "github:1", "git:sam@acme.io", "slack:U9")
    person = person_of(conn, org, "github:1")
    op = _op(conn, "SELECT identity.split(%s, %s, %s, 'admin', 'two Sams')", org, person,
             ["slack:U9"])  # fmt: skip
    assert not same(conn, org, "github:1", "slack:U9")
    assert person_of(conn, org, "github:1") == person
    # The shared email would join them again; the split is an admin's decision and holds.
    add(conn, org, [Acct("slack:U9", "Samantha Park", emails=("sam@acme.io",))])
    run(conn, org, everything=True)
    assert not same(conn, org, "github:1", "slack:U9")
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, op)
    assert same(conn, org, "github:1", "git:sam@acme.io", "slack:U9")
    assert link(conn, org, "slack:U9")["method"] == "email"


def test_undo_is_refused_when_a_later_operation_changed_its_accounts(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "A B", "ab"), Acct("github:2", "C D", "cd"),
                    Acct("github:3", "E F", "ef")])  # fmt: skip
    run(conn, org)
    p1, p2, p3 = (person_of(conn, org, f"github:{i}") for i in (1, 2, 3))
    first = _op(conn, "SELECT identity.merge(%s, %s, %s, 'admin')", org, p1, p2)
    second = _op(conn, "SELECT identity.merge(%s, %s, %s, 'admin')", org, p3, p1)
    refused = pytest.raises(psycopg.errors.InvalidParameterValue, match=f"undo {second} first")
    with refused, conn.transaction():  # a savepoint: the test goes on after the error
        conn.execute("SELECT identity.undo(%s, %s, 'admin')", (org, first))
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, second)
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, first)
    assert len({person_of(conn, org, f"github:{i}") for i in (1, 2, 3)}) == 3


def test_automatic_resolution_is_not_undone(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "A B", "ab")])
    outcome = run(conn, org)
    assert outcome is not None
    assert outcome.op_id is not None
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="automatic resolution"):
        conn.execute("SELECT identity.undo(%s, %s, 'admin')", (org, outcome.op_id))


def test_link_pins_an_account_over_the_rules(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "Lee Chan", "lchan", ("lee@acme.io",)),
                    Acct("git:lee@acme.io", "Lee Chan", emails=("lee@acme.io",)),
                    Acct("github:2", "Lee Chan", "leechan2")])  # fmt: skip
    run(conn, org)
    other = person_of(conn, org, "github:2")
    _op(conn, "SELECT identity.link(%s, 'git:lee@acme.io', %s, 'admin')", org, other)
    run(conn, org, everything=True)
    assert person_of(conn, org, "git:lee@acme.io") == other
    assert link(conn, org, "git:lee@acme.io")["method"] == "explicit"


def test_review_accept_and_reject(conn: Conn, org: Any) -> None:
    # Two William Smiths with their own mailboxes; a Jira account that says only "Bill
    # Smith" fits both equally: a question for a person, not a guess.
    add(conn, org, [Acct("github:202", "William Smith", "wsmith", ("bill@acme.io",)),
                    Acct("github:303", "William Smith", "willsmith", ("will.smith@acme.io",)),
                    Acct("jira:6c", "Bill Smith")])  # fmt: skip
    run(conn, org)
    queued = conn.execute(
        "SELECT actor_id, other_actor_id, evidence->>'reason' FROM identity.review_queue "
        "WHERE org_id = %s AND status = 'pending' ORDER BY 1, 2",
        (org,),
    ).fetchall()
    assert ("github:202", "jira:6c", "as likely to be someone else") in queued
    assert not same(conn, org, "github:202", "jira:6c")
    assert not same(conn, org, "github:303", "jira:6c")
    op = _op(conn, "SELECT identity.review(%s, 'github:202', 'jira:6c', false, 'admin')", org)
    run(conn, org, everything=True)
    assert not same(conn, org, "github:202", "jira:6c")
    status = conn.execute(
        "SELECT status FROM identity.review_queue WHERE org_id = %s "
        "AND actor_id = 'github:202' AND other_actor_id = 'jira:6c'",
        (org,),
    ).fetchone()
    assert status == ("rejected",)
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, op)
    _op(conn, "SELECT identity.review(%s, 'github:202', 'jira:6c', true, 'admin')", org)
    assert same(conn, org, "github:202", "jira:6c")
    assert not same(conn, org, "github:303", "jira:6c")


def test_find_person_by_email_login_account_or_mailbox(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "Nora Ali", "nali", ("Nora.Ali+gh@acme.io",))])
    run(conn, org)
    pid = person_of(conn, org, "github:1")
    for who in ("nora.ali+gh@acme.io", "NALI", "github:1", str(pid), "nora.ali@acme.io"):
        row = conn.execute("SELECT identity.person_of(%s, %s)", (org, who)).fetchone()
        assert row == (pid,), who
    with pytest.raises(psycopg.errors.NoDataFound):
        conn.execute("SELECT identity.person_of(%s, 'nobody@acme.io')", (org,))


# -- teams over time -----------------------------------------------------------------------


def _teams_at(conn: Conn, org: Any, actor: str, at: datetime) -> list[str]:
    rows = conn.execute("SELECT slug FROM identity.teams_at(%s, %s, %s)", (org, actor, at))
    return [r[0] for r in rows.fetchall()]


def test_history_counts_for_the_team_a_person_was_on_then(conn: Conn, org: Any) -> None:
    conn.execute("SELECT auth.create_team('acme', 'payments')")
    conn.execute("SELECT auth.create_team('acme', 'platform')")
    add(conn, org, [Acct("github:1", "Ola Nowak", "onowak", ("ola@acme.io",)),
                    Acct("git:ola@acme.io", "Ola Nowak", emails=("ola@acme.io",))])  # fmt: skip
    run(conn, org)
    pid = person_of(conn, org, "github:1")
    jan, jul = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    conn.execute("SELECT identity.add_membership(%s, 'payments', %s, %s, %s)",
                 (org, pid, jan, jul))  # fmt: skip
    conn.execute("SELECT identity.add_membership(%s, 'platform', %s, %s)", (org, pid, jul))
    march, august = datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 8, 5, tzinfo=UTC)
    assert _teams_at(conn, org, "git:ola@acme.io", march) == ["payments"]
    assert _teams_at(conn, org, "git:ola@acme.io", august) == ["platform"]
    assert _teams_at(conn, org, "git:ola@acme.io", datetime(2025, 6, 1, tzinfo=UTC)) == []
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="already on team"):
        conn.execute("SELECT identity.add_membership(%s, 'payments', %s, %s)",
                     (org, pid, datetime(2026, 6, 1, tzinfo=UTC)))  # fmt: skip


def test_merge_brings_memberships_and_undo_takes_them_back(conn: Conn, org: Any) -> None:
    conn.execute("SELECT auth.create_team('acme', 'payments')")
    add(conn, org, [Acct("github:1", "Ola Nowak", "onowak"), Acct("jira:o", "Aleksandra N")])
    run(conn, org)
    a, b = person_of(conn, org, "github:1"), person_of(conn, org, "jira:o")
    jan, may = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    conn.execute("SELECT identity.add_membership(%s, 'payments', %s, %s)", (org, b, jan))
    conn.execute("SELECT identity.add_membership(%s, 'payments', %s, %s, %s)",
                 (org, a, datetime(2025, 6, 1, tzinfo=UTC), may))  # fmt: skip
    op = _op(conn, "SELECT identity.merge(%s, %s, %s, 'admin')", org, a, b)
    rows = conn.execute("SELECT person_id, during FROM auth.team_memberships "
                        "WHERE org_id = %s", (org,)).fetchall()  # fmt: skip
    assert [r[0] for r in rows] == [a]  # the overlapping spans became one
    assert _teams_at(conn, org, "jira:o", datetime(2025, 7, 1, tzinfo=UTC)) == ["payments"]
    _op(conn, "SELECT identity.undo(%s, %s, 'admin')", org, op)
    rows = conn.execute("SELECT person_id FROM auth.team_memberships WHERE org_id = %s "
                        "ORDER BY lower(during)", (org,)).fetchall()  # fmt: skip
    assert [r[0] for r in rows] == [a, b]


# -- incremental -----------------------------------------------------------------------------


def test_accounts_are_queued_by_normalization_and_resolved_right_after(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        org_id, endpoint = make_org_with_endpoint(conn, "acme")
        accept(conn, org_id, endpoint, sample("github", "pull_request.opened"))
        normalize(database)
        pending = conn.execute("SELECT count(*) FROM identity.pending WHERE org_id = %s",
                               (org_id,)).fetchone()  # fmt: skip
        actors = conn.execute("SELECT count(*) FROM core.actors WHERE org_id = %s",
                              (org_id,)).fetchone()  # fmt: skip
        assert pending is not None
        assert actors is not None
        assert pending[0] == actors[0] > 0
        done = resolve_pending(conn)
        assert [o.pending for o in done] == [actors[0]]
        linked = conn.execute("SELECT count(*) FROM identity.links WHERE org_id = %s",
                              (org_id,)).fetchone()  # fmt: skip
        assert linked == actors
        # Normalizing the same event again changes no account: nothing is queued.
        accept(conn, org_id, endpoint, sample("github", "pull_request.opened"),
               delivery_key="again")  # fmt: skip
        normalize(database)
        again = conn.execute("SELECT count(*) FROM identity.pending WHERE org_id = %s",
                             (org_id,)).fetchone()  # fmt: skip
        assert again == (0,)


def test_a_bridging_account_merges_persons_and_logs_them_for_metrics(conn: Conn, org: Any) -> None:
    add(conn, org, [Acct("github:1", "Rui Costa", "rcosta", ("rui@acme.io",)),
                    Acct("slack:U1", "rui", emails=("rui.costa@gmail.com",))])  # fmt: skip
    run(conn, org)
    a, b = person_of(conn, org, "github:1"), person_of(conn, org, "slack:U1")
    assert a != b
    mark = conn.execute("SELECT coalesce(max(seq), 0) FROM identity.person_changes").fetchone()
    assert mark is not None
    add(conn, org, [Acct("git:rui.costa@gmail.com", "Rui Costa",
                         emails=("rui.costa@gmail.com", "rui@acme.io"))])  # fmt: skip
    run(conn, org)
    assert same(conn, org, "github:1", "slack:U1", "git:rui.costa@gmail.com")
    changed = conn.execute(
        "SELECT DISTINCT person_id FROM identity.person_changes WHERE org_id = %s AND seq > %s",
        (org, mark[0]),
    ).fetchall()
    assert {r[0] for r in changed} == {a, b}
    folded = conn.execute(
        "SELECT person_id, merged_into FROM identity.persons "
        "WHERE org_id = %s AND merged_into IS NOT NULL",
        (org,),
    ).fetchall()
    assert len(folded) == 1
    assert {folded[0][0], folded[0][1]} == {a, b}


def test_resolution_does_not_depend_on_arrival_order(conn: Conn) -> None:
    accounts = [
        Acct("github:1", "Jane Doe", "jdoe", ("jane@acme.io",)),
        Acct("git:jane@acme.io", "Jane Doe", emails=("jane@acme.io",)),
        Acct("git:1+jdoe@users.noreply.github.com", "Jane D",
             emails=("1+jdoe@users.noreply.github.com",)),
        Acct("okta:00u1", "Jane Doe", "jane@acme.io", ("jane@acme.io",), sso="00u1",
             employee="7"),
        Acct("bamboohr:7", "Doe, Jane", emails=("jane.doe@acme.io",), employee="7"),
        Acct("slack:U1", "janed", "janed", ("jane.doe@acme.io",)),
        Acct("github:2", "John Doe", "johnd", ("john@acme.io",)),
        Acct("git:john@acme.io", "John Doe", emails=("john@acme.io",)),
        Acct("github:3", "dependabot[bot]", "dependabot[bot]", is_bot=True),
    ]  # fmt: skip
    results = []
    for i, order in enumerate((accounts, accounts[::-1], accounts[1::2] + accounts[::2])):
        org_id = make_org(conn, f"order-{i}")
        for a in order:  # one account at a time, each resolved as it arrives
            add(conn, org_id, [a])
            run(conn, org_id)
        results.append(partition(conn, org_id))
        run(conn, org_id, everything=True)
        assert partition(conn, org_id) == results[-1]
    assert results[0] == results[1] == results[2]
    assert frozenset({"github:1", "git:jane@acme.io", "git:1+jdoe@users.noreply.github.com",
                      "okta:00u1", "bamboohr:7", "slack:U1"}) in results[0]  # fmt: skip


def test_cli_people_show_lists_every_account_and_why(qdx_env: str, capsys: Any) -> None:
    with psycopg.connect(qdx_env, autocommit=True) as conn:
        org_id = make_org(conn, "acme")
        jane = Acct("github:1", "Jane Doe", "jdoe", ("jane@acme.io",))
        add(conn, org_id, [jane, Acct("git:jane@acme.io", "Jane Doe", emails=("jane@acme.io",))])
    assert main(["people", "resolve", "acme"]) == 0
    assert main(["people", "show", "acme", "Jane@Acme.io"]) == 0
    shown = capsys.readouterr().out
    assert "github:1" in shown
    assert "git:jane@acme.io" in shown
    assert "email: shares email:jane@acme.io" in shown
    assert main(["people", "show", "acme", "nobody@acme.io"]) == 2
    assert "no person in acme matches" in capsys.readouterr().err
    with pytest.raises(InvalidInput):
        moment("yesterday", "--from")


def test_activity_is_read_for_co_activity(conn: Conn, org: Any) -> None:
    days = (("r1", date(2026, 1, 5)), ("r1", date(2026, 2, 5)))
    add(conn, org, [Acct("git:a@x.io", "A B", emails=("a@x.io",), activity=days)])
    rows = conn.execute("SELECT activity FROM identity.load_accounts(%s, %s)",
                        (org, ["git:a@x.io"])).fetchone()  # fmt: skip
    assert rows is not None
    assert sorted(rows[0]) == ["r1|2026-01-05", "r1|2026-02-05"]


def test_co_activity_on_the_same_days_is_compared_and_finds_candidates() -> None:
    days = [f"acme/api|2026-01-{d:02d}" for d in (5, 6, 7, 8)]
    laptop = profile("git:jd@jds-mbp.local", None, "Jo", ["jd@JDs-MBP.local"], days[:3])
    forge = profile("github:7", "night-owl", None, [], [*days, "acme/web|2026-02-02"])
    teammate = profile(
        "github:8", "cosmic-fox", None, [], ["acme/api|2026-01-05", "acme/web|2026-02-20"]
    )
    assert compare_activity(laptop, forge) == 3  # the same repository on the same days
    assert compare_activity(teammate, forge) == 2  # the same repository and month only
    # Nothing in their names or handles brings them together; the days do.
    assert coactive_pairs([laptop, forge, teammate]) == {("git:jd@jds-mbp.local", "github:7")}


def test_names_an_initial_and_a_given_name_alone() -> None:
    assert LEVELS["name"] == ("different", "first", "given", "last", "close", "exact")
    assert compare_names(("carlos", "j"), ("carlos", "jimenez")) == 4  # "Carlos J."
    # A given name alone names many people, but it is all such a name can agree on:
    # a level of its own, not "the same first name and another surname".
    assert compare_names(("susan",), ("susan",)) == 2
    assert compare_names(("susan",), ("susan", "king")) == 2
    assert compare_names(("susan", "cook"), ("susan", "king")) == 1


def test_a_group_of_linked_accounts_is_compared_as_a_whole() -> None:
    hr = profile("bamboohr:1", None, "Jung, Jiwoo", ["jiwoo.jung@acme.io"])
    okta = profile("okta:1", "jiwoo.jung@acme.io", "Frank Jung", ["jiwoo.jung@acme.io"])
    old = profile("git:jjung@initech.com", None, "Frank Jung", ["jjung@initech.com"])
    # jjung is built from the HR name, "Frank Jung" is the directory's: together.
    assert compare_groups(Group.of([hr, okta]), Group.of([old]))[:3] == (5, 0, 2)
    assert compare(okta, old)[2] == 1


def test_a_laptop_named_by_its_owners_given_name_is_compared_on_its_days() -> None:
    days = [f"acme/api|2026-01-{d:02d}" for d in (5, 6, 7)]
    laptop = profile("git:richard@richard-laptop", None, "Richard",
                     ["richard@richard-laptop.localdomain"], days)  # fmt: skip
    forge = profile("github:7", "rcooper-acme", "Richard Cooper", [],
                    [*days, "acme/web|2026-02-02"])  # fmt: skip
    # The given name is counted once, by the name comparison at a level of its own; the
    # laptop's handle "richard" (its given name again) is not also a derived handle.
    assert compare(laptop, forge) == (2, 0, None, 3)


def test_activity_u_comes_from_random_pairs_and_stays_fixed() -> None:
    # 40 accounts, each alone on its repository but for one pair on the same days.
    def days(repo: str) -> list[str]:
        return [f"{repo}|2026-01-{d:02d}" for d in (5, 6, 7)]

    profiles = [profile(f"github:{i}", f"user{i}", None, [], days(f"r{i}")) for i in range(40)]
    profiles.append(profile("git:x@y.io", None, "X Y", ["x@y.io"], days("r0")))
    u = population_u(profiles, pairs=2000)
    assert u == population_u(list(reversed(profiles)), pairs=2000)  # the same accounts
    assert abs(sum(u) - 1) < 1e-9
    assert u[3] < 0.01  # two accounts at random rarely share their days
    assert u[0] > 0.9
    # EM estimates m and lambda over the candidate pairs; the activity u stays as given.
    vectors = [(5, 2, 2, 3)] * 150 + [(1, 0, 1, 1)] * 150 + [(2, 0, None, 3)] * 20
    model = estimate(vectors, Model.default(), fixed_u={"activity": u})
    assert model.u["activity"] == u
    assert model.probability((2, 0, None, 3)) > 0.95
    assert len(model.m["name"]) == len(LEVELS["name"])


def test_a_laptop_whose_host_names_another_owner_is_no_rival() -> None:
    assert host_owners(["jkwon@Junhos-MBP.local"]) == {"junho"}
    assert host_owners(["aoi@aois-mac-mini-2.local"]) == {"aoi"}
    assert host_owners(["jamie@Jamess-MacBook-Pro.local"]) == {"james"}
    assert host_owners(["x@Mac-mini.local", "r@richard-laptop.localdomain", "a@acme.io"]) == set()

    def acct(actor: str, name: str, login: str | None = None, email: str | None = None) -> Account:
        return Account(actor, actor.split(":")[0], login, name, [email] if email else [],
                       False, None, None, None, None, None, [])  # fmt: skip

    def resolve_laptop(email: str) -> dict[str, int]:
        accounts = {a.actor_id: a for a in (
            acct("github:1", "Junho Kwon", "junho-kwon"),
            acct("github:2", "Jaehyun Kwon", "jkwon"),
            acct(f"git:{email}", "jkwon", email=email),
        )}  # fmt: skip
        vector = (None, 2, None, 3)
        scored = [(f"git:{email}", "github:1", 0.99, vector, 6.6),
                  (f"git:{email}", "github:2", 0.98, vector, 6.0)]  # fmt: skip
        result = cluster(accounts, [], scored, model=Model.default())
        return {r["actor_id"]: r["cluster"] for r in result.assign}

    # Junho's laptop fits Junho's GitHub account and (by its handle) Jaehyun's nearly
    # as well: the host names Junho, so Jaehyun's is no rival.
    mine = resolve_laptop("jkwon@junhos-mbp.local")
    assert mine["git:jkwon@junhos-mbp.local"] == mine["github:1"]
    # A laptop whose host names nobody's given name is a question for a person.
    other = resolve_laptop("jkwon@mbp.local")
    assert len(set(other.values())) == 3


def test_an_automations_accounts_across_tools_are_one(conn: Conn, org: Any) -> None:
    assert automation_name("Renovate Bot", None) == automation_name(None, "renovate[bot]")
    assert automation_name("Jenkins CI", None) == automation_name("Jenkins", "jenkins")
    assert automation_name("GitHub", "github") is None  # an app named after a tool
    add(conn, org, [
        Acct("git:ci@acme.io", "Jenkins CI", emails=("ci@acme.io",)),
        Acct("okta:00u9", "Jenkins CI", "ci@acme.io", ("ci@acme.io",), sso="00u9"),
        Acct("slack:U9", "Jenkins", "jenkins", is_bot=True),
        Acct("slack:U8", "GitHub", "github", is_bot=True),
        Acct("linear:8", "GitHub", "github", is_bot=True),
        # A person committing through a team mailbox is not the CI that uses another.
        Acct("git:team@acme.io", "Jo Lee", emails=("team@acme.io",)),
        Acct("github:5", "Jo Lee", "jolee", ("jo.lee@acme.io",)),
    ])  # fmt: skip
    run(conn, org, everything=True)
    assert same(conn, org, "git:ci@acme.io", "okta:00u9", "slack:U9")
    assert not same(conn, org, "slack:U8", "linear:8")
    assert not same(conn, org, "git:team@acme.io", "git:ci@acme.io")
    assert not same(conn, org, "git:team@acme.io", "github:5")


def test_surname_change_mailboxes_are_not_namesakes() -> None:
    assert _surname_change({"jessica.miller"}, {"jessica.wilson"})
    assert not _surname_change({"anjali.singh"}, {"anjali.singh2"})
    assert not _surname_change({"margaret.carter", "margaret.turner2"}, {"margaret.turner"})
    assert not _surname_change({"rajesh"}, {"rajesh.kumar"})


def test_a_surname_change_links_through_an_account_with_the_old_name_and_new_mailbox(
    conn: Conn, org: Any
) -> None:
    add(conn, org, [
        Acct("okta:00u1", "Jessica Miller", "jessica.miller@acme.io", ("jessica.miller@acme.io",),
             sso="00u1"),
        Acct("pagerduty:P1", "Jessica Miller", emails=("jessica.wilson@acme.io",)),
        Acct("git:jessica.wilson@acme.io", "Jessica Wilson", emails=("jessica.wilson@acme.io",)),
    ])  # fmt: skip
    run(conn, org, everything=True)
    assert same(conn, org, "okta:00u1", "pagerduty:P1", "git:jessica.wilson@acme.io")
