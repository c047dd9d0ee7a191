"""POST /api/v1/sql: one read-only statement under the caller's scope.

The statement runs on a connection of its own that logs in as the scope's login role
(auth.ensure_scope_role: a member of qdx_sql bound to the caller's org and teams in
auth.sql_roles, like a `qdx sql-role`), so row-level security reads the scope from the
session's role and nothing in the statement can change it (`set_config`, `SET ROLE` and
`RESET ROLE` lead nowhere else). It reads the api views only, in a READ ONLY transaction
with a statement timeout, through the extended protocol (one statement: several are
refused by the server), and at most ROW_CAP rows come back. Analyst and up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.conninfo import make_conninfo
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.audit import outcome_of
from db.queries import QUERIES
from web.api.auth import Caller, Refused
from web.api.rest import DB_WAIT, Rest, problem

log = logging.getLogger("qdx.web.api")
ROW_CAP = 10_000
STATEMENT_TIMEOUT = "10s"
MAX_STATEMENT_BYTES = 100_000


@dataclass(frozen=True)
class SqlResult:
    """How a statement ended: the answer's body or the refusal, the audit outcome and the
    rows returned."""

    body: dict[str, Any] | None
    refusal: Refused | None
    outcome: str
    rows: int | None


def _value(v: Any) -> Any:
    if isinstance(v, datetime | date | dtime):
        return v.isoformat()
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, bytes | memoryview):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    return v


class SqlEndpoint:
    """The endpoint, bound to the REST reads (pool, tokens; the pool's conninfo, with the
    scope's role and password, is where statements run)."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.conninfo = str(rest.pool.conninfo)
        self._secret: bytes | None = None
        self._roles: dict[tuple[UUID, tuple[UUID, ...]], tuple[str, str]] = {}

    async def _server_secret(self) -> bytes:
        if self._secret is None:
            async with self.rest.pool.connection(timeout=DB_WAIT) as conn:
                cur = await conn.execute(QUERIES["server_secret"], {
                    "purpose": "sql-endpoint", "secret": secrets.token_urlsafe(32)})  # fmt: skip
                row = await cur.fetchone()
            assert row is not None
            self._secret = str(row[0]).encode()
        return self._secret

    async def _role(self, org_id: UUID, team_ids: tuple[UUID, ...]) -> tuple[str, str]:
        """The scope's login role and its password (derived from the server's secret, so
        every web process agrees on it)."""
        known = self._roles.get((org_id, team_ids))
        if known is not None:
            return known
        secret = await self._server_secret()
        scope = {"org_id": org_id, "team_ids": list(team_ids)}
        async with self.rest.pool.connection(timeout=DB_WAIT) as conn:
            name_row = await (await conn.execute(QUERIES["scope_role_name"], scope)).fetchone()
            assert name_row is not None
            name = str(name_row[0])
            password = base64.urlsafe_b64encode(
                hmac.new(secret, name.encode(), hashlib.sha256).digest()
            ).decode()
            verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(),
                                                    b"scram-sha-256").decode()  # fmt: skip
            async with conn.transaction():
                row = await (
                    await conn.execute(QUERIES["scope_role"], {**scope, "verifier": verifier})
                ).fetchone()
        assert row is not None
        assert row[0] == name
        self._roles[(org_id, team_ids)] = (name, password)
        return name, password

    async def handle(self, request: Request) -> Response:
        try:
            caller = await self.rest.auth.caller(request)
            caller.at_least("analyst", "SQL")
            statement = await self._statement(request)
        except Refused as exc:
            return problem(exc.status, exc.error, exc.message, exc.headers())
        reader = caller.reader()
        started = time.perf_counter()
        result = SqlResult(None, None, "error internal", None)
        try:
            result = await self.run(caller, statement)
        finally:
            await self.rest.audit(reader, "sql", "POST /api/v1/sql", None, result.rows, started,
                                  result.outcome, statement=statement)  # fmt: skip
        if result.refusal is not None:
            refusal = result.refusal
            return problem(refusal.status, refusal.error, refusal.message, refusal.headers())
        return JSONResponse(result.body)

    async def run(self, caller: Caller, statement: str) -> SqlResult:
        """Run one statement for a verified caller (analyst and up: the caller's
        interface checks) in its scope: the body of the answer, or the refusal, with the
        outcome and row count the audit log records. POST /api/v1/sql and the MCP tool
        run_sql both answer with this."""
        try:
            try:
                role, password = await self._role(caller.org_id, caller.team_ids)
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
                    raise
                # (the server's own statements failed: not the caller's to read about)
                reference = uuid.uuid4().hex[:12]
                log.error("SQL endpoint setup failed (reference %s): %s", reference, exc)
                return SqlResult(None, Refused(500, "internal",
                                               f"internal error (reference {reference})"),
                                 "error internal", None)  # fmt: skip
            conninfo = make_conninfo(self.conninfo, user=role, password=password,
                                     application_name="qdx-sql")  # fmt: skip
            try:
                conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=5)
            except psycopg.OperationalError:
                # (a role dropped or a password changed meanwhile: made again next time)
                self._roles.pop((caller.org_id, caller.team_ids), None)
                raise
            async with conn, conn.transaction():
                await conn.execute("SET TRANSACTION READ ONLY")
                await conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
                # As written (a raw cursor: no placeholders of ours), through the extended
                # protocol (binary results), which runs one statement only.
                cur = psycopg.AsyncRawCursor(conn)
                await cur.execute(statement, (), binary=True)
                columns = [{"name": d.name, "type": _type_name(conn, d.type_code)}
                           for d in cur.description or ()]  # fmt: skip
                fetched = await cur.fetchmany(ROW_CAP + 1) if cur.description else []
                raise psycopg.Rollback()
            truncated = len(fetched) > ROW_CAP
            data = [[_value(v) for v in r] for r in fetched[:ROW_CAP]]
            body = {"columns": columns, "rows": data, "row_count": len(data),
                    "truncated": truncated, "row_cap": ROW_CAP}  # fmt: skip
            return SqlResult(body, None, "ok", len(data))
        except psycopg.OperationalError as exc:
            if exc.sqlstate is None:
                return SqlResult(None, Refused(503, "unavailable", "the database is unavailable;"
                                               " retry shortly", retry_after=5),
                                 "error internal", None)  # fmt: skip
            return SqlResult(None, self._refused(exc), outcome_of(exc), None)
        except psycopg.Error as exc:
            return SqlResult(None, self._refused(exc), outcome_of(exc), None)

    @staticmethod
    async def _statement(request: Request) -> str:
        body = await request.body()
        if len(body) > MAX_STATEMENT_BYTES:
            raise Refused(413, "too_large", f"a statement is at most {MAX_STATEMENT_BYTES} bytes")
        text: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                text = json.loads(body).get("query")
            except (ValueError, AttributeError):
                text = None
        else:
            text = body.decode("utf-8", errors="replace")
        if not isinstance(text, str) or not text.strip():
            raise Refused(400, "invalid", 'send one statement: {"query": "SELECT ..."} as JSON, '
                          "or the statement as text/plain")  # fmt: skip
        if "\x00" in text:
            raise Refused(400, "invalid", "the statement holds a NUL character")
        return text

    @staticmethod
    def _refused(exc: psycopg.Error) -> Refused:
        """What the server said, as a 400: the statement was refused or failed (its
        error names only what the statement itself named)."""
        state = exc.sqlstate or ""
        message = (exc.diag.message_primary or str(exc)).strip()
        if state == "25006":
            message = f"only reads are allowed: {message}"
        elif state == "42P14" or "multiple commands" in message:
            message = "send one statement at a time"
        elif state == "57014":
            message = f"the statement ran longer than {STATEMENT_TIMEOUT} and was cancelled"
        status = 403 if state == "42501" else 400
        return Refused(status, "denied" if status == 403 else "invalid", message)


def _type_name(conn: psycopg.AsyncConnection[Any], oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return info.name if info else str(oid)
