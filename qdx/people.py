"""`qdx people ...` and team membership commands: the person graph from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from db.queries import QUERIES
from qdx.console import cli_user, connection, moment, out
from qdx.errors import InvalidInput, NotFound
from qdx.settings import Settings
from workers.identity.resolver import resolve

Command = Callable[..., Any]


def _value(conn: Any, query: str, **params: Any) -> Any:
    """The first column of the first row of a named query."""
    row = conn.execute(QUERIES[query], params).fetchone()
    return row[0] if row else None


def _person(conn: Any, org: str, who: str) -> UUID:
    return UUID(str(_value(conn, "people_person_of", org=org, who=who)))


def _why(account: dict[str, Any]) -> str:
    ev = account.get("evidence") or {}
    method = account["method"]
    if method == "explicit":
        return f"pinned by {account['decided_by']} (operation {account['operation']})"
    if method == "matcher":
        words = ", ".join(f"{k} {v}" for k, v in (ev.get("comparisons") or {}).items())
        return f"matcher p={account['confidence']:.3f} with {ev.get('with')} ({words})"
    if method == "new":
        return "no other account matches"
    return f"{method}: shares {ev.get('key')} with {ev.get('with')}"


def _print_person(detail: dict[str, Any], matched_by: str | None = None) -> None:
    name = detail.get("display_name") or "(no name)"
    email = f" <{detail['primary_email']}>" if detail.get("primary_email") else ""
    bot = "  [automation: kept out of people metrics]" if detail.get("is_bot") else ""
    out(f"{name}{email}  person {detail['person_id']}{bot}")
    if matched_by:
        out(f"  found by {matched_by}")
    accounts = detail["accounts"]
    out(f"  accounts ({len(accounts)}):")
    for a in accounts:
        label = a.get("login") or ", ".join(a.get("emails") or []) or a.get("display_name") or ""
        out(f"    {a['actor_id']:<40} {label}")
        decided = str(a.get("decided_at", ""))[:19].replace("T", " ")
        out(f"      {_why(a)}; decided by {a['decided_by']} at {decided}")
    for t in detail["teams"]:
        until = str(t["to"])[:10] if t.get("to") else "now"
        out(f"  team {t['team']} ({t['role']}) {str(t['from'])[:10]} .. {until}")
    for o in detail["operations"]:
        undone = f", undone by {o['undone_by']}" if o.get("undone_by") else ""
        reason = f": {o['reason']}" if o.get("reason") else ""
        out(f"  operation {o['op_id']} {o['kind']} by {o['by']} "
            f"at {str(o['at'])[:19].replace('T', ' ')}{reason}{undone}")  # fmt: skip


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        found = conn.execute(QUERIES["people_find"], {"org": args.org, "who": args.who})
        hits = found.fetchall()
        if not hits:
            raise NotFound(f"no person in {args.org} matches {args.who!r}")
        details = [
            (_value(conn, "people_detail", org=args.org, person_id=pid), matched)
            for pid, matched in hits
        ]
    if args.json:
        for detail, matched in details:
            out(json.dumps({**detail, "matched_by": matched}, default=str))
        return 0
    if len(details) > 1:
        out(f"{args.who!r} matches {len(details)} persons:")
    for detail, matched in details:
        _print_person(detail, matched)
    return 0


def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        org_id = _value(conn, "org_exists", org=args.org)
        outcome = resolve(conn, org_id, everything=args.all, by=cli_user())
    if outcome is None:
        out(f"nothing to resolve in {args.org}")
        return 0
    methods = ", ".join(f"{n} {m}" for m, n in sorted(outcome.methods.items()))
    out(f"resolved {outcome.accounts:,} accounts of {args.org} in {outcome.seconds:.2f}s: "
        f"{outcome.links_changed:,} links changed, {outcome.reviews:,} pairs to review"
        + (f"; links by {methods}" if methods else ""))  # fmt: skip
    return 0


def cmd_merge(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        into, other = _person(conn, args.org, args.into), _person(conn, args.org, args.other)
        op = _value(conn, "people_merge", org=args.org, into=into, by=cli_user(),
                    reason=args.reason, **{"from": other})  # fmt: skip
    out(f"operation {op}: merged person {other} into {into}")
    return 0


def cmd_split(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        person = _person(conn, args.org, args.who)
        op = _value(conn, "people_split", org=args.org, person_id=person,
                    actors=args.accounts, by=cli_user(), reason=args.reason)  # fmt: skip
    out(f"operation {op}: {len(args.accounts)} account(s) split off person "
        f"{person} into a new person")  # fmt: skip
    return 0


def cmd_link(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        person = _person(conn, args.org, args.who)
        op = _value(conn, "people_link", org=args.org, actor_id=args.account,
                    person_id=person, by=cli_user(), reason=args.reason)  # fmt: skip
    out(f"operation {op}: {args.account} pinned to person {person}")
    return 0


def cmd_undo(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        op = _value(conn, "people_undo", org=args.org, op_id=args.operation, by=cli_user(),
                    reason=args.reason)  # fmt: skip
    out(f"operation {op}: undid operation {args.operation}")
    return 0


def _account_line(actor: str, name: str | None, login: str | None, emails: list[str]) -> str:
    bits = [b for b in (name, login and f"@{login}", ", ".join(emails)) if b]
    return f"{actor}  " + "  ".join(bits)


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    decision = args.accept or args.reject
    with connection(settings) as conn:
        if decision:
            op = _value(conn, "people_review_decide", org=args.org, a=decision[0],
                        b=decision[1], accept=bool(args.accept), by=cli_user())  # fmt: skip
            verb = "same person" if args.accept else "kept apart"
            out(f"operation {op}: {decision[0]} and {decision[1]}: {verb}")
            return 0
        rows = conn.execute(QUERIES["people_review_list"],
                            {"org": args.org, "limit": args.limit}).fetchall()  # fmt: skip
    if not rows:
        out(f"nothing to review in {args.org}")
    for a, a_name, a_login, a_emails, b, b_name, b_login, b_emails, p, ev in rows:
        words = ", ".join(f"{k} {v}" for k, v in (ev.get("comparisons") or {}).items())
        out(f"p={p:.3f} ({ev.get('reason', '')}; {words})")
        out(f"    {_account_line(a, a_name, a_login, a_emails)}")
        out(f"    {_account_line(b, b_name, b_login, b_emails)}")
        out(f"    qdx people review {args.org} --accept {a} {b}   (or --reject)")
    return 0


def cmd_login_group(args: argparse.Namespace, settings: Settings) -> int:
    if len(set(args.providers)) < 2:
        raise InvalidInput("a login group names at least two providers")
    with connection(settings) as conn:
        params = {"org": args.org, "name": args.name, "providers": sorted(set(args.providers))}
        conn.execute(QUERIES["people_login_group_set"], params)
        queued = conn.execute(QUERIES["people_login_group_accounts"], params).rowcount
    out(f"login group {args.name}: {', '.join(sorted(set(args.providers)))}; "
        f"{queued} account(s) queued for resolution")  # fmt: skip
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        row = conn.execute(QUERIES["people_stats"], {"org": args.org}).fetchone()
    assert row is not None
    people, bots, methods, pending, reviews = row
    out(f"{people:,} people, {bots:,} automations; {pending:,} account(s) pending, "
        f"{reviews:,} pair(s) to review")  # fmt: skip
    for method, n in sorted((methods or {}).items(), key=lambda kv: -kv[1]):
        out(f"  {method:<13} {n:>8,} account(s)")
    return 0


def cmd_team_add_member(args: argparse.Namespace, settings: Settings) -> int:
    start = moment(args.start, "--from")
    end = moment(args.end, "--to")
    with connection(settings) as conn:
        person = _person(conn, args.org, args.who)
        _value(conn, "team_add_member", org=args.org, team=args.team, person_id=person,
               to=end, role=args.role, **{"from": start})  # fmt: skip
    until = f" until {end:%Y-%m-%d}" if end else ""
    out(f"person {person} is on {args.team} ({args.role}) from {start:%Y-%m-%d}{until}")
    return 0


def cmd_team_end_member(args: argparse.Namespace, settings: Settings) -> int:
    at = moment(args.at, "--at")
    with connection(settings) as conn:
        person = _person(conn, args.org, args.who)
        _value(conn, "team_end_member", org=args.org, team=args.team, person_id=person, at=at)
    out(f"person {person} left {args.team} at {at:%Y-%m-%d %H:%M}")
    return 0


def cmd_team_members(args: argparse.Namespace, settings: Settings) -> int:
    at = moment(args.at, "--at") or datetime.now(UTC)
    with connection(settings) as conn:
        rows = conn.execute(QUERIES["team_members_at"],
                            {"org": args.org, "team": args.team, "at": at}).fetchall()  # fmt: skip
    if not rows:
        out(f"nobody was on {args.team} at {at:%Y-%m-%d %H:%M}")
    for person_id, name, email, role, since, until in rows:
        span = f"{since:%Y-%m-%d} .. {until:%Y-%m-%d}" if until else f"since {since:%Y-%m-%d}"
        out(f"{name or '(no name)':<28} {email or '':<32} {role:<6} {span}  {person_id}")
    return 0


def register(sub: Any, command: Command, team: Any) -> None:
    """Add `qdx people ...` to the command tree, and the membership commands to `qdx team`."""
    people = sub.add_parser("people", help="the person graph: who is who across tools")
    ps = people.add_subparsers(dest="action", required=True)
    p = command("show", cmd_show, "a person, every linked account and why it is linked", ps)
    p.add_argument("org")
    p.add_argument("who", help="an email, login, account id (github:123) or person id")
    p.add_argument("--json", action="store_true", help="one JSON object per person")
    p = command("resolve", cmd_resolve,
                "resolve pending accounts now (the worker does this continuously)", ps)  # fmt: skip
    p.add_argument("org")
    p.add_argument("--all", action="store_true",
                   help="re-resolve every account, re-estimating the matcher first")  # fmt: skip
    p = command("merge", cmd_merge, "two persons are one (reversible: qdx people undo)", ps)
    p.add_argument("org")
    p.add_argument("into", help="the person that stays")
    p.add_argument("other", help="the person merged into it")
    p.add_argument("--reason")
    p = command("split", cmd_split,
                "some accounts of a person are someone else (reversible)", ps)  # fmt: skip
    p.add_argument("org")
    p.add_argument("who", help="the person")
    p.add_argument("accounts", nargs="+", metavar="ACCOUNT", help="account ids to move out")
    p.add_argument("--reason")
    p = command("link", cmd_link, "pin an account to a person (reversible)", ps)
    p.add_argument("org")
    p.add_argument("account", help="an account id, e.g. jira:5b10ac8d82e05b22cc7d4ef5")
    p.add_argument("who", help="the person")
    p.add_argument("--reason")
    p = command("undo", cmd_undo, "undo a merge, split, link or review decision", ps)
    p.add_argument("org")
    p.add_argument("operation", type=int)
    p.add_argument("--reason")
    p = command("review", cmd_review,
                "pairs the matcher was unsure of; accept or reject one", ps)  # fmt: skip
    p.add_argument("org")
    p.add_argument("--limit", type=int, default=20)
    decide = p.add_mutually_exclusive_group()
    decide.add_argument("--accept", nargs=2, metavar=("A", "B"), help="A and B are one person")
    decide.add_argument("--reject", nargs=2, metavar=("A", "B"), help="A and B are not")
    p = command("login-group", cmd_login_group,
                "providers whose logins come from one identity provider", ps)  # fmt: skip
    p.add_argument("org")
    p.add_argument("name", help="e.g. corp-ldap")
    p.add_argument("providers", nargs="+", metavar="PROVIDER", help="e.g. gitlab jira jenkins")
    p = command("stats", cmd_stats, "persons, links by method, pending work", ps)
    p.add_argument("org")

    p = command("add-member", cmd_team_add_member,
                "put a person on a team for a span of time", team)  # fmt: skip
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("who", help="an email, login, account id or person id")
    p.add_argument("--from", dest="start", required=True, help="ISO date the membership starts")
    p.add_argument("--to", dest="end", help="ISO date it ends (default: open)")
    p.add_argument("--role", choices=("member", "lead"), default="member")
    p = command("end-member", cmd_team_end_member, "end a person's membership of a team", team)
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("who")
    p.add_argument("--at", required=True, help="ISO date or time it ends")
    p = command("members", cmd_team_members, "a team's members at a moment", team)
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("--at", help="ISO date or time (default: now)")
