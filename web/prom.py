"""Prometheus metrics of the web process: requests, latency, pool, build."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import qdx

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PoolCollector(Collector):
    """Reports the connection pool's state at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        gauge = GaugeMetricFamily(
            "qdx_db_pool_connections", "Connections of the database pool", labels=["state"]
        )
        size = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        gauge.add_metric(["idle"], idle)
        gauge.add_metric(["busy"], size - idle)
        yield gauge
        waiting = GaugeMetricFamily(
            "qdx_db_pool_waiting", "Requests waiting for a pooled connection"
        )
        waiting.add_metric([], stats.get("requests_waiting", 0))
        yield waiting


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        Info("qdx_build", "Quantum.DX build", registry=self.registry).info(
            {"version": qdx.__version__}
        )
        self.requests = Counter(
            "qdx_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qdx_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.deliveries = Counter(
            "qdx_webhook_deliveries",
            "Webhook deliveries by source and outcome (accepted, duplicate or why refused)",
            ["source", "outcome"],
            registry=self.registry,
        )
        # Labelled children, looked up once per label set (labels() takes a lock and
        # builds a tuple on every call; the webhook path counts thousands a second).
        self._deliveries: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    def count_delivery(self, source: str, outcome: str) -> None:
        """Count a webhook delivery by source and outcome (accepted, duplicate, a reason)."""
        child = self._deliveries.get((source, outcome))
        if child is None:
            child = self._deliveries[source, outcome] = self.deliveries.labels(source, outcome)
        child.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one answered request by route template (never by raw path)."""
        key = (method, route, str(status))
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(*key)
        child.inc()
        timer = self._latency.get(key[:2])
        if timer is None:
            timer = self._latency[key[:2]] = self.latency.labels(method, route)
        timer.observe(seconds)

    def watch_pool(self, stats: Callable[[], dict[str, int]]) -> None:
        """Report a pool's state on every scrape."""
        self.registry.register(PoolCollector(stats))

    async def endpoint(self, request: Request) -> Response:
        """GET /metrics in the Prometheus text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


class MetricsMiddleware:
    """Counts and times every request by route template (never by raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], list[BaseRoute]]):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", "?"))
        return "<unmatched>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_request(
                scope["method"], self._route(scope), status, time.perf_counter() - started
            )
