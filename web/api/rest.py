"""REST under /api/v1: the metrics (series, explain, list), read through the same `api`
SQL functions as every other interface, each request in one transaction as qdx_app
within the caller's org and teams (db.scope), and each read appended to the audit log.

GET /api/v1/metrics                      the metrics, their units, definitions, versions
GET /api/v1/metrics/{metric}             a series: team, repo, service, environment,
                                         person, window, granularity, aggregation, mode,
                                         benchmark
GET /api/v1/metrics/{metric}/explain     the units behind it, a page at a time (limit,
                                         cursor)
GET /api/v1/{resource}[/{id}]            changes, deploys, incidents, pipeline-runs, repos,
                                         services (web/api/resources.py)
GET /api/v1/people[/{person_id}]         persons, and the team tree and members under
GET /api/v1/teams[/{team}/members]       /api/v1/teams (web/api/people.py)
GET /api/v1/export/{dataset}.csv         a dataset (an api view) as CSV, streamed by COPY
GET /api/v1/openapi.json                 the OpenAPI 3.1 document
GET /.well-known/jwks.json               the public keys tokens are signed with
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import psycopg
from cryptography.hazmat.primitives import serialization
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from db.audit import Reader, outcome_of
from db.queries import QUERIES
from db.scope import scoped_async
from web.api.audit import record
from web.api.auth import Authenticator, Caller, Refused, forbidden
from web.api.openapi import document
from web.tokens import load_public_key

log = logging.getLogger("qdx.web.api")
DB_WAIT = 5.0
SERIES_PARAMS = ("team", "repo", "service", "environment", "person", "window", "granularity",
                 "aggregation", "mode", "benchmark")  # fmt: skip
EXPLAIN_PARAMS = ("team", "repo", "service", "environment", "person", "window", "mode",
                  "limit", "cursor")  # fmt: skip
MAX_LIMIT = 1000
EXPORT_OPERATION = "GET /api/v1/export/{dataset}.csv"
# Exportable datasets: the api view and the time column `since` and `until` filter on.
EXPORTS = {
    "changes": ("changes", "merged_at"), "change_metrics": ("change_metrics", "merged_at"),
    "deploys": ("deploys", "finished_at"), "incidents": ("incidents", "opened_at"),
    "pipeline_runs": ("pipeline_runs", "finished_at"), "teams": ("teams", None),
    "repos": ("repos", None),
}  # fmt: skip

Handler = Callable[[psycopg.AsyncConnection[Any], Caller, dict[str, str]],
                   Awaitable[tuple[Any, int]]]  # fmt: skip


def problem(status: int, error: str, message: str, headers: dict[str, str] | None = None,
            ) -> JSONResponse:  # fmt: skip
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise Refused(400, "invalid", f"unknown parameter(s) {', '.join(unknown)}: allowed are "
                      f"{', '.join(allowed)}")  # fmt: skip
    return {k: v for k, v in request.query_params.items() if v != ""}


class Rest:
    """The REST endpoints, bound to the web's pool and token keys."""

    def __init__(self, pool: AsyncConnectionPool[Any], auth: Authenticator) -> None:
        self.pool = pool
        self.auth = auth

    def routes(self) -> list[BaseRoute]:
        from web.api.graphql import GraphQLEndpoint  # (these build on this module)
        from web.api.people import People
        from web.api.resources import Resources
        from web.api.sql import SqlEndpoint

        return [
            Route("/graphql", GraphQLEndpoint(self, self.auth).handle, methods=["GET", "POST"]),
            Route("/api/v1/sql", SqlEndpoint(self).handle, methods=["POST"]),
            Route("/api/v1/metrics", self.list_metrics, methods=["GET"]),
            Route("/api/v1/metrics/{metric}", self.get_metric, methods=["GET"]),
            Route("/api/v1/metrics/{metric}/explain", self.explain_metric, methods=["GET"]),
            *Resources(self).routes(),
            *People(self).routes(),
            Route("/api/v1/export/{dataset}.csv", self.export, methods=["GET"]),
            Route("/api/v1/openapi.json", self.openapi, methods=["GET"]),
            Route("/.well-known/jwks.json", self.jwks, methods=["GET"]),
        ]

    # --- endpoints ---------------------------------------------------------------------

    async def list_metrics(self, request: Request) -> Response:
        return await self._read(request, "GET /api/v1/metrics", (), self.metrics_list)

    async def get_metric(self, request: Request) -> Response:
        return await self._read(request, "GET /api/v1/metrics/{metric}", SERIES_PARAMS,
                                self.metric_series)  # fmt: skip

    async def explain_metric(self, request: Request) -> Response:
        return await self._read(request, "GET /api/v1/metrics/{metric}/explain",
                                EXPLAIN_PARAMS, self.metric_explain)  # fmt: skip

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(document())

    async def jwks(self, request: Request) -> Response:
        try:
            async with self.pool.connection(timeout=DB_WAIT) as conn:
                cur = await conn.execute(QUERIES["verification_keys"])
                rows = await cur.fetchall()
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            return problem(503, "unavailable", "the database is unavailable; retry shortly",
                           {"Retry-After": "5"})  # fmt: skip
        keys = []
        for kid, alg, pem in rows:
            raw = load_public_key(pem).public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": alg,
                         "use": "sig"})  # fmt: skip
        return JSONResponse({"keys": keys}, headers={"Cache-Control": "max-age=300"})

    async def export(self, request: Request) -> Response:
        """A dataset as CSV with a header line, streamed from COPY in the caller's scope
        (constant memory however many rows), audited when the stream ends. Analyst and
        up; `since` and `until` (ISO dates or times) bound the dataset's time column."""
        try:
            caller = await self.auth.caller(request)
            caller.at_least("analyst", "an export")
            params = _params(request, ("since", "until"))
            dataset = request.path_params["dataset"]
            if dataset not in EXPORTS:
                raise Refused(404, "not_found", f"no dataset {dataset} (datasets: "
                              f"{', '.join(sorted(EXPORTS))})")  # fmt: skip
            view, column = EXPORTS[dataset]
            bounds = [(k, _moment(params[k], k)) for k in ("since", "until") if k in params]
            if bounds and column is None:
                raise Refused(400, "invalid", f"{dataset} has no time to filter by")
        except Refused as exc:
            return problem(exc.status, exc.error, exc.message, exc.headers())
        where = " AND ".join(f"{column} {'>=' if k == 'since' else '<'} %({k})s"
                             for k, _ in bounds)  # fmt: skip
        query = (f"COPY (SELECT * FROM api.{view}{' WHERE ' + where if where else ''})"
                 " TO STDOUT WITH (FORMAT csv, HEADER)")  # fmt: skip
        reader = caller.reader()
        arguments = {"dataset": dataset, **params}
        started = time.perf_counter()
        stack = AsyncExitStack()
        try:
            conn = await stack.enter_async_context(self.pool.connection(timeout=DB_WAIT))
            await stack.enter_async_context(scoped_async(conn, caller.scope()))
            cur = conn.cursor()
            copy = await stack.enter_async_context(cur.copy(query, dict(bounds)))
            first = await copy.read()
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            await stack.aclose()
            return problem(503, "unavailable", "the database is unavailable; retry shortly",
                           {"Retry-After": "5"})  # fmt: skip
        except psycopg.Error as exc:
            await stack.aclose()
            await self.audit(reader, "export", EXPORT_OPERATION, arguments, None, started,
                             outcome_of(exc))  # fmt: skip
            return self._database_error(exc)

        async def body() -> AsyncIterator[bytes]:
            outcome, rows = "error interrupted", None
            try:
                data = first
                while data:
                    yield bytes(data)
                    data = await copy.read()
                await stack.aclose()  # the copy's end, then the transaction's
                rows, outcome = max(cur.rowcount, 0), "ok"
            finally:
                if outcome != "ok":
                    await stack.aclose()
                await self.audit(reader, "export", EXPORT_OPERATION, arguments, rows, started,
                                 outcome)  # fmt: skip

        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{dataset}.csv"'})  # fmt: skip

    async def audit(self, reader: Reader, interface: str, operation: str,
                    arguments: dict[str, Any] | None, rows: int | None, started: float,
                    outcome: str, statement: str | None = None) -> None:  # fmt: skip
        """Append a read to the audit log on a connection of its own."""
        async with self.pool.connection(timeout=DB_WAIT) as conn:
            await record(conn, reader, interface, operation, arguments=arguments,
                         statement=statement, rows=rows, outcome=outcome,
                         duration_ms=(time.perf_counter() - started) * 1000)  # fmt: skip

    # --- reads -------------------------------------------------------------------------

    async def _read(self, request: Request, operation: str, allowed: tuple[str, ...],
                    handler: Handler) -> Response:  # fmt: skip
        """Authenticate, run the handler in one scoped transaction, audit it, and turn
        refusals and database errors into clear JSON errors (never SQL or a trace)."""
        try:
            caller = await self.auth.caller(request)
        except Refused as exc:
            return problem(exc.status, exc.error, exc.message, exc.headers())
        arguments: dict[str, Any] = dict(request.query_params)
        arguments.update(request.path_params)
        reader = caller.reader()
        started = time.perf_counter()
        rows: int | None = None
        outcome = "error internal"
        try:
            async with self.pool.connection(timeout=DB_WAIT) as conn:
                try:
                    params = _params(request, allowed)
                    params.update(request.path_params)
                    async with scoped_async(conn, caller.scope()) as c:
                        body, rows = await handler(c, caller, params)
                    outcome = "ok"
                    return JSONResponse(body)
                except Refused as exc:
                    outcome = "denied" if exc.status == 403 else "invalid"
                    return problem(exc.status, exc.error, exc.message, exc.headers())
                except psycopg.Error as exc:
                    outcome = outcome_of(exc)
                    return self._database_error(exc)
                finally:
                    await record(conn, reader, "rest", operation, arguments=arguments,
                                 rows=rows, outcome=outcome,
                                 duration_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
        except (PoolTimeout, TooManyRequests, psycopg.OperationalError):
            return problem(503, "unavailable", "the database is unavailable; retry shortly",
                           {"Retry-After": "5"})  # fmt: skip

    @staticmethod
    def _database_error(exc: psycopg.Error) -> Response:
        refusal = database_refusal(exc)
        return problem(refusal.status, refusal.error, refusal.message, refusal.headers())

    async def _scope(self, conn: psycopg.AsyncConnection[Any], caller: Caller,
                     params: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        """The api scope of a request: the caller's org (never one it names), and the
        team it asks for, which a team-scoped token must have (its teams or below)."""
        scope: dict[str, Any] = {"org": str(caller.org_id)}
        for key in ("repo", "service", "environment", "person"):
            if key in params:
                scope[key] = params[key]
        if "person" in params:
            caller.at_least("analyst", "a person's metrics")
        if "benchmark" in params:
            try:
                scope["benchmark"] = int(params["benchmark"])
            except ValueError:
                raise Refused(400, "invalid", "benchmark must be a report year such as 2024"
                              ) from None  # fmt: skip
        team = params.get("team")
        if caller.team_ids and team is None:
            if len(caller.team_ids) > 1:
                raise Refused(400, "invalid", "this token reads several teams: name one "
                              "with team=")  # fmt: skip
            team = str(caller.team_ids[0])
        if caller.team_ids:
            cur = await conn.execute(QUERIES["rest_caller_team"], {"team": team})
            if await cur.fetchone() is None:
                raise forbidden(f"team {team} is not among this token's teams or below them")
        if team is not None:
            scope["team"] = team
        return scope

    async def metrics_list(self, conn: psycopg.AsyncConnection[Any], caller: Caller,
                    params: dict[str, str]) -> tuple[Any, int]:  # fmt: skip
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES["metrics_list"])
            rows = await cur.fetchall()
        return {"metrics": _json(rows)}, len(rows)

    async def metric_series(self, conn: psycopg.AsyncConnection[Any], caller: Caller,
                      params: dict[str, str]) -> tuple[Any, int]:  # fmt: skip
        scope = await self._scope(conn, caller, params)
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES["metrics_get"], {
                "metric": params["metric"], "scope": Jsonb(scope),
                "window": params.get("window", "90d"),
                "granularity": params.get("granularity", "window"),
                "aggregation": params.get("aggregation", "median"),
                "mode": params.get("mode", "default"),
            })  # fmt: skip
            rows = await cur.fetchall()
        first = rows[0] if rows else {}
        body = {
            "metric": params["metric"], "unit": first.get("unit"),
            "aggregation": first.get("aggregated_by"),
            "mode": first.get("compatibility_mode", params.get("mode", "default")),
            "version": first.get("version"), "window": params.get("window", "90d"),
            "granularity": params.get("granularity", "window"),
            "scope": {k: v for k, v in scope.items() if k != "org"},
            "series": [_json({k: r[k] for k in ("period_start", "period_end", "value",
                                                "sample_size", "tier", "tier_year")})
                       for r in rows],
        }  # fmt: skip
        return body, len(rows)

    async def metric_explain(self, conn: psycopg.AsyncConnection[Any], caller: Caller,
                       params: dict[str, str]) -> tuple[Any, int]:  # fmt: skip
        scope = await self._scope(conn, caller, params)
        limit = page_limit(params)
        after_at, after_id = decode_cursor(params.get("cursor"))
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES["rest_explain_page"], {
                "metric": params["metric"], "scope": Jsonb(scope),
                "window": params.get("window", "90d"), "mode": params.get("mode", "default"),
                "after_at": after_at, "after_id": after_id, "limit": limit + 1,
            })  # fmt: skip
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        end = encode_cursor(rows[-1]["at"], rows[-1]["entity_id"]) if rows else None
        body = {"metric": params["metric"], "items": _json(rows),
                "page_info": {"has_next_page": more, "end_cursor": end}}  # fmt: skip
        return body, len(rows)


def page_limit(params: dict[str, str]) -> int:
    """A page's size from `limit` (default 100, at most MAX_LIMIT), or a clear 400."""
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        raise Refused(400, "invalid", "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Refused(400, "invalid", f"limit must be 1 to {MAX_LIMIT}")
    return limit


def database_refusal(exc: psycopg.Error) -> Refused:
    """A database error as the caller is told it: what the api functions raise on purpose
    (a wrong parameter, something that does not exist, a timeout) in their own words,
    anything else as an internal error with a reference to the server log."""
    state = exc.sqlstate or ""
    message = (exc.diag.message_primary or "").strip()
    if not state and isinstance(exc, psycopg.DataError):
        # refused by the driver before it reached the server (a NUL character)
        return Refused(400, "invalid", "a parameter holds a character that cannot be stored (NUL)")
    if state.startswith("22"):
        return Refused(400, "invalid", message)
    if state == "P0002":
        return Refused(404, "not_found", message)
    if state == "57014":
        return Refused(503, "timeout", "the query took too long; narrow the window",
                       retry_after=5)  # fmt: skip
    reference = uuid.uuid4().hex[:12]
    log.error("database error %s in a read (reference %s): %s", state, reference, message)
    return Refused(500, "internal", f"internal error (reference {reference})")


def _moment(text: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise Refused(400, "invalid", f"{name} must be an ISO date or time, such as "
                      "2026-07-01 or 2026-07-01T12:00:00+00:00") from None  # fmt: skip


def encode_cursor(at: datetime, entity_id: str) -> str:
    """An opaque position in a list ordered by (at, id)."""
    raw = json.dumps([at.isoformat(), entity_id]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, entity_id = json.loads(raw)
        return datetime.fromisoformat(at), str(entity_id)
    except (ValueError, TypeError, binascii.Error):
        raise Refused(400, "invalid", "cursor is not one this API gave") from None
