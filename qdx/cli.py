"""`qdx`: the command line. Parses, dispatches, and reports errors in one line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import FrameType
from typing import Any
from uuid import UUID

import psycopg

import qdx
from db import tenancy
from db.connect import Database, check_server, embedded_for, open_database
from db.migrate import MigrateResult, migrate, pending
from db.queries import QUERIES
from qdx import audit as audit_cli
from qdx import logs, people, sqlroles
from qdx import metrics as metrics_cli
from qdx.console import cli_user
from qdx.console import connection as _connection
from qdx.console import err as _err
from qdx.console import migrated as _migrated
from qdx.console import moment as _moment
from qdx.console import out as _out
from qdx.errors import InvalidInput, UserError
from qdx.settings import Settings, default_public_url
from sources import SOURCES
from web.tokens import ROLES, issue_token, parse_ttl, rotate_signing_key
from workers.replay import ReplayResult, replay

log = logging.getLogger("qdx")
Handler = Callable[[argparse.Namespace, Settings], int]


def _report(result: MigrateResult) -> None:
    if not result.changed:
        _out(f"database is up to date (revision {result.revision_after})")
    else:
        _out(
            f"migrated to revision {result.revision_after}; "
            f"{len(result.sql_applied)} SQL file(s) applied"
        )


# -- commands -------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with open_database(settings) as db:
        _report(migrate(db.conninfo, progress=log.info))
    return 0


def _install_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop what was started."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _banner(settings: Settings, db: Database, worker: bool) -> None:
    _out(f"Quantum.DX {qdx.__version__} is up")
    _out(f"  web       {settings.public_url}  (/api/v1 /graphql /mcp /healthz /readyz /metrics)")
    if db.server is not None:
        _out(f"  database  embedded PostgreSQL, data in {db.server.pgdata}")
        _out(f"            psql {db.server.url()}")
        if db.server.listen:
            _out(f"            TCP {db.server.listen}:{db.server.port} (password logins only)")
    else:
        _out("  database  DATABASE_URL")
    if worker:
        _out(
            f"  workers   procrastinate, concurrency {settings.worker_concurrency}; "
            f"{settings.normalize_workers} normalizer(s), batches of {settings.normalize_batch}"
        )
    _out("Press Ctrl-C to stop.")


def _serve(args: argparse.Namespace, settings: Settings, *, web: bool, worker: bool,
           migrate_first: bool) -> int:  # fmt: skip
    from qdx.runner import bind, run, run_loop, spawn_web_processes, stop_processes

    _install_sigterm()
    sock = bind(settings.host, settings.port) if web else None
    children: list[int] = []
    try:
        with open_database(settings) as db:
            if migrate_first:
                _report(migrate(db.conninfo, progress=log.info))
            if web:
                _banner(settings, db, worker)
                # Extra HTTP processes share the listening socket; this one also runs
                # the workers and the demo. Forked before any event loop or connection.
                children = spawn_web_processes(settings, db.conninfo, sock)
            demo = _demo_job(args, settings, db.conninfo) if getattr(args, "demo", False) else None
            try:
                run_loop(
                    run(settings, db.conninfo, web=web, worker=worker, sock=sock, alongside=demo)
                )
            finally:
                stop_processes(children)
    except KeyboardInterrupt:
        stop_processes(children)
    finally:
        if sock is not None:
            sock.close()
    _err("stopped")
    return 0


DEMO_EVENTS = 20_000


def _check_demo_size(events: int, days: int) -> None:
    if events < 1:
        raise InvalidInput("the number of events must be at least 1")
    if not 1 <= days <= 3650:
        raise InvalidInput("--days must be between 1 and 3650")


def _demo_job(
    args: argparse.Namespace, settings: Settings, conninfo: str
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Prepare org `demo` now; stream its history once the server serves (`qdx up --demo`)."""
    from synth import demo
    from synth.model import History

    _check_demo_size(args.demo_events, 90)
    url = default_public_url(settings.host, settings.port)
    history = History(seed=0, size=args.demo_events, days=90, org_slug="demo")
    with psycopg.connect(conninfo) as conn, conn.transaction():
        plan = demo.prepare(conn, history, url)
    _out(f"Streaming about {args.demo_events} synthetic events (90 days) into org demo.")

    async def job() -> None:
        summary = await demo.run(plan, url, ready_within=60.0)
        _out(f"demo: {summary.line()}")

    return job


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from synth import demo
    from synth.model import History
    from synth.stream import ServerUnavailable

    _check_demo_size(args.events, args.days)
    url = (args.url or settings.public_url).rstrip("/")
    history = History(seed=args.seed, size=args.events, days=args.days, org_slug=args.org)
    with _connection(settings) as conn:
        plan = demo.prepare(conn, history, url)
    _out(f"streaming about {args.events} synthetic events ({args.days} days, seed {args.seed}) "
         f"into org {args.org} at {url}")  # fmt: skip
    try:
        summary = asyncio.run(demo.run(plan, url))
    except ServerUnavailable as exc:
        raise UserError(f"{exc}: start the server with `qdx up`, or pass --url") from None
    _out(f"demo: {summary.line()}")
    return 0 if summary.errors == 0 else 1


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    return _serve(args, settings, web=True, worker=not args.no_worker, migrate_first=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return _serve(args, settings, web=True, worker=False, migrate_first=False)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    return _serve(args, settings, web=False, worker=True, migrate_first=False)


def _embedded_only(settings: Settings, action: str) -> None:
    if settings.database_url:
        raise UserError(f"DATABASE_URL is set: `qdx db {action}` manages only the embedded server")


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    action = args.action
    if action == "url":
        if settings.database_url:
            _out(settings.database_url)
            return 0
        info = embedded_for(settings).status()
        if info is None:
            raise UserError("the embedded PostgreSQL is not running: start it with `qdx db start`")
        _out(info.url())
        return 0
    if action == "status" and settings.database_url:
        check_server(settings.database_url)
        _out("reachable: DATABASE_URL")
        return _migration_state(settings.database_url)
    _embedded_only(settings, action)
    embedded = embedded_for(settings)
    if action == "start":
        info, started = embedded.start()
        _out(("started" if started else "already running") + f": {info.url()}")
        return 0
    if action == "stop":
        _out("stopped" if embedded.stop() else "not running")
        return 0
    info = embedded.status()
    if info is None:
        state = "initialized" if embedded.initialized else "not initialized"
        _out(f"not running ({state}; data directory {embedded.pgdata})")
        return 3
    _out(f"running: pid {info.pid}, data directory {info.pgdata}")
    _out(f"  socket {info.socket_dir} port {info.port}; TCP {info.listen or 'off'}")
    _out(f"  {info.url()}")
    return _migration_state(info.conninfo())


def _migration_state(conninfo: str) -> int:
    """Print whether the database is migrated: exit 0 when it is, 4 when it is not."""
    todo = pending(conninfo)
    if todo:
        _out(f"not migrated: {'; '.join(todo)} (run `qdx migrate`)")
        return 4
    _out("migrated")
    return 0


def cmd_org_create(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        org = tenancy.create_org(conn, args.slug, args.name, args.timezone)
    _out(f"created org {org.slug} ({org.org_id}, time zone {org.timezone})")
    return 0


def cmd_org_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        rows = tenancy.list_orgs(conn)
    for slug, name, tz, teams, endpoints in rows:
        _out(f"{slug:<24} {name:<32} {tz:<20} teams={teams} endpoints={endpoints}")
    return 0


def cmd_team_create(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        team = tenancy.create_team(conn, args.org, args.slug, args.name, args.parent)
    under = f" under {team.parent}" if team.parent else ""
    _out(f"created team {team.slug}{under} in {args.org} ({team.team_id})")
    return 0


def cmd_team_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        rows = tenancy.team_tree(conn, args.org)
    for row in rows:
        _out(f"{'  ' * row.depth}{row.slug}" + (f"  ({row.name})" if row.name != row.slug else ""))
    return 0


def _endpoint_url(settings: Settings, source: str, endpoint_id: UUID) -> str:
    return f"{settings.public_url}/webhooks/{source}/{endpoint_id}"


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise InvalidInput(f"unknown source {source!r}; known sources: {', '.join(SOURCES)}")


def cmd_source_add(args: argparse.Namespace, settings: Settings) -> int:
    _check_source(args.source)
    secret = args.secret or tenancy.new_secret()
    with _connection(settings) as conn:
        endpoint = tenancy.add_endpoint(conn, args.org, args.source, secret, args.name)
    _out(f"endpoint  {endpoint.endpoint_id}")
    _out(f"url       {_endpoint_url(settings, endpoint.source, endpoint.endpoint_id)}")
    _out(f"secret    {secret}")
    return 0


def _parse_days(text: str) -> timedelta:
    if not text.endswith("d") or not text[:-1].isdigit():
        raise InvalidInput(f"bad grace period {text!r}: use whole days such as 7d")
    return timedelta(days=int(text[:-1]))


def cmd_source_rotate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        endpoint_id = UUID(args.endpoint)
    except ValueError:
        raise InvalidInput(f"bad endpoint id {args.endpoint!r}: expected a UUID") from None
    grace = _parse_days(args.grace)
    secret = args.secret or tenancy.new_secret()
    with _connection(settings) as conn:
        endpoint, expires = tenancy.rotate_secret(conn, args.org, endpoint_id, secret, grace)
    _out(f"endpoint  {endpoint.endpoint_id}")
    _out(f"secret    {secret}")
    _out(f"the previous secret keeps verifying until {expires:%Y-%m-%d %H:%M %Z}")
    return 0


def cmd_source_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        rows = tenancy.list_endpoints(conn, args.org)
    for endpoint_id, source, name, _created, rotated, in_grace, disabled in rows:
        notes = [n for n, on in (("rotating", in_grace), ("disabled", disabled)) if on]
        if rotated:
            notes.append(f"rotated {rotated:%Y-%m-%d}")
        _out(f"{source:<16} {name:<12} {_endpoint_url(settings, source, endpoint_id)}"
             + (f"  [{', '.join(notes)}]" if notes else ""))  # fmt: skip
    return 0


def cmd_token_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        kid, new = rotate_signing_key(conn)
    _out(f"tokens are signed with key {kid} from now on; the previous key verifies the "
         "tokens it signed for another 24 hours" if new else f"key {kid} stays active")  # fmt: skip
    return 0


def cmd_token_issue(args: argparse.Namespace, settings: Settings) -> int:
    ttl = parse_ttl(args.ttl)
    if args.client and (args.role or args.subject):
        raise InvalidInput(
            "--client tokens take the client's role and subject: drop --role/--subject"
        )
    subject = args.subject or cli_user()
    with _connection(settings) as conn:
        token, claims = issue_token(
            conn,
            org=args.org,
            teams=args.team or [],
            role=args.role or "viewer",
            ttl=ttl,
            subject=subject,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            client=args.client,
        )
    log.info(
        "token issued",
        extra={"jti": str(claims.jti), "org_id": str(claims.org_id), "role": claims.role,
               "expires_at": claims.expires_at.isoformat(), "sub": claims.subject},
    )  # fmt: skip
    if args.json:
        _out(json.dumps({"token": token, "jti": str(claims.jti), "role": claims.role,
                         "org": str(claims.org_id), "teams": [str(t) for t in claims.team_ids],
                         "expires_at": claims.expires_at.isoformat()}))  # fmt: skip
    else:
        _out(token)
    return 0


def cmd_client_create(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        client_id = tenancy.create_client(conn, args.org, args.name, args.role, args.team or [])
    _out(f"created API client {args.name} ({client_id}, role {args.role})")
    _out(f"issue its tokens with: qdx token issue {args.org} --client {args.name}")
    return 0


def cmd_client_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        revoked_at = tenancy.revoke_client(conn, args.org, args.name)
    _out(f"revoked API client {args.name} ({revoked_at:%Y-%m-%d %H:%M %Z}); "
         "tokens already issued expire with their ttl")  # fmt: skip
    return 0


def cmd_client_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        rows = tenancy.list_clients(conn, args.org)
    for name, role, teams, created, revoked in rows:
        scope = ",".join(teams) if teams else "whole org"
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else f"since {created:%Y-%m-%d}"
        _out(f"{name:<24} {role:<8} {scope:<32} {state}")
    return 0


def _parse_since(text: str | None) -> datetime | None:
    return _moment(text, "--since")


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    if args.source is not None:
        _check_source(args.source)
    if args.chunk < 1:
        raise InvalidInput("--chunk must be at least 1")
    since = _parse_since(args.since)

    def progress(result: ReplayResult) -> None:
        rate = result.events / result.seconds if result.seconds else 0.0
        _err(f"replayed {result.events:,}/{result.total:,} events ({rate:,.0f}/s)")

    if args.workers < 1:
        raise InvalidInput("--workers must be at least 1")
    with open_database(settings) as db, _migrated():
        result = replay(db.conninfo, args.org, since=since, source=args.source,
                        chunk=args.chunk, workers=args.workers, progress=progress)  # fmt: skip
    summary = ", ".join(f"{n:,} {status}" for status, n in sorted(result.outcomes.items()))
    _out(f"replayed {result.events:,} events of {args.org} in {result.seconds:.1f}s"
         + (f": {summary}" if summary else ""))  # fmt: skip
    return 0


def cmd_events_stats(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        conn.execute(QUERIES["org_exists"], {"org": args.org})
        rows = conn.execute(QUERIES["event_outcome_counts"], {"org": args.org}).fetchall()
        backlog = conn.execute(QUERIES["ingest_backlog"]).fetchone()
    for source, status, count in rows:
        _out(f"{source:<20} {status:<11} {count:>10,}")
    if backlog is not None:
        queued, age = backlog
        _out(f"queue: {queued:,} message(s) waiting (all orgs)"
             + (f", oldest {age}" if age is not None else ""))  # fmt: skip
    return 0


def cmd_events_failed(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        conn.execute(QUERIES["org_exists"], {"org": args.org})
        rows = conn.execute(QUERIES["failed_events"], {"org": args.org, "limit": args.limit})
        found = rows.fetchall()
    if args.json:
        for event_id, source, event_type, status, attempts, reason, received, updated in found:
            _out(json.dumps({"event_id": str(event_id), "source": source,
                             "event_type": event_type, "status": status, "attempts": attempts,
                             "reason": reason, "received_at": received.isoformat(),
                             "updated_at": updated.isoformat()}))  # fmt: skip
        return 0
    if not found:
        _out(f"no failed events in {args.org}")
    for event_id, source, event_type, status, attempts, reason, received, _updated in found:
        _out(f"{received:%Y-%m-%d %H:%M:%S} {status:<8} {source}/{event_type} {event_id}"
             + (f" (attempts {attempts})" if attempts else ""))  # fmt: skip
        _out(f"    {reason}")
    return 0


ENVIRONMENT_CLASSES = ("production", "staging", "test", "dev", "other")


def cmd_environment_add(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        row = conn.execute(
            QUERIES["add_environment_rule"],
            {"org": args.org, "pattern": args.pattern, "class": args.cls,
             "position": args.position},
        ).fetchone()  # fmt: skip
    assert row is not None
    _out(f"rule {row[0]}: /{args.pattern}/ -> {args.cls}; {row[1]} deploy(s) reclassified")
    return 0


def cmd_environment_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        row = conn.execute(
            QUERIES["remove_environment_rule"], {"org": args.org, "position": args.position}
        ).fetchone()
    assert row is not None
    _out(f"removed rule {args.position}; {row[0]} deploy(s) reclassified")
    return 0


def cmd_environment_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connection(settings) as conn:
        rows = conn.execute(QUERIES["environment_rules"], {"org": args.org}).fetchall()
    for position, pattern, cls in rows:
        _out(f"{position:>3}  /{pattern}/ -> {cls}")
    _out("then the built-in rules (docs/model.md, Environment classes)")
    return 0


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (also used by tests to check compose.yaml's commands)."""
    parser = argparse.ArgumentParser(
        prog="qdx", description="Quantum.DX: engineering intelligence on PostgreSQL."
    )
    parser.add_argument("--version", action="version", version=f"qdx {qdx.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str, parent: Any = sub) -> Any:
        p = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def http_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--processes", type=int, help="HTTP processes sharing the port (QDX_WEB_PROCESSES)"
        )
        p.add_argument("--host", help="address to listen on (QDX_HOST, default 127.0.0.1)")
        p.add_argument("--port", type=int, help="HTTP port (QDX_PORT, default 8000)")
        p.add_argument(
            "--pg-port", type=int, help="embedded PostgreSQL TCP port (QDX_PG_PORT, default 5433)"
        )

    up = command("up", cmd_up, "start everything: database, migrations, web and workers")
    http_options(up)
    up.add_argument("--no-worker", action="store_true", help="serve HTTP only")
    up.add_argument("--concurrency", type=int, help="jobs run at once (QDX_WORKER_CONCURRENCY)")
    up.add_argument(
        "--demo", action="store_true",
        help="create org `demo` and stream a synthetic 90-day history through the webhooks",
    )  # fmt: skip
    up.add_argument(
        "--demo-events", type=int, default=DEMO_EVENTS,
        help=f"about how many events the demo sends (default {DEMO_EVENTS})",
    )  # fmt: skip
    http_options(command("serve", cmd_serve, "serve HTTP (the database must be migrated)"))
    worker = command("worker", cmd_worker, "run the background workers")
    worker.add_argument("--concurrency", type=int, help="jobs run at once (QDX_WORKER_CONCURRENCY)")
    command("migrate", cmd_migrate, "apply schema migrations and SQL functions")
    p = command(
        "demo", cmd_demo,
        "stream a synthetic engineering history into an org through a running server",
    )  # fmt: skip
    p.add_argument("org", help="the org's slug (created when missing)")
    p.add_argument("--events", type=int, default=DEMO_EVENTS,
                   help=f"about how many events (default {DEMO_EVENTS})")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same history")
    p.add_argument("--days", type=int, default=90, help="days of history up to today")
    p.add_argument("--url", help="the server (default QDX_PUBLIC_URL)")

    p = command(
        "replay",
        cmd_replay,
        "normalize an org's stored events again and recompute their canonical rows",
    )
    p.add_argument("org")
    p.add_argument("--since", help="only events received on or after this ISO date/time")
    p.add_argument("--source", help="only this source's events")
    p.add_argument(
        "--chunk", type=int, default=5000, help="events per SQL call and transaction (default 5000)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="connections replaying chunks in parallel (default 2)",
    )

    events = sub.add_parser("events", help="what normalization made of stored events")
    events_sub = events.add_subparsers(dest="action", required=True)
    p = command("stats", cmd_events_stats, "events per source and outcome", events_sub)
    p.add_argument("org")
    p = command("failed", cmd_events_failed,
                "events that failed, are being retried or were given up, with the reason",
                events_sub)  # fmt: skip
    p.add_argument("org")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    environment = sub.add_parser(
        "environment", help="an org's rules mapping deploy environment names to classes"
    ).add_subparsers(dest="action", required=True)
    p = command("add", cmd_environment_add,
                "add a rule (tried before the built-in ones) and reclassify deploys",
                environment)  # fmt: skip
    p.add_argument("org")
    p.add_argument("pattern", help="a case-insensitive regular expression, e.g. '^eu-live-'")
    p.add_argument("cls", metavar="CLASS", choices=ENVIRONMENT_CLASSES,
                   help="production, staging, test, dev or other")  # fmt: skip
    p.add_argument("--position", type=int, help="where in the order (default: last)")
    p = command("remove", cmd_environment_remove, "remove a rule and reclassify deploys",
                environment)  # fmt: skip
    p.add_argument("org")
    p.add_argument("position", type=int)
    p = command("list", cmd_environment_list, "an org's rules in order", environment)
    p.add_argument("org")

    db = command("db", cmd_db, "manage the embedded PostgreSQL")
    db.add_argument("action", choices=["start", "stop", "url", "status"])
    db.add_argument("--pg-port", type=int, help="TCP port (QDX_PG_PORT, default 5433)")

    org = sub.add_parser("org", help="organizations").add_subparsers(dest="action", required=True)
    p = command("create", cmd_org_create, "create an org", org)
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--timezone", default="UTC", help="IANA time zone of the org's reports")
    command("list", cmd_org_list, "list orgs", org)

    team = sub.add_parser("team", help="teams").add_subparsers(dest="action", required=True)
    p = command("create", cmd_team_create, "create a team", team)
    p.add_argument("org")
    p.add_argument("slug")
    p.add_argument("--parent", help="slug of the parent team")
    p.add_argument("--name")
    p = command("list", cmd_team_list, "show an org's team tree", team)
    p.add_argument("org")
    people.register(sub, command, team)
    metrics_cli.register(sub, command)
    audit_cli.register(sub, command)
    sqlroles.register(sub, command)

    source = sub.add_parser("source", help="webhook endpoints").add_subparsers(
        dest="action", required=True
    )
    p = command("add", cmd_source_add, "add a webhook endpoint; prints its URL and secret", source)
    p.add_argument("org")
    p.add_argument("source")
    p.add_argument("--secret", help="use this secret instead of a generated one")
    p.add_argument("--name", default="default", help="several endpoints of one source need names")
    p = command("rotate", cmd_source_rotate, "give an endpoint a new secret", source)
    p.add_argument("org")
    p.add_argument("endpoint", help="endpoint id")
    p.add_argument("--secret", help="use this secret instead of a generated one")
    p.add_argument("--grace", default="7d", help="how long the old secret keeps verifying (days)")
    p = command("list", cmd_source_list, "list an org's webhook endpoints", source)
    p.add_argument("org")

    token = sub.add_parser("token", help="access tokens").add_subparsers(
        dest="action", required=True
    )
    p = command("issue", cmd_token_issue, "issue a signed, short-lived access token", token)
    p.add_argument("org")
    p.add_argument("--team", action="append", help="limit to a team's subtree (repeatable)")
    p.add_argument("--role", choices=ROLES, help="viewer (default), analyst, admin or service")
    p.add_argument("--ttl", default="15m", help="lifetime, at most 24h (default 15m)")
    p.add_argument("--subject", help="who the token is for (default cli:<user>)")
    p.add_argument("--client", help="issue for this API client, with its role and teams")
    p.add_argument("--json", action="store_true", help="print the token with its claims as JSON")
    command("rotate-key", cmd_token_rotate_key,
            "sign new tokens with a new key (the worker does this weekly)", token)  # fmt: skip

    client = sub.add_parser("client", help="API clients (service accounts)").add_subparsers(
        dest="action", required=True
    )
    p = command("create", cmd_client_create, "create an API client", client)
    p.add_argument("org")
    p.add_argument("name")
    p.add_argument("--role", default="service", choices=ROLES)
    p.add_argument("--team", action="append", help="limit to a team's subtree (repeatable)")
    p = command("revoke", cmd_client_revoke, "revoke an API client: no new tokens", client)
    p.add_argument("org")
    p.add_argument("name")
    p = command("list", cmd_client_list, "list an org's API clients", client)
    p.add_argument("org")
    return parser


def _apply_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    for option in ("host", "port", "pg_port"):
        value = getattr(args, option, None)
        if value is not None:
            changes[option] = value
    if getattr(args, "processes", None) is not None:
        if not 1 <= args.processes <= 64:
            raise InvalidInput("--processes must be between 1 and 64")
        changes["web_processes"] = args.processes
    if getattr(args, "concurrency", None) is not None:
        if args.concurrency < 1:
            raise InvalidInput("--concurrency must be at least 1")
        changes["worker_concurrency"] = args.concurrency
    if changes.get("pg_port") == 5432:
        raise InvalidInput(
            "--pg-port must not be 5432: that port belongs to the machine's PostgreSQL"
        )
    if "host" in changes or "port" in changes:
        # Defaults that follow the address follow the flags too; explicit settings stay.
        before = default_public_url(settings.host, settings.port)
        after = default_public_url(
            changes.get("host", settings.host), changes.get("port", settings.port)
        )
        for name in ("public_url", "jwt_audience", "jwt_issuer", "mcp_resource_url"):
            if getattr(settings, name) == before:
                changes[name] = after
    return replace(settings, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `qdx`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _apply_overrides(args, Settings.from_env())
        logs.configure(settings.log_level, settings.log_format)
        handler: Handler = args.handler
        return handler(args, settings)
    except UserError as exc:
        _err(f"qdx: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
