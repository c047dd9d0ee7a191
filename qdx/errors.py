"""Errors that the command line reports as one line, without a traceback."""


class UserError(Exception):
    """Bad input or an unmet precondition, told to the user in one line."""

    exit_code = 2


class NotFound(UserError):
    """A named thing (org, team, endpoint) does not exist."""


class AlreadyExists(UserError):
    """A thing with the same natural key already exists."""


class InvalidInput(UserError):
    """Input that breaks a documented rule (format, range)."""


class DatabaseUnsuitable(UserError):
    """The configured PostgreSQL server cannot run Quantum.DX (too old, extension missing)."""
