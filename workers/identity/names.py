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
_TITLES = frozenset({"mr", "mrs", "ms", "dr", "prof", "jr", "sr", "ii", "iii", "phd", "md"})
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@+]+)@users\.noreply\.(?:github|gitlab)\.com$")
_GITLAB_NOREPLY = re.compile(r"^\d+-([^@]+)@users\.noreply\.gitlab\.com$")
_ROLE_LOCAL = re.compile(
    r"^(no-?reply|do-?not-?reply|root|admin|git|ci|cd|build|builds|jenkins|deploy|devops|"
    r"team|dev|devs|developers|engineering|eng|info|support|hello|contact|security|bot|"
    r"automation|github|gitlab|notifications|it|hr|office|all|everyone)$"
)


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
    words = _NOT_ALNUM.sub(" ", transliterate(name).lower()).split()
    return tuple(w for w in words if w not in _TITLES and not w.isdigit())


def is_handle_like(display_name: str | None, login: str | None) -> bool:
    """Whether a display name is just the login (tools fall back to it), so it is a
    handle, not a name."""
    if not display_name:
        return False
    squashed = _NOT_ALNUM.sub("", display_name.lower())
    return (bool(login) and squashed == _NOT_ALNUM.sub("", (login or "").lower())) or (
        " " not in display_name.strip() and any(c.isdigit() for c in display_name)
    )


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
    mailboxes (dev@, ci@ ...) and host-local laptop addresses skipped, the login kept from
    forge noreply addresses."""
    out = set()
    for email in emails:
        address = email.strip().lower()
        local, _, domain = address.partition("@")
        if not domain:
            continue
        m = _NOREPLY.match(address) or _GITLAB_NOREPLY.match(address)
        if m:
            local = m.group(1)
        elif domain.endswith((".local", ".localdomain", ".lan", ".home", ".internal")):
            continue
        local = local.split("+", 1)[0]
        if _ROLE_LOCAL.match(local):
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
    """The matcher's blocking keys: accounts that share none are never compared. Each
    name word of 3+ letters (the first name's canonical forms too), each handle (also
    without trailing digits), and the handles the name suggests (jdoe for Jane Doe)."""
    derived = derived_handles(NameParts(tokens), nicknames=False)
    keys = {f"h:{h}" for h in derived if len(h) >= 4}
    for i, token in enumerate(tokens):
        if len(token) < 3:
            continue
        keys.add(f"n:{token}")
        if i == 0:
            keys |= {f"n:{c}" for c in _NICKNAMER.canonicals_of(token)}
    for h in handles:
        if len(h) >= 4:
            keys.add(f"h:{h}")
            stripped = h.rstrip("0123456789")
            if len(stripped) >= 4 and stripped != h:
                keys.add(f"h:{stripped}")
    return keys
