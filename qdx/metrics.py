"""`qdx metrics ...`: read, explain, refresh and rebuild an org's metrics from the command
line, through the same SQL functions every other interface calls."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from db import audit
from db.queries import QUERIES
from qdx.console import cli_user, connection, moment, out, session
from qdx.errors import NotFound
from qdx.settings import Settings

Command = Callable[..., Any]


def _org_id(conn: Any, org: str) -> Any:
    row = conn.execute(QUERIES["metrics_org_id"], {"slug": org}).fetchone()
    if row is None:
        raise NotFound(f"no org {org}")
    return row[0]


def _scope(args: argparse.Namespace) -> Jsonb:
    scope: dict[str, Any] = {"org": args.org}
    for key in ("team", "repo", "service", "environment", "person", "benchmark"):
        value = getattr(args, key, None)
        if value is not None:
            scope[key] = value
    return Jsonb(scope)


def _audited_rows(
    settings: Settings, args: argparse.Namespace, operation: str, query: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run a metrics read for the command line and append it to the org's audit log
    (principal cli:<user>, the owner's connection: role admin)."""
    with session(settings) as conn:
        reader = audit.Reader(org_id=_org_id(conn, args.org), principal=cli_user(),
                              role="admin", scope={"org": args.org})  # fmt: skip
        arguments = {k: v.obj if isinstance(v, Jsonb) else v for k, v in params.items()}
        with audit.audited(conn, reader, "cli", operation, arguments=arguments) as read:
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(QUERIES[query], params).fetchall()
            read.rows = len(rows)
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit in ("deployments", "changes"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["metrics_list"]).fetchall()
    if args.json:
        for row in rows:
            out(json.dumps(row, default=str))
        return 0
    for row in rows:
        years = ", ".join(str(y) for y in row["benchmark_years"]) or "none"
        out(f"{row['metric']}  ({row['unit']}, {row['better']} is better, "
            f"version {row['version']}; tiers: {years})")  # fmt: skip
        out(f"    {row['definition']}")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    rows = _audited_rows(
        settings, args, "api.get_metric", "metrics_get",
        {"metric": args.metric, "scope": _scope(args), "window": args.window,
         "granularity": args.granularity, "aggregation": args.aggregation, "mode": args.mode},
    )  # fmt: skip
    if args.json:
        for row in rows:
            out(json.dumps(row, default=str))
        return 0
    if rows:
        first = rows[0]
        out(f"{args.metric} ({first['unit']}, {first['aggregated_by']}, mode "
            f"{first['compatibility_mode']}, definition version {first['version']})")  # fmt: skip
    for row in rows:
        start = str(row["period_start"])[:16]
        end = str(row["period_end"])[:16]
        tier = f"  {row['tier']} ({row['tier_year']} report)" if row["tier"] else ""
        out(f"  {start} .. {end}  {_number(row['value'], row['unit']):>12}"
            f"  n={row['sample_size']}{tier}")  # fmt: skip
    return 0


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    rows = _audited_rows(
        settings, args, "api.explain_metric", "metrics_explain",
        {"metric": args.metric, "scope": _scope(args), "window": args.window, "mode": args.mode},
    )  # fmt: skip
    if args.json:
        for row in rows[: args.limit]:
            out(json.dumps(row, default=str))
        return 0
    out(f"{len(rows)} unit(s) behind {args.metric}" +
        (f"; the first {args.limit}:" if len(rows) > args.limit else ":"))  # fmt: skip
    for row in rows[: args.limit]:
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        out(f"  {str(row['at'])[:19]}  {row['entity']} {row['entity_id']}  value {value}"
            f"  events {len(row['event_ids'])}")  # fmt: skip
        for link in row["links"]:
            rel = link.get("relation", "shipped by")
            out(f"      {rel} {link['entity']} {link['id']} (rule {link['rule']})")
    return 0


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        org_id = _org_id(conn, args.org)
        started = time.perf_counter()
        row = conn.execute(QUERIES["metrics_refresh"], {"org_id": org_id}).fetchone()
    assert row is not None
    out(f"refreshed {args.org} in {time.perf_counter() - started:.2f} s: {json.dumps(row[0])}")
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    since = moment(args.since, "--since")
    with connection(settings) as conn:
        org_id = _org_id(conn, args.org)
        start = f"from {since.isoformat()}" if since else "from the beginning"
        out(f"rebuilding the metrics of {args.org} {start} ...")
        started = time.perf_counter()
        row = conn.execute(QUERIES["metrics_rebuild"], {"org_id": org_id, "since": since})
        result = row.fetchone()
    assert result is not None
    out(f"rebuilt in {time.perf_counter() - started:.2f} s: {json.dumps(result[0])}")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERIES["metrics_status"], {"org": args.org}).fetchall()
    for row in rows:
        out(f"{row['slug']}: units {row['changes']} changes, {row['deploys']} deployments, "
            f"{row['incidents']} incidents; {row['marks']} pending mark(s); "
            f"refreshed {row['refreshed_at'] or 'never'}, rebuilt {row['rebuilt_at'] or 'never'}"
            + ("" if row["current"] else "; computed by an older engine version: "
               "the next refresh rebuilds them"))  # fmt: skip
    return 0


def _filters(p: Any) -> None:
    p.add_argument("org")
    p.add_argument("metric", help="a name from `qdx metrics list`")
    p.add_argument("--team", help="team slug (its subteams roll up into it)")
    p.add_argument("--repo", help="repository id or full name")
    p.add_argument("--service")
    p.add_argument("--environment")
    p.add_argument("--person", help="person id (a person's own view)")
    p.add_argument("--window", default="90d",
                   help="30d, 12w, 2026-Q3, 2026-09 or FROM..TO (ISO dates)")  # fmt: skip
    p.add_argument("--mode", default="default",
                   choices=("default", "devlake", "fourkeys", "middleware"))  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object per row")


def register(sub: Any, command: Command) -> None:
    """Add `qdx metrics ...` to the command tree."""
    metrics = sub.add_parser("metrics", help="DORA, PR cycle time and throughput metrics")
    ms = metrics.add_subparsers(dest="action", required=True)
    p = command("list", cmd_list, "every metric, its unit, definition and version", ms)
    p.add_argument("--json", action="store_true")
    p = command("show", cmd_show, "a metric over a window, per period, with its tier", ms)
    _filters(p)
    p.add_argument("--granularity", default="window",
                   choices=("window", "day", "week", "month", "quarter"))  # fmt: skip
    p.add_argument("--aggregation", default="median", choices=("median", "p75", "p90", "mean"))
    p.add_argument("--benchmark", type=int, help="benchmark report year (2019, 2021, 2023, 2024)")
    p = command("explain", cmd_explain,
                "the changes, deployments and incidents behind a metric", ms)  # fmt: skip
    _filters(p)
    p.add_argument("--limit", type=int, default=50, help="units printed (default 50)")
    p = command("refresh", cmd_refresh,
                "recompute what changed now (the worker does this continuously)", ms)  # fmt: skip
    p.add_argument("org")
    p = command("rebuild", cmd_rebuild,
                "recompute every stored value from the canonical rows", ms)  # fmt: skip
    p.add_argument("org")
    p.add_argument("--since", help="only from this ISO date on")
    p = command("status", cmd_status, "stored units, pending marks, last refresh", ms)
    p.add_argument("org", nargs="?")
