"""Scoring identity resolution against a labelled evaluation set (synth.identities).

The set's accounts are written as normalization leaves accounts (core.actors rows queued
in identity.pending, their code activity as commits), resolved by the real resolver, and
the resulting person graph is compared with the truth pairwise: every pair of accounts
is a true link when both belong to one person, and a predicted link when the resolver
put both on one person. Precision and recall are over those pairs; links waiting in the
review queue are not automatic and do not count.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from synth.identities import Account

Conn = psycopg.Connection[Any]


def actor_id(account: Account) -> str:
    return f"{account.provider}:{account.external_id}"


def load(conn: Conn, org_id: UUID, accounts: Iterable[Account]) -> int:
    """Write the accounts (and their activity as commits) with COPY and queue them for
    resolution; returns how many accounts were written."""
    accounts = list(accounts)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY core.actors (org_id, actor_id, provider, external_id, login, display_name,"
            " emails, is_bot, sso_subject, employee_id, first_seen_at, last_seen_at)"
            " FROM STDIN"
        ) as copy:
            now = datetime.now(UTC)
            for a in accounts:
                copy.write_row((org_id, actor_id(a), a.provider, a.external_id, a.login,
                                a.display_name, sorted({e.lower() for e in a.emails}),
                                a.is_bot, a.sso_subject, a.employee_id, now, now))  # fmt: skip
        with cur.copy(
            "COPY core.commits (org_id, commit_id, provider, repo_id, sha, author_id,"
            " authored_at) FROM STDIN"
        ) as copy:
            for a in accounts:
                for i, (repo, day) in enumerate(a.activity):
                    ident = actor_id(a)
                    sha = hashlib.sha256(f"{ident}:{i}".encode()).hexdigest()[:40]
                    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                    copy.write_row((org_id, f"{repo}:{sha}", "git", repo, sha, ident, at))
        with cur.copy("COPY identity.pending (org_id, actor_id) FROM STDIN") as copy:
            for a in accounts:
                copy.write_row((org_id, actor_id(a)))
    return len(accounts)


@dataclass
class Score:
    """Pairwise precision and recall of the automatic links, and where links came from."""

    accounts: int = 0
    people: int = 0
    true_pairs: int = 0
    predicted_pairs: int = 0
    correct_pairs: int = 0
    reviews: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    false_links: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, method)
    missed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def _pairs(groups: Iterable[list[str]]) -> set[tuple[str, str]]:
    out = set()
    for group in groups:
        members = sorted(group)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                out.add((a, b))
    return out


def score(conn: Conn, org_id: UUID, accounts: Iterable[Account], examples: int = 20) -> Score:
    """Compare the org's person graph with the truth of the accounts."""
    truth: dict[str, list[str]] = defaultdict(list)
    for a in accounts:
        truth[a.truth].append(actor_id(a))
    rows = conn.execute(
        "SELECT actor_id, person_id, method FROM identity.links WHERE org_id = %s", (org_id,)
    ).fetchall()
    predicted: dict[UUID, list[str]] = defaultdict(list)
    method = {}
    for actor, person, how in rows:
        predicted[person].append(actor)
        method[actor] = how
    true_pairs, predicted_pairs = _pairs(truth.values()), _pairs(predicted.values())
    result = Score(
        accounts=len(rows), people=sum(1 for k in truth if not k.startswith("bot:")),
        true_pairs=len(true_pairs), predicted_pairs=len(predicted_pairs),
        correct_pairs=len(true_pairs & predicted_pairs), methods=Counter(method.values()),
    )  # fmt: skip
    reviews = conn.execute(
        "SELECT count(*) FROM identity.review_queue WHERE org_id = %s AND status = 'pending'",
        (org_id,),
    ).fetchone()
    result.reviews = int(reviews[0]) if reviews else 0
    wrong = sorted(predicted_pairs - true_pairs)
    result.false_links = [(a, b, f"{method[a]}/{method[b]}") for a, b in wrong[:examples]]
    result.missed = sorted(true_pairs - predicted_pairs)[:examples]
    return result
