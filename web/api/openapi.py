"""The OpenAPI 3.1 document of /api/v1 (GET /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

import qdx

_ERROR = {"$ref": "#/components/schemas/Error"}


def _param(name: str, description: str, *, where: str = "query", required: bool = False,
           enum: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema}  # fmt: skip


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "a parameter is wrong (the message says which and what is allowed)",
             401: "no token, or one not accepted (WWW-Authenticate says why)",
             403: "the token does not allow this (role or teams)",
             404: "what the request names does not exist in the caller's org",
             503: "the database is unavailable or the query timed out (Retry-After)"}  # fmt: skip
    body = {"application/json": {"schema": _ERROR}}
    return {str(c): {"description": words[c], "content": body} for c in codes}


SCOPE = [
    _param("team", "team slug, name or id: its subteams roll up into it (a team-scoped "
           "token: one of its teams or below; default its team)"),
    _param("repo", "repository id or full name"),
    _param("service", "service name"),
    _param("environment", "environment name"),
    _param("person", "person id: a person's own view of change metrics (analyst and up)"),
    _param("window", "30d, 12w, 2026-Q3, 2026-09 or FROM..TO (ISO dates); default 90d"),
    _param("mode", "compatibility mode", enum=["default", "devlake", "fourkeys", "middleware"]),
]  # fmt: skip
# The datasets of GET /api/v1/export/{dataset}.csv (web.api.rest.EXPORTS).
DATASETS = ("change_metrics", "changes", "deploys", "incidents", "pipeline_runs", "repos", "teams")
# The metrics of metrics.definitions (tests/test_rest.py keeps the two equal).
METRICS = [
    "change_failure_rate", "change_lead_time", "deployment_frequency",
    "deployment_rework_rate", "diffs_per_engineer", "failed_deployment_recovery_time",
    "merged_changes", "pr_coding_time", "pr_cycle_time", "pr_deploy_time", "pr_pickup_time",
    "pr_review_time", "time_to_restore",
]  # fmt: skip
METRIC = _param("metric", "a metric name (GET /api/v1/metrics describes them)", where="path",
                required=True, enum=METRICS)  # fmt: skip


# The resource lists of web/api/resources.py: path, operation ids, what an item is, its
# filters (name, description, allowed values) and its item schema.
_TIME = [("since", "from this ISO date or time on (the list's time)", None),
         ("until", "before this ISO date or time", None)]  # fmt: skip
_TEAM = ("team", "team slug, name or id: the rows that count for it or a team under it "
         "(a team-scoped token: one of its teams or below)", None)  # fmt: skip
_REPO = ("repo", "repository id or full name", None)
RESOURCE_DOCS: list[tuple[str, str, str, str, list[tuple[str, str, list[str] | None]],
                          dict[str, Any]]] = [
    ("changes", "Changes", "change", "pull/merge requests, newest opened first",
     [_TEAM, _REPO, ("state", "state", ["open", "merged", "closed"]),
      ("author", "author account id", None), *_TIME],
     {"change_id": "string", "provider": "string", "repo_id": "string?", "number": "integer?",
      "title": "string?", "state": "string", "is_draft": "boolean", "author_id": "string?",
      "url": "string?", "opened_at": "date-time?", "merged_at": "date-time?",
      "closed_at": "date-time?", "labels": "array"}),
    ("deploys", "Deploys", "deployment", "deployments, newest finished (or started) first",
     [_TEAM, _REPO, ("service", "service name", None),
      ("environment", "environment name", None),
      ("status", "status", ["pending", "running", "success", "failure", "cancelled",
                            "unknown"]), *_TIME],
     {"deploy_id": "string", "provider": "string", "service": "string?",
      "environment": "string?", "environment_class": "string", "status": "string",
      "started_at": "date-time?", "finished_at": "date-time?"}),
    ("incidents", "Incidents", "incident", "incidents, newest opened first",
     [_TEAM, ("service", "service name", None),
      ("severity", "severity: SEV1 to SEV5 (SEV1 the most severe), alone or after >=, >, "
       "<=, < or = (>=SEV2: SEV1 and SEV2)", None),
      ("status", "status", ["triggered", "acknowledged", "mitigated", "resolved"]),
      ("text", "a text the title contains (without regard to case)", None), *_TIME],
     {"incident_id": "string", "provider": "string", "title": "string?",
      "severity": "string?", "status": "string", "service": "string?",
      "opened_at": "date-time?", "resolved_at": "date-time?"}),
    ("pipeline-runs", "PipelineRuns", "pipeline run",
     "CI pipeline runs, newest finished (or started, or queued) first",
     [_TEAM, _REPO,
      ("status", "status", ["queued", "running", "success", "failure", "cancelled",
                            "skipped", "unknown"]),
      ("branch", "branch", None), *_TIME],
     {"run_id": "string", "provider": "string", "kind": "string", "status": "string",
      "commit_sha": "string?", "branch": "string?", "finished_at": "date-time?"}),
    ("repos", "Repos", "repository",
     "repositories, newest first seen first (org-wide tokens only)",
     [("provider", "provider, such as github", None), *_TIME],
     {"repo_id": "string", "provider": "string", "full_name": "string?",
      "first_seen_at": "date-time", "last_seen_at": "date-time"}),
    ("services", "Services", "service",
     "services (the names deployments and incidents carry), by name, with how many of "
     "each the caller reads and when it last saw one",
     [_TEAM],
     {"service": "string", "deploys": "integer", "incidents": "integer",
      "last_seen_at": "date-time?"}),
]  # fmt: skip


def _property(kind: str) -> dict[str, Any]:
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    schema: dict[str, Any] = ({"type": "string", "format": "date-time"}
                              if kind == "date-time" else {"type": kind})  # fmt: skip
    if kind == "array":
        schema["items"] = {"type": "string"}
    if nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def _resource_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, name, noun, what, filters, _ in RESOURCE_DOCS:
        item = {"$ref": f"#/components/schemas/{name}Item"}
        paths[f"/api/v1/{path}"] = {
            "get": {
                "summary": f"A page of the caller's {what}",
                "operationId": f"list{name}",
                "parameters": [
                    *(_param(n, d, enum=e) for n, d, e in filters),
                    _param("limit", "items per page, 1 to 1000 (default 100)"),
                    _param("cursor", "next_cursor of the previous page"),
                ],
                "responses": {
                    "200": {
                        "description": "a page",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items", "next_cursor"],
                                    "properties": {
                                        "items": {"type": "array", "items": item},
                                        "next_cursor": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 404, 503),
                },
            }
        }
        paths[f"/api/v1/{path}/{{id}}"] = {
            "get": {
                "summary": f"One {noun} (404 when the caller cannot read it)",
                "operationId": f"get{name}Item",
                "parameters": [
                    _param(
                        "id",
                        f"the {noun}'s id" if name != "Services" else "the service's name",
                        where="path",
                        required=True,
                    )
                ],
                "responses": {
                    "200": {
                        "description": f"the {noun}",
                        "content": {"application/json": {"schema": item}},
                    },
                    **_errors(401, 404, 503),
                },
            }
        }
    return paths


def _resource_schemas() -> dict[str, Any]:
    return {f"{name}Item": {"type": "object", "required": [next(iter(props))],
                            "properties": {k: _property(v) for k, v in props.items()}}
            for _, name, _, _, _, props in RESOURCE_DOCS}  # fmt: skip


_PAGE = {"type": "object", "required": ["items", "next_cursor"]}
_PEOPLE_ERRORS = (400, 401, 403, 404, 503)


def _page_of(item: str, **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": {**_PAGE, "properties": {
        **extra, "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "next_cursor": {"type": ["string", "null"]}}}}}  # fmt: skip


def _people_paths() -> dict[str, Any]:
    """People and teams (web/api/people.py): people data for analyst and up."""
    team = _param("team", "team slug, name or id: it and the teams under it (a team-scoped "
                  "token: one of its teams or below)")  # fmt: skip
    page = [_param("limit", "items per page, 1 to 1000 (default 100)"),
            _param("cursor", "next_cursor of the previous page")]  # fmt: skip
    return {
        "/api/v1/people": {"get": {
            "summary": "A page of the persons the caller may see, by name, with their "
                       "current teams (analyst and up)",
            "operationId": "listPeople",
            "parameters": [
                {**team, "description": "only those on this team or one under it now (a "
                 "team-scoped token: one of its teams or below)"},
                _param("q", "a text in the name, an email or an account's login"), *page],
            "responses": {"200": {"description": "a page", "content": _page_of("PersonItem")},
                          **_errors(*_PEOPLE_ERRORS)},
        }},
        "/api/v1/people/{person_id}": {"get": {
            "summary": "One person with its accounts, teams over time and tenure (analyst "
                       "and up; 404 when the caller cannot see it; a merged person's id "
                       "gives the person it was merged into)",
            "operationId": "getPerson",
            "parameters": [{"name": "person_id", "in": "path", "required": True,
                            "description": "the person's id",
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": {"description": "the person", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Person"}}}},
                **_errors(*_PEOPLE_ERRORS)},
        }},
        "/api/v1/teams": {"get": {
            "summary": "The teams the caller may read as a tree, depth first (every role)",
            "operationId": "listTeams",
            "parameters": [{**team, "description": "that team and everything under it (a "
                            "team-scoped token: one of its teams or below)"}],
            "responses": {"200": {"description": "the teams", "content": {
                "application/json": {"schema": {"type": "object", "required": ["items"],
                    "properties": {"items": {"type": "array", "items": {
                        "$ref": "#/components/schemas/TeamItem"}}}}}}},
                **_errors(400, 401, 403, 404, 503)},
        }},
        "/api/v1/teams/{team}/members": {"get": {
            "summary": "Who was on a team at a moment, by name (analyst and up)",
            "operationId": "listTeamMembers",
            "parameters": [
                {**team, "in": "path", "required": True,
                 "description": "team slug, name or id (a team-scoped token: one of its "
                 "teams or below)"},
                _param("at", "the moment, an ISO date or time (default now)"), *page],
            "responses": {"200": {"description": "a page", "content": _page_of(
                "TeamMember", team={"type": "string"}, at={"type": ["string", "null"]})},
                **_errors(*_PEOPLE_ERRORS)},
        }},
    }  # fmt: skip


_NULL_TEXT = {"type": ["string", "null"]}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
PEOPLE_SCHEMAS: dict[str, Any] = {
    "PersonItem": {"type": "object", "required": ["person_id"], "properties": {
        "person_id": {"type": "string", "format": "uuid"}, "display_name": _NULL_TEXT,
        "primary_email": _NULL_TEXT, "is_bot": {"type": "boolean"},
        "current_teams": {"type": "array", "items": {"type": "string"}}}},
    "Person": {"type": "object", "required": ["person_id", "accounts", "teams"], "properties": {
        "person_id": {"type": "string", "format": "uuid"}, "display_name": _NULL_TEXT,
        "primary_email": _NULL_TEXT, "is_bot": {"type": "boolean"},
        "current_teams": {"type": "array", "items": {"type": "string"}},
        "accounts": {"type": "array", "items": {"type": "object", "properties": {
            "actor_id": {"type": "string"}, "provider": {"type": "string"},
            "login": _NULL_TEXT, "display_name": _NULL_TEXT,
            "emails": {"type": "array", "items": {"type": "string"}},
            "is_bot": {"type": "boolean"}, "first_seen_at": _WHEN, "last_seen_at": _WHEN,
            "method": {"type": "string"}, "confidence": {"type": "number"}}}},
        "teams": {"type": "array", "items": {"type": "object", "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"}, "role": _NULL_TEXT,
            "since": _WHEN, "until": _WHEN}}},
        "tenure": {"type": ["object", "null"], "properties": {
            "since": {"type": "string", "format": "date-time"}, "days": {"type": "integer"},
            "source": {"type": "string"}}}}},
    "TeamItem": {"type": "object", "required": ["team_id", "slug"], "properties": {
        "team_id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"},
        "name": {"type": "string"}, "parent_slug": _NULL_TEXT, "depth": {"type": "integer"},
        "path": {"type": "string"}, "members_now": {"type": "integer"}}},
    "TeamMember": {"type": "object", "required": ["person_id"], "properties": {
        "person_id": {"type": "string", "format": "uuid"}, "display_name": _NULL_TEXT,
        "primary_email": _NULL_TEXT, "role": _NULL_TEXT, "since": _WHEN, "until": _WHEN}},
}  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Quantum.DX API", "version": qdx.__version__,
                 "description": "Engineering metrics, read through the same SQL functions "
                 "as GraphQL, SQL and MCP: the same question gives the same number."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/metrics": {"get": {
                "summary": "Every metric: unit, which way is better, definition, version",
                "operationId": "listMetrics",
                "responses": {"200": {"description": "the metrics", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Metrics"}}}},
                    **_errors(401, 503)},
            }},
            "/api/v1/metrics/{metric}": {"get": {
                "summary": "A metric over a window, per period, with its tier",
                "operationId": "getMetric",
                "parameters": [METRIC, *SCOPE,
                    _param("granularity", "periods", enum=["window", "day", "week", "month",
                                                           "quarter"]),
                    _param("aggregation", "of durations",
                           enum=["median", "p75", "p90", "mean"]),
                    _param("benchmark", "benchmark report year for tiers (2019, 2021, 2023, "
                           "2024)")],
                "responses": {"200": {"description": "the series", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Series"}}}},
                    **_errors(400, 401, 403, 404, 503)},
            }},
            "/api/v1/metrics/{metric}/explain": {"get": {
                "summary": "The changes, deployments and incidents behind a metric, with "
                           "their links and raw events, a page at a time",
                "operationId": "explainMetric",
                "parameters": [METRIC, *SCOPE,
                    _param("limit", "items per page, 1 to 1000 (default 100)"),
                    _param("cursor", "page_info.end_cursor of the previous page")],
                "responses": {"200": {"description": "a page of units", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Explain"}}}},
                    **_errors(400, 401, 403, 404, 503)},
            }},
            **_resource_paths(),
            **_people_paths(),
            "/api/v1/export/{dataset}.csv": {"get": {
                "summary": "A dataset as CSV with a header line, streamed (analyst and up)",
                "operationId": "exportDataset",
                "parameters": [
                    _param("dataset", "what to export", where="path", required=True,
                           enum=sorted(DATASETS)),
                    _param("since", "from this ISO date or time on (its time column)"),
                    _param("until", "before this ISO date or time")],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                              **_errors(400, 401, 403, 404, 503)},
            }},
            "/api/v1/sql": {"post": {
                "summary": "One read-only statement over the api views, in the caller's "
                           "scope (analyst and up); at most 10,000 rows, 10 s",
                "operationId": "runSql",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["query"],
                        "properties": {"query": {"type": "string"}}}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "the rows", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Rows"}}}},
                    **_errors(400, 401, 403, 503)},
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {}}}},
            }},
            "/.well-known/jwks.json": {"get": {
                "summary": "The public keys tokens are signed with (JWK set)",
                "operationId": "jwks", "security": [],
                "responses": {"200": {"description": "JWK set",
                                      "content": {"application/json": {}}},
                              **_errors(503)},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT (qdx token issue)"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}}},
                "Metrics": {"type": "object", "properties": {"metrics": {
                    "type": "array", "items": {"type": "object"}}}},
                "Point": {"type": "object", "properties": {
                    "period_start": {"type": "string", "format": "date-time"},
                    "period_end": {"type": "string", "format": "date-time"},
                    "value": {"type": ["number", "null"]},
                    "sample_size": {"type": "integer"},
                    "tier": {"type": ["string", "null"]},
                    "tier_year": {"type": ["integer", "null"]}}},
                "Series": {"type": "object", "properties": {
                    "metric": {"type": "string"}, "unit": {"type": ["string", "null"]},
                    "aggregation": {"type": ["string", "null"]}, "mode": {"type": "string"},
                    "version": {"type": ["integer", "null"]}, "window": {"type": "string"},
                    "granularity": {"type": "string"}, "scope": {"type": "object"},
                    "series": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Point"}}}},
                "Rows": {"type": "object", "properties": {
                    "columns": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "type": {"type": "string"}}}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                    "row_count": {"type": "integer"}, "truncated": {"type": "boolean"},
                    "row_cap": {"type": "integer"}}},
                **_resource_schemas(),
                **PEOPLE_SCHEMAS,
                "Explain": {"type": "object", "properties": {
                    "metric": {"type": "string"},
                    "items": {"type": "array", "items": {"type": "object"}},
                    "page_info": {"type": "object", "properties": {
                        "has_next_page": {"type": "boolean"},
                        "end_cursor": {"type": ["string", "null"]}}}}},
            },
        },
    }  # fmt: skip
