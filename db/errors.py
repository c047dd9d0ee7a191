"""Database errors mapped to typed exceptions, in one place.

SQL functions raise with an explicit SQLSTATE and the offending key in the message;
unique and check constraints are recognized by name. Nothing here matches error text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors

from qdx.errors import AlreadyExists, InvalidInput, NotFound

# Constraint name -> what the user is told (the key follows from the SQL message).
_UNIQUE = {
    "orgs_slug_key": "an org with this slug already exists",
    "teams_org_id_slug_key": "a team with this slug already exists in the org",
    "webhook_endpoints_org_id_source_name_key": (
        "this org already has an endpoint of that name for the source"
    ),
    "api_clients_org_id_name_key": "an API client with this name already exists in the org",
}
_SLUG_RULE = "a slug is 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
_CHECK = {
    "orgs_slug_check": _SLUG_RULE,
    "environment_rules_class_check": (
        "an environment class is production, staging, test, dev or other"
    ),
    "teams_slug_check": _SLUG_RULE,
    "webhook_endpoints_source_check": "a source name is 2-40 characters of a-z, 0-9 and '_'",
    "webhook_endpoints_secret_check": "a webhook secret must be at least 16 characters long",
    "api_clients_role_check": "role must be viewer, analyst, admin or service",
}


def translate(exc: psycopg.Error) -> Exception:
    """The typed exception for a database error (the original when it is not ours)."""
    diag = exc.diag
    constraint = diag.constraint_name or ""
    detail = diag.message_primary or str(exc)
    if isinstance(exc, errors.UniqueViolation) and constraint in _UNIQUE:
        return AlreadyExists(_UNIQUE[constraint])
    if isinstance(exc, errors.CheckViolation) and constraint in _CHECK:
        return InvalidInput(_CHECK[constraint])
    if isinstance(exc, errors.NoDataFound):  # P0002, raised by our functions: not found
        return NotFound(detail)
    if isinstance(exc, errors.InvalidParameterValue):  # 22023, raised by our functions
        return InvalidInput(detail)
    if isinstance(exc, errors.UniqueViolation | errors.DuplicateObject):  # 42710: ours too
        return AlreadyExists(detail)
    return exc


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Raise database errors inside the block as their typed exceptions."""
    try:
        yield
    except psycopg.Error as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc
