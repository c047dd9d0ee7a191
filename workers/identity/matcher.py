"""The probabilistic matcher: Fellegi-Sunter with parameters estimated by EM.

Two accounts are compared on four things, each to a small number of levels:

- name: the display names (transliterated, nickname-aware): exact, close (same last
  name and an equivalent first name, or a typo apart), same last name only, a given
  name alone that is the other's first or last word, same first name only (two full
  names), different;
- handle: logins and email local parts: equal, similar, different;
- derived: whether one account's handle is built from the other's name (jdoe, janedoe,
  doej ... for Jane Doe): fully, partly, not (not compared for a given name alone, which
  the name comparison counts);
- activity: where the accounts worked (repository and day): on the same days (most of
  the smaller account's repository-days are also the other's: a person's commit
  identity and forge account push to the same repositories on the same days), in the
  same repository and month, in the same repository, nowhere in common.

A missing value (no name, no handle, no activity) is left out of the comparison. Each
level has a probability among true matches (m) and among non-matches (u); a pair's
weight is the sum of log2(m/u) over its comparisons and its match probability follows
from the share of matches among compared pairs (lambda). m, u and lambda are estimated
by expectation-maximisation over an organization's own candidate pairs, starting from
the defaults below, and stored per organization (identity.matcher_models); the
activity comparison's u is counted on random pairs of accounts instead and held fixed
(population_u: blocking picks pairs by name, not by where they worked).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import JaroWinkler

from workers.identity.names import (
    NameParts,
    derived_handles,
    email_handles,
    first_name_forms,
    handle,
    is_handle_like,
    name_tokens,
)

LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("different", "first", "given", "last", "close", "exact"),
    "handle": ("different", "similar", "equal"),
    "derived": ("no", "partly", "fully"),
    "activity": ("none", "repository", "month", "day"),
}
COMPARISONS = tuple(LEVELS)

# Where EM starts, and what is used before an organization has enough pairs to estimate
# from (MIN_TRAINING_PAIRS).
DEFAULT_PARAMS: dict[str, Any] = {
    "lambda": 0.2,
    "m": {
        "name": [0.04, 0.08, 0.04, 0.06, 0.28, 0.50],
        "handle": [0.30, 0.15, 0.55],
        "derived": [0.30, 0.15, 0.55],
        "activity": [0.15, 0.15, 0.20, 0.50],
    },
    "u": {
        "name": [0.55, 0.20, 0.05, 0.15, 0.04, 0.01],
        "handle": [0.95, 0.04, 0.01],
        "derived": [0.90, 0.08, 0.02],
        "activity": [0.55, 0.34, 0.10, 0.01],
    },
}
MIN_TRAINING_PAIRS = 200


@dataclass(frozen=True)
class Profile:
    """What the matcher knows of one account."""

    actor_id: str
    tokens: tuple[str, ...]
    handles: frozenset[str]
    activity: frozenset[str]  # 'repo|YYYY-MM-DD' (or 'repo|YYYY-MM' when only months are known)
    months: frozenset[str] = frozenset()  # 'repo|YYYY-MM'
    repos: frozenset[str] = frozenset()


def profile(actor_id: str, login: str | None, display_name: str | None,
            emails: Sequence[str], activity: Iterable[str] = ()) -> Profile:  # fmt: skip
    """An account's profile: name words (none when the display name is only a handle),
    handles (login, the display name when it is a handle, email local parts)."""
    handles = set(email_handles(list(emails)))
    if login:
        h = handle(login.split("@", 1)[0])  # directories use the address as the login
        if len(h) >= 3:
            handles.add(h)
    tokens = name_tokens(display_name)
    if is_handle_like(display_name, login) and display_name:
        handles.add(handle(display_name))
        tokens = ()
    days = frozenset(activity)
    months = frozenset(a[:-3] if a[-3:-2] == "-" and a[-6:-5] == "-" else a for a in days)
    repos = frozenset(a.rsplit("|", 1)[0] for a in months)
    return Profile(actor_id, tokens, frozenset(handles), days, months, repos)


def _first_equivalent(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:  # an initial
        return a[0] == b[0]
    if b in first_name_forms(a) or a in first_name_forms(b):
        return True
    return min(len(a), len(b)) >= 4 and JaroWinkler.similarity(a, b) >= 0.9


def _last_equivalent(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if len(a) == 1 or len(b) == 1:  # an initial ("Carlos J.")
        return a[0] == b[0]
    return a == b or (min(len(a), len(b)) >= 4 and JaroWinkler.similarity(a, b) >= 0.92)


@lru_cache(maxsize=262144)
def compare_names(a: tuple[str, ...], b: tuple[str, ...]) -> int | None:
    if not a or not b:
        return None
    if len(a) == 1 or len(b) == 1:  # a given name alone ("Susan") names many people
        one, full = (a, b) if len(a) == 1 else (b, a)
        # ... and the other name may put its family name first ("Matsumoto Aoi")
        return 2 if any(_first_equivalent(one[0], w) for w in (full[0], full[-1])) else 0
    if sorted(a) == sorted(b):
        return 5
    pa, pb = NameParts(a), NameParts(b)
    first = _first_equivalent(pa.first, pb.first)
    last = _last_equivalent(pa.last, pb.last)
    if first and last:
        return 4
    if JaroWinkler.similarity(" ".join(a), " ".join(b)) >= 0.95:
        return 4
    if last:
        return 3
    if first:
        return 1
    return 0


def compare_handles(a: frozenset[str], b: frozenset[str]) -> int | None:
    if not a or not b:
        return None
    if {h for h in a if len(h) >= 4} & b:
        return 2
    for x in a:
        for y in b:
            if min(len(x), len(y)) >= 5 and (
                JaroWinkler.similarity(x, y) >= 0.93
                or x.rstrip("0123456789") == y.rstrip("0123456789")
            ):
                return 1
    return 0


def _derived_level(handles: frozenset[str], tokens: tuple[str, ...]) -> int | None:
    if not handles or len(tokens) < 2:  # a given name alone is the name comparison's
        return None
    parts = NameParts(tokens)
    built = derived_handles(parts)
    stripped = {h.rstrip("0123456789") for h in handles}
    if (handles | stripped) & built:
        return 2 if parts.last else 1  # a handle that is a given name alone is common

    pieces = [t for t in (parts.last, parts.first) if len(t) >= 4]
    if any(p in h for h in handles for p in pieces):
        return 1
    return 0


def _own_handles(p: Profile) -> frozenset[str]:
    """An account's handles less its own given name when that is all its name is (a
    laptop's `richard@richard-laptop` named "Richard"): the name comparison counts it."""
    if len(p.tokens) == 1:
        return frozenset(h for h in p.handles if h.rstrip("0123456789") != p.tokens[0])
    return p.handles


def compare_derived(a: Profile, b: Profile) -> int | None:
    one, two = _derived_level(_own_handles(a), b.tokens), _derived_level(_own_handles(b), a.tokens)
    if one is None:
        return two
    if two is None:
        return one
    return max(one, two)


# Co-activity on the same days: at least this share of the smaller account's
# repository-days are also the other's.
SAME_DAYS = 0.8


def compare_activity(a: Profile | Group, b: Profile | Group) -> int | None:
    if not a.activity or not b.activity:
        return None
    if a.activity != a.months and b.activity != b.months:  # days are known on both sides
        small, big = sorted((a.activity, b.activity), key=len)
        shared = sum(1 for x in small if x in big)
        if shared and shared >= SAME_DAYS * len(small):
            return 3
    if len(a.months & b.months) >= 2:
        return 2
    if a.repos & b.repos:
        return 1
    return 0


# Accounts that share no blocking key are still compared when most of the smaller one's
# repository-days (at least this many) are also the other's.
COACTIVE_MIN_DAYS = 3


def coactive_pairs(profiles: Iterable[Profile]) -> set[tuple[str, str]]:
    """Pairs of accounts that worked on the same repositories on the same days: at least
    COACTIVE_MIN_DAYS repository-days, and SAME_DAYS of the smaller account's. A
    set-similarity join: a pair qualifies only if it shares one of the rarest
    (1 - SAME_DAYS) share (plus one) of the smaller account's days, so only those are
    looked up."""
    dated = [p for p in profiles
             if len(p.activity) >= COACTIVE_MIN_DAYS and p.activity != p.months]  # fmt: skip
    posting: dict[str, list[int]] = {}
    for i, p in enumerate(dated):
        for x in p.activity:
            posting.setdefault(x, []).append(i)
    out: set[tuple[str, str]] = set()
    for i, p in enumerate(dated):
        n = len(p.activity)
        need = math.ceil(SAME_DAYS * n)
        rare = sorted(p.activity, key=lambda x: (len(posting[x]), x))[: n - need + 1]
        seen: set[int] = set()
        for x in rare:
            for j in posting[x]:
                if j == i or j in seen:
                    continue
                seen.add(j)
                q = dated[j]
                if len(q.activity) < n or (len(q.activity) == n and j < i):
                    continue  # the pair is found from its smaller side (once)
                if sum(1 for y in p.activity if y in q.activity) >= need:
                    a, b = sorted((p.actor_id, q.actor_id))
                    out.add((a, b))
    return out


def compare(a: Profile, b: Profile) -> tuple[int | None, ...]:
    """The comparison vector of two accounts, in COMPARISONS order."""
    return (
        compare_names(a.tokens, b.tokens),
        compare_handles(a.handles, b.handles),
        compare_derived(a, b),
        compare_activity(a, b),
    )


@dataclass(frozen=True)
class Group:
    """What the matcher knows of a group of accounts already linked (one person so far):
    every name, handle and day of activity of its accounts."""

    names: frozenset[tuple[str, ...]]
    handles: frozenset[str]
    activity: frozenset[str]
    months: frozenset[str]
    repos: frozenset[str]

    @classmethod
    def of(cls, profiles: Iterable[Profile]) -> Group:
        ps = list(profiles)
        return cls(frozenset(p.tokens for p in ps if p.tokens),
                   frozenset().union(*(p.handles for p in ps)),
                   frozenset().union(*(p.activity for p in ps)),
                   frozenset().union(*(p.months for p in ps)),
                   frozenset().union(*(p.repos for p in ps)))  # fmt: skip


def _best(levels: Iterable[int | None]) -> int | None:
    known = [v for v in levels if v is not None]
    return max(known) if known else None


def compare_groups(a: Group, b: Group) -> tuple[int | None, ...]:
    """The comparison vector of two groups of linked accounts: each comparison at the
    best level any of their names, handles or days reach (a login on one account and a
    name on another of the same person are evidence together)."""
    derived = [_derived_level(a.handles, n) for n in b.names]
    derived += [_derived_level(b.handles, n) for n in a.names]
    return (
        _best(compare_names(x, y) for x in a.names for y in b.names),
        compare_handles(a.handles, b.handles),
        _best(derived),
        compare_activity(a, b),
    )


def describe(vector: Sequence[int | None]) -> dict[str, str]:
    """A comparison vector in words, for evidence and the review queue."""
    return {c: LEVELS[c][v] for c, v in zip(COMPARISONS, vector, strict=True) if v is not None}


@dataclass(frozen=True)
class Model:
    """Fellegi-Sunter parameters."""

    lam: float
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    pairs: int = 0
    iterations: int = 0

    @classmethod
    def default(cls) -> Model:
        return cls.from_params(DEFAULT_PARAMS)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Model:
        return cls(float(params["lambda"]), {k: list(v) for k, v in params["m"].items()},
                   {k: list(v) for k, v in params["u"].items()},
                   int(params.get("pairs", 0)), int(params.get("iterations", 0)))  # fmt: skip

    def params(self) -> dict[str, Any]:
        return {"lambda": self.lam, "m": self.m, "u": self.u, "pairs": self.pairs,
                "iterations": self.iterations}  # fmt: skip

    def weight(self, vector: Sequence[int | None]) -> float:
        """log2 of the Bayes factor for a match."""
        total = 0.0
        for c, v in zip(COMPARISONS, vector, strict=True):
            if v is not None:
                total += math.log2(self.m[c][v] / self.u[c][v])
        return total

    def log_odds(self, vector: Sequence[int | None]) -> float:
        """log2 of the posterior odds of a match."""
        return math.log2(self.lam / (1 - self.lam)) + self.weight(vector)

    def probability(self, vector: Sequence[int | None]) -> float:
        odds = self.lam / (1 - self.lam) * 2 ** self.weight(vector)
        return odds / (1 + odds)


# Pairs of accounts drawn at random to estimate how often non-matches agree on their
# activity (population_u).
RANDOM_PAIRS = 20000


def population_u(profiles: Iterable[Profile], pairs: int = RANDOM_PAIRS) -> list[float]:
    """The activity comparison's u-probabilities (its levels among non-matches), from
    pairs of active accounts drawn at random. Blocking picks candidate pairs by their
    names and handles, not by where they worked, so among non-matches activity agrees
    as often as between any two accounts; EM over the candidate pairs alone counts the
    matches it cannot see by name (a laptop's commit identity and its forge account on
    the same days) as non-matches that agree on their days. A fixed seed over accounts
    in id order: the same accounts give the same estimate."""
    active = sorted((p for p in profiles if p.activity), key=lambda p: p.actor_id)
    counts = [1.0] * len(LEVELS["activity"])  # a pseudo-count keeps each level above zero
    if len(active) >= 2:
        rng = random.Random(len(active))  # noqa: S311 (a sample, not a secret)
        for _ in range(pairs):
            i, j = rng.randrange(len(active)), rng.randrange(len(active))
            if i != j:
                level = compare_activity(active[i], active[j])
                if level is not None:
                    counts[level] += 1
    return [c / sum(counts) for c in counts]


def estimate(vectors: Sequence[tuple[int | None, ...]], start: Model | None = None,
             iterations: int = 50, tolerance: float = 1e-6,
             fixed_u: dict[str, list[float]] | None = None) -> Model:  # fmt: skip
    """EM over candidate pairs' comparison vectors (conditional independence; missing
    values skipped; a pseudo-count keeps every probability above zero). Falls back to
    the start model when there are too few pairs to estimate from."""
    model = start or Model.default()
    if len(vectors) < MIN_TRAINING_PAIRS:
        return model
    fixed_u = fixed_u or {}
    model = Model(model.lam, model.m, {c: fixed_u.get(c, model.u[c]) for c in COMPARISONS})
    # Identical vectors share their posterior: work on the distinct ones with counts.
    counts: dict[tuple[int | None, ...], int] = {}
    for vec in vectors:
        counts[vec] = counts.get(vec, 0) + 1
    distinct = list(counts.items())
    done = 0
    for done in range(1, iterations + 1):
        m_acc = {c: [1.0] * len(LEVELS[c]) for c in COMPARISONS}
        u_acc = {c: [1.0] * len(LEVELS[c]) for c in COMPARISONS}
        matches = 0.0
        for vector, n in distinct:
            p = model.probability(vector)
            matches += p * n
            for c, v in zip(COMPARISONS, vector, strict=True):
                if v is not None:
                    m_acc[c][v] += p * n
                    u_acc[c][v] += (1 - p) * n
        lam = min(max(matches / len(vectors), 1e-4), 0.9)
        m = {c: [x / sum(acc) for x in acc] for c, acc in m_acc.items()}
        u = {c: fixed_u.get(c) or [x / sum(acc) for x in acc] for c, acc in u_acc.items()}
        change = abs(lam - model.lam) + max(
            abs(a - b) for c in COMPARISONS for a, b in zip(m[c], model.m[c], strict=True)
        )
        model = Model(lam, m, u, len(vectors), done)
        if change < tolerance:
            break
    # EM on correlated comparisons can settle on a labelling where "agree" is evidence
    # against a match; keep the start model's values for such a comparison.
    base = start or Model.default()
    for c in COMPARISONS:
        top = len(LEVELS[c]) - 1
        if model.m[c][top] <= model.u[c][top]:
            model.m[c], model.u[c] = list(base.m[c]), list(base.u[c])
    return Model(model.lam, model.m, model.u, len(vectors), done)
