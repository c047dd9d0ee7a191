"""Names and handles as the matcher compares them.

Display names are transliterated to ASCII (anyascii: "Zoë" → "zoe", "Дмитрий" → "dmitrii",
"王伟" → "wang wei"), case-folded, stripped of punctuation and titles, and put in "first
last" order when a directory writes "Last, First". First names are compared through a
curated nickname table (the `nicknames` package: Bill ↔ William, Sasha ↔ Alexander).
Handles are logins and email local parts reduced to their letters and digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from nicknames import NickNamer

_NICKNAMER = NickNamer()
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"^([A-Z][a-z]+)([A-Z][a-z]+)$")
_TITLES = frozenset({"mr", "mrs", "ms", "dr", "prof", "jr", "sr", "ii", "iii", "phd", "md"})
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@+]+)@users\.noreply\.(?:github|gitlab)\.com$")
_GITLAB_NOREPLY = re.compile(r"^\d+-([^@]+)@users\.noreply\.gitlab\.com$")
ROLE_WORDS = frozenset(
    """
    noreply no-reply donotreply do-not-reply root admin administrator git ci cd build
    builds builder jenkins deploy deployer deploys release releases devops ops sre oncall
    on-call alerts alert team teams dev devs developer developers engineering eng info
    support help hello contact security bot bots automation github gitlab bitbucket
    notifications notification postmaster webmaster hostmaster abuse it hr office all
    everyone platform infra infrastructure mobile ios android backend frontend web data qa
    test tests api core app apps product design staff shared group list mail noc
    """.split()  # noqa: SIM905 (a word list reads best as words)
)
_SEPARATORS = re.compile(r"[-_.+]+")


def is_role_mailbox(local: str) -> bool:
    """Whether an address's local part belongs to a role (dev@, platform-team@, no-reply@),
    as identity.is_role_mailbox decides in SQL."""
    low = local.lower()
    if low.startswith(("noreply", "no-reply", "donotreply", "do-not-reply")):
        return True
    words = [w for w in _SEPARATORS.split(low) if w]
    return bool(words) and all(w in ROLE_WORDS for w in words) and any(c.isalpha() for c in low)


def transliterate(text: str) -> str:
    """ASCII for any script. Characters whose transliteration is a whole syllable (CJK,
    Hangul) become separate words, so "王伟" gives "Wang Wei", not "WangWei"."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii():
            out.append(ch)
            continue
        t = anyascii(ch)
        out.append(f" {t} " if len(t) > 1 and t[:1].isupper() else t)
    return "".join(out)


@lru_cache(maxsize=65536)
def name_tokens(display_name: str | None) -> tuple[str, ...]:
    """A display name as lower-case ASCII words in "first ... last" order, without titles;
    () when there is no usable name."""
    if not display_name:
        return ()
    name = display_name.strip()
    if name.count(",") == 1:  # "Last, First" as HR systems and directories write it
        last, first = (part.strip() for part in name.split(","))
        if first and last:
            name = f"{first} {last}"
    camel = _CAMEL.match(name)
    if camel:  # "NikhilIyer", "JingSun"
        name = " ".join(camel.groups())
    # Apostrophes join (O'Brien, and the soft sign: Ольга -> Ol'ga -> olga).
    ascii_name = transliterate(name).lower().replace("'", "").replace("\u2019", "")
    words = _NOT_ALNUM.sub(" ", ascii_name).split()
    return tuple(w for w in words if w not in _TITLES and not w.isdigit())


def is_handle_like(display_name: str | None, login: str | None) -> bool:
    """Whether a display name is a user name rather than a name: the login itself (tools
    fall back to it), or one word with digits or separators ("camila125", "ecook-acme")."""
    if not display_name:
        return False
    name = display_name.strip()
    if _CAMEL.match(name):  # "NikhilIyer" is a name written as one word
        return False
    squashed = _NOT_ALNUM.sub("", name.lower())
    if login and squashed == _NOT_ALNUM.sub("", login.lower()):
        return True
    return " " not in name and any(c.isdigit() or c in "-_.@" for c in name)


@lru_cache(maxsize=65536)
def first_name_forms(token: str) -> frozenset[str]:
    """A first name and every name it is a nickname of or has as a nickname."""
    forms = {token}
    if len(token) > 1:
        canon = _NICKNAMER.canonicals_of(token)
        forms |= canon
        forms |= _NICKNAMER.nicknames_of(token)
        for c in canon:
            forms |= _NICKNAMER.nicknames_of(c)
    return frozenset(forms)


def handle(text: str) -> str:
    """A login or an email local part reduced to letters and digits."""
    return _NOT_ALNUM.sub("", transliterate(text).lower())


def email_handles(emails: tuple[str, ...] | list[str]) -> set[str]:
    """The personal local parts of some addresses as handles: plus-tags dropped, role
    mailboxes (dev@, ci@ ...) skipped, the login kept from forge noreply addresses. A
    laptop's default address (`ecook@emmas-mac-mini.local`) identifies no mailbox, but its
    local part is the person's user name: a handle like any other."""
    out = set()
    for email in emails:
        address = email.strip().lower()
        local, _, domain = address.partition("@")
        if not domain:
            continue
        m = _NOREPLY.match(address) or _GITLAB_NOREPLY.match(address)
        if m:
            local = m.group(1)
        local = local.split("+", 1)[0]
        if is_role_mailbox(local):
            continue
        h = handle(local)
        if len(h) >= 3:
            out.add(h)
    return out


@dataclass(frozen=True)
class NameParts:
    """A display name's first and last words (last is '' for a single word)."""

    tokens: tuple[str, ...]

    @property
    def first(self) -> str:
        return self.tokens[0] if self.tokens else ""

    @property
    def last(self) -> str:
        return self.tokens[-1] if len(self.tokens) > 1 else ""


def derived_handles(parts: NameParts, nicknames: bool = True) -> set[str]:
    """The handles people commonly build from their name: janedoe, jdoe, janed, doejane,
    doej (and jane / doe alone for long names); with `nicknames`, also from every form of
    the first name (billsmith for William Smith)."""
    first, last = parts.first, parts.last
    if not first:
        return set()
    if not last:
        return {first} if len(first) >= 5 else set()
    out = set()
    forms = first_name_forms(first) if nicknames else _NICKNAMER.canonicals_of(first)
    for f in {first} | {n for n in forms if len(n) > 1}:
        out |= {f + last, f[0] + last, f + last[0], last + f, last + f[0]}
    return out


def block_keys(tokens: tuple[str, ...], handles: set[str]) -> set[str]:
    """The matcher's blocking keys: accounts that share none are never compared. A full
    name gives first name + last initial and last name + first initial, in both word
    orders (family-name-first names) and for the first name's canonical forms (Bill ->
    William), so a typo in either name still meets; handles (also without trailing
    digits) and the handles the name suggests (jdoe for Jane Doe) meet logins and
    addresses."""
    keys = set()
    parts = NameParts(tokens)
    if parts.last:
        for first, last in ((parts.first, parts.last), (parts.last, parts.first)):
            firsts = {first} | set(_NICKNAMER.canonicals_of(first))
            for f in firsts:
                keys.add(f"f:{f}|{last[0]}")
                keys.add(f"l:{last}|{f[0]}")
    derived = derived_handles(parts, nicknames=False)
    if len(parts.first) >= 4:  # meets a handle that is a first name and digits (camila125)
        derived.add(parts.first)
    keys |= {f"h:{h}" for h in derived if len(h) >= 4}
    for h in handles:
        if len(h) >= 4:
            keys.add(f"h:{h}")
            stripped = h.rstrip("0123456789")
            if len(stripped) >= 4 and stripped != h:
                keys.add(f"h:{stripped}")
    return keys
