"""`qdx audit verify|tail`: check an org's audit log of reads and show its last rows."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from db import audit
from qdx.console import connection, out
from qdx.settings import Settings

Command = Callable[..., Any]


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        v = audit.verify(conn, args.org)
    if v.intact:
        out(f"{args.org}: audit log intact: {v.rows_checked} row(s), chain head row "
            f"{v.head_seq} {v.head_hash}")  # fmt: skip
        return 0
    out(f"{args.org}: AUDIT LOG BROKEN at row {v.bad_seq}: {v.problem} "
        f"({v.rows_checked} row(s) present, the head says {v.head_seq})")  # fmt: skip
    return 1


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        rows = audit.tail(conn, args.org, args.n)
    for row in rows:
        if args.json:
            out(json.dumps(row, default=str))
            continue
        what = row["statement"] or json.dumps(row["arguments"], default=str)
        rows_ = "-" if row["row_count"] is None else row["row_count"]
        out(f"{row['seq']:>6}  {str(row['at'])[:23]}  {row['principal']} ({row['role']})  "
            f"{row['interface']} {row['operation']}  rows {rows_}  {row['duration_ms']} ms  "
            f"{row['outcome']}  {what}")  # fmt: skip
    return 0


def register(sub: Any, command: Command) -> None:
    """Add `qdx audit ...` to the command tree."""
    group = sub.add_parser("audit", help="the audit log of reads").add_subparsers(
        dest="action", required=True
    )
    p = command("verify", cmd_verify,
                "recompute an org's hash chain: exit 1 if a row was altered or removed",
                group)  # fmt: skip
    p.add_argument("org")
    p = command("tail", cmd_tail, "the last reads of an org", group)
    p.add_argument("org")
    p.add_argument("-n", type=int, default=20, help="rows (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per row")
