"""The identity evaluation set: reproducible, as large as promised, well-formed per vendor,
and holding every hard case it promises (pure Python, no database)."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from synth.identities import DOMAIN, HARD_CASES, NOREPLY, PROVIDERS, WINDOW, EvalSet, generate

ROOT = Path(__file__).resolve().parent.parent
CODE = {"github", "gitlab", "git"}
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
# The least each tag must reach for 500 people: (accounts, distinct people).
MINIMUM = {
    "shared_first_name": (500, 150),
    "same_full_name": (32, 16),
    "changed_surname": (30, 10),
    "personal_and_work_email": (100, 60),
    "noreply": (40, 30),
    "typo": (15, 15),
    "nickname": (100, 40),
    "transliteration": (60, 30),
    "handle_only": (60, 40),
    "hidden_email": (200, 100),
    "shared_mailbox": (3, 3),
    "left_and_rejoined": (2, 1),
    "bot_lookalike": (2, 1),
}


@pytest.fixture(scope="module")
def evalset() -> EvalSet:
    return generate(7, 500)


def digest(e: EvalSet) -> str:
    h = hashlib.sha256()
    for a in e.accounts:
        h.update(repr(a).encode())
        h.update(repr(sorted(e.tags_of(a))).encode())
    return h.hexdigest()


def test_the_same_seed_gives_the_same_set(evalset: EvalSet) -> None:
    again = generate(7, 500)
    assert again == evalset
    assert dict(again.tags) == dict(evalset.tags)
    assert again.hard_cases() == evalset.hard_cases()


def test_the_set_does_not_depend_on_hash_seeds_or_global_random(evalset: EvalSet) -> None:
    state = random.getstate()
    random.seed(12345)
    assert digest(generate(7, 500)) == digest(evalset)
    random.setstate(state)
    code = "from synth.identities import generate; from tests.test_synth_identities import digest; "
    code += "print(digest(generate(7, 500)))"
    for hash_seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
        assert out.stdout.strip() == digest(evalset)


def test_another_seed_gives_another_set(evalset: EvalSet) -> None:
    other = generate(8, 500)
    assert other.seed == 8
    assert digest(other) != digest(evalset)
    assert {a.external_id for a in other.accounts} != {a.external_id for a in evalset.accounts}


def test_size_and_truths(evalset: EvalSet) -> None:
    assert evalset.people == 500
    assert len(evalset.accounts) >= 2000
    humans = Counter(a.truth for a in evalset.accounts if not a.truth.startswith("bot:"))
    assert len(humans) == 500
    assert all(re.fullmatch(r"p\d{4}", t) for t in humans)
    assert min(humans.values()) >= 1
    assert max(humans.values()) <= 9
    assert 4.0 <= sum(humans.values()) / len(humans) <= 5.5
    assert len(set(humans.values())) >= 7  # from 1 to 9 accounts, not all alike
    bots = {a.truth for a in evalset.accounts if a.truth.startswith("bot:")}
    assert len(bots) >= 15
    assert {"bot:dependabot", "bot:renovate", "bot:github-actions", "bot:jenkins",
            "bot:deploy"} <= bots  # fmt: skip


def test_provider_and_external_id_are_unique(evalset: EvalSet) -> None:
    keys = [(a.provider, a.external_id) for a in evalset.accounts]
    assert len(keys) == len(set(keys))
    assert set(evalset.tags) == set(keys)
    assert {a.provider for a in evalset.accounts} == set(PROVIDERS)


def test_accounts_look_like_their_vendors(evalset: EvalSet) -> None:
    for a in evalset.accounts:
        human = not a.truth.startswith("bot:")
        if a.provider == "git":
            assert a.emails
            assert a.external_id == a.emails[0].lower()
            assert a.login is None
        elif a.provider == "github":
            assert a.external_id.isdigit()
            assert a.login
        elif a.provider == "jira":
            assert re.fullmatch(r"[0-9a-f]{24}|\d+:[0-9a-f-]{36}", a.external_id)
        elif a.provider == "linear":
            assert re.fullmatch(UUID4, a.external_id)
        elif a.provider == "slack":
            assert re.fullmatch(r"U[0-9A-Z]{8,11}", a.external_id)
        elif a.provider == "pagerduty":
            assert re.fullmatch(r"P[0-9A-Z]{6}", a.external_id)
        elif a.provider == "okta":
            assert re.fullmatch(r"00u[0-9A-Za-z]{17}", a.external_id)
            assert a.sso_subject == a.external_id
            assert a.login
            assert "@" in a.login
        elif a.provider == "bamboohr" and human:
            assert a.employee_id == a.external_id
            assert a.display_name
            assert ", " in a.display_name  # "Last, First"
        elif a.provider == "google_calendar":
            assert a.emails == (a.external_id,)
        if a.provider not in ("okta", "github"):
            assert a.sso_subject is None
        if a.provider not in ("okta", "bamboohr"):
            assert a.employee_id is None


def test_every_hard_case_reaches_its_minimum(evalset: EvalSet) -> None:
    counts = evalset.hard_cases()
    people = evalset.hard_case_people()
    assert set(HARD_CASES) <= set(counts)
    for tag, (accounts, persons) in MINIMUM.items():
        assert counts[tag] >= accounts, (tag, counts[tag])
        assert people[tag] >= persons, (tag, people[tag])


def test_same_full_name_pairs_are_different_people_with_different_addresses(
    evalset: EvalSet,
) -> None:
    named: dict[str, set[str]] = defaultdict(set)  # HR's and Okta's name -> people
    for a in evalset.accounts:
        if "same_full_name" not in evalset.tags_of(a) or not a.display_name:
            continue
        if a.provider == "bamboohr":
            last, _, first = a.display_name.partition(", ")
            named[f"{first.split(' ')[0]} {last}"].add(a.truth)
        elif a.provider == "okta":
            named[a.display_name].add(a.truth)
    assert sum(1 for truths in named.values() if len(truths) >= 2) >= 3
    # No address (work or personal) is stated by two people, except shared mailboxes.
    owners: dict[str, set[str]] = defaultdict(set)
    for a in evalset.accounts:
        for email in a.emails:
            owners[email.lower()].add(a.truth)
    shared = {e: t for e, t in owners.items() if len(t) > 1}
    assert shared
    for email in shared:
        tagged = [a for a in evalset.accounts if email in {e.lower() for e in a.emails}]
        assert all("shared_mailbox" in evalset.tags_of(a) for a in tagged), email


def test_changed_surnames_show_both_names(evalset: EvalSet) -> None:
    by_truth: dict[str, list[str]] = defaultdict(list)
    for a in evalset.accounts:
        if "changed_surname" in evalset.tags_of(a):
            by_truth[a.truth] += [e.lower() for e in a.emails if e.lower().endswith("@" + DOMAIN)]
    assert len(by_truth) >= 10
    both = [t for t, emails in by_truth.items() if len(set(emails)) >= 2]
    assert len(both) >= 5  # old and new work addresses of one person
    assert evalset.hard_case_people()["old_surname"] >= 5


def test_shared_mailboxes_belong_to_the_real_committer(evalset: EvalSet) -> None:
    commits = [a for a in evalset.accounts
               if a.provider == "git" and "shared_mailbox" in evalset.tags_of(a)]  # fmt: skip
    assert len({a.truth for a in commits}) >= 3
    for a in commits:
        assert not a.truth.startswith("bot:")
        assert a.external_id.endswith("@" + DOMAIN)
        assert not re.fullmatch(r"[a-z]+\.[a-z-]+\d*@.*", a.external_id)  # not first.last@
    addresses = {a.external_id for a in commits}
    elsewhere = [a for a in evalset.accounts if a.provider == "github"
                 and {e.lower() for e in a.emails} & addresses]  # fmt: skip
    committers = {a.external_id: a.truth for a in commits}
    assert elsewhere
    for a in elsewhere:
        assert a.truth != committers[a.emails[0].lower()]


def test_noreply_addresses_decode_to_the_persons_github_account(evalset: EvalSet) -> None:
    github = {a.truth: a for a in evalset.accounts if a.provider == "github"}
    noreply = [a for a in evalset.accounts if a.provider == "git" and NOREPLY in a.external_id]
    assert {a.external_id for a in noreply} == {
        a.external_id for a in evalset.accounts if "noreply" in evalset.tags_of(a)
    }
    forms = Counter()
    for a in noreply:
        local = a.external_id.split("@")[0]
        owner = github[a.truth]
        number, plus, login = local.partition("+")
        if plus:
            forms["id"] += 1
            assert number == owner.external_id
            assert owner.login is not None
            if login != owner.login.lower():
                assert "renamed_login" in evalset.tags_of(a)
        else:
            forms["legacy"] += 1
            assert owner.login is not None
            if local != owner.login.lower():
                assert "renamed_login" in evalset.tags_of(a)
    assert forms["id"] >= 20
    assert forms["legacy"] >= 5


def test_bots_are_tagged_and_some_look_human(evalset: EvalSet) -> None:
    for a in evalset.accounts:
        tags = evalset.tags_of(a)
        assert ("bot" in tags) == a.truth.startswith("bot:")
        if a.is_bot:
            assert a.truth.startswith("bot:")
        if "bot_lookalike" in tags:
            assert not a.is_bot
            assert a.display_name
            assert "[bot]" not in a.display_name
    jenkins = [a for a in evalset.accounts if a.truth == "bot:jenkins"]
    assert any(a.display_name == "Jenkins CI" and a.emails == (f"ci@{DOMAIN}",) for a in jenkins)
    assert any(not a.is_bot for a in jenkins)
    assert any(a.is_bot for a in evalset.accounts if a.truth == "bot:dependabot")


def test_activity_is_in_code_tools_only_and_follows_team_moves(evalset: EvalSet) -> None:
    moved = 0
    for a in evalset.accounts:
        if a.provider not in CODE:
            assert a.activity == ()
            continue
        assert list(a.activity) == sorted(set(a.activity))
        for repo, day in a.activity:
            assert "/" in repo
            assert WINDOW[0] <= day <= WINDOW[1]
        if a.provider == "github" and not a.truth.startswith("bot:"):
            early = Counter(r for r, d in a.activity if d < date(2025, 7, 1))
            late = Counter(r for r, d in a.activity if d >= date(2026, 1, 1))
            if early and late and early.most_common(1)[0][0] not in late:
                moved += 1  # the repository worked in most is no longer worked in
    assert sum(1 for a in evalset.accounts if a.provider in CODE and a.activity) >= 400
    assert moved >= 20


def test_a_small_organisation_is_consistent() -> None:
    small = generate(3, 30)
    assert small.people == 30
    assert len({a.truth for a in small.accounts if not a.truth.startswith("bot:")}) == 30
    keys = [(a.provider, a.external_id) for a in small.accounts]
    assert len(keys) == len(set(keys))
    with pytest.raises(ValueError, match="people"):
        generate(1, 0)
