"""Where a value of a delivery is: a header, a field of the body, or a combination."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from web.webhooks.delivery import Delivery


class Locator(Protocol):
    """Finds a value in a delivery, or None."""

    def find(self, delivery: Delivery) -> str | None: ...

    def describe(self) -> str: ...


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Header:
    """A request header."""

    name: str

    def find(self, delivery: Delivery) -> str | None:
        value = delivery.header(self.name)
        return value.strip() or None if value is not None else None

    def describe(self) -> str:
        return f"header `{self.name}`"


@dataclass(frozen=True)
class Query:
    """A query-string parameter."""

    name: str

    def find(self, delivery: Delivery) -> str | None:
        return delivery.query.get(self.name) or None

    def describe(self) -> str:
        return f"query parameter `{self.name}`"


@dataclass(frozen=True)
class Field:
    """A field of the parsed body by dotted path; `[0]` picks a list's first item."""

    path: str

    def find(self, delivery: Delivery) -> str | None:
        node: Any = delivery.payload
        for part in self.path.split("."):
            if part.endswith("[0]"):
                part = part[:-3]
                node = node.get(part) if isinstance(node, dict) else None
                node = node[0] if isinstance(node, list) and node else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                return None
        return _scalar(node)

    def describe(self) -> str:
        return f"body field `{self.path}`"


@dataclass(frozen=True)
class Join:
    """Several values joined by a separator; None unless the first is found (missing later
    parts are left out, so `pull_request` + `action` gives `pull_request.opened`)."""

    parts: tuple[Locator, ...]
    sep: str = "."

    def find(self, delivery: Delivery) -> str | None:
        values = [p.find(delivery) for p in self.parts]
        if values[0] is None:
            return None
        return self.sep.join(v for v in values if v is not None)

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)


@dataclass(frozen=True)
class AllOf:
    """Several values that must all be present (a synthesized key)."""

    parts: tuple[Locator, ...]
    sep: str = ":"

    def find(self, delivery: Delivery) -> str | None:
        values = [p.find(delivery) for p in self.parts]
        if any(v is None for v in values):
            return None
        return self.sep.join(v for v in values if v is not None)

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)


@dataclass(frozen=True)
class Const:
    """A fixed value (an event type for a source that sends one kind of event)."""

    value: str

    def find(self, delivery: Delivery) -> str | None:
        return self.value

    def describe(self) -> str:
        return f"always `{self.value}`"


@dataclass(frozen=True)
class BodyHash:
    """sha256 of the body: the substitute key for a vendor that sends no id."""

    def find(self, delivery: Delivery) -> str | None:
        return "sha256:" + hashlib.sha256(delivery.body).hexdigest()

    def describe(self) -> str:
        return "sha256 of the body"


def first(delivery: Delivery, locators: tuple[Locator, ...]) -> str | None:
    """The first value any locator finds."""
    for locator in locators:
        value = locator.find(delivery)
        if value is not None:
            return value
    return None
