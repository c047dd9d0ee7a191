"""Named queries: every SQL statement the Python runs lives in `db/queries/*.sql`.

A block starts with `-- name --`, then a one-line `-- description`, then the SQL with
`%(param)s` placeholders. Files are read once, at import.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z_][a-z0-9_]*) --$", re.M)


def parse(text: str, origin: str = "<string>") -> dict[str, str]:
    """Split a file into {name: sql}."""
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        if not lines or not lines[0].startswith("-- "):
            raise ValueError(f"{origin}: query {name!r} lacks its one-line description")
        statement = "\n".join(lines[1:]).strip()
        if not statement:
            raise ValueError(f"{origin}: query {name!r} is empty")
        if name in queries:
            raise ValueError(f"{origin}: query {name!r} is defined twice")
        queries[name] = statement
    return queries


def load(folder: Path) -> dict[str, str]:
    """All named queries of a folder; a name may be used only once across files."""
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        for name, statement in parse(path.read_text("utf-8"), path.name).items():
            if name in queries:
                raise ValueError(f"{path.name}: query {name!r} is already defined elsewhere")
            queries[name] = statement
    return queries


QUERIES = load(Path(__file__).parent / "queries")
