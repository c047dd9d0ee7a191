"""A delivery as received, and the rejections the receiver answers with."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl


class Rejected(Exception):
    """A delivery refused: HTTP status, a metric reason, and a message for the caller."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def unauthorized(message: str) -> Rejected:
    """401: missing or wrong credentials, or a timestamp outside the tolerance."""
    return Rejected(401, "signature", message)


def malformed(message: str) -> Rejected:
    """400: a body or header that breaks the vendor's documented format."""
    return Rejected(400, "malformed", message)


@dataclass
class Delivery:
    """One HTTP request to a webhook endpoint: the raw bytes and what came with them."""

    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes
    content_type: str = ""
    _form: dict[str, str] | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def is_form(self) -> bool:
        """True for application/x-www-form-urlencoded bodies."""
        return self.content_type == "application/x-www-form-urlencoded"

    @cached_property
    def payload(self) -> Any:
        """The parsed body: JSON, or for a form body its fields (a JSON `payload` field is
        parsed too, as Slack sends interactions). Raises 400 when it does not parse."""
        if not self.body:
            return None
        if self.is_form:
            fields = dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
            if "payload" in fields:
                try:
                    return json.loads(fields["payload"])
                except ValueError:
                    raise malformed("the form field 'payload' is not valid JSON") from None
            return fields
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise malformed("the body is not valid JSON") from None
