"""Write the expected canonical rows of a source's samples from what normalization gives
now: `python -m tests.expectations SOURCE [SAMPLE ...]` (needs a migrated database in
DATABASE_URL; each sample goes to an org of its own, dropped afterwards).

Read every file it writes before committing it: the contract test then holds the
normalizer to it.
"""

from __future__ import annotations

import os
import sys
import uuid

import psycopg

from tests.normalize_helpers import (
    accept,
    canonical_state,
    dumps,
    expected_path,
    make_org,
    normalize,
)
from tests.webhook_helpers import load_samples


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    conninfo = os.environ["DATABASE_URL"]
    source, wanted = argv[0], set(argv[1:])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for s in load_samples(source):
            if wanted and s.name not in wanted:
                continue
            slug = f"exp-{uuid.uuid4().hex[:10]}"
            org_id, endpoint_id = make_org(conn, slug)
            accept(conn, org_id, endpoint_id, s)
            normalize(conninfo)
            path = expected_path(source, s.name)
            path.parent.mkdir(exist_ok=True)
            path.write_text(dumps(canonical_state(conn, org_id)))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
