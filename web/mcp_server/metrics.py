"""quantum-metrics: get_metric, list_metrics, explain_metric. Each answers with exactly
the body of the REST endpoint for the same question (web.api.rest reads api.get_metric,
api.list_metrics and api.explain_metric for both)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from web.api.auth import Caller
from web.mcp_server.toolbox import Answer, Conn, ScopedServer, Toolbox

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
Window = Annotated[str, Field(description="30d, 12w, 2026-Q3, 2026-09 or "
                                          "2026-07-01..2026-09-30 (default 90d)")]  # fmt: skip
Team = Annotated[str | None, Field(description="a team slug, name or id (default: the "
                                               "token's team, or the whole org)")]  # fmt: skip
Repo = Annotated[str | None, Field(description="a repository: full name (acme/api) or id")]
Service = Annotated[str | None, Field(description="a service name")]
Mode = Literal["default", "devlake", "fourkeys", "middleware"]


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def build(box: Toolbox, server: ScopedServer) -> None:
    """Add the metrics tools to `server`."""

    async def get_metric(
        ctx: Context,
        metric: Annotated[
            str,
            Field(
                description="a metric name from list_metrics, such as "
                "pr_cycle_time or deployment_frequency"
            ),
        ],
        window: Window = "90d",
        team: Team = None,
        repo: Repo = None,
        service: Service = None,
        granularity: Literal["window", "day", "week", "month", "quarter"] = "window",
        aggregation: Literal["median", "p75", "p90", "mean"] = "median",
        mode: Mode = "default",
    ) -> CallToolResult:
        params = _params(metric=metric, window=window, team=team, repo=repo, service=service,
                         granularity=granularity, aggregation=aggregation, mode=mode)  # fmt: skip

        async def read(conn: Conn, caller: Caller) -> Answer:
            body, rows = await box.rest.metric_series(conn, caller, dict(params))
            values = [p["value"] for p in body["series"]]
            where = f" for team {body['scope']['team']}" if "team" in body["scope"] else ""
            if len(values) == 1:
                text = (
                    f"{metric}{where} over {window}: {_num(values[0], body['unit'])} "
                    f"({body['aggregation']}, {body['series'][0]['sample_size']} units)"
                )
            else:
                text = f"{metric}{where} over {window}: {len(values)} {granularity} periods"
            return Answer(body, rows, text)

        return await box.call(ctx, "get_metric", params, read)

    async def list_metrics(ctx: Context) -> CallToolResult:
        async def read(conn: Conn, caller: Caller) -> Answer:
            body, rows = await box.rest.metrics_list(conn, caller, {})
            names = ", ".join(m["metric"] for m in body["metrics"])
            return Answer(body, rows, f"{rows} metrics: {names}")

        return await box.call(ctx, "list_metrics", {}, read)

    async def explain_metric(
        ctx: Context,
        metric: Annotated[str, Field(description="a metric name from list_metrics")],
        window: Window = "90d",
        team: Team = None,
        repo: Repo = None,
        service: Service = None,
        mode: Mode = "default",
        limit: Annotated[int, Field(ge=1, le=1000, description="units per page")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> CallToolResult:
        params = _params(metric=metric, window=window, team=team, repo=repo, service=service,
                         mode=mode, limit=limit, cursor=cursor)  # fmt: skip

        async def read(conn: Conn, caller: Caller) -> Answer:
            body, rows = await box.rest.metric_explain(conn, caller, dict(params))
            more = body["page_info"]["has_next_page"]
            text = f"{rows} units behind {metric} over {window}" + (
                "; more with cursor=page_info.end_cursor" if more else ""
            )
            return Answer(body, rows, text)

        return await box.call(ctx, "explain_metric", params, read)

    server.add_tool(get_metric, annotations=READ_ONLY, description=(
        "A metric over a window for the caller's org or one of its teams, repositories or "
        "services: its value per period in the metric's unit, the number of units it was "
        "computed from and the benchmark tier. Example: "
        '{"metric": "pr_cycle_time", "team": "platform", "window": "90d"}.'))  # fmt: skip
    server.add_tool(list_metrics, annotations=READ_ONLY, description=(
        "Every metric: unit, which way is better, definition, version, compatibility modes "
        "and benchmark years."))  # fmt: skip
    server.add_tool(explain_metric, annotations=READ_ONLY, description=(
        "The units behind a metric over a window (each change, deployment or incident with "
        "its value, links and raw events), a page at a time: pass page_info.end_cursor as "
        "cursor for the next page."))  # fmt: skip


def _num(value: Any, unit: str) -> str:
    if value is None:
        return "no value"
    return f"{value:.4g} {unit}" if isinstance(value, float) else f"{value} {unit}"
