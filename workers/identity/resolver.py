"""Identity resolution: which accounts are one person.

The resolver reads a scope of accounts (those waiting in identity.pending, everything they
share a key or a person with, and the matcher's candidates for them) and clusters it:

1. accounts an admin pinned to the same person are one cluster, whatever else holds;
2. deterministic rules, strongest first (SSO subject and employee id, a decoded noreply
   address, a shared email, the same login behind one identity provider), join clusters
   when they share a key; an automation's accounts in several tools join by their
   automation name (Jenkins, "Jenkins CI");
3. the matcher's pairs, most probable first, join clusters when their probability is at
   least `auto` and no competing cluster is nearly as likely (an account that fits two
   people equally well is a question for a person, not a guess); pairs in the band
   [`review`, `auto`) go to the review queue; below `review` nothing happens.

A join is refused when it would pin two persons together or contradict an admin's
'apart' decision; weak evidence (a shared login, the matcher) never joins two directory
records or employee numbers, and email or weaker never joins an automation and a human.
The matcher also never joins two different mailboxes at one company domain or two
accounts of one tool. Each cluster keeps the person most of its accounts already had (or
its pin), so ids are stable; the result is written by identity.apply as one operation
with its link history. Matcher pairs are tried again after each pass of joins until a
pass joins nothing (a join can settle what made an earlier pair ambiguous). A full pass
over an org (`everything`) is a function of its accounts and decisions; passes over
arriving accounts are more cautious and can differ until the next full pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from db.queries import QUERIES
from db.scope import as_worker
from workers.identity.matcher import (
    LEVELS,
    MIN_TRAINING_PAIRS,
    Group,
    Model,
    Profile,
    coactive_pairs,
    compare,
    compare_groups,
    describe,
    estimate,
    population_u,
    profile,
)
from workers.identity.names import block_keys, first_name_forms, is_role_mailbox, name_tokens

log = logging.getLogger(__name__)

# Strengths as identity.rule_of gives them: pins 0, SSO and employee 1, noreply 2, email 3,
# shared login 4, the matcher 5.
EXPLICIT_STRENGTH = 0
NOREPLY_STRENGTH = 2
SHARED_LOGIN_STRENGTH = 4
MATCHER_STRENGTH = 5


@dataclass(frozen=True)
class Thresholds:
    """Where the matcher links, asks, and ignores."""

    auto: float = 0.95  # link automatically at or above
    review: float = 0.5  # ask a person at or above (and below auto)
    margin_bits: float = 3.0  # a competitor within this many bits of log-odds is a tie


@dataclass
class Account:
    """One account as the resolver sees it."""

    actor_id: str
    provider: str
    login: str | None
    display_name: str | None
    emails: list[str]
    automation: bool
    sso: str | None
    employee: str | None
    person_id: UUID | None
    method: str | None
    pinned_to: UUID | None
    activity: list[str]

    def profile(self) -> Profile:
        return profile(self.actor_id, self.login, self.display_name, self.emails,
                       self.activity)  # fmt: skip


@dataclass
class Resolution:
    """The clustering of a scope: a link for every account and the pairs to review."""

    assign: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    methods: Counter[str] = field(default_factory=Counter)


@dataclass
class _Cluster:
    members: set[str]
    sso: set[str]
    employees: set[str]
    pins: set[UUID]
    automation: bool
    apart: set[str]
    seeds: set[str]  # the phase-1 roots it contains
    tools: set[str]  # providers of its accounts, git identities aside (people have several)
    mailboxes: dict[str, set[str]]  # company domain -> personal mailboxes there
    logins: set[str]  # lower-cased logins (the local part when a login is an address)
    owners: set[str]  # given names a laptop's host names its owner by (janes-macbook-pro)
    words: set[str]  # the words of its accounts' full names (two words or more)


# Mail providers anyone can sign up to: an address there says nothing about an employer.
FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.ru",
    "yandex.ru", "yandex.com", "qq.com", "163.com", "126.com", "naver.com", "hey.com",
    "fastmail.com", "zoho.com", "tutanota.com", "hushmail.com",
})  # fmt: skip


HOST_LOCAL = (".local", ".localdomain", ".lan", ".home", ".internal")


def company_mailboxes(emails: Iterable[str]) -> dict[str, set[str]]:
    """Personal addresses at company domains, as {domain: {local part}} (plus-tags
    dropped; free mail, forge noreply, host-local and role mailboxes left out)."""
    out: dict[str, set[str]] = {}
    for email in emails:
        local, _, domain = email.strip().lower().partition("@")
        local = local.split("+", 1)[0]
        if (not domain or "." not in domain or domain in FREEMAIL or "noreply" in domain
                or domain.startswith("yahoo.") or is_role_mailbox(local)
                or domain.endswith(HOST_LOCAL)):  # fmt: skip
            continue
        out.setdefault(domain, set()).add(local)
    return out


_BOX_WORDS = re.compile(r"[a-z]{2,}")


def _name_words(local: str) -> tuple[str, ...]:
    """A mailbox's words without numbers and initials: anjali.singh2 and anjali.singh,
    patricia.b.taylor and patricia.taylor give the same words."""
    return tuple(_BOX_WORDS.findall(local))


def _surname_change(xs: set[str], ys: set[str]) -> bool:
    """Whether two sets of mailboxes at one domain read as one person's before and after
    a change of surname: given name first, then one surname, the same given name on both
    sides and a different surname; and no two that a company gives two people of one name
    (anjali.singh@, anjali.singh2@)."""
    wxs, wys = {_name_words(x) for x in xs}, {_name_words(y) for y in ys}
    if wxs & wys:
        return False
    return any(len(wx) == len(wy) == 2 and wx[0] == wy[0] and wx[1] != wy[1]
               for wx in wxs for wy in wys)  # fmt: skip


# A laptop's default host name is its owner's given name in the possessive and the
# model: "Janes-MacBook-Pro.local", "Aois-Mac-mini-2.local".
_OWNED_HOST = re.compile(r"^([a-z]+?)s-(?:macbook|mbp|mac|imac)\b")


def host_owners(emails: Iterable[str]) -> set[str]:
    """The given names that the host names of host-local addresses name their owners by
    (jkwon@Junhos-MBP.local: junho)."""
    out = set()
    for email in emails:
        domain = email.strip().lower().partition("@")[2]
        if domain.endswith(HOST_LOCAL) or "." not in domain:
            m = _OWNED_HOST.match(domain)
            if m and len(m.group(1)) >= 2:
                out.add(m.group(1))
    return out


def _full_name_words(display_name: str | None) -> set[str]:
    tokens = name_tokens(display_name)
    return set(tokens) if len(tokens) >= 2 else set()


def _owner_named(owners: set[str], words: set[str]) -> bool:
    """Whether a laptop's owner (a given name) is among a person's name words, or a
    nickname of one of them."""
    return any(w == o or o in first_name_forms(w) for o in owners for w in words)


def _directory_subject(a: Account) -> set[str]:
    """The SSO subject of an identity provider's own record of a person (an Okta user whose
    subject is its id): two such records are two people. A tool's claim of a subject (a
    GitHub SAML identity) links by the rule but excludes nothing: it may name a directory
    record we do not see (deleted, or another IdP)."""
    return {a.sso} if a.sso and a.actor_id.endswith(":" + a.sso) else set()


class _Graph:
    """Union-find over accounts with the attributes that decide whether two clusters may
    join."""

    def __init__(self, accounts: dict[str, Account], apart: Iterable[tuple[str, str]]) -> None:
        self.parent = {a: a for a in accounts}
        away: dict[str, set[str]] = defaultdict(set)
        for a, b in apart:
            away[a].add(b)
            away[b].add(a)
        self.info = {
            a.actor_id: _Cluster(
                {a.actor_id},
                _directory_subject(a),
                {a.employee} if a.employee else set(),
                {a.pinned_to} if a.pinned_to else set(),
                a.automation,
                set(away.get(a.actor_id, ())),
                {a.actor_id},
                {a.provider} if a.provider != "git" else set(),
                company_mailboxes(a.emails),
                {a.login.lower().split("@", 1)[0]} if a.login else set(),
                host_owners(a.emails),
                _full_name_words(a.display_name),
            )
            for a in accounts.values()
        }

    def find(self, a: str) -> str:
        root = a
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[a] != root:
            self.parent[a], a = root, self.parent[a]
        return root

    def compatible(self, ra: str, rb: str, strength: int) -> bool:
        """Whether a link of this strength may join two clusters. Never two admin pins or
        accounts an admin keeps apart. Weak evidence (a login shared through an identity
        provider, the matcher) never joins two SSO subjects or two employee ids that
        share nothing; a personal mailbox or a noreply address may (a rehire gets a new
        employee number and keeps the address). Identifiers that name one account (SSO
        subject, employee id, noreply address) may join an automation's accounts even
        where only one of them looks like one; weaker evidence never joins an automation
        and a human."""
        x, y = self.info[ra], self.info[rb]
        exclusive = strength >= SHARED_LOGIN_STRENGTH
        return (
            len(x.pins | y.pins) <= 1
            and not (exclusive and x.sso and y.sso and not x.sso & y.sso)
            and not (exclusive and x.employees and y.employees and not x.employees & y.employees)
            and (x.automation == y.automation or strength <= NOREPLY_STRENGTH)
            and not (x.apart & y.members)
        )

    def matchable(self, ra: str, rb: str) -> bool:
        """Whether the matcher may join two clusters: they are compatible, hold no two
        mailboxes of one company that differ, and no two accounts of one tool (a person
        has one account per tool; git identities aside)."""
        return (self.compatible(ra, rb, MATCHER_STRENGTH)
                and not self.distinct_mailboxes(ra, rb)
                and not self.info[ra].tools & self.info[rb].tools)  # fmt: skip

    def owned_elsewhere(self, ra: str, rb: str) -> bool:
        """Whether one cluster's laptop names an owner (janes-macbook-pro) that none of
        the other cluster's full names has as a word or nickname: that laptop is someone
        else's."""
        x, y = self.info[ra], self.info[rb]
        return bool((x.owners and y.words and not _owner_named(x.owners, y.words))
                    or (y.owners and x.words and not _owner_named(y.owners, x.words)))  # fmt: skip

    def distinct_mailboxes(self, ra: str, rb: str) -> bool:
        """Whether both clusters have personal mailboxes at one company domain and share
        none there: a company gives two people of the same name two addresses
        (anjali.singh@, anjali.singh2@), so the matcher must not join them."""
        x, y = self.info[ra], self.info[rb]
        for d in x.mailboxes.keys() & y.mailboxes.keys():
            if x.mailboxes[d] & y.mailboxes[d]:
                continue
            # jessica.miller@ and jessica.wilson@ (the same given name, another surname)
            # may be one person before and after a surname change: that is for the
            # matcher's evidence to weigh. Other pairs of mailboxes are two people.
            if _surname_change(x.mailboxes[d], y.mailboxes[d]):
                continue
            # Unless one side's login is the other's mailbox, exactly (a surname change:
            # the chat login stayed svetlana.kuznetsova when the mail became .ivanova).
            if not (x.logins & y.mailboxes[d] or y.logins & x.mailboxes[d]):
                return True
        return False

    def union(self, ra: str, rb: str) -> str:
        if len(self.info[ra].members) < len(self.info[rb].members) or (
            len(self.info[ra].members) == len(self.info[rb].members) and rb < ra
        ):
            ra, rb = rb, ra
        x, y = self.info[ra], self.info.pop(rb)
        self.parent[rb] = ra
        x.members |= y.members
        x.sso |= y.sso
        x.employees |= y.employees
        x.pins |= y.pins
        x.apart |= y.apart
        x.seeds |= y.seeds
        x.tools |= y.tools
        x.logins |= y.logins
        x.owners |= y.owners
        x.words |= y.words
        for domain, boxes in y.mailboxes.items():
            x.mailboxes.setdefault(domain, set()).update(boxes)
        x.automation = x.automation or y.automation
        return ra


_BOT_WORDS = frozenset({"bot", "bots", "ci", "app", "integration"})
# Apps named after a tool are that tool's integration into another (the GitHub app in
# Slack, Linear's GitHub integration): one per pair of tools, not one automation.
_TOOL_NAMES = frozenset({"github", "gitlab", "bitbucket", "slack", "jira", "linear",
                         "pagerduty", "opsgenie", "okta", "confluence"})  # fmt: skip


def automation_name(display_name: str | None, login: str | None) -> str | None:
    """An automation's name as its accounts in several tools share it: words without
    "bot", "CI", "[bot]" (renovate[bot], "Renovate Bot": renovate)."""
    words = [w for w in re.split(r"[^a-z0-9]+", (display_name or login or "").lower())
             if w and w not in _BOT_WORDS]  # fmt: skip
    name = " ".join(words)
    return name if len(name) >= 4 and name not in _TOOL_NAMES else None


def _automation_edges(accounts: dict[str, Account]) -> list[tuple[str, str, str]]:
    """Pairs of automation accounts with the same automation name (automation_name):
    (a, b, name), in order."""
    named: dict[str, list[str]] = defaultdict(list)
    for a in sorted(accounts):
        acc = accounts[a]
        name = automation_name(acc.display_name, acc.login) if acc.automation else None
        if name:
            named[name].append(a)
    return [(members[0], other, name) for name, members in sorted(named.items())
            for other in members[1:]]  # fmt: skip


def _group_scores(
    g: _Graph,
    accounts: dict[str, Account],
    scored: Sequence[tuple[str, str, float, tuple[int | None, ...], float]],
    model: Model,
    profiles: dict[str, Profile] | None,
) -> dict[tuple[str, str], tuple[float, tuple[int | None, ...], float]]:
    """The comparison of every two clusters the rules made that have a candidate pair
    between them and hold more than one account between them, as wholes: (probability,
    vector, log2 odds)."""
    profiles = profiles or {a: acc.profile() for a, acc in accounts.items()
                            if not acc.automation}  # fmt: skip
    members: dict[str, list[Profile]] = defaultdict(list)
    for a, prof in profiles.items():
        members[g.find(a)].append(prof)
    groups: dict[str, Group] = {}
    out: dict[tuple[str, str], tuple[float, tuple[int | None, ...], float]] = {}
    for a, b, *_rest in scored:
        ra, rb = g.find(a), g.find(b)
        if ra == rb:
            continue
        pair = (ra, rb) if ra < rb else (rb, ra)
        if pair in out or (len(members[ra]) < 2 and len(members[rb]) < 2):
            continue
        for r in pair:
            if r not in groups:
                groups[r] = Group.of(members[r])
        vector = compare_groups(groups[pair[0]], groups[pair[1]])
        out[pair] = (model.probability(vector), vector, model.log_odds(vector))
    return out


def cluster(
    accounts: dict[str, Account],
    rule_edges: Sequence[tuple[str, str, str, int, str]],
    scored: Sequence[tuple[str, str, float, tuple[int | None, ...], float]],
    apart: Iterable[tuple[str, str]] = (),
    thresholds: Thresholds | None = None,
    model: Model | None = None,
    profiles: dict[str, Profile] | None = None,
) -> Resolution:
    """Cluster a scope (see the module's docstring) and assign each cluster a person.
    With the matcher's `model`, two clusters the rules made are also compared as wholes
    (every name, handle and day of their accounts together), and the better of that and
    their best pair of accounts counts."""
    t = thresholds or Thresholds()
    apart = list(apart)
    apart_set = {frozenset(p) for p in apart}
    g = _Graph(accounts, apart)
    # Why each account is linked: (strength, method, confidence, evidence); lower is
    # stronger.
    why: dict[str, tuple[int, str, float, dict[str, Any]]] = {}

    def note(actor: str, strength: int, method: str, conf: float, ev: dict[str, Any]) -> None:
        if actor not in why or strength < why[actor][0]:
            why[actor] = (strength, method, conf, ev)

    # 1. Pins.
    pinned: dict[UUID, list[str]] = defaultdict(list)
    for a in sorted(accounts):
        if accounts[a].pinned_to:
            pinned[accounts[a].pinned_to].append(a)  # type: ignore[index]
            note(a, EXPLICIT_STRENGTH, "explicit", 1.0, {"rule": "pinned by an admin"})
    for group in pinned.values():
        for other in group[1:]:
            ra, rb = g.find(group[0]), g.find(other)
            if ra != rb:
                g.union(ra, rb)

    # 2. Deterministic rules, strongest first.
    for a, b, method, strength, key in sorted(rule_edges, key=lambda e: (e[3], e[0], e[1])):
        ra, rb = g.find(a), g.find(b)
        if ra != rb:
            if not g.compatible(ra, rb, strength):
                continue
            g.union(ra, rb)
        ev = {"rule": method, "key": key}
        note(a, strength, method, 1.0, {**ev, "with": b})
        note(b, strength, method, 1.0, {**ev, "with": a})

    # 2b. An automation's accounts across tools: the same name once "bot", "CI", "[bot]"
    # are left out (Jenkins in Slack, "Jenkins CI" committing). Automations only, never
    # a person. (A role mailbox they share is no evidence: dev@ is also a person's when
    # it is their commits' only address.)
    for a, b, key in _automation_edges(accounts):
        ra, rb = g.find(a), g.find(b)
        if (
            ra != rb
            and g.info[ra].automation
            and g.info[rb].automation
            and g.compatible(ra, rb, MATCHER_STRENGTH)
        ):
            g.union(ra, rb)
            same: dict[str, Any] = {
                "rule": "automation",
                "key": key,
                "comparisons": {"automation name": key},
            }
            note(a, MATCHER_STRENGTH, "matcher", 1.0, {**same, "with": b})
            note(b, MATCHER_STRENGTH, "matcher", 1.0, {**same, "with": a})

    # 3. The matcher, between the clusters the rules left.
    for root in g.info:
        g.info[root].seeds = {root}
    lifted = _group_scores(g, accounts, scored, model, profiles) if model else {}
    best: dict[tuple[str, str], tuple[float, str, str, tuple[int | None, ...]]] = {}
    bits: dict[tuple[str, str], float] = {}  # log2 odds: probabilities near 1 all look alike
    for a, b, p, vector, odds in scored:
        ra, rb = g.find(a), g.find(b)
        if ra == rb:
            continue
        pair = (ra, rb) if ra < rb else (rb, ra)
        if pair in lifted and lifted[pair][2] > odds:
            p, vector, odds = lifted[pair]
        if p < t.review or frozenset((a, b)) in apart_set:
            continue
        if pair not in best or (odds, a, b) > (bits[pair], *best[pair][1:3]):
            best[pair] = (p, a, b, vector)
            bits[pair] = odds
    near: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for (x, y), (p, *_rest) in best.items():
        near[x].append((y, p, bits[(x, y)]))
        near[y].append((x, p, bits[(x, y)]))

    def direct(r1: str, r2: str) -> float:
        s1, s2 = g.info[r1].seeds, g.info[r2].seeds
        return max((best.get((x, y) if x < y else (y, x), (0.0,))[0]
                    for x in s1 for y in s2), default=0.0)  # fmt: skip

    def rival(side: str, other: str, odds: float) -> tuple[str, float] | None:
        # Another cluster that fits `side` nearly as well as `other` does and is not
        # itself the same person as `other` (it may not join it, or does not match it
        # well enough to): then `side` fits two people, and choosing is a guess.
        # Returns an account of it and how well it fits (log2 odds).
        for seed in sorted(g.info[side].seeds):
            for w, q, q_odds in near[seed]:
                rw = g.find(w)
                if rw in (side, other) or q < t.review or q_odds < odds - t.margin_bits:
                    continue
                if g.owned_elsewhere(rw, side):  # a laptop of someone else's is no rival
                    continue
                if not g.matchable(rw, other):
                    return w, q_odds
        return None

    # Most probable first; pairs left undecided are tried again after the joins of a pass
    # (a join can settle what made a pair ambiguous), until a pass joins nothing.
    ordered = sorted(best.items(), key=lambda kv: (-bits[kv[0]], kv[0]))
    undecided: dict[tuple[str, str], dict[str, Any]] = {}
    joined = True
    while joined:
        joined = False
        undecided = {}
        for (x, y), (p, a, b, vector) in ordered:
            ra, rb = g.find(x), g.find(y)
            if ra == rb or not g.matchable(ra, rb):
                continue
            evidence = {"probability": round(p, 6), "comparisons": describe(vector)}
            odds = bits[(x, y)]
            rivalled = rival(ra, rb, odds) or rival(rb, ra, odds) if p >= t.auto else None
            if p >= t.auto and rivalled is None:
                g.union(ra, rb)
                joined = True
                note(a, MATCHER_STRENGTH, "matcher", p, {**evidence, "with": b})
                note(b, MATCHER_STRENGTH, "matcher", p, {**evidence, "with": a})
                continue
            why_not = ({"reason": "in the review band"} if p < t.auto or rivalled is None else
                       {"reason": "as likely to be someone else", "rival": rivalled[0],
                        "bits": round(odds, 1), "rival_bits": round(rivalled[1], 1)})  # fmt: skip
            undecided[(min(a, b), max(a, b))] = {
                "a": min(a, b), "b": max(a, b), "probability": round(p, 6),
                "evidence": {"comparisons": describe(vector), **why_not},
            }  # fmt: skip
    reviews = undecided

    # A pair whose clusters were joined after all is no question.
    review_list = [r for r in reviews.values() if g.find(r["a"]) != g.find(r["b"])]

    # Persons: a cluster keeps its pin, else the person most of its accounts had.
    roots = sorted(g.info, key=lambda r: (not g.info[r].pins, -len(g.info[r].members), r))
    taken: set[UUID] = set()
    person_of: dict[str, UUID | None] = {}
    cluster_no: dict[str, int] = {}
    for i, r in enumerate(roots):
        c = g.info[r]
        chosen: UUID | None = None
        if c.pins:
            chosen = next(iter(c.pins))
        else:
            held = Counter(accounts[a].person_id for a in c.members if accounts[a].person_id)
            for pid, _n in sorted(held.items(), key=lambda kv: (-kv[1], str(kv[0]))):
                if pid not in taken:
                    chosen = pid
                    break
        if chosen is not None:
            taken.add(chosen)
        person_of[r] = chosen
        cluster_no[r] = i

    res = Resolution([], review_list)
    for a in sorted(accounts):
        r = g.find(a)
        if accounts[a].pinned_to or (a in why and why[a][1] != "explicit"):
            strength, method, conf, ev = why[a]
        else:
            method, conf, ev = "new", 1.0, {"rule": "no other account matches"}
        pid = person_of[r]
        res.assign.append({
            "actor_id": a, "person_id": str(pid) if pid else None,
            "cluster": cluster_no[r], "method": method, "confidence": round(conf, 6),
            "evidence": ev,
        })  # fmt: skip
        res.methods[method] += 1
    return res


# --- the database side -------------------------------------------------------------


@dataclass
class Outcome:
    """What one resolution run did."""

    accounts: int = 0  # accounts in the resolved scope
    pending: int = 0  # pending accounts taken
    op_id: int | None = None
    links_changed: int = 0
    reviews: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    model: dict[str, Any] | None = None


Conn = psycopg.Connection[Any]


def _one(conn: Conn, name: str, params: dict[str, Any]) -> Any:
    row = conn.execute(QUERIES[name], params).fetchone()
    return row[0] if row else None


def _load(conn: Conn, org_id: UUID, actors: list[str]) -> dict[str, Account]:
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(QUERIES["identity_load_accounts"], {"org_id": org_id, "actors": actors})
    return {
        r["actor_id"]: Account(
            r["actor_id"],
            r["provider"],
            r["login"],
            r["display_name"],
            list(r["emails"]),
            bool(r["is_automation"]),
            r["sso_subject"],
            r["employee_id"],
            r["person_id"],
            r["method"],
            r["pinned_to"],
            list(r["activity"]),
        )
        for r in rows
    }


def _write_block_keys(conn: Conn, org_id: UUID, profiles: dict[str, Profile]) -> None:
    keys = {a: sorted(block_keys(p.tokens, set(p.handles))) for a, p in profiles.items()}
    items = list(keys.items())
    for start in range(0, len(items), 5000):
        chunk = dict(items[start : start + 5000])
        conn.execute(QUERIES["identity_set_block_keys"],
                     {"org_id": org_id, "keys": json.dumps(chunk)})  # fmt: skip


def _pairs(conn: Conn, name: str, org_id: UUID, actors: list[str]) -> list[tuple[Any, ...]]:
    return conn.execute(QUERIES[name], {"org_id": org_id, "actors": actors}).fetchall()


def _candidates(conn: Conn, org_id: UUID, profiles: dict[str, Profile]) -> list[tuple[str, str]]:
    """The pairs the matcher compares: those sharing a blocking key, and those that worked
    on the same repositories on the same days (whatever their names)."""
    pairs = {(a, b) if a < b else (b, a)
             for a, b in _pairs(conn, "identity_block_pairs", org_id, list(profiles))}  # fmt: skip
    pairs |= coactive_pairs(profiles.values())
    return sorted(pairs)


Compared = list[tuple[str, str, tuple[int | None, ...]]]


def _compare(profiles: dict[str, Profile], pairs: Iterable[tuple[Any, ...]]) -> Compared:
    """The comparison vector of each candidate pair of these profiles."""
    return [(a, b, compare(profiles[a], profiles[b])) for a, b in pairs
            if a in profiles and b in profiles]  # fmt: skip


def _fit(conn: Conn, org_id: UUID, compared: Compared, profiles: dict[str, Profile],
         accounts: int) -> Model:  # fmt: skip
    """Estimate the matcher's parameters by EM from an organization's compared candidate
    pairs (the activity comparison's u from random pairs of its accounts) and store
    them; the defaults when there are too few pairs to estimate from."""
    vectors = [v for _a, _b, v in compared]
    if len(vectors) < MIN_TRAINING_PAIRS:
        return Model.default()
    model = estimate(vectors, Model.default(),
                     fixed_u={"activity": population_u(profiles.values())})  # fmt: skip
    conn.execute(QUERIES["identity_store_model"], {
        "org_id": org_id, "pairs": len(vectors),
        "params": json.dumps({**model.params(), "accounts": accounts}),
    })  # fmt: skip
    return model


def train(conn: Conn, org_id: UUID) -> Model:
    """Estimate the matcher from every candidate pair of an organization (its blocking
    keys must be current)."""
    rows = conn.execute(QUERIES["identity_all_actors"], {"org_id": org_id})
    accounts = _load(conn, org_id, [r[0] for r in rows])
    profiles = {a: acc.profile() for a, acc in accounts.items() if not acc.automation}
    return _fit(conn, org_id, _compare(profiles, _candidates(conn, org_id, profiles)),
                profiles, len(accounts))  # fmt: skip


def _model(conn: Conn, org_id: UUID) -> Model | None:
    """The model last estimated for an organization, unless there is none or the
    organization has at least doubled its accounts since (then it is estimated again)."""
    params = _one(conn, "identity_latest_model", {"org_id": org_id})
    if not params or any(len(params["m"].get(c, ())) != len(LEVELS[c]) for c in LEVELS):
        return None  # none yet, or estimated for other comparison levels
    count = int(_one(conn, "identity_actor_count", {"org_id": org_id}) or 0)
    if count >= max(2 * int(params.get("accounts", 0)), 100):
        return None
    return Model.from_params(params)


def _score(model: Model, compared: Compared
           ) -> list[tuple[str, str, float, tuple[int | None, ...], float]]:  # fmt: skip
    return [(a, b, model.probability(v), v, model.log_odds(v)) for a, b, v in compared]


def resolve(conn: Conn, org_id: UUID, *, everything: bool = False, limit: int = 5000,
            thresholds: Thresholds | None = None, by: str = "resolver",
            wait: bool = True) -> Outcome | None:  # fmt: skip
    """Resolve an organization's pending accounts (or, with `everything`, all of its
    accounts, re-estimating the matcher first) in one transaction. None when nothing is
    pending, or when another resolver holds the organization and `wait` is false."""
    started = time.perf_counter()
    out = Outcome()
    org = {"org_id": org_id}
    # As the worker role, with the org set: row-level security keeps it within the org.
    with as_worker(conn, org_id):
        if wait:
            conn.execute(QUERIES["identity_lock"], org)
        elif not _one(conn, "identity_try_lock", org):
            return None
        most = None if everything else limit
        taken = conn.execute(QUERIES["identity_pending_take"], {**org, "limit": most}).fetchall()
        if everything:
            seeds = [r[0] for r in conn.execute(QUERIES["identity_all_actors"], org)]
        else:
            seeds = [r[0] for r in taken]
        if not seeds:
            return None
        out.pending = len(taken)
        conn.execute(QUERIES["identity_refresh_keys"], {**org, "actors": seeds})
        fresh = _load(conn, org_id, seeds)
        _write_block_keys(conn, org_id, {a: acc.profile() for a, acc in fresh.items()})
        # A new org or a backfill changes these tables faster than autovacuum re-samples
        # them, and joins planned on stale row counts go quadratic: re-sample first.
        for (table,) in conn.execute(QUERIES["identity_stale_tables"]).fetchall():
            conn.execute(f"ANALYZE {table}")  # a name from pg_stat_user_tables

        if everything:
            scope, accounts = seeds, fresh
        else:
            scope = list(_one(conn, "identity_scope", {**org, "actors": seeds}) or seeds)
            accounts = {**fresh, **_load(conn, org_id, [a for a in scope if a not in fresh])}
        edges = _pairs(conn, "identity_rule_edges", org_id, scope)
        humans = {a: acc.profile() for a, acc in accounts.items() if not acc.automation}
        compared = _compare(humans, _candidates(conn, org_id, humans))
        if everything:
            model = _fit(conn, org_id, compared, humans, len(accounts))
        else:
            model = _model(conn, org_id) or train(conn, org_id)
        out.model = model.params()
        scored = _score(model, compared)
        apart = _pairs(conn, "identity_apart_pairs", org_id, scope)
        result = cluster(accounts, edges, scored, apart, thresholds, model, humans)
        out.op_id = _one(conn, "identity_apply", {
            **org, "by": by, "assign": json.dumps(result.assign),
            "reviews": json.dumps(result.reviews),
        })  # fmt: skip
        if out.op_id is not None:
            row = conn.execute(QUERIES["identity_operation"], {**org, "op_id": out.op_id})
            detail = row.fetchone()
            if detail:
                out.links_changed = int(detail[5].get("links_changed", 0))
                out.reviews = int(detail[5].get("reviews", 0))
        if taken:
            conn.execute(QUERIES["identity_pending_done"], {
                **org, "actors": [r[0] for r in taken], "queued": [r[1] for r in taken],
            })  # fmt: skip
        out.accounts = len(accounts)
        out.methods = result.methods
    out.seconds = time.perf_counter() - started
    return out


def resolve_pending(conn: Conn, limit: int = 5000) -> list[Outcome]:
    """One pass over every organization with pending accounts; an organization another
    resolver holds is skipped (that one resolves it)."""
    done = []
    for (org_id,) in conn.execute(QUERIES["identity_pending_orgs"]).fetchall():
        outcome = resolve(conn, org_id, limit=limit, wait=False)
        if outcome is not None:
            done.append(outcome)
            log.info("identity: %d pending accounts resolved (%d links changed, %d reviews)",
                     outcome.pending, outcome.links_changed, outcome.reviews)  # fmt: skip
    return done


def _connect(conninfo: str) -> Conn:
    return psycopg.connect(conninfo, autocommit=True)


async def run_resolver(conninfo: str, name: str = "identity", idle: float = 0.2) -> None:
    """Resolve pending accounts until cancelled: each pass right after normalization has
    queued some, waiting with a growing interval (up to 2 s) when there are none, and
    reconnecting with back-off when the database goes away. A pass runs in a thread (the
    matcher is CPU work) and is let finish when the loop is cancelled."""
    wait, reconnect = idle, 0.5
    while True:
        try:
            conn: Conn = await asyncio.to_thread(_connect, conninfo)
            try:
                reconnect = 0.5
                while True:
                    task = asyncio.ensure_future(asyncio.to_thread(resolve_pending, conn))
                    try:
                        done = await asyncio.shield(task)
                    except asyncio.CancelledError:
                        await asyncio.gather(task, return_exceptions=True)
                        raise
                    wait = idle if done else min(wait * 2, 2.0)
                    await asyncio.sleep(wait)
            finally:
                await asyncio.to_thread(conn.close)
        except psycopg.OperationalError as exc:
            log.warning("%s: database unavailable (%s); retrying in %.1fs", name,
                        str(exc).strip().splitlines()[0], reconnect)  # fmt: skip
            await asyncio.sleep(reconnect)
            reconnect = min(reconnect * 2, 10.0)
